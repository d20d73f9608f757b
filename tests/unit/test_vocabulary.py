"""A question about a subject the notes never name is told so; one worded unlike the notes is not."""

from __future__ import annotations

import pytest

from llm_fallback.knowledge.vocabulary import Vocabulary, unknown_terms

NOTES = Vocabulary.of([
    "vLLM 提供了高达数十倍的吞吐量，实现了 PagedAttention。",
    "在配备96GB内存+440GB A100的服务器上可运行1750亿参数模型",
    "FlashAttention 就是通过利用 GPU 硬件中的特殊设计。显存不够时用 QLoRA。GPTQ 主要用于GPT类模型的量化。",
    "## DO LocalDataTime 序列化不带 T\n@JsonFormat(pattern = \"yyyy-MM-dd HH:mm:ss\")",
    "常用模型：Qwen2-7B、ChatGLM3-6B、Mixtral 8x7B。参考 Assistant API 的 Run 状态。",
])


@pytest.mark.parametrize("question, unknown", [
    ("How many parameters does MiniCPM have?", ["MiniCPM"]),
    ("Chinchilla 定律下每个参数需要多少 token？", ["Chinchilla"]),
    ("Does FlashAttention-2 run on V100 GPUs?", ["FlashAttention-2", "V100"]),
    ("Qwen3-7B 怎么部署？", ["Qwen3-7B"]),  # a digit is a version, not a typo
])
def test_a_subject_the_notes_never_name_is_unknown(question: str, unknown: list[str]) -> None:
    assert unknown_terms(question, NOTES) == unknown


@pytest.mark.parametrize("question", [
    "VLLM 的吞吐量高多少？",  # case
    "How much VRAM does QLoRA save?",  # the glossary's other language: 显存
    "What server does vLLM need for a 175B model?",  # a model size in 亿
    "How do I serialize a LocalDateTime field without the T?",  # one letter off, on the notes' side
    "Which statuses does an Assistants Run wait for?",  # a plural
    "What does vLLM do for GPT-style models?",  # checked as GPT: "-style" names nothing
    "What's the fine-tuning memory for qwen2 7b?",  # an ordinary hyphenated word, spaces
    "Mixtral 8x7B 是什么？",
])
def test_a_subject_the_notes_name_otherwise_is_known(question: str) -> None:
    assert unknown_terms(question, NOTES) == []
