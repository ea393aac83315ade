"""The Evaluate screen's task chooser, with each task's dataset availability."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from engine.evaluation.tasks import task_available
from engine.task_registry import TaskInfo, lookup, short_name
from tui.safe_text import plain


def availability_text(task: str) -> Text:
    """Whether a task's data is here: cached, not cached (needs network), or a local task."""
    cached = task_available(task)
    if cached is None:
        return Text("local task", style="cyan")
    if cached:
        return Text("cached", style="green")
    return Text("not cached · needs network", style="yellow")


def task_prompt(task: str) -> Text:
    text = plain(short_name(task).ljust(11))
    text.append(" ")
    text.append_text(availability_text(task))
    return text


def task_details(task: str, folder: str | None = None) -> Text:
    """One line on the highlighted task: lm-eval name, dataset, default shots, chance; for
    a local task, the task folder it comes from (``folder``)."""
    info: TaskInfo | None = lookup(task)
    text = plain(task, "bold")
    if info is None:
        text.append(" · local task from ", style="dim")
        text.append_text(plain(folder or "your task folder", "cyan"))
        text.append(" (f: task folders) · few-shot as its YAML says", style="dim")
        return text
    text.append(" · ")
    text.append(info.dataset)
    text.append(f" · {info.num_fewshot}-shot")
    if info.chance is not None:
        text.append(f" · chance {info.chance:.0f}%")
    text.append(" · ")
    cached = task_available(task)
    text.append(
        "dataset cached" if cached else "not cached: the first run fetches it (needs network)",
        style="green" if cached else "yellow",
    )
    return text


class EvalTaskList(SelectionList[str]):
    """The task chooser: space ticks a task, enter runs the ticked ones."""

    BINDINGS = [Binding("enter", "run", "Run", show=False)]

    class RunRequested(Message):
        pass

    def __init__(self, tasks: list[str], **kwargs):
        super().__init__(*[Selection(task_prompt(t), t, False) for t in tasks], **kwargs)

    def set_tasks(self, tasks: list[str]) -> None:
        """Replace the listed tasks (ticks of those still listed stay); the first is
        highlighted, so that the task line shows where it comes from."""
        ticked = set(self.selected)
        self.clear_options()
        self.add_options([Selection(task_prompt(t), t, t in ticked) for t in tasks])
        if self.option_count:
            self.highlighted = 0

    def action_run(self) -> None:
        self.post_message(self.RunRequested())
