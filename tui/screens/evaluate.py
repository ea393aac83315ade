"""Evaluate one model: choose tasks, quick or full, few-shot; progress; results; history.

The run goes through engine.evaluation.batch.run_batch in a thread worker, the code the
`eval` command and the background jobs run through, on the app's model (loaded first if
needed; tui.eval_run): it skips the tasks already measured with the same settings unless
"re-run measured" is ticked, stores every finished task, and tells progress, which
tui.eval_run turns into this module's messages. Esc cancels through it too. `f` sets the
folders of the user's own task YAML files (engine.preferences).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    ProgressBar,
    Static,
)

from engine import events as ev
from engine.catalog.entries import ModelEntry
from engine.errors import SmollmError
from engine.evaluation.batch import BatchSummary, Settings, run_batch
from engine.memory import fit as memory
from engine.records import EvalSpec
from engine.results.store import EvalRun, ResultsStore, ensure_writable
from engine.runtimes import runtime_named
from engine.runtimes.choice import runtime_expected
from engine.settings import LoadOptions
from engine.states import EvalOutcome
from engine.task_registry import short_name
from tui import messages as m
from tui.app_api import smollm_app
from tui.eval_run import AppModel, BatchMessages
from tui.load_text import loading_text
from tui.safe_text import plain
from tui.screens.task_folders import ask_task_folders
from tui.store_reads import StoreRead
from tui.widgets.eval_form import EvalForm
from tui.widgets.eval_history import fill_history, history_title, newest
from tui.widgets.eval_tables import HISTORY_COLUMNS, RESULT_COLUMNS, result_cells
from tui.widgets.eval_task_list import EvalTaskList, task_details
from tui.widgets.memory_meter import MemoryMeter

DEFAULT_LIMIT = 100


class EvaluateScreen(Screen):
    """`EvaluateScreen(entry, options, include_path=None)`: evaluate ``entry`` loaded with
    ``options`` through the app's ModelSession. ``include_path``: a folder (several joined
    with os.pathsep) of the user's own lm-eval task YAML files, listed first, beside the
    built-in tasks; SMOLLM_TUI_TASKS and the task folders saved with `f` are honoured too."""

    DEFAULT_CSS = """
    EvaluateScreen #status { height: 1; padding: 0 1; background: $boost; }
    EvaluateScreen #setup { height: 9; }
    EvaluateScreen.-tall #setup { height: 16; }
    EvaluateScreen #task-info { height: 1; padding: 0 1; color: $text-muted; }
    EvaluateScreen #progress-row { height: 1; padding: 0 1; }
    EvaluateScreen ProgressBar { width: 30; }
    EvaluateScreen #progress-text { width: 1fr; }
    EvaluateScreen .title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    EvaluateScreen #results { height: 1fr; min-height: 3; }
    EvaluateScreen #history { height: 1fr; min-height: 3; }
    """
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("f", "task_folders", "Task folder"),
    ]

    def __init__(self, entry: ModelEntry, options: LoadOptions, *, include_path: str | None = None):
        super().__init__()
        self.entry = entry
        self.options = options
        # "auto" as the load resolves it
        self.runtime = runtime_expected(entry, options.runtime, options.precision)
        self.include_path = include_path
        self.running = False
        self.cancelling = False
        self.cancel = threading.Event()  # the running evaluation's; Esc sets it
        self.spec: EvalSpec | None = None
        self.stored: list[EvalRun] = []  # this screen's runs, in arrival order
        self.skipped: tuple[str, ...] = ()  # ticked but already measured (this run)
        # The history, read in a thread each time the screen is shown and after a run.
        self.store_read = StoreRead(self, "evaluate-history", model_id=entry.id)

    # ---- layout --------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        yield EvalForm(self.include_path, id="setup")
        yield Static(id="task-info")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=1, id="progress", show_eta=False)
            yield Static(id="progress-text")
        yield Static("Results", classes="title")
        yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-title", classes="title")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Evaluate · {self.entry.name}"
        self.sub_title = (
            f"{self.runtime} · precision {self.options.precision} · device {self.options.device}"
        )
        for table, columns in (("#results", RESULT_COLUMNS), ("#history", HISTORY_COLUMNS)):
            self.query_one(table, DataTable).add_columns(*columns)
        self.set_progress_text(Text("tick tasks with space, then enter runs them", style="dim"))
        self.show_status()
        self.query_one("#history-title", Static).update(history_title(self.entry.name, None))
        chooser = self.query_one(EvalTaskList)
        chooser.focus()
        if chooser.option_count:
            chooser.highlighted = 0

    def on_screen_resume(self) -> None:  # also as the screen is first shown
        self.load_history()

    # ---- status lines --------------------------------------------------------------

    def show_status(self) -> None:
        session = smollm_app(self).session
        if session.is_loaded(self.options) and session.info is not None:
            info = session.info
            self.set_status(
                f"ready · {info.model_id} · {info.runtime} {info.precision} on "
                f"{info.device_name or info.device} · {info.size_mb:.0f} MB"
            )
        elif session.state == "died":
            self.set_status("the model's worker died: enter reloads it and runs", error=True)
        else:
            self.set_status(
                f"{self.entry.name} loads ({self.options.precision}) when you run · {self.runtime}"
            )

    def set_status(self, text: str, error: bool = False) -> None:
        self.query_one("#status", Static).update(plain(text, "bold red" if error else ""))

    def set_progress_text(self, text: Text) -> None:
        self.query_one("#progress-text", Static).update(text)

    def on_selection_list_selection_highlighted(
        self, message: EvalTaskList.SelectionHighlighted
    ) -> None:
        task = message.selection.value
        self.query_one("#task-info", Static).update(
            task_details(task, self.query_one(EvalForm).local_origin.get(task))
        )

    # ---- task folders --------------------------------------------------------------

    def action_task_folders(self) -> None:
        ask_task_folders(self, self.folders_saved)

    def folders_saved(self, saved: tuple[str, ...]) -> None:
        """List the tasks of the folders just saved."""
        form = self.query_one(EvalForm)
        form.reload_tasks()
        found = sum(1 for f in form.local_origin.values() if f in saved)
        self.notify(
            f"{found} local task(s) from {len(saved)} saved folder(s)"
            if saved
            else "task folders cleared",
            markup=False,
        )

    # ---- history -------------------------------------------------------------------

    def load_history(self) -> None:
        """Read the model's stored runs again, in a thread (on_results_read shows them)."""
        self.store_read.request()

    def on_results_read(self, message: m.ResultsRead) -> None:
        with self.store_read.arrived():
            runs = newest(message.runs)
            fill_history(self.query_one("#history", DataTable), runs)
            title = history_title(self.entry.name, runs, message.problem)
            self.query_one("#history-title", Static).update(title)

    # ---- running -------------------------------------------------------------------

    def on_eval_task_list_run_requested(self, message: EvalTaskList.RunRequested) -> None:
        self.action_run()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.action_run()

    def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "run":
            self.action_run()

    def action_run(self) -> None:
        if self.running:
            self.notify("An evaluation is running: Esc cancels it.")
            return
        form = self.query_one(EvalForm)
        try:
            spec = form.spec()
        except SmollmError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if form.background:  # a job, run by the job runner
            from tui.jobs_watch import queue_evaluation

            queue_evaluation(self.app, self.entry, self.options, spec, rerun=form.rerun)
            return
        self.start(spec)

    def start(self, spec: EvalSpec) -> None:
        self.running, self.cancelling, self.spec = True, False, spec
        self.cancel = threading.Event()
        self.query_one("#results", DataTable).clear()
        self.stored, self.skipped = [], ()
        self.query_one(EvalForm).set_running(True)
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        names = ", ".join(short_name(t) for t in spec.tasks)
        mode = f"quick, {spec.limit} samples" if spec.limit else "full"
        self.set_progress_text(plain(f"starting {names} ({mode})"))
        self._evaluate(spec, self.cancel, rerun=self.query_one(EvalForm).rerun)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def _evaluate(self, spec: EvalSpec, cancel: threading.Event, rerun: bool = False) -> None:
        """The run, through the batch code of the `eval` command and the jobs (the skip
        rule, the store, progress, cancel), on the app's model: loaded here if it is not."""
        model = AppModel(smollm_app(self).session, self.post_message, cancel)
        seen = BatchMessages(self.post_message)
        try:
            # As the `eval` command does, before the batch opens the store and any model
            # loads: results that cannot be kept would be lost.
            ensure_writable()
            with ResultsStore() as store:
                summary = run_batch(
                    [self.options.model_id],
                    spec,
                    store=store,
                    session_factory=lambda: model,
                    load_options=lambda model_id: self.options,
                    force=rerun,
                    on_event=seen,
                    cancel=cancel,
                    telemetry=getattr(self.app, "telemetry", None),
                    before_load=self._known_before_load,
                    restart=False,  # a dead worker is shown; the next run reloads
                    keep_load_failures=False,  # a failed load is told, not stored
                )
        except Exception as exc:  # a broken store or worker must not leave the screen stuck
            self.post_message(m.EvalFinished("failed", str(exc) or type(exc).__name__))
            return
        self.post_message(self._finished(seen, summary, len(spec.tasks), model.asked))

    def _known_before_load(self, options: LoadOptions) -> Settings | None:
        """The settings a load of ``options`` will give ("auto" resolved as the worker
        resolves it), so that nothing loads when every task is already measured. None when
        the model is loaded (the batch takes its settings) or the load decides them."""
        if smollm_app(self).session.is_loaded(options):
            return None
        if self.runtime == "auto" or not runtime_named(self.runtime).precision_before_load:
            return None  # auto's runtime, a GGUF file's quant type: known once it loads
        precision, device = memory.resolve(options.precision, options.device)
        return precision, device, self.runtime

    def _finished(
        self, seen: BatchMessages, summary: BatchSummary, ticked: int, loaded: bool
    ) -> m.EvalFinished:
        """How the run ended, from what the batch told."""
        final = seen.final
        if seen.load_failure is not None:
            outcome: EvalOutcome = "cancelled" if self.cancelling else "failed"
            return m.EvalFinished(outcome, seen.load_failure or None)
        if isinstance(final, ev.WorkerDied):
            return m.EvalFinished("died", final.message)
        if isinstance(final, ev.Failed):
            return m.EvalFinished("failed", final.message)
        if isinstance(final, ev.Cancelled) or self.cancelling or summary.cancelled:
            return m.EvalFinished("cancelled")
        if ticked and len(summary.skipped) == ticked:
            return m.EvalFinished(
                "done", _ALL_MEASURED + ("" if loaded else " (the model was not loaded)")
            )
        return m.EvalFinished("done")

    # ---- what the worker reports ---------------------------------------------------

    def on_load_stage(self, message: m.LoadStage) -> None:
        self.set_status(loading_text(f"{self.entry.name}: {message.stage}", message.fraction))

    def on_model_loaded(self, message: m.ModelLoaded) -> None:
        smollm_app(self).model_loaded(message.info)
        self.show_status()

    def on_load_failed(self, message: m.LoadFailed) -> None:
        self.set_status(f"not loaded: {message.message}", error=True)

    def on_eval_progressed(self, message: m.EvalProgressed) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)
        tasks = self.spec.tasks if self.spec else ()
        index = tasks.index(message.task) + 1 if message.task in tasks else 0
        text = Text(f"task {index}/{len(tasks)} ", style="bold")
        text.append_text(plain(short_name(message.task)))
        text.append(f" · {message.done}/{message.total} requests")
        if message.eta_s is not None:
            text.append(f" · ETA {_duration(message.eta_s)}")
        if self.cancelling:
            text.append(" · cancelling…", style="yellow")
        self.set_progress_text(text)

    def on_eval_skipped(self, message: m.EvalSkipped) -> None:
        self.skipped = message.tasks
        if self.spec is not None:  # progress counts "task i/N" over the tasks that run
            self.spec = replace(
                self.spec, tasks=tuple(t for t in self.spec.tasks if t not in message.tasks)
            )
        table = self.query_one("#results", DataTable)
        for task in message.tasks:
            cells = [
                plain(short_name(task)),
                Text("skipped", style="dim"),
                Text("already measured · tick re-run measured to redo", style="dim"),
            ]
            cells += [Text("—", justify="right")] * (len(RESULT_COLUMNS) - len(cells))
            table.add_row(*cells)

    def on_eval_task_stored(self, message: m.EvalTaskStored) -> None:
        self.stored.append(message.run)
        self.query_one("#results", DataTable).add_row(*result_cells(message.run))

    def on_eval_finished(self, message: m.EvalFinished) -> None:
        self.running = False
        self.query_one(EvalForm).set_running(False)
        ok = sum(1 for r in self.stored if r.status == "ok")
        text = Text(f"{message.outcome}: ", style=_OUTCOME_STYLE.get(message.outcome, ""))
        ran = len(self.spec.tasks) if self.spec else 0
        counts = [f"{ok} of {ran} task(s) ok", f"{len(self.stored)} stored"] if ran else []
        if self.skipped:
            counts.append(f"{len(self.skipped)} skipped (already measured)")
        text.append(", ".join(counts))
        if message.message:
            text.append(" · ")
            text.append_text(plain(message.message.splitlines()[0][:200]))
        self.set_progress_text(text)
        if message.outcome == "done":
            self.query_one("#progress", ProgressBar).update(total=1, progress=1)
        if message.outcome == "died":
            smollm_app(self).model_unloaded("the worker died")
        if message.outcome in ("failed", "died") and message.message:
            self.notify(
                message.message,
                title="Evaluation stopped",
                severity="error",
                timeout=10,
                markup=False,
            )
        self.show_status()
        self.load_history()
        if self.stored:  # results changed: the catalog's acc% and measured fit
            smollm_app(self).overview.refresh()

    # ---- keys ----------------------------------------------------------------------

    def action_cancel_or_back(self) -> None:
        if self.running:
            if not self.cancelling:
                self.cancelling = True
                self.cancel.set()  # the batch passes it on to the worker
                self.set_progress_text(
                    Text("cancelling… the running task stops within seconds", style="yellow")
                )
            return
        self.app.pop_screen()


_ALL_MEASURED = (
    "every ticked task is already measured with these settings: tick re-run "
    "measured to run them again"
)
_OUTCOME_STYLE = {
    "done": "bold green",
    "cancelled": "bold yellow",
    "failed": "bold red",
    "died": "bold red",
}


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"
