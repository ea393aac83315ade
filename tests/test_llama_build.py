"""The llama.cpp build that `make run` starts in the background (tools/llama_build.py), as
doctor, the memory meter and `auto` see it (engine/runtimes/llamacpp/build_status.py).

The builds here are real detached processes (their own session, output to the log, status
written by the runner) running stand-in commands instead of pip: one that waits on a FIFO
until the test lets it finish, one that succeeds, one that fails as a compile does.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))  # the set-up's own modules, as it runs them
import llama_build  # noqa: E402
from llama_build import Attempt  # noqa: E402

from engine import doctor  # noqa: E402
from engine.runtimes import llamacpp  # noqa: E402
from engine.runtimes.llamacpp import build_status  # noqa: E402
from engine.runtimes.llamacpp.build_status import build_dir  # noqa: E402

TARGET = "llama-cpp-python==0.3.36 (CPU)"
FAILS = "import sys; print('cc1plus: fatal error: cc: command not found', file=sys.stderr); "
FAILS += "sys.exit(3)"


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _start(attempts: list[Attempt], expected_s: float = 600.0) -> int | None:
    return llama_build.start_background(
        build_dir(), attempts, kind="cpu", target=TARGET, expected_s=expected_s
    )


def _held(fifo: Path) -> Attempt:
    """A build step that runs until the test writes to ``fifo``."""
    os.mkfifo(fifo)
    return Attempt(
        "source build", _python(f"print('compiling'); open({str(fifo)!r}).read()"), {}, True
    )


@pytest.fixture(autouse=True)
def _no_step_left_held(tmp_path):
    """A test that fails half-way leaves no build step waiting on its FIFO."""
    yield
    for fifo in tmp_path.glob("hold*"):
        try:
            step = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # nobody is reading it: nothing is held
            continue
        os.write(step, b"done")
        os.close(step)


def _release(fifo: Path) -> None:
    with open(fifo, "w") as pipe:
        pipe.write("done")


def _wait(pid: int) -> None:
    """The runner is our child here (set-up exits at once on a real machine)."""
    os.waitpid(pid, 0)


def test_a_background_build_says_building_with_its_eta_then_ready(tmp_path):
    pid = _start([_held(tmp_path / "hold")])
    assert pid is not None
    status = build_status.read_build_status()
    assert status is not None and status.state == "building"
    # The runner is detached: its own session, away from the terminal's Ctrl-C and hang-up.
    assert os.getsid(pid) == pid and os.getsid(pid) != os.getsid(0)
    now = status.started + 60  # one minute into a build expected to take ten
    assert build_status.meter_words(status, now) == "llama.cpp building, about 9 min"
    assert "building (about 9 min left) in the background" in build_status.describe(status, now)
    check = doctor._llama_cpp()
    assert check.status == "warning" and check.detail.startswith("building (about ")
    assert not llamacpp.installed()  # installed or not, not while a build rewrites it
    assert _start([Attempt("source build", _python("pass"), {}, True)]) is None  # not twice

    _release(tmp_path / "hold")
    _wait(pid)
    status = build_status.read_build_status()
    assert status is not None and status.state == "ready" and status.how == "source build"
    assert build_status.meter_words(status) == "llama.cpp ready: next load"
    assert "compiling" in status.log.read_text()
    assert llamacpp.installed() == (importlib.util.find_spec("llama_cpp") is not None)
    # Its measured time is the next build's estimate.
    measured = llama_build.read_status(build_dir())["measured_s"]["cpu"]
    assert llama_build.expected_seconds(build_dir(), "cpu", 2) == measured


def test_a_failed_build_shows_the_logs_last_lines_and_the_fix(monkeypatch):
    pid = _start([Attempt("source build", _python(FAILS), {}, True)])
    assert pid is not None
    _wait(pid)
    status = build_status.read_build_status()
    assert status is not None and status.state == "failed" and status.exit_code == 3
    assert build_status.meter_words(status) == "llama.cpp build failed: see doctor"
    # Where llama.cpp is missing (faked: this machine has it), doctor gives the whole story.
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    monkeypatch.setattr(llamacpp, "version", lambda: None)
    check = doctor._llama_cpp()
    assert check.status == "warning"
    assert f"the build of {TARGET} failed (exit 3)" in check.detail
    assert "cc1plus: fatal error: cc: command not found" in check.detail
    assert "sudo apt install build-essential cmake" in check.fix


def test_the_wheel_is_tried_first_and_the_build_follows_when_none_fits():
    wheel = Attempt("Jetson AI Lab wheel (JetPack 6)", _python("raise SystemExit(1)"), {}, False)
    build = Attempt("source build", _python("import os; print(os.environ['CMAKE_ARGS'])"), {}, True)
    build.env["CMAKE_ARGS"] = "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=87"
    pid = _start([wheel, build])
    assert pid is not None
    _wait(pid)
    status = build_status.read_build_status()
    assert status is not None and status.state == "ready" and status.how == "source build"
    log = status.log.read_text()
    assert "Jetson AI Lab wheel (JetPack 6) failed (exit 1)" in log
    assert "-DCMAKE_CUDA_ARCHITECTURES=87" in log  # the build got its environment


def test_a_build_killed_half_way_reads_as_failed(tmp_path):
    pid = _start([_held(tmp_path / "hold")])
    assert pid is not None
    with open(tmp_path / "hold", "w") as step:  # opens once the build's step is running
        os.kill(pid, signal.SIGKILL)  # the OOM killer, a reboot
        _wait(pid)
        step.write("done")  # its orphaned step ends too
    status = build_status.read_build_status()
    assert status is not None and status.state == "failed"
    assert "stopped before it ended" in build_status.failure_fix(status)


def test_auto_takes_llamacpp_once_the_build_lands_without_a_restart(tmp_path):
    """A running Python whose site-packages has no llama_cpp (a view of this venv's
    without it) resolves `auto` to transformers; while a build runs the package lands
    there (still transformers: it may be half written); the build ends, and the same
    process, asked again, takes llama.cpp. What lands is a stand-in package: `auto` only
    looks for it (the load imports it, in the worker)."""
    import site
    import subprocess

    real = next(Path(p) for p in site.getsitepackages() if (Path(p) / "textual").is_dir())
    view = tmp_path / "site-packages"
    view.mkdir()
    for item in real.iterdir():
        if not item.name.startswith("llama_cpp"):
            (view / item.name).symlink_to(item)
    app = subprocess.Popen(
        [sys.executable, "-S", "-c", ASK_AUTO, str(REPO), str(view)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdin is not None and app.stdout is not None

    def ask() -> str:
        app.stdin.write("again\n")
        app.stdin.flush()
        return app.stdout.readline().strip()

    try:
        assert ask() == "transformers"
        pid = _start([_held(tmp_path / "hold")])
        assert pid is not None
        before = view.stat().st_mtime_ns
        (view / "llama_cpp").mkdir()
        (view / "llama_cpp" / "__init__.py").write_text("__version__ = '0.3.36'\n")
        # The folder's time as it was: the files landed within one tick of its clock.
        os.utime(view, ns=(before, before))
        assert ask() == "transformers"  # the build is still running
        _release(tmp_path / "hold")
        _wait(pid)
        assert ask() == "llama.cpp"
    finally:
        app.stdin.close()
        app.wait(timeout=60)


# The app's side: resolve `auto` for the bundled model each time a line comes in.
ASK_AUTO = """
import sys
repo, view = sys.argv[1:3]
sys.path[:0] = [repo, view]
from engine.catalog.entries import load_catalog
from engine.runtimes.choice import resolve_runtime
entry = load_catalog().default()
for _ in sys.stdin:
    print(resolve_runtime(entry, "auto"), flush=True)
