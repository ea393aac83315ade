"""Telemetry readers against the real formats: Orin /proc/meminfo, jtop's structures,
pynvml's API (fakes only at the import edge), and psutil for real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest
from telemetry_fakes import FIXTURES, fake_jtop, fake_pynvml

from engine import machine
from engine.telemetry import ReaderUnavailable, Snapshot
from engine.telemetry.jetson_proc import JetsonProcReader, parse_meminfo
from engine.telemetry.jtop_reader import JtopReader
from engine.telemetry.nvml_reader import NvmlReader
from engine.telemetry.psutil_reader import PsutilReader, process_rss_mb
from engine.telemetry.selection import ReaderChain, default_factories

ORIN = FIXTURES / "meminfo_orin_nano_8gb.txt"


@pytest.fixture
def gpu_files(tmp_path: Path) -> tuple[Path, Path]:
    """The integrated GPU's sysfs files as the kernel writes them (per-mille, Hz)."""
    load = tmp_path / "17000000.gpu" / "load"
    load.parent.mkdir()
    load.write_text("873\n")
    freq = tmp_path / "devfreq" / "17000000.gpu" / "cur_freq"
    freq.parent.mkdir(parents=True)
    freq.write_text("624750000\n")
    return load, freq


# -- /proc/meminfo on a Jetson --------------------------------------------------------------
def test_parse_meminfo_reads_kib_and_counts():
    info = parse_meminfo(ORIN.read_text())
    assert info["MemTotal"] == 7802424
    assert info["NvMapMemUsed"] == 1482752
    assert info["HugePages_Total"] == 0  # a count, no unit
    assert "Hugetlb" in info


def test_jetson_proc_reader_reports_board_and_gpu_memory(gpu_files):
    load, freq = gpu_files
    reader = JetsonProcReader(ORIN, gpu_load_paths=[str(load)], gpu_freq_paths=[str(freq)])
    snap = reader.read()
    assert snap.source == "jetson-proc"
    assert snap.ram_total_mb == pytest.approx(7619.6, abs=0.1)
    # used = MemTotal - MemAvailable, in MiB
    assert snap.ram_used_mb == pytest.approx((7802424 - 4212356) / 1024, abs=0.1)
    assert snap.ram_available_mb == pytest.approx(4212356 / 1024, abs=0.1)
    assert snap.gpu_shared_mb == pytest.approx(1448.0, abs=0.1)
    assert snap.swap_used_mb == pytest.approx(110.0, abs=0.1)
    assert snap.gpu_load_pct == 87.3
    assert snap.gpu_freq_mhz == 624.8
    assert snap.power_total_mw is None  # no power without jtop
    assert "NvMapMemUsed" in reader.describe()


def test_jetson_proc_reader_follows_the_file(tmp_path, gpu_files):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text((FIXTURES / "meminfo_orin_nano_8gb_idle.txt").read_text())
    reader = JetsonProcReader(meminfo, gpu_load_paths=[str(gpu_files[0])])
    idle = reader.read()
    meminfo.write_text(ORIN.read_text())
    busy = reader.read()
    assert idle.gpu_shared_mb == pytest.approx(148.5, abs=0.1)
    assert busy.gpu_shared_mb > idle.gpu_shared_mb
    assert busy.ram_used_mb > idle.ram_used_mb


def test_jetson_proc_reader_without_gpu_load_file(tmp_path):
    reader = JetsonProcReader(
        ORIN, gpu_load_paths=[str(tmp_path / "nope" / "load")], gpu_freq_paths=[]
    )
    snap = reader.read()
    assert snap.gpu_load_pct is None and snap.gpu_freq_mhz is None
    assert "not readable" in reader.describe()


@pytest.mark.skipif(machine.is_jetson(), reason="this machine is a Jetson")
def test_jetson_proc_reader_refuses_a_non_jetson_meminfo():
    # This machine's real /proc/meminfo has no NvMapMemUsed and it is not a Jetson.
    assert "NvMapMemUsed" not in Path("/proc/meminfo").read_text()
    with pytest.raises(ReaderUnavailable, match="not a Jetson"):
        JetsonProcReader("/proc/meminfo")


# -- jtop ------------------------------------------------------------------------------------
def test_jtop_reader_service_up(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("up"))
    reader = JtopReader(interval=0.5)
    snap = reader.read()
    assert snap.source == "jtop"
    assert snap.ram_total_mb == pytest.approx(7619.6, abs=0.1)
    assert snap.ram_used_mb == pytest.approx(3471744 / 1024, abs=0.1)
    assert snap.gpu_shared_mb == pytest.approx(1448.0, abs=0.1)
    assert snap.swap_total_mb == pytest.approx(3809.8, abs=0.1)
    assert snap.gpu_load_pct == 87.3
    assert snap.gpu_freq_mhz == pytest.approx(624.8, abs=0.1)
    assert snap.power_total_mw == 7108
    assert snap.power_rails_mw == {"VDD_CPU_GPU_CV": 3064.0, "VDD_SOC": 1520.0}
    assert snap.temps_c == {"cpu": 52.3, "gpu": 51.1, "soc0": 49.4, "tj": 52.3}  # cv0 offline
    assert snap.cpu_pct == 27.5
    assert reader.describe() == "jtop 4.3.2 (jetson-stats service)"
    reader.close()


