"""For the background-job tests: a longer local task (so that a job can be stopped in the
middle of it), the tiny-model catalog, and waiting on the jobs table with a deadline."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fixtures.tasks.helpers import TASKS_DIR

LONG_TASK = "jb_long"


def long_task_dir(folder: Path, copies: int = 20) -> Path:
    """A task folder with `jb_long`: fx_choice4's questions, each asked ``copies`` times in
    its own words (18 × copies documents, 4 choices each)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(TASKS_DIR / "utils.py", folder / "utils.py")
    data = json.loads((TASKS_DIR / "fx_choice4.json").read_text(encoding="utf-8"))
    test = [
        dict(row, question=f"{row['question']} (form {n})")
        for n in range(copies)
        for row in data["test"]
    ]
    (folder / f"{LONG_TASK}.json").write_text(json.dumps({"train": data["train"], "test": test}))
    yaml = (TASKS_DIR / "fx_choice4.yaml").read_text(encoding="utf-8")
    (folder / f"{LONG_TASK}.yaml").write_text(
        yaml.replace("task: fx_choice4", f"task: {LONG_TASK}").replace(
            "data_file: fx_choice4.json", f"data_file: {LONG_TASK}.json"
        )
    )
    return folder


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 240, every: float = 0.1
) -> Any:
    """Poll ``condition`` until it returns something true; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def job(job_id: int, check: bool = True):
    from engine.jobs import JobStore

    with JobStore() as store:
        return store.get(job_id, check=check)


def stop_runners() -> None:
    """Kill the runners (and so their workers) of this test's data dir, if any are left."""
    import os
    import signal

    from engine.jobs import JobStore
    from engine.jobs.process import is_alive
    from engine.paths import results_db_path

    if not results_db_path().exists():
        return
    with JobStore() as store:
        for j in store.list(check=False):
            if j.state == "running" and is_alive(j.pid, j.pid_started):
                os.kill(j.pid, signal.SIGKILL)
