"""Skill answers end to end through the REST webhook (prints figures; not part of the tests).

    python -m bench.skills [--n 20]

Starts the real action server and Rasa server (tests/servers.py) with the trained model, then asks
skill questions whose entities are all given up front (NLU, dialogue, the form's validation call,
the skill action: no LLM), each from a new sender so no conversation history differs, and prints
median and p95 latency per question and overall. The issue's target is p95 <= 150 ms.

It measures twice: Rasa started as plain `rasa run` (the baseline), then as `make run` starts it
(rasa_addons.launch, which checks action server replies with one validator), and prints the ratio.
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
    "Explain the top_k parameter",
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


def measure(rounds: int, stock: bool) -> dict[str, list[float]]:
    """Milliseconds per request for each question, against a fresh pair of servers."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            action_server(workdir) as actions,
            rasa_server(workdir, actions.url, f"sqlite:///{tmp}/t.db", stock=stock) as rasa,
        ):
            for question in QUESTIONS:  # warm-up: first calls load lazily
                ask(rasa.url, question)
            per_question: dict[str, list[float]] = {q: [] for q in QUESTIONS}
            for _ in range(rounds):
                for question in QUESTIONS:
                    elapsed, text = ask(rasa.url, question)
                    if "来源" not in text and "Source" not in text:
                        print(f"! no skill answer for {question!r}: {text[:80]!r}")
                    per_question[question].append(elapsed)
    return per_question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="rounds over the questions")
    args = parser.parse_args()
    overall = {}
    for label, stock in (("stock `rasa run`", True), ("rasa_addons.launch (as make run)", False)):
        per_question = measure(args.n, stock)
        print(label)
        for question, values in per_question.items():
            p95 = percentile(values, 0.95)
            print(f"  {statistics.median(values):7.1f} ms median {p95:7.1f} ms p95  {question}")
        everything = [v for values in per_question.values() for v in values]
        median, p95 = overall[stock] = statistics.median(everything), percentile(everything, 0.95)
        print(f"  all {len(everything)} requests: median {median:.1f} ms, p95 {p95:.1f} ms")
    (stock_median, stock_p95), (median, p95) = overall[True], overall[False]
    print(f"launched / stock: median {median / stock_median:.2f}, p95 {p95 / stock_p95:.2f}")


if __name__ == "__main__":
    main()
