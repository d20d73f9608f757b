"""Follow-up questions, the cheap way: is a message a follow-up, and what does it stand for?

Pure text rules, no index and no model, so they cost microseconds and also run in Rasa's own
environment (rasa_addons.substance asks `is_followup` before a canned reply takes a message).

Four shapes of follow-up, after a question about a subject (its *topic*):
- substitution: "那 QLoRA 呢？", "QLoRA 呢？", "And QLoRA?", "What about int4?": the previous question
  with the new term in place of the topic;
- pronoun: "它的缺点呢？", "What are its drawbacks?": the pronoun replaced by the topic;
- ellipsis: "第一步具体做什么？", "Why?": a short question that names no subject; the topic is added
  (whether it stands alone is the index's to say: see conversation.resolve);
- none: a message that names its own subject stands on its own and is never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from llm_fallback.text.lang import CJK, Lang, detect_lang
from llm_fallback.text.questions import asks_something
from llm_fallback.text.terms import technical_terms

Shape = Literal["substitution", "pronoun", "ellipsis", "none"]

# "那 X 呢" (X may be anything short), "X 呢？", "And X?", "What/How about X?"
_ZH_SUBSTITUTION = re.compile(
    r"^\s*(?:那么?|那如果|如果是|换成|改成|还有)?\s*"
    r"(?P<term>[^，,。？?！!\s][^，,。？?！!]{0,24}?)\s*(?:的话)?\s*呢\s*[？?]?\s*$"
)
_EN_SUBSTITUTION = re.compile(
    r"^\s*(?:and|what about|how about|what if (?:it is|it's|I use|we use)|same for|and for|now for)\s+"
    r"(?:(?:the|a|an|for|with)\s+)?(?P<term>[^?]{1,40}?)\s*[?.!]?\s*$",
    re.IGNORECASE,
)
_ZH_PRONOUN = re.compile(r"它们|它的|它|这个方法|这种方法|这个技术|该方法|这一步|这些步骤|这两者|两者")
_EN_PRONOUN = re.compile(
    r"\b(?:it|its|it's|they|them|their|this one|that one|these|those|this method|that method)\b",
    re.IGNORECASE,
)
_ZH_PRONOUN_ALONE = re.compile(r"它们|它")
# "is it possible …", "it's worth …": an English "it" that points at nothing said before.
_EN_DUMMY_IT = re.compile(
    r"\b(?:(?:is|was|will|would|does) it|it is|it's) "
    r"(?:possible|ok|okay|better|worth|normal|true|necessary|safe|fine|matter|recommended)\b",
    re.IGNORECASE,
)
# A pronoun after a clause break points at what that clause named ("What is LoRA, and how does it work?").
_CLAUSE_BREAK = re.compile(r"[,，;；]|\band\b", re.IGNORECASE)
# An English "and …?" that asks a new question is no substitution ("And what does X do?").
_EN_QUESTION_START = re.compile(r"^(?:what|how|why|when|where|which|who|is|are|does|do|can|should|could)\b",
                                re.IGNORECASE)
_EN_ASPECT = re.compile(
    r"^(?:its |their )?(?:drawbacks?|disadvantages?|downsides?|advantages?|benefits?|pros|cons|costs?|speed|"
    r"defaults?|examples?|steps?|first|second|third|next|last|limitations?|limits|memory|performance|"
    r"details?|reason|formula|definition|source|link)\b",
    re.IGNORECASE,
)
# "What is static batching in LLM inference?", "什么是知识蒸馏？": the subject a definition asks for.
_EN_DEFINITION = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(?:the\s+|a\s+|an\s+)?(?P<subject>[^?]+?)"
    r"(?:\s+(?:in|for|of|on|used|mean|means|stand|do|does|like)\b[^?]*)?\s*\??\s*$",
    re.IGNORECASE,
)
_ZH_DEFINITION = re.compile(
    r"^\s*(?:什么是|啥是)(?P<subject>[^？?，,。]{2,12}?)\s*[？?]?$"
    r"|^\s*(?P<subject2>[^？?，,。的]{2,12}?)(?:是什么|指的是什么|是指什么|是啥|是干什么的|是做什么的)"
)
_SIZE = re.compile(r"^\d+(?:\.\d+)?\s*[BbMm]$")
# What a "那 … 呢" asks about when it names an aspect of the same subject, not a new subject.
_ASPECT = re.compile(
    r"^(?:它的|的)?(?:缺点|优点|好处|坏处|优势|劣势|局限|不足|原理|区别|默认值|默认|作用|用法|例子|示例|步骤|"
    r"第.步|流程|应用|场景|代价|成本|速度|效果|参数|配置|实现|原因|风险|要求|前提|条件|显存|精度|效率|"
    r"下一步|后面|之后|然后|具体|细节|公式|定义|来源|出处|地址|链接)"
)
# A version number inside a product's name ("Gemini 1.5 Pro", "Llama 2").
_VERSION = re.compile(r"\d+(?:\.\d+)*")
_PEOPLE = frozenset({"你", "您", "我", "他", "她", "你们", "我们", "他们", "大家"})
# Hyphenated everyday words ("fine-tune", "mini-batch") count as terms, but a question is seldom about them.
_PLAIN_HYPHENATED = re.compile(r"[a-z]{2,}(?:-[a-z]{2,})+")
# Words that join two subjects in one question: a pronoun after it may mean either.
_COMPARISON = re.compile(
    r"和|与|跟|还是|对比|比较|区别|差别|不同|\bvs\.?\b|\bversus\b|\band\b|\bor\b|compare|differ",
    re.IGNORECASE,
)
# Short enough to lean on the conversation: "第一步具体做什么？" / "Why is that?".
ELLIPSIS_MAX_ZH_CHARS = 14
ELLIPSIS_MAX_EN_WORDS = 8
# A question that opens by continuing the last one ("And how many experts is each token routed to?",
# "那每一层的专家一般分成几组…") leans on it whatever its length, as long as it names no subject;
# "那个…" and "那些…" are "that …", not the opener "那".
_CONTINUES = re.compile(r"^\s*(?:(?:and|also|then)\b|(?:那么?|还有|另外|然后)(?!个|些))", re.IGNORECASE)


@dataclass(frozen=True)
class Previous:
    """What the conversation was about: the last question answered (already standalone), its topic
    terms (`topics_of`), the sections its answer cited, and whether the answer was a question back
    (then `topics` are the subjects offered)."""

    question: str
    topics: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    clarifying: bool = False

    @property
    def topic(self) -> str | None:
        """The subject a follow-up most likely means (`topics_of` puts it first)."""
        return self.topics[0] if self.topics else None

    def to_metadata(self) -> dict[str, object]:
        """What a bot turn records in the tracker for the next turn (see `from_metadata`)."""
        return {"question": self.question, "topics": list(self.topics), "sections": list(self.sections)}

    @classmethod
    def from_metadata(cls, metadata: dict) -> Previous | None:
        question = metadata.get("question")
        if not isinstance(question, str) or not question:
            return None
        return cls(question, tuple(metadata.get("topics") or ()), tuple(metadata.get("sections") or ()),
                   metadata.get("route") == "clarify")


@dataclass(frozen=True)
class Rewrite:
    question: str  # the message as a standalone question (the message itself when shape is "none")
    shape: Shape
    candidates: tuple[str, ...] = field(default=())  # two topics a pronoun may mean: ask which


def defined_subject(question: str) -> str | None:
    """What a definition question asks about: "What is static batching?", "什么是知识蒸馏？"."""
    match = _ZH_DEFINITION.match(question) if CJK.search(question) else _EN_DEFINITION.match(question)
    if not match:
        return None
    subject = (match.group("subject") or (match.groupdict().get("subject2") or "")).strip()
    return subject if subject and len(subject.split()) <= 4 else None


def topics_of(question: str, glossary_terms: Sequence[str] = ()) -> tuple[str, ...]:
    """The subjects a question is about, the main one first: its technical terms (the last one named
    first, a hyphenated everyday word last: "Rasa 的 NLU 模块负责什么？" is about NLU), else the subject
    it asks to define ("What is static batching?"), else the glossary terms it names."""
    terms = technical_terms(question)
    if terms:
        # "In the PEFT list, what does BitFit fine-tune?" is about BitFit, not "fine-tune".
        named = [t for t in terms if not _PLAIN_HYPHENATED.fullmatch(t)] or terms
        main = _full_name(question, named[-1], named)
        return (main, *(t for t in terms if t != named[-1] and t not in main.split()))
    defined = defined_subject(question)
    if defined:
        return (defined,)
    named = [t for t in glossary_terms if t and t.lower() in question.lower()]
    # The longest first: "知识蒸馏" before "蒸馏".
    return tuple(sorted(dict.fromkeys(named), key=len, reverse=True)[:2])


def _full_name(question: str, term: str, terms: Sequence[str]) -> str:
    """The whole name `term` is part of: the words beside it that are terms or version numbers too
    ("Pro" in "the context window of Gemini 1.5 Pro" is "Gemini 1.5 Pro"). A model size stays itself:
    "那 13B 呢？" replaces the 7B of "Llama 2 7B", not the name."""
    words = [w.strip("?？,，.。!！:：") for w in question.split()]
    if _SIZE.match(term) or term not in words:
        return term
    named = {t.lower() for t in terms}

    def joins(word: str) -> bool:
        return word.lower() in named or _VERSION.fullmatch(word) is not None

    start = end = words.index(term)
    while start > 0 and joins(words[start - 1]):
        start -= 1
    while end + 1 < len(words) and joins(words[end + 1]):
        end += 1
    return " ".join(words[start:end + 1])


def _is_short(text: str, lang: Lang) -> bool:
    if lang == "zh":
        return len(CJK.findall(text)) <= ELLIPSIS_MAX_ZH_CHARS
    return len(text.split()) <= ELLIPSIS_MAX_EN_WORDS


def shape_of(message: str) -> tuple[Shape, str | None]:
    """The follow-up shape of a message on its own, and the new term of a substitution."""
    text = message.strip()
    lang = detect_lang(text)
    chinese = CJK.search(text) is not None
    substitution = (_ZH_SUBSTITUTION if chinese else _EN_SUBSTITUTION).match(text)
    if substitution and not chinese:
        words = substitution.group("term").split()
        if len(words) > 4 or _EN_QUESTION_START.match(substitution.group("term")):
            substitution = None  # "And what does TensorRT-LLM's build step do?" asks a question of its own
    if substitution and not _ZH_PRONOUN.search(substitution.group("term")):
        term = substitution.group("term").strip().removesuffix("的").strip()
        aspect = _ASPECT.match(term) if chinese else _EN_ASPECT.match(term)
        if not aspect and term not in _PEOPLE and (technical_terms(term, chinese=chinese) or chinese
                                                   or len(term.split()) <= 3):
            return "substitution", term
    pronoun = _ZH_PRONOUN if lang == "zh" else _EN_PRONOUN
    # "它" always points back ("DPO 跟它比省掉了哪些环节？"); "it" and "这个" often point nowhere
    # ("is it possible to run 7B on a CPU?"), so they count only in a message that names no term.
    if _points_back(text, lang, pronoun):
        return "pronoun", None
    if substitution:  # "那缺点呢？": a new aspect of the same subject
        return "ellipsis", None
    if not technical_terms(text) and (_is_short(text, lang) or _CONTINUES.match(text)):
        return "ellipsis", None
    return "none", None


def _points_back(text: str, lang: Lang, pronoun: re.Pattern[str]) -> bool:
    """A pronoun that means something said before: "它" or "it" after no clause that named a term
    ("DPO 跟它比…", "How does FastGPT use it?"), never a dummy "is it possible"; "这个" and friends
    only in a message that names no term."""
    match = (_ZH_PRONOUN_ALONE if lang == "zh" else _EN_PRONOUN).search(text)
    if match and not (lang == "en" and _EN_DUMMY_IT.search(text)):
        before = text[: match.start()]
        if not (_CLAUSE_BREAK.search(before) and technical_terms(before, chinese=lang == "zh")):
            return True
    return bool(pronoun.search(text)) and not technical_terms(text)


def is_followup(message: str) -> bool:
    """Whether the message is a question leaning on what was said before ("那 … 呢", "and …?", a
    pronoun in a question: "I got it, thanks" is not one). Ellipsis is left out: a short question may
    well stand alone, which only the index can tell."""
    shape, _ = shape_of(message)
    return shape == "substitution" or (shape == "pronoun" and asks_something(message))


def _replace_topic(question: str, topics: Sequence[str], term: str) -> str | None:
    """The question with `term` in place of the subject of its kind: a size for a size, else the
    main subject."""
    same_kind = [t for t in topics if bool(_SIZE.match(t)) == bool(_SIZE.match(term))]
    for topic in same_kind[:1]:
        pattern = re.compile(re.escape(topic), re.IGNORECASE)
        if pattern.search(question):
            return pattern.sub(term, question, count=1)
    return None


def _with_topic(message: str, topic: str, lang: Lang) -> str:
    message, topic = message.strip(), topic.strip().rstrip("?？。.! ")
    if lang == "zh":
        return f"关于 {topic}：{message}"
    return f"{message.rstrip('?？. ')} (about {topic})?"


def _pronoun_replaced(message: str, topic: str, lang: Lang) -> str:
    if lang == "zh":
        return _ZH_PRONOUN_ALONE.sub(topic, message, count=1) if _ZH_PRONOUN_ALONE.search(message) \
            else _with_topic(message, topic, lang)

    def english(match: re.Match[str]) -> str:
        word = match.group().lower()
        return f"{topic}'s" if word in ("its", "their") else topic

    return _EN_PRONOUN.sub(english, message, count=1)


def rewrite(message: str, previous: Previous | None) -> Rewrite:
    """The message as a standalone question, by the rules above; unchanged without a previous turn
    or a topic to lean on."""
    if previous is not None and previous.clarifying:
        chosen = [t for t in previous.topics
                  if re.search(rf"(?<![A-Za-z]){re.escape(t)}(?![A-Za-z])", message, re.IGNORECASE)]
        if len(chosen) == 1:  # the answer to our question back: which subject was meant
            return Rewrite(for_candidate(previous.question, chosen[0]), "substitution")
    shape, term = shape_of(message)
    if previous is None or shape == "none":
        return Rewrite(message, "none")
    lang = detect_lang(message)
    topic = previous.topic
    if shape == "substitution" and term:
        replaced = _replace_topic(previous.question, previous.topics, term)
        if replaced:
            return Rewrite(replaced, shape)
        return Rewrite(_with_topic(previous.question, term, detect_lang(previous.question)), shape)
    if topic is None:
        return Rewrite(_with_topic(message, previous.question, lang), shape)
    if shape == "pronoun" and len(previous.topics) >= 2 and _COMPARISON.search(previous.question):
        candidates = previous.topics[:3]
        return Rewrite(message, "pronoun", tuple(candidates))
    if shape == "pronoun":
        return Rewrite(_pronoun_replaced(message, topic, lang), shape)
    return Rewrite(_with_topic(message, topic, lang), shape)


def following(message: str, previous: Previous) -> str:
    """The message after the question it follows, as one text to search the notes with: "第一步具体做
    什么？" after "RAG 的主要步骤有哪些？" asks about the steps that question found, which its topic
    alone ("RAG") does not find."""
    earlier = previous.question.strip()
    if detect_lang(message) == "zh":
        return f"接着「{earlier}」问：{message.strip()}"
    return f'Following "{earlier}": {message.strip()}'


def for_candidate(message: str, topic: str) -> str:
    """The message read with one of the clarification's candidates (the button's text)."""
    lang = detect_lang(message)
    return _pronoun_replaced(message, topic, lang)
