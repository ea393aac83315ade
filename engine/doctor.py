"""`smollm-tui doctor`: what works on this machine, and the fix for what does not."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from engine import machine, paths
from engine.catalog import bundled
from engine.catalog.entries import load_catalog
from engine.errors import SmollmError

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def run_checks(catalog_path=None) -> list[Check]:
    checks = [
        _python(),
        *_torch_and_quant(),
        _llama_cpp(),
        _jtop(),
        _nvml(),
        _hf_cache(),
        _data_dir(),
        _results_store(),
        _bundled(),
        _catalog(catalog_path),
    ]
    return checks


def _python() -> Check:
    version = platform.python_version()
    return Check("python", OK, f"{version} ({sys.executable})")


def _torch_and_quant() -> list[Check]:
    from engine.runtimes.transformers.quant import FIX, probe_bitsandbytes
    from engine.runtimes.transformers.torch_probe import probe_torch

    torch = probe_torch()
    if torch.version is None:
        return [
            Check(
                "torch",
                PROBLEM,
                f"cannot import torch: {torch.error}",
                "run `make setup`; on a Jetson install NVIDIA's torch wheel for JetPack",
            )
        ]
    checks = []
    if torch.gpu_name is not None:
        kind = "integrated GPU (shares board memory)" if torch.integrated else "discrete GPU"
        seen = f"{torch.version}, CUDA {torch.cuda_version}, {torch.gpu_name}, {kind}"
        checks.append(Check("torch", OK, seen))
        device = "cuda"
    else:
        fix = ""
        if machine.is_jetson():
            fix = (
                "this torch has no CUDA: install NVIDIA's torch wheel for your JetPack "
                "(see README, 'Jetson')"
            )
        checks.append(
            Check(
                "torch",
                WARNING if fix else OK,
                f"{torch.version}, no CUDA GPU: models run on the CPU",
                fix,
            )
        )
        device = "cpu"
    probe = probe_bitsandbytes(device)
    if probe.usable:
        checks.append(Check("bitsandbytes", OK, f"{probe.version}, 8-bit works on {device}"))
    else:
        checks.append(
            Check(
                "bitsandbytes",
                WARNING,
                f"8-bit/4-bit not available on {device}: {probe.reason}",
                FIX,
            )
        )
    return checks


def _llama_cpp() -> Check:
    """The llama.cpp runtime: its build under way or failed, installed, a real decode works
    (a child process), and built for the GPU where there is one."""
    from engine.runtimes.llamacpp import build_status
    from engine.runtimes.llamacpp.probe import FIX_BROKEN, FIX_CPU_ONLY, FIX_MISSING, probe_llamacpp

    build = build_status.read_build_status()
    if build is not None and build.state == "building":
        return Check("llama.cpp", WARNING, build_status.describe(build))
    probe = probe_llamacpp()
    if probe.version is None:
        if build is not None and build.state == "failed":
            return Check(
                "llama.cpp",
                WARNING,
                build_status.describe(build) + "\nGGUF models run on transformers meanwhile",
                build_status.failure_fix(build),
            )
        return Check(
            "llama.cpp",
            WARNING,
            "not installed: GGUF models run on transformers "
            "(slower; the bundled model is converted once)",
            FIX_MISSING,
        )
    if not probe.usable:
        return Check(
            "llama.cpp", WARNING, f"{probe.version} is installed but {probe.reason}", FIX_BROKEN
        )
    landed = f" ({build_status.describe(build)})" if build is not None else ""
    if not probe.gpu_offload and machine.cuda_gpu_visible():
        return Check(
            "llama.cpp",
            WARNING,
            f"{probe.version} is a CPU-only build on a machine with a CUDA GPU: models run "
            f"on the CPU{landed}",
            FIX_CPU_ONLY,
        )
    where = "CPU and CUDA (all layers offloaded)" if probe.gpu_offload else "CPU build"
    note = "; built with AMX, which runs without its AMX buffers" if probe.amx else ""
    return Check("llama.cpp", OK, f"{probe.version}, {where}{note}{landed}")


def _jtop() -> Check:
    """Is jtop usable: installed, its service answering, same version as the client."""
    if not machine.is_jetson():
        return Check("jtop", OK, "not a Jetson: jtop not needed")
    if importlib.util.find_spec("jtop") is None:
        return Check(
            "jtop",
            WARNING,
            "jetson-stats is not installed: board memory comes from "
            "/proc/meminfo and there are no power figures",
            "sudo pip3 install -U jetson-stats (then reboot or restart the jtop service)",
        )
    from engine.telemetry.base import ReaderUnavailable
    from engine.telemetry.jtop_reader import JtopReader

    try:
        reader = JtopReader()
    except ReaderUnavailable as exc:
        text = str(exc)
        if "Mismatch" in text:
            fix = (
                "install the service's jetson-stats version for this Python too, or "
                "`sudo pip3 install -U jetson-stats && sudo systemctl restart jtop.service`"
            )
        elif "access" in text or "group" in text:
            fix = "sudo usermod -aG jtop $USER, then log out and in again"
        else:
            fix = "sudo systemctl restart jtop.service"
        return Check("jtop", WARNING, text, fix)
    except Exception as exc:  # a broken jetson-stats install can raise anything
        return Check(
            "jtop",
            WARNING,
            f"jtop failed: {exc.__class__.__name__}: {exc}",
            "sudo pip3 install -U jetson-stats",
        )
    version = reader.version
    reader.close()
    spec = importlib.util.find_spec("jtop")
    where = f" ({Path(spec.origin).parent.parent})" if spec and spec.origin else ""
    # The client refuses a service of another version, so answering means both are this one.
    return Check(
        "jtop", OK, f"jetson-stats client {version}{where} and service {version}, answering"
    )


def _nvml() -> Check:
    """Which telemetry reader the app will use, and why the better ones are not used
    (NVML among them: it is the reader for discrete NVIDIA GPUs)."""
    from engine.telemetry.selection import select_reader

    chain = select_reader()
    try:
        detail = f"reading from {chain.describe()}"
        # On a Jetson NVML is expected to be absent or memory-less: not worth a line.
        skipped = [s for s in chain.skipped if not (s.name == "nvml" and machine.is_jetson())]
        if skipped:
            detail += "; not used: " + "; ".join(f"{s.name}: {s.reason}" for s in skipped)
    finally:
        chain.close()
    status = OK if chain.name != "none" else WARNING
    fix = "" if status == OK else "pip install psutil"
    if chain.name == "psutil" and machine.is_jetson():
        status, fix = WARNING, "see the jtop line above"
    return Check("telemetry", status, detail, fix)


def _hf_cache() -> Check:
    cache = paths.hf_cache_dir()
    existing = cache
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free_gb = shutil.disk_usage(existing).free / 1e9
    status = OK if free_gb >= 5 else WARNING
    fix = "" if status == OK else "free disk space or point HF_HOME at a bigger disk"
    return Check("hf cache", status, f"{cache} ({free_gb:.1f} GB free)", fix)


def _data_dir() -> Check:
    data = paths.data_dir()
    try:
        paths.make_private_dir(data)
        probe = data / ".write-test"
        paths.write_private_text(probe, "ok")
        probe.unlink()
    except OSError as exc:
        return Check(
            "data dir",
            PROBLEM,
            f"{data} is not writable: {exc}",
            "set SMOLLM_TUI_HOME to a writable folder",
        )
    if data.stat().st_mode & 0o077:  # not ours, so it could not be tightened
        return Check(
            "data dir",
            WARNING,
            f"{data} can be read by other users",
            f"chmod 700 {data} (as its owner)",
        )
    return Check("data dir", OK, f"{data} (readable by you only)")


def _results_store() -> Check:
    """PRAGMA quick_check on the results store, its schema, and whether runs can be kept."""
    from engine.results import health
    from engine.results.store import ResultsStore

    path = paths.results_db_path()
    if not path.exists():
        return Check("results store", OK, f"{path}: none yet (made by the first run)")
    try:
        health.check_file(path)  # the header, then PRAGMA quick_check
        with ResultsStore(path, read_only=True) as store:
            evals, speeds = len(store.eval_runs()), len(store.speed_runs())
    except health.StoreDamaged as exc:
        return Check(
            "results store",
            PROBLEM,
            f"{path} is damaged ({exc.reason}); smollm-tui leaves it as it is and "
            "shows no results until it is moved aside",
            f"move it aside (a new store is started): {health.move_aside_command(path)}",
        )
    except SmollmError as exc:
        return Check("results store", PROBLEM, str(exc), "see the message")
    detail = f"{path}: quick_check ok, {evals} evaluation(s), {speeds} chat speed(s)"
    why = health.not_writable_reason(path)
    if why is not None:
        return Check(
            "results store",
            WARNING,
            f"{detail}; cannot be written ({why}): evaluations refuse to start",
            f"chmod u+w {path} {path.parent}, or set SMOLLM_TUI_HOME to a writable folder",
        )
    return Check("results store", OK, detail)


def _bundled() -> Check:
    try:
        path = bundled.gguf_path()
    except bundled.BundledModelMissing as exc:
        return Check("bundled model", WARNING, str(exc), bundled.INSTALL_HINT)
    return Check("bundled model", OK, f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)")


def _catalog(catalog_path) -> Check:
    try:
        catalog = load_catalog(catalog_path)
    except SmollmError as exc:
        return Check("catalog", PROBLEM, str(exc), "fix the file and line named above")
    files = ", ".join(str(f) for f in catalog.files)
    return Check("catalog", OK, f"{len(catalog)} models from {files}")
