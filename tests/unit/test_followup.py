"""Follow-ups, the cheap way (llm_fallback.conversation.followup), the tracker context they lean on
(actions.conversation) and a skill's carried-over slots (actions.skills.carry_over): pure rules."""

from __future__ import annotations

import pytest

from actions.conversation import last_context
from actions.skills.carry_over import carried_slots
from llm_fallback.conversation.followup import Previous, is_followup, rewrite, shape_of, topics_of
from llm_fallback.text.questions import after_new_topic, asks_value_used

LORA = Previous("LoRA 的秩 r 是什么意思？", topics_of("LoRA 的秩 r 是什么意思？"))
RAG_QUESTION = "What chunk size does the RAG example use?"
RAG_EN = Previous(RAG_QUESTION, topics_of(RAG_QUESTION))


@pytest.mark.parametrize(("message", "shape", "term"), [
    ("那 13B 呢？", "substitution", "13B"),
    ("QLoRA 呢？", "substitution", "QLoRA"),
    ("那么 P-tuning 呢", "substitution", "P-tuning"),
    ("换成 6B 的呢？", "substitution", "6B"),
    ("那知识蒸馏呢？", "substitution", "知识蒸馏"),
    ("And QLoRA?", "substitution", "QLoRA"),
    ("What about int4?", "substitution", "int4"),
    ("它的缺点呢？", "pronoun", None),
    ("What are its drawbacks?", "pronoun", None),
    ("那缺点呢？", "ellipsis", None),
    ("第一步具体做什么？", "ellipsis", None),
    ("Why?", "ellipsis", None),
    ("And how many experts is each token routed to, in the end?", "ellipsis", None),
    ("那每一层里的专家一般会被分成几组来分别负责不同的任务？", "ellipsis", None),
    ("How many experts is each token routed to in a mixture of experts layer?", "none", None),
    ("And what does TensorRT-LLM's build step do?", "none", None),
    ("那个方法为什么在数据很少的时候训练效果会变差很多？", "none", None),
    ("What is RAG?", "none", None),
    ("HNSW 有什么缺点？", "none", None),
    ("vLLM 和 Ollama 哪个吞吐更高？", "none", None),
])
def test_shapes(message: str, shape: str, term: str | None) -> None:
    assert shape_of(message) == (shape, term)


@pytest.mark.parametrize(("message", "followup"), [
    ("那 QLoRA 呢？", True), ("How does it work?", True), ("它有什么缺点？", True),
    ("I got it, thanks", False), ("那你呢？", False), ("谢谢", False), ("What is RAG?", False),
])
def test_small_talk_with_a_pronoun_is_not_a_follow_up(message: str, followup: bool) -> None:
    assert is_followup(message) is followup


@pytest.mark.parametrize(("previous", "message", "question"), [
    (LORA, "那 QLoRA 呢？", "QLoRA 的秩 r 是什么意思？"),
    (LORA, "它的缺点呢？", "LoRA的缺点呢？"),
    (LORA, "第一步具体做什么？", "关于 LoRA：第一步具体做什么？"),
    (RAG_EN, "What are its drawbacks?", "What are RAG's drawbacks?"),
    (RAG_EN, "And HNSW?", "What chunk size does the HNSW example use?"),
])
def test_a_follow_up_becomes_a_standalone_question(previous: Previous, message: str, question: str) -> None:
    assert rewrite(message, previous).question == question


def test_the_subject_is_the_last_term_named_but_never_an_everyday_hyphenated_word() -> None:
    assert topics_of("Rasa 的 NLU 模块负责什么？")[0] == "NLU"
    bitfit = "In the PEFT list, what does BitFit fine-tune?"
    assert topics_of(bitfit)[0] == "BitFit"
    assert rewrite("And IA3?", Previous(bitfit, topics_of(bitfit))).question == \
        "In the PEFT list, what does IA3 fine-tune?"
    assert topics_of("How does top-k sampling work?")[0] == "top-k"


def test_the_subject_is_the_whole_name_and_never_a_language() -> None:
    assert topics_of("What's the context window of Gemini 1.5 Pro?") == ("Gemini 1.5 Pro",)
    assert topics_of("How many parameters does Mixtral 8x7B activate per token?") == ("Mixtral 8x7B",)
    # A size stays itself, so that "那 13B 呢？" replaces it.
    llama = "Llama 2 7B 推理要多少显存？"
    thirteen = rewrite("那 13B 呢？", Previous(llama, topics_of(llama)))
    assert thirteen.question == "Llama 2 13B 推理要多少显存？"
    assert topics_of("Roughly how many English words is 1k tokens?") == ()


def test_a_message_that_names_its_subject_is_never_rewritten() -> None:
    assert rewrite("HNSW 有什么缺点？", LORA).shape == "none"
    assert rewrite("那 QLoRA 呢？", None).question == "那 QLoRA 呢？"


