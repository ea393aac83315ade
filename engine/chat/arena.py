"""The Arena's plain parts: each side's configuration, whether the pair fits in memory
together, the turns of a round that follow from it, and saving both transcripts. No UI and
no torch: the app and the CLI share them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from engine.catalog.entries import Catalog, ModelEntry
from engine.machine import is_jetson
from engine.memory import fit as memory
from engine.records import LoadInfo
from engine.runtimes import DEFAULT, is_default
from engine.settings import Conversation, GenerationSettings, LoadOptions

SIDES = ("a", "b")


@dataclass(frozen=True)
class SideConfig:
    """How one side runs: the model and its load options. ``runtime`` None is the
    default runtime; another value reaches the load request where it has a runtime."""

    model_id: str
    precision: str = "auto"
    device: str = "auto"
    runtime: str | None = None
    trust_remote_code: bool = False

    @classmethod
    def from_options(cls, options: LoadOptions) -> SideConfig:
        return cls(
            options.model_id,
            options.precision,
            options.device,
            options.runtime,
            options.trust_remote_code,
        )

    def load_options(self, catalog_path: str | None = None) -> LoadOptions:
        """The load request's options."""
        extra: dict[str, Any] = {}
        if self.runtime is not None:
            extra["runtime"] = self.runtime
        return LoadOptions(
            self.model_id,
            precision=self.precision,
            device=self.device,
            trust_remote_code=self.trust_remote_code,
            catalog_path=catalog_path,
            **extra,
        ).validate()

    def label(self) -> str:
        """'tiny-llama · fp32' (the runtime added when one other than auto was chosen)."""
        parts = [self.model_id, self.precision]
        if self.runtime != "auto" and not is_default(self.runtime):
            parts.append(str(self.runtime))
        return " · ".join(parts)

    def record(self, info: LoadInfo | None = None) -> dict[str, Any]:
        """What a vote or a saved transcript keeps of this side: the configuration asked
        for and, once loaded, what really ran (LoadInfo)."""
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "precision": self.precision,
            "device": self.device,
            "runtime": (info.runtime if info else None) or self.runtime or DEFAULT.name,
        }
        if info is not None:
            out.update(
                loaded_precision=info.precision,
                device=info.device,
                device_name=info.device_name,
                revision=info.revision,
                size_mb=info.size_mb,
            )
        return out


# ---- memory: together or one after the other --------------------------------------------


@dataclass(frozen=True)
class PairPlan:
    """Whether both sides may be loaded at once. needs: MB per side (None = unknown)."""

    together: bool
    needs: tuple[float | None, float | None]
    available_mb: float | None

    def describe(self) -> str:
        need = " + ".join("?" if n is None else f"{n:,.0f}" for n in self.needs)
        free = "unknown" if self.available_mb is None else f"{self.available_mb:,.0f} MB"
        if self.together:
            return f"both at once: about {need} MB needed, {free} available"
        return (
            f"one after the other: about {need} MB needed, {free} available; each side "
            "loads, answers and unloads in turn"
        )


RowsFor = Callable[
    ..., list
]  # engine.memory.overview.overview(catalog, precision, device, runtime=)


def plan_pair(
    entries: Sequence[ModelEntry],
    sides: Sequence[SideConfig],
    *,
    rows_for: RowsFor | None = None,
    budget_for: Callable[[str], memory.Budget] = memory.budget,
) -> PairPlan:
    """Both at once when the two sides' needs (as the catalog shows them on each side's
    runtime: measured peak memory when the model ran here at that precision, else the
    estimate) fit the memory
    available together; one after the other when they do not or when either is unknown.
    Sides on different devices of a machine with a discrete GPU are checked each against
    its own device."""
    if rows_for is None:
        from engine.memory.overview import overview

        rows_for = overview
    needs: list[float | None] = []
    budgets: list[memory.Budget] = []
    for entry, side in zip(entries, sides, strict=True):
        # sized on the side's own runtime: the bundled model is ~350 MB on llama.cpp
        # (its Q4_1 file) and ~1.2 GB on transformers (dequantized to fp32)
        rows = rows_for(
            Catalog([entry]), side.precision, side.device, runtime=side.runtime or DEFAULT.name
        )
        needs.append(rows[0].size_mb if rows else None)
        budgets.append(budget_for(side.device))
    pair = (needs[0], needs[1])
    shared = budgets[0].device == budgets[1].device or is_jetson()
    if any(n is None for n in needs) or any(b.available_mb is None for b in budgets):
        return PairPlan(False, pair, budgets[0].available_mb if shared else None)
    if shared:
        available = min(b.available_mb or 0.0 for b in budgets)
        return PairPlan(sum(n or 0.0 for n in needs) <= available, pair, available)
    together = all(
        (n or 0.0) <= (b.available_mb or 0.0) for n, b in zip(needs, budgets, strict=True)
    )
    return PairPlan(together, pair, None)


