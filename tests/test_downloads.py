"""engine.hub.downloads: the one-at-a-time queue, against the test Hub server."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest
from hub_server import WEIGHTS, HubServer, Slow, standard_overlay

from engine.catalog.entries import load_catalog
from engine.hub import downloads as dl
from engine.hub.downloads import (
    FINAL_EVENTS,
    DownloadCancelled,
    DownloadDone,
    DownloadFailed,
    DownloadNotice,
    DownloadProgress,
    DownloadQueue,
    DownloadQueued,
    DownloadStarted,
)
from engine.models.local_status import local_status


@pytest.fixture
def catalog(local_hub: HubServer, tmp_path: Path):
    return load_catalog(standard_overlay(local_hub, tmp_path / "hub.toml"))


@pytest.fixture
def downloads():
    received: queue.Queue = queue.Queue()
    q = DownloadQueue(received.put)
    q.received = received
    yield q
    q.close()


def _until_final(q: DownloadQueue, count: int = 1, timeout: float = 30) -> list:
    """Events up to and including the count-th final event."""
    events = []
    while count:
        event = q.received.get(timeout=timeout)
        events.append(event)
        count -= isinstance(event, FINAL_EVENTS)
    return events


def test_one_download_at_a_time_in_order_with_progress(downloads, catalog):
    first = downloads.submit(catalog.get("tiny-hub"))
    second = downloads.submit(catalog.get("bin-hub"))
    assert downloads.submit(catalog.get("tiny-hub")) == first  # not queued twice
    events = _until_final(downloads, 2)

    steps = [
        (type(e).__name__, e.job.model_id) for e in events if not isinstance(e, DownloadProgress)
    ]
    assert [name for name, model in steps if model == "tiny-hub"] == [
        "DownloadQueued",
        "DownloadStarted",
        "DownloadDone",
    ]
    assert [name for name, model in steps if model == "bin-hub"] == [
        "DownloadQueued",
        "DownloadStarted",
        "DownloadNotice",
        "DownloadDone",
    ]
    # One at a time: the second starts only after the first has finished.
    assert steps.index(("DownloadDone", "tiny-hub")) < steps.index(("DownloadStarted", "bin-hub"))
    assert [e.position for e in events if isinstance(e, DownloadQueued)] == [0, 1]
    progress = [e for e in events if isinstance(e, DownloadProgress) and e.job == first]
    assert progress[-1].fraction == 1.0 and progress[-1].bytes_done == progress[-1].bytes_total
    done = [e for e in events if isinstance(e, DownloadDone)]
    assert done[0].result.model_id == "tiny-hub" and done[1].job == second
    notice = next(e for e in events if isinstance(e, DownloadNotice))
    assert "no safetensors" in notice.message
    assert downloads.jobs() == [] and downloads.current is None
    assert local_status(catalog.get("tiny-hub")).on_disk


def test_cancel_the_current_download_then_the_next_runs(downloads, catalog, local_hub):
    local_hub.slow[WEIGHTS] = Slow(after=2**20)
    downloads.submit(catalog.get("tiny-hub"))
    downloads.submit(catalog.get("bin-hub"))
    assert local_hub.wait_sent(WEIGHTS, 2**20 + 8192)
    assert downloads.is_busy("tiny-hub")
    assert downloads.cancel()  # the running one
    events = _until_final(downloads, 2)
    finals = [e for e in events if isinstance(e, FINAL_EVENTS)]
    assert isinstance(finals[0], DownloadCancelled) and finals[0].job.model_id == "tiny-hub"
    assert finals[0].result is not None and finals[0].result.cancelled
    assert isinstance(finals[1], DownloadDone) and finals[1].job.model_id == "bin-hub"
    assert local_status(catalog.get("tiny-hub")).state == "partial"


def test_cancel_a_waiting_download_removes_it(downloads, catalog, local_hub):
    local_hub.slow[WEIGHTS] = Slow(after=0, chunk=64 * 1024)
    downloads.submit(catalog.get("tiny-hub"))
    waiting = downloads.submit(catalog.get("bin-hub"))
    assert downloads.cancel("bin-hub")
    assert not downloads.cancel("bin-hub")
    assert downloads.cancel("tiny-hub")
    events = _until_final(downloads, 2)
    assert [type(e) for e in events if e.job == waiting] == [DownloadQueued, DownloadCancelled]
    assert not any(isinstance(e, DownloadStarted) and e.job == waiting for e in events)


def test_a_failure_is_reported_and_the_queue_goes_on(downloads, catalog):
    downloads.submit(catalog.get("missing-hub"))
    downloads.submit(catalog.get("gated-hub"))
    downloads.submit(catalog.default())  # bundled: nothing to download
    downloads.submit(catalog.get("tiny-hub"))
    finals = [e for e in _until_final(downloads, 4) if isinstance(e, FINAL_EVENTS)]
    assert [(type(e), getattr(e, "kind", None)) for e in finals] == [
        (DownloadFailed, "not-found"),
        (DownloadFailed, "gated"),
        (DownloadFailed, "usage"),
        (DownloadDone, None),
    ]
    assert "tests/no-such-repo was not found" in finals[0].message


def test_without_a_listener_events_go_to_the_events_queue(catalog):
    q = DownloadQueue()
    try:
        q.submit(catalog.get("tiny-hub"))
        events = []
        while not events or not isinstance(events[-1], FINAL_EVENTS):
            events.append(q.events.get(timeout=30))
        assert isinstance(events[-1], DownloadDone)
    finally:
        q.close()


def test_the_download_line_keeps_bar_size_and_time_left_in_80_columns():
    """At 80 columns (78 inside the bar's padding) the cancel hint, the queue and the
    speed give way; the bar, the bytes and the time left stay. A wide terminal shows all."""
    from tui.widgets.download_bar import progress_text

    entry = load_catalog().get("smollm2-360m-instruct")
    job = dl.DownloadJob(1, entry.id, entry.repo, entry.revision, entry)
    event = dl.DownloadProgress(
        job, 450_000_000, 988_000_000, 12_300_000.0, 43.0, "model.safetensors"
    )
    wide = progress_text(event, 2).plain
    assert "MB/s" in wide
    assert "2 waiting" in wide and "cancels" in wide and "43 s left" in wide
    for width in (78, 70):
        line = progress_text(event, 2, width)
        assert line.cell_len <= width, (width, line.plain)
        assert "46%" in line.plain and "43 s left" in line.plain
    assert "cancels" not in progress_text(event, 2, 78).plain
