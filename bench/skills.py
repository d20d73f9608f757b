"""Skill answers end to end through the REST webhook (prints figures; not part of the tests).

    python -m bench.skills [--n 20]

Starts the real action server and Rasa server (tests/servers.py) with the trained model, then asks
skill questions whose entities are all given up front (NLU, dialogue, the form's validation call,
the skill action: no LLM), each from a new sender so no conversation history differs, and prints
median and p95 latency per question and overall. The issue's target is p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from tests.servers import action_server, rasa_server  # noqa: E402

QUESTIONS = [
    "7B 模型 fp16 推理要多少显存",
    "How much VRAM does a 13B model need for FP16 inference?",
    "8B 的模型不想有任何性能损失，用几 bit 量化？",
    "What does top_k control?",
    "模型过拟合了，LoRA 参数怎么调",
    "多卡部署追求高吞吐用什么推理引擎",
]


def ask(url: str, message: str) -> tuple[float, str]:
    start = time.perf_counter()
    reply = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": f"bench-{uuid.uuid4().hex}", "message": message},
        timeout=60,
    )
    elapsed_ms = (time.perf_counter() - start) * 1000
    reply.raise_for_status()
    return elapsed_ms, " ".join(m.get("text", "") for m in reply.json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="rounds over the questions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            action_server(workdir) as actions,
            rasa_server(workdir, actions.url, f"sqlite:///{tmp}/t.db") as rasa,
        ):
            for question in QUESTIONS:  # warm-up: first calls load lazily
                ask(rasa.url, question)
            per_question: dict[str, list[float]] = {q: [] for q in QUESTIONS}
            for _ in range(args.n):
                for question in QUESTIONS:
                    elapsed, text = ask(rasa.url, question)
                    if "来源" not in text and "Source" not in text:
                        print(f"! no skill answer for {question!r}: {text[:80]!r}")
                    per_question[question].append(elapsed)
    everything = [v for values in per_question.values() for v in values]
    for question, values in per_question.items():
        p95 = percentile(values, 0.95)
        print(f"{statistics.median(values):7.1f} ms median {p95:7.1f} ms p95  {question}")
    median, p95 = statistics.median(everything), percentile(everything, 0.95)
    print(f"all {len(everything)} requests: median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
