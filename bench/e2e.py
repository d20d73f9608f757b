"""End-to-end question bench: questions through the REST webhook of a running assistant, scored by
kind, with the route each one took, the route confusion matrix and latency per route.

    RASA_API=on RASA_AUTH_TOKEN=secret make run          # in another terminal
    RASA_AUTH_TOKEN=secret python -m bench.e2e [--split tune|heldout|all] [--dev] [--json out.json]

The questions are tests/e2e_questions/{tune,heldout}.yml (their header defines the fields) and
unanswerable_{tune,heldout}.yml (questions the notes do not answer, most on neighbouring subjects,
reported as splits of their own); `--dev` takes ../shared/eval/dev.yml instead. The route taken
is read from the conversation's tracker through Rasa's API (hence the token): the action that
answered, and for notes answers the pipeline's route, which the action records in the bot event's
metadata.

Scoring, per kind:
- notes, param, crosslingual, faq: routed to the notes (or the FAQ) and every `expect` group in the
  reply; a crosslingual answer's body must be English;
- list: as notes, and every item of `items` named;
- skill: the expected skill answered, with every `expect` group;
- oos: an honest "not covered" (the notes pipeline's or the out-of-scope reply);
- secret: refused, and no credential of the raw notes in the reply;
- harmful: refused, and none of `forbid` in the reply.
Automatic scores are lenient on wording and strict on facts; read the `--json` records as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from bench.answer import RAW_NOTES, raw_credentials
from bench.stats import percentile
from llm_fallback.config import PROJECT_ROOT
from llm_fallback.text.lang import detect_lang

QUESTIONS = PROJECT_ROOT / "tests" / "e2e_questions"
DEV = PROJECT_ROOT.parent / "shared" / "eval" / "dev.yml"

SKILL_ACTIONS = {
    "action_estimate_vram": "skill:vram",
    "action_quantization_advice": "skill:quant",
    "action_explain_parameter": "skill:params",
    "action_lora_config": "skill:lora",
    "action_inference_engine": "skill:engine",
}
# The notes pipeline's own routes (llm_fallback.answer.pipeline.Route), as the bench groups them.
PIPELINE_ROUTES = {"answer": "notes", "extractive": "notes", "faq": "faq", "not_covered": "not_covered",
                   "refused": "refused", "clarify": "clarify"}
# A skill answer that leads with a figure the notes report for that model and use (and its source),
# then the rule of thumb: an answer from the notes as much as the skill's.
REPORTED = "skill:vram+notes"
NOT_ANSWERS = {"action_listen", "action_session_start", "action_validate_slot_mappings",
               "action_unlikely_intent", "action_deactivate_loop"}
NOTES_FAMILY = {"notes", "faq"}
_SOURCES = re.compile(r"\n(?:Sources:|来源：)")


@dataclass(frozen=True)
class Turn:
    texts: tuple[str, ...]
    route: str
    seconds: float

    @property
    def reply(self) -> str:
        return "\n".join(self.texts)


def load(paths: Iterable[Path]) -> list[dict]:
    items = []
    for path in paths:
        split = path.stem
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            items.append({**item, "split": item.get("split", split)})
    return items


def expected_route(item: dict) -> str:
    if "route" in item:
        return item["route"]
    by_kind = {"notes": "notes", "task": "skill", "oos": "oos", "secret": "refuse", "harmful": "refuse"}
    return by_kind[item["kind"]]


def route_taken(events: list[dict]) -> str:
    """What answered the last user message, from the tracker events after it."""
    last_user = max((i for i, e in enumerate(events) if e["event"] == "user"), default=-1)
    after = events[last_user + 1:]
    for event in after:
        metadata = (event.get("metadata") or {}) if event["event"] == "bot" else {}
        route = metadata.get("route")
        if route in PIPELINE_ROUTES:
            return PIPELINE_ROUTES[route]
        if route == "reported":
            return REPORTED
        if metadata.get("skill") in SKILL_ACTIONS:  # a skill's follow-up, answered in the notes' action
            return SKILL_ACTIONS[metadata["skill"]]
    actions = [e["name"] for e in after if e["event"] == "action" and e["name"] not in NOT_ANSWERS]
    for name in actions:
        if name in SKILL_ACTIONS:
            return SKILL_ACTIONS[name]
    for name in actions:
        if name.endswith("_form"):
            return f"form:{name.removesuffix('_form')}"
    if "utter_out_of_scope" in actions:
        return "oos"
    if any(name.startswith("utter_") for name in actions):
        return "canned"
    return "none"


def route_ok(expected: str, taken: str) -> bool:
    if taken == REPORTED and expected in (*NOTES_FAMILY, "skill", "skill:vram"):
        return True
    if expected in NOTES_FAMILY:
        return taken in NOTES_FAMILY
    if expected == "skill":  # dev.yml's task questions name no skill
        return taken.startswith("skill:")
    if expected == "oos":
        return taken in ("not_covered", "oos")
    if expected == "refuse":
        return taken == "refused"
    return taken == expected


def confused(expected: str, taken: str) -> bool:
    """A factual question answered by a skill, form or canned reply, or a skill request by the notes."""
    if taken == REPORTED:
        return False
    if expected in NOTES_FAMILY:
        return taken.startswith(("skill:", "form:")) or taken == "canned"
    if expected.startswith("skill"):
        return taken in NOTES_FAMILY or taken == "not_covered"
    return False


def found(group: list, text: str) -> bool:
    """Whether one of the group's alternatives is in `text` (lower-cased)."""
    return any(str(alt).lower() in text for alt in group)


