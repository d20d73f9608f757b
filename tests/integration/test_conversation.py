"""Follow-ups resolved over the real index and the real 1.5B model (llm_fallback.conversation)."""

from __future__ import annotations

import pytest

from llm_fallback.answer.prompt import SYSTEM
from llm_fallback.conversation.followup import Previous, rewrite
from llm_fallback.conversation.resolve import model_rewrite, resolve
from llm_fallback.knowledge.retrieve import get_retriever, sections_first
from llm_fallback.llm.model import prepare
from llm_fallback.llm.service import LLM, get_llm
from llm_fallback.routing import answer_in_context, remember


@pytest.fixture(scope="module")
def llm() -> LLM:
    prepare("1.5b", progress=False)
    return get_llm()


def test_a_question_that_names_its_subject_is_answered_as_asked() -> None:
    previous = remember("LoRA 的秩 r 是什么意思？")
    resolution = resolve("HNSW 有什么缺点？", previous, get_retriever())
    assert (resolution.how, resolution.question) == ("standalone", "HNSW 有什么缺点？")


@pytest.mark.parametrize(("first", "follow_up", "subject"), [
    ("HNSW 的搜索质量和速度怎么样？", "它的缺点呢？", "HNSW"),
    ("What is vLLM good at?", "What are its drawbacks?", "vLLM"),
    ("TTFT 指的是什么？", "那 TPOT 呢？", "TPOT"),
])
def test_a_follow_up_is_read_with_its_subject_and_finds_it(first: str, follow_up: str,
                                                            subject: str) -> None:
    resolution = resolve(follow_up, remember(first), get_retriever())
    assert resolution.how == "rewritten" and subject in resolution.question
    hits = get_retriever().search(resolution.question, k=3)
    assert any(subject.lower() in hit.text.lower() for hit in hits)


def test_a_follow_up_on_the_same_subject_looks_where_the_last_answer_was_found() -> None:
    sections = ("推理/生成参数",)
    previous = Previous("top_k 参数是做什么的？", ("top_k",), sections)
    assert resolve("它的默认值呢？", previous, get_retriever()).sections == sections
    # A new subject is looked for anywhere, also beside a pronoun.
    assert resolve("那 top_p 呢？", previous, get_retriever()).sections == ()
    assert resolve("How does vLLM use it?", previous, get_retriever()).sections == ()


def test_a_question_about_what_the_last_answer_said_is_looked_for_after_that_question() -> None:
    retriever = get_retriever()
    first = "RAG 的主要步骤有哪些？"
    resolution = resolve("第一步具体做什么？", remember(first, retriever.search(first, k=1)), retriever)
    assert resolution.how == "rewritten" and resolution.search_as.startswith(f"接着「{first}")
    assert first not in resolution.question  # the model is asked the follow-up alone
    found = retriever.search(resolution.search_as, k=5)
    assert "分割成较短的 Chunk" in sections_first(found, resolution.sections)[0].text
    # The rewrite alone ("关于 RAG：…") does not find it at all.
    assert all("分割成较短的 Chunk" not in hit.text for hit in retriever.search(resolution.question, k=5))


def test_the_model_rewrites_only_what_the_index_is_unsure_of_and_within_its_budget(llm: LLM) -> None:
    previous = remember("明天上海天气怎么样？")
    resolution = resolve("那后天呢？", previous, get_retriever(), llm)
    assert resolution.how in ("rewritten", "model") and resolution.rewrite_ms > 0
    # Past its budget the model's rewrite is dropped and the cheap one stands. (The budget is
    # checked token by token: how long the prompt takes before the first token depends on the CPU.)
    hurried = resolve("那后天呢？", previous, get_retriever(), llm, budget_s=0.01)
    assert hurried.rewrite_ms > 0
    assert (hurried.how, hurried.question) == ("rewritten", rewrite("那后天呢？", previous).question)


class Scripted:
    """A model backend that replies `reply` and keeps the messages it was given."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[list[dict]] = []

    def stream(self, messages, max_tokens, temperature, stop):
        self.prompts.append(messages)
        yield self.reply


@pytest.mark.parametrize(("reply", "question"), [
    ("HNSW 的缺点是什么？\n它的优点是……", "HNSW 的缺点是什么？"),
    # Under the answers' system message the model may answer as it would there: no question.
    ("NOT IN NOTES", None),
    ("What are the drawbacks of HNSW?", None),  # not the follow-up's language
])
def test_the_models_rewrite_is_one_question_in_the_follow_ups_language(reply: str,
                                                                      question: str | None) -> None:
    backend = Scripted(reply)
    previous = remember("HNSW 的搜索质量和速度怎么样？")
    assert model_rewrite("它的缺点呢？", previous, LLM(lambda: backend, queue_max=1, timeout_s=5)) == question
    # The answers' fixed system message opens the prompt, so llama.cpp's cache serves both.
    assert backend.prompts[0][0] == {"role": "system", "content": SYSTEM}


def test_the_models_rewrite_keeps_the_users_spelling() -> None:
    # Capitalised, "jhq" would be a name the notes never write, and the answer "not covered".
    backend = Scripted("How was the BitsAndBytes error in JHQ's homework log fixed?")
    previous = remember("In jhq's homework log, what error did bitsandbytes throw?")
    rewritten = model_rewrite("How was it fixed?", previous, LLM(lambda: backend, queue_max=1, timeout_s=5))
    assert rewritten == "How was the bitsandbytes error in jhq's homework log fixed?"


def test_the_answer_says_how_a_follow_up_was_understood(llm: LLM) -> None:
    first, _ = answer_in_context("HNSW 的搜索质量和速度怎么样？", None)
    answer, resolution = answer_in_context("它的缺点呢？", remember(first.question, first.sources))
    assert resolution.rewritten and answer.question.startswith("HNSW")
    assert answer.text.startswith("（理解为：HNSW") and answer.to_json()["question"] == answer.question