# ---- turns: the plan applied to a round ---------------------------------------------------

Side = TypeVar("Side")


@dataclass(frozen=True)
class Turn(Generic[Side]):
    """One side's part of a round: load if needed and answer, then end its worker when
    ``unload_after`` (the other side loads next)."""

    side: Side
    unload_after: bool = False


def schedule(
    plan: PairPlan, sides: Sequence[Side], loaded: Callable[[Side], bool] | None = None
) -> list[list[Turn[Side]]]:
    """A round's turns as waves; the turns of one wave run at once, a wave starts when the
    one before has ended. Both sides in one wave when the plan has them together; else one
    side a wave, a side whose model is ``loaded`` first (no load wasted), each worker ended
    after its turn but the last one's (it stays loaded for the next round). The first
    wave is also what loads before any round."""
    if plan.together:
        return [[Turn(side) for side in sides]]
    order = sorted(sides, key=lambda side: not (loaded and loaded(side)))
    return [[Turn(side, unload_after=i < len(order) - 1)] for i, side in enumerate(order)]


# ---- saving the pair ---------------------------------------------------------------------


@dataclass
class SideTranscript:
    """One side of a saved pair: ``name`` is A or B as shown."""

    name: str
    config: dict[str, Any]
    settings: GenerationSettings
    conversation: Conversation
    stats: list[dict[str, Any] | None] = field(default_factory=list)  # one per reply
    raw: bool = False


def save_pair(
    sides: Sequence[SideTranscript], *, blind: bool, now: float | None = None
) -> tuple[Path, Path]:
    """Write <time>-arena-<a>-vs-<b>.md and .json in the transcripts folder, readable by
    their owner only (0600); returns both paths."""
    from engine.chat.transcripts import claim_names, transcripts_dir, write_pair
    from engine.paths import data_dir, make_private_dir

    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    ids = [re.sub(r"[^A-Za-z0-9._-]", "_", str(s.config.get("model_id", "?"))) for s in sides]
    make_private_dir(data_dir())
    folder = make_private_dir(transcripts_dir())
    record = {
        "saved_at": now if now is not None else time.time(),
        "blind": blind,
        "sides": {
            s.name.lower(): {
                "config": s.config,
                "settings": dataclasses.asdict(s.settings),
                "mode": "raw" if s.raw else "chat",
                "system": s.conversation.system,
                "turns": [dataclasses.asdict(t) for t in s.conversation.turns],
                "stats": s.stats,
            }
            for s in sides
        },
    }
    markdown, text = _markdown(sides, blind, now), json.dumps(record, indent=2, default=str)
    md_path, json_path = claim_names(folder, f"{stamp}-arena-{ids[0]}-vs-{ids[1]}")
    write_pair(md_path, json_path, markdown, text)
    return md_path, json_path


def _markdown(sides: Sequence[SideTranscript], blind: bool, now: float | None) -> str:
    from engine.results.arena import player_name

    title = " vs ".join(player_name(s.config) for s in sides)
    lines = [f"# Arena: {title}", "", f"_{time.ctime(now)}{' · blind' if blind else ''}_", ""]
    for side in sides:
        lines += [f"## {side.name}: {player_name(side.config)}", ""]
        replies = iter(side.stats)
        for turn in side.conversation.turns:
            lines += [f"**{turn.role.capitalize()}:**", "", turn.content, ""]
            if turn.role == "assistant":
                stats = next(replies, None)
                if stats:
                    lines += [
                        f"_{stats.get('new_tokens')} tokens · "
                        f"{stats.get('tokens_per_s', 0):.1f} tok/s_",
                        "",
                    ]
    return "\n".join(lines)
