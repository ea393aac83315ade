"""SVG snapshots at 80x24 and 120x40 of what the other snapshot files do not show: the
Details screen; the consent, delete and may-not-fit dialogs; an evaluation running and
finished; a chat whose model failed to load; a download in progress. Baselines in
tests/__snapshots__/test_snapshots_dialogs.

As in app_fixtures, the machine's edges are fixed so that the pictures are the same on
every machine: the overview (sizes, fit, on disk), what the Hub cache holds for the
delete dialog, the worker's answers (scripted), the download's progress events."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import (
    FIXED_TIME,
    ScriptedClient,
    fill_results_store,
    fixed_overview,
    make_app,
    make_scripted_app,
    results_shown,
    rows_shown,
    steady,
)

from engine.hub import downloads as dl
from engine.worker import protocol as p
from tui.session import ModelSession

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """History times shown in UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def on_disk_overview(catalog, precision, device, runtime="auto"):
    """fixed_overview, with every Hub model downloaded."""
    return [
        replace(r, on_disk="yes") if r.entry.source == "hub" else r
        for r in fixed_overview(catalog, precision, device)
    ]


def app_on_disk():
    return make_app(overview_source=on_disk_overview)


async def select(pilot, words: str, key: str) -> None:
    await rows_shown(pilot)
    await pilot.press("slash", *words, "enter", key)
    await results_shown(pilot)  # the details' stored runs
    await steady(pilot)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_details(snap_compare, size):
    """pythia-160m with its stored runs listed."""
    fill_results_store()

    async def open_details(pilot):
        await select(pilot, "pythia-160m", "enter")

    assert snap_compare(make_app(), terminal_size=size, run_before=open_details)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_consent_dialog(snap_compare, size):
    async def ask(pilot):
        await select(pilot, "phonelm", "c")

    assert snap_compare(app_on_disk(), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_delete_dialog(snap_compare, size, monkeypatch):
    from engine.hub import deletion as hub_delete

    cache = Path("/home/user/.cache/huggingface/hub")
    monkeypatch.setattr(
        hub_delete,
        "deletion_plan",
        lambda entry, quant=None: [
            hub_delete.Deletion(
                "weights (EleutherAI/pythia-160m)",
                cache / "models--EleutherAI--pythia-160m",
                339_762_193,
            ),
            hub_delete.Deletion(
                "GGUF F16 (mradermacher/pythia-160m-GGUF)",
                cache / "models--mradermacher--pythia-160m-GGUF",
                327_000_000,
            ),
        ],
    )

    async def ask(pilot):
        await select(pilot, "pythia-160m", "x")

    assert snap_compare(app_on_disk(), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_may_not_fit_dialog(snap_compare, size):
    async def ask(pilot):
        await select(pilot, "tinyllama", "c")

    assert snap_compare(app_on_disk(), terminal_size=size, run_before=ask)


class EvaluatingClient(ScriptedClient):
    """Answers an evaluation of ARC-e and PIQA: ARC-e done, PIQA 40 of 100 requests in,
    then (finish=True) done, or (finish=False) still running until cancelled or closed."""

    def __init__(self, catalog_path=None, finish=True):
        super().__init__(catalog_path)
        self.finish = finish
        self.stop = threading.Event()
        self.waiting = threading.Event()  # everything before the wait has been sent

    def evaluate(self, spec):
        def result(task, acc, minutes):
            return p.TaskResult(
                task=task,
                status="ok",
                metrics={"acc": acc, "acc_stderr": 0.0492},
                samples=100,
                time_per_sample_ms=38.4,
                peak_memory_mb=702.0,
                num_fewshot=0,
                limit=100,
                task_version="1.0",
                started=FIXED_TIME + minutes * 60,
                ended=FIXED_TIME + minutes * 60 + 4,
            )

        yield p.EvalProgress(3, "arc_easy", 100, 100, 0.0)
        yield p.TaskDone(3, result("arc_easy", 0.27, 0))
        yield p.EvalProgress(3, "piqa", 40, 100, 12.0)
        if not self.finish:
            self.waiting.set()
            self.stop.wait(60)
            yield p.Cancelled(3)
            return
        yield p.TaskDone(3, result("piqa", 0.55, 1))
        yield p.EvalDone(3)

    def cancel(self):
        self.stop.set()

    def close(self):
        self.stop.set()
        super().close()


def evaluating_app(finish: bool):
    return make_app(
        session=ModelSession(
            client_factory=lambda catalog_path=None: EvaluatingClient(catalog_path, finish)
        )
    )


async def run_arc_e_and_piqa(pilot):
    await rows_shown(pilot)
    await pilot.press("e")  # the bundled model, first in the catalog
    await results_shown(pilot)
    await pilot.press("space", "down", "down", "down", "down", "space", "enter")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_evaluation_running(snap_compare, size):
    async def running(pilot):
        await run_arc_e_and_piqa(pilot)
        assert await asyncio.to_thread(pilot.app.session.client.waiting.wait, 60)
        await pilot.pause()  # the messages it posted before waiting
        await steady(pilot)

    assert snap_compare(evaluating_app(finish=False), terminal_size=size, run_before=running)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_evaluation_finished(snap_compare, size):
    async def finished(pilot):
        await run_arc_e_and_piqa(pilot)
        await pilot.app.workers.wait_for_complete()
        await results_shown(pilot)  # the history, read again after the run
        await steady(pilot)

    assert snap_compare(evaluating_app(finish=True), terminal_size=size, run_before=finished)


class FailingClient(ScriptedClient):
    """A local model whose folder is gone: the load fails as the worker client says so."""

    def load(self, options):
        yield p.Progress(1, "reading config", None)
        yield p.Failed(
            1,
            "the local model path /home/user/models/my-finetune of my-finetune "
            "does not exist (catalog entry at /home/user/.config/smollm-tui/"
            "catalog.toml:12); fix the path in your catalog overlay",
            "usage",
        )


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_chat_load_error(snap_compare, size):
    async def open_chat(pilot):
        await rows_shown(pilot)
        await pilot.press("c")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await steady(pilot)

    app = make_app(session=ModelSession(client_factory=FailingClient))
    assert snap_compare(app, terminal_size=size, run_before=open_chat)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_download_in_progress(snap_compare, size):
    """The events the download queue's thread hands the app, at fixed figures."""

    async def downloading(pilot):
        await rows_shown(pilot)
        app = pilot.app
        entry = app.catalog.get("pythia-160m")
        job = dl.DownloadJob(1, entry.id, entry.repo, entry.revision, entry)
        app.files.on_event(dl.DownloadStarted(job))
        app.files.on_event(
            dl.DownloadProgress(
                job, 123_456_789, 339_762_193, 5_242_880.0, 41.0, "model.safetensors"
            )
        )
        await steady(pilot)

    assert snap_compare(make_scripted_app(), terminal_size=size, run_before=downloading)
