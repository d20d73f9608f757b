"""bench/clinc150.py: how the operating points are read off parsed queries."""

from __future__ import annotations

from bench.clinc150 import (
    OOS_INTENT,
    OOS_LABEL,
    Parsed,
    best_with_recall_floor,
    chosen_on_val,
    chosen_on_val_for_flagged_ceiling,
    chosen_on_val_for_recall_floor,
    figures,
    val_grid,
)


def test_figures_count_a_flagged_in_scope_query_as_wrong_and_a_flagged_oos_query_as_caught() -> None:
    parsed = [Parsed("balance", "balance", 0.9, 0.8),  # right and confident
              Parsed("balance", "balance", 0.9, 0.05),  # right, but the top two are close
              Parsed(OOS_LABEL, "balance", 0.4, 0.3),  # low confidence: flagged
              Parsed(OOS_LABEL, OOS_INTENT, 0.9, 0.8)]  # the classifier's own out-of-scope intent
    at_default = figures(parsed, 0.5, 0.1)
    assert at_default.in_scope_accuracy == 50.0 and at_default.in_scope_flagged == 50.0
    assert at_default.oos_recall == 100.0
    assert figures(parsed, 0.5, 0.0).in_scope_accuracy == 100.0


def test_val_choice_drops_the_ambiguity_threshold_when_it_only_flags_in_scope_queries() -> None:
    val = [Parsed("a", "a", 0.9, 0.04), Parsed("b", "b", 0.8, 0.5), Parsed(OOS_LABEL, "a", 0.3, 0.2)]
    threshold, ambiguity = chosen_on_val(val_grid(val))
    assert ambiguity == 0.0
    assert 0.3 < threshold <= 0.8  # catches the out-of-scope query, keeps both in-scope ones


def test_the_best_point_keeps_the_recall_floor() -> None:
    parsed = [Parsed("a", "a", 0.9, 0.9), Parsed("a", "a", 0.5, 0.5), Parsed(OOS_LABEL, "a", 0.6, 0.6)]
    curve = [figures(parsed, t, 0.0) for t in (0.0, 0.55, 0.7)]
    best = best_with_recall_floor(curve)
    assert best is not None and best.threshold == 0.7 and best.oos_recall == 100.0
    assert best_with_recall_floor(curve[:2]) is None


def test_the_val_choice_for_the_floor_keeps_recall_there_and_then_maximises_in_scope_accuracy() -> None:
    val = [Parsed("a", "a", 0.9, 0.9), Parsed("a", "a", 0.5, 0.5), Parsed(OOS_LABEL, "a", 0.3, 0.3),
           Parsed(OOS_LABEL, "a", 0.6, 0.6)]
    threshold, ambiguity = chosen_on_val_for_recall_floor(val_grid(val))
    # One of two out-of-scope queries is below the floor of 60%: both must be caught, which costs the
    # less confident in-scope query; the lowest threshold that does it is taken.
    assert (threshold, ambiguity) == (0.61, 0.0)
    assert figures(val, threshold, ambiguity).in_scope_accuracy == 50.0
    unreachable = [Parsed("a", "a", 0.9, 0.9), Parsed(OOS_LABEL, "a", 1.0, 1.0)]
    assert chosen_on_val_for_recall_floor(val_grid(unreachable)) is None


def test_the_val_choice_under_the_flagged_ceiling_flags_at_most_one_in_scope_query_in_a_hundred() -> None:
    # 200 in-scope queries, two of them unsure (0.35 and 0.45); out-of-scope queries at 0.2, 0.4, 0.5.
    val = ([Parsed("a", "a", 0.9, 0.9)] * 198 + [Parsed("a", "a", 0.35, 0.35), Parsed("a", "a", 0.45, 0.45)]
           + [Parsed(OOS_LABEL, "a", c, c) for c in (0.2, 0.4, 0.5)])
    threshold, ambiguity = chosen_on_val_for_flagged_ceiling(val_grid(val))
    # Flagging one in-scope query (0.5%) is allowed and catches a second out-of-scope query; flagging
    # both (1%) is allowed too and catches the third: the highest recall within the ceiling wins.
    at = figures(val, threshold, ambiguity)
    assert at.in_scope_flagged == 1.0 and at.oos_recall == 100.0
    strict = [Parsed("a", "a", 0.3, 0.3)] * 2 + [Parsed(OOS_LABEL, "a", 0.9, 0.9)]
    flagged_at_zero = chosen_on_val_for_flagged_ceiling(val_grid(strict))
    assert flagged_at_zero is not None and figures(strict, *flagged_at_zero).in_scope_flagged == 0.0
