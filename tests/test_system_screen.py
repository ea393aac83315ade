"""The System screen with Pilot and SVG snapshots, fed by a real Sampler over a fixed reader."""

from __future__ import annotations

from textual.app import App

from engine.telemetry import Reader, ReaderChain, Sampler, Snapshot
from tui.screens.system import SystemScreen, values_text

START = 1_800_000_000.0


class FixedBoard(Reader):
    """An Orin Nano 8 GB seen through jtop, on a fixed script: idle, then a model loaded
    at t=40 s and generating from t=60 s to t=100 s. Times come from the script."""

    name = "jtop"

    def __init__(self) -> None:
        self.step = 0

    def describe(self) -> str:
        return "jtop 4.3.2 (jetson-stats service)"

    def read(self) -> Snapshot:
        t = self.step
        self.step += 1
        loaded = t >= 40
        busy = 60 <= t < 100
        return Snapshot(
            time=START + t,
            source="jtop",
            ram_total_mb=7619.6,
            ram_used_mb=2100.0 + (1290.4 if loaded else 0.0) + (t % 7) * 3,
            ram_available_mb=7619.6 - 2100.0 - (1290.4 if loaded else 0.0),
            gpu_shared_mb=1448.0 if loaded else 148.5,
            swap_total_mb=3809.8,
            swap_used_mb=110.0,
            gpu_load_pct=(80.0 + t % 20) if busy else 0.0,
            gpu_freq_mhz=624.8 if busy else 306.0,
            power_total_mw=7108.0 if busy else 4350.0,
            power_rails_mw={"VDD_CPU_GPU_CV": 3064.0 if busy else 900.0, "VDD_SOC": 1520.0},
            temps_c={
                "cpu": 48.0 + (4.0 if busy else 0.0),
                "gpu": 47.0 + (5.0 if busy else 0.0),
                "tj": 49.0 + (5.0 if busy else 0.0),
            },
            cpu_pct=27.5 if busy else 4.0,
        )


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def fixed_sampler(seconds: int = 120) -> Sampler:
    clock = Clock()
    sampler = Sampler(ReaderChain([("jtop", FixedBoard)]), clock=clock)
    for t in range(seconds):
        clock.now = START + t
        if t == 40:
            sampler.add_mark("loaded tiny-llama fp32")
        sampler.step()
    return sampler


class SystemApp(App):
    """A tiny app that opens only the System screen."""

    def __init__(self, sampler, worker_memory=None) -> None:
        super().__init__()
        self.sampler = sampler
        self.worker_memory = worker_memory

    def on_mount(self) -> None:
        # A long refresh period: the tests drive refresh_view() themselves.
        self.push_screen(
            SystemScreen(self.sampler, self.worker_memory, window_seconds=120, refresh_seconds=3600)
        )


def shown(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


async def test_current_values_and_reader_are_shown():
    app = SystemApp(fixed_sampler(), worker_memory=lambda: 812.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SystemScreen)
        values = shown(app, "#values")
        assert "RAM 3.3 / 7.4 GB (4.1 free)" in values
        assert "GPU shared 1.4 GB" in values
        assert "swap 0.1 / 3.7 GB" in values
        assert "worker 812 MB" in values
        assert "GPU 0% @ 306 MHz" in values  # t=119: generation ended at t=100
        assert "power 4.3 W (VDD_CPU_GPU_CV 0.9, VDD_SOC 1.5)" in values
        assert "tj 49°C" in values
        assert shown(app, "#reader") == "Reader: jtop 4.3.2 (jetson-stats service)"
        assert "-79s loaded tiny-llama fp32" in shown(app, "#marks")


async def test_new_samples_show_up_and_b_goes_back():
    sampler = fixed_sampler(80)  # t=79: generating
    app = SystemApp(sampler)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert "GPU 99% @ 625 MHz" in shown(app, "#values")
        for _ in range(30):
            sampler.step()  # t=80..109: generation ends at t=100
        screen.refresh_view()
        assert "GPU 0% @ 306 MHz" in shown(app, "#values")
        sampler.add_mark("unloaded tiny-llama")
        screen.refresh_view()
        assert "unloaded tiny-llama" in shown(app, "#marks")
        await pilot.press("b")
        assert not isinstance(app.screen, SystemScreen)


async def test_escape_goes_back_and_a_dying_worker_does_not_break_the_screen():
    def worker_memory():
        raise ConnectionError("worker gone")

    app = SystemApp(fixed_sampler(5), worker_memory=worker_memory)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "worker" not in shown(app, "#values")
        await pilot.press("escape")
        assert not isinstance(app.screen, SystemScreen)


async def test_before_the_first_sample():
    sampler = Sampler(ReaderChain([("jtop", FixedBoard)]))
    app = SystemApp(sampler)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "waiting for the first sample" in shown(app, "#values")
        sampler.step()
        app.screen.refresh_view()
        assert "RAM 2.1 / 7.4 GB" in shown(app, "#values")


def test_sensor_names_are_shown_literally_never_as_markup():
    snap = Snapshot(
        time=0.0,
        source="jtop",
        temps_c={"[bold red]x[/]": 40.0},
        power_total_mw=1000.0,
        power_rails_mw={"[link=http://e]r": 500.0},
    )
    text = values_text(snap)
    assert "[bold red]x[/] 40°C" in text.plain
    assert "[link=http://e]r 0.5" in text.plain


def test_snapshot_80x24(snap_compare):
    assert snap_compare(
        SystemApp(fixed_sampler(), worker_memory=lambda: 812.0), terminal_size=(80, 24)
    )


def test_snapshot_120x40(snap_compare):
    assert snap_compare(
        SystemApp(fixed_sampler(), worker_memory=lambda: 812.0), terminal_size=(120, 40)
    )
