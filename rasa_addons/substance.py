"""Does a message ask more than its intent can answer? Pure Python, shared by the Rasa component
(`rasa_addons.substance_gate`) and the tests.

A canned reply (greet, help ...) or a skill (the VRAM rule, the quantisation rule ...)
answers only what its intent's examples ask. "HNSW 有什么缺点？" is not a request for help, and
"warmup_ratio 0.1，总共 10000 步，前多少步在预热？" is not a request for warmup_ratio's explanation:
both carry words that no example of their intent uses. Such a message goes to the notes, which can
answer it. A skill keeps a message with new words when the message names everything the skill
needs (`actions.skills.normalize.names_request`): "70B 模型量化，掉两三个点可以接受" is still a
quantisation request, however it is worded.

The vocabulary is learnt from the training data, so it grows with the examples:
- each gated intent's own words;
- words shared by at least `SHARED_MIN_INTENTS` intents (particles, question words: 的, 吗, what);
- the skills' topics: words at least `TOPIC_MIN_EXAMPLES` skill examples use (显存, 单卡, vram);
- numbers and sizes are one token (`<num>`): "13B" and "70亿" say the same thing to a rule.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from actions.conversation import NEW_TOPIC_INTENT
from actions.skills.normalize import PARAMETER, find_value, names_request
from llm_fallback.conversation.followup import is_followup
from llm_fallback.text.questions import asks_something, asks_what_the_notes_say
from llm_fallback.text.terms import technical_terms

# Replies that say nothing about the notes, and the skills, whose answers come from fixed rules.
# (out_of_scope needs no gate: its rule sends it to the notes, whose relevance gate decides.)
CANNED_INTENTS = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "help", "new_topic"}
)
SKILL_INTENTS = frozenset(
    {"estimate_vram", "quantization_advice", "explain_parameter", "lora_config", "inference_engine"}
)
GATED_INTENTS = CANNED_INTENTS | SKILL_INTENTS
NOTES_INTENT = "ask_notes"
SHARED_MIN_INTENTS = 3
# A skill word is a topic (显存, 单卡, vram) when at least this many skill examples use it.
TOPIC_MIN_EXAMPLES = 2
TOPICS = "+topics"

_NUMBER = re.compile(r"^[~≈约]?\d+(?:[.,]\d+)?(?:[%a-z]{0,3}|亿|万|千|百|个|张|块|位|比特)?$", re.IGNORECASE)
_PUNCTUATION = re.compile(r"^[\W_]+$")
# New words a canned reply still takes as small talk: "thank you very much", "gotta go, bye".
CANNED_NEW_WORDS = 4
PARAMETER_INTENT = "explain_parameter"
# New words, the parameter's name aside, that make a parameter question more than a request for its
# explanation ("How does repetition_penalty actually change a repeated token's probability?"; not
# "num_beams 设大了有什么影响").
PARAMETER_NEW_WORDS = 3


def normal_token(token: str) -> str | None:
    """The token as the vocabulary knows it; None for punctuation, which never counts."""
    token = token.strip().lower()
    if not token or _PUNCTUATION.match(token):
        return None
    return "<num>" if _NUMBER.match(token) else token


def normal_tokens(tokens: Iterable[str]) -> list[str]:
    return [t for t in (normal_token(token) for token in tokens) if t]


def fit_vocabulary(examples: Iterable[tuple[str, Iterable[str]]]) -> dict[str, list[str]]:
    """(intent, tokens) of every training example -> each gated intent's vocabulary, the words
    shared across intents under the key "*", and the skills' topics under `TOPICS`."""
    by_intent: dict[str, set[str]] = {}
    skill_examples_with: Counter[str] = Counter()
    for intent, tokens in examples:
        words = set(normal_tokens(tokens))
        by_intent.setdefault(intent, set()).update(words)
        if intent in SKILL_INTENTS:
            skill_examples_with.update(words)
    seen_in: Counter[str] = Counter(word for words in by_intent.values() for word in words)
    vocabulary = {intent: sorted(words) for intent, words in by_intent.items() if intent in GATED_INTENTS}
    vocabulary["*"] = sorted(w for w, n in seen_in.items() if n >= SHARED_MIN_INTENTS)
    vocabulary[TOPICS] = sorted(w for w, n in skill_examples_with.items()
                                if n >= TOPIC_MIN_EXAMPLES and seen_in[w] < SHARED_MIN_INTENTS)
    return vocabulary


Vocabulary = Mapping[str, Iterable[str]]


def goes_to_notes(intent: str, text: str, tokens: Iterable[str], vocabulary: Vocabulary) -> bool:
    """Whether a message NLU gave `intent` asks more than that intent answers."""
    if intent in CANNED_INTENTS and is_followup(text):
        return True  # "它的缺点呢？" is a question about what was just said, not small talk
    extra = unanswered_words(intent, tokens, vocabulary)
    if not extra:
        return False
    if intent == NEW_TOPIC_INTENT and asks_something(text):
        return True  # "Switching topics: what does GRPO stand for?" is that question, asked fresh
    if intent in SKILL_INTENTS and asks_what_the_notes_say(text):
        return True  # "the notes' example used how many GPUs?": a rule of thumb cannot say
    if intent in CANNED_INTENTS:
        # "thanks a bunch", "再会", "gotta go, bye": a new word or two of small talk is not a question.
        # A canned reply lets go of a technical term ("HNSW 的缺点"), of a topic the skills' examples
        # keep coming back to (显存, 单卡: not a word one of them happens to use, like "go" or "way"),
        # and of a message with many new words ("李宏毅那门生成式 AI 课的链接发我下").
        topics = set(vocabulary.get(TOPICS, ())) | term_words(text)
        return len(extra) >= CANNED_NEW_WORDS or any(w in topics for w in extra)
    if intent == PARAMETER_INTENT:
        extra = [w for w in extra if find_value(w, PARAMETER) is None]
        if not extra:
            return False  # only a parameter name the examples do not happen to use ("optim 是什么意思")
        if len(extra) >= PARAMETER_NEW_WORDS:
            return True
        if term_words(text) & set(extra):
            return True  # "What is the Muon optimizer?" asks about Muon, not about the optim parameter
    return not names_request(intent, text)


def term_words(text: str) -> set[str]:
    """The message's technical terms, spelled as its tokens are compared (lower case)."""
    return {t.lower() for t in technical_terms(text)}


def unanswered_words(intent: str, tokens: Iterable[str], vocabulary: Vocabulary) -> list[str]:
    """The message's words that neither its intent's examples nor the shared words contain; empty for
    an intent that is not gated."""
    if intent not in GATED_INTENTS or intent not in vocabulary:
        return []
    known = set(vocabulary[intent]) | set(vocabulary.get("*", ()))
    return [t for t in normal_tokens(tokens) if t not in known]
