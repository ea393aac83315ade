"""The command line when the machine says no: a results store another process holds, a
store that cannot be written, a disk that is full, numbers past SQLite's 64 bits, a model
downloaded only as GGUF. Each is one line and the right exit code, with nothing lost.

The lock is real (a second SQLite connection holding BEGIN EXCLUSIVE, as another smollm-tui
writing would); the full disk is RLIMIT_FSIZE in the child (write() fails with EFBIG as it
fails with ENOSPC) or SQLite's own max_page_count (SQLITE_FULL)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from read_only import run_read_only
from test_cli import smollm
from test_store_read_only import one_line, rows, store_one_row

from engine.errors import kind_of
from engine.paths import results_db_path
from engine.results.health import StoreFull
from engine.results.store import EvalRun, ResultsStore


@pytest.fixture
def locked_store():
    """The store with one row, its write lock held by another connection meanwhile."""
    store_one_row()
    other = sqlite3.connect(results_db_path(), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


def eval_args(catalog: Path, *more: str) -> list[str]:
    return [
        "--catalog",
        str(catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--limit",
        "2",
        "--include-path",
        str(TASKS_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
        *more,
    ]


def bench_args(catalog: Path) -> list[str]:
    return [
        "--catalog",
        str(catalog),
        "bench",
        "tiny-llama",
        "--runtime",
        "transformers",
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--runs",
        "1",
    ]


def assert_locked(done: subprocess.CompletedProcess) -> None:
    line = one_line(done)
    assert done.returncode == 1, done.stderr
    assert f"the results store {results_db_path()} is locked by another process" in line


@pytest.mark.parametrize("background", [False, True])
def test_eval_on_a_locked_store_is_one_line(background, locked_store, cli_env, tiny_catalog):
    more = ["--background"] if background else ["--in-process"]
    done = smollm(*eval_args(tiny_catalog, *more), env=cli_env)
    assert_locked(done)
    assert "loaded" not in done.stdout and "queued" not in done.stdout


def test_import_into_a_locked_store_is_one_line(locked_store, cli_env, tmp_path):
    results = tmp_path / "results_x.json"
    results.write_text('{"results": {"boolq": {"acc,none": 0.5}}, "date": 5}')
    assert_locked(smollm("import", str(results), env=cli_env))


def test_bench_checks_the_store_before_measuring(locked_store, cli_env, tiny_catalog):
    done = smollm(*bench_args(tiny_catalog), env=cli_env)
    assert_locked(done)
    assert "bench:" not in done.stderr and done.stdout == ""  # nothing was measured


def test_bench_on_a_read_only_store_refuses_before_measuring(cli_env, tiny_catalog):
    store_one_row()
    done = run_read_only(cli_env, results_db_path(), *bench_args(tiny_catalog))
    line = one_line(done)
    assert done.returncode == 1
    assert "cannot be written" in line and "nothing was run" in line
    assert done.stdout == ""
    assert rows() == [("tiny-llama", "fx_choice2")]


def _small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))


def test_report_output_on_a_full_disk_keeps_the_old_file(cli_env, tmp_path):
    store_one_row()
    target = tmp_path / "report.md"
    target.write_text("the old report\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "report", "--output", str(target)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_small_files,
    )
    line = one_line(done)
    assert done.returncode == 1
    assert line.startswith(f"smollm-tui: error: no space left to write --output {target}")
    assert "permission" not in line.lower()
    assert target.read_text(encoding="utf-8") == "the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "smollm-home"]


@pytest.mark.parametrize("action", ["show", "cancel", "resume", "log", "wait"])
def test_a_job_id_past_64_bits_is_a_usage_error(action, cli_env):
    done = smollm("jobs", action, str(2**64), env=cli_env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "a job number is a whole number from 1 to" in done.stderr


@pytest.mark.parametrize("field", ["limit", "n-shot"])
def test_import_of_a_count_past_64_bits_is_one_line(field, cli_env, tmp_path):
    data = {
        "results": {"boolq": {"acc,none": 0.5}},
        "n-samples": {"boolq": {"original": 8, "effective": 8}},
        "config": {"limit": 10**30 if field == "limit" else 8},
        "n-shot": {"boolq": 10**30 if field == "n-shot" else 0},
        "date": 5,
    }
    results = tmp_path / "results_x.json"
    results.write_text(json.dumps(data))
    done = smollm("import", str(results), env=cli_env)
    line = one_line(done)
    assert done.returncode == 2
    assert "must be a whole number from 0 to" in line and "nothing was imported" in line
    assert rows() == []


def test_models_shows_a_gguf_only_download_as_on_disk(cli_env, tmp_path):
    """Only the published GGUF build of smollm2-135m-instruct-hub is in the cache, laid out
    as huggingface_hub lays it out (a blob, a snapshot link to it)."""
    cache = tmp_path / "hf-cache"
    storage = cache / "models--unsloth--SmolLM2-135M-Instruct-GGUF"
    blob = storage / "blobs" / ("0" * 64)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF" + bytes(2044))
    snapshot = storage / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "SmolLM2-135M-Instruct-Q8_0.gguf").symlink_to(blob)
    env = {**cli_env, "HF_HUB_CACHE": str(cache), "COLUMNS": "200"}

    listed = smollm("models", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    status = {r["model_id"]: r for r in json.loads(listed.stdout)}
    assert status["smollm2-135m-instruct-hub"]["on_disk"] is True
    assert status["smollm2-135m-instruct-hub"]["gguf"] == ["Q8_0"]
    assert status["smollm2-360m-instruct"]["on_disk"] is False

    table = smollm("models", env=env)
    [row] = [line for line in table.stdout.splitlines() if "smollm2-135m-instruct-hub" in line]
    assert "GGUF Q8_0" in row and "2.0 kB" in row


def test_a_full_store_says_so_not_permissions(app_home):
    """SQLite's own SQLITE_FULL (the store may not grow past its pages) -> StoreFull."""
    store_one_row()
    run = EvalRun(
        model_id="tiny-llama",
        precision="fp32",
        device="cpu",
        task="fx_yesno",
        status="ok",
        started=1,
        ended=2,
        samples=5,
        metrics={"acc": 0.5, "note": "x" * 20_000},
    )
    with ResultsStore() as store:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreFull) as caught:
            store.add_eval(run)
    message = str(caught.value)
    assert "no space left" in message and "free some space" in message
    assert "chmod" not in message and "permission" not in message
    assert kind_of(caught.value) == "disk"
    assert rows() == [("tiny-llama", "fx_choice2")]


