"""`make screenshots`: SVG screenshots of every screen, driven through the real app.

The chat screenshot shows the bundled model answering for real (through the worker).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from engine.catalog import load_catalog
from engine.telemetry.sampler import Sampler
from tui.app import SmollmApp

SIZE = (120, 40)


async def _catalog(pilot: Pilot) -> None:
    await pilot.pause()


async def _help(pilot: Pilot) -> None:
    await pilot.press("question_mark")


async def _details(pilot: Pilot) -> None:
    await pilot.press("down", "enter")


async def _system(pilot: Pilot) -> None:
    await pilot.press("s")
    await pilot.pause(3)  # a few samples for the charts


async def _evaluate(pilot: Pilot) -> None:
    await pilot.press("e")
    await pilot.pause()


async def _compare(pilot: Pilot) -> None:
    await pilot.press("m")
    await pilot.pause()


async def _chat(pilot: Pilot) -> None:
    await pilot.press("c")
    await pilot.pause()  # the chat screen mounts and starts loading
    await pilot.app.workers.wait_for_complete()
    await pilot.press(*"What is the capital of France? Answer in one sentence.", "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.5)


SHOTS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "catalog": _catalog,
    "details": _details,
    "help": _help,
    "system": _system,
    "chat": _chat,
    "evaluate": _evaluate,
    "compare": _compare,
}

# Our own small multiple-choice tasks (tests/fixtures/tasks): a real quick evaluation of the
# bundled model gives the Compare screenshot real figures without any download.
FIXTURE_TASKS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tasks"


def measure_for_compare() -> None:
    import subprocess

    for precision in ("fp32", "int8"):
        subprocess.run([sys.executable, "-m", "tui.cli", "eval", "smollm2-135m-instruct",
                        "--tasks", "fx_choice4,fx_yesno,fx_choice2", "--include-path",
                        str(FIXTURE_TASKS), "--precision", precision, "--full"], check=True)


async def take(name: str, steps: Callable[[Pilot], Awaitable[None]], out: Path) -> Path:
    telemetry = Sampler(interval=0.5).start()
    app = SmollmApp(load_catalog(use_user_overlay=False), telemetry=telemetry)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await steps(pilot)
        await pilot.pause()
        path = out / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"smollm-tui · {name}"), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    wanted = argv[1:] or list(SHOTS)
    if "compare" in wanted and FIXTURE_TASKS.is_dir():
        measure_for_compare()
    for name in wanted:
        print(asyncio.run(take(name, SHOTS[name], out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
