"""FAQ benchmark: review counts, routing of the paraphrase file, and FAQ latency through the REST webhook.

    python -m bench.faq [--requests 200] [--skip-servers]

1. Counts of the shipped FAQ (faq/faq.yml): pairs per status and rejections per check.
2. Routing with the matcher over the default knowledge store (what `make setup` loads): the share
   of tests/faq_paraphrases.yml paraphrases answered by their own pair, and the share of its non-FAQ
   questions the FAQ path captures (those must go to the notes answer instead).
3. Latency end to end: the real Rasa server and action server (started like the tests start them),
   the served pairs' questions posted to /webhooks/rest/webhook one at a time after a warm-up;
   median and p95 of the wall time per request, over all replies and over those that were the
   FAQ's answer (NLU sends some FAQ questions to a task skill instead).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from bench.stats import percentile
from llm_fallback.config import PROJECT_ROOT, load_settings
from llm_fallback.faq.match import get_faq_matcher
from llm_fallback.faq.review import counts, read_yaml
from tests.servers import action_server, rasa_server

PARAPHRASES = PROJECT_ROOT / "tests" / "faq_paraphrases.yml"


def report_counts() -> None:
    if not load_settings().faq_file.is_file():
        print(f"no shipped FAQ at {load_settings().faq_file}: run `faq generate`, review, `faq export`")
        return
    pairs = read_yaml(load_settings().faq_file)
    print(f"shipped FAQ {load_settings().faq_file.relative_to(PROJECT_ROOT)}: {len(pairs)} pairs")
    for name, n in counts(pairs).items():
        print(f"  {name:<28} {n}")


def report_routing() -> list[str]:
    """Prints routing figures; returns FAQ questions to use for the latency run."""
    matcher = get_faq_matcher()
    if not PARAPHRASES.is_file() or not matcher.pairs:
        print(f"routing: skipped ({len(matcher.pairs)} served pairs, paraphrase file present: "
              f"{PARAPHRASES.is_file()})")
        return [q for p in matcher.pairs for q in (p.q_zh, p.q_en)]
    data = yaml.safe_load(PARAPHRASES.read_text(encoding="utf-8"))
    items = data["paraphrases"]
    right = wrong = missed = 0
    for item in items:
        found = matcher.match(item["q"])
        if found is None:
            missed += 1
        elif found.pair.key == item["key"]:
            right += 1
        else:
            wrong += 1
    others = data["not_faq"]
    captured = sum(1 for q in others if matcher.match(q))
    by_lang = {lang: sum(1 for i in items if i["lang"] == lang) for lang in ("zh", "en")}
    print(f"routing over {len(matcher.pairs)} served pairs (min confidence {matcher.min_confidence:.3f}):")
    print(f"  paraphrases right pair   {right}/{len(items)} = {right / len(items):.1%} "
          f"(wrong pair {wrong}, fell through {missed}; zh {by_lang['zh']}, en {by_lang['en']})")
    print(f"  non-FAQ captured         {captured}/{len(others)} = {captured / len(others):.1%}")
    return [q for p in matcher.pairs for q in (p.q_zh, p.q_en)]


def report_latency(questions: list[str], requests_n: int) -> None:
    import requests

    matcher = get_faq_matcher()
    answers = {p.a_zh for p in matcher.pairs} | {p.a_en for p in matcher.pairs}
    questions = [q for q in questions if matcher.match(q)]  # time the FAQ path, not the LLM fallback
    if not questions:
        print("latency: skipped (no question the FAQ answers)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with action_server(workdir) as actions, rasa_server(workdir, actions.url,
                                                           f"sqlite:///{workdir / 'tracker.db'}") as rasa:
            url = f"{rasa.url}/webhooks/rest/webhook"
            for q in questions[:5]:  # warm-up: loads the encoder and the FAQ in the action server
                requests.post(url, json={"sender": "warmup", "message": q}, timeout=120)
            timings, faq_timings = [], []
            for i in range(requests_n):
                q = questions[i % len(questions)]
                started = time.perf_counter()
                reply = requests.post(url, json={"sender": f"bench-{uuid.uuid4().hex[:8]}", "message": q},
                                      timeout=120).json()
                timings.append((time.perf_counter() - started) * 1000)
                text = "\n".join(m.get("text", "") for m in reply)
                if any(text.startswith(a) for a in answers):
                    faq_timings.append(timings[-1])
    # NLU sends some FAQ questions to a task skill or a form instead of the notes action (the FAQ's home).
    print(f"REST webhook, {requests_n} FAQ questions, one at a time "
          f"(answered by the FAQ path: {len(faq_timings)}/{requests_n}):")
    for name, values in (("all replies", timings), ("FAQ replies", faq_timings)):
        if values:
            print(f"  {name:<12} median {statistics.median(values):.1f} ms   "
                  f"p95 {percentile(values, 0.95):.1f} ms   max {max(values):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-servers", action="store_true", help="counts and routing only")
    args = parser.parse_args()
    report_counts()
    questions = report_routing()
    if questions and not args.skip_servers:
        report_latency(questions, args.requests)


if __name__ == "__main__":
    main()
