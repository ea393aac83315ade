"""The data dir holds prompts, replies and results: on a shared board only its owner may
read it. Files are made through the real code paths under the usual umask (022, which
gives 0644 files and 0755 folders) and their modes are read back."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from app_fixtures import fill_results_store

from engine.chat.transcripts import save_transcript
from engine.paths import data_dir, results_db_path
from engine.results.store import EvalRun, ResultsStore, SpeedRun
from engine.settings import Conversation, GenerationSettings, LoadOptions


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_transcripts_are_private(app_home):
    conversation = Conversation(system="be brief").add("user", "my secret question")
    md, js = save_transcript("smollm2-135m-instruct", conversation, GenerationSettings())
    assert (mode(md), mode(js)) == (0o600, 0o600)
    assert mode(md.parent) == 0o700 and mode(data_dir()) == 0o700


def test_results_store_and_its_wal_files_are_private(app_home):
    with ResultsStore() as store:
        store.add_speed(
            SpeedRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                prompt_tokens=3,
                new_tokens=4,
                tokens_per_s=5.0,
                prompt="my secret question",
            )
        )
        db = results_db_path()
        wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
        assert wal.exists() and shm.exists()  # the connection is open: WAL in use
        assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    assert mode(data_dir()) == 0o700


def test_an_existing_open_data_dir_and_store_are_tightened(app_home):
    folder = data_dir()
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)
    db = sqlite3.connect(folder / "results.db")  # as an older version left it: 0644
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    assert mode(folder / "results.db") == 0o644
    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                task="boolq",
                status="ok",
                started=1,
                ended=2,
            )
        )
    assert mode(folder) == 0o700 and mode(folder / "results.db") == 0o600


def test_exported_reports_are_private(app_home):
    from engine.results.matrix import REPORT_ORDER, build_matrix
    from engine.results.report import write_reports

    fill_results_store()
    with ResultsStore(read_only=True) as store:
        runs = store.eval_runs()
    paths = write_reports(
        [build_matrix(runs, m) for m in REPORT_ORDER], data_dir() / "reports", "r"
    )
    assert [mode(p) for p in paths] == [0o600, 0o600, 0o600]


def test_the_worker_log_is_private(app_home, tiny_catalog):
    from engine.events import Loaded
    from engine.worker.client import WorkerClient

    client = WorkerClient(catalog_path=str(tiny_catalog))
    try:
        events = list(client.load(LoadOptions("tiny-llama", precision="fp32", device="cpu")))
        assert isinstance(events[-1], Loaded), events
        log = data_dir() / "worker.log"
        assert "worker" in log.read_text()
        assert mode(log) == 0o600 and mode(data_dir()) == 0o700
    finally:
        client.close()


def test_a_folder_that_is_not_ours_is_left_alone(tmp_path):
    """Tightening only touches what the user owns (a shared folder stays as it is)."""
    from engine.paths import tighten

    if os.geteuid() != 0:
        pytest.skip("needs a file owned by another user: run as root to check")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chown(shared, 65534, 65534)
    tighten(shared, 0o700)
    assert mode(shared) == 0o755


def test_consent_file_and_its_folder_are_private(app_home):
    from engine.models import consent

    consent.give_consent("phonelm-1.5b", "abc123")
    assert mode(consent.consent_path()) == 0o600 and mode(data_dir()) == 0o700


def test_a_jobs_request_cache_and_its_folders_are_private(app_home):
    """The answers are the prompts' scores and generations: the SQLite file (and its WAL
    files) 0600, the job's folder and the jobs' cache/ folder above it 0700."""
    from engine.evaluation.request_cache import RequestCache, cache_file
    from engine.jobs import process
    from engine.records import LoadInfo

    info = LoadInfo(
        model_id="tiny-llama",
        repo=None,
        revision="abc123",
        kind="causal",
        params=1,
        size_mb=1.0,
        dtype="float32",
        device="cpu",
        device_name="CPU",
        quantization=None,
        load_seconds=0.1,
        context_length=2048,
        has_chat_template=True,
    )
    data_dir().mkdir(parents=True, mode=0o700)  # as the store leaves it; jobs/ is made here
    folder = process.request_cache_dir(7)
    cache = RequestCache(cache_file(folder, info, 1))
    try:
        with cache.db:
            cache.db.execute("INSERT INTO answers VALUES ('k', '\"my secret answer\"')")
        path = cache.path
        wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
        assert wal.exists() and shm.exists()  # the connection is open: WAL in use
        assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        assert [mode(p) for p in (folder, folder.parent, folder.parent.parent)] == [0o700] * 3
    finally:
        cache.close()


def test_the_runner_log_and_lock_are_private(app_home):
    """Started for an empty queue, the real runner takes its lock and leaves at once."""
    from jobs_fixtures import wait_for

    from engine.jobs import process
    from engine.results.store import ResultsStore

    ResultsStore().close()  # the data dir, as any client makes it first
    assert process.start_runner()
    wait_for(lambda: process.lock_path().exists(), "the runner to take its lock")
    wait_for(lambda: not process.runner_running(), "the runner to leave")
    log = process.jobs_dir() / "runner.log"
    assert (mode(log), mode(process.lock_path())) == (0o600, 0o600)
    assert mode(process.jobs_dir()) == 0o700


def test_the_settings_file_is_private(app_home):
    from engine.preferences import save_settings, settings_path

    save_settings({"task_folders": ["/home/me/my-private-tasks"]})
    assert mode(settings_path()) == 0o600


def test_the_bundled_folder_is_private(app_home, monkeypatch):
    """bundled/ is made before the conversion's first step (stopped there: the files in it
    are a copy of the public model, the folder is what keeps the data dir closed)."""
    from engine.runtimes.transformers import convert

    monkeypatch.delenv("SMOLLM_TUI_BUNDLED_DIR")

    class Stop(Exception):
        pass

    def stop_after_the_first_step(stage, fraction):
        if fraction:
            raise Stop

    with pytest.raises(Stop):
        convert.ensure_converted(stop_after_the_first_step)
    root = convert.converted_root()
    assert root == data_dir() / "bundled" and mode(root) == 0o700 and mode(data_dir()) == 0o700
    assert not list(root.iterdir())  # the unfinished conversion left nothing behind
