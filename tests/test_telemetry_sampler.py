"""The sampler thread, reader hand-over mid-run, marks, history and PeakTracker."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from telemetry_fakes import FIXTURES, ScriptedReader, fake_jtop

from engine.telemetry import PeakTracker, ReaderChain, Sampler, Snapshot
from engine.telemetry.jetson_proc import JetsonProcReader
from engine.telemetry.jtop_reader import JtopReader
from engine.telemetry.psutil_reader import PsutilReader


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_jtop_failing_mid_run_hands_over_to_jetson_proc_with_one_notice(monkeypatch):
    module = fake_jtop.make_module("up", fail_after=2)
    monkeypatch.setitem(sys.modules, "jtop", module)
    factories = [
        ("jtop", lambda: JtopReader()),
        (
            "jetson-proc",
            lambda: JetsonProcReader(
                FIXTURES / "meminfo_orin_nano_8gb.txt", gpu_load_paths=[], gpu_freq_paths=[]
            ),
        ),
        ("psutil", PsutilReader),
    ]
    sampler = Sampler(factories=factories)
    sources = [sampler.step().source for _ in range(5)]
    assert sources == ["jtop", "jtop", "jetson-proc", "jetson-proc", "jetson-proc"]
    assert len(sampler.notices) == 1
    assert sampler.notices[0].startswith("jtop failed (Lost connection with jtop server)")
    assert sampler.notices[0].endswith("now reading from jetson-proc")
    notices = [m for m in sampler.marks() if m.kind == "notice"]
    assert len(notices) == 1
    assert module.instances[0].closed
    assert sampler.reader_name == "jetson-proc"
    # The hand-over keeps the board figures going: same board, same total.
    assert len({s.ram_total_mb for s in sampler.history()}) == 1


def test_every_reader_failing_leaves_no_reader_and_no_crash():
    first = ScriptedReader([{"ram_used_mb": 1.0}])
    second = ScriptedReader([])
    sampler = Sampler(ReaderChain([("a", lambda: first), ("b", lambda: second)]))
    assert sampler.step().ram_used_mb == 1.0
    assert sampler.step() is None
    assert sampler.reader_name == "none"
    assert len(sampler.notices) == 2
    assert first.closed and second.closed
    assert sampler.step() is None  # still no crash


def test_history_window_and_marks():
    clock = Clock(1000.0)
    values = [{"t": 1000.0 + i, "ram_used_mb": float(i)} for i in range(10)]
    sampler = Sampler(
        ReaderChain([("s", lambda: ScriptedReader(values))]), history_seconds=5.0, clock=clock
    )
    for _ in range(10):
        sampler.step()
    kept = sampler.history()
    assert [s.time for s in kept] == [1004.0, 1005.0, 1006.0, 1007.0, 1008.0, 1009.0]
    assert [s.ram_used_mb for s in sampler.history(2)] == [7.0, 8.0, 9.0]
    assert sampler.latest().ram_used_mb == 9.0
    clock.now = 1003.0
    sampler.add_mark("loaded tiny-llama fp32")
    clock.now = 1009.0
    sampler.add_mark("unloaded tiny-llama")
    assert [m.text for m in sampler.marks()] == ["loaded tiny-llama fp32", "unloaded tiny-llama"]
    assert [m.text for m in sampler.marks(seconds=3)] == ["unloaded tiny-llama"]


def test_watch_process_adds_resident_memory():
    import os

    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]))
    sampler.watch_process("ui", os.getpid())
    assert sampler.step().process_rss_mb["ui"] > 10
    sampler.watch_process("ui", None)
    assert sampler.step().process_rss_mb == {}


def test_thread_samples_calls_subscribers_and_stops_promptly():
    got: list[Snapshot] = []
    three = threading.Event()

    def on_sample(snap: Snapshot) -> None:
        got.append(snap)
        if len(got) >= 3:
            three.set()

    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]), interval=0.01)
    sampler.subscribe(on_sample)
    sampler.start()
    assert three.wait(10), "the sampler thread did not deliver three samples"
    sampler.stop()
    assert not sampler.running
    assert all(s.source == "psutil" for s in got)


def test_stop_does_not_wait_for_the_interval():
    first = threading.Event()
    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]), interval=3600.0)
    sampler.subscribe(lambda snap: first.set())
    sampler.start()
    assert first.wait(10)
    thread = sampler._thread
    sampler.stop()  # joins the thread for at most 5 s; the interval is an hour
    assert not thread.is_alive(), "the sampler thread sleeps through its interval"
    assert not sampler.running


def test_a_failing_subscriber_does_not_stop_sampling():
    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]))
    seen = []
    sampler.subscribe(lambda snap: 1 / 0)
    unsubscribe = sampler.subscribe(seen.append)
    sampler.step()
    unsubscribe()
    sampler.step()
    assert len(seen) == 1 and len(sampler.history()) == 2


def test_sampler_rejects_a_zero_interval():
    with pytest.raises(ValueError):
        Sampler(interval=0)


# -- PeakTracker -------------------------------------------------------------------------------
def _board(used: float, shared: float | None, load: float | None) -> dict:
    return {
        "ram_total_mb": 7619.6,
        "ram_used_mb": used,
        "gpu_shared_mb": shared,
        "gpu_load_pct": load,
    }


def test_peak_tracker_on_a_stepped_sampler():
    values = [
        _board(2000, 150, 0),
        _board(3500, 1448, 87.3),
        _board(3400, 1448, 99.0),
        _board(2100, 150, 3.0),
    ]
    sampler = Sampler(ReaderChain([("s", lambda: ScriptedReader(values))]))
    with PeakTracker(sampler) as peak:  # entry takes sample 1 (the baseline)
        sampler.step()  # what the sampler thread would do
        sampler.step()
    # exit takes sample 4
    result = peak.result()
    assert result.samples == 4
    assert result.baseline_ram_used_mb == 2000
    assert result.peak_ram_used_mb == 3500
    assert result.peak_gpu_shared_mb == 1448
    assert result.max_gpu_load_pct == 99.0
    assert result.peak_board_mb == 3500
    assert result.added_ram_mb == 1500
    record = result.to_dict()
    assert record["peak_board_mb"] == 3500 and record["source"] == "scripted"
    sampler.step()  # after exit the tracker no longer listens
    assert peak.result().samples == 4


def test_peak_tracker_on_a_running_sampler_uses_its_samples():
    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]), interval=0.01)
    five = threading.Event()
    count = []
    sampler.subscribe(lambda s: (count.append(s), len(count) >= 5 and five.set()))
    sampler.start()
    try:
        with PeakTracker(sampler) as peak:
            count.clear()
            five.clear()
            assert five.wait(10)
    finally:
        sampler.stop()
    result = peak.result()
    assert result.samples >= 5
    assert result.source == "psutil" and result.peak_ram_used_mb > 0
    assert result.max_gpu_load_pct is None  # psutil knows no GPU


def test_peak_tracker_on_a_reader_with_its_own_thread():
    reads = threading.Event()

    class Counting(PsutilReader):
        def __init__(self):
            super().__init__()
            self.count = 0

        def read(self):
            self.count += 1
            if self.count >= 4:
                reads.set()
            return super().read()

    reader = Counting()
    with PeakTracker(reader, interval=0.01) as peak:
        assert reads.wait(10)
    result = peak.result()
    assert result.samples >= 4 and result.samples == reader.count
    assert result.seconds > 0


def test_the_ui_side_of_telemetry_never_loads_torch():
    import subprocess

    code = (
        "import sys, engine.telemetry, engine.telemetry.selection, tui.screens.system, "
        "tui.commands.monitor\n"
        "from engine.telemetry import Sampler\n"
        "Sampler().step()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
