"""The Evaluate screen's task form: the task chooser (the user's own task folders first,
then the built-in tasks) beside the run settings (quick or full, limit, few-shot, re-run
measured, in background), read as an EvalSpec."""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet

from engine import preferences
from engine.errors import SmollmError, UsageError
from engine.evaluation.tasks import include_paths, local_task_names
from engine.records import EvalSpec
from engine.task_registry import REGISTRY
from tui.widgets.eval_task_list import EvalTaskList

DEFAULT_LIMIT = 100


def parse_spec(
    tasks: list[str], full: bool, limit: str, fewshot: str, include_path: str | None
) -> EvalSpec:
    """The form's values as an EvalSpec; a UsageError says what to fix."""
    if not tasks:
        raise UsageError("tick at least one task (space), then press enter")
    n = None
    if not full:
        raw = limit.strip() or str(DEFAULT_LIMIT)
        if not raw.isdigit() or int(raw) < 1:
            raise UsageError(
                "the sample limit must be a whole number of at least 1 (or choose full)"
            )
        n = int(raw)
    shots = None
    if fewshot.strip():
        if not fewshot.strip().isdigit():
            raise UsageError(
                "few-shot must be a whole number of 0 or more, or blank for each task's default"
            )
        shots = int(fewshot.strip())
    return EvalSpec(
        tasks=tuple(tasks), limit=n, num_fewshot=shots, include_path=include_path or None
    )


class EvalForm(Horizontal):
    """``EvalForm(include_path)``: ``include_path`` is a folder (several joined with
    os.pathsep) of the user's own lm-eval task YAML files, listed first; SMOLLM_TUI_TASKS
    and the task folders saved with `f` are honoured too."""

    DEFAULT_CSS = """
    EvalForm EvalTaskList { width: 1fr; height: 100%; border: none; padding: 0; }
    EvalForm #form { width: 30; padding: 0 1; border-left: solid $panel-lighten-2; }
    EvalForm #form Horizontal { height: 1; }
    EvalForm #form Label { width: 10; }
    EvalForm #form Input { width: 1fr; }
    EvalForm #form RadioSet { height: 2; width: 1fr; }
    EvalForm #form Checkbox { width: 1fr; }
    EvalForm #form Button { width: 1fr; margin: 1 0 0 0; }
    """

    def __init__(self, include_path: str | None = None, *, id: str | None = None):
        super().__init__(id=id)
        self.include_path = include_path
        self.folders: list[str] = []  # the task folders listed, passed on to the worker
        self.local_origin: dict[str, str] = {}  # local task -> the folder that defines it

    def task_folders(self) -> list[str]:
        """The task folders to list, first to last (see include_paths); problems become
        warnings, so that the built-in tasks can always be run."""
        try:
            for folder in preferences.missing_task_folders():
                self.notify(
                    f"the saved task folder {folder} no longer exists: its tasks are "
                    "not listed; press f to change the task folders",
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
            try:
                return include_paths(self.include_path)
            except UsageError as exc:  # the screen's own folder is gone: keep the others
                self.notify(str(exc), severity="warning", markup=False)
                return include_paths(None)
        except SmollmError as exc:  # a broken settings file, or SMOLLM_TUI_TASKS is wrong
            self.notify(str(exc), severity="warning", timeout=10, markup=False)
            return []

    def task_names(self) -> list[str]:
        """The tasks of the task folders (first), then the built-in registry tasks."""
        self.local_origin = {}
        self.folders = self.task_folders()
        for folder in self.folders:
            for name in local_task_names([folder]):
                self.local_origin.setdefault(name, folder)
        builtin = [t.name for t in REGISTRY]
        return [*[t for t in self.local_origin if t not in builtin], *builtin]

    def compose(self) -> ComposeResult:
        yield EvalTaskList(self.task_names(), id="tasks", compact=True)
        with Vertical(id="form"):
            yield RadioSet(
                RadioButton("quick", value=True, id="quick"),
                RadioButton("full", id="full"),
                id="mode",
                compact=True,
            )
            with Horizontal():
                yield Label("limit")
                yield Input(str(DEFAULT_LIMIT), id="limit", compact=True, type="integer")
            with Horizontal():
                yield Label("few-shot")
                yield Input(placeholder="task default", id="fewshot", compact=True, type="integer")
            yield Checkbox("re-run measured", id="rerun", compact=True)
            yield Checkbox("in background", id="background", compact=True)
            yield Button("Run (enter)", id="run", variant="primary", compact=True)

    def reload_tasks(self) -> None:
        """List the tasks again (the task folders changed)."""
        self.query_one(EvalTaskList).set_tasks(self.task_names())

    def spec(self) -> EvalSpec:
        """The ticked tasks and settings; a UsageError says what to fix."""
        full = self.query_one("#full", RadioButton).value
        return parse_spec(
            list(self.query_one(EvalTaskList).selected),
            full,
            self.query_one("#limit", Input).value,
            self.query_one("#fewshot", Input).value,
            os.pathsep.join(self.folders),
        )

    @property
    def rerun(self) -> bool:
        """Run tasks already measured with these settings again."""
        return self.query_one("#rerun", Checkbox).value

    @property
    def background(self) -> bool:
        """Queue the run as a background job instead of running it here."""
        return self.query_one("#background", Checkbox).value

    def set_running(self, running: bool) -> None:
        self.query_one("#run", Button).disabled = running
