"""Fit the FAQ matcher's scorer (``python -m llm_fallback faq fit``) on the FAQ itself.

The coefficients come from examples built from the served pairs:
- a pair's phrasing (question or paraphrase) with that one phrasing hidden should find its pair:
  the pair is a positive candidate, the other candidates negatives;
- the same phrasing with its whole pair hidden stands for a question on a nearby topic that the FAQ
  does not answer: every candidate is a negative (the hardest kind: same topic, other question);
- everyday requests from CLINC150's out-of-scope set: every candidate is a negative.
A weighted logistic regression (calibration.fit_logistic) gives the coefficients. Generated
paraphrases are closer to the FAQ's questions than people's rewordings, so the threshold is chosen
on people's questions when ``faq_dev_questions.yml`` exists (rewordings of served questions and
questions the FAQ must not answer, written apart from the held-out test file), else on the
examples above: the one that serves the most FAQ questions right while at most 5 % of them get a
wrong pair and at most 5 % of other questions get a FAQ answer (smoothed counts), because a wrong
FAQ answer costs more than falling through to the notes answer. The result is written to
faq_match_params.json with the fit figures. Nothing here reads tests/faq_paraphrases.yml.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from llm_fallback.calibration import clinc_out_of_scope, fit_logistic
from llm_fallback.faq_match import PARAMS_PATH, FaqMatcher, MatchParams

# A wrong FAQ answer is worse than the notes answer: the threshold keeps both kinds of mistake
# under the 5 % bound for captured questions.
MAX_WRONG = 0.05
MAX_CAPTURED = 0.05
DEV_QUESTIONS = Path(__file__).with_name("faq_dev_questions.yml")


@dataclass(frozen=True)
class FitReport:
    pairs: int
    phrasings: int
    threshold: float
    threshold_from: str  # "people's questions" (the dev file) or "generated examples"
    # Shares at the threshold: a probe is "right" when its best candidate is its pair and passes.
    own_routed_right: float
    hidden_captured: float
    oos_captured: float
    dev_routed_right: float | None  # None without the dev file
    dev_routed_wrong: float | None
    dev_captured: float | None


@dataclass
class _Probe:
    features: np.ndarray
    labels: np.ndarray  # 1 where the candidate is the probe's pair
    kind: str  # own | hidden | oos | dev_faq | dev_other


def _probes(matcher: FaqMatcher, oos: list[str], dev: dict) -> list[_Probe]:
    probes = []
    for j, text in enumerate(matcher.phrases):
        pair = int(matcher.owner[j])
        own = matcher.candidates(text, hide_phrases=frozenset({j}))
        probes.append(_Probe(own.features, (own.indices == pair).astype(float), "own"))
        hidden = matcher.candidates(text, hide_pairs=frozenset({pair}))
        probes.append(_Probe(hidden.features, np.zeros(len(hidden.indices)), "hidden"))
    for text in oos:
        found = matcher.candidates(text)
        probes.append(_Probe(found.features, np.zeros(len(found.indices)), "oos"))
    index = {pair.key: i for i, pair in enumerate(matcher.pairs)}
    for item in dev.get("paraphrases", []):
        if item["key"] in index:  # a pair no longer served has nothing to find
            found = matcher.candidates(item["q"])
            labels = (found.indices == index[item["key"]]).astype(float)
            probes.append(_Probe(found.features, labels, "dev_faq"))
    for text in dev.get("not_faq", []):
        found = matcher.candidates(text)
        probes.append(_Probe(found.features, np.zeros(len(found.indices)), "dev_other"))
    return [p for p in probes if len(p.labels)]


def _tops(params: MatchParams, probes: list[_Probe], kind: str) -> np.ndarray:
    """Per probe of ``kind``: (best probability, 1 if the best candidate is the probe's pair)."""
    rows = []
    for probe in probes:
        if probe.kind == kind:
            probability = params.probability(probe.features)
            top = int(np.argmax(probability))
            rows.append((probability[top], probe.labels[top]))
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _rates(positives: np.ndarray, negatives: np.ndarray, t: float) -> tuple[float, float, float]:
    """(routed right, routed wrong) among the positives and captured among the negatives at ``t``."""
    passed = positives[:, 0] >= t
    right = float((passed & (positives[:, 1] == 1)).mean()) if len(positives) else 0.0
    wrong = float((passed & (positives[:, 1] == 0)).mean()) if len(positives) else 0.0
    captured = float((negatives[:, 0] >= t).mean()) if len(negatives) else 0.0
    return right, wrong, captured


def _choose_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The threshold serving the most questions right while at most MAX_WRONG of FAQ questions get
    another pair's answer and at most MAX_CAPTURED of other questions get a FAQ answer.

    The dev file is small (5 % of 40 questions is 2), so each bound is checked on add-one smoothed
    counts, (k + 1) / (n + 2): a threshold that just meets the bound by luck is not taken."""
    best_t, best_right = 0.95, -1.0
    for t in np.linspace(0.95, 0.05, 91):  # from strict to lenient: ties keep the stricter one
        right, wrong, captured = _rates(positives, negatives, t)
        wrong_bound = (wrong * len(positives) + 1) / (len(positives) + 2)
        captured_bound = (captured * len(negatives) + 1) / (len(negatives) + 2)
        if wrong_bound <= MAX_WRONG and captured_bound <= MAX_CAPTURED and right > best_right + 1e-12:
            best_t, best_right = float(t), right
    return round(best_t, 3)


def fit(matcher: FaqMatcher, clinc_path: Path | None, out: Path = PARAMS_PATH,
        dev_path: Path | None = DEV_QUESTIONS) -> FitReport:
    """Fit on ``matcher``'s pairs (with CLINC150 out-of-scope queries and the dev questions when
    their files exist); save to ``out``."""
    has_clinc = clinc_path is not None and clinc_path.is_file()
    oos = [q.q for q in clinc_out_of_scope(clinc_path, limit=200)] if has_clinc else []
    dev = yaml.safe_load(dev_path.read_text(encoding="utf-8")) if dev_path and dev_path.is_file() else {}
    probes = _probes(matcher, oos, dev)
    generated = [p for p in probes if not p.kind.startswith("dev")]
    x = np.concatenate([p.features for p in generated])
    y = np.concatenate([p.labels for p in generated])
    # Balance the classes: there are several negative candidates for each positive one.
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    coef, intercept = fit_logistic(x, y, weight / weight.mean(), l2=1.0)
    params = MatchParams(tuple(round(float(c), 4) for c in coef), round(intercept, 4), 0.5)

    own, hidden, clinc, dev_faq, dev_other = (_tops(params, probes, kind)
                                              for kind in ("own", "hidden", "oos", "dev_faq", "dev_other"))
    if len(dev_faq) and len(dev_other):
        threshold, source = _choose_threshold(dev_faq, dev_other), "people's questions"
    else:
        threshold, source = _choose_threshold(own, np.concatenate([hidden, clinc])), "generated examples"
    params = MatchParams(params.coef, params.intercept, threshold)

    own_right, _, hidden_captured = _rates(own, hidden, threshold)
    oos_captured = _rates(own, clinc, threshold)[2]
    dev_rates = _rates(dev_faq, dev_other, threshold) if len(dev_faq) else (None, None, None)
    report = FitReport(len(matcher.pairs), len(matcher.phrases), threshold, source, round(own_right, 4),
                       round(hidden_captured, 4), round(oos_captured, 4),
                       *(None if r is None else round(r, 4) for r in dev_rates))
    params.save(out, fit={**asdict(report), "oos_queries": len(oos), "dev_paraphrases": len(dev_faq),
                          "dev_not_faq": len(dev_other)})
    return report
