"""Which configuration for my board: the measured configurations under the user's limits
split into the Pareto front (engine.pick.frontier), the dominated ones (each naming the
one that beats it), the incomplete ones (a task or the speed missing: never averaged over
fewer tasks) and those over a limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.pick.candidates import Configuration
from engine.pick.frontier import Point, pareto_front
from engine.pick.quality import QualityKind, oriented, qualities
from engine.task_registry import short_name


@dataclass(frozen=True)
class Limits:
    max_memory_mb: float | None = None  # None: no memory limit
    min_tok_s: float = 0.0
    max_first_token_ms: float | None = None

    def why_over(self, config: Configuration) -> str | None:
        """Why ``config`` breaks a limit (it has tok/s and peak memory), or None."""
        assert config.tok_s is not None and config.peak_mb is not None
        if self.max_memory_mb is not None and config.peak_mb > self.max_memory_mb:
            return f"peak {config.peak_mb:,.0f} MB is over {self.max_memory_mb:,.0f} MB"
        if config.tok_s < self.min_tok_s:
            return f"{config.tok_s:.1f} tok/s is under {self.min_tok_s:g}"
        if self.max_first_token_ms is not None:
            if config.first_token_ms is None:
                return "its first-token time was not measured"
            if config.first_token_ms > self.max_first_token_ms:
                return (
                    f"first token {config.first_token_ms:,.0f} ms is over "
                    f"{self.max_first_token_ms:,.0f} ms"
                )
        return None


@dataclass(frozen=True)
class Ranked:
    """A configuration with its quality on the chosen tasks."""

    config: Configuration
    quality: float
    by: str | None = None  # for a dominated one: the label of a front one that beats it


@dataclass(frozen=True)
class Left:
    """A configuration left out of the comparison, and why."""

    config: Configuration
    why: str
    missing: tuple[str, ...] = ()  # the chosen tasks it has no figure for


@dataclass(frozen=True)
class Choice:
    tasks: tuple[str, ...]
    quality_kind: QualityKind
    limits: Limits
    frontier: list[Ranked] = field(default_factory=list)  # best quality first
    dominated: list[Ranked] = field(default_factory=list)
    incomplete: list[Left] = field(default_factory=list)
    over_limits: list[Left] = field(default_factory=list)


def choose(configs: Sequence[Configuration], tasks: Sequence[str], limits: Limits) -> Choice:
    """The front of ``configs`` on ``tasks`` under ``limits`` (see the module)."""
    tasks = tuple(tasks)
    incomplete: list[Left] = []
    usable: list[Configuration] = []
    for config in configs:
        missing = tuple(t for t in tasks if t not in config.figures)
        gaps = [f"no {', '.join(short_name(t) for t in missing)}"] if missing else []
        if not tasks:
            gaps.append("no task measured")
        if config.tok_s is None:
            gaps.append("no decode speed")
        if config.peak_mb is None and config.tok_s is not None:
            gaps.append("no peak memory")
        if gaps:
            incomplete.append(Left(config, "; ".join(gaps), missing))
        else:
            usable.append(config)
    found, kind = qualities({c.label: c.figures for c in usable}, tasks)
    over: list[Left] = []
    inside: list[Configuration] = []
    for config in usable:
        why = limits.why_over(config)
        if why is None:
            inside.append(config)
        else:
            over.append(Left(config, why))
    by_label = {c.label: c for c in inside}
    points = [
        Point(c.label, oriented(found[c.label], kind), c.tok_s or 0.0, c.peak_mb or 0.0)
        for c in inside
    ]
    front = pareto_front(points)
    return Choice(
        tasks,
        kind,
        limits,
        frontier=[Ranked(by_label[p.label], found[p.label]) for p in front.front],
        dominated=[
            Ranked(by_label[p.label], found[p.label], by=b.label) for p, b in front.dominated
        ],
        incomplete=incomplete,
        over_limits=over,
    )