# A small tmpfs over SMOLLM_TUI_HOME, filled up: its blocks (the store's first write fails)
# or its inodes (the data folder, or the store's file, cannot be made).
_FILL = {
    "blocks": 'dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null',
    "inodes-folder": 'i=0; while touch "$1/f$i" 2>/dev/null; do i=$((i+1)); done',
    "inodes-file": 'mkdir "$1/data"; i=0; while touch "$1/f$i" 2>/dev/null; do i=$((i+1)); done',
}


def _full_disk(fill: str) -> str:
    return (
        'mount -t tmpfs -o size=256k,nr_inodes=64 tmpfs "$1" && '
        f'({_FILL[fill]}; true) && shift && exec "$@"'
    )


@pytest.mark.parametrize("fill", list(_FILL))
def test_a_store_on_a_full_disk_is_not_a_permission_problem(fill, cli_env, app_home, tmp_path):
    """A real full file system (a tmpfs in a private mount namespace, as root; skipped
    elsewhere): SQLite's SQLITE_FULL, or ENOSPC making the folder or the file."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small file system")
    app_home.mkdir(parents=True, exist_ok=True)
    script = _full_disk(fill)
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(app_home), "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"mounts are not allowed here: {probe.stderr}")
    results = tmp_path / "results_x.json"
    results.write_text('{"results": {"boolq": {"acc,none": 0.5}}, "date": 5}')
    command = [sys.executable, "-m", "tui.cli", "import", str(results)]
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(app_home), *command],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = one_line(done)
    assert done.returncode == 1
    assert "no space left on its disk" in line and "free some space" in line
    assert "permission" not in line and "chmod" not in line


def test_a_write_without_space_is_its_own_kind_of_failure(tmp_path):
    """What the worker and the download queue report for a full disk: "disk", whose fix is
    space (not "error"); a file-size limit or a used-up quota is the same."""
    import errno

    for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        assert kind_of(OSError(code, os.strerror(code))) == "disk"
    assert kind_of(sqlite3.OperationalError("database or disk is full")) == "disk"
    assert kind_of(PermissionError(errno.EACCES, "Permission denied")) == "error"
