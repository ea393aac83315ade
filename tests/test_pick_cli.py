"""`smollm-tui pick`: on a real results store holding the bundled model in three
configurations, OPT-125m and a tiny model, the JSON lists exactly the configurations no
other beats (the front is computed here again, independently), each dominated one names
one that beats it, and the limits, other machines and bad input behave."""

from __future__ import annotations

import json
import subprocess
import sys

from pick_fixtures import CONFIGS, fill_pick_store, pick_runs

from engine.results.store import ResultsStore
from tui.cli import main

KEYS = {"label", "model", "runtime", "precision", "device", "quality", "tok_s", "peak_mb"}


def pick_json(capsys, *args: str) -> dict:
    assert main(["pick", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def expected(max_memory: float | None = None) -> tuple[set, dict]:
    """The front and the dominated ones of CONFIGS on ARC-e and PIQA, by brute force."""
    points = {}
    for model, runtime, precision, accs, tps, peak, _ in CONFIGS:
        if tps is None or set(accs) != {"arc_easy", "piqa"}:
            continue
        if max_memory is not None and peak > max_memory:
            continue
        points[(model, runtime, precision)] = (sum(accs.values()) * 100 / 2, tps, peak)

    def beats(b, a):
        return b[0] >= a[0] and b[1] >= a[1] and b[2] <= a[2] and b != a

    front = {k for k, p in points.items() if not any(beats(q, p) for q in points.values())}
    return front, points


def key(row: dict) -> tuple:
    return (row["model"], row["runtime"], row["precision"])


def test_json_lists_exactly_the_configurations_no_other_beats(capsys):
    fill_pick_store()
    data = pick_json(capsys, "--max-memory", "4000")
    front, points = expected()
    assert data["tasks"] == ["arc_easy", "piqa"]  # measured on the most configurations
    assert {key(r) for r in data["frontier"]} == front
    assert {key(r) for r in data["dominated"]} == set(points) - front
    assert [r["quality"] for r in data["frontier"]] == sorted(
        (r["quality"] for r in data["frontier"]), reverse=True
    )
    labels = {r["label"]: key(r) for r in data["frontier"]}
    for row in data["dominated"]:
        by = points[labels[row["by"]]]
        mine = points[key(row)]
        assert by[0] >= mine[0] and by[1] >= mine[1] and by[2] <= mine[2]
    for row in data["frontier"] + data["dominated"]:
        assert KEYS <= set(row)
    assert data["frontier"][0]["label"] == "SmolLM2-135M-Instruct · transformers fp32"
    assert data["limits"]["max_memory_mb"] == 4000
    # Pythia-160M has BoolQ only: listed apart, not averaged over fewer tasks
    assert [(r["model"], r["missing_tasks"]) for r in data["incomplete"]] == [
        ("pythia-160m", ["arc_easy", "piqa"])
    ]
    # estimates never mix with measurements
    measured = {(r["model"], r["runtime"], r["precision"]) for r in data["frontier"]}
    for row in data["unmeasured"]:
        assert {"model", "runtime", "precision", "estimate_mb"} <= set(row)
        assert (row["model"], row["runtime"], row["precision"]) not in measured
        assert row["estimate_mb"] <= 4000


def test_a_memory_limit_changes_the_front(capsys):
    fill_pick_store()
    data = pick_json(capsys, "--max-memory", "1000", "--tasks", "ARC-e,piqa")
    front, points = expected(max_memory=1000)
    assert {key(r) for r in data["frontier"]} == front
    over = {r["model"] + " " + r["precision"]: r["why"] for r in data["over_limits"]}
    assert over == {
        "smollm2-135m-instruct fp32": "peak 1,180 MB is over 1,000 MB",
        "opt-125m fp32": "peak 1,500 MB is over 1,000 MB",
    }


def test_min_tok_s_and_first_token_limits(capsys):
    fill_pick_store()
    data = pick_json(capsys, "--min-tok-s", "100", "--max-first-token", "5", "--max-memory", "4000")
    # the tiny model: 400 tok/s, 2 ms; the Q4_1 file is fast enough but 10 ms to the first token
    assert [r["model"] for r in data["frontier"]] == ["tiny-llama"]


def test_other_machines_are_never_mixed_with_this_one(capsys):
    fill_pick_store()
    evals, _ = pick_runs(machine="orin-nano")
    with ResultsStore() as store:
        store.add_evals(evals[:2])  # the bundled Q4_1 file on ARC-e and PIQA, on the board
    data = pick_json(capsys, "--machine", "orin-nano", "--max-memory", "4000")
    assert data["machine"] == "orin-nano" and data["frontier"] == []
    assert [(r["precision"], r["why"]) for r in data["incomplete"]] == [("Q4_1", "no decode speed")]
    assert data["unmeasured"] == []  # estimates are for this machine only
    here = pick_json(capsys, "--max-memory", "4000")
    assert len(here["frontier"]) == 3  # unchanged by the board's rows


def test_unknown_machine_and_bad_limits_are_one_line(capsys):
    fill_pick_store()
    assert main(["pick", "--machine", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "no runs from machine 'nowhere'" in err and "Traceback" not in err
    assert main(["pick", "--max-memory", "-5"]) == 2
    assert "--max-memory must be between" in capsys.readouterr().err


def test_markdown_export_and_table(cli_env, tmp_path):
    fill_pick_store()
    out = tmp_path / "pick.md"
    cmd = [sys.executable, "-m", "tui.cli", "pick", "--max-memory", "4000"]
    done = subprocess.run([*cmd, "--output", str(out)], env=cli_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "| 1 | SmolLM2-135M-Instruct · transformers fp32 | 52.0 | 15.2 | 1,180 |  |" in text
    int8 = "| SmolLM2-135M-Instruct · transformers int8 | 49.5 | 9.1 | 900 |"
    assert f"|  {int8} SmolLM2-135M-Instruct · llama.cpp Q4_1 |" in text
    shown = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "tasks ARC-e, PIQA; limits memory ≤ 4,000 MB" in shown.stdout
    assert "not measured:" in shown.stdout and "estimate" in shown.stdout


def test_measure_refuses_another_machine_and_needs_a_task(capsys):
    fill_pick_store()
    evals, _ = pick_runs(machine="orin-nano")
    with ResultsStore() as store:
        store.add_evals(evals[:2])
    assert main(["pick", "--machine", "orin-nano", "--measure"]) == 2
    assert "--measure measures on this machine" in capsys.readouterr().err
    with ResultsStore() as store:
        store.db.execute("DELETE FROM eval_runs")
        store.db.commit()
    assert main(["pick", "--measure"]) == 2  # speed rows only: no task to measure on
    assert "no task measured yet" in capsys.readouterr().err
