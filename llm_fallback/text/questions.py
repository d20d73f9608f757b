"""Does a message ask something? One rule for the follow-up reader, the substance gate and the forms."""

from __future__ import annotations

import re

# A question mark anywhere, a Chinese question particle at the end or question word anywhere, an
# English question word anywhere or an auxiliary that opens the message ("Does it ...?"; not "can",
# which opens requests as often: "can we switch topics").
_ASKS = re.compile(
    r"[?？]|[呢吗]\s*$|为什么|怎么|什么|多少|哪|吗"
    r"|\b(?:what|how|why|when|which|where|who)\b|^\s*(?:does|do|is|are|should)\b",
    re.IGNORECASE,
)


def asks_something(message: str) -> bool:
    """Whether the message is a question ("top_p 是什么意思", "How does it work"), not a statement or
    a bare value ("13B", "I got it, thanks")."""
    return _ASKS.search(message) is not None
