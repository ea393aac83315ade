"""`smollm-tui pick --measure`: one background job measures what is missing and on disk
(a quick evaluation of the chosen tasks and a `bench` decode each), through the real
detached runner and real workers on the tests' tiny model; when it ends, the front is
complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from jobs_fixtures import stop_runners
from tiny_models import overlay_text

from engine.jobs import JobStore
from tui.cli import main

# Under this limit, of what is on disk only the tiny model fits: the bundled model on
# transformers is estimated at about 1.2 GB (llama.cpp is left out below), and the tiny
# one, estimated at 420 MB, peaks at 781 MB measured under a CUDA build of torch on a CPU
# (its CUDA libraries mapped too), so the limit leaves room for that.
LIMIT = ["--max-memory", "1100", "--tasks", "fx_choice2", "--device", "cpu"]


@pytest.fixture
def env(cli_env, monkeypatch):
    cli_env["SMOLLM_TUI_JOB_HEARTBEAT_S"] = "0.2"
    monkeypatch.setenv("SMOLLM_TUI_JOB_HEARTBEAT_S", "0.2")
    # llama.cpp's estimates depend on llama-cpp-python being installed here
    monkeypatch.setattr("engine.runtimes.llamacpp.installed", lambda: False)
    yield cli_env
    stop_runners()


@pytest.fixture
def tiny_only(tiny_llama, tmp_path):
    overlay = tmp_path / "tiny.toml"
    overlay.write_text(overlay_text({"tiny-llama": tiny_llama}), encoding="utf-8")
    return overlay


def pick(capsys, overlay, *args) -> dict:
    assert main(["--catalog", str(overlay), "pick", "--json", *LIMIT, *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_measure_queues_one_job_that_completes_the_front(env, tiny_only, capsys):
    before = pick(capsys, tiny_only)
    on_disk = [u for u in before["unmeasured"] if u["on_disk"]]
    assert [(u["model"], u["runtime"], u["precision"]) for u in on_disk] == [
        ("tiny-llama", "transformers", "fp32")
    ]
    assert before["frontier"] == []

    queued = pick(capsys, tiny_only, "--measure", "--include-path", str(TASKS_DIR))
    with JobStore() as store:
        jobs = store.list()
    assert len(jobs) == 1 and queued["job"]["id"] == jobs[0].id
    spec = jobs[0].spec
    assert spec.configurations == (("tiny-llama", "transformers", "fp32"),)
    assert spec.bench and spec.tasks == ("fx_choice2",) and spec.limit == 100

    waited = subprocess.run(
        [sys.executable, "-m", "tui.cli", "jobs", "wait", str(jobs[0].id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr

    after = pick(capsys, tiny_only)
    assert [(r["model"], r["runtime"], r["precision"]) for r in after["frontier"]] == [
        ("tiny-llama", "transformers", "fp32")
    ]
    assert after["frontier"][0]["tok_s"] > 0 and after["frontier"][0]["peak_mb"] > 0
    assert [u for u in after["unmeasured"] if u["on_disk"]] == []  # complete
    assert after["incomplete"] == []

    again = pick(capsys, tiny_only, "--measure")
    assert again["job"] is None  # nothing left to measure: no second job
    with JobStore() as store:
        assert len(store.list()) == 1


def test_a_configurations_spec_round_trips_and_a_damaged_one_is_refused():
    from engine.jobs.spec import DamagedSpec, JobSpec

    spec = JobSpec(
        models=("a",),
        tasks=("t1", "t2"),
        configurations=(("a", "llama.cpp", "int4"), ("a", "transformers", "fp32")),
        bench=True,
    )
    assert JobSpec.from_json(spec.to_json()) == spec
    assert spec.cells == 6  # two configurations × (two tasks and the decode test)
    assert spec.step_name(spec.steps()[0]) == "a · llama.cpp int4"
    plain = JobSpec(models=("a", "b"), tasks=("t",))
    assert JobSpec.from_json(plain.to_json()).steps() == [
        ("a", "transformers", "auto"),
        ("b", "transformers", "auto"),
    ]
    data = json.loads(spec.to_json())
    for bad in (["a", "llama.cpp"], ["a", "vllm", "int4"], ["a", "transformers", "Q4_1"], "a"):
        data["configurations"] = [bad]
        with pytest.raises(DamagedSpec, match="invalid configuration"):
            JobSpec.from_json(json.dumps(data))


async def test_m_on_the_pick_screen_queues_one_job(env, tiny_only, monkeypatch):
    from app_fixtures import make_app, notes, results_shown, rows_shown
    from textual.widgets import Input

    monkeypatch.setattr("tui.screens.pick.usable_memory_mb", lambda device: 700.0)
    monkeypatch.setattr("engine.memory.fit._has_cuda", lambda: False)
    app = make_app(tiny_only)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("b")
        await results_shown(pilot)
        app.screen.query_one("#tasks", Input).value = "fx_choice2"
        app.screen.query_one("#tasks", Input).focus()
        await pilot.press("enter")
        await results_shown(pilot)
        await pilot.press("m")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        with JobStore() as store:
            jobs = store.list()
        assert len(jobs) == 1
        assert jobs[0].spec.configurations == (("tiny-llama", "transformers", "fp32"),)
        assert any(f"Job {jobs[0].id} queued: 1 configuration(s)" in n for n in notes(app))
