"""`smollm-tui jobs`: background evaluations (queued with `eval … --background`).

`jobs` lists them; `jobs show ID`, `jobs cancel ID`, `jobs log ID [--follow]`, `jobs wait ID`
and `jobs resume ID` act on one. Each command reads the same rows as the app; a job whose
runner is gone is marked failed by whoever looks first, and queued jobs with no runner get
one.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from typing import Any

from engine.errors import UsageError
from tui.commands.common import print_json
from tui.safe_text import visible

NAME = "jobs"
ORDER = 41
HELP = "background evaluations: list, show, cancel, log, wait, resume"
_POLL_S = 0.5
# `jobs wait` exit codes: like `eval` (1 when a cell failed or ran out of memory)
EXIT_CANCELLED = 130


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (
        ("show", "everything about one job"),
        ("cancel", "stop a job (a running one stops within seconds)"),
        ("log", "print a job's log"),
        ("wait", "wait for a job to end; exit 0 done, 1 failed, 130 cancelled"),
        ("resume", "run a failed or cancelled job again from where it stopped"),
    ):
        action = sub.add_parser(name, help=text, description=text)
        action.add_argument("id", type=_job_id, metavar="ID", help="the job's number")
        if name == "log":
            action.add_argument(
                "--follow", "-f", action="store_true", help="keep printing until the job ends"
            )
        if name == "show":
            action.add_argument(
                "--json", action="store_true", dest="json_one", help="print JSON instead of text"
            )


# Job ids are SQLite integers: a larger number can name no job (and SQLite refuses it).
_MAX_JOB_ID = 2**63 - 1


def _job_id(text: str) -> int:
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        number = 0
    else:
        number = int(digits)
    if not 1 <= number <= _MAX_JOB_ID:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(
            f"a job number is a whole number from 1 to {_MAX_JOB_ID:,}, not {shown!r}"
        )
    return number


def run(args: argparse.Namespace) -> int:
    from engine.jobs import JobStore, ensure_runner

    action = args.action or "list"
    if action == "resume":
        return _resume(args.id)
    with JobStore() as store:
        ensure_runner(store)
        if action == "list":
            return _list(store, args.json)
        if action == "show":
            return _show(store, args.id, args.json or args.json_one)
        if action == "cancel":
            return _cancel(store, args.id)
        if action == "log":
            return _log(store, args.id, args.follow)
        return _wait(store, args.id)


# ---- text ------------------------------------------------------------------------------------


def _bar(fraction: float, width: int = 10) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def _what(job: Any) -> str:
    from engine.jobs.progress import now_text, summary
    from engine.jobs.spec import DamagedSpec

    if job.state == "running":
        return now_text(job)
    if job.state in ("done", "cancelled") and job.runs:
        return summary(job)
    if job.error:
        return job.error.splitlines()[0]
    try:
        spec = job.spec
    except DamagedSpec as exc:
        return str(exc)
    return f"{len(spec.models)} model(s) × {len(spec.tasks)} task(s)"


def job_line(job: Any, width: int = 80) -> str:
    from engine.jobs.progress import duration, eta_s, fraction

    share = fraction(job)
    eta = duration(eta_s(job)) if job.state == "running" else ""
    head = f"{job.id:>4}  {job.state:<9}  {_bar(share)} {share:4.0%}  {eta:<8}  "
    rest = visible(_what(job))
    return head + (rest if len(head) + len(rest) <= width else rest[: width - len(head) - 1] + "…")


def job_json(job: Any) -> dict[str, Any]:
    from engine.jobs.progress import eta_s, fraction
    from engine.jobs.spec import DamagedSpec

    data = asdict(job)
    data.pop("spec_text")
    try:
        data["spec"] = asdict(job.spec)
    except DamagedSpec as exc:
        data["spec"] = None
        data["error"] = data["error"] or str(exc)
    data["fraction"] = round(fraction(job), 4)
    data["eta_s"] = eta_s(job)
    data["run_ids"] = job.run_ids
    return data


def _when(stamp: float | None) -> str:
    return "—" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


# ---- actions -----------------------------------------------------------------------------------


def _list(store: Any, as_json: bool) -> int:
    jobs = store.list()
    if as_json:
        print_json([job_json(j) for j in jobs])
        return 0
    if not jobs:
        print("no jobs yet: `smollm-tui eval … --background` queues one")
        return 0
    print(f"{'id':>4}  {'state':<9}  {'progress':<15}  {'ETA':<8}  now / outcome")
    for job in jobs:
        print(job_line(job))
    return 0


def _show(store: Any, job_id: int, as_json: bool) -> int:
    from engine.jobs.progress import duration, eta_s, fraction, now_text, summary
    from engine.jobs.spec import DamagedSpec

    job = store.get(job_id)
    if as_json:
        print_json(job_json(job))
        return 0
    lines = [f"job {job.id}: {job.state}"]
    if job.state == "running":
        beat = (
            "" if job.heartbeat is None else f", heartbeat {time.time() - job.heartbeat:.0f} s ago"
        )
        lines[0] += f" (runner pid {job.pid}{beat})"
    try:
        spec = job.spec
        size = "every sample" if spec.limit is None else f"first {spec.limit} samples"
        shots = "each task's few-shot" if spec.num_fewshot is None else f"{spec.num_fewshot}-shot"
        lines += [
            f"models: {', '.join(spec.models)}",
            f"tasks: {', '.join(spec.tasks)} ({size}, {shots}, {spec.precision} on "
            f"{spec.device}{', forced' if spec.force else ''})",
        ]
    except DamagedSpec as exc:
        lines.append(str(exc))
    progress = f"progress: {job.cells_done}/{job.cells_total} cells ({fraction(job):.0%})"
    if job.state == "running":
        progress += f" · {now_text(job)} · ETA {duration(eta_s(job))}"
    lines.append(progress)
    if job.runs:
        ids = ", ".join(str(i) for i in job.run_ids)
        lines.append(f"stored: {summary(job)} (run ids {ids})")
        cached = sum(int(r.get("cached") or 0) for r in job.runs)
        if cached:
            lines.append(f"requests answered from the request cache on resume: {cached}")
    lines.append(
        f"queued {_when(job.created)} · started {_when(job.started)} · ended {_when(job.ended)}"
    )
    lines.append(f"log: {job.log_path}")
    if job.error:
        lines.append(f"error: {job.error}")
    print(visible("\n".join(lines)).replace("␊", "\n"))
    return 0


def _cancel(store: Any, job_id: int) -> int:
    job = store.cancel(job_id)
    if job.state == "cancelled":
        print(f"job {job_id} cancelled (it had not started)")
    else:
        print(
            f"cancelling job {job_id}: the running task stops within seconds "
            f"(`smollm-tui jobs wait {job_id}` waits for it)"
        )
    return 0


def _resume(job_id: int) -> int:
    from engine.jobs import resume

    resume(job_id)
    print(
        f"job {job_id} queued again: it continues where it stopped "
        f"(`smollm-tui jobs wait {job_id}`)"
    )
    return 0


def _log(store: Any, job_id: int, follow: bool) -> int:
    job = store.get(job_id)
    if not job.log_path:
        raise UsageError(f"job {job_id} has no log")
    try:
        log = open(job.log_path, "rb")  # read as it grows
    except OSError as exc:
        raise UsageError(f"cannot read the log of job {job_id}: {exc.strerror or exc}") from None
    with log:
        while True:
            chunk = log.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
                continue
            if not follow or store.get(job_id).state in ("done", "failed", "cancelled"):
                rest = log.read()  # what came in the last moment
                sys.stdout.write(rest.decode("utf-8", errors="replace"))
                return 0
            time.sleep(_POLL_S)


def _wait(store: Any, job_id: int) -> int:
    from engine.jobs.progress import summary

    while True:
        job = store.get(job_id)
        if job.state in ("done", "failed", "cancelled"):
            break
        time.sleep(_POLL_S)
    line = f"job {job.id} {job.state}"
    if job.runs:
        line += f": {summary(job)}"
    if job.error:
        line += f" · {job.error}"
    print(visible(line))
    if job.state == "cancelled":
        return EXIT_CANCELLED
    if job.state == "failed" or job.count("oom") or job.count("failed"):
        return 1
    return 0
