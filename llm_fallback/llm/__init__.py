"""The local language model: errors, backends, the service queue, model files. Nothing here loads a
model at import time."""
