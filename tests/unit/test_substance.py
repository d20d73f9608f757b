"""The substance gate: a canned or skill intent keeps only messages that ask nothing beyond its
training examples' words (rasa_addons/substance.py), with the vocabulary learnt from data/nlu.yml."""

from __future__ import annotations

import functools

import jieba
import pytest

from rasa_addons.substance import fit_vocabulary, goes_to_notes, normal_token, unanswered_words
from tests.unit.test_nlu_data import ROOT, examples_by_intent


@functools.cache
def segmenter() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    for path in sorted((ROOT / "data" / "dict").glob("*.txt")):
        tokenizer.load_userdict(str(path))
    return tokenizer


def tokens(text: str) -> list[str]:
    """As the Rasa pipeline's JiebaWordTokenizer splits a message (no whitespace tokens)."""
    return [t for t in segmenter().lcut(text) if t.strip()]


@functools.cache
def vocabulary() -> dict[str, list[str]]:
    data = examples_by_intent(ROOT / "data" / "nlu.yml")
    return fit_vocabulary((intent, tokens(text)) for intent, texts in data.items() for text in texts)


@pytest.mark.parametrize(
    ("intent", "message"),
    [
        ("estimate_vram", "13B 模型 fp16 推理要多少显存？"),
        ("estimate_vram", "How much GPU memory to run a 70B model in int4?"),
        ("quantization_advice", "8B 的模型不想有任何性能损失，用几 bit 量化？"),
        ("explain_parameter", "top_p 是什么意思"),
        ("greet", "你好"),
        ("thank", "thanks a lot"),
    ],
)
def test_a_request_in_its_intents_words_keeps_the_intent(intent: str, message: str) -> None:
    assert unanswered_words(intent, tokens(message), vocabulary()) == []


@pytest.mark.parametrize(
    ("intent", "message", "extra"),
    [
        # a figure the notes measured for one model and optimiser, not the rule of thumb
        ("estimate_vram", "LLaMA-7B 用 AdamW 全量微调实测占多少显存？", "adamw"),
        # a weakness of an index algorithm is not a request for help
        ("help", "HNSW 有什么缺点？", "hnsw"),
        # how two parameters interact is not the parameter's general explanation
        ("explain_parameter", "top_p 和 temperature 要一起调吗？", "一起"),
    ],
)
def test_a_message_asking_more_than_its_intent_goes_to_the_notes(intent: str, message: str,
                                                                  extra: str) -> None:
    assert extra in unanswered_words(intent, tokens(message), vocabulary())


def test_ungated_intents_and_sizes_and_punctuation() -> None:
    assert unanswered_words("ask_notes", tokens("HNSW 有什么缺点？"), vocabulary()) == []
    assert {normal_token(t) for t in ("13B", "70亿", "0.5b", "24G")} == {"<num>"}
    assert normal_token("？") is None and normal_token("QLoRA") == "qlora"


@pytest.mark.parametrize(("intent", "message", "to_notes"), [
    ("new_topic", "换个话题", False),
    ("new_topic", "Switching topics: what does GRPO stand for?", True),
    ("thank", "thanks a bunch", False),
    ("help", "它的缺点呢？", True),  # a follow-up, not a request for help
    ("greet", "I got it, thanks", False),
    # a word one skill example happens to use ("go", "way", "we") is not a topic
    ("goodbye", "gotta go, bye", False),
    ("deny", "no way", False),
    ("new_topic", "can we switch topics", False),
    # a technical term, or a word the skills keep asking about, is
    ("help", "HNSW 有什么缺点？", True),
    ("help", "单卡够不够", True),
])
def test_small_talk_keeps_only_small_talk(intent: str, message: str, to_notes: bool) -> None:
    assert goes_to_notes(intent, message, tokens(message), vocabulary()) is to_notes


@pytest.mark.parametrize(("intent", "message", "to_notes"), [
    # a parameter's explanation, in words beyond the examples', stays with the skill
    ("explain_parameter", "num_beams 设大了有什么影响", False),
    ("explain_parameter", "what does temperature actually do", False),
    # a question about how one works in detail is the notes' to answer
    ("explain_parameter", "How does repetition_penalty actually change a repeated token's odds?", True),
    # what the notes' own example or table says is theirs to answer, not a rule of thumb's
    ("explain_parameter", "optim 推荐用啥？笔记给的例子是什么", True),
    # a subject the examples never name is what the message asks about, not the parameter
    ("explain_parameter", "What is the Muon optimizer?", True),
    ("explain_parameter", "What learning rate should I use for fine-tuning?", False),
    ("explain_parameter", "do_sample 设成 False 会怎样", False),
    ("estimate_vram", "In the vLLM example, how many GPUs does opt-13b use?", True),
    ("estimate_vram", "13B 模型 fp16 推理要多少显存？", False),
    ("inference_engine", "只有一台没显卡的笔记本，用哪个推理引擎？", False),  # a laptop, not the notes
    # given a bit width, a figure asked for is what that width costs: the notes' measurement
    ("quantization_advice", "70B 模型用 4bit 量化会掉多少点？", True),
    ("quantization_advice", "70B 模型能接受 2-3% 的损失，量化到几 bit？", False),
    ("quantization_advice", "Is 4-bit fine for a 70B model if I can't lose any accuracy?", False),
])
def test_a_skill_keeps_only_what_it_computes(intent: str, message: str, to_notes: bool) -> None:
    assert goes_to_notes(intent, message, tokens(message), vocabulary()) is to_notes
