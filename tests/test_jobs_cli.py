"""Background jobs through the real command, the real detached runner and real workers."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from jobs_fixtures import LONG_TASK, job, long_task_dir, stop_runners, wait_for

from engine.results.store import ResultsStore

COMMON = ("--precision", "fp32", "--device", "cpu")


@pytest.fixture
def env(cli_env, monkeypatch):
    """The command's environment, with short heartbeats; no runner outlives the test."""
    cli_env["SMOLLM_TUI_JOB_HEARTBEAT_S"] = "0.2"
    monkeypatch.setenv("SMOLLM_TUI_JOB_HEARTBEAT_S", "0.2")  # the readers in this process
    yield cli_env
    stop_runners()


def cli(env, *args, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert out.returncode == 0, out.stderr + out.stdout
    return out


def queue(env, catalog, *args) -> int:
    out = cli(env, "--catalog", str(catalog), "eval", *args, *COMMON, "--background")
    found = re.search(r"job (\d+) queued", out.stdout)
    assert found, out.stdout
    return int(found.group(1))


def running_mid_task(job_id: int, at_least: int):
    def check():
        j = job(job_id, check=False)
        return j.state == "running" and (j.requests_done or 0) >= at_least and j

    return wait_for(check, f"job {job_id} to be {at_least} requests into a task")


def test_jobs_run_one_at_a_time_to_completion_through_workers(env, tiny_catalog):
    first = queue(
        env,
        tiny_catalog,
        "--models",
        "tiny-llama,tiny-t5",
        "--tasks",
        "fx_yesno,fx_choice2",
        "--limit",
        "3",
        "--include-path",
        str(TASKS_DIR),
    )
    second = queue(
        env,
        tiny_catalog,
        "tiny-llama",
        "--tasks",
        "fx_choice4",
        "--limit",
        "2",
        "--include-path",
        str(TASKS_DIR),
    )
    waited = cli(env, "jobs", "wait", str(first))
    assert waited.stdout.strip() == f"job {first} done: 4 ok, 0 oom, 0 failed"
    assert cli(env, "jobs", "wait", str(second)).returncode == 0

    one, two = job(first), job(second)
    assert two.started >= one.ended  # one board, one job at a time
    with ResultsStore() as store:
        rows = {(r.model_id, r.task): r for r in store.eval_runs()}
    assert set(rows) == {
        ("tiny-llama", "fx_yesno"),
        ("tiny-llama", "fx_choice2"),
        ("tiny-t5", "fx_yesno"),
        ("tiny-t5", "fx_choice2"),
        ("tiny-llama", "fx_choice4"),
    }
    assert all(
        r.status == "ok" and r.limit in (2, 3) and r.precision == "fp32" for r in rows.values()
    )
    assert sorted(one.run_ids) == sorted(rows[k].id for k in rows if k[1] != "fx_choice4")
    log = cli(env, "jobs", "log", str(first)).stdout
    assert log.count("--- worker ") == 2  # a fresh worker process per model
    assert "tiny-llama fx_yesno: ok" in log and "tiny-t5: loaded on" in log
    listing = cli(env, "jobs").stdout.splitlines()
    assert listing[1].split()[:2] == [str(first), "done"] and "100%" in listing[1]
    show = cli(env, "jobs", "show", str(second)).stdout
    assert f"job {second}: done" in show and "progress: 1/1 cells (100%)" in show


def test_a_killed_runner_fails_the_job_and_resume_finishes_it_from_the_cache(
    env, tiny_catalog, tmp_path: Path
):
    import psutil

    from engine.evaluation.in_process import InProcessSession
    from engine.evaluation.store_stream import stream_and_store
    from engine.records import EvalSpec
    from engine.settings import LoadOptions

    tasks = long_task_dir(tmp_path / "tasks", copies=4)  # 72 documents, 288 requests
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
    running = running_mid_task(job_id, at_least=32)
    assert running.requests_done < running.requests_total
    os.kill(running.pid, signal.SIGKILL)
    wait_for(
        lambda: (
            not psutil.pid_exists(running.pid)
            or psutil.Process(running.pid).status() == psutil.STATUS_ZOMBIE
        ),
        "the runner to be gone",
    )

    shown = cli(env, "jobs", "show", str(job_id)).stdout  # the first look marks it
    assert f"job {job_id}: failed" in shown
    assert "stopped without finishing the job" in shown and f"jobs resume {job_id}" in shown
    assert cli(env, "jobs", "wait", str(job_id), check=False).returncode == 1

    assert "queued again" in cli(env, "jobs", "resume", str(job_id)).stdout
    assert cli(env, "jobs", "wait", str(job_id)).returncode == 0
    done = job(job_id)
    [outcome] = [r for r in done.runs if r["status"] == "ok"]
    assert outcome["requests"] == 288
    assert running.requests_done <= outcome["cached"] < 288  # fewer model calls
    with ResultsStore() as store:
        [row] = store.eval_runs(status="ok")

    # the same task run straight through, in this process, without any cache
    session = InProcessSession()
    info = session.load(
        LoadOptions("tiny-llama", precision="fp32", device="cpu", catalog_path=str(tiny_catalog))
    )
    spec = EvalSpec(tasks=(LONG_TASK,), limit=None, include_path=str(tasks))
    with ResultsStore(tmp_path / "reference.db") as reference_store:
        stream_and_store(session.evaluate(spec), spec, info, reference_store)
        [reference] = reference_store.eval_runs()
    assert row.metrics == reference.metrics and row.samples == reference.samples
    assert not (Path(done.log_path).parent / "cache" / f"job-{job_id}").exists()


def test_a_job_queued_from_a_terminal_that_hangs_up_still_finishes(
    env, tiny_catalog, tmp_path: Path
):
    tasks = long_task_dir(tmp_path / "tasks", copies=2)
    command = " ".join(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--catalog",
            str(tiny_catalog),
            "eval",
            "tiny-llama",
            "--tasks",
            LONG_TASK,
            "--full",
            "--include-path",
            str(tasks),
            *COMMON,
            "--background",
        ]
    )
    master, slave = os.openpty()
    # a login-like shell whose controlling terminal is the pty; it waits on its terminal
    shell = subprocess.Popen(
        ["bash", "-c", f"{command} && read line"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    seen = b""

    def queued_line():
        nonlocal seen
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            seen += os.read(master, 4096)
        return re.search(rb"job (\d+) queued", seen)

    job_id = int(wait_for(queued_line, "the job to be queued").group(1))
    running = running_mid_task(job_id, at_least=1)
    try:
        assert os.getsid(running.pid) != shell.pid  # the runner left the terminal's session
    except ProcessLookupError:
        pass  # a fast machine: already done, so the hang-up below cannot reach it anyway
    os.close(master)  # the terminal hangs up: SIGHUP to the shell and its jobs
    try:
        os.killpg(shell.pid, signal.SIGHUP)
    except ProcessLookupError:
        pass  # already gone with the hangup
    assert shell.wait(timeout=60) != 0  # the shell itself died of the hangup
    assert cli(env, "jobs", "wait", str(job_id)).returncode == 0
    assert job(job_id).count("ok") == 1


def test_cancel_stops_a_running_job_within_a_chunk(env, tiny_catalog, tmp_path: Path):
    # 360 documents, 1,440 requests: far more than can run between the 16th and the
    # cancel landing, however loaded the machine (with 288 the job once finished first)
    tasks = long_task_dir(tmp_path / "tasks", copies=20)
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
    running_mid_task(job_id, at_least=16)
    out = cli(env, "jobs", "cancel", str(job_id)).stdout
    assert f"cancelling job {job_id}" in out
    waited = cli(env, "jobs", "wait", str(job_id), check=False)
    assert waited.returncode == 130, waited.stdout + waited.stderr
    cancelled = job(job_id)
    assert cancelled.state == "cancelled"
    with ResultsStore() as store:
        [row] = store.eval_runs()
    assert row.status == "cancelled" and row.task == LONG_TASK
    again = cli(env, "jobs", "cancel", str(job_id), check=False)
    assert again.returncode == 2
    assert (
        again.stderr.strip() == f"smollm-tui: error: job {job_id} is already cancelled: "
        "nothing to cancel"
    )


def test_background_mistakes_are_one_line_before_anything_is_queued(env, tiny_catalog):
    bad = cli(
        env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-lama",
        "--tasks",
        "fx_yesno",
        "--background",
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    inproc = cli(
        env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--include-path",
        str(TASKS_DIR),
        "--background",
        "--in-process",
        check=False,
    )
    assert inproc.returncode == 2
    assert inproc.stderr.strip() == (
        "smollm-tui: error: --background runs models in worker processes: drop --in-process"
    )
    missing = cli(
        env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--include-path",
        "/nonexistent/tasks",
        "--background",
        check=False,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert cli(env, "jobs").stdout.startswith("no jobs yet")
    for args in (("jobs", "show", "7"), ("jobs", "resume", "7"), ("jobs", "log", "7")):
        out = cli(env, *args, check=False)
        assert out.returncode == 2
        assert (
            out.stderr.strip() == "smollm-tui: error: there is no job 7: `smollm-tui "
            "jobs` lists them"
        )
