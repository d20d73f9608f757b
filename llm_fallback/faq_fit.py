"""Fit the FAQ matcher's scorer (``python -m llm_fallback faq fit``) on the FAQ itself.

Examples come from the served pairs, never from the held-out paraphrase test file:
- a pair's phrasing (question or paraphrase) with that one phrasing hidden should find its pair:
  the pair is a positive candidate, the other candidates negatives;
- the same phrasing with its whole pair hidden stands for a question on a nearby topic that the FAQ
  does not answer: every candidate is a negative (the hardest kind: same topic, other question);
- everyday requests from CLINC150's out-of-scope set: every candidate is a negative.
A weighted logistic regression (calibration.fit_logistic) gives the coefficients; the threshold
maximises routed-right minus twice captured, because a wrong FAQ answer costs more than falling
through to the notes answer. The result is written to faq_match_params.json with the fit figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llm_fallback.calibration import clinc_out_of_scope, fit_logistic
from llm_fallback.faq_match import PARAMS_PATH, FaqMatcher, MatchParams

WRONG_ANSWER_COST = 2.0


@dataclass(frozen=True)
class FitReport:
    pairs: int
    phrasings: int
    positives_right: float  # share of own-phrasing probes whose best candidate is their pair, above threshold
    hidden_captured: float  # share of hidden-pair probes that would still get a FAQ answer
    oos_captured: float
    threshold: float


@dataclass
class _Probe:
    features: np.ndarray
    labels: np.ndarray  # 1 where the candidate is the probe's pair
    kind: str  # own | hidden | oos


def _probes(matcher: FaqMatcher, oos: list[str]) -> list[_Probe]:
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
    return [p for p in probes if len(p.labels)]


def _top(params: MatchParams, probe: _Probe) -> tuple[float, bool]:
    """(best probability, whether the best candidate is the probe's pair)."""
    probability = params.probability(probe.features)
    top = int(np.argmax(probability))
    return float(probability[top]), bool(probe.labels[top])


def _choose_threshold(params: MatchParams, probes: list[_Probe]) -> float:
    tops = [(*_top(params, p), p.kind) for p in probes]
    own = np.array([(prob, right) for prob, right, kind in tops if kind == "own"])
    negative = np.array([prob for prob, _, kind in tops if kind != "own"])
    best_t, best_gain = 0.5, -np.inf
    for t in np.linspace(0.05, 0.95, 91):
        right = ((own[:, 0] >= t) & (own[:, 1] == 1)).mean()
        wrong = ((own[:, 0] >= t) & (own[:, 1] == 0)).mean()
        captured = (negative >= t).mean()
        gain = right - WRONG_ANSWER_COST * (wrong + captured)
        if gain > best_gain + 1e-12:
            best_t, best_gain = float(t), gain
    return round(best_t, 3)


def fit(matcher: FaqMatcher, clinc_path: Path | None, out: Path = PARAMS_PATH) -> FitReport:
    """Fit on ``matcher``'s pairs (and CLINC150 out-of-scope queries when the file exists); save."""
    has_clinc = clinc_path is not None and clinc_path.is_file()
    oos = [q.q for q in clinc_out_of_scope(clinc_path, limit=200)] if has_clinc else []
    probes = _probes(matcher, oos)
    x = np.concatenate([p.features for p in probes])
    y = np.concatenate([p.labels for p in probes])
    # Balance the classes: there are several negative candidates for each positive one.
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    coef, intercept = fit_logistic(x, y, weight / weight.mean(), l2=1.0)
    params = MatchParams(tuple(round(float(c), 4) for c in coef), round(intercept, 4), 0.5)
    params = MatchParams(params.coef, params.intercept, _choose_threshold(params, probes))

    def share(kind: str, routed_right: bool) -> float:
        tops = [_top(params, p) for p in probes if p.kind == kind]
        hits = [prob >= params.threshold and (right or not routed_right) for prob, right in tops]
        return round(float(np.mean(hits)), 4) if hits else 0.0

    report = FitReport(len(matcher.pairs), len(matcher.phrases), share("own", True), share("hidden", False),
                       share("oos", False), params.threshold)
    params.save(out, fit={"pairs": report.pairs, "phrasings": report.phrasings,
                          "own_routed_right": report.positives_right,
                          "hidden_captured": report.hidden_captured,
                          "oos_captured": report.oos_captured, "oos_queries": len(oos)})
    return report
