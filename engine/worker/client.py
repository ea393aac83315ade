"""The client side of the worker: start it, send requests, stream its events back.

Never imports torch: the UI and the CLI start in a fraction of a second and only the
worker process pays for the model libraries. One request is open at a time; cancel(),
status() and close() may be called from any thread while one is.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing import resource_tracker
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.errors import SmollmError, UsageError, kind_of
from engine.records import LoadInfo
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.units import MB
from engine.worker.protocol import (
    FINAL_EVENTS,
    SHARED_SLOTS,
    Cancelled,
    EvalSpec,
    EvaluateRequest,
    Failed,
    GenerateRequest,
    Loaded,
    LoadRequest,
    ShutdownRequest,
    WorkerDied,
    WorkerStatus,
)

# The worker's entry point, started by name (see _worker_main).
WORKER_MODULE = "engine.worker.server"
_SHUTDOWN_WAIT_S = 5.0
_START_LOCK = threading.Lock()


def describe_exit(exitcode: int | None) -> str:
    """How the worker ended, in words. SIGKILL is almost always the kernel's OOM killer."""
    if exitcode is None:
        return "the worker stopped answering"
    if exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGKILL:
            return "the worker was killed, most likely out of memory (SIGKILL)"
        if number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL):
            return f"the worker crashed ({name}); details are in the worker log"
        return f"the worker was stopped by {name}"
    return f"the worker exited unexpectedly with exit code {exitcode}"


