"""Conversation bench: multi-turn conversations through the REST webhook of a running assistant,
scored on the last turn (the follow-up), beside the same question asked standalone.

    RASA_API=on RASA_AUTH_TOKEN=secret make run          # in another terminal
    RASA_AUTH_TOKEN=secret python -m bench.conversations [--split tune|heldout|all] [--json out.json]
    python -m bench.conversations --cheap-cost           # in-process: what the cheap path costs
    python -m bench.conversations --evidence             # in-process: where the evidence ranks

The conversations are tests/conversations/{tune,heldout}.yml (their header defines the fields).
Each is sent turn by turn in one conversation; its last turn is scored:
- route notes: answered from the notes (or the FAQ) with every `expect` group;
- route skill:*: that skill answered (a follow-up re-runs it) with every `expect` group;
- route oos: an honest "not covered";
- route clarify: a question back, or a notes answer that names one of the `candidates`;
- route fresh (after "new topic" or /restart): not answered about the earlier subject;
- any route: none of `forbid` in the reply (a topic change must not inherit the earlier subject).
With `--standalone` (default on) each `standalone` question is also asked in a new conversation and
scored the same way: the gap between the two is what the conversation costs.
`--cheap-cost` times `conversation.resolve` without the model on every last turn, beside a plain
search of the same message (the baseline every notes answer pays anyway).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.e2e import NOTES_FAMILY, Assistant, Turn, found, load, route_ok, write_records
from bench.stats import percentile
from llm_fallback.config import PROJECT_ROOT

CONVERSATIONS = PROJECT_ROOT / "tests" / "conversations"


def last_turn_correct(item: dict, turn: Turn) -> bool:
    """Whether the reply to the conversation's last turn is right (see the module's docstring)."""
    text, route = turn.reply.lower(), item["route"]
    if any(str(word).lower() in text for word in item.get("forbid", [])):
        return False
    if route == "clarify":
        if turn.route == "clarify":
            return True
        return turn.route in NOTES_FAMILY and any(str(c).lower() in text for c in item.get("candidates", []))
    if route == "fresh":
        return not turn.route.startswith("skill:")
    if not route_ok(route, turn.route):
        return False
    return all(found(group, text) for group in item.get("expect", []))


def inherited(item: dict, turn: Turn, how: str | None) -> bool:
    """Whether the last turn leaned on the earlier subject: read as a follow-up, answered by the
    earlier skill, or naming what `forbid` lists."""
    text = turn.reply.lower()
    named = any(str(word).lower() in text for word in item.get("forbid", []))
    skill_kept = item["route"] == "notes" and turn.route.startswith("skill:")
    return how in ("rewritten", "model", "clarify") or named or skill_kept


def last_resolution(events: list[dict]) -> dict:
    """The notes action's record of how it read the last message (`resolved`: conversation.resolve's
    `how`; `rewrite_ms`: the model's rewrite, when it ran); empty when the notes did not answer."""
    last_user = max((i for i, e in enumerate(events) if e["event"] == "user"), default=-1)
    after = [e.get("metadata") or {} for e in events[last_user + 1:] if e["event"] == "bot"]
    return next((m for m in reversed(after) if "resolved" in m), {})


def resolved_how(events: list[dict]) -> str | None:
    return last_resolution(events).get("resolved")


def run_conversation(assistant: Assistant, turns: list[str]) -> tuple[Turn, dict]:
    sender = f"conv-{uuid.uuid4().hex[:12]}"
    turn = None
    for text in turns:
        turn = assistant.ask(text, sender)
    assert turn is not None
    return turn, last_resolution(assistant.events(sender))


def report(records: list[dict]) -> None:
    for split in sorted({r["split"] for r in records}):
        rows = [r for r in records if r["split"] == split]
        ok = sum(r["correct"] for r in rows)
        print(f"\n== {split}: last turn {ok}/{len(rows)} correct ({100 * ok / len(rows):.1f}%)")
        with_standalone = [r for r in rows if r.get("standalone_correct") is not None]
        if with_standalone:
            alone = sum(r["standalone_correct"] for r in with_standalone)
            in_conv, n = sum(r["correct"] for r in with_standalone), len(with_standalone)
            print(f"  same questions standalone: {alone}/{n} ({100 * alone / n:.1f}%) "
                  f"vs in conversation {in_conv}/{n} ({100 * in_conv / n:.1f}%)")
        for kind in dict.fromkeys(r["kind"] for r in rows):
            group = [r for r in rows if r["kind"] == kind]
            print(f"  {kind:18} {sum(r['correct'] for r in group):3}/{len(group):<3}")
        changes = [r for r in rows if r["kind"] in ("topic_change", "restart")]
        if changes:
            inherited = sum(r["inherited"] for r in changes)
            print(f"  topic changes that inherited context: {inherited}/{len(changes)}")
        hows = Counter(r["resolved"] for r in rows)
        print("  last turn read as: " + ", ".join(f"{k}={v}" for k, v in hows.most_common()))
        followups = [r for r in rows if r["resolved"] in ("rewritten", "model")]
        if followups:
            ran = [r["rewrite_ms"] for r in followups if r["rewrite_ms"]]
            print(f"  the model's rewrite ran on {len(ran)}/{len(followups)} follow-ups, "
                  f"was kept on {sum(r['resolved'] == 'model' for r in followups)}"
                  + (f", took median {statistics.median(ran):.0f} ms, max {max(ran)} ms" if ran else ""))
    seconds = [r["seconds"] for r in records]
    print(f"\nlast-turn latency (s): median {statistics.median(seconds):.2f}  "
          f"p95 {percentile(seconds, 0.95):.2f}")


