"""Apps for Pilot and snapshot tests: the real app with the machine's edges fixed.

Telemetry comes from a fixed snapshot and the overview from fixed figures so that
screenshots are the same on every machine; everything else is real.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.catalog.entries import Catalog, load_catalog
from engine.memory.overview import ModelOverview
from tui.app import SmollmApp


@dataclass
class FixedSnapshot:
    ram_total_mb: float = 7620.0
    ram_used_mb: float = 3140.0
    gpu_load_pct: float | None = 12.0


class FixedTelemetry:
    def __init__(self) -> None:
        self.snapshot = FixedSnapshot()

    def latest(self) -> FixedSnapshot:
        return self.snapshot

    def stop(self) -> None:
        pass


def fixed_overview(
    catalog: Catalog, precision: str, device: str, runtime: str = "auto"
) -> list[ModelOverview]:
    rows = []
    factor = {"int8": 1, "int4": 0.5, "fp16": 2, "bf16": 2}.get(precision, 4)
    for index, entry in enumerate(catalog):
        size = entry.params * factor / 2**20 * 1.2
        fit = "fits" if size < 2500 else ("tight" if size < 4000 else "does not fit")
        rows.append(
            ModelOverview(
                entry=entry,
                size_mb=size,
                fit=fit,
                on_disk="bundled" if entry.source == "bundled" else ("yes" if index < 3 else "no"),
                fit_measured=index == 0,
                best_avg_accuracy=41.5 if index == 0 else None,
                last_tokens_per_s=35.2 if index == 0 else None,
                best_tokens_per_s=117.3 if index == 0 else None,
                best_speed_runtime="llama.cpp" if index == 0 else None,
            )
        )
    return rows


def make_app(overlay: Path | None = None, **kwargs) -> SmollmApp:
    catalog = load_catalog(overlay, use_user_overlay=False)
    kwargs.setdefault("telemetry", FixedTelemetry())
    kwargs.setdefault("overview_source", fixed_overview)
    app = SmollmApp(catalog, catalog_path=str(overlay) if overlay else None, **kwargs)
    notify_at_once(app)
    return app


def notify_at_once(app: SmollmApp) -> None:
    """A notification raised on the app's own thread is added at once, as Textual's Notify
    message adds it a moment later. Textual posts that message: a test that read the
    notifications after the screen it waited for had opened (in the same handler as the
    notify) found none when the machine was busy (seen in 2 runs of the suite under
    load). The app's notify (which makes outside text safe) runs as it is; only the
    message's delivery is direct. From another thread it is posted, as Textual does."""
    from textual.notifications import Notify

    post = app.post_message

    def post_message(message) -> bool:
        if isinstance(message, Notify) and threading.get_ident() == app._thread_id:
            app._on_notify(message)
            return True
        return post(message)

    app.post_message = post_message  # type: ignore[method-assign]


class ScriptedClient:
    """Replays fixed protocol events, for snapshots only: timings there must not vary.
    Every behavioural chat test uses the real worker instead."""

    def __init__(self, catalog_path=None, reply: str = "The capital of France is **Paris**."):
        from engine.worker import protocol as p

        self.p = p
        self.reply = reply
        self.state = "none"
        self.info = None

    def load(self, options):
        p = self.p
        self.state = "ready"
        self.info = p.LoadInfo(
            model_id=options.model_id,
            repo="HuggingFaceTB/SmolLM2-135M-Instruct",
            revision=None,
            kind="causal",
            params=134_515_008,
            size_mb=92.1,
            dtype="Q4_1",
            device="cpu",
            device_name="cpu",
            quantization=None,
            load_seconds=0.2,
            context_length=4096,
            has_chat_template=True,
            runtime="llama.cpp",
        )
        yield p.Progress(1, "reading weights", 0.5)
        yield p.Loaded(1, self.info)

    def generate(self, conversation, settings, raw=False):
        p = self.p
        for word in self.reply.split(" "):
            yield p.Chunk(2, word + " ")
        yield p.ReplyDone(
            2,
            p.ReplyStats(
                prompt_tokens=38,
                new_tokens=9,
                time_to_first_token_s=0.010,
                tokens_per_s=117.3,
                total_s=0.09,
                stop_reason="eos",
                peak_memory_mb=344.0,
                runtime="llama.cpp",
            ),
        )

    def cancel(self):
        pass

    def close(self):
        self.state = "none"


def make_scripted_app(**kwargs) -> SmollmApp:
    from tui.session import ModelSession

    return make_app(session=ModelSession(client_factory=ScriptedClient), **kwargs)


# ---- results for the Evaluate and Compare screens -------------------------------------------

FIXED_TIME = 1_763_900_000.0  # 2025-11-23 12:13:20 UTC


