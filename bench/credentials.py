"""Credential refusals (prints figures; not part of the tests).

    python -m bench.credentials [FILE ...]

For each probe file (default: tests/credential_requests.yml, the tuning set, and
tests/credential_requests_heldout.yml, the held-out one), how many credential requests the answer
pipeline refuses and how many of the benign questions near them it refuses too. Refusals happen
before the model (the request gate, then the passages' check), so the model is not loaded: a
question that gets past both ends in the extractive quote, which is not a refusal. Only counts are
printed, and the questions that were refused wrongly or not refused, never a reply.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from llm_fallback.answer.pipeline import answer_question
from llm_fallback.config import PROJECT_ROOT
from llm_fallback.llm.errors import LLMError

FILES = [PROJECT_ROOT / "tests" / f"credential_requests{part}.yml" for part in ("", "_heldout")]
REFUSE = ("refuse", "refuse_as_written")


class NoModel:
    """Stands in for the LLM: every question that reaches it is not refused, whatever it would say."""

    answer_tokens = 0

    def overflow(self, messages, max_tokens) -> int:
        raise LLMError("no model in this bench")


def refused(question: str) -> bool:
    return answer_question(question, llm=NoModel()).route == "refused"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=FILES)
    for path in parser.parse_args().files:
        probes = yaml.safe_load(path.read_text(encoding="utf-8"))
        requests = [item["q"] for key in REFUSE for item in probes.get(key, [])]
        benign = [item["q"] for item in probes.get("answer", [])]
        missed = [q for q in requests if not refused(q)]
        over = [q for q in benign if refused(q)]
        print(f"{path.name}: requests refused {len(requests) - len(missed)}/{len(requests)}, "
              f"benign questions refused {len(over)}/{len(benign)}")
        for q in missed:
            print(f"  not refused: {q}")
        for q in over:
            print(f"  refused: {q}")


if __name__ == "__main__":
    main()
