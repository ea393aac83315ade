"""The runner's own guards, each reached directly: a SIGHUP sent to the runner itself (the
hang-up test in test_jobs_cli.py cannot tell: the runner is in its own session, so the
terminal's hang-up never reaches it), and a runner that cannot start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from jobs_fixtures import LONG_TASK, job, long_task_dir, stop_runners, wait_for

from engine.jobs import process

COMMON = ("--precision", "fp32", "--device", "cpu")


@pytest.fixture
def env(cli_env, monkeypatch):
    """The command's environment, with short heartbeats; no runner outlives the test."""
    cli_env["SMOLLM_TUI_JOB_HEARTBEAT_S"] = "0.2"
    monkeypatch.setenv("SMOLLM_TUI_JOB_HEARTBEAT_S", "0.2")
    yield cli_env
    stop_runners()


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def queue(env, catalog: Path, *args: str) -> int:
    out = cli(env, "--catalog", str(catalog), "eval", *args, *COMMON, "--background")
    found = re.search(r"job (\d+) queued", out.stdout)
    assert out.returncode == 0 and found, out.stdout + out.stderr
    return int(found.group(1))


def test_a_sighup_sent_to_the_runner_itself_does_not_stop_its_job(
    env, tiny_catalog, tmp_path: Path
):
    tasks = long_task_dir(tmp_path / "tasks", copies=6)  # 432 requests: still running below
    job_id = queue(
        env,
        tiny_catalog,
        "tiny-llama",
        "--tasks",
        LONG_TASK,
        "--full",
        "--include-path",
        str(tasks),
    )

    def running():
        j = job(job_id, check=False)
        return j.state == "running" and (j.requests_done or 0) >= 1 and j

    runner = wait_for(running, f"job {job_id} to be running a task")
    os.kill(runner.pid, signal.SIGHUP)  # as a terminal's hang-up would, were it reached
    waited = cli(env, "jobs", "wait", str(job_id))
    assert waited.returncode == 0, waited.stdout + waited.stderr
    done = job(job_id)
    assert done.count("ok") == 1 and done.pid == runner.pid  # the same runner finished it


def test_a_runner_that_cannot_start_fails_the_job_with_the_reason(env, tiny_catalog):
    process.lock_path().mkdir(parents=True)  # its lock file cannot be made
    job_id = queue(
        env,
        tiny_catalog,
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--limit",
        "1",
        "--include-path",
        str(TASKS_DIR),
    )
    waited = cli(env, "jobs", "wait", str(job_id))
    lines = waited.stdout.strip().splitlines()
    assert waited.returncode == 1 and len(lines) == 1, waited.stdout + waited.stderr
    assert lines[0].startswith(f"job {job_id} failed · the job runner could not start")
    assert str(process.lock_path()) in lines[0] and "jobs resume" in lines[0]
    assert "Traceback" not in waited.stderr
    shown = cli(env, "jobs", "show", str(job_id)).stdout
    assert "error: the job runner could not start" in shown
