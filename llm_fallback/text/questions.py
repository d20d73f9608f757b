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


# "换个话题" / "new topic" opening a message that goes on to ask something: the question after it
# starts fresh. (The phrase alone is NLU's new_topic intent.)
_NEW_TOPIC_OPENING = re.compile(
    r"^\s*(?:我们)?(?:换个话题|换一个话题|新话题|聊点别的|问点别的|换个问题|另外一个问题"
    r"|new topic|change of topic|let'?s change the topic|different topic|switch(?:ing)? topics?"
    r"|let'?s start over|start fresh)(?:吧|please)?[\s,，。.!！:：;；-]+(?=\S)",
    re.IGNORECASE,
)


def after_new_topic(message: str) -> str | None:
    """The question after an opening "换个话题" / "new topic" ("换个话题。AdaGrad 的缺点呢？" ->
    "AdaGrad 的缺点呢？"), or None when the message does not open with one."""
    match = _NEW_TOPIC_OPENING.match(message)
    return message[match.end():] if match else None


# A question about the notes' own content: their example, their table, what they list or report.
# A skill computes a rule of thumb; it cannot say what an example in the notes used.
_ABOUT_THE_NOTES = re.compile(
    r"笔记(?!本)|例子|示例|那条命令|文中|提到|记录的|列出|"
    r"\bnotes?\b|\bexamples?\b|cheat ?sheet|\blisted\b|according to|mentioned",
    re.IGNORECASE,
)


def asks_what_the_notes_say(message: str) -> bool:
    """Whether the message asks what the notes themselves say ("笔记里的例子用了几张卡？",
    "In the vLLM example, how many GPUs does opt-13b use?")."""
    return _ABOUT_THE_NOTES.search(message) is not None


# What a setting was set to somewhere ("学习率设的是多少？", "What batch size did it use?"), not what
# the setting means or how to choose it.
_VALUE_USED = re.compile(
    r"设的是|设成了|设为了|设置的是|用的是|取的是|用了多少|设了多少"
    r"|\b(?:was|were|is|are)\s+(?:\w+\s+)?set\s+to\b|\b(?:did|does)\s+(?:it|they|the \w+)\s+use\b"
    r"|\b(?:was|were)\s+used\b",
    re.IGNORECASE,
)


def asks_value_used(message: str) -> bool:
    """Whether the message asks what value something used ("学习率设的是多少？", "What was top_p set
    to?"): after a notes answer, the value in what was just discussed."""
    return _VALUE_USED.search(message) is not None
