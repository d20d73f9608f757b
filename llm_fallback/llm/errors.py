"""What the LLM service raises. LLMBusy is a sibling of LLMError, not a kind of it."""

from __future__ import annotations


class LLMError(RuntimeError):
    """The model could not produce an answer (missing model, unreachable server, backend failure)."""


class LLMBusy(RuntimeError):
    """The queue in front of the model is full; the caller should ask the user to retry.

    Not an LLMError: the model is fine, only busy, so `except LLMError` fallbacks never swallow it."""


class ContextOverflow(LLMError):
    """The prompt plus the tokens to generate do not fit the model's context window."""


class LLMTimeout(LLMError):
    """The time budget ran out; `partial` holds what was generated until then."""

    def __init__(self, partial: str) -> None:
        super().__init__("generation exceeded its time budget")
        self.partial = partial
