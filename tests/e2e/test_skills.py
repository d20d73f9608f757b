"""Task skills: exact figures from the notes' rules, normalisation, form validation, thin actions."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.skills import engines, lora, normalize, params, quant, vram
from actions.skills.asks import ASK_ACTIONS, QUESTIONS
from actions.skills.common import SKILL_SLOTS, Source
from actions.skills.forms import ValidateParamForm, ValidateQuantForm, ValidateVramForm
from actions.skills.skill_actions import (
    ActionCancelSkill,
    ActionEstimateVram,
    ActionExplainParameter,
    ActionInferenceEngine,
    ActionLoraConfig,
    ActionQuantizationAdvice,
)
from llm_fallback.knowledge.ingest import parse_blocks, read_notes
from tests.servers import RasaServer

ROOT = Path(__file__).resolve().parents[2]


# --- GPU memory: the notes' figures exactly, and scaling by size and precision ---------------------


@pytest.mark.parametrize(
    ("billions", "mode", "precision", "low", "high"),
    [
        (1, "inference", "fp16", 2, 2),  # misc-notes: 1B run 2G
        (1, "lora", None, 2.3, 2.3),  # 1B LoRA 2.3G
        (1, "full", None, 12, 12),  # 1B full 12G
        (8, "inference", "fp16", 16, 16),  # 8B: 16G
        (8, "lora", "bf16", 18.4, 18.4),  # 8B LoRA 18.4G
        (8, "full", None, 96, 96),  # 8B full 96G
        (7, "inference", "fp16", 14, 14),  # Llama 2 7B ≈ 14GB
        (6, "inference", "fp16", 12, 12),  # ChatGLM3-6B FP16 ≈ 12G
        (6, "inference", "int4", 3, 4.5),  # ChatGLM3-6B 4bit ≈ 4.5G (weights alone 3G)
        (13, "inference", "fp16", 26, 26),
        (13, "inference", "fp32", 52, 52),
        (70, "inference", "int8", 70, 70),
        (1.5, "inference", "bf16", 3, 3),
        (0.5, "inference", "fp16", 1, 1),
        (7, "qlora", None, 5.6, 7.35),  # 4-bit weights + LoRA's 0.3 G per billion
        (7, "lora", "int4", 5.6, 7.35),  # LoRA on 4-bit weights is QLoRA
        (7, "full", "fp32", 112, 112),
        (7, "full", None, 84, 84),  # llm-note: 7B needs 3 × 28G
    ],
)
def test_vram_figures(billions: float, mode: str, precision: str | None, low: float, high: float) -> None:
    est = vram.estimate(billions, mode, precision)
    assert (est.low_gb, est.high_gb) == pytest.approx((low, high))


def test_vram_answer_names_the_rule_its_limits_and_source() -> None:
    zh = vram.render(vram.estimate(7, "inference", "fp16"), "zh")
    assert zh.startswith("7B 模型 fp16 推理：约需 14 GB 显存")
    assert "经验估算" in zh and "KV cache" in zh and "上下文长度" in zh
    assert (
        zh.splitlines()[-1]
        == "来源：llm-basic-concepts.md › 大模型基本概念 › 训练参数; misc-notes.md › 显卡消耗"
    )
    en = vram.render(vram.estimate(6, "inference", "int4"), "en")
    assert en.startswith("6B model, int4 inference: about 3–4.5 GB")
    assert "rule of thumb" in en and "KV cache" in en and "batch" in en
    assert "llm-note.md › 大模型LLM › Fine-Tune微调 › 微调框架" in en.splitlines()[-1]
    assert "96 GB" in vram.render(vram.estimate(8, "full"), "zh")
    assert "26 GB" in vram.render(vram.estimate(13, "inference", "fp16"), "en")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-3, "inference", "fp16"), "positive"),
        ((7, "train", None), "mode"),
        ((7, "inference", "fp8"), "precision"),
    ],
)
def test_vram_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vram.estimate(*args)


# --- quantization ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billions", "tolerance", "bits"),
    [
        (8, "none", 8),
        (70, "none", 4),
        (8, "small", 4),
        (70, "small", 3),
        (7, "none", 8),
        (13, "small", 4),
        (72, "small", 3),
        (110, "none", 4),
        (1.5, "small", 4),
    ],
)
def test_quantization_bits(billions: float, tolerance: str, bits: int) -> None:
    assert quant.advise(billions, tolerance).bits == bits


def test_quantization_answer() -> None:
    zh = quant.render(quant.advise(8, "none"), "zh")
    assert zh.startswith("8B 模型、不接受任何性能损失：建议 8bit 量化。")
    assert "免费午餐" in zh and zh.endswith("来源：llm-basic-concepts.md › 大模型基本概念 › 模型量化选择")
    en = quant.render(quant.advise(13, "small"), "en")
    assert en.startswith("13B model, accepting a 2–3% loss: quantize to 4-bit.")
    assert "safer 8B line" in en
    with pytest.raises(ValueError):
        quant.advise(8, "huge")


# --- parameters, LoRA, engines ----------------------------------------------------------------------


def test_every_parameter_has_both_languages_and_a_source() -> None:
    assert set(params.PARAMS) == set(normalize.PARAMETER)
    for name in params.PARAMS:
        zh, en = params.explain(name, "zh"), params.explain(name, "en")
        assert zh.startswith(f"{name}：") and "典型取值" in zh and zh.splitlines()[-1].startswith("来源：")
        assert (
            en.startswith(f"{name}: ")
            and "Typical values" in en
            and en.splitlines()[-1].startswith("Source: ")
        )


def test_parameter_answers_carry_the_notes_values() -> None:
    assert "repetition_penalty=1 时表示不进行惩罚" in params.explain("repetition_penalty", "zh")
    assert "either top_p or temperature" in params.explain("top_p", "en")
    assert "Ampere" in params.explain("bf16", "en") and "安培" in params.explain("bf16", "zh")
    assert "1e-6" in params.explain("learning_rate", "en") and "3e-4" in params.explain("learning_rate", "en")
    assert "0.1" in params.explain("warmup_ratio", "zh")
    assert "1 个 epoch" in params.explain("epoch", "zh")
    with pytest.raises(KeyError):
        params.explain("nonsense", "en")


@pytest.mark.parametrize(
    ("trait", "r", "alpha"), [("standard", 16, 32), ("diverse", 256, 512), ("overfit", 8, 16)]
)
def test_lora_config(trait: str, r: int, alpha: int) -> None:
    config = lora.recommend(trait)
    assert (config.r, config.alpha, config.learning_rate) == (r, alpha, "3e-4")
    text = lora.render(config, "en")
    assert f"r = {r}, alpha = {alpha}" in text and "epochs = 1" in text and "all linear layers" in text


@pytest.mark.parametrize(
    ("hardware", "goal", "engine"),
    [
        ("cpu", "simple", "Ollama"),
        ("cpu", "throughput", "llama.cpp"),
        ("single_gpu", "simple", "Ollama"),
        ("single_gpu", "throughput", "vLLM"),
        ("multi_gpu", "throughput", "vLLM"),
        ("multi_gpu", "simple", "vLLM"),
    ],
)
def test_engine_choice(hardware: str, goal: str, engine: str) -> None:
    assert engines.choose(hardware, goal).engine == engine
    assert f"推荐 {engine}" in engines.render(hardware, goal, "zh")


def test_every_cited_section_exists_in_the_notes() -> None:
    headings = {(n.path, b.heading_path) for n in read_notes(ROOT / "notes") for b in parse_blocks(n.text)}
    cited = {
        value
        for module in (vram, quant, params, lora, engines)
        for value in vars(module).values()
        if isinstance(value, Source)
    }
    assert len(cited) >= 10
    assert not [s.label() for s in cited if (s.file, s.heading) not in headings]


# --- normalisation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "billions"),
    [
        ("7B", 7),
        ("7b", 7),
        ("70亿", 7),
        ("7 billion", 7),
        ("1.5B", 1.5),
        ("0.5b", 0.5),
        ("13B", 13),
        ("七十亿", 7),
        ("130亿参数", 13),
        ("500M", 0.5),
        ("Qwen2.5-7B 模型", 7),
        ("8B 模型用 8bit", 8),
        ("1T", 1000),
    ],
)
def test_model_size_normalisation(text: str, billions: float) -> None:
    assert normalize.parse_model_size(text).billions == billions


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-3B", "negative"),
        ("7X", "unit"),
        ("a trillion", "missing"),
        ("", "missing"),
        ("0B", "range"),
        ("90000B", "range"),
        ("fp16", "unit"),
    ],
)
def test_bad_model_sizes(text: str, problem: str) -> None:
    assert normalize.parse_model_size(text) == normalize.SizeParse(None, problem)


def test_bare_number_only_when_asked() -> None:
    assert normalize.parse_model_size("13").billions is None
    assert normalize.parse_model_size("13", bare_number_ok=True).billions == 13
    assert normalize.parse_model_size("-3", bare_number_ok=True).problem == "negative"


@pytest.mark.parametrize(
    ("text", "table", "value"),
    [
        ("半精度", normalize.PRECISION, "fp16"),
        ("4-bit", normalize.PRECISION, "int4"),
        ("INT8", normalize.PRECISION, "int8"),
        ("QLoRA 微调", normalize.TRAIN_MODE, "qlora"),
        ("LoRA", normalize.TRAIN_MODE, "lora"),
        ("全量微调", normalize.TRAIN_MODE, "full"),
        ("推理", normalize.TRAIN_MODE, "inference"),
        ("没有显卡", normalize.HARDWARE, "cpu"),
        ("I have no GPU", normalize.HARDWARE, "cpu"),
        ("多张显卡", normalize.HARDWARE, "multi_gpu"),
        ("单卡 4090", normalize.HARDWARE, "single_gpu"),
        ("可以接受 2-3%", normalize.LOSS_TOLERANCE, "small"),
        ("不想有任何性能损失", normalize.LOSS_TOLERANCE, "none"),
        ("lr_scheduler_type", normalize.PARAMETER, "lr_scheduler_type"),
        ("学习率", normalize.PARAMETER, "learning_rate"),
        ("bf16 和 fp16 应该怎么选", normalize.PARAMETER, "bf16"),
        ("数据很杂", normalize.DATA_TRAIT, "diverse"),
    ],
)
def test_choice_normalisation(text: str, table: dict, value: str) -> None:
    assert normalize.find_value(text, table) == value


def test_unknown_choice_is_none() -> None:
    assert normalize.find_value("truncate", normalize.TRAIN_MODE) is None  # "run" must stand alone
    assert normalize.canonical("fp8", normalize.PRECISION) is None
    assert normalize.canonical("FP16", normalize.PRECISION) == "fp16"


# --- rasa-sdk classes with rasa-sdk's own tracker and dispatcher ------------------------------------


def tracker(
    text: str,
    intent: str,
    slots: dict[str, Any] | None = None,
    requested: str | None = None,
    loop: str | None = None,
    entities: list[dict] | None = None,
) -> Tracker:
    return Tracker(
        sender_id="unit",
        slots={"lang": None, "requested_slot": requested, **dict.fromkeys(SKILL_SLOTS), **(slots or {})},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": loop} if loop else {},
        latest_action_name="action_listen",
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages]


def test_vram_action_answers_from_slots_and_clears_them() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker(
        "fp16", "inform", {"model_size": "7B", "train_mode": "inference", "precision": "fp16", "lang": "en"}
    )
    events = run(ActionEstimateVram().run(dispatcher, t, {}))
    [answer] = texts(dispatcher)
    assert answer.startswith("7B model, fp16 inference: about 14 GB")
    assert events == [SlotSet(slot, None) for slot in SKILL_SLOTS]


def test_vram_action_ignores_precision_for_training_and_answers_in_chinese() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("全量微调", "inform", {"model_size": "8B", "train_mode": "full", "precision": "int4"})
    run(ActionEstimateVram().run(dispatcher, t, {}))
    assert "8B 模型 混合精度 fp16/bf16 全量微调：约需 96 GB 显存" in texts(dispatcher)[0]


def test_a_figure_the_notes_report_for_that_size_and_use_comes_first_with_its_source() -> None:
    """The real index: the notes measured 65B LLaMA with QLoRA; the rule of thumb follows it."""
    dispatcher = CollectingDispatcher()
    slots = {"model_size": "65B", "train_mode": "qlora", "lang": "zh"}
    t = tracker("65B 的 LLaMA 用 QLoRA 微调要多少显存", "estimate_vram", slots)
    run(ActionEstimateVram().run(dispatcher, t, {}))
    [message] = dispatcher.messages
    first, rule = message["text"].split("\n", 2)[:2]
    reported = "笔记里记录的数字：65B的LLaMA 的微调要780GB的GPU内存； 而用了QLoRA之后，只需要48GB"
    assert first.startswith(reported)
    assert "（来源：llm-note.md" in first and rule.startswith("按经验规则估算：65B 模型 int4 QLoRA 微调")
    assert message["route"] == "reported"


def test_skill_actions_in_both_languages() -> None:
    cases = [
        (ActionQuantizationAdvice(), {"model_size": "70B", "loss_tolerance": "small"}, "quantize to 3-bit"),
        (ActionLoraConfig(), {"data_trait": "overfit"}, "r = 8, alpha = 16"),
        (ActionInferenceEngine(), {"hardware": "cpu", "goal": "simple"}, "use Ollama"),
        (ActionExplainParameter(), {"parameter": "top_k"}, "top_k: "),
    ]
    for action, slots, expected in cases:
        dispatcher = CollectingDispatcher()
        run(action.run(dispatcher, tracker("ok", "inform", {**slots, "lang": "en"}), {}))
        assert expected in texts(dispatcher)[0], action.name()


def test_parameter_question_inside_another_form_keeps_that_form_slots() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker(
        "what does top_p do?",
        "explain_parameter",
        {"model_size": "14B"},
        "train_mode",
        "vram_form",
        [{"entity": "parameter", "value": "top_p"}],
    )
    events = run(ActionExplainParameter().run(dispatcher, t, {}))
    assert texts(dispatcher)[0].startswith("top_p: Nucleus sampling")
    assert events == [SlotSet("parameter", None)]


@pytest.mark.parametrize(
    ("action", "slots", "answer", "note", "payloads"),
    [
        (ActionEstimateVram(), {"model_size": "7B"}, "7B model, fp16 inference: about 14 GB",
         "assumes inference in fp16", ["How much VRAM for LoRA fine-tuning a 7B model?",
                                       "How much VRAM for QLoRA fine-tuning a 7B model?",
                                       "How much VRAM for full fine-tuning a 7B model?"]),
        (ActionEstimateVram(), {"model_size": "7B", "train_mode": "inference"}, "7B model, fp16 inference",
         "assumes fp16", ["How much VRAM for int8 inference of a 7B model?",
                          "How much VRAM for int4 inference of a 7B model?",
                          "How much VRAM for fp32 inference of a 7B model?"]),
        (ActionQuantizationAdvice(), {"model_size": "70B"},
         "70B model, no performance loss: quantize to 4-bit",
         "assumes none", ["70B model, a 2-3% loss is acceptable: which bit width?"]),
        (ActionLoraConfig(), {}, "Recommended LoRA settings (ordinary data)", "assumes ordinary data",
         ["LoRA settings for diverse data", "LoRA settings when the model overfits"]),
        (ActionInferenceEngine(), {"hardware": "cpu"}, "CPU only, simplicity first: use Ollama",
         "follows the notes' first pick", ["Which inference engine on CPU only?",
                                           "Which inference engine for several GPUs and high throughput?",
                                           "Which inference engine is simplest on one GPU?"]),
    ],
)
def test_a_skill_answers_at_once_and_states_the_defaults_it_took(
    action: Any, slots: dict, answer: str, note: str, payloads: list[str]
) -> None:
    dispatcher = CollectingDispatcher()
    run(action.run(dispatcher, tracker("?", "inform", {**slots, "lang": "en"}), {}))
    [message] = dispatcher.messages
    assert message["text"].startswith(answer) and note in message["text"].splitlines()[-1], message["text"]
    assert [b["payload"] for b in message["buttons"]] == payloads


def test_a_skill_that_cannot_answer_hands_the_message_to_the_notes() -> None:
    """No parameter the skill knows: not "which parameter?", not "information missing", but the notes'
    answer (the real pipeline: index, model), recorded as a notes route."""
    dispatcher = CollectingDispatcher()
    t = tracker("生成的时候 beam 的组数怎么设", "explain_parameter")
    run(ActionExplainParameter().run(dispatcher, t, {}))
    [message] = dispatcher.messages
    assert message.get("route") in ("answer", "extractive", "faq", "not_covered"), message
    assert "信息不全" not in message["text"] and "哪个参数" not in message["text"]


def test_nothing_assumed_when_everything_is_named() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"model_size": "13B", "train_mode": "lora", "lang": "zh"}
    run(ActionEstimateVram().run(dispatcher, tracker("13B LoRA", "inform", slots), {}))
    [message] = dispatcher.messages
    assert message["text"].startswith("13B 模型 fp16 LoRA 微调：约需 29.9 GB 显存") and not message["buttons"]
    assert "没说" not in message["text"]


def test_cancel_is_polite_and_forgets() -> None:
    dispatcher = CollectingDispatcher()
    events = run(ActionCancelSkill().run(dispatcher, tracker("cancel", "cancel", {"model_size": "7B"}), {}))
    assert texts(dispatcher)[0].startswith("Okay, cancelled.")
    assert SlotSet("model_size", None) in events


DOMAIN = {
    "forms": {
        "vram_form": {"required_slots": ["model_size", "train_mode", "precision"]},
        "quant_form": {"required_slots": ["model_size", "loss_tolerance"]},
        "param_form": {"required_slots": ["parameter"]},
    },
    "slots": {},
}


def validate(form: Any, t: Tracker) -> tuple[list, list[str]]:
    dispatcher = CollectingDispatcher()
    events = run(form.run(dispatcher, t, DOMAIN))
    return events, texts(dispatcher)


@pytest.mark.parametrize(
    ("text", "error_start"),
    [
        ("-3B", "模型大小不能是负数"),
        ("7X", "没看懂这个单位"),
        ("很大很大的模型", "没看懂模型大小"),
        ("", "没看懂模型大小"),
    ],
)
def test_bad_size_is_asked_again_with_a_clear_error(text: str, error_start: str) -> None:
    events, said = validate(
        ValidateVramForm(), tracker(text, "inform", {"lang": "zh"}, "model_size", "vram_form")
    )
    assert said and said[0].startswith(error_start)
    # The slot stays empty, so the form asks the same question again.
    assert events == [SlotSet("model_size", None), SlotSet("requested_slot", "model_size")]


def test_bad_english_size() -> None:
    _, said = validate(
        ValidateVramForm(), tracker("a trillion", "out_of_scope", {"lang": "en"}, "model_size", "vram_form")
    )
    assert said == [
        "I couldn't read a model size. Please give the parameter count, e.g. 7B, 1.5B, 70亿 or 13 billion."
    ]


def test_answer_normalised_and_next_question_chosen() -> None:
    events, said = validate(ValidateVramForm(), tracker("70亿", "inform", {}, "model_size", "vram_form"))
    assert said == []
    # The size is all the form asks: the use and precision take their stated defaults.
    assert events == [SlotSet("model_size", "7B"), SlotSet("requested_slot", None)]


def test_everything_up_front_needs_no_question() -> None:
    t = tracker("7B 模型 fp16 推理要多少显存", "estimate_vram", {}, None, "vram_form")
    events, said = validate(ValidateVramForm(), t)
    assert said == []
    for expected in (
        SlotSet("model_size", "7B"),
        SlotSet("train_mode", "inference"),
        SlotSet("precision", "fp16"),
    ):
        assert expected in events


def test_training_needs_no_precision_question() -> None:
    t = tracker("8B 模型全量微调要多少显存？", "estimate_vram", {}, None, "vram_form")
    events, _ = validate(ValidateVramForm(), t)
    assert SlotSet("train_mode", "full") in events and SlotSet("requested_slot", None) in events


@pytest.mark.parametrize(("text", "intent"), [
    ("推理时 use_cache 有什么用", "explain_parameter"),
    # Whatever NLU makes of a question, it is no size: the form lets the rules answer it.
    ("top_p 是什么意思", "nlu_fallback"),
    ("top_p 是什么意思", "out_of_scope"),
    ("what does top_p do?", "inform"),
])
def test_a_question_mid_form_is_not_read_as_an_answer(text: str, intent: str) -> None:
    t = tracker(text, intent, {}, "model_size", "vram_form")
    events, said = validate(ValidateVramForm(), t)
    assert said == [] and not [e for e in events if e.get("name") != "requested_slot"]


def test_quant_tolerance_from_wording_and_no_question_for_a_parameter() -> None:
    t = tracker("8B 模型掉两三个点可以接受，用几 bit", "quantization_advice", {}, None, "quant_form")
    events, _ = validate(ValidateQuantForm(), t)
    assert SlotSet("loss_tolerance", "small") in events and SlotSet("requested_slot", None) in events
    # A request naming no parameter the skill knows is not asked "which parameter?": the action
    # hands it to the notes (test_a_skill_that_cannot_answer_hands_the_message_to_the_notes).
    events, said = validate(
        ValidateParamForm(),
        tracker("foo_bar_size 是什么", "explain_parameter", {"lang": "en"}, None, "param_form"),
    )
    assert said == [] and events == [SlotSet("requested_slot", None)]


def test_every_question_has_buttons_in_both_languages_where_choices_are_fixed() -> None:
    assert len(ASK_ACTIONS) == len(QUESTIONS)
    for cls in ASK_ACTIONS:
        dispatcher = CollectingDispatcher()
        run(cls().run(dispatcher, tracker("hi", "greet", {"lang": "en"}), {}))
        [message] = dispatcher.messages
        assert message["text"] == QUESTIONS[cls().name()].en
        payloads = [b["payload"] for b in message["buttons"]]
        assert payloads and all(p.startswith('/inform{"') for p in payloads)


# --- end to end: the real Rasa server, the real action server, the trained model --------------------


def sender() -> str:
    return f"skills-{uuid.uuid4().hex[:8]}"


@pytest.mark.servers
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("7B 模型 fp16 推理要多少显存", "约需 14 GB 显存"),
        ("How much VRAM does a 13B model need for FP16 inference?", "about 26 GB"),
        ("8B 模型全量微调要多少显存？", "约需 96 GB 显存"),
        ("8B 的模型不想有任何性能损失，用几 bit 量化？", "建议 8bit 量化"),
        ("repetition_penalty 等于 1 代表什么？", "不进行惩罚"),
        ("多卡部署追求高吞吐用什么推理引擎", "推荐 vLLM"),
    ],
)
def test_entities_up_front_get_the_answer_at_once(rasa: RasaServer, message: str, expected: str) -> None:
    replies = rasa.texts(sender(), message)
    assert len(replies) == 1 and expected in replies[0], replies
    assert "来源" in replies[0] or "Source" in replies[0]


@pytest.mark.servers
def test_only_the_size_is_asked_and_the_answer_offers_the_other_cases(rasa: RasaServer) -> None:
    user = sender()
    [question] = rasa.send(user, "How much VRAM would I need?")
    assert question["text"] == QUESTIONS["action_ask_vram_form_model_size"].en
    [error, again] = [m["text"] for m in rasa.send(user, "7X")]
    assert error.startswith("I don't know that unit") and again == question["text"]
    [answer] = rasa.send(user, "13B")
    assert answer["text"].startswith("13B model, fp16 inference: about 26 GB"), answer["text"]
    assert "assumes inference in fp16" in answer["text"]
    assert [b["title"] for b in answer["buttons"]] == ["LoRA", "QLoRA", "Full fine-tuning"]
    [lora] = rasa.texts(user, answer["buttons"][0]["payload"])  # clicking "LoRA"
    assert lora.startswith("13B model, fp16 LoRA fine-tuning: about 29.9 GB"), lora


@pytest.mark.servers
def test_a_question_mid_form_is_answered_and_the_form_lets_go(rasa: RasaServer) -> None:
    user = sender()
    [question] = rasa.texts(user, "要多少显存才能跑大模型")
    assert question == QUESTIONS["action_ask_vram_form_model_size"].zh
    # The parameter's skill or the notes (answer, then its sources) may answer it: NLU decides. Either
    # way it is answered and the form's question is not asked again.
    answer = "\n".join(rasa.texts(user, "top_p 是什么意思"))
    assert "top_p" in answer and "模型有多少参数" not in answer
    assert rasa.tracker(user)["active_loop"] in ({}, None, {"name": None})


@pytest.mark.servers
def test_cancel_leaves_the_form_politely(rasa: RasaServer) -> None:
    user = sender()
    rasa.send(user, "要多少显存")
    assert rasa.texts(user, "算了") == ["好的，已取消。需要时再问我，比如「7B 模型 fp16 推理要多少显存」。"]
    assert rasa.texts(user, "hello")[0].startswith("Hi!")  # nothing of the form is left
