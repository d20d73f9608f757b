"""Tokens for BM25: jieba for Chinese, whole technical terms for the English runs between.

ASCII runs are taken before jieba sees the text, so ``top_p``, ``Qwen2-7B``, ``llama.cpp`` and
``1e-4`` stay whole; their parts (``qwen2``, ``7b``) are added too, so a query for ``Qwen2`` still
matches ``Qwen2-7B``. Chinese runs go through jieba's search mode, which emits the long words and
the shorter words inside them (余弦相似度 -> 余弦, 相似, 相似度, 余弦相似度); single characters it
leaves side by side are joined back into the word it did not know (年假, not 年 + 假). Everything is
lower-cased; punctuation and stop-words are dropped. The domain dictionary shared with Rasa's
JiebaTokenizer (``data/dict/userdict.txt``) is loaded when it exists.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jieba

from llm_fallback.text.lang import CJK

_ASCII_TERM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_+#]|[.\-/](?=[A-Za-z0-9]))*")
_PART_SPLIT = re.compile(r"[._\-/]")

# Function words of questions and prose in both languages; they match everywhere and rank nothing.
_STOP_WORDS_TEXT = """
    a an and are as at be been but by can could do does did for from had has have how i if in into is
    it its me my no not of on or our should so than that the their them then there these they this
    to us was we were what when where which who whom why will with would you your about please tell
    much many usually also any some each other here just only more most very get got want like mean
    means does doing done used using way ways thing things
    的 了 是 在 和 与 及 或 也 都 就 而 并 很 还 又 被 把 让 给 对 从 向 以 为 于 之 其 这 那 这个 那个
    这些 那些 一个 一些 什么 怎么 怎么样 怎样 如何 为什么 哪 哪个 哪些 哪里 多少 几 吗 呢 吧 啊 呀 么
    我 你 他 她 它 我们 你们 他们 请问 请 可以 能 能否 应该 需要 要 会 有 没有 是否 一下 下 时 中 上
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

GLOSSARY = Path(__file__).with_name("glossary.txt")  # English <-> Chinese terms, see the file


@cache
def _glossary() -> list[tuple[re.Pattern[str], str, str]]:
    """(pattern of one side, that side, the other side) for both directions of every pair."""
    entries = []
    lines = GLOSSARY.read_text(encoding="utf-8").splitlines()
    for line in (line for line in lines if line.strip() and not line.startswith("#")):
        english, chinese = line.split("|")
        en_terms = [t.strip() for t in english.split(",")]
        zh_terms = chinese.split(",")
        for term in en_terms:
            pattern = re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", re.IGNORECASE)
            entries.append((pattern, term, " ".join(zh_terms)))
        for term in zh_terms:
            entries.append((re.compile(re.escape(term)), term, en_terms[0]))
    return entries


def glossary_terms() -> list[str]:
    """Every term of the glossary, in both languages."""
    return [term for _, term, _ in _glossary()]


def translate_terms(question: str) -> str:
    """The other language's glossary terms for what ``question`` mentions (space separated)."""
    return " ".join(other for pattern, _, other in _glossary() if pattern.search(question))


@cache
def _jieba(userdict: str) -> jieba.Tokenizer:
    """A private jieba instance (the global one belongs to whoever else uses jieba in-process)."""
    tokenizer = jieba.Tokenizer()
    if userdict and Path(userdict).is_file():
        tokenizer.load_userdict(userdict)
    return tokenizer


def _keep(token: str) -> bool:
    return token not in STOP_WORDS and (len(token) > 1 or bool(CJK.match(token)) or token.isdigit())


def tokenize(text: str, userdict: Path | None = None) -> list[str]:
    """BM25 tokens of ``text`` (order kept, duplicates kept: BM25 counts them)."""
    segmenter = _jieba(str(userdict or ""))
    tokens: list[str] = []
    cursor = 0
    for match in _ASCII_TERM.finditer(text):
        tokens.extend(_chinese_tokens(segmenter, text[cursor:match.start()]))
        term = match.group(0).lower()
        if term in STOP_WORDS:
            continue
        term = _stem(term)
        tokens.append(term)
        parts = [part for part in _PART_SPLIT.split(term) if part]
        if len(parts) > 1:
            tokens.extend(parts)
        cursor = match.end()
    tokens.extend(_chinese_tokens(segmenter, text[cursor:]))
    return [token for token in tokens if _keep(token)]


def _stem(term: str) -> str:
    """English plural to singular (epochs -> epoch), so question and note forms meet."""
    if not term.isalpha() or len(term) <= 3:
        return term
    if term.endswith(("ches", "shes", "sses", "xes")):
        return term[:-2]
    if term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def _chinese_tokens(segmenter: jieba.Tokenizer, text: str) -> list[str]:
    if not CJK.search(text):
        return []
    tokens: list[str] = []
    run_end = -1  # where the last kept single character ended
    for token, start, end in segmenter.tokenize(text, mode="search"):
        if not CJK.match(token):
            continue
        if len(token) == 1 and token not in STOP_WORDS:
            # Characters jieba left alone side by side are mostly one word it does not know
            # (年假 -> 年, 假): alone, each matches unrelated passages.
            if start == run_end:
                tokens[-1] += token
            else:
                tokens.append(token)
            run_end = end
            continue
        tokens.append(token)
    return tokens
