"""Background jobs: each with its progress bar and ETA; cancel and resume from here.

Shows what the app's JobsWatch last read (at most once a second, in a thread): the screen
never touches SQLite itself. Jobs are queued from the Evaluate screen ("in background") or
with `smollm-tui eval … --background`, and go on when the app closes.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.jobs import Job
from engine.jobs.progress import duration, eta_s, fraction, now_text, summary
from engine.jobs.spec import DamagedSpec
from tui.app_api import smollm_app
from tui.jobs_watch import cancel_job, resume_job
from tui.safe_text import plain
from tui.widgets.memory_meter import MemoryMeter, bar
from tui.widgets.table_fill import fill

COLUMNS = ("job", "state", "progress", "ETA", "now / outcome")
_STATE_STYLE = {
    "queued": "yellow",
    "running": "bold magenta",
    "done": "green",
    "failed": "bold red",
    "cancelled": "yellow",
}


def job_cells(job: Job, now: float | None = None, width: int = 60) -> list[Text]:
    """The job's row; its last cell cut to ``width`` (the whole text is below the table)."""
    share = fraction(job)
    progress = Text(bar(share), style="magenta" if job.state == "running" else "")
    progress.append(f" {share:4.0%}")
    eta = duration(eta_s(job, now)) if job.state == "running" else ""
    if job.state == "running":
        what = now_text(job)
    elif job.runs and job.state != "failed":
        what = summary(job)
    else:
        what = (job.error or "").splitlines()[0] if job.error else _size(job)
    if len(what) > width:
        what = what[: max(1, width - 1)] + "…"
    return [
        Text(str(job.id), justify="right"),
        Text(job.state, style=_STATE_STYLE.get(job.state, "")),
        progress,
        Text(eta, justify="right"),
        plain(what),
    ]


def _size(job: Job) -> str:
    try:
        spec = job.spec
    except DamagedSpec as exc:
        return str(exc)
    return f"{len(spec.models)} model(s) × {len(spec.tasks)} task(s)"


def _when(stamp: float | None) -> str:
    return "—" if stamp is None else time.strftime("%m-%d %H:%M", time.localtime(stamp))


def job_details(job: Job) -> Text:
    """The highlighted job: its models and tasks, times, log, error."""
    lines = []
    try:
        spec = job.spec
        size = "full" if spec.limit is None else f"quick {spec.limit}"
        lines.append(
            f"job {job.id}: {', '.join(spec.models)} × {', '.join(spec.tasks)} "
            f"({size}, {spec.precision} on {spec.device})"
        )
    except DamagedSpec as exc:
        lines.append(f"job {job.id}: {exc}")
    if job.error:
        lines.append(f"error: {job.error}")
    lines.append(
        f"queued {_when(job.created)} · started {_when(job.started)} · ended "
        f"{_when(job.ended)} · log: smollm-tui jobs log {job.id} -f"
    )
    return plain("\n".join(lines))


class JobsScreen(Screen):
    DEFAULT_CSS = """
    JobsScreen #jobs-summary { height: 1; padding: 0 1; background: $boost; }
    JobsScreen #jobs { height: 1fr; }
    JobsScreen #job-details { height: 6; padding: 0 1; border-top: solid $panel-lighten-2;
        color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,b", "back", "Back"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("r", "resume_job", "Resume"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Job] = []
        self._shown: tuple = ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="jobs-summary")
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Static(id="job-details")
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Background jobs"
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.show_jobs()
        self.set_interval(1.0, self.show_jobs)
        self.query_one(DataTable).focus()

    def show_jobs(self) -> None:
        """Show the jobs as the app last read them (only redrawn when they changed)."""
        table = self.query_one(DataTable)
        if not table.columns:  # not mounted yet: on_mount shows them
            return
        watch = smollm_app(self).jobs_watch
        jobs = list(reversed(watch.jobs))  # newest first
        shown = (
            watch.error,
            *(
                (j.state, j.cells_done, j.requests_done, j.task_eta_s, j.error, len(j.runs))
                for j in jobs
            ),
        )
        if shown == self._shown and self.jobs:
            return
        self._shown, self.jobs = shown, jobs
        row = table.cursor_row
        width = max(20, self.size.width - 44)  # what the other columns leave
        fill(table, (job_cells(job, width=width) for job in jobs), (str(job.id) for job in jobs))
        if jobs:
            table.move_cursor(row=min(row, len(jobs) - 1))
        self._summary(jobs, watch.reads, watch.error)
        self._details()

    def _summary(self, jobs: list[Job], reads: int, error: str | None) -> None:
        if error:
            text = plain(f"the jobs cannot be read: {error}", "bold red")
        elif not jobs:
            text = Text(
                'no background jobs yet: tick "in background" on the Evaluate screen, '
                "or run smollm-tui eval … --background"
                if reads
                else "reading jobs…",
                style="dim",
            )
        else:
            counts = [
                f"{sum(1 for j in jobs if j.state == s)} {s}"
                for s in ("running", "queued", "failed")
                if any(j.state == s for j in jobs)
            ]
            text = Text(f"{len(jobs)} job(s)" + (": " + ", ".join(counts) if counts else ""))
            text.append(" · they go on when the app closes", style="dim")
        self.query_one("#jobs-summary", Static).update(text)

    def selected(self) -> Job | None:
        table = self.query_one(DataTable)
        if not self.jobs or table.cursor_row is None or table.cursor_row >= len(self.jobs):
            return None
        return self.jobs[table.cursor_row]

    def _details(self) -> None:
        job = self.selected()
        self.query_one("#job-details", Static).update(job_details(job) if job else "")

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._details()

    def action_cancel_job(self) -> None:
        job = self.selected()
        if job is None:
            return
        if job.state not in ("queued", "running"):
            self.notify(f"Job {job.id} is {job.state}: nothing to cancel.", markup=False)
            return
        cancel_job(self.app, job.id)

    def action_resume_job(self) -> None:
        job = self.selected()
        if job is None:
            return
        if job.state not in ("failed", "cancelled"):
            self.notify(
                f"Job {job.id} is {job.state}: only failed or cancelled jobs resume.", markup=False
            )
            return
        resume_job(self.app, job.id)

    def action_back(self) -> None:
        self.app.pop_screen()
