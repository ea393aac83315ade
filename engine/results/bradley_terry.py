"""Bradley–Terry strengths from pairwise games, with bootstrap confidence intervals.

A game is (player, opponent, score of player): 1 a win, 0.5 a tie, 0 a loss. The strengths
are the maximum-likelihood estimate found by the minorization–maximization (MM) algorithm
(Hunter 2004, "MM algorithms for generalized Bradley–Terry models"), ties counted as half a
win for each side. Scores are on the Elo scale: 400·log10(strength) + 1000, with the
strengths' geometric mean fixed at 1, so a strength ratio of 10 is 400 points.

The MLE is finite only when the "scored against" graph is strongly connected (every player
won or tied against someone, and lost or tied against someone, through a chain to every
other). When it is not (a player won every game, e.g.), each pair of players gets a tenth
of a virtual tie, which keeps every strength finite and barely moves the others.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BASE_SCORE = 1000.0
SCALE = 400.0
PRIOR_GAMES = 0.1  # virtual tie per pair, only when the MLE would be infinite
_TOLERANCE = 1e-10
_MAX_ITERATIONS = 10_000

Game = tuple[str, str, float]


def fit(games: Iterable[Game]) -> dict[str, float]:
    """Bradley–Terry strengths (geometric mean 1) of every player in ``games``."""
    scored: dict[tuple[str, str], float] = defaultdict(float)  # (i, j): what i scored vs j
    played: dict[tuple[str, str], float] = defaultdict(float)  # (i, j) = (j, i): games
    players: set[str] = set()
    for a, b, score in games:
        if a == b:
            continue  # a player against itself says nothing
        players.update((a, b))
        scored[a, b] += score
        scored[b, a] += 1.0 - score
        played[a, b] += 1.0
        played[b, a] += 1.0
    if not players:
        return {}
    names = sorted(players)
    if not _strongly_connected(names, scored):
        for i in names:
            for j in names:
                if i != j:
                    scored[i, j] += PRIOR_GAMES / 2
                    played[i, j] += PRIOR_GAMES
    return _mm(names, scored, played)


def _strongly_connected(names: list[str], scored: dict[tuple[str, str], float]) -> bool:
    """Whether every player reaches every other along "scored something against" edges."""
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)
    for (i, j), value in scored.items():
        if value > 0:
            forward[i].add(j)
            backward[j].add(i)

    def reach(edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {names[0]}, [names[0]]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    return len(reach(forward)) == len(names) == len(reach(backward))


def _mm(
    names: list[str], scored: dict[tuple[str, str], float], played: dict[tuple[str, str], float]
) -> dict[str, float]:
    wins = {i: sum(scored[i, j] for j in names if j != i) for i in names}
    opponents = {i: [(j, played[i, j]) for j in names if j != i and played[i, j]] for i in names}
    strength = dict.fromkeys(names, 1.0)
    for _ in range(_MAX_ITERATIONS):
        new = {}
        for i in names:
            denominator = sum(n / (strength[i] + strength[j]) for j, n in opponents[i])
            new[i] = wins[i] / denominator if denominator else 1.0
        new = _normalised(new)
        change = max(abs(math.log(new[i] / strength[i])) for i in names)
        strength = new
        if change < _TOLERANCE:
            break
    return strength


def _normalised(strength: dict[str, float]) -> dict[str, float]:
    mean_log = sum(math.log(v) for v in strength.values()) / len(strength)
    return {k: math.exp(math.log(v) - mean_log) for k, v in strength.items()}


def score(strength: float) -> float:
    """A strength on the Elo scale."""
    return BASE_SCORE + SCALE * math.log10(strength)


@dataclass(frozen=True)
class Standing:
    player: str
    score: float  # Elo scale
    strength: float  # geometric mean of all players = 1
    low: float | None  # 95% confidence interval of the score (bootstrap percentiles)
    high: float | None
    games: int
    wins: float  # ties count half
    ties: int


@dataclass(frozen=True)
class Leaderboard:
    standings: list[Standing]
    games: int
    resamples: int
    seed: int

    @property
    def method(self) -> str:
        return method_text(self.resamples, self.seed)


def method_text(resamples: int, seed: int) -> str:
    return (
        f"Bradley–Terry (maximum likelihood, MM algorithm); ties and 'both bad' count "
        f"half a win each; 95% intervals from {resamples} bootstrap resamples "
        f"(seed {seed}); score = 400·log10(strength) + 1000"
    )


def leaderboard(games: Sequence[Game], *, resamples: int = 200, seed: int = 0) -> Leaderboard:
    """Standings, best first, with bootstrap intervals: the games are drawn with
    replacement ``resamples`` times (a seeded generator: the same games give the same
    intervals) and refitted; the interval is the 2.5th–97.5th percentile of the scores."""
    games = [g for g in games if g[0] != g[1]]
    strength = fit(games)
    samples: dict[str, list[float]] = defaultdict(list)
    rng = random.Random(seed)
    if games:
        for _ in range(resamples):
            drawn = [games[rng.randrange(len(games))] for _ in games]
            for player, value in fit(drawn).items():
                samples[player].append(score(value))
    tally: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])  # games, wins, ties
    for a, b, result in games:
        for player, value in ((a, result), (b, 1.0 - result)):
            tally[player][0] += 1
            tally[player][1] += value
            tally[player][2] += result == 0.5
    standings = []
    for player, value in strength.items():
        ordered = sorted(samples[player])
        low = _percentile(ordered, 0.025) if len(ordered) >= 2 else None
        high = _percentile(ordered, 0.975) if len(ordered) >= 2 else None
        played, wins, ties = tally[player]
        standings.append(
            Standing(player, score(value), value, low, high, int(played), wins, int(ties))
        )
    standings.sort(key=lambda s: (-s.score, s.player))
    return Leaderboard(standings, len(games), resamples, seed)


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
