"""The task-folder dialog (`f` on the Evaluate screen): the folders of the user's own lm-eval
task YAML files, checked in the dialog and saved for the app and the eval command
(engine.preferences)."""

from __future__ import annotations

import os
from collections.abc import Callable

from textual.screen import Screen

from engine import preferences
from engine.errors import SmollmError
from tui.screens.dialogs import InputScreen


def ask_task_folders(screen: Screen, saved: Callable[[tuple[str, ...]], None]) -> None:
    """Ask for the folders; ``saved`` gets them once they are kept (not on cancel)."""
    try:
        current = preferences.task_folders()
    except SmollmError as exc:
        screen.notify(str(exc), severity="error", timeout=10, markup=False)
        return

    def chosen(text: str | None) -> None:
        if text is None:
            return
        try:
            kept = preferences.set_task_folders(preferences.split_folders(text))
        except SmollmError as exc:
            screen.notify(
                str(exc), title="Task folders not saved", severity="error", timeout=10, markup=False
            )
            return
        saved(tuple(kept))

    screen.app.push_screen(
        InputScreen(
            "Task folders",
            "Folders of your own lm-eval task YAML files, several separated by "
            f'{os.pathsep!r}. Their tasks are listed first, marked "local task". '
            "Saved for the app and the eval command; empty clears.",
            os.pathsep.join(current),
            placeholder="/path/to/my-tasks",
            check=folders_problem,
        ),
        chosen,
    )


def folders_problem(text: str) -> str | None:
    """What is wrong with the dialog's text (shown in the dialog), or None."""
    try:
        preferences.check_task_folders(preferences.split_folders(text))
    except SmollmError as exc:
        return str(exc)
    return None
