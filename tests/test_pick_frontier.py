"""The Pareto front of engine.pick: checked against an independent brute force over random
points, the direction of each metric, how tasks become one quality, and the limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pick.candidates import Configuration
from engine.pick.choice import Limits, choose
from engine.pick.frontier import Point, pareto_front
from engine.pick.quality import TaskFigure, higher_is_better
from engine.results.store import EvalRun


def beaten_by(a: tuple, b: tuple) -> bool:
    """Brute force, written apart from engine.pick: b beats a on (quality up, speed up,
    memory down) when b is no worse on each and not equal on all three."""
    (_, qa, ta, ma), (_, qb, tb, mb) = a, b
    return qb >= qa and tb >= ta and mb <= ma and (qb, tb, mb) != (qa, ta, ma)


# Few distinct values, so that ties on one or more axes are common.
values = st.sampled_from([0.0, 1.0, 2.5, 3.0, 7.0])
points = st.lists(st.tuples(values, values, values), max_size=12)


@settings(deadline=None, max_examples=300)
@given(points)
def test_front_is_exactly_the_points_no_other_beats(raw):
    items = [(f"c{i}", q, t, m) for i, (q, t, m) in enumerate(raw)]
    found = pareto_front([Point(*item) for item in items])
    expected = {a[0] for a in items if not any(beaten_by(a, b) for b in items)}
    assert {p.label for p in found.front} == expected
    assert {p.label for p, _ in found.dominated} == {a[0] for a in items} - expected
    by_label = {a[0]: a for a in items}
    front_order = [p.label for p in found.front]
    for point, by in found.dominated:
        assert by.label in expected
        assert beaten_by(by_label[point.label], by_label[by.label])
        # the first front point, in the front's order, that beats it
        first = next(f for f in front_order if beaten_by(by_label[point.label], by_label[f]))
        assert by.label == first
    # best quality first, then faster, then smaller, then by label
    keys = [(-p.score, -p.tok_s, p.peak_mb, p.label) for p in found.front]
    assert keys == sorted(keys)


@settings(deadline=None, max_examples=100)
@given(points)
def test_the_answer_does_not_depend_on_the_order_of_the_input(raw):
    items = [Point(f"c{i}", q, t, m) for i, (q, t, m) in enumerate(raw)]
    one, other = pareto_front(items), pareto_front(list(reversed(items)))
    assert one == other


def test_equal_points_both_stay_on_the_front():
    found = pareto_front([Point("b", 1, 1, 1), Point("a", 1, 1, 1)])
    assert [p.label for p in found.front] == ["a", "b"] and found.dominated == []


def run(task: str, metric: str) -> EvalRun:
    return EvalRun("m", "fp32", "cpu", task, "ok", 0.0, 1.0, primary_metric=metric)


def test_perplexities_and_losses_are_lower_is_better():
    for metric in ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert not higher_is_better(run("wikitext", metric), metric)
    assert not higher_is_better(run("t", "eval_loss"), "eval_loss")
    assert not higher_is_better(run("t", "perplexity,none"), "perplexity,none")
    for metric in ("acc", "acc_norm", "exact_match,strict-match", "f1"):
        assert higher_is_better(run("t", metric), metric)


def config(label, figures, tok_s=10.0, peak=100.0, first=None) -> Configuration:
    return Configuration(
        label,
        "transformers",
        "fp32",
        "cpu",
        label,
        figures={
            task: TaskFigure(task, metric, value, higher_is_better(run(task, metric), metric))
            for task, (metric, value) in figures.items()
        },
        tok_s=tok_s,
        peak_mb=peak,
        first_token_ms=first,
    )


def test_a_lower_perplexity_is_the_better_quality():
    low = config("low", {"wikitext": ("word_perplexity", 20.0)})
    high = config("high", {"wikitext": ("word_perplexity", 40.0)})
    choice = choose([high, low], ["wikitext"], Limits())
    assert choice.quality_kind == "lower"
    assert [r.config.label for r in choice.frontier] == ["low"]
    assert [(r.config.label, r.by) for r in choice.dominated] == [("high", "low")]


def test_accuracies_average_in_percent():
    a = config("a", {"arc_easy": ("acc", 0.5), "piqa": ("acc", 0.7)})
    choice = choose([a], ["arc_easy", "piqa"], Limits())
    assert choice.quality_kind == "percent"
    assert choice.frontier[0].quality == 60.0


def test_mixed_directions_use_rank_scores():
    # a: best accuracy, worst perplexity; b: the reverse; c: worst on both
    a = config("a", {"arc_easy": ("acc", 0.6), "wikitext": ("word_perplexity", 30.0)})
    b = config("b", {"arc_easy": ("acc", 0.5), "wikitext": ("word_perplexity", 20.0)})
    c = config("c", {"arc_easy": ("acc", 0.4), "wikitext": ("word_perplexity", 40.0)})
    choice = choose([a, b, c], ["arc_easy", "wikitext"], Limits())
    assert choice.quality_kind == "rank"
    scores = {r.config.label: r.quality for r in (*choice.frontier, *choice.dominated)}
    # a: 100 on ARC-e (beats both), 50 on wikitext (beats c); b: 50 and 100; c: 0 and 0
    assert scores == {"a": 75.0, "b": 75.0, "c": 0.0}
    assert [r.config.label for r in choice.frontier] == ["a", "b"]
    assert [(r.config.label, r.by) for r in choice.dominated] == [("c", "a")]


def test_a_configuration_missing_a_task_is_listed_apart_never_averaged():
    full = config("full", {"arc_easy": ("acc", 0.4), "piqa": ("acc", 0.6)})
    part = config("part", {"arc_easy": ("acc", 0.9)})
    slow = config("no speed", {"arc_easy": ("acc", 0.4), "piqa": ("acc", 0.6)}, tok_s=None)
    choice = choose([full, part, slow], ["arc_easy", "piqa"], Limits())
    assert [r.config.label for r in choice.frontier] == ["full"]
    left = {x.config.label: x for x in choice.incomplete}
    assert left["part"].missing == ("piqa",) and "no PIQA" in left["part"].why
    assert left["no speed"].why == "no decode speed"


def test_limits_leave_configurations_out_and_say_why():
    big = config("big", {"arc_easy": ("acc", 0.6)}, tok_s=50.0, peak=3000.0)
    slow = config("slow", {"arc_easy": ("acc", 0.5)}, tok_s=2.0, peak=200.0)
    late = config("late", {"arc_easy": ("acc", 0.45)}, tok_s=30.0, peak=300.0, first=900.0)
    fine = config("fine", {"arc_easy": ("acc", 0.4)}, tok_s=20.0, peak=300.0, first=100.0)
    limits = Limits(max_memory_mb=1000, min_tok_s=5, max_first_token_ms=500)
    choice = choose([big, slow, late, fine], ["arc_easy"], limits)
    assert [r.config.label for r in choice.frontier] == ["fine"]
    why = {x.config.label: x.why for x in choice.over_limits}
    assert why == {
        "big": "peak 3,000 MB is over 1,000 MB",
        "slow": "2.0 tok/s is under 5",
        "late": "first token 900 ms is over 500 ms",
    }


def test_without_any_task_measured_every_configuration_is_incomplete():
    speed_only = config("speed only", {})
    choice = choose([speed_only], [], Limits())
    assert choice.frontier == [] and [x.why for x in choice.incomplete] == ["no task measured"]
