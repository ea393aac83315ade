"""`make screenshots`: SVG screenshots of every screen, driven through the real app.

The chat screenshot shows the bundled model answering for real (through the worker), the
Arena the same model on both runtimes; the Compare screenshot shows real evaluations of
several models (measure_for_compare), the Pick screenshot the same with their decode
speed measured by `bench` (measure_for_pick).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from textual.pilot import Pilot

from engine.catalog.entries import load_catalog
from engine.telemetry.sampler import Sampler
from tui.app import SmollmApp
from tui.widgets.memory_meter import MemoryMeter

SIZE = (120, 40)


async def rows_shown(pilot: Pilot) -> None:
    """Until the catalog's rows (read in a thread: tui.catalog_rows) are on the screen."""
    await pilot.pause()
    await cast(SmollmApp, pilot.app).overview.settled()
    await pilot.pause()


async def results_shown(pilot: Pilot) -> None:
    """Until what the screen shown reads from the results store in a thread (Compare,
    Evaluate's history, the full details: tui.store_reads) is on the screen."""
    await pilot.pause()
    reader = getattr(pilot.app.screen, "store_read", None)
    if reader is not None:
        await reader.settled()
        await pilot.pause()


async def _catalog(pilot: Pilot) -> None:
    await pilot.pause()


async def _help(pilot: Pilot) -> None:
    await pilot.press("question_mark")


async def _details(pilot: Pilot) -> None:
    await pilot.press("down", "enter")
    await results_shown(pilot)


async def _system(pilot: Pilot) -> None:
    await pilot.press("s")
    await pilot.pause(3)  # a few samples for the charts


async def _evaluate(pilot: Pilot) -> None:
    await pilot.press("e")
    await results_shown(pilot)


async def _compare(pilot: Pilot) -> None:
    await pilot.press("m")
    await results_shown(pilot)


async def _pick(pilot: Pilot) -> None:
    await pilot.press("b")
    await results_shown(pilot)


async def _arena(pilot: Pilot) -> None:
    """The bundled model on transformers (left) and on llama.cpp (right), one question."""
    from textual.worker import WorkerState

    await pilot.press("r", "a", "r", "a")  # runtime transformers, mark; llama.cpp, open
    while True:  # both sides loaded (or one after the other, as the plan says)
        await pilot.pause()
        busy = [
            w for w in pilot.app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        ]
        if not busy:
            break
        await pilot.app.workers.wait_for_complete(busy)
    await pilot.press(*"Name three uses of a lighthouse, in one sentence.", "enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.5)


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
    "pick": _pick,
    "arena": _arena,
}

# Our own small multiple-choice tasks (tests/fixtures/tasks) and the tests' tiny random
# models (tests/tiny_models.py): real evaluations, without any download, for a Compare
# screenshot that compares.
TESTS = Path(__file__).resolve().parent.parent / "tests"
FIXTURE_TASKS = TESTS / "fixtures" / "tasks"
TASKS = "fx_choice4,fx_yesno,fx_choice2"
# (models, precision): the bundled model at two precisions on transformers and its Q4_1
# file on llama.cpp (auto), then the two tiny models.
COMPARE_RUNS = (
    (("smollm2-135m-instruct",), "fp32"),
    (("smollm2-135m-instruct",), "int8"),
    (("smollm2-135m-instruct",), "auto"),
    (("tiny-llama", "tiny-t5"), "fp32"),
)


def tiny_models_overlay(folder: Path) -> Path:
    """A catalog overlay adding the tests' tiny-llama and tiny-t5 (built once into
    .cache/test-models, in a few seconds, from the bundled model's tokenizer)."""
    sys.path.insert(0, str(TESTS))
    from tiny_models import overlay_text, tiny_llama_dir, tiny_t5_dir

    overlay = folder / "tiny-models.toml"
    overlay.write_text(
        overlay_text(
            {"tiny-llama": tiny_llama_dir(), "tiny-t5": tiny_t5_dir()}, kind={"tiny-t5": "seq2seq"}
        ),
        encoding="utf-8",
    )
    return overlay


def measure_for_compare(overlay: Path) -> None:
    """Evaluate every COMPARE_RUNS entry in full on the fixture tasks with the `eval`
    command, which stores the results in this home's store as any user's are stored.
    Nothing is made up: each figure is a run of the real evaluation code."""
    import subprocess

    for models, precision in COMPARE_RUNS:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "--catalog",
                str(overlay),
                "eval",
                "--models",
                ",".join(models),
                "--tasks",
                TASKS,
                "--include-path",
                str(FIXTURE_TASKS),
                "--precision",
                precision,
                "--full",
            ],
            check=True,
        )


# (model, runtime, precision) benched for the Pick screenshot: the configurations that
# measure_for_compare evaluated, so that each has quality, speed and peak memory.
PICK_BENCHES = (
    ("smollm2-135m-instruct", "transformers", "fp32"),
    ("smollm2-135m-instruct", "transformers", "int8"),
    ("smollm2-135m-instruct", "auto", "auto"),
    ("tiny-llama", "transformers", "fp32"),
)


def measure_for_pick(overlay: Path) -> None:
    """The `bench` decode test (one timed run) of each PICK_BENCHES entry, stored as any
    user's is: with measure_for_compare's evaluations, the Pick screen's front is real."""
    import subprocess

    for model, runtime, precision in PICK_BENCHES:
        runtimes = [] if runtime == "auto" else ["--runtime", runtime]
        precisions = [] if precision == "auto" else ["--precision", precision]
        subprocess.run(
            [sys.executable, "-m", "tui.cli", "--catalog", str(overlay), "bench", model]
            + runtimes
            + precisions
            + ["--device", "cpu", "--runs", "1"],
            check=False,  # llama.cpp may not be installed here: the others still count
        )


async def take(
    name: str, steps: Callable[[Pilot], Awaitable[None]], out: Path, overlay: Path | None = None
) -> Path:
    telemetry = Sampler(interval=0.5).start()
    catalog = load_catalog(overlay, use_user_overlay=False)
    app = SmollmApp(catalog, catalog_path=str(overlay) if overlay else None, telemetry=telemetry)
    async with app.run_test(size=SIZE) as pilot:
        await rows_shown(pilot)
        await steps(pilot)
        await rows_shown(pilot)  # back on the catalog, or a precision or runtime changed
        # The meter reads the worker's state once a second: read now, so that a picture
        # taken just after a reply does not show it still generating.
        for meter in app.screen.query(MemoryMeter):
            meter.refresh_meter()
        await pilot.pause()
        path = out / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"smollm-tui · {name}"), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    wanted = argv[1:] or list(SHOTS)
    overlay = None
    with_results = ("compare", "pick")
    if any(name in wanted for name in with_results) and FIXTURE_TASKS.is_dir():
        from engine.paths import data_dir

        folder = data_dir()  # the screenshots' own app home (see the Makefile)
        folder.mkdir(parents=True, exist_ok=True)
        overlay = tiny_models_overlay(folder)
        measure_for_compare(overlay)
        if "pick" in wanted:
            measure_for_pick(overlay)
    for name in wanted:
        # Only Compare and Pick list the tiny models: the catalog shows the shipped models.
        chosen = overlay if name in with_results else None
        print(asyncio.run(take(name, SHOTS[name], out, chosen)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