class WorkerClient:
    """Thread-safe client of one worker process (one per loaded model)."""

    def __init__(self, catalog_path: str | None = None, log_path: str | None = None):
        self.catalog_path = catalog_path
        self._log_path = log_path
        self._lock = threading.RLock()  # guards the fields below
        self._busy = threading.Lock()  # held while a request is open
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None  # multiprocessing's SpawnProcess, once started
        self._conn: Any = None  # our end of the pipe (a Connection)
        self._cancel: Any = None  # the cancel Event shared with the worker
        self._shared: Any = None  # shared doubles: the worker's live figures
        self._state = "none"
        self._info: LoadInfo | None = None
        self._next_id = 0
        self._interrupted = False  # cancel during a load, or close() during a request
        self._callbacks: list[Callable[[str], None]] = []
        ref = weakref.ref(self)
        atexit.register(lambda: _close_if_alive(ref))

    # ---- properties ---------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def info(self):
        """LoadInfo of the loaded model, or None."""
        return self._info

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def on_state(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(state)`` (from the thread that caused it) on every change."""
        self._callbacks.append(callback)

    # ---- requests -----------------------------------------------------------------

    def load(self, options: LoadOptions) -> Iterator:
        """Start a fresh worker and load a model in it. Events: Progress..., then one of
        Loaded, Failed, Cancelled (cancel() during a load stops the worker), WorkerDied."""
        if options.catalog_path is None and self.catalog_path is not None:
            options = replace(options, catalog_path=self.catalog_path)
        resolved: list[tuple[LoadOptions, ModelEntry]] = []  # before the worker starts
        return self._run(
            "loading",
            lambda rid: LoadRequest(rid, *resolved[0]),
            precheck=lambda: resolved.append(_precheck_load(options)),
            fresh=True,
        )

    def generate(
        self, conversation: Conversation, settings: GenerationSettings, raw: bool = False
    ) -> Iterator:
        """Stream a reply: Trimmed?, Chunk..., then ReplyDone, Cancelled, Failed or
        WorkerDied."""
        return self._run(
            "generating",
            lambda rid: GenerateRequest(rid, conversation, settings, raw),
            precheck=lambda: self._check_generate(settings),
        )

    def evaluate(self, spec: EvalSpec) -> Iterator:
        """Run an evaluation: EvalProgress/TaskDone..., then EvalDone, Cancelled, Failed
        or WorkerDied."""
        return self._run(
            "evaluating", lambda rid: EvaluateRequest(rid, spec), precheck=self._need_model
        )

    def cancel(self) -> None:
        """Stop the open request soon (between tokens / request chunks); safe from any
        thread. A load is stopped by ending its worker."""
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
            if self._state == "loading" and self._proc is not None:
                self._interrupted = True
                self._proc.kill()

    def status(self) -> WorkerStatus | None:
        """The worker's memory now, without asking it (works while it is busy)."""
        with self._lock:
            proc, shared, info = self._proc, self._shared, self._info
        if proc is None or not proc.is_alive():
            return None
        import psutil

        try:
            rss = psutil.Process(proc.pid).memory_info().rss / MB
        except psutil.Error:
            return None
        figures = [shared[i] for i in range(SHARED_SLOTS)]
        cuda = [None if f < 0 else f for f in figures]
        return WorkerStatus(proc.pid, rss, info.model_id if info else None, *cuda)

    def close(self) -> None:
        """Stop the worker (idempotent). An open request ends with Cancelled."""
        with self._lock:
            proc, conn = self._proc, self._conn
            if proc is None:
                return
            if self._busy.locked():
                self._interrupted = True
                if self._cancel is not None:
                    self._cancel.set()  # a reply in progress ends at the next token
            self._proc = self._conn = self._cancel = self._shared = None
            self._info = None
        _stop_process(proc, conn)
        self._set_state("none")

    # ---- machinery ----------------------------------------------------------------

    def _need_model(self) -> None:
        if self._proc is None or self._info is None:
            raise UsageError("no model is loaded: load one first")

    def _check_generate(self, settings: GenerationSettings) -> None:
        from engine.runtimes.choice import check_settings

        settings.validate()
        self._need_model()
        assert self._info is not None  # _need_model raised otherwise
        check_settings(self._info.runtime, settings)

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        for callback in list(self._callbacks):
            callback(state)

    def _start(self) -> None:
        # multiprocessing's resource tracker is started with the caller's stderr fd; inside
        # a Textual app stderr is a capture without one ("bad value(s) in fds_to_keep").
        # redirect_stderr swaps a process-wide global: two clients starting at once (the
        # Arena) could leave the capture replaced, so one start at a time.
        with _START_LOCK, contextlib.redirect_stderr(sys.__stderr__):
            resource_tracker.ensure_running()
        log = self._log_path or str(_default_log_path())
        parent, child = self._ctx.Pipe(duplex=True)
        cancel = self._ctx.Event()
        shared = self._ctx.Array("d", [-1.0] * SHARED_SLOTS, lock=False)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, cancel, shared, log),
            name="smollm-worker",
            daemon=True,
        )
        proc.start()
        child.close()  # so that the worker's death reads as EOF here
        self._proc, self._conn, self._cancel, self._shared = proc, parent, cancel, shared

    def _run(self, state: str, make_request, precheck=None, fresh: bool = False) -> Iterator:
        if not self._busy.acquire(blocking=False):
            yield Failed(0, "the worker is busy with another request; cancel it first", "usage")
            return
        try:
            with self._lock:
                self._next_id += 1
                rid = self._next_id
            try:
                if precheck:
                    precheck()
            except SmollmError as exc:
                yield Failed(rid, str(exc), kind_of(exc))
                return
            with self._lock:
                if fresh:
                    self.close()
                    self._start()
                self._interrupted = False
                self._cancel.clear()
                conn = self._conn
            self._set_state(state)
            conn.send(make_request(rid))
            yield from self._events(rid, state)
        finally:
            self._busy.release()

    def _events(self, rid: int, state: str) -> Iterator:
        """Yield the worker's events for request ``rid`` up to and including the final one.

        If the caller stops iterating early, the request is cancelled and drained so the
        next request starts clean.
        """
        proc, conn = self._proc, self._conn
        finished = False
        try:
            while True:
                event = self._next_event(proc, conn, rid)
                if isinstance(event, WorkerDied):
                    finished = True
                    yield self._after_death(proc, rid, event)
                    return
                if getattr(event, "request_id", rid) != rid:
                    continue  # left over from an abandoned request
                if isinstance(event, FINAL_EVENTS):
                    finished = True
                    self._after_final(event, state)
                    yield event
                    return
                yield event
        finally:
            if not finished:
                self._abandon(proc, conn, rid, state)

    def _next_event(self, proc, conn, rid: int):
        while True:
            try:
                if conn.poll():
                    return conn.recv()
            except (EOFError, OSError):
                return WorkerDied(rid, describe_exit(_exitcode(proc)), _exitcode(proc))
            try:
                ready = wait([conn, proc.sentinel])
            except (OSError, ValueError):  # close() from another thread closed the pipe
                return WorkerDied(rid, describe_exit(_exitcode(proc)), _exitcode(proc))
            if conn in ready:
                continue
            if proc.sentinel in ready:
                try:
                    if conn.poll():
                        continue  # read what it sent before it ended
                except (EOFError, OSError):
                    pass
                return WorkerDied(rid, describe_exit(_exitcode(proc)), _exitcode(proc))

    def _after_death(self, proc, rid: int, died: WorkerDied):
        with self._lock:
            interrupted = self._interrupted
            if self._proc is proc:
                self._proc = self._conn = self._cancel = self._shared = None
                self._info = None
        proc.join(timeout=_SHUTDOWN_WAIT_S)
        if interrupted:  # we ended it on purpose: a cancelled load or close()
            self._set_state("none")
            return Cancelled(rid)
        self._set_state("died")
        return died

    def _after_final(self, event, state: str) -> None:
        if isinstance(event, Loaded):
            self._info = event.info
            self._set_state("ready")
        elif state == "loading":
            # A failed load leaves no model: end that worker so its memory is returned.
            self.close()
        else:
            self._set_state("ready")

    def _abandon(self, proc, conn, rid: int, state: str) -> None:
        """The caller stopped reading: cancel and drain, or end the worker if loading."""
        if state == "loading":
            self.close()
            return
        with self._lock:
            if self._cancel is not None:
                self._cancel.set()
        try:
            while True:
                event = self._next_event(proc, conn, rid)
                if isinstance(event, WorkerDied):
                    self._after_death(proc, rid, event)
                    return
                if getattr(event, "request_id", None) == rid and isinstance(event, FINAL_EVENTS):
                    self._after_final(event, state)
                    return
        except Exception:
            self.close()


