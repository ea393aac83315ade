"""Arena votes in the results store, and the leaderboard made from them.

A vote names the two sides as they were shown ("a" first, "b" second), each with its
player (the configuration that is ranked: model, precision, runtime), its full
configuration and its generation settings, with the prompt, both replies and the outcome.
The table comes from the arena_votes migration in engine.results.store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from engine import __version__
from engine.results.bradley_terry import Game, Leaderboard, leaderboard

OUTCOMES = ("a", "b", "tie", "both-bad")
OUTCOME_LABELS = {"a": "A is better", "b": "B is better", "tie": "tie", "both-bad": "both are bad"}
# What the side shown as A scored. "both bad" is a tie: neither answer beat the other.
_SCORE_OF_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both-bad": 0.5}

_COLUMNS = (
    "created",
    "blind",
    "prompt",
    "outcome",
    "player_a",
    "player_b",
    "config_a",
    "config_b",
    "settings_a",
    "settings_b",
    "reply_a",
    "reply_b",
    "app_version",
)


@dataclass(frozen=True)
class ArenaVote:
    prompt: str
    outcome: str  # one of OUTCOMES
    player_a: str
    player_b: str
    config_a: dict[str, Any] = field(default_factory=dict)
    config_b: dict[str, Any] = field(default_factory=dict)
    settings_a: dict[str, Any] = field(default_factory=dict)
    settings_b: dict[str, Any] = field(default_factory=dict)
    reply_a: str = ""
    reply_b: str = ""
    blind: bool = True
    created: float = 0.0
    app_version: str | None = None
    id: int | None = None


def player_name(config: dict[str, Any]) -> str:
    """The ranked identity of a side: 'model · precision · runtime'."""
    precision = config.get("loaded_precision") or config.get("precision") or "auto"
    runtime = config.get("runtime") or "transformers"
    return f"{config.get('model_id', '?')} · {precision} · {runtime}"


def add_vote(store: Any, vote: ArenaVote) -> int:
    """Store ``vote`` in ``store`` (a ResultsStore); returns its id."""
    if vote.outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {vote.outcome!r}")
    row = dict(vote.__dict__)
    for key in ("config_a", "config_b", "settings_a", "settings_b"):
        row[key] = json.dumps(row[key], sort_keys=True, default=str)
    row["blind"] = int(vote.blind)
    row["created"] = vote.created or time.time()
    row["app_version"] = vote.app_version or __version__
    with store.db:
        cursor = store.db.execute(
            f"INSERT INTO arena_votes ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))})",
            [row[c] for c in _COLUMNS],
        )
    return int(cursor.lastrowid)


def votes(store: Any) -> list[ArenaVote]:
    """Every vote, oldest first. A row whose JSON is damaged keeps its plain columns."""
    out = []
    for row in store.db.execute("SELECT * FROM arena_votes ORDER BY created, id"):
        data = {k: row[k] for k in row.keys()}
        for key in ("config_a", "config_b", "settings_a", "settings_b"):
            data[key] = _json_dict(data[key])
        data["blind"] = bool(data["blind"])
        data["reply_a"], data["reply_b"] = data["reply_a"] or "", data["reply_b"] or ""
        out.append(ArenaVote(**data))
    return out


def _json_dict(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def games_from(all_votes: list[ArenaVote]) -> list[Game]:
    """The votes as Bradley–Terry games; outcomes this version does not know are left out."""
    return [
        (v.player_a, v.player_b, _SCORE_OF_A[v.outcome])
        for v in all_votes
        if v.outcome in _SCORE_OF_A
    ]


def arena_leaderboard(store: Any, *, resamples: int = 200, seed: int = 0) -> Leaderboard:
    """The leaderboard of every stored vote (see engine.results.bradley_terry)."""
    return leaderboard(games_from(votes(store)), resamples=resamples, seed=seed)


def leaderboard_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """Plain rows for tables and JSON: rank, player, score, interval, games, wins, ties."""
    rows = []
    for rank, s in enumerate(board.standings, 1):
        rows.append(
            {
                "rank": rank,
                "player": s.player,
                "score": round(s.score, 1),
                "ci_low": None if s.low is None else round(s.low, 1),
                "ci_high": None if s.high is None else round(s.high, 1),
                "strength": round(s.strength, 4),
                "games": s.games,
                "wins": s.wins,
                "ties": s.ties,
            }
        )
    return rows


def interval_text(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{low:.0f}–{high:.0f}"


def render_leaderboard(board: Leaderboard, fmt: str = "md") -> str:
    """The leaderboard as Markdown, CSV or JSON text, the method named in each."""
    rows = leaderboard_rows(board)
    if fmt == "json":
        return (
            json.dumps(
                {
                    "method": board.method,
                    "games": board.games,
                    "resamples": board.resamples,
                    "seed": board.seed,
                    "standings": rows,
                },
                indent=2,
            )
            + "\n"
        )
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(rows[0]) if rows else ["rank"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        return f"# {board.method}\n" + buffer.getvalue()
    lines = [
        "## Arena leaderboard",
        "",
        f"_{board.method}; {board.games} vote(s)_",
        "",
        "| # | model · precision · runtime | score | 95% interval | games | wins | ties |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        player = row["player"].replace("|", "\\|")
        lines.append(
            f"| {row['rank']} | {player} | {row['score']:.0f} | "
            f"{interval_text(row['ci_low'], row['ci_high'])} | {row['games']} | "
            f"{row['wins']:g} | {row['ties']} |"
        )
    return "\n".join(lines) + "\n"
