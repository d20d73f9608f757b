"""Fit the FAQ matcher's scorer (``python -m llm_fallback faq fit``) on people's questions.

The examples are ``faq/dev_questions.yml``: rewordings of served FAQ questions, each naming its
pair, and questions the FAQ must not answer (near misses on the notes' topics and everyday
requests), plus a sample of CLINC150's out-of-scope queries as more everyday requests. For each
question the matcher's candidates are examples: the question's own pair is a positive, every other
candidate a negative. A weighted logistic regression (knowledge/logistic.fit_logistic) gives the
coefficients. (The FAQ's generated paraphrases are not examples: they are much closer to the FAQ's
questions than people's rewordings, and a scorer fitted on them trusted the encoder's cosine.)

The threshold is chosen on cross-validated probabilities, so each question is scored by a model
fitted without it: the one that serves the most FAQ rewordings right while at most 5 % of them get
a wrong pair and at most 5 % of the not-FAQ questions get a FAQ answer (smoothed counts), because
a wrong FAQ answer costs more than falling through to the notes answer. The saved coefficients are
then fitted on every example. The result goes to faq/match_params.json with the cross-validated
figures. Nothing here reads tests/faq_paraphrases.yml.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from llm_fallback.faq.match import PARAMS_PATH, FaqMatcher, MatchParams
from llm_fallback.knowledge.calibrate import clinc_out_of_scope
from llm_fallback.knowledge.logistic import fit_logistic

# A wrong FAQ answer is worse than the notes answer: the threshold keeps both kinds of mistake
# under the 5 % bound for captured questions.
MAX_WRONG = 0.05
MAX_CAPTURED = 0.05
FOLDS = 5
SEED = 11
DEV_QUESTIONS = Path(__file__).with_name("dev_questions.yml")


@dataclass(frozen=True)
class FitReport:
    pairs: int
    rewordings: int  # dev questions whose pair is served
    not_faq: int
    oos_queries: int
    threshold: float
    # Cross-validated shares at the threshold: a rewording is "right" when its most probable
    # candidate is its pair and passes the threshold, "wrong" when another pair passes.
    ranked_first: float
    routed_right: float
    routed_wrong: float
    captured: float  # not-FAQ dev questions that get a FAQ answer
    oos_captured: float


@dataclass
class _Probe:
    features: np.ndarray
    labels: np.ndarray  # 1 where the candidate is the question's pair
    kind: str  # faq | not_faq | oos


def _probes(matcher: FaqMatcher, dev: dict, oos: list[str]) -> list[_Probe]:
    index = {pair.key: i for i, pair in enumerate(matcher.pairs)}
    probes = []
    for item in dev.get("paraphrases", []):
        if item["key"] in index:  # a pair no longer served has nothing to find
            found = matcher.candidates(item["q"])
            probes.append(_Probe(found.features, (found.indices == index[item["key"]]).astype(float), "faq"))
    for kind, texts in (("not_faq", dev.get("not_faq", [])), ("oos", oos)):
        for text in texts:
            found = matcher.candidates(text)
            probes.append(_Probe(found.features, np.zeros(len(found.indices)), kind))
    return probes


def _fit(probes: list[_Probe]) -> MatchParams:
    x = np.concatenate([p.features for p in probes])
    y = np.concatenate([p.labels for p in probes])
    # Balance the classes: there are several negative candidates for each positive one.
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    coef, intercept = fit_logistic(x, y, weight / weight.mean(), l2=1.0)
    return MatchParams(tuple(round(float(c), 4) for c in coef), round(intercept, 4), 0.5)


def _top(params: MatchParams, probe: _Probe) -> tuple[float, float]:
    """(best probability, 1 if the best candidate is the question's pair); (0, 0) without candidates."""
    if not len(probe.labels):
        return 0.0, 0.0
    probability = params.probability(probe.features)
    top = int(np.argmax(probability))
    return float(probability[top]), float(probe.labels[top])


def _cross_validated_tops(probes: list[_Probe]) -> np.ndarray:
    """Per probe, its _top under a model fitted on the other folds."""
    fold = np.random.default_rng(SEED).permutation(len(probes)) % FOLDS
    tops = np.zeros((len(probes), 2))
    for k in range(FOLDS):
        params = _fit([p for p, f in zip(probes, fold, strict=True) if f != k])
        for i in np.flatnonzero(fold == k):
            tops[i] = _top(params, probes[i])
    return tops


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

    The dev file is small (5 % of 100 questions is 5), so each bound is checked on add-one smoothed
    counts, (k + 1) / (n + 2): a threshold that just meets the bound by luck is not taken."""
    best_t, best_right = 0.99, -1.0  # when no threshold meets the bounds, the strictest
    for t in np.linspace(0.99, 0.05, 95):  # from strict to lenient: ties keep the stricter one
        right, wrong, captured = _rates(positives, negatives, t)
        wrong_bound = (wrong * len(positives) + 1) / (len(positives) + 2)
        captured_bound = (captured * len(negatives) + 1) / (len(negatives) + 2)
        if wrong_bound <= MAX_WRONG and captured_bound <= MAX_CAPTURED and right > best_right + 1e-12:
            best_t, best_right = float(t), right
    return round(best_t, 3)


def fit(matcher: FaqMatcher, clinc_path: Path | None, out: Path = PARAMS_PATH,
        dev_path: Path = DEV_QUESTIONS) -> FitReport:
    """Fit on the dev questions for ``matcher``'s pairs (with CLINC150 out-of-scope queries when
    that file exists); save to ``out``."""
    if not dev_path.is_file():
        raise FileNotFoundError(f"the FAQ dev questions are missing: {dev_path}")
    dev = yaml.safe_load(dev_path.read_text(encoding="utf-8"))
    has_clinc = clinc_path is not None and clinc_path.is_file()
    oos = [q.q for q in clinc_out_of_scope(clinc_path, limit=200)] if has_clinc else []
    probes = _probes(matcher, dev, oos)
    if not any(p.kind == "faq" for p in probes) or not any(p.kind == "not_faq" for p in probes):
        raise ValueError(f"{dev_path} needs rewordings of served pairs and not-FAQ questions")

    tops = _cross_validated_tops(probes)
    kinds = np.array([p.kind for p in probes])
    faq, not_faq, clinc = (tops[kinds == kind] for kind in ("faq", "not_faq", "oos"))
    threshold = _choose_threshold(faq, not_faq)
    right, wrong, captured = _rates(faq, not_faq, threshold)
    oos_captured = _rates(faq, clinc, threshold)[2]

    params = _fit(probes)
    params = MatchParams(params.coef, params.intercept, threshold)
    shares = (float(faq[:, 1].mean()), right, wrong, captured, oos_captured)
    report = FitReport(len(matcher.pairs), len(faq), len(not_faq), len(clinc), threshold,
                       *(round(share, 4) for share in shares))
    params.save(out, fit=asdict(report))
    return report