def cheap_cost(items: list[dict]) -> None:
    """In-process: p50/p95 of resolve() without the model, against a plain search of the message."""
    from llm_fallback.conversation.resolve import resolve
    from llm_fallback.knowledge.retrieve import get_retriever
    from llm_fallback.routing import remember

    retriever = get_retriever()
    retriever.search("warm-up", k=3)
    plain, resolved = [], []
    for item in items:
        previous = remember(item["turns"][-2])
        message = item["turns"][-1]
        start = time.perf_counter()
        retriever.search(message, k=5)
        plain.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        resolve(message, previous, retriever, llm=None)
        resolved.append(1000 * (time.perf_counter() - start))
    for label, times in (("plain search", plain), ("resolve (cheap)", resolved)):
        print(f"{label:16} ms: median {statistics.median(times):6.2f}  p95 {percentile(times, 0.95):6.2f}")
    print(f"added by the cheap path, p95: {percentile(resolved, 0.95):.2f} ms on {len(items)} last turns")


def evidence_ranks(items: list[dict]) -> None:
    """In-process, no model: where the last turn's evidence ranks among the hits of its resolved
    question alone, and among the hits the answer is given from (searched as `search_as`, the previous
    answer's sections first). Each earlier turn's answer is taken to cite its best relevant passage,
    as a quote does."""
    from llm_fallback.conversation.resolve import Resolution, resolve
    from llm_fallback.knowledge.calibrate import evidence_rank
    from llm_fallback.knowledge.retrieve import Hit, get_retriever, sections_first
    from llm_fallback.routing import remember

    retriever = get_retriever()

    def as_answered(resolution: Resolution) -> list[Hit]:
        query = resolution.search_as or resolution.question
        return sections_first(retriever.search(query, k=5), resolution.sections)

    notes = [i for i in items if i["route"] == "notes" and i.get("evidence")]
    ranks: dict[str, list[int | None]] = {"rewrite alone": [], "as answered": []}
    for item in notes:
        previous = None
        for turn in item["turns"][:-1]:
            resolution = resolve(turn, previous, retriever)
            previous = remember(resolution.question, [h for h in as_answered(resolution) if h.relevant][:1])
        resolution = resolve(item["turns"][-1], previous, retriever)
        alone = retriever.search(resolution.question, k=5)
        ranks["rewrite alone"].append(evidence_rank([h.text for h in alone], item["evidence"]))
        answered = as_answered(resolution)
        ranks["as answered"].append(evidence_rank([h.text for h in answered], item["evidence"]))
    for label, listed in ranks.items():
        within = "  ".join(f"@{k} {sum(1 for r in listed if r is not None and r <= k)}/{len(notes)}"
                           for k in (1, 3, 5))
        print(f"{label:15} evidence {within}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}")
    parser.add_argument("--token", default=os.environ.get("RASA_AUTH_TOKEN", ""),
                        help="Rasa's API token (RASA_AUTH_TOKEN of the running stack)")
    parser.add_argument("--split", choices=("tune", "heldout", "all"), default="tune")
    parser.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    parser.add_argument("--every", type=int, default=1, help="run every n-th conversation only")
    parser.add_argument("--no-standalone", action="store_true", help="skip the standalone comparison")
    parser.add_argument("--cheap-cost", action="store_true", help="time the cheap path in-process instead")
    parser.add_argument("--evidence", action="store_true",
                        help="in-process, no model: last-turn evidence rank, rewrite alone / as answered")
    parser.add_argument("--json", type=Path, help="write every conversation, reply and route here")
    args = parser.parse_args()

    splits = ("tune", "heldout") if args.split == "all" else (args.split,)
    items = [i for i in load(CONVERSATIONS / f"{s}.yml" for s in splits)
             if not args.kind or i["kind"] in args.kind][::args.every]
    if args.cheap_cost:
        cheap_cost(items)
        return 0
    if args.evidence:
        evidence_ranks(items)
        return 0
    if not args.token:
        parser.error("the route taken is read through Rasa's API: pass --token or set RASA_AUTH_TOKEN")
    assistant = Assistant(args.url, args.token)
    records = []
    for item in items:
        turn, resolution = run_conversation(assistant, item["turns"])
        how = resolution.get("resolved")
        record = {"id": item["id"], "split": item["split"], "kind": item["kind"], "lang": item["lang"],
                  "turns": item["turns"], "expected": item["route"], "taken": turn.route, "resolved": how,
                  "rewrite_ms": resolution.get("rewrite_ms", 0),
                  "correct": last_turn_correct(item, turn), "inherited": inherited(item, turn, how),
                  "seconds": round(turn.seconds, 3),
                  "reply": turn.reply}
        if not args.no_standalone and item.get("standalone") and item["route"] not in ("clarify", "fresh"):
            alone = assistant.ask(item["standalone"])
            record["standalone_correct"] = last_turn_correct(item, alone)
            record["standalone_reply"] = alone.reply
        records.append(record)
        mark = "ok  " if record["correct"] else "FAIL"
        first_line = turn.reply.splitlines()[0][:50] if turn.reply else "(silence)"
        print(f"{mark} {item['id']:5} {item['kind']:17} {item['route']:12} {turn.route:12} {how or '-':10} "
              f"{turn.seconds:6.2f}s  {first_line}", flush=True)
    report(records)
    if args.json:
        write_records(args.json, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
