"""The answer pipeline end to end: real index, real 1.5B model where answers are checked.

The questions come from ../shared/eval/dev.yml; the pipeline knows nothing of them.
"""

import pytest
import yaml

from llm_fallback.answer import answer_question, busy_reply, unsupported_numbers
from llm_fallback.config import PROJECT_ROOT
from llm_fallback.llm import LLM, LlamaCppBackend, LLMBusy, Pieces, get_llm
from llm_fallback.model import prepare

DEV = {item["id"]: item for item in yaml.safe_load((PROJECT_ROOT.parent / "shared/eval/dev.yml").read_text())}


@pytest.fixture(scope="module")
def llm() -> LLM:
    """The shipped default: the process-wide service over the prepared 1.5B model."""
    prepare("1.5b", progress=False)
    return get_llm()


@pytest.fixture(scope="module")
def small_backend() -> LlamaCppBackend:
    return LlamaCppBackend(prepare("0.5b", progress=False), n_ctx=2048, n_threads=2)


def found(item: dict, text: str) -> bool:
    return all(any(alt.lower() in text.lower() for alt in group) for group in item["expect"])


@pytest.mark.parametrize("qid", ["d01", "d03", "d07", "d09", "d11", "d14"])
def test_notes_questions_are_answered_with_sources(llm, qid):
    item = DEV[qid]
    result = answer_question(item["q"], llm=llm)
    assert result.route in ("answer", "extractive"), result.text
    assert found(item, result.text), result.text
    assert result.sources and all(s.file.endswith(".md") for s in result.sources)
    assert ("来源：" if item["lang"] == "zh" else "Sources:") in result.text


def test_most_sampled_questions_get_a_generated_answer(llm):
    routes = [answer_question(DEV[qid]["q"], llm=llm).route for qid in ("d01", "d03", "d07", "d13")]
    assert routes.count("answer") >= 3, routes


@pytest.mark.parametrize("qid", ["o11", "o12", "o13"])
def test_out_of_scope_questions_are_not_covered_without_the_llm(qid):
    class NoLLM:
        def generate(self, *args, **kwargs):
            raise AssertionError("the LLM must not be called when the notes don't cover a question")

    result = answer_question(DEV[qid]["q"], llm=NoLLM())
    assert result.route == "not_covered"
    assert result.sources == ()
    assert ("笔记里没有" if DEV[qid]["lang"] == "zh" else "don't cover") in result.text


@pytest.mark.parametrize("qid", ["s11", "s12", "h11"])
def test_secret_and_harmful_questions_are_refused(qid):
    result = answer_question(DEV[qid]["q"])
    assert result.route == "refused"
    assert not any(word in result.text for word in DEV[qid].get("forbid", []))


def test_a_generation_over_budget_falls_back_to_the_extractive_answer(small_backend):
    slow = LLM(lambda: small_backend, queue_max=1, timeout_s=0.01)
    result = answer_question(DEV["d09"]["q"], llm=slow)
    assert result.route == "extractive"
    assert "7860" in result.text and result.sources


def test_a_full_queue_raises_busy_for_the_caller_to_reply(small_backend):
    llm = LLM(lambda: small_backend, queue_max=0, timeout_s=20)
    running = llm.stream("hello", max_tokens=4)
    next(running)
    with pytest.raises(LLMBusy):
        answer_question(DEV["d09"]["q"], llm=llm)
    running.close()
    assert busy_reply(DEV["d09"]["q"]) == "现在提问的人比较多，请稍后再试。"


class InventsAFigure:
    """A fake model that answers with a port number the notes never give (the only fake here)."""

    def stream(self, messages, max_tokens, temperature, stop) -> Pieces:
        yield from ["默认端口", "是 ", "8080", "。"]


def test_the_number_check_catches_an_invented_figure():
    result = answer_question(DEV["d09"]["q"], llm=LLM(InventsAFigure, queue_max=1, timeout_s=5))
    assert result.route == "extractive"
    assert "8080" not in result.text and "7860" in result.text


def test_numbers_are_checked_against_the_passages():
    assert unsupported_numbers("默认端口为 7,860，或 8000", "默认端口为 7860") == ["8000"]
    assert unsupported_numbers("1. 用 bf16\n2. 用 4bit", "bf16 与 4bit") == []

