# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Generation and training parameters: the notes' explanation, condensed, with typical values."""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, Source, sources_line

GENERATION = Source("llm-basic-concepts.md", ("大模型基本概念", "推理/生成参数"))
TRAINING = Source("llm-basic-concepts.md", ("大模型基本概念", "训练参数"))
LORA_NOTES = Source("llm-basic-concepts.md", ("LORA微调", "重要事项"))


@dataclass(frozen=True)
class Param:
    zh: str
    en: str
    typical_zh: str
    typical_en: str
    sources: tuple[Source, ...]


PARAMS: dict[str, Param] = {
    "temperature": Param(
        "值越小输出越确定，调高则更随机、更多样、更有创造性。",
        "Lower values make the output more deterministic; higher values make it more random, varied and creative.",
        "一般设在 0～1 之间；temperature=1 表示不使用此方式。和 top_p 改变一个就行，不用都调。",
        "Usually between 0 and 1; temperature=1 means it is not applied. Tune either it or top_p, not both.",
        (GENERATION,),
    ),
    "top_p": Param(
        "核采样：只在累计概率前 p 的 token 中抽样。top_p 高（如 0.9）考虑前 90% 概率的 token，更多样；"
        "低（如 0.1）只考虑前 10%，更确定、集中。",
        "Nucleus sampling: sample only from the tokens making up the top p of the probability mass. High (0.9) "
        "keeps the top 90% and is more varied; low (0.1) keeps the top 10% and is more focused.",
        "一般设在 0～1 之间；top_p=1 表示不使用此方式。和 temperature 改变一个就行，不用都调。",
        "Usually between 0 and 1; top_p=1 means it is not applied. Change either top_p or temperature, "
        "one is enough, not both.",
        (GENERATION,),
    ),
    "top_k": Param(
        "生成下一个 token 时只考虑概率最高的前 k 个，降低无意义或重复输出的概率，也提高生成速度和效率。",
        "When generating the next token, only the k most likely tokens are considered; this lowers the chance "
        "of meaningless or repetitive output and speeds generation up.",
        "笔记列为常用参数之一（未给具体值；Hugging Face 默认 50）；需 do_sample=True 才生效。",
        "One of the commonly used parameters in the notes (no value given there; Hugging Face defaults to 50); it "
        "only applies with do_sample=True.",
        (GENERATION,),
    ),
    "repetition_penalty": Param(
        "重复惩罚：对已经生成过的 token 再次生成时降低其概率（概率 × 1/repetition_penalty），减少重复。",
        "Repetition penalty: lowers the probability of tokens already generated (probability × "
        "1/repetition_penalty) to reduce repetition.",
        "一般大于 1；repetition_penalty=1 时表示不进行惩罚。",
        "Usually above 1; repetition_penalty=1 means no penalty.",
        (GENERATION,),
    ),
    "no_repeat_ngram_size": Param(
        "设为大于 0 的整数 n 时，生成文本中不会出现重复的 n-gram（n 个连续 token），原理类似 repetition_penalty。",
        "Set to an integer n > 0, no n-gram (n consecutive tokens) is repeated in the output; works like "
        "repetition_penalty on n tokens.",
        "默认不设置。",
        "Not set by default.",
        (GENERATION,),
    ),
    "do_sample": Param(
        "是否对模型输出的概率做多项式采样。do_sample=False 不采样（贪心/束搜索）；在 Hugging Face 中只有 "
        "do_sample=True 时 temperature、top_k、top_p 才能设置。",
        "Whether to draw the next token by multinomial sampling. do_sample=False means no sampling (greedy or "
        "beam search); in Hugging Face temperature, top_k and top_p only take effect with do_sample=True.",
        "要多样化输出设 True；要确定性输出设 False。",
        "True for varied output, False for deterministic output.",
        (GENERATION,),
    ),
    "num_beams": Param(
        "束搜索的束宽：每个生成步保留概率最高的前 k 个候选序列，可增加多样性或生成多个候选。",
        "Beam width for beam search: each step keeps the k most likely candidate sequences, to explore more "
        "options or return several results.",
        "默认 1（不做束搜索）；束宽越大计算越慢，资源有限时慎用。",
        "Default 1 (no beam search); larger beams cost much more compute, be careful on small devices.",
        (GENERATION,),
    ),
    "num_beam_groups": Param(
        "分组束搜索：把 num_beams 分成若干组，组内可以相似，组与组之间要有足够的多样性。",
        "Group beam search: splits num_beams into groups; beams within a group may be similar, groups must "
        "differ from each other.",
        "例如 num_beams=2、num_beam_groups=2 即分成 2 组；num_beams 要能被它整除。",
        "E.g. num_beams=2 with num_beam_groups=2 makes 2 groups; num_beams must be divisible by it.",
        (GENERATION,),
    ),
    "diversity_penalty": Param(
        "多样性惩罚：只在启用 num_beam_groups（组束搜索）时有效，惩罚组间相似，使每组生成的内容尽可能不同。",
        "Only effective with num_beam_groups (group beam search): penalises similarity between groups so each "
        "group generates different content.",
        "默认 0（不惩罚）；配合 num_beam_groups 使用。",
        "Default 0 (no penalty); use it together with num_beam_groups.",
        (GENERATION,),
    ),
    "length_penalty": Param(
        "束搜索中对序列长度的惩罚：>1.0 惩罚长序列、鼓励更短输出；<1.0 鼓励更长输出。",
        "Length penalty in beam search: > 1.0 penalises longer sequences (shorter output); < 1.0 favours "
        "longer output.",
        "默认 1，不受惩罚。",
        "Default 1, no penalty.",
        (GENERATION,),
    ),
    "use_cache": Param(
        "为 True 时缓存之前计算的注意力 key/value（KV cache），生成下一个 token 时复用而不重复计算，提高生成速度。",
        "When True the model caches the attention keys/values computed so far (KV cache) and reuses them for "
        "the next token instead of recomputing, which speeds up generation.",
        "推理时一般保持 True（多占一些显存换速度）。",
        "Keep it True for inference (a little more memory for much more speed).",
        (GENERATION,),
    ),
    "max_new_tokens": Param(
        "生成的最大 token 数，不计输入 prompt 的 token。",
        "The maximum number of tokens to generate, not counting the prompt.",
        "笔记列为最常用参数；默认无设置，按回答长度需要设置。",
        "The most commonly used parameter in the notes; not set by default, set it to the answer length you need.",
        (GENERATION,),
    ),
    "max_length": Param(
        "生成的 token 最大长度 = 输入 prompt 长度 + max_new_tokens；同时设置 max_new_tokens 时会被覆盖。",
        "Maximum total length = prompt length + max_new_tokens; max_new_tokens overrides it when both are set.",
        "默认 20；一般改用 max_new_tokens。",
        "Default 20; prefer max_new_tokens.",
        (GENERATION,),
    ),
    "min_new_tokens": Param(
        "生成的最小 token 数，不计输入 prompt 的 token。",
        "The minimum number of tokens to generate, not counting the prompt.",
        "默认无设置。",
        "Not set by default.",
        (GENERATION,),
    ),
    "min_length": Param(
        "生成的 token 最小长度 = 输入 prompt 长度 + min_new_tokens；同时设置 min_new_tokens 时会被覆盖。",
        "Minimum total length = prompt length + min_new_tokens; min_new_tokens overrides it when both are set.",
        "默认 0。",
        "Default 0.",
        (GENERATION,),
    ),
    "early_stopping": Param(
        "束搜索的停止条件：True 在出现 num_beams 个完整候选时停止；False 在很难找到更好候选时按启发式停止；"
        "never 只有不可能找到更好候选时才停止（经典束搜索）。",
        "Stop condition for beam search: True stops once num_beams complete candidates exist; False stops "
        "heuristically when better candidates are unlikely; never stops only when none can be better "
        "(classic beam search).",
        "默认 False。",
        "Default False.",
        (GENERATION,),
    ),
    "num_return_sequences": Param(
        "返回的不同文本序列数量，要和束搜索的 num_beams 一致。",
        "How many different sequences to return; must be consistent with num_beams in beam search.",
        "默认 1。",
        "Default 1.",
        (GENERATION,),
    ),
    "stop_sequences": Param(
        "停止序列：一个特定的词、短语、符号或标记（如 <|endoftext|>），模型生成遇到它就终止。",
        "Stop sequences: a specific word, phrase, symbol or token (e.g. <|endoftext|>); generation ends when "
        "the model produces it.",
        "笔记列为常用参数之一；按模型的结束标记或输出格式设置。",
        "One of the commonly used parameters in the notes; set to the model's end token or your output format.",
        (GENERATION,),
    ),
    "batch_size": Param(
        "每个训练步使用的样本数。小批量有正则化效果、更稳定但更慢；大批量利用 GPU 并行更快，但更耗显存、梯度估计可能不够准。",
        "Samples per training step. Small batches regularise and are more stable but slower; large batches "
        "use GPU parallelism and are faster but need more memory and give rougher gradient estimates.",
        "一般推荐 32；可以不断增大直到显存溢出（OOM），找到硬件能承受的最大值。",
        "32 is the usual recommendation; increase it until the GPU runs out of memory to find your hardware's "
        "maximum.",
        (TRAINING,),
    ),
    "learning_rate": Param(
        "学习率：太低收敛慢甚至停滞，太高会快速收敛到次优解或在最优点附近振荡。",
        "Learning rate: too low converges slowly or stalls; too high converges to a poor solution or "
        "oscillates around the optimum.",
        "较理想的范围在 1e-6 到 1e-3 之间，通常围绕 1e-4 搜索（如 1e-3、5e-4、1e-4、5e-5、1e-5）；LoRA 用 AdamW 推荐 3e-4。",
        "Good values lie between 1e-6 and 1e-3; search around 1e-4 (e.g. 1e-3, 5e-4, 1e-4, 5e-5, 1e-5); "
        "for LoRA with AdamW the notes recommend 3e-4.",
        (TRAINING, LORA_NOTES),
    ),
    "lr_scheduler_type": Param(
        "学习率调度器：按预定方案在训练中调整学习率，避免早期陷入局部最小值或在接近最优解时跳过最小值。",
        "Learning rate scheduler: changes the learning rate during training by a fixed plan, to avoid getting "
        "stuck early or overshooting near the optimum.",
        "推荐使用含预热的线性调度器 linear。",
        "The notes recommend linear with warm-up.",
        (TRAINING,),
    ),
    "warmup_ratio": Param(
        "预热比例：训练开始的这部分步数里学习率从小逐渐升到设定值，比设定具体预热步数更常用。",
        "Warm-up ratio: the share of training steps during which the learning rate ramps up to its set value; "
        "more common than a fixed number of warm-up steps.",
        "0.1 是不错的起点（例如共 10,000 步时前 1,000 步预热）。",
        "0.1 is a good start (e.g. the first 1,000 of 10,000 steps).",
        (TRAINING,),
    ),
    "weight_decay": Param(
        "权重衰减：鼓励模型保持较小的权重，起正则化作用，避免模型过于复杂。",
        "Weight decay: keeps weights small as a regulariser against overly complex models.",
        "默认通常为 0；出现过拟合（训练损失快速下降而验证损失上升）时再调大；LoRA 用 AdamW 推荐 0.01。",
        "Usually 0 by default; raise it when the model overfits (training loss drops while validation loss "
        "rises); for LoRA with AdamW the notes recommend 0.01.",
        (TRAINING, LORA_NOTES),
    ),
    "optim": Param(
        "优化器。",
        "The optimizer.",
        '推荐 AdamW，例如 optim="adamw_8bit"。',
        'AdamW is recommended, e.g. optim="adamw_8bit".',
        (TRAINING,),
    ),
    "bf16": Param(
        "bf16 和 fp16 都是 16 位浮点，区别在指数位和尾数位的分配：bfloat16 数值范围更广而精度损失不明显，"
        "更适合高速、省显存的训练，但只受安培（Ampere）一代或更新的 GPU 支持。",
        "bf16 and fp16 are both 16-bit floats that split exponent and mantissa bits differently: bfloat16 "
        "covers a wider range without noticeable precision loss, so it trains fast and memory-efficiently, "
        "but only Ampere-generation or newer GPUs support it.",
        "GPU 支持 bf16 就优先用 bf16，否则用 fp16；若训练中溢出（loss 变成 0.0 或 NaN）回退到 fp32。"
        "bf16=torch.cuda.is_bf16_supported()，fp16=not torch.cuda.is_bf16_supported()。",
        "Use bf16 when the GPU supports it, otherwise fp16; fall back to fp32 if training overflows (loss "
        "jumps to 0.0 or NaN). bf16=torch.cuda.is_bf16_supported(), fp16=not torch.cuda.is_bf16_supported().",
        (TRAINING,),
    ),
    "epoch": Param(
        "一个 epoch 是对训练集完整的一次迭代。",
        "One epoch is one complete pass over the training set.",
        "对静态数据集，多个 epoch 可能让性能下降（过拟合）；微调一般只设置 1 个 epoch，可以试 2 个看效果。",
        "On a static dataset several epochs can hurt (overfitting); fine-tuning usually needs just 1 epoch, "
        "try 2 to compare.",
        (TRAINING, LORA_NOTES),
    ),
}


def explain(name: str, lang: Lang) -> str:
    """The explanation of parameter `name` (a key of PARAMS) in `lang`."""
    if name not in PARAMS:
        raise KeyError(f"unknown parameter {name!r}")
    param = PARAMS[name]
    if lang == "zh":
        text = f"{name}：{param.zh}\n典型取值：{param.typical_zh}"
    else:
        text = f"{name}: {param.en}\nTypical values: {param.typical_en}"
    return f"{text}\n{sources_line(param.sources, lang)}"
