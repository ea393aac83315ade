"""The Arena's engine parts: Bradley–Terry against hand-computed cases, the votes table
(a real SQLite file, migrated from the previous schema), the memory plan, saved pairs."""

from __future__ import annotations

import json
import math
import sqlite3
import stat

import pytest

from engine.catalog.entries import load_catalog
from engine.chat.arena import (
    PairPlan,
    SideConfig,
    SideTranscript,
    Turn,
    plan_pair,
    save_pair,
    schedule,
)
from engine.memory.fit import Budget
from engine.results.arena import (
    ArenaVote,
    add_vote,
    arena_leaderboard,
    games_from,
    player_name,
    render_leaderboard,
    votes,
)
from engine.results.bradley_terry import fit, leaderboard, score
from engine.results.store import MIGRATIONS, SCHEMA_VERSION, ResultsStore
from engine.settings import Conversation, GenerationSettings

# ---- Bradley–Terry ----------------------------------------------------------------------


def test_three_wins_to_one_is_a_strength_ratio_of_three():
    strength = fit([("a", "b", 1.0)] * 3 + [("a", "b", 0.0)])
    assert strength["a"] / strength["b"] == pytest.approx(3.0, rel=1e-9)
    assert strength["a"] * strength["b"] == pytest.approx(1.0)  # geometric mean 1


def test_a_cycle_of_three_equal_players_gives_equal_scores():
    board = leaderboard([("a", "b", 1.0), ("b", "c", 1.0), ("c", "a", 1.0)])
    assert [s.score for s in board.standings] == pytest.approx([1000.0] * 3)


def test_a_chain_whose_counts_match_strengths_4_2_1():
    # a-b 2:1, b-c 2:1, a-c 4:1: strengths 4:2:1 make every expected count equal the
    # observed one (4/6·3 = 2, 2/3·3 = 2, 4/5·5 = 4), so they are the MLE.
    games = (
        [("a", "b", 1.0)] * 2
        + [("b", "a", 1.0)]
        + [("b", "c", 1.0)] * 2
        + [("c", "b", 1.0)]
        + [("a", "c", 1.0)] * 4
        + [("c", "a", 1.0)]
    )
    strength = fit(games)
    assert strength["a"] / strength["c"] == pytest.approx(4.0, rel=1e-6)
    assert strength["b"] / strength["c"] == pytest.approx(2.0, rel=1e-6)


def test_ties_and_both_bad_count_half_a_win_each():
    # one win and two ties for a: a scores 2 of 3, b scores 1 of 3 -> ratio 2
    with_ties = [("a", "b", 1.0), ("a", "b", 0.5), ("b", "a", 0.5)]
    assert fit(with_ties)["a"] / fit(with_ties)["b"] == pytest.approx(2.0)
    as_votes = [ArenaVote("p", outcome, "a", "b") for outcome in ("a", "tie", "both-bad")]
    assert games_from(as_votes) == [("a", "b", 1.0), ("a", "b", 0.5), ("a", "b", 0.5)]


def test_a_player_that_won_every_game_gets_a_finite_score_above_the_other():
    strength = fit([("a", "b", 1.0)] * 4)
    assert math.isfinite(strength["a"]) and strength["a"] > strength["b"] > 0
    # the tenth of a virtual tie per pair: (4 + 0.05) / 0.05 = 81
    assert strength["a"] / strength["b"] == pytest.approx(81.0)


def test_bootstrap_intervals_are_seeded_and_surround_the_estimate():
    games = (
        [("a", "b", 1.0)] * 6
        + [("b", "a", 1.0)] * 3
        + [("a", "c", 0.5)] * 2
        + [("c", "b", 1.0)] * 2
        + [("b", "c", 1.0)]
    )
    one, two = leaderboard(games, seed=3), leaderboard(games, seed=3)
    assert one == two
    assert leaderboard(games, seed=4) != one
    for s in one.standings:
        assert s.low is not None and s.high is not None
        assert s.low <= s.score <= s.high
    top = one.standings[0]
    assert (top.player, top.games, top.wins, top.ties) == ("a", 11, 7.0, 2)
    assert score(10.0) - score(1.0) == pytest.approx(400.0)
    assert "Bradley–Terry" in one.method and "200 bootstrap resamples" in one.method


def test_no_games_is_an_empty_leaderboard():
    assert leaderboard([]).standings == []
    assert leaderboard([("a", "a", 1.0)]).standings == []


