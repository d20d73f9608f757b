"""A figure the notes report for the size and use asked about comes before the rule of thumb."""

from __future__ import annotations

from llm_fallback.answer.figures import reported_figure
from llm_fallback.knowledge.retrieve import Hit

FINETUNE = ("QLoRA:量化将原本用16bit表示的参数，降为用4bit来表示。65B的LLaMA 的微调要780GB的GPU内存；"
            "而用了QLoRA之后，只需要48GB")
FP16 = "推理所需显存约为模型参数量的两倍，Llama 2 7B（70 亿）对应需要约 14GB 显存以进行推理。"


class Notes:
    def __init__(self, *texts: str, relevant: bool = True) -> None:
        self.hits = [Hit("n.md", "h", 1, 2, text, 1.0, 0.9, relevant) for text in texts]

    def search(self, question: str, k: int = 5) -> list[Hit]:
        return self.hits[:k]


def test_the_figure_for_that_size_and_use_is_found_across_two_sentences() -> None:
    found = reported_figure("65B LLaMA QLoRA 要多少显存", 65, ("qlora",), Notes(FP16, FINETUNE))
    assert found is not None
    assert found.sentence == "65B的LLaMA 的微调要780GB的GPU内存； 而用了QLoRA之后，只需要48GB"


def test_another_size_or_use_or_an_irrelevant_passage_reports_nothing() -> None:
    assert reported_figure("70B 推理要多少显存", 70, ("推理",), Notes(FP16)) is None  # 7B is not 70B
    assert reported_figure("7B LoRA 要多少显存", 7, ("lora",), Notes(FP16)) is None
    assert reported_figure("7B 推理要多少显存", 7, ("推理",), Notes(FP16, relevant=False)) is None
    found = reported_figure("7B 推理要多少显存", 7, ("推理",), Notes(FP16))
    assert found is not None and found.sentence.endswith("14GB 显存以进行推理。")
