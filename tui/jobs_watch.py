"""The app's view of the background jobs: the jobs table, read at most once a second in a
thread (never on the UI thread), kept for the Jobs screen, the memory meter and the chat
warning. Also what the app does to jobs: queue one, cancel, resume (each in a thread)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text

from engine.jobs import Job, JobSpec
from tui.messages import JobsChanged
from tui.safe_text import visible

READ_EVERY_S = 1.0


class JobsWatch:
    """``jobs``: every job as last read (oldest first); ``running``: the one running."""

    def __init__(self, app: Any):
        self.app = app
        self.jobs: list[Job] = []
        self.reads = 0
        self._reading = False
        self.error: str | None = None  # why the last read failed
        self._ended: set[int] | None = None  # the jobs seen ended, at the last poll

    def start(self) -> None:
        self.poll()
        self.app.set_interval(READ_EVERY_S, self.poll)

    def poll(self) -> None:
        """Read the jobs table again, in a thread worker (unless a read is under way: a
        slow disk never piles reads up, and no read is cancelled half-way). A job that
        ended since the last read stored results: the catalog's rows are read again."""
        self._note_ended()
        if self._reading:
            return
        self._reading = True
        self.app.run_worker(self._read, thread=True, group="jobs-watch", exit_on_error=False)

    def _note_ended(self) -> None:
        from engine.jobs.store import FINAL_STATES

        if self.reads == 0:  # nothing read yet: what ended before the app started is known
            return
        ended = {j.id for j in self.jobs if j.state in FINAL_STATES}
        if self._ended is not None and ended - self._ended:
            overview = getattr(self.app, "overview", None)
            if overview is not None:
                overview.refresh()
        self._ended = ended

    def _read(self) -> None:
        from engine.jobs import JobStore, ensure_runner
        from engine.paths import results_db_path

        try:
            if not results_db_path().exists():  # nothing stored yet: do not create it
                self.jobs, self.reads = [], self.reads + 1
                return
            with JobStore() as store:
                jobs = store.list()  # marks jobs whose runner is gone as failed
                if any(j.state == "queued" for j in jobs):
                    ensure_runner(store)  # its runner crashed between two jobs
            self.jobs, self.reads, self.error = jobs, self.reads + 1, None
        except Exception as exc:  # a damaged or locked store: keep what was read, say why
            self.error = str(exc) or type(exc).__name__
        finally:
            self._reading = False

    @property
    def running(self) -> Job | None:
        return next((j for j in self.jobs if j.state == "running"), None)


def meter_text(app: Any) -> Text | None:
    """'job 3 · qwen2.5-0.5b · arc_easy 412/2376' for the memory meter, while one runs."""
    from engine.jobs.progress import now_text

    watch = getattr(app, "jobs_watch", None)
    job = watch.running if watch is not None else None
    if job is None:
        return None
    return Text(visible(f"job {job.id} · {now_text(job)}"), style="magenta")


def warn_shared_board(app: Any, entry: Any) -> None:
    """Opening a chat while a job holds the board: say that both share its memory."""
    job = app.jobs_watch.running if getattr(app, "jobs_watch", None) else None
    if job is None:
        return
    sizes = {row.entry.id: row.size_mb for row in app.overview.rows or ()}  # as last read
    chat_mb, job_mb = sizes.get(entry.id), sizes.get(job.current_model or "")
    need = []
    if chat_mb:
        need.append(f"the chat needs about {chat_mb:,.0f} MB")
    if job_mb:
        need.append(f"the job's model about {job_mb:,.0f} MB")
    snap = app.telemetry.latest() if getattr(app, "telemetry", None) else None
    if snap is not None and getattr(snap, "ram_total_mb", None):
        need.append(f"the board has {snap.ram_total_mb:,.0f} MB")
    what = job.current_model or "its models"
    app.notify(
        f"Job {job.id} is evaluating {what} on this board: this chat shares its "
        f"memory ({'; '.join(need) or 'sizes unknown'}, estimated). Running out of "
        "memory kills one of them.",
        title="Shared board",
        severity="warning",
        timeout=12,
        markup=False,
    )


def _in_thread(app: Any, work: Callable[[], str], title: str) -> None:
    """Run ``work`` in a thread; notify its one line (or the error's)."""

    def run() -> None:
        try:
            text, severity = work(), "information"
        except Exception as exc:  # a damaged or locked store included: one line
            text, severity = str(exc) or type(exc).__name__, "error"
        # Both are messages to the app, safe from this thread.
        app.notify(text, title=title, severity=severity, markup=False)
        app.post_message(JobsChanged())

    app.run_worker(run, thread=True, group="jobs-action", exit_on_error=False)


def queue_job(app: Any, spec: JobSpec) -> None:
    """Queue ``spec`` as a background job (the runner starts if none runs)."""
    from engine.jobs import submit

    def work() -> str:
        job = submit(spec)
        return (
            f"Job {job.id} queued: it runs in the background, also after the app "
            "closes. Press j to follow it."
        )

    _in_thread(app, work, "Background job")


def queue_evaluation(app: Any, entry: Any, options: Any, spec: Any, rerun: bool) -> None:
    """The Evaluate screen's run, as a background job: this model, the ticked tasks."""
    from engine.jobs import job_spec

    queue_job(
        app,
        job_spec(
            (entry.id,),
            spec,
            precision=options.precision,
            device=options.device,
            runtime=getattr(options, "runtime", "transformers"),
            force=rerun,
            catalog_path=getattr(app, "catalog_path", None),
        ),
    )


def cancel_job(app: Any, job_id: int) -> None:
    from engine.jobs import JobStore

    def work() -> str:
        with JobStore() as store:
            job = store.cancel(job_id)
        if job.state == "cancelled":
            return f"Job {job_id} cancelled."
        return f"Cancelling job {job_id}: the running task stops within seconds."

    _in_thread(app, work, "Cancel")


def resume_job(app: Any, job_id: int) -> None:
    from engine.jobs import resume

    def work() -> str:
        resume(job_id)
        return f"Job {job_id} queued again: it continues where it stopped."

    _in_thread(app, work, "Resume")
