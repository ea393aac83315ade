"""`smollm-tui eval` interrupted: Ctrl+C, and a worker killed as the kernel kills one that
runs out of memory. The real command in a subprocess of its own session, signals sent at a
known point (a line it printed), the real worker process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine.results.store import ResultsStore

REPO_ROOT = Path(__file__).resolve().parent.parent
LONG_DOCS = 1000


@pytest.fixture(scope="module")
def long_tasks(tmp_path_factory) -> Path:
    """The fixture tasks plus fx_long: the yes/no task with 1,000 documents, so a signal
    sent when the task before it has printed its line lands while fx_long runs."""
    folder = tmp_path_factory.mktemp("tasks")
    for file in TASKS_DIR.iterdir():
        if file.is_file():
            shutil.copy(file, folder / file.name)
    yesno = json.loads((TASKS_DIR / "fx_yesno.json").read_text())
    docs = [
        dict(yesno["test"][i % len(yesno["test"])], question=f"question {i}")
        for i in range(LONG_DOCS)
    ]
    (folder / "fx_long.json").write_text(json.dumps({"train": yesno["train"], "test": docs}))
    (folder / "fx_long.yaml").write_text(
        (TASKS_DIR / "fx_yesno.yaml").read_text().replace("fx_yesno", "fx_long")
    )
    return folder


def start_eval(cli_env, tiny_catalog, tasks_dir: Path) -> subprocess.Popen:
    """eval of three tasks through the worker, in a session of its own: a signal sent to
    its process group reaches the command and its worker, as Ctrl+C in a terminal does."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--catalog",
            str(tiny_catalog),
            "eval",
            "tiny-llama",
            "--tasks",
            "fx_yesno,fx_long,fx_choice2",
            "--full",
            "--include-path",
            str(tasks_dir),
            "--precision",
            "fp32",
            "--device",
            "cpu",
        ],
        cwd=REPO_ROOT,
        env=dict(cli_env, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def read_until(proc: subprocess.Popen, words: str) -> list[str]:
    """The lines printed up to and including the first one with ``words``."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if words in line:
            return lines
    raise AssertionError(f"the command ended before printing {words!r}: {lines}")


def worker_of(proc: subprocess.Popen) -> psutil.Process:
    [worker] = [
        child
        for child in psutil.Process(proc.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]
    return worker


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def rows() -> dict[str, str]:
    with ResultsStore() as store:
        return {r.task: r.status for r in store.eval_runs(model_id="tiny-llama")}


def test_ctrl_c_keeps_finished_rows_stores_the_cancelled_task_and_ends_the_worker(
    cli_env, tiny_catalog, long_tasks
):
    proc = start_eval(cli_env, tiny_catalog, long_tasks)
    try:
        before = read_until(proc, "fx_yesno  acc")
        worker = worker_of(proc)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "".join(before) + out
    assert proc.returncode == 130, err + out
    assert "Traceback" not in err and "cancelling" in err
    assert out.count("tiny-llama: loaded on") == 1
    assert "tiny-llama  fx_long  cancelled" in out
    assert "1 ok, 0 oom, 0 failed, 0 skipped, 1 cancelled" in out
    assert "not run: tiny-llama fx_choice2" in out
    assert rows() == {"fx_yesno": "ok", "fx_long": "cancelled"}
    assert gone(worker)  # ended before the command returned: no orphan


def test_a_killed_worker_blames_its_task_and_a_fresh_one_runs_the_rest(
    cli_env, tiny_catalog, long_tasks
):
    proc = start_eval(cli_env, tiny_catalog, long_tasks)
    try:
        before = read_until(proc, "fx_yesno  acc")
        worker_of(proc).kill()  # SIGKILL: how the kernel ends a process out of memory
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "".join(before) + out
    assert proc.returncode == 1, err + out
    assert "Traceback" not in err
    assert (
        "tiny-llama: the worker was killed, most likely out of memory (SIGKILL) during "
        "fx_long; 1 task not run yet (fx_choice2): starting a fresh worker for it"
    ) in out
    assert "2 ok, 1 oom, 0 failed, 0 skipped" in out
    assert rows() == {"fx_yesno": "ok", "fx_long": "oom", "fx_choice2": "ok"}


def test_ctrl_c_while_the_model_loads_runs_nothing_and_stores_nothing(
    cli_env, tiny_catalog, long_tasks, app_home
):
    log = app_home / "data" / "worker.log"  # the worker's first line: it has started
    proc = start_eval(cli_env, tiny_catalog, long_tasks)
    try:
        while not (log.is_file() and "started" in log.read_text()):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)  # polls for the file; no assumption on how long it takes
        worker = worker_of(proc)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err + out
    assert "Traceback" not in err
    assert "stored 0 result(s)" in out
    assert "not run: tiny-llama fx_yesno, tiny-llama fx_long, tiny-llama fx_choice2" in out
    assert rows() == {}
    assert gone(worker)
