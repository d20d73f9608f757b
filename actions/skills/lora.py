# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Recommended LoRA settings, adjusted for diverse data or overfitting (llm-basic-concepts.md › LORA微调)."""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, Source, sources_line

LORA_NOTES = Source("llm-basic-concepts.md", ("LORA微调", "重要事项"))
TRAITS = ("standard", "diverse", "overfit")


@dataclass(frozen=True)
class LoraConfig:
    r: int
    alpha: int
    learning_rate: str
    weight_decay: str
    dropout: str
    epochs: str
    target: str
    trait: str
    sources: tuple[Source, ...] = (LORA_NOTES,)


def recommend(trait: str) -> LoraConfig:
    """The notes' configuration for `standard` data, more rank for `diverse` data, less for `overfit`."""
    if trait not in TRAITS:
        raise ValueError(f"unknown data trait {trait!r}; expected one of {TRAITS}")
    if trait == "diverse":
        # "最佳配置": the more task types in the data, the higher r; alpha stays 2 × r.
        return LoraConfig(256, 512, "3e-4", "0.01", "0.05", "1", "all", trait)
    if trait == "overfit":
        # Lower r first, more weight decay and dropout; no figures in the notes for the raises.
        return LoraConfig(8, 16, "3e-4", "> 0.01", "> 0.05", "1", "all", trait)
    # "推荐这个配置,效果稍微好一些": r=16, alpha=32 (r=8/alpha=16 is the baseline).
    return LoraConfig(16, 32, "3e-4", "0.01", "0.05", "1", "all", trait)


def render(config: LoraConfig, lang: Lang) -> str:
    c = config
    if lang == "zh":
        head = {
            "standard": "LoRA 推荐配置（常规数据）：",
            "diverse": "LoRA 推荐配置（数据类型多样）：数据类型越多样，需要越高的秩 r。",
            "overfit": "LoRA 推荐配置（已出现过拟合）：先降低 r 或增加数据量，再提高权重衰减和 LoRA dropout。",
        }[c.trait]
        decay = "提高（默认 0.01，笔记未给具体值）" if c.trait == "overfit" else c.weight_decay
        dropout = "提高（默认 0.05，笔记未给具体值）" if c.trait == "overfit" else c.dropout
        lines = [
            head,
            f"- r = {c.r}，alpha = {c.alpha}（alpha 推荐为 r 的两倍）",
            f"- learning_rate = {c.learning_rate}（AdamW），weight_decay = {decay}",
            f"- lora_dropout = {dropout}",
            f"- epoch = {c.epochs}（静态数据集多个 epoch 可能导致过拟合，可试 2 个对比）",
            "- 目标层：应用于所有线性层，而不仅仅是 key 和 value 矩阵",
            "- 优化器：推荐 AdamW（SGD 省内存但不推荐：lr 0.1，动量 0.9）",
            "较高的 r 表达能力更强但更易过拟合，较低的 r 减少过拟合但降低表达能力。这是经验配置，最终以验证集效果为准。",
        ]
    else:
        head = {
            "standard": "Recommended LoRA settings (ordinary data):",
            "diverse": "Recommended LoRA settings (diverse data): the more varied the data, the higher the rank r.",
            "overfit": "Recommended LoRA settings (the model overfits): lower r or add data first, then raise "
            "weight decay and LoRA dropout.",
        }[c.trait]
        decay = "raise it (from 0.01; the notes give no figure)" if c.trait == "overfit" else c.weight_decay
        dropout = "raise it (from 0.05; the notes give no figure)" if c.trait == "overfit" else c.dropout
        lines = [
            head,
            f"- r = {c.r}, alpha = {c.alpha} (alpha is recommended at twice r)",
            f"- learning_rate = {c.learning_rate} (AdamW), weight_decay = {decay}",
            f"- lora_dropout = {dropout}",
            f"- epochs = {c.epochs} (on a static dataset more epochs can overfit; try 2 to compare)",
            "- target layers: all linear layers, not only the key and value matrices",
            "- optimizer: AdamW (SGD saves memory but is not recommended: lr 0.1, momentum 0.9)",
            "A higher r is more expressive but overfits more easily; a lower r overfits less but expresses less. "
            "A rule of thumb: validate on held-out data.",
        ]
    return "\n".join([*lines, sources_line(c.sources, lang)])