"""


def test_make_test_waits_for_the_background_build_then_uses_it(tmp_path):
    """`make test` (the foreground) while `make run`'s build is under way: it waits for
    that build instead of starting a second one, and takes what it built."""
    import subprocess

    pid = _start([_held(tmp_path / "hold")])
    assert pid is not None
    foreground = subprocess.Popen(
        [sys.executable, "-c", WAIT_IN_FOREGROUND, str(REPO / "tools"), str(build_dir())],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert foreground.stdout is not None
    said = foreground.stdout.readline()  # once it found the build running
    assert said.startswith("setup: waiting for the llama.cpp build running in the background")
    assert f"(pid {pid}, about 10 min left" in said
    _release(tmp_path / "hold")
    _wait(pid)
    rest, _ = foreground.communicate(timeout=60)
    assert foreground.returncode == 0
    assert rest == "setup: llama.cpp: the background build landed\n"


# The foreground build of `make test`, its own build a failing one (never run here).
WAIT_IN_FOREGROUND = f"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import llama_build
data = Path(sys.argv[2])
fails = llama_build.Attempt("source build", [sys.executable, "-c", {FAILS!r}], {{}}, True)
sys.exit(llama_build.run_foreground(
    data, [fails], kind="cpu", target="t", expected_s=1,
    still_needed=lambda: llama_build.read_status(data)["state"] != "ok",
))
"""


