"""User wording -> canonical slot values: "70亿" -> 7B, "半精度" -> fp16, "多卡" -> multi_gpu.

Rasa's EntitySynonymMapper covers the common spellings; these functions cover the rest (numbers
in any unit, Chinese numerals) and validate what the user typed when a form asks for a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Biggest size accepted: dense models past ~2 trillion parameters are not something the notes'
# rules of thumb (or any single machine) are meant for, and it catches typos like "70000B".
MAX_BILLIONS = 2000.0

_UNITS = {  # multiplier to billions
    "b": 1.0,
    "bn": 1.0,
    "billion": 1.0,
    "billions": 1.0,
    "m": 0.001,
    "million": 0.001,
    "millions": 0.001,
    "t": 1000.0,
    "trillion": 1000.0,
    "trillions": 1000.0,
    "亿": 0.1,
    "十亿": 1.0,
    "百亿": 10.0,
    "千亿": 100.0,
    "万亿": 1000.0,
    "千万": 0.01,
    "百万": 0.001,
}
_UNIT_RE = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
# A number not glued to letters before it (fp16, int4, Qwen2.5 are not sizes), then a unit
# not followed by letters (8bit is a precision, not 8B).
_NUMBER = re.compile(rf"(?<![A-Za-z0-9_.])(\d+(?:\.\d+)?)\s*({_UNIT_RE})?(?![A-Za-z])", re.IGNORECASE)
_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"([零一二两三四五六七八九十百千]+)\s*(十亿|百亿|千亿|万亿|亿)")
_BARE_NUMBER = re.compile(r"^\s*[-−–]?\s*\d+(?:\.\d+)?\s*$")


@dataclass(frozen=True)
class SizeParse:
    """A model size in billions of parameters, or why the text is not one."""

    billions: float | None
    problem: str | None = None  # missing | negative | unit | range


def _cn_to_int(text: str) -> int:
    """Chinese numerals up to the thousands: "七十" -> 70, "一百三十" -> 130, "十三" -> 13."""
    total, digit = 0, 0
    for char in text:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        else:
            scale = {"十": 10, "百": 100, "千": 1000}[char]
            total += (digit or 1) * scale
            digit = 0
    return total + digit


def _negative_before(text: str, start: int) -> bool:
    """A minus sign right before the number that is not a hyphen inside a name (Qwen2.5-7B)."""
    before = text[:start].rstrip()
    if not before or before[-1] not in "-−–":
        return False
    rest = before[:-1]
    return not rest or not rest[-1].isalnum()


def _checked(billions: float, negative: bool = False) -> SizeParse:
    if negative:
        return SizeParse(None, "negative")
    if billions <= 0 or billions > MAX_BILLIONS:
        return SizeParse(None, "range")
    return SizeParse(round(billions, 4))


def parse_model_size(text: str, bare_number_ok: bool = False) -> SizeParse:
    """The first model size in `text`: "7B", "70亿", "7 billion", "1.5b", "500M", "七十亿".

    A bare number ("13") counts only when the form has just asked for the size (`bare_number_ok`).
    """
    text = (text or "").strip()
    if not text:
        return SizeParse(None, "missing")
    for match in _NUMBER.finditer(text):
        if match.group(2):
            value = float(match.group(1)) * _UNITS[match.group(2).lower()]
            return _checked(value, _negative_before(text, match.start()))
    cn = _CN_NUMBER.search(text)
    if cn:
        return _checked(_cn_to_int(cn.group(1)) * _UNITS[cn.group(2)])
    if bare_number_ok and _BARE_NUMBER.match(text):
        number = text.strip().lstrip("-−–").strip()
        return _checked(float(number), text.strip()[0] in "-−–")
    if re.search(r"\d", text):
        return SizeParse(None, "unit")  # a number with a unit we don't know: "7X", "7 GB"
    return SizeParse(None, "missing")


# Canonical value -> spellings. Matching takes the longest spelling found, so "QLoRA" is qlora
# (not lora) and "没有显卡" is cpu (not a GPU).
PRECISION = {
    "fp32": ("fp32", "float32", "32bit", "32-bit", "32 bit", "32位", "全精度", "单精度", "full precision"),
    "fp16": ("fp16", "float16", "16bit", "16-bit", "16 bit", "16位", "半精度", "half precision", "half"),
    "bf16": ("bf16", "bfloat16", "brain float"),
    "int8": ("int8", "8bit", "8-bit", "8 bit", "8位", "8比特", "q8", "q8_0", "八位"),
    "int4": ("int4", "4bit", "4-bit", "4 bit", "4位", "4比特", "q4", "q4_k_m", "nf4", "四位"),
}
TRAIN_MODE = {
    "inference": (
        "推理",
        "inference",
        "部署",
        "运行",
        "加载",
        "跑起来",
        "serve",
        "serving",
        "run",
        "running",
    ),
    "lora": ("lora", "lora 微调", "lora微调", "lora fine-tuning"),
    "qlora": ("qlora", "q-lora"),
    "full": ("全量", "全参", "全参数", "全量微调", "full", "full fine-tuning", "full finetuning",
             "full fine-tune", "fully fine-tune", "fully fine-tuning", "fft"),
}
LOSS_TOLERANCE = {
    "none": (
        "无损",
        "没有损失",
        "不想有任何性能损失",
        "不能有损失",
        "零损失",
        "不损失",
        "不要损失",
        "任何损失",
        "lossless",
        "no loss",
        "without loss",
        "zero loss",
        "zero accuracy loss",
        "no accuracy loss",
        "不掉点",
        "without any loss",
        "no quality loss",
    ),
    "small": (
        "2-3%",
        "2~3%",
        "2%-3%",
        "2～3%",
        "2-3 %",
        "少量损失",
        "一点损失",
        "轻微损失",
        "可以接受损失",
        "掉两三个点",
        "掉几个点",
        "掉一点",
        "能接受",
        "some loss",
        "small loss",
        "a little loss",
        "minor loss",
        "a bit of loss",
    ),
}
HARDWARE = {
    "cpu": (
        "cpu",
        "cpus",
        "cpu only",
        "纯cpu",
        "没有显卡",
        "无显卡",
        "没显卡",
        "没有gpu",
        "no gpu",
        "without a gpu",
        "笔记本",
        "laptop",
    ),
    "single_gpu": (
        "单卡",
        "一张卡",
        "一张显卡",
        "一块显卡",
        "单gpu",
        "单个gpu",
        "single gpu",
        "one gpu",
        "a gpu",
        "显卡",
        "gpu",
        "4090",
        "3090",
    ),
    "multi_gpu": (
        "多卡",
        "多张卡",
        "多张显卡",
        "多块显卡",
        "多gpu",
        "多个gpu",
        "多张 gpu",
        "多块 gpu",
        "multi-gpu",
        "multi gpu",
        "multiple gpus",
        "several gpus",
        "many gpus",
        "两张卡",
        "集群",
        "cluster",
    ),
}
GOAL = {
    "throughput": (
        "吞吐",
        "高吞吐",
        "吞吐量",
        "高并发",
        "并发",
        "性能",
        "throughput",
        "performance",
        "speed",
        "fast",
        "many users",
        "很多用户",
        "速度",
    ),
    "simple": (
        "简单",
        "易用",
        "方便",
        "省事",
        "快速上手",
        "simplicity",
        "simple",
        "easy",
        "easiest",
        "quick setup",
        "本地试用",
        "最省事",
    ),
}
DATA_TRAIT = {
    "standard": (
        "常规",
        "普通",
        "默认",
        "静态",
        "单一",
        "一般",
        "standard",
        "default",
        "static",
        "normal",
        "typical",
        "single task",
    ),
    "diverse": (
        "多样",
        "多样化",
        "多种",
        "多类",
        "很杂",
        "特别杂",
        "比较杂",
        "多任务",
        "diverse",
        "varied",
        "many tasks",
        "lots of tasks",
        "different task types",
        "many task types",
        "任务类型多",
        "各种任务",
        "mixed",
        "multi-task",
        "various",
    ),
    "overfit": ("过拟合", "过度拟合", "overfit", "overfits", "overfitting", "over-fitting"),
}
PARAMETER = {
    "temperature": ("temperature", "温度", "temp"),
    "top_p": ("top_p", "top-p", "topp", "top p", "核采样", "nucleus sampling"),
    "top_k": ("top_k", "top-k", "topk", "top k"),
    "repetition_penalty": ("repetition_penalty", "repetition penalty", "重复惩罚"),
    "no_repeat_ngram_size": ("no_repeat_ngram_size", "no repeat ngram size", "no_repeat_ngram"),
    "do_sample": ("do_sample", "do sample", "多项式采样"),
    "num_beams": ("num_beams", "num beams", "beam search", "束搜索", "束宽"),
    "num_beam_groups": ("num_beam_groups", "beam groups", "组束搜索"),
    "diversity_penalty": ("diversity_penalty", "diversity penalty", "多样性惩罚"),
    "length_penalty": ("length_penalty", "length penalty", "长度惩罚"),
    "use_cache": ("use_cache", "use cache"),
    "max_new_tokens": ("max_new_tokens", "max new tokens", "最大新token数"),
    "max_length": ("max_length", "max length", "最大长度"),
    "min_new_tokens": ("min_new_tokens", "min new tokens"),
    "min_length": ("min_length", "min length", "最小长度"),
    "early_stopping": ("early_stopping", "early stopping", "早停"),
    "num_return_sequences": ("num_return_sequences", "return sequences"),
    "stop_sequences": (
        "stop_sequences",
        "stop sequences",
        "stop sequence",
        "stop words",
        "停止序列",
        "停止词",
    ),
    "batch_size": ("batch_size", "batch size", "batchsize", "批大小", "批次大小"),
    "learning_rate": ("learning_rate", "learning rate", "学习率", "lr"),
    "lr_scheduler_type": (
        "lr_scheduler_type",
        "lr scheduler",
        "learning rate scheduler",
        "学习率调度器",
        "学习率调度",
        "scheduler",
    ),
    "warmup_ratio": ("warmup_ratio", "warmup ratio", "warmup", "预热比率", "预热"),
    "weight_decay": ("weight_decay", "weight decay", "权重衰减"),
    "optim": ("optim", "optimizer", "优化器"),
    "bf16": ("bf16/fp16", "bf16", "fp16", "bfloat16", "float16", "混合精度"),
    "epoch": ("epoch", "epochs", "num_train_epochs", "训练轮数", "轮数"),
}


def _alias_pattern(alias: str) -> re.Pattern[str]:
    # Latin spellings must stand alone ("run" not in "truncate", "lr" not in "lr_scheduler_type"
    # since the longer spelling wins anyway); Chinese ones match anywhere.
    escaped = re.escape(alias).replace(r"\ ", r"\s*")
    head = r"(?<![A-Za-z0-9])" if alias[0].isascii() and alias[0].isalnum() else ""
    tail = r"(?![A-Za-z0-9])" if alias[-1].isascii() and alias[-1].isalnum() else ""
    return re.compile(head + escaped + tail, re.IGNORECASE)


_PATTERNS: dict[int, list[tuple[int, str, re.Pattern[str]]]] = {}


def _patterns(table: dict[str, tuple[str, ...]]) -> list[tuple[int, str, re.Pattern[str]]]:
    """The table's spellings as compiled patterns, longest first; compiled once per table."""
    key = id(table)
    if key not in _PATTERNS:
        entries = [(len(a), value, _alias_pattern(a)) for value, aliases in table.items() for a in aliases]
        _PATTERNS[key] = sorted(entries, key=lambda e: e[0], reverse=True)
    return _PATTERNS[key]


