"""Extensions loaded by the Rasa server (Rasa env, Python 3.10); the action server never imports them."""
