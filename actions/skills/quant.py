# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Which bit width to quantize to, for a model size and a loss tolerance (llm-basic-concepts.md).

The notes: 8-bit is a free lunch (no loss). AWQ 4-bit loses 2% on 8B and 0.05% on 70B; AWQ 3-bit
70B loses 2.7%. Without any loss: 8B -> 8-bit, 70B -> 4-bit; accepting 2-3%: 8B -> 4-bit,
70B -> 3-bit. Larger models lose less at low bit widths.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, Source, fmt_size, sources_line

QUANT_CHOICE = Source("llm-basic-concepts.md", ("大模型基本概念", "模型量化选择"))

# The notes give two anchor sizes. Models from this size up follow the 70B line; below it the
# 8B line, which is the safe side for anything in between (smaller models lose more).
LARGE_MODEL_B = 60.0
TOLERANCES = ("none", "small")


@dataclass(frozen=True)
class Advice:
    billions: float
    tolerance: str  # none | small
    bits: int
    anchor: str  # "8B" or "70B": the notes' size class the advice follows
    sources: tuple[Source, ...] = (QUANT_CHOICE,)


def advise(billions: float, tolerance: str) -> Advice:
    """Bit width for `billions` parameters and loss tolerance `none` or `small` (2-3 %)."""
    if billions <= 0:
        raise ValueError(f"model size must be positive, got {billions}")
    if tolerance not in TOLERANCES:
        raise ValueError(f"unknown loss tolerance {tolerance!r}; expected one of {TOLERANCES}")
    large = billions >= LARGE_MODEL_B
    table = {("none", False): 8, ("none", True): 4, ("small", False): 4, ("small", True): 3}
    return Advice(billions, tolerance, table[(tolerance, large)], "70B" if large else "8B")


def _fit_note(advice: Advice, lang: Lang) -> str:
    """How the size relates to the notes' anchors (8B, 70B)."""
    size = advice.billions
    if size in (8.0, 70.0):
        return ""
    if lang == "zh":
        if size < 8:
            return f"{fmt_size(size)} 比 8B 小，按 8B 的档位给出；模型越小，低 bit 量化损失越大，4bit 的实际损失可能超过 2%。"
        if size < LARGE_MODEL_B:
            return f"{fmt_size(size)} 介于 8B 和 70B 之间，按更保守的 8B 档位给出。"
        return f"{fmt_size(size)} 按 70B 档位给出（参数越大，低 bit 量化损失越低）。"
    if size < 8:
        return (
            f"{fmt_size(size)} is smaller than 8B, so this follows the 8B line; smaller models lose more at "
            "low bit widths, so the 4-bit loss may exceed 2%."
        )
    if size < LARGE_MODEL_B:
        return f"{fmt_size(size)} lies between 8B and 70B, so this follows the safer 8B line."
    return f"{fmt_size(size)} follows the 70B line (larger models lose less at low bit widths)."


def render(advice: Advice, lang: Lang) -> str:
    size, bits = fmt_size(advice.billions), advice.bits
    if lang == "zh":
        want = "不接受任何性能损失" if advice.tolerance == "none" else "能接受 2–3% 的性能损失"
        head = f"{size} 模型、{want}：建议 {bits}bit 量化。"
        rule = (
            "笔记的规则：8bit 量化是免费午餐，无损失；追求无任何性能损失时 8B 用 8bit、70B 用 4bit；"
            "能接受 2-3% 损失时 8B 用 4bit、70B 用 3bit（AWQ 4bit 在 8B 上损失约 2%、70B 只有 0.05%，"
            "AWQ 3bit 70B 约 2.7%）。参数越大的模型，低 bit 量化损失越低。"
        )
        caveat = (
            "这是经验规则，实际损失取决于量化方法（AWQ、GPTQ、GGUF）和任务，上线前请在自己的评测集上验证。"
        )
    else:
        want = "no performance loss" if advice.tolerance == "none" else "accepting a 2–3% loss"
        head = f"{size} model, {want}: quantize to {bits}-bit."
        rule = (
            "The notes' rule: 8-bit quantization is a free lunch (no loss); for no loss at all use 8-bit for 8B "
            "and 4-bit for 70B; accepting 2-3% use 4-bit for 8B and 3-bit for 70B (AWQ 4-bit loses about 2% "
            "on 8B and only 0.05% on 70B, AWQ 3-bit about 2.7% on 70B). Larger models lose less at low bit "
            "widths."
        )
        caveat = (
            "A rule of thumb: the real loss depends on the method (AWQ, GPTQ, GGUF) and the task, so check "
            "on your own evaluation set before shipping."
        )
    parts = [head, _fit_note(advice, lang), rule, caveat, sources_line(advice.sources, lang)]
    return "\n".join(p for p in parts if p)