# ---- the votes table ----------------------------------------------------------------------


def vote(
    outcome: str,
    a: str = "tiny-llama · fp32 · transformers",
    b: str = "tiny-llama · bf16 · transformers",
) -> ArenaVote:
    return ArenaVote(
        prompt="Hello [b]there[/b]",
        outcome=outcome,
        player_a=a,
        player_b=b,
        config_a={"model_id": "tiny-llama", "precision": "fp32"},
        config_b={"model_id": "tiny-llama", "precision": "bf16"},
        settings_a={"temperature": 0.0},
        settings_b={"temperature": 0.7},
        reply_a="one",
        reply_b="two",
    )


def test_votes_are_stored_with_prompt_settings_and_configurations(app_home):
    with ResultsStore() as store:
        first = add_vote(store, vote("a"))
        add_vote(store, vote("both-bad"))
        with pytest.raises(ValueError, match="outcome must be one of"):
            add_vote(store, vote("a is great"))
    with ResultsStore() as store:  # read back from the file
        stored = votes(store)
    assert [v.id for v in stored][0] == first and [v.outcome for v in stored] == ["a", "both-bad"]
    assert stored[0].prompt == "Hello [b]there[/b]" and stored[0].blind is True
    assert stored[0].settings_b == {"temperature": 0.7}
    assert stored[0].config_b["precision"] == "bf16" and stored[0].reply_a == "one"


def test_the_store_of_the_previous_schema_gains_the_votes_table(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[:-1]) + f"; PRAGMA user_version={SCHEMA_VERSION - 1};")
    db.close()
    with ResultsStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        add_vote(store, vote("tie"))
        assert len(votes(store)) == 1


def test_a_damaged_row_keeps_its_plain_columns(app_home):
    with ResultsStore() as store:
        add_vote(store, vote("b"))
        store.db.execute("UPDATE arena_votes SET config_a='{not json'")
        store.db.execute(
            "INSERT INTO arena_votes (created, prompt, outcome, player_a, "
            "player_b) VALUES (4e9, 'p', 'from-the-future', 'x', 'y')"
        )
        store.db.commit()
        [damaged, future] = votes(store)
        assert damaged.config_a == {} and damaged.player_a.startswith("tiny-llama")
        board = arena_leaderboard(store)
    assert [s.player for s in board.standings] == [
        "tiny-llama · bf16 · transformers",
        "tiny-llama · fp32 · transformers",
    ]
    assert future.outcome == "from-the-future" and future.reply_a == ""  # kept, not counted


def test_rendered_leaderboard_names_the_method_in_every_format():
    board = leaderboard(games_from([vote("a"), vote("a"), vote("a"), vote("b")]))
    md = render_leaderboard(board, "md")
    assert "Bradley–Terry" in md and "| 1 | tiny-llama · fp32 · transformers | 1095 |" in md
    data = json.loads(render_leaderboard(board, "json"))
    assert data["standings"][0]["score"] == pytest.approx(1000 + 200 * math.log10(3), abs=0.1)
    assert "Bradley–Terry" in data["method"]
    csv_text = render_leaderboard(board, "csv")
    assert csv_text.startswith("# Bradley–Terry") and "rank,player,score" in csv_text


def test_player_names_use_what_really_ran():
    assert (
        player_name({"model_id": "m", "precision": "auto", "loaded_precision": "fp32"})
        == "m · fp32 · transformers"
    )
    assert (
        player_name({"model_id": "m", "precision": "int8", "runtime": "llama.cpp"})
        == "m · int8 · llama.cpp"
    )


# ---- sides, memory plan, saved pairs --------------------------------------------------------


def test_each_side_carries_its_runtime_to_the_load():
    assert SideConfig("tiny-llama", runtime="llama.cpp").load_options().runtime == "llama.cpp"
    options = SideConfig("tiny-llama", "fp32", runtime="transformers").load_options()
    assert (options.precision, options.runtime) == ("fp32", "transformers")


def plan_with(needs, available, devices=("cpu", "cpu")):
    catalog = load_catalog(None, use_user_overlay=False)
    entries = [catalog.get("smollm2-135m-instruct"), catalog.get("pythia-160m")]
    sizes = dict(zip([e.id for e in entries], needs, strict=True))

    class Row:
        def __init__(self, size):
            self.size_mb = size

    def rows_for(sub, precision, device, runtime):
        return [Row(sizes[next(iter(sub)).id])]

    sides = [SideConfig(e.id, device=d) for e, d in zip(entries, devices, strict=True)]
    return plan_pair(
        entries,
        sides,
        rows_for=rows_for,
        budget_for=lambda device: Budget(device, available[device], 8000.0, "t"),
    )