def test_jtop_reader_service_down(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("down"))
    with pytest.raises(ReaderUnavailable, match="jtop.service is not active"):
        JtopReader()


def test_jtop_reader_version_mismatch(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "jtop", fake_jtop.make_module("up", version="4.3.2", service_version="4.2.7")
    )
    with pytest.raises(ReaderUnavailable, match=r"Mismatch version .*\[4\.2\.7\]"):
        JtopReader()


def test_jtop_reader_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", None)  # import jtop -> ImportError
    with pytest.raises(ReaderUnavailable, match="not installed"):
        JtopReader()


def test_jtop_lost_connection_raises_on_read(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("up", fail_after=1))
    reader = JtopReader()
    reader.read()
    with pytest.raises(fake_jtop.JtopException, match="Lost connection"):
        reader.read()


def test_jtop_without_power_sensors(monkeypatch):
    module = fake_jtop.make_module("up")
    monkeypatch.setitem(sys.modules, "jtop", module)
    reader = JtopReader()
    module.instances[0].power = {}  # jtop gives {} when the board has no power monitor
    snap = reader.read()
    assert snap.power_total_mw is None and snap.power_rails_mw == {}


# -- NVML --------------------------------------------------------------------------------------
def test_nvml_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(ReaderUnavailable, match="not installed"):
        NvmlReader()


def test_nvml_present(monkeypatch):
    module = fake_pynvml.make_module()
    monkeypatch.setitem(sys.modules, "pynvml", module)
    reader = NvmlReader()
    snap = reader.read()
    assert snap.source == "nvml"
    assert snap.gpu_name == "NVIDIA L4"
    assert snap.gpu_mem_total_mb == 24576.0 and snap.gpu_mem_used_mb == 3072.0
    assert snap.board_used_mb == 3072.0  # discrete: the card's memory decides fit
    assert snap.gpu_load_pct == 42.0 and snap.gpu_freq_mhz == 1755.0
    assert snap.power_total_mw == 71234.0 and snap.temps_c["gpu"] == 48.0
    assert snap.gpu_process_mem_mb == {4242: 1536.0}  # None (not attributable) left out
    assert snap.ram_total_mb == pytest.approx(psutil.virtual_memory().total / 2**20, abs=1)
    reader.close()
    assert module.calls == ["init", "shutdown"]


def test_nvml_figures_a_card_lacks_are_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml.make_module(power_supported=False))
    snap = NvmlReader().read()
    assert snap.power_total_mw is None and snap.power_rails_mw == {}


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"fail_init": True}, "did not start"),
        ({"count": 0}, "no GPU"),
        ({"total_bytes": 0, "used_bytes": 0}, "integrated"),
    ],
)
def test_nvml_unavailable(monkeypatch, kwargs, reason):
    module = fake_pynvml.make_module(**kwargs)
    monkeypatch.setitem(sys.modules, "pynvml", module)
    with pytest.raises(ReaderUnavailable, match=reason):
        NvmlReader()


# -- psutil, for real ----------------------------------------------------------------------------
def test_psutil_reader_reads_this_machine():
    snap = PsutilReader().read()
    total = psutil.virtual_memory().total / 2**20
    assert snap.source == "psutil"
    assert snap.ram_total_mb == pytest.approx(total, abs=1)
    assert 0 < snap.ram_used_mb < snap.ram_total_mb
    assert snap.ram_used_mb + snap.ram_available_mb == pytest.approx(snap.ram_total_mb, abs=1)
    assert 0.0 <= snap.cpu_pct <= 100.0
    assert snap.gpu_load_pct is None


def test_process_rss_of_this_process_and_a_gone_one():
    import os

    rss = process_rss_mb({"me": os.getpid(), "gone": 2**22 + 12345})
    assert set(rss) == {"me"} and rss["me"] > 10


def test_snapshot_round_trips_through_json():
    snap = Snapshot(
        time=1.5,
        source="nvml",
        ram_total_mb=10.0,
        gpu_process_mem_mb={7: 1.0},
        temps_c={"gpu": 40.0},
    )
    again = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap


# -- selection -----------------------------------------------------------------------------------
def test_selection_prefers_jtop_when_its_service_answers(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("up"))
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml.make_module())
    chain = ReaderChain(default_factories())
    assert chain.name == "jtop" and chain.skipped == []
    chain.close()


NOT_JETSON = pytest.mark.skipif(machine.is_jetson(), reason="on a Jetson /proc wins")


@NOT_JETSON
def test_selection_skips_a_down_jtop_and_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("down"))
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml.make_module())
    chain = ReaderChain(default_factories())
    assert chain.name == "nvml"
    assert [s.name for s in chain.skipped] == ["jtop", "jetson-proc"]
    assert "sudo systemctl restart jtop.service" in chain.skipped[0].reason


@NOT_JETSON
def test_selection_falls_back_to_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "jtop", None)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    chain = ReaderChain(default_factories())
    assert chain.name == "psutil"
    assert chain.describe().startswith("psutil")


def test_selection_survives_a_broken_optional_library():
    def broken():
        raise AttributeError("module 'jtop' has no attribute 'jtop'")

    chain = ReaderChain([("jtop", broken), ("psutil", PsutilReader)])
    assert chain.name == "psutil"
    assert "AttributeError" in chain.skipped[0].reason
