# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""GPU memory for a model of N billion parameters: the notes' rules of thumb, scaled.

The notes give, per billion parameters (misc-notes.md › 显卡消耗): running the model 2 G, LoRA
fine-tuning 2.3 G, full fine-tuning 12 G (model 2 G + gradients 2 G + optimizer 8 G); 8B: 16 G,
18.4 G, 96 G. fp16 inference needs about twice the size in GB (7B ≈ 14 GB). 8-bit weights take
1/4 and 4-bit 1/8 of fp32. ChatGLM3-6B: fp16 ≈ 12G, 4-bit ≈ 4.5G: 4-bit in practice costs more
than the weights alone (0.75 instead of 0.5 G per billion), so 4-bit answers give that range.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, Source, fmt_number, fmt_size, pick, sources_line

GPU_COST = Source("misc-notes.md", ("显卡消耗",))
FP16_RULE = Source("llm-basic-concepts.md", ("大模型基本概念", "训练参数"))
QUANT_RATIOS = Source("llm-note.md", ("大模型LLM", "模型部署推理", "推理优化"))
CHATGLM = Source("llm-note.md", ("大模型LLM", "Fine-Tune微调", "微调框架"))
QLORA = Source("llm-basic-concepts.md", ("LORA微调", "QLoRA"))

# GB per billion parameters for the model weights at each precision.
WEIGHTS_GB_PER_B = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
# ChatGLM3-6B at 4 bit: 4.5 G for 6B (quantization constants, layers kept in 16 bit, runtime).
INT4_MEASURED_GB_PER_B = 4.5 / 6
# LoRA adds 0.3 G per billion on top of the fp16 weights (2.3 G vs 2 G for 1B).
LORA_EXTRA_GB_PER_B = 0.3
# Full fine-tuning with Adam in mixed precision: weights 2 + gradients 2 + optimizer 8.
FULL_GB_PER_B = 12.0
FULL_FP32_GB_PER_B = 16.0  # weights and gradients in fp32 (4 + 4) + the same optimizer 8

MODES = ("inference", "lora", "qlora", "full")
# How the notes name each use, to find a figure they report for it (llm_fallback.answer.figures).
USE_WORDS = {
    "inference": ("推理", "inference", "加载", "运行"),
    "lora": ("lora",),
    "qlora": ("qlora",),
    "full": ("全量", "全参", "full"),
}
PRECISIONS = tuple(WEIGHTS_GB_PER_B)


@dataclass(frozen=True)
class Estimate:
    billions: float
    mode: str  # inference | lora | qlora | full
    precision: str  # the precision the figure assumes
    low_gb: float
    high_gb: float  # equal to low_gb unless the rule gives a range (4-bit)
    per_b_low: float
    per_b_high: float
    sources: tuple[Source, ...]

    @property
    def is_range(self) -> bool:
        return self.high_gb > self.low_gb


