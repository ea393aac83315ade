"""The whole answer for one machine, read from the results store: the choice (front,
dominated, incomplete, over the limits) and, for this machine, what is not measured yet;
as a dict for `pick --json` and as Markdown like the other tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.entries import Catalog
from engine.pick.candidates import Configuration, default_tasks, machines, measured
from engine.pick.choice import Choice, Left, Limits, Ranked, choose
from engine.pick.missing import Unmeasured, unmeasured
from engine.results.store import ResultsStore
from engine.task_registry import short_name

QUALITY_TITLES = {
    "percent": "mean of the tasks' main metrics, %, higher is better",
    "lower": "mean of the tasks' main metrics, lower is better",
    "rank": "mean rank score over the tasks (they mix directions), higher is better",
}


@dataclass(frozen=True)
class PickReport:
    machine: str
    here: bool  # the machine is this one (speed and the unmeasured list exist only here)
    machines: list[str]
    choice: Choice
    unmeasured: list[Unmeasured] = field(default_factory=list)

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.choice.tasks

    def to_dict(self) -> dict[str, Any]:
        limits = self.choice.limits
        return {
            "machine": self.machine,
            "tasks": list(self.tasks),
            "quality": {
                "kind": self.choice.quality_kind,
                "means": QUALITY_TITLES[self.choice.quality_kind],
            },
            "limits": {
                "max_memory_mb": limits.max_memory_mb,
                "min_tok_s": limits.min_tok_s,
                "max_first_token_ms": limits.max_first_token_ms,
            },
            "frontier": [_ranked(r) for r in self.choice.frontier],
            "dominated": [_ranked(r) for r in self.choice.dominated],
            "incomplete": [_left(x) for x in self.choice.incomplete],
            "over_limits": [_left(x) for x in self.choice.over_limits],
            "unmeasured": [
                {
                    "model": u.model,
                    "runtime": u.runtime,
                    "precision": u.precision,
                    "device": u.device,
                    "estimate_mb": u.estimate_mb,
                    "on_disk": u.on_disk,
                }
                for u in self.unmeasured
            ],
        }

    def to_markdown(self) -> str:
        choice = self.choice
        tasks = ", ".join(short_name(t) for t in self.tasks) or "none"
        lines = [
            f"## Which configuration for {self.machine}",
            "",
            f"Tasks: {tasks}. Quality: {QUALITY_TITLES[choice.quality_kind]}.",
            f"Limits: {limits_text(choice.limits)}.",
            "",
            "| # | configuration | quality | tok/s | peak MB | beaten by |",
            "|---:|---|---:|---:|---:|---|",
        ]
        for n, r in enumerate(choice.frontier, 1):
            lines.append(_md_row(str(n), r))
        for r in choice.dominated:
            lines.append(_md_row("", r))
        for title, items in (
            ("Incomplete", choice.incomplete),
            ("Over the limits", choice.over_limits),
        ):
            if items:
                lines += ["", f"{title}:", ""]
                lines += [f"- {_md(x.config.label)}: {x.why}" for x in items]
        if self.unmeasured:
            lines += ["", "Not measured yet (estimates, not measurements):", ""]
            lines += [
                f"- {_md(u.model)} · {u.runtime} {u.precision}: about {u.estimate_mb:,.0f} MB"
                + ("" if u.on_disk else " (not downloaded)")
                for u in self.unmeasured
            ]
        return "\n".join(lines) + "\n"


def limits_text(limits: Limits) -> str:
    parts = [
        "memory "
        + (f"≤ {limits.max_memory_mb:,.0f} MB" if limits.max_memory_mb is not None else "any"),
        f"≥ {limits.min_tok_s:g} tok/s",
    ]
    if limits.max_first_token_ms is not None:
        parts.append(f"first token ≤ {limits.max_first_token_ms:,.0f} ms")
    return ", ".join(parts)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_row(number: str, r: Ranked) -> str:
    c = r.config
    return (
        f"| {number} | {_md(c.label)} | {r.quality:.1f} | {c.tok_s or 0:.1f} | "
        f"{c.peak_mb or 0:,.0f} | {_md(r.by or '')} |"
    )


def _base(c: Configuration) -> dict[str, Any]:
    return {
        "label": c.label,
        "model": c.model,
        "runtime": c.runtime,
        "precision": c.precision,
        "device": c.device,
    }


def _ranked(r: Ranked) -> dict[str, Any]:
    c = r.config
    out = _base(c) | {
        "quality": r.quality,
        "tok_s": c.tok_s,
        "peak_mb": c.peak_mb,
        "first_token_ms": c.first_token_ms,
    }
    if r.by is not None:
        out["by"] = r.by
    return out


def _left(x: Left) -> dict[str, Any]:
    c = x.config
    return _base(c) | {
        "why": x.why,
        "missing_tasks": list(x.missing),
        "tok_s": c.tok_s,
        "peak_mb": c.peak_mb,
    }


def pick_report(
    store: ResultsStore,
    catalog: Catalog | None,
    *,
    here: str,
    machine: str | None = None,
    tasks: Sequence[str] | None = None,
    limits: Limits | None = None,
    device: str = "auto",
) -> PickReport:
    """Read the store and answer for ``machine`` (default: this one, ``here``). ``tasks``
    default to those measured on the most configurations; ``catalog`` None leaves out the
    unmeasured list (it is only made for this machine)."""
    evals = store.eval_runs(status="ok")
    machine = machine or here
    speeds = store.speed_runs()  # counted for this machine only (candidates.measured)
    names = _names(catalog)
    configs = measured(evals, speeds, machine=machine, here=here, names=names)
    chosen = tuple(tasks) if tasks else default_tasks(configs)
    limits = limits or Limits()
    choice = choose(configs, chosen, limits)
    todo: list[Unmeasured] = []
    if catalog is not None and machine == here:
        complete = {r.config.key for r in (*choice.frontier, *choice.dominated)}
        complete |= {x.config.key for x in choice.over_limits}
        todo = unmeasured(catalog, complete, max_memory_mb=limits.max_memory_mb, device=device)
    return PickReport(machine, machine == here, machines(evals, here), choice, todo)


def _names(catalog: Catalog | None) -> dict[str, str]:
    if catalog is None:
        return {}
    return {e.id: (e.repo or e.name).split("/")[-1] for e in catalog}