def test_the_pair_runs_together_only_when_both_needs_fit_the_budget():
    assert plan_with((900.0, 1000.0), {"cpu": 2000.0}) == PairPlan(True, (900.0, 1000.0), 2000.0)
    apart = plan_with((900.0, 1200.0), {"cpu": 2000.0})
    assert not apart.together and "one after the other" in apart.describe()
    assert not plan_with((None, 100.0), {"cpu": 2000.0}).together  # unknown: be careful
    assert not plan_with((100.0, 100.0), {"cpu": None}).together
    # a discrete GPU and the CPU: each against its own memory
    assert plan_with(
        (900.0, 1200.0), {"cpu": 1300.0, "cuda": 1000.0}, devices=("cuda", "cpu")
    ).together


def test_a_round_runs_both_at_once_or_the_loaded_side_first_then_the_other():
    together, apart = PairPlan(True, (1.0, 1.0), 8.0), PairPlan(False, (5.0, 5.0), 8.0)
    assert schedule(together, ["a", "b"]) == [[Turn("a"), Turn("b")]]
    # one after the other: each side its own wave, ended after its turn but the last
    assert schedule(apart, ["a", "b"]) == [[Turn("a", unload_after=True)], [Turn("b")]]
    # the side whose model is loaded goes first: no load wasted, and it is ended for the other
    assert schedule(apart, ["a", "b"], loaded=lambda side: side == "b") == [
        [Turn("b", unload_after=True)],
        [Turn("a")],
    ]
    assert schedule(apart, ["b"]) == [[Turn("b")]]  # one side left: it stays loaded


def test_each_side_is_sized_on_its_own_runtime():
    """One model on two runtimes: the bundled model's Q4_1 file on llama.cpp needs a
    fraction of its dequantized fp32 copy on transformers, and the plan adds those two
    needs (as the catalog shows them), not the transformers size twice."""
    from llama_support import BUNDLED, require_llama_cpp

    from engine.catalog.entries import Catalog
    from engine.memory.overview import overview

    require_llama_cpp()
    entry = load_catalog(None, use_user_overlay=False).get(BUNDLED)
    sides = [SideConfig(BUNDLED, runtime="transformers"), SideConfig(BUNDLED, runtime="llama.cpp")]
    plan = plan_pair(
        [entry, entry], sides, budget_for=lambda device: Budget(device, 1000.0, 8000.0, "t")
    )
    [on_t] = overview(Catalog([entry]), "auto", "auto", runtime="transformers")
    [on_l] = overview(Catalog([entry]), "auto", "auto", runtime="llama.cpp")
    assert plan.needs == (on_t.size_mb, on_l.size_mb)
    assert on_l.size_mb is not None and on_t.size_mb is not None
    assert on_l.size_mb < on_t.size_mb / 2


def test_a_saved_pair_is_markdown_and_json_readable_by_its_owner_only(app_home):
    conversation = Conversation().add("user", "Hi").add("assistant", "Hello!")
    sides = [
        SideTranscript(
            "A",
            {"model_id": "qwen2.5-0.5b", "precision": "fp32"},
            GenerationSettings(temperature=0.0),
            conversation,
            [{"new_tokens": 2, "tokens_per_s": 10.0}],
        ),
        SideTranscript(
            "B",
            {"model_id": "tiny/llama", "precision": "int8"},
            GenerationSettings(),
            conversation,
            [None],
        ),
    ]
    md, js = save_pair(sides, blind=True, now=1_763_900_000.0)
    assert md.name.endswith("-arena-qwen2.5-0.5b-vs-tiny_llama.md")
    for path in (md, js):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = md.read_text()
    assert "## A: qwen2.5-0.5b · fp32 · transformers" in text and "2 tokens" in text
    data = json.loads(js.read_text())
    assert data["blind"] is True and data["sides"]["b"]["config"]["precision"] == "int8"
    assert data["sides"]["a"]["settings"]["temperature"] == 0.0
    assert [t["role"] for t in data["sides"]["a"]["turns"]] == ["user", "assistant"]