def test_a_pronoun_after_two_subjects_asks_which_and_the_answer_picks_one() -> None:
    both = Previous("LoRA 和 QLoRA 有什么区别？", topics_of("LoRA 和 QLoRA 有什么区别？"))
    asked = rewrite("它的秩怎么设？", both)
    assert set(asked.candidates) == {"LoRA", "QLoRA"}
    waiting = Previous("它的秩怎么设？", asked.candidates, clarifying=True)
    assert rewrite("QLoRA", waiting).question == "QLoRA的秩怎么设？"
    assert rewrite("LoRA 吧", waiting).question == "LoRA的秩怎么设？"


def test_context_survives_the_tracker_round_trip() -> None:
    assert Previous.from_metadata({**LORA.to_metadata(), "route": "answer"}) == LORA
    assert Previous.from_metadata({"route": "skill"}) is None


def _user(text: str, intent: str = "ask_notes", ts: float = 100.0) -> dict:
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": {"intent": {"name": intent}}}


def _bot(metadata: dict, ts: float = 100.0) -> dict:
    return {"event": "bot", "text": "…", "timestamp": ts, "metadata": metadata}


NOTES_TURN = {"route": "answer", "question": "什么是 RAG？", "topics": ["RAG"], "sections": []}


def test_the_last_answer_is_the_context() -> None:
    events = [_user("什么是 RAG？"), _bot(NOTES_TURN), _user("谢谢", "thank"), _bot({}),
              _user("它的缺点呢？")]
    assert last_context(events, ttl_s=1800, now=200.0) == NOTES_TURN


@pytest.mark.parametrize("break_event", [
    {"event": "restart"},
    {"event": "session_started"},
    _user("换个话题", "new_topic"),
])
def test_a_fresh_start_forgets_the_context(break_event: dict) -> None:
    events = [_user("什么是 RAG？"), _bot(NOTES_TURN), break_event, _user("它的缺点呢？")]
    assert last_context(events, ttl_s=1800, now=200.0) is None


@pytest.mark.parametrize("message", [
    "换个话题。它的缺点呢？", "我们换个话题，那缺点呢", "New topic: what are its drawbacks?",
])
def test_a_message_that_opens_with_a_new_topic_starts_fresh(message: str) -> None:
    events = [_user("什么是 RAG？"), _bot(NOTES_TURN), _user(message)]
    assert last_context(events, ttl_s=1800, now=200.0) is None


@pytest.mark.parametrize(("message", "question"), [
    ("换个话题。AdaGrad 的缺点呢？", "AdaGrad 的缺点呢？"),
    ("换个话题吧，QLoRA 是什么", "QLoRA 是什么"),
    ("new topic: what is LoRA?", "what is LoRA?"),
    ("换个话题", None),  # the phrase alone is NLU's new_topic
    ("What is a new topic model?", None),
])
def test_the_question_after_a_new_topic(message: str, question: str | None) -> None:
    assert after_new_topic(message) == question


@pytest.mark.parametrize(("message", "used"), [
    ("学习率设的是多少？", True), ("What was top_p set to?", True), ("Which batch size did it use?", True),
    ("学习率是什么意思？", False), ("What is top_p used for?", False), ("学习率怎么设？", False),
])
def test_a_value_used_is_not_a_request_for_the_explanation(message: str, used: bool) -> None:
    assert asks_value_used(message) is used


def test_an_idle_conversation_starts_fresh() -> None:
    events = [_user("什么是 RAG？"), _bot(NOTES_TURN, ts=100.0), _user("它的缺点呢？", ts=5000.0)]
    assert last_context(events, ttl_s=1800, now=5000.0) is None
    assert last_context(events, ttl_s=1800, now=1000.0) == NOTES_TURN


VRAM_SLOTS = ("model_size", "precision", "train_mode")


@pytest.mark.parametrize(("message", "slots"), [
    ("那 13B 呢？", {"model_size": "13B", "precision": "fp16", "train_mode": "inference"}),
    ("QLoRA 呢？", {"model_size": "7B", "precision": "fp16", "train_mode": "qlora"}),
    ("what about int4?", {"model_size": "7B", "precision": "int4", "train_mode": "inference"}),
    ("换成 6B 的呢？", {"model_size": "6B", "precision": "fp16", "train_mode": "inference"}),
    ("那 13B 的模型呢", {"model_size": "13B", "precision": "fp16", "train_mode": "inference"}),
    ("What if it is 4-bit?", {"model_size": "7B", "precision": "int4", "train_mode": "inference"}),
])
def test_a_skill_follow_up_changes_one_slot(message: str, slots: dict) -> None:
    before = {"model_size": "7B", "precision": "fp16", "train_mode": "inference"}
    assert carried_slots(VRAM_SLOTS, before, message) == slots


@pytest.mark.parametrize("message", ["它的原理是什么？", "13B int4 推理要多少显存，怎么算的？", "那缺点呢？",
                                     "那 QLoRA 的原理呢？", "What about QLoRA's memory savings?"])
def test_a_message_that_changes_no_slot_or_stands_alone_is_not_carried_over(message: str) -> None:
    assert carried_slots(VRAM_SLOTS, {"model_size": "7B"}, message) is None
