"""`smollm-tui arena` as a subprocess with two real workers, its one-line refusals, and
`smollm-tui report --arena` from votes in a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.results.arena import ArenaVote, add_vote
from engine.results.store import ResultsStore
from tui.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_json_has_both_sides_with_text_stats_and_load(cli_env, tiny_catalog):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--catalog",
            str(tiny_catalog),
            "arena",
            "tiny-llama",
            "tiny-llama",
            "Hello",
            "--precision-a",
            "fp32",
            "--precision-b",
            "bf16",
            "--temperature",
            "0",
            "--max-new-tokens",
            "5",
            "--json",
        ],
        cwd=REPO_ROOT,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for side, dtype in (("a", "float32"), ("b", "bfloat16")):
        assert data[side]["text"] and data[side]["error"] is None
        assert data[side]["stats"]["new_tokens"] == 5
        assert data[side]["stats"]["stop_reason"] == "length"
        assert data[side]["load"]["dtype"] == dtype
    assert data["b"]["config"]["precision"] == "bf16"
    assert data["settings"]["temperature"] == 0.0 and isinstance(data["plan"]["together"], bool)


@pytest.mark.parametrize(
    "args, words",
    [
        (["tiny-llama", "tiny-llama", ""], "prompt is empty"),
        (["tiny-llama", "no-such-model", "hi"], "unknown model 'no-such-model'"),
        (["tiny-llama", "tiny-llama", "hi", "--top-p", "3"], "top_p must be in"),
        (["tiny-llama", "phonelm-0.5b", "hi"], "--trust-remote-code"),
    ],
)
def test_bad_input_gives_one_message_and_exit_2(args, words, tiny_catalog, capsys):
    assert main(["--catalog", str(tiny_catalog), "arena", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_the_generation_options_are_generates_own(tiny_catalog, capsys):
    from tui.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        [
            "arena",
            "x",
            "y",
            "p",
            "--max-new-tokens",
            "7",
            "--seed",
            "3",
            "--stop",
            "END",
            "--raw",
            "--system",
            "be brief",
        ]
    )
    assert (args.max_new_tokens, args.seed, args.stop, args.raw, args.system) == (
        7,
        3,
        ["END"],
        True,
        "be brief",
    )
    generate_help = parser.parse_args(["generate", "p"])
    assert args.temperature == generate_help.temperature  # the same defaults


def store_votes(outcomes: list[tuple[str, str, str]]) -> None:
    with ResultsStore() as store:
        for a, b, outcome in outcomes:
            add_vote(store, ArenaVote(prompt="p", outcome=outcome, player_a=a, player_b=b))


def test_report_arena_prints_the_leaderboard_with_its_method(capsys):
    assert main(["report", "--arena"]) == 2  # no votes yet: one line saying what to do
    assert "no arena votes stored yet" in capsys.readouterr().err
    fp32, int8 = "m · fp32 · transformers", "m · int8 · transformers"
    store_votes([(fp32, int8, "a")] * 3 + [(int8, fp32, "a")])
    assert main(["report", "--arena"]) == 0
    out = capsys.readouterr().out
    assert "Bradley–Terry" in out and "200 bootstrap resamples" in out
    rows = [line for line in out.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert rows[0].startswith("| 1 | m · fp32 · transformers | 1095 |")
    assert rows[1].startswith("| 2 | m · int8 · transformers | 905 |")
    assert main(["report", "--arena", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["player"] for s in data["standings"]] == [fp32, int8]


def test_a_pair_that_does_not_fit_together_answers_in_turns(tiny_catalog, capsys, monkeypatch):
    import engine.chat.arena
    from engine.chat.arena import PairPlan

    monkeypatch.setattr(
        engine.chat.arena,
        "plan_pair",
        lambda entries, configs: PairPlan(False, (400.0, 400.0), 500.0),
    )
    code = main(
        [
            "--catalog",
            str(tiny_catalog),
            "arena",
            "tiny-llama",
            "tiny-llama",
            "Hi",
            "--precision-b",
            "bf16",
            "--temperature",
            "0",
            "--max-new-tokens",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "one after the other" in captured.err
    out = captured.out
    assert out.index("── A · tiny-llama · auto ──") < out.index("── B · tiny-llama · bf16 ──")
    assert out.count("3 new tokens") == 2 and "tiny-llama bfloat16 on cpu" in out
