# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Answer first: what a skill assumes when a request leaves something out, said in the answer.

A form asks only for what no default can stand in for (a model's size). Everything else has the
default the notes' own examples use: inference in fp16, no quality loss, ordinary data, one GPU.
The answer says which defaults it took, and offers buttons that ask again with another choice;
a button's payload is a plain request in the user's language, so it goes through NLU like typed text
and works the same on every channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, pick

VRAM_MODE = "inference"
VRAM_PRECISION = "fp16"
QUANT_TOLERANCE = "none"
LORA_TRAIT = "standard"
ENGINE_HARDWARE = "single_gpu"


def engine_goal(hardware: str) -> str:
    """On a CPU the notes' pick is about ease (Ollama); on GPUs about throughput (vLLM)."""
    return "simple" if hardware == "cpu" else "throughput"


@dataclass(frozen=True)
class Assumed:
    note: str  # the sentence that states the defaults taken
    options: tuple[tuple[str, str], ...]  # (button title, the request it sends)

    def buttons(self) -> list[dict[str, str]]:
        return [{"title": title, "payload": payload} for title, payload in self.options]


def vram(size: str, mode_given: bool, precision_given: bool, lang: Lang) -> Assumed | None:
    """Memory: the use defaults to inference, the precision (for inference) to fp16."""
    if mode_given and precision_given:
        return None
    if not mode_given:
        fp16 = not precision_given
        note = pick(lang, f"（没说用途，按推理{'、fp16' if fp16 else ''}估算；微调请点下面的按钮。）",
                    f"(You didn't say what it is for, so this assumes inference{' in fp16' if fp16 else ''}; "
                    "for fine-tuning pick a button.)")
        modes = (("LoRA 微调", "LoRA", "LoRA fine-tuning"), ("QLoRA 微调", "QLoRA", "QLoRA fine-tuning"),
                 ("全量微调", "Full fine-tuning", "full fine-tuning"))
        options = tuple(
            (zh, f"{size} 模型 {zh}要多少显存") if lang == "zh" else (title, f"How much VRAM for {phrase} a {size} model?")
            for zh, title, phrase in modes
        )
        return Assumed(note, options)
    note = pick(lang, "（没说精度，按 fp16 估算；其他精度请点下面的按钮。）",
                "(You didn't say which precision, so this assumes fp16; pick a button for another.)")
    options = tuple(
        (p, f"{size} 模型 {p} 推理要多少显存") if lang == "zh" else (p, f"How much VRAM for {p} inference of a {size} model?")
        for p in ("int8", "int4", "fp32")
    )
    return Assumed(note, options)


def quant(size: str, tolerance_given: bool, lang: Lang) -> Assumed | None:
    """Quantisation: the tolerance defaults to no loss at all."""
    if tolerance_given:
        return None
    return Assumed(
        pick(lang, "（没说能接受多少损失，按不接受任何损失给出。）", "(You didn't say how much loss is acceptable, so this assumes none.)"),
        ((pick(lang, "能接受 2-3% 损失", "A 2-3% loss is fine"),
          pick(lang, f"{size} 模型能接受 2-3% 的损失，用几 bit 量化", f"{size} model, a 2-3% loss is acceptable: which bit width?")),),
    )


def lora(trait_given: bool, lang: Lang) -> Assumed | None:
    """LoRA settings: the data defaults to ordinary data."""
    if trait_given:
        return None
    return Assumed(
        pick(lang, "（没说数据情况，按常规数据给出。）", "(You didn't describe the data, so this assumes ordinary data.)"),
        ((pick(lang, "数据类型多样", "Diverse data"), pick(lang, "数据类型多样，LoRA 怎么配置", "LoRA settings for diverse data")),
         (pick(lang, "已经过拟合", "The model overfits"), pick(lang, "LoRA 过拟合了怎么配置", "LoRA settings when the model overfits"))),
    )


def engine(hardware_given: bool, goal_given: bool, lang: Lang) -> Assumed | None:
    """Inference engine: the hardware defaults to one GPU, the goal follows the hardware."""
    if hardware_given and goal_given:
        return None
    if not hardware_given:
        note = pick(lang, "（没说硬件，按单张 GPU 给出。）", "(You didn't say which hardware, so this assumes one GPU.)")
    else:
        note = pick(lang, "（没说更看重什么，按笔记对这种硬件的首选给出。）", "(You didn't say what matters more, so this follows the notes' first pick for that hardware.)")
    options = (
        (pick(lang, "只有 CPU", "CPU only"), pick(lang, "只有 CPU，用什么推理引擎", "Which inference engine on CPU only?")),
        (pick(lang, "多张 GPU", "Several GPUs"), pick(lang, "多张 GPU 追求吞吐，用什么推理引擎", "Which inference engine for several GPUs and high throughput?")),
        (pick(lang, "单卡图省事", "One GPU, simplest"), pick(lang, "单卡图省事，用什么推理引擎", "Which inference engine is simplest on one GPU?")),
    )
    return Assumed(note, options)