def fixed_eval_runs():
    """Fixed stored runs for Compare / Evaluate tests and snapshots: three catalog models,
    three tasks, quick and full runs, fp32 and int8, an oom, a failure and a cancelled run.
    pythia-160m's ARC-e is far from its published 43.5 (flagged), its PIQA is close."""
    from engine.results.store import EvalRun

    def run(
        model,
        task,
        status="ok",
        acc=None,
        stderr=0.02,
        *,
        precision="fp32",
        limit=100,
        shots=0,
        ms=40.0,
        peak=900.0,
        size=620.0,
        minutes=0,
        error=None,
        norm=None,
    ):
        metrics = {}
        if acc is not None:
            metrics = {"acc": acc, "acc_stderr": stderr}
        if norm is not None:
            metrics.update({"acc_norm": norm, "acc_norm_stderr": stderr})
        ok = status == "ok"
        return EvalRun(
            model_id=model,
            precision=precision,
            device="cuda",
            task=task,
            status=status,
            started=FIXED_TIME + minutes * 60,
            ended=FIXED_TIME + minutes * 60 + 30,
            device_name="Orin",
            num_fewshot=shots,
            limit=limit,
            samples=(limit or 500) if ok else 0,
            metrics=metrics,
            time_per_sample_ms=ms if ok else None,
            peak_memory_mb=peak if ok else None,
            model_size_mb=size,
            lm_eval_version="0.4.13",
            error=error,
        )

    return [
        run("pythia-160m", "arc_easy", acc=0.30, stderr=0.01, norm=0.28, minutes=1),
        run("pythia-160m", "piqa", acc=0.625, stderr=0.011, norm=0.61, minutes=2),
        run("pythia-160m", "boolq", acc=0.55, minutes=3, limit=None, ms=55.5),
        run("pythia-160m", "arc_easy", "cancelled", minutes=4, error="cancelled by the user"),
        run(
            "opt-125m",
            "arc_easy",
            acc=0.435,
            stderr=0.01,
            norm=0.40,
            size=477.8,
            ms=35.0,
            peak=780.0,
            minutes=5,
        ),
        run(
            "opt-125m",
            "piqa",
            "failed",
            minutes=6,
            size=477.8,
            error="[bold]boom[/] dataset piqa broke",
        ),
        run(
            "tinyllama-1.1b",
            "arc_easy",
            "oom",
            minutes=7,
            size=4198.4,
            error="CUDA out of memory. Tried to allocate 1.50 GiB",
        ),
        run(
            "tinyllama-1.1b",
            "piqa",
            acc=0.73,
            norm=0.74,
            precision="int8",
            size=1200.0,
            ms=120.0,
            peak=2400.0,
            minutes=8,
            shots=2,
        ),
    ]


def fill_results_store(runs=None) -> None:
    """Store ``runs`` (default: fixed_eval_runs()) in this test's results store."""
    from engine.results.store import ResultsStore, add_many

    with ResultsStore() as store:
        add_many(store, fixed_eval_runs() if runs is None else runs)


# ---- what the terminal shows ------------------------------------------------------------


def screen_text(app) -> str:
    """Every line the terminal shows now (notifications included), as plain text: what a
    user reads, after markup was (or was not) interpreted."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notes(app) -> list[str]:
    """The messages of the notifications raised so far (shown or expired)."""
    return [str(n.message) for n in app._notifications]


async def rows_shown(pilot) -> None:
    """Wait, as a user does, for the catalog's rows: they are read in a thread after the
    catalog opens, after a change of precision or runtime and on each return to it."""
    await pilot.pause()  # the catalog asks for them as it opens or comes back
    await pilot.app.overview.settled()
    await pilot.pause()  # and shows them


async def results_shown(pilot) -> None:
    """Wait, as a user does, for what the screen shown reads from the results store
    (Compare, Evaluate's history, the full details): read in a thread as it opens and
    whenever it reads again (tui.store_reads)."""
    await pilot.pause()  # the screen asks for it as it is shown
    reader = getattr(pilot.app.screen, "store_read", None)
    if reader is not None:
        await reader.settled()
        await pilot.pause()  # and shows it


async def steady(pilot) -> None:
    """Before a snapshot: no blinking text cursor, the memory meter read
    now and tables' column widths measured now (a DataTable measures them when idle), so
    that the picture does not depend on when it is taken."""
    from textual.widgets import DataTable, Input, TextArea

    from tui.widgets.memory_meter import MemoryMeter

    await pilot.pause()
    for widget in pilot.app.screen.query("*"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False  # (a TextArea then draws no cursor)
            widget.refresh()
        elif isinstance(widget, MemoryMeter):
            widget.refresh_meter()
        elif isinstance(widget, DataTable):
            await widget._on_idle(None)
            # Cells drawn before the widths were measured stay cached at the old widths
            # (Textual 8.2): this drops the caches and redraws.
            widget.notify_style_update()
    await pilot.pause()  # the widgets ask the screen for a layout,
    # A blink already queued when the timer was paused still toggles the cursor off after
    # it (seen in about 1 snapshot in 4 under load): shown again, as the pause meant.
    for widget in pilot.app.screen.query(Input):
        widget._cursor_visible = True
    for area in pilot.app.screen.query(TextArea):
        # TextArea caches its lines by a key without the focus: a line drawn before the
        # focus came back (no cursor) was drawn again from the cache without one.
        area.notify_style_update()
        area.refresh()
    await pilot.pause()  # which it does here
