"""How far a job is and how long it has left: the figures the `jobs` command and the app's
Jobs screen show. Pure functions of a Job row (and the time now)."""

from __future__ import annotations

import time

from engine.jobs.store import Job


def fraction(job: Job) -> float:
    """Share of the job done: finished cells plus the share of the task running now."""
    if job.state == "done":
        return 1.0
    if not job.cells_total:
        return 0.0
    done = float(job.cells_done)
    if job.state == "running" and job.requests_total:
        done += min(1.0, (job.requests_done or 0) / job.requests_total)
    return min(1.0, done / job.cells_total)


def eta_s(job: Job, now: float | None = None) -> float | None:
    """Seconds left for a running job: the running task's own ETA, plus the cells after
    it at the pace of the cells finished in this attempt; None while nothing is known."""
    if job.state != "running" or job.started is None:
        return None
    now = time.time() if now is None else now
    finished = job.cells_done - job.cells_at_start
    running = 1 if job.current_task and job.requests_total else 0
    after = max(0, job.cells_total - job.cells_done - running)
    per_cell: float | None
    if finished > 0:
        per_cell = (now - job.started) / finished
    elif job.task_eta_s is not None and job.requests_total:
        # the first cell: its own pace so far stands for the others
        share = (job.requests_done or 0) / job.requests_total
        per_cell = job.task_eta_s / (1 - share) if share < 1 else None
    else:
        per_cell = None
    if per_cell is None:
        return None
    current = job.task_eta_s if running and job.task_eta_s is not None else 0.0
    return current + after * per_cell


def duration(seconds: float | None) -> str:
    """'42 s', '12 min', '3 h 05 min'; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def now_text(job: Job) -> str:
    """What a running job does now: 'qwen2.5-0.5b · arc_easy 412/2376' (requests)."""
    if job.state != "running":
        return ""
    parts = [p for p in (job.current_model, job.current_task) if p]
    text = " · ".join(parts) or "starting"
    if job.current_task and job.requests_total:
        text += f" {job.requests_done or 0}/{job.requests_total}"
    elif job.current_model and not job.current_task:
        text += " · loading"
    return text


def summary(job: Job) -> str:
    """'2 ok, 1 oom, 0 failed' over the cells this job stored."""
    return ", ".join(
        f"{job.count(s)} {s}"
        for s in ("ok", "oom", "failed", "cancelled")
        if s in ("ok", "oom", "failed") or job.count(s)
    )