def estimate(billions: float, mode: str, precision: str | None = None) -> Estimate:
    """Memory for `billions` parameters in `mode` at `precision` (None: the notes' fp16 default).

    LoRA on 4-bit weights is QLoRA; full fine-tuning in 8/4 bit does not exist, so it is
    counted in mixed precision like the notes do.
    """
    if billions <= 0:
        raise ValueError(f"model size must be positive, got {billions}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    if precision is not None and precision not in WEIGHTS_GB_PER_B:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if mode == "lora" and precision == "int4":
        mode = "qlora"
    if mode == "qlora":
        precision = "int4"
    if mode == "full":
        per_b = FULL_FP32_GB_PER_B if precision == "fp32" else FULL_GB_PER_B
        precision = "fp32" if precision == "fp32" else "fp16"
        sources = (GPU_COST,) if precision == "fp16" else (GPU_COST, QUANT_RATIOS)
        return Estimate(billions, mode, precision, billions * per_b, billions * per_b, per_b, per_b, sources)
    precision = precision or "fp16"
    low = WEIGHTS_GB_PER_B[precision]
    high = INT4_MEASURED_GB_PER_B if precision == "int4" else low
    extra = LORA_EXTRA_GB_PER_B if mode in ("lora", "qlora") else 0.0
    low, high = low + extra, high + extra
    if mode == "inference":
        sources = (FP16_RULE, GPU_COST) if precision in ("fp16", "bf16") else (QUANT_RATIOS, FP16_RULE)
    elif mode == "lora":
        sources = (GPU_COST,) if precision in ("fp16", "bf16") else (GPU_COST, QUANT_RATIOS)
    else:
        sources = (QLORA, GPU_COST)
    if precision == "int4":
        sources = (*sources, CHATGLM)
    return Estimate(billions, mode, precision, billions * low, billions * high, low, high, sources)


_MODE_NAMES = {
    "zh": {"inference": "推理", "lora": "LoRA 微调", "qlora": "QLoRA 微调", "full": "全量微调"},
    "en": {
        "inference": "inference",
        "lora": "LoRA fine-tuning",
        "qlora": "QLoRA fine-tuning",
        "full": "full fine-tuning",
    },
}


def _gb(est: Estimate) -> str:
    if est.is_range:
        return f"{fmt_number(est.low_gb)}–{fmt_number(est.high_gb)} GB"
    return f"{fmt_number(est.low_gb)} GB"


def _per_b(est: Estimate) -> str:
    if est.per_b_high > est.per_b_low:
        return f"{fmt_number(est.per_b_low)}–{fmt_number(est.per_b_high)}"
    return fmt_number(est.per_b_low)


def _basis(est: Estimate, lang: Lang) -> str:
    """One sentence on where the per-billion figure comes from."""
    if est.mode == "full":
        if est.precision == "fp32":
            return pick(
                lang,
                "按笔记的 12G/10 亿参数（模型 2G + 梯度 2G + 优化器 8G）换成 fp32 权重和梯度（4G + 4G）推算。",
                "From the notes' 12 G per billion (model 2 + gradients 2 + optimizer 8), with fp32 "
                "weights and gradients (4 + 4).",
            )
        return pick(
            lang,
            "笔记：每 10 亿参数全量微调约 12G（模型 2G + 梯度 2G + 优化器 8G）；1B ≈ 12G，8B ≈ 96G。",
            "The notes: full fine-tuning takes about 12 G per billion parameters (model 2 + gradients 2 + "
            "optimizer 8); 1B ≈ 12G, 8B ≈ 96G.",
        )
    if est.mode == "lora" and est.precision in ("fp16", "bf16"):
        return pick(
            lang,
            "笔记：每 10 亿参数 LoRA 微调约 2.3G；1B ≈ 2.3G，8B ≈ 18.4G。",
            "The notes: LoRA fine-tuning takes about 2.3 G per billion parameters; 1B ≈ 2.3G, 8B ≈ 18.4G.",
        )
    if est.mode in ("lora", "qlora"):
        return pick(
            lang,
            "按权重精度换算后加上 LoRA 的额外 0.3G/10 亿参数（笔记：LoRA 2.3G = 运行 2G + 0.3G）推算；"
            "4bit 的上限取笔记中 ChatGLM3-6B 4bit 约 4.5G 的实测比例。",
            "Weights at that precision plus LoRA's extra 0.3 G per billion (the notes: LoRA 2.3 G = running "
            "2 G + 0.3 G); the 4-bit upper end uses the notes' ChatGLM3-6B 4-bit ≈ 4.5G.",
        )
    if est.precision in ("fp16", "bf16"):
        return pick(
            lang,
            "笔记：FP16 推理所需显存（GB）约为参数量（10 亿）的两倍，7B ≈ 14GB；1B ≈ 2G，8B ≈ 16G，"
            "ChatGLM3-6B 以 FP16 加载约 12G。",
            "The notes: fp16 inference needs about twice the parameter count (in billions) in GB, "
            "7B ≈ 14GB; 1B ≈ 2G, 8B ≈ 16G, ChatGLM3-6B in FP16 ≈ 12G.",
        )
    if est.precision == "fp32":
        return pick(
            lang,
            "fp32 每个参数 4 字节，是 FP16（每 10 亿参数约 2G）的两倍。",
            "fp32 takes 4 bytes per parameter, twice fp16's 2 G per billion.",
        )
    if est.precision == "int8":
        return pick(
            lang,
            "笔记：8-bit 量化把显存降到 FP32 的 1/4，即每 10 亿参数约 1G。",
            "The notes: 8-bit quantization cuts memory to 1/4 of FP32, about 1 G per billion parameters.",
        )
    return pick(
        lang,
        "笔记：4-bit 量化把权重降到 FP32 的 1/8（每 10 亿参数 0.5G）；实测 ChatGLM3-6B 4bit 约 4.5G"
        "（每 10 亿 0.75G），所以给出区间。",
        "The notes: 4-bit quantization cuts weights to 1/8 of FP32 (0.5 G per billion); measured, "
        "ChatGLM3-6B at 4 bit takes about 4.5G (0.75 G per billion), hence the range.",
    )


def render(est: Estimate, lang: Lang) -> str:
    """The answer: figure, how it was derived, what it leaves out, source."""
    size, mode = fmt_size(est.billions), _MODE_NAMES[lang][est.mode]
    precision = (
        est.precision if est.mode != "full" else ("fp32" if est.precision == "fp32" else "混合精度 fp16/bf16")
    )
    if lang == "en" and est.mode == "full" and est.precision != "fp32":
        precision = "mixed precision fp16/bf16"
    if lang == "zh":
        head = f"{size} 模型 {precision} {mode}：约需 {_gb(est)} 显存（每 10 亿参数约 {_per_b(est)}G）。"
        caveat = (
            "这是经验估算，只算模型本身（训练另含梯度和优化器状态），不含 KV cache、batch 大小和上下文长度"
            "带来的额外显存，也不含框架和 CUDA 的开销，实际会更多。"
        )
    else:
        head = (
            f"{size} model, {precision} {mode}: about {_gb(est)} of GPU memory "
            f"({_per_b(est)} G per billion parameters)."
        )
        caveat = (
            "This is a rule of thumb for the model itself (plus gradients and optimizer states when training); "
            "it leaves out the KV cache, which grows with batch size and context length, and framework/CUDA "
            "overhead, so real usage is higher."
        )
    return "\n".join((head, _basis(est, lang), caveat, sources_line(est.sources, lang)))


def with_reported(rule_answer: str, sentence: str, source: str, lang: Lang) -> str:
    """A figure the notes report for this size and use, with its source, before the rule of thumb."""
    return pick(
        lang,
        f"笔记里记录的数字：{sentence}（来源：{source}）\n按经验规则估算：{rule_answer}",
        f"The notes report: {sentence} (source: {source})\nBy the rule of thumb: {rule_answer}",
    )