def test_a_foreground_build_that_fails_fails_the_set_up(capsys):
    """`make test` and CI: no background, and a failed build is a failed set-up."""
    plan = llama_build.LlamaPlan("foreground", "cpu", TARGET, 1)
    plan.attempts.append(Attempt("source build", _python(FAILS), {}, True))
    assert llama_build.get_llama(plan, [], build_dir(), lambda: True) == 1
    out, err = capsys.readouterr()
    assert "cc1plus: fatal error" in out  # the build's output on the terminal
    assert f"setup: failed: llama.cpp ({TARGET}); the log: " in err
    status = build_status.read_build_status()
    assert status is not None and status.state == "failed" and not status.background


async def test_the_memory_meter_shows_the_build_then_that_it_is_ready(tmp_path):
    """The app opened while `make run`'s build runs: every screen's meter says so, and
    that llama.cpp is ready once it has landed."""
    from app_fixtures import make_app

    from tui.widgets.memory_meter import MemoryMeter

    pid = _start([_held(tmp_path / "hold")])
    assert pid is not None
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        meter = app.screen.query_one(MemoryMeter)

        async def shown() -> str:
            await app.workers.wait_for_complete()
            await pilot.pause()  # a read its timer started earlier has reported
            meter.read_llama_build()  # one now, as its timer does
            await app.workers.wait_for_complete()
            await pilot.pause()
            return str(meter.render())

        assert re.search(r"llama\.cpp building, about \d+ min", await shown())
        _release(tmp_path / "hold")
        _wait(pid)
        assert "llama.cpp ready: next load" in await shown()


def test_a_build_for_another_environment_leaves_this_ones_llama_cpp_alone(tmp_path, monkeypatch):
    """`make test-board` builds llama.cpp for its own venv: while it runs, the app's venv
    (and a test suite run from it) still has its llama.cpp, and the meter says nothing."""
    with monkeypatch.context() as board:  # where set-up asks the board venv's Python
        board.setattr(sys, "executable", str(tmp_path / ".venv-board" / "bin" / "python"))
        other = build_dir()
    assert other != build_dir()
    pid = llama_build.start_background(
        other, [_held(tmp_path / "hold")], kind="cpu", target=TARGET, expected_s=600.0
    )
    assert pid is not None
    try:
        assert build_status.read_build_status(other).state == "building"
        assert build_status.building() is None
        assert build_status.meter_words(build_status.read_build_status()) is None
        assert llamacpp.installed() == (importlib.util.find_spec("llama_cpp") is not None)
    finally:
        _release(tmp_path / "hold")
        _wait(pid)
