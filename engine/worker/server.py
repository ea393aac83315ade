"""The worker process: holds one model and answers requests from the client's pipe.

Started by WorkerClient with the spawn context, by this module's name (the client does
not import it). torch and transformers arrive with the first load request.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from engine.errors import SmollmError, UsageError, is_oom, kind_of
from engine.paths import open_private
from engine.runtimes import runtime_named
from engine.units import MB
from engine.worker.protocol import (
    CUDA_ALLOCATED,
    CUDA_PEAK,
    CUDA_RESERVED,
    SHARED_SLOTS,
    Cancelled,
    EvalDone,
    EvaluateRequest,
    Failed,
    GenerateRequest,
    Loaded,
    LoadRequest,
    Progress,
    ShutdownRequest,
    StatusReply,
    StatusRequest,
    WorkerStatus,
)

_LOG_LIMIT = 5 * MB
_PARENT_POLL_S = 0.5


def main(conn, cancel, shared, log_path: str | None = None) -> None:
    """The server loop. ``cancel`` is a multiprocessing Event the client sets;
    ``shared`` a multiprocessing Array of CUDA memory figures the client reads."""
    # Ctrl+C in the terminal reaches the whole process group; the client decides what a
    # cancel means, so the worker ignores SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    _watch_parent()
    server = _Server(conn, cancel, shared)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the client is gone
            break
        if isinstance(request, ShutdownRequest):
            break
        try:
            server.handle(request)
        except (BrokenPipeError, EOFError, OSError):
            break
    # os._exit skips the interpreter's exit hooks, so run multiprocessing's own first: they
    # unlink the semaphores libraries made here (tqdm's lock, used by lm-eval), which the
    # resource tracker would otherwise report as leaked when the app exits.
    from multiprocessing import util

    util._run_finalizers()  # type: ignore[attr-defined]  # private, not in typeshed
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown of torch threads: the client is waiting


def _watch_parent() -> None:
    """End this process when the client's process is gone (SIGKILL, SIGTERM, a crash).

    A closed pipe tells the server loop only while it waits for a request; a worker busy
    with a long load or a runaway render kept running, orphaned under PID 1. A thread
    checks the parent's pid twice a second: when it changes, the parent is gone. (Not
    prctl(PR_SET_PDEATHSIG): it fires when the *thread* that started the worker ends, and
    the app starts workers from short-lived thread workers.)"""
    import multiprocessing

    parent = multiprocessing.parent_process()  # the pid the client had, with no race
    parent_pid = parent.pid if parent is not None and parent.pid else os.getppid()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_S)
        print(f"--- worker {os.getpid()}: its parent {parent_pid} is gone, exiting", flush=True)
        os._exit(1)

    threading.Thread(target=watch, name="smollm-parent-watch", daemon=True).start()


def _redirect_output(log_path: str | None) -> None:
    """Library chatter and crash dumps go to a log file, never over the user's screen."""
    if not log_path:
        return
    path = Path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.exists() and path.stat().st_size > _LOG_LIMIT else "a"
        # Kept open for the life of the process: it receives fd 1 and 2. Private (0600):
        # library chatter can quote prompts.
        log = open_private(path, mode, buffering=1, encoding="utf-8")
    except OSError:
        return
    log.write(f"--- worker {os.getpid()} started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    faulthandler.enable(log)


class _Server:
    def __init__(self, conn, cancel, shared):
        self.conn = conn
        self.cancel = cancel
        self.shared = shared
        self.loaded: Any = None

    def send(self, event) -> None:
        self.conn.send(event)

    def handle(self, request) -> None:
        rid = request.request_id
        try:
            if isinstance(request, LoadRequest):
                self.load(request)
            elif isinstance(request, GenerateRequest):
                self.generate(request)
            elif isinstance(request, EvaluateRequest):
                self.evaluate(request)
            elif isinstance(request, StatusRequest):
                self.send(StatusReply(rid, self.status()))
            else:
                self.send(Failed(rid, f"unknown request {type(request).__name__}", "error"))
        except (BrokenPipeError, EOFError):
            raise
        except BaseException as exc:  # every failure becomes one Failed event
            self.send(_failure(exc, rid))
            self.after_failure(exc)

    def load(self, request: LoadRequest) -> None:
        from engine.runtimes.loading import load_model

        rid = request.request_id
        self.loaded = None
        self.loaded = load_model(
            request.options,
            entry=request.entry,
            progress=lambda stage, fraction: self.send(Progress(rid, stage, fraction)),
        )
        self.publish_cuda()
        self.send(Loaded(rid, self.loaded.info))

    def generate(self, request: GenerateRequest) -> None:
        from engine.chat.stream import stream_reply

        if self.loaded is None:
            raise UsageError("no model is loaded: load one first")
        cuda = runtime_named(self.loaded.runtime).uses_torch_cuda(self.loaded.device)
        last = time.monotonic()
        for event in stream_reply(
            self.loaded,
            request.conversation,
            request.settings,
            raw=request.raw,
            cancel=self.cancel,
            request_id=request.request_id,
        ):
            self.send(event)
            if cuda and time.monotonic() - last > 0.5:
                self.publish_cuda()
                last = time.monotonic()
        self.publish_cuda()

    def evaluate(self, request: EvaluateRequest) -> None:
        rid = request.request_id
        if self.loaded is None:
            raise UsageError("no model is loaded: load one first")
        try:
            from engine.evaluation.runner import evaluate
        except ImportError:
            self.send(Failed(rid, "evaluation is not available", "error"))
            return
        for event in evaluate(self.loaded, request.spec, self.cancel, rid):
            self.send(event)
        self.publish_cuda()
        self.send(Cancelled(rid) if self.cancel.is_set() else EvalDone(rid))

    def status(self) -> WorkerStatus:
        import psutil

        self.publish_cuda()
        figures = [self.shared[i] for i in range(SHARED_SLOTS)]
        known = [None if f < 0 else f for f in figures]
        return WorkerStatus(
            os.getpid(),
            psutil.Process().memory_info().rss / MB,
            self.loaded.info.model_id if self.loaded else None,
            *known,
        )

    def publish_cuda(self) -> None:
        """Copy CUDA memory figures where the client can read them without asking."""
        if self.loaded is None or self.loaded.device != "cuda":
            return
        if not runtime_named(self.loaded.runtime).uses_torch_cuda(self.loaded.device):
            return  # llama.cpp's GPU memory is not torch's: the board reader counts it
        import torch

        self.shared[CUDA_ALLOCATED] = torch.cuda.memory_allocated() / MB
        self.shared[CUDA_RESERVED] = torch.cuda.memory_reserved() / MB
        self.shared[CUDA_PEAK] = torch.cuda.max_memory_allocated() / MB

    def after_failure(self, exc: BaseException) -> None:
        if is_oom(exc) and "torch" in sys.modules:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _failure(exc: BaseException, rid: int) -> Failed:
    """One Failed event: the user's message and a kind the caller can act on."""
    kind = kind_of(exc)
    if kind == "oom":
        return Failed(
            rid,
            "out of memory: try a smaller model, int8, a shorter conversation "
            "or fewer max new tokens",
            "oom",
        )
    if isinstance(exc, SmollmError):
        return Failed(rid, str(exc), kind)
    traceback.print_exception(type(exc), exc, exc.__traceback__)  # into the worker log
    return Failed(rid, f"{type(exc).__name__}: {exc}", "error")
