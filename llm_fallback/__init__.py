"""Notes knowledge base, retrieval and grounded answers for the assistant.

Data flows one way: notes -> redact -> chunks -> store/index -> retrieval -> prompt -> answer.
This package never imports Rasa; the action server calls it as a plain library.
"""