def find_value(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    """The canonical value whose longest spelling occurs in `text`, or None."""
    return next((value for _, value, pattern in _patterns(table) if pattern.search(text or "")), None)


def without_values(text: str, tables: Iterable[dict[str, tuple[str, ...]]]) -> str:
    """`text` with every spelling of the tables' values and every model size taken out."""
    for table in tables:
        for _, _, pattern in _patterns(table):
            text = pattern.sub(" ", text)
    return _NUMBER.sub(" ", text)


def canonical(value: object, table: dict[str, tuple[str, ...]]) -> str | None:
    """An entity or button value -> canonical value; None when it is not one we know."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in table:
        return text.lower()
    return find_value(text, table)


# What each skill computes, as people ask for it: a request that does not ask for it is not the
# skill's, however many of its slots it names ("How much does AWQ 3-bit lose on a 70B model?").
_ASKS_FOR = {
    "estimate_vram": re.compile(
        r"显存|内存|显卡|几张|多少卡|vram|memory|gpu|\d\s*gb?\b|多少\s*g\b", re.IGNORECASE
    ),
    "quantization_advice": re.compile(r"量化|bit|比特|位宽|quantiz", re.IGNORECASE),
    "lora_config": re.compile(
        r"配置|参数|设置|怎么调|怎么配|哪些层|settings?|config|hyperparam|rank|alpha|tune|modules|layers|epochs?",
        re.IGNORECASE
    ),
    "explain_parameter": re.compile(
        r"是什么|什么意思|意思|作用|有什么用|干嘛|影响|解释|问题|会怎样|what (?:is|does)|how does|mean"
        r"|control"
        r"|explain|work|\bdo\b",
        re.IGNORECASE),
    "inference_engine": re.compile(r"引擎|框架|部署|推理|engine|framework|serv|deploy|run", re.IGNORECASE),
}


# A bit width stated in a message ("AWQ 3-bit", "int4", "8位"), and a figure asked for.
_BIT_WIDTH = re.compile(r"\d+\s*-?\s*(?:bits?\b|位|比特)|\b(?:int|fp|bf|nf|q)\d+", re.IGNORECASE)
_ASKS_FIGURE = re.compile(r"多少|几个点|几成|\bhow (?:much|many)\b|\bwhat (?:percentage|fraction)\b",
                          re.IGNORECASE)


def names_request(intent: str, text: str) -> bool:
    """Whether `text` asks for what a skill computes, so the skill keeps it even when it is worded
    beyond the skill's examples (rasa_addons.substance): memory, bit widths, LoRA settings, an
    engine. What it leaves out is asked (a model's size) or takes a stated default. A parameter
    question qualifies when it asks what one parameter means or does: two of them interact, and
    that is the notes' to answer. A quantisation question that states a bit width and asks a figure
    asks what that width costs, not which width to use."""
    asks = _ASKS_FOR.get(intent)
    if asks is None or not asks.search(text):
        return False
    if intent == "explain_parameter":  # what one parameter means or does; two of them interact
        return len({value for _, value, pattern in _patterns(PARAMETER) if pattern.search(text)}) == 1
    # The quantisation rule gives a bit width; given one, "how much does AWQ 3-bit lose?" asks the
    # notes' figure. Otherwise, memory and quantisation: the form asks for a size; the rest takes its
    # stated default.
    return not (intent == "quantization_advice" and _BIT_WIDTH.search(text) and _ASKS_FIGURE.search(text))