def _exitcode(proc) -> int | None:
    proc.join(timeout=_SHUTDOWN_WAIT_S)
    return proc.exitcode


def _stop_process(proc, conn) -> None:
    """Ask nicely, then terminate, then kill: close() must never hang."""
    try:
        if proc.is_alive():
            conn.send(ShutdownRequest(0))
    except (OSError, ValueError):
        pass
    proc.join(timeout=_SHUTDOWN_WAIT_S)
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=_SHUTDOWN_WAIT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
    try:
        conn.close()
    except OSError:
        pass


def _worker_main(*args: Any) -> None:
    """The spawned process's target: the worker's main, imported there by its module's
    name. Importing the server here would make the client, and so the UI, import all the
    worker reaches (the runtimes and their model libraries)."""
    importlib.import_module(WORKER_MODULE).main(*args)


def _close_if_alive(ref: weakref.ref) -> None:
    client = ref()
    if client is not None:
        client.close()


def _precheck_load(options: LoadOptions) -> tuple[LoadOptions, ModelEntry]:
    """The load resolved (engine.runtimes.loading.resolve_load) and what can be refused without
    starting a worker: bad options, unknown or unavailable models, remote code without
    consent, missing local paths, hub models not downloaded, no file for the runtime."""
    from engine.catalog.entries import load_catalog
    from engine.runtimes.loading import resolve_load

    options.validate()
    catalog = load_catalog(Path(options.catalog_path) if options.catalog_path else None)
    entry = catalog.get(options.model_id)
    return resolve_load(entry, options), entry


def _default_log_path() -> Path:
    from engine.paths import data_dir, make_private_dir

    try:
        make_private_dir(data_dir())  # 0700: the log can quote prompts
    except OSError:
        pass  # the worker then runs without its log (server._redirect_output)
    return data_dir() / "worker.log"
