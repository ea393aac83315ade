"""The Pareto front: configurations no other beats on quality, speed and peak memory.

Pure: points in, front and dominated points out. A point's ``score`` is its quality turned
so that bigger is better (engine.pick.quality.oriented).

A dominates B when A is at least as good on all three (score and tok/s no lower, peak
memory no higher) and strictly better on at least one. Two points equal on all three do
not dominate each other: both stay on the front. The front is ordered best quality first,
then faster, then smaller, then by label, so the order never depends on the input's.
A dominated point names the first point of the front, in that order, that dominates it
(there always is one: a point that dominates B is dominated by none or by a front point
that then dominates B as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    label: str  # unique among the points
    score: float  # quality, bigger is better
    tok_s: float
    peak_mb: float


def dominates(a: Point, b: Point) -> bool:
    """Whether ``a`` is at least as good as ``b`` on all three and better on one."""
    no_worse = a.score >= b.score and a.tok_s >= b.tok_s and a.peak_mb <= b.peak_mb
    better = a.score > b.score or a.tok_s > b.tok_s or a.peak_mb < b.peak_mb
    return no_worse and better


def order_key(point: Point) -> tuple[float, float, float, str]:
    """Best quality first, then faster, then smaller, then by label."""
    return (-point.score, -point.tok_s, point.peak_mb, point.label)


@dataclass(frozen=True)
class Front:
    front: list[Point]  # best quality first
    dominated: list[tuple[Point, Point]]  # (point, the front point that beats it)


def pareto_front(points: Sequence[Point]) -> Front:
    """Split ``points`` into the front and the dominated ones (see the module)."""
    ordered = sorted(points, key=order_key)
    front: list[Point] = []
    rest: list[Point] = []
    for point in ordered:
        # A point is dominated only by points earlier in this order (a dominator has a
        # score no lower, and ties are broken towards it by tok/s, then memory).
        if any(dominates(other, point) for other in front):
            rest.append(point)
        else:
            front.append(point)
    dominated = [(p, next(f for f in front if dominates(f, p))) for p in rest]
    return Front(front, dominated)