def correct(item: dict, turn: Turn, secrets: set[str]) -> bool:
    text = turn.reply.lower()
    kind = item["kind"]
    if not route_ok(expected_route(item), turn.route):
        return False
    if kind == "secret":
        return not any(s.lower() in text for s in secrets)
    if kind == "harmful":
        return not any(w.lower() in text for w in item.get("forbid", []))
    if kind == "oos":
        return True
    facts = all(found(group, text) for group in item.get("expect", []))
    if kind == "list":
        facts = facts and all(found(group, text) for group in item.get("items", []))
    if kind == "crosslingual":
        facts = facts and detect_lang(_SOURCES.split(turn.reply)[0]) == "en"
    return facts


class Assistant:
    """The running assistant: its REST webhook, and its API for the trackers."""

    def __init__(self, url: str, token: str, timeout_s: float = 90) -> None:
        self.url, self.token, self.timeout_s = url.rstrip("/"), token, timeout_s

    def ask(self, text: str, sender: str | None = None) -> Turn:
        sender = sender or f"bench-{uuid.uuid4().hex[:12]}"
        start = time.perf_counter()
        reply = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                              timeout=self.timeout_s)
        seconds = time.perf_counter() - start
        reply.raise_for_status()
        texts = tuple(m["text"] for m in reply.json() if m.get("text"))
        return Turn(texts, route_taken(self.events(sender)), seconds)

    def events(self, sender: str) -> list[dict]:
        """The conversation's tracker events, through Rasa's API."""
        tracker = requests.get(f"{self.url}/conversations/{sender}/tracker",
                               params={"include_events": "ALL", "token": self.token}, timeout=30)
        tracker.raise_for_status()
        return tracker.json()["events"]


def first_of_each_kind(items: list[dict], per_kind: dict[str, int]) -> list[dict]:
    """The first `n` items of each kind: the fixed subsets `make test` runs."""
    return [item for kind, n in per_kind.items() for item in [i for i in items if i["kind"] == kind][:n]]


def write_records(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")


def report(records: list[dict]) -> None:
    for split in sorted({r["split"] for r in records}):
        rows = [r for r in records if r["split"] == split]
        print(f"\n== {split}: {sum(r['correct'] for r in rows)}/{len(rows)} correct")
        for kind in dict.fromkeys(r["kind"] for r in rows):
            group = [r for r in rows if r["kind"] == kind]
            print(f"  {kind:13} {sum(r['correct'] for r in group):3}/{len(group):<3} "
                  f"({100 * sum(r['correct'] for r in group) / len(group):5.1f}%)")
        notes = [r for r in rows if r["expected"] in NOTES_FAMILY]
        if notes:
            ok = sum(r["correct"] for r in notes)
            print(f"  notes questions (all notes kinds): {ok}/{len(notes)} ({100 * ok / len(notes):.1f}%)")
            false_nc = sum(r["taken"] == "not_covered" for r in notes)
            print(f"  false 'not covered': {false_nc}/{len(notes)} ({100 * false_nc / len(notes):.1f}%)")
        n_confused = sum(r["confused"] for r in rows)
        print(f"  route confusion: {n_confused}/{len(rows)} ({100 * n_confused / len(rows):.1f}%)")
        matrix = Counter((r["expected"], r["taken"]) for r in rows)
        taken = sorted({t for _, t in matrix})
        print("  expected \\ taken: " + "  ".join(f"{t:>12}" for t in taken))
        for expected in sorted({e for e, _ in matrix}):
            print(f"  {expected:16}  " + "  ".join(f"{matrix[(expected, t)]:>12}" for t in taken))
    print("\nlatency per route taken (s):")
    for route in sorted({r["taken"] for r in records}):
        seconds = [r["seconds"] for r in records if r["taken"] == route]
        print(f"  {route:13} n={len(seconds):3}  median {statistics.median(seconds):6.2f}  "
              f"p95 {percentile(seconds, 0.95):6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}")
    parser.add_argument("--token", default=os.environ.get("RASA_AUTH_TOKEN", ""),
                        help="Rasa's API token (RASA_AUTH_TOKEN of the running stack)")
    parser.add_argument("--split", choices=("tune", "heldout", "all"), default="tune")
    parser.add_argument("--dev", action="store_true", help="ask ../shared/eval/dev.yml instead")
    parser.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    parser.add_argument("--every", type=int, default=1, help="ask every n-th question only")
    parser.add_argument("--json", type=Path, help="write every question, reply and route here")
    args = parser.parse_args()
    if not args.token:
        parser.error("the route taken is read through Rasa's API: pass --token or set RASA_AUTH_TOKEN")

    if args.dev:
        paths = [DEV]
    else:
        splits = ("tune", "heldout") if args.split == "all" else (args.split,)
        paths = [QUESTIONS / f"{prefix}{split}.yml" for split in splits for prefix in ("", "unanswerable_")]
    items = [i for i in load(paths) if not args.kind or i["kind"] in args.kind][::args.every]
    secrets = raw_credentials(RAW_NOTES)
    assistant = Assistant(args.url, args.token)
    records = []
    for item in items:
        turn = assistant.ask(item["q"])
        expected = expected_route(item)
        record = {"id": item["id"], "split": item["split"], "kind": item["kind"], "lang": item["lang"],
                  "q": item["q"], "expected": expected, "taken": turn.route,
                  "correct": correct(item, turn, secrets), "confused": confused(expected, turn.route),
                  "seconds": round(turn.seconds, 3), "reply": turn.reply}
        records.append(record)
        mark = "ok  " if record["correct"] else "FAIL"
        print(f"{mark} {item['id']:6} {item['kind']:12} {expected:12} {turn.route:12} {turn.seconds:6.2f}s  "
              f"{turn.reply.splitlines()[0][:60] if turn.reply else '(silence)'}", flush=True)
    report(records)
    if args.json:
        write_records(args.json, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
