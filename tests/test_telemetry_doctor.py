"""`doctor`'s jtop and telemetry checks, with jtop and pynvml faked at the import edge."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from telemetry_fakes import fake_jtop, fake_pynvml

from engine import doctor, machine


@pytest.fixture
def on_a_jetson(monkeypatch):
    monkeypatch.setattr(machine, "is_jetson", lambda: True)


def install_jtop(monkeypatch, module):
    monkeypatch.setitem(sys.modules, "jtop", module)
    # find_spec looks at sys.modules first only for modules with a __spec__.
    module.__spec__ = importlib.util.spec_from_loader("jtop", loader=None)


def test_jtop_not_needed_off_a_jetson(monkeypatch):
    monkeypatch.setattr(machine, "is_jetson", lambda: False)
    assert doctor._jtop().status == doctor.OK


def test_jtop_service_answering(monkeypatch, on_a_jetson):
    install_jtop(monkeypatch, fake_jtop.make_module("up", version="4.3.2"))
    check = doctor._jtop()
    assert check.status == doctor.OK
    assert check.detail == "jetson-stats client 4.3.2 and service 4.3.2, answering"


def test_jtop_service_down(monkeypatch, on_a_jetson):
    install_jtop(monkeypatch, fake_jtop.make_module("down"))
    check = doctor._jtop()
    assert check.status == doctor.WARNING
    assert "jtop.service is not active" in check.detail
    assert check.fix == "sudo systemctl restart jtop.service"


def test_jtop_version_mismatch(monkeypatch, on_a_jetson):
    install_jtop(monkeypatch, fake_jtop.make_module("up", version="4.3.2", service_version="4.2.7"))
    check = doctor._jtop()
    assert check.status == doctor.WARNING
    assert "[4.2.7] and client: [4.3.2]" in check.detail
    assert "jetson-stats" in check.fix


def test_telemetry_says_which_reader_and_why_not_the_others(monkeypatch):
    monkeypatch.setattr(machine, "is_jetson", lambda: False)
    monkeypatch.setitem(sys.modules, "jtop", fake_jtop.make_module("down"))
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml.make_module())
    check = doctor._nvml()
    assert check.name == "telemetry" and check.status == doctor.OK
    assert check.detail.startswith("reading from NVML (NVIDIA L4) + psutil")
    assert "jtop: jtop 4.3.2: The jtop.service is not active" in check.detail


def test_telemetry_on_a_jetson_without_jtop_reads_proc(monkeypatch, on_a_jetson):
    monkeypatch.setitem(sys.modules, "jtop", None)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    check = doctor._nvml()
    assert check.status == doctor.OK
    assert check.detail.startswith("reading from Jetson files: /proc/meminfo")
    assert "nvml" not in check.detail  # NVML is expected to be useless on a Jetson


def test_telemetry_on_a_jetson_with_only_psutil_is_a_warning(monkeypatch, on_a_jetson):
    from engine.telemetry import ReaderUnavailable, selection

    def unreadable():
        raise ReaderUnavailable("cannot read /proc/meminfo")

    monkeypatch.setitem(sys.modules, "jtop", None)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(selection, "JetsonProcReader", unreadable)
    check = doctor._nvml()
    assert check.status == doctor.WARNING
    assert check.detail.startswith("reading from psutil")
    assert "jetson-proc: cannot read /proc/meminfo" in check.detail
