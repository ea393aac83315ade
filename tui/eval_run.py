"""The Evaluate screen's side of the batch (engine.evaluation.batch.run_batch, the code the
`eval` command and the jobs run through): the app's model as the batch's session, and what
the batch tells as the screen's messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from engine import events as ev
from engine.errors import SmollmError
from engine.evaluation.batch import LoadCancelled, LoadFailed, Skipped, Stored
from engine.records import EvalSpec, LoadInfo
from engine.settings import LoadOptions
from tui import messages as m
from tui.session import ModelSession

Post = Callable[[Message], Any]


class AppModel:
    """The app's ModelSession as a batch session (engine.evaluation.batch.EvalSession): a
    model already loaded with the options is evaluated as it is; else it is loaded here,
    its load messages posted to the screen. close() keeps it loaded, for the next run and
    for chat."""

    def __init__(self, session: ModelSession, post: Post, cancel: threading.Event):
        self.session, self.post, self.cancelled = session, post, cancel
        self.asked = False  # the batch asked for the model (a load, or the loaded one)

    def load(self, options: LoadOptions) -> LoadInfo:
        self.asked = True
        if self.session.is_loaded(options) and self.session.info is not None:
            return self.session.info
        failures: list[str] = []

        def post_load(message: Message) -> None:
            if isinstance(message, m.LoadFailed):
                failures.append(message.message)
            self.post(message)

        self.session.load(options, post_load)
        if self.session.is_loaded(options) and self.session.info is not None:
            return self.session.info
        if self.cancelled.is_set() and not failures:
            raise LoadCancelled("the load was cancelled")
        raise SmollmError(failures[-1] if failures else "")  # "": no message to show

    def evaluate(self, spec: EvalSpec) -> Any:
        return self.session.evaluate(spec)

    def cancel(self) -> None:
        self.session.cancel()

    def close(self) -> None:
        pass  # the model stays loaded


class BatchMessages:
    """run_batch's ``on_event``: progress, skipped and stored tasks become the screen's
    messages; how the load and the evaluation ended is kept for the final message."""

    def __init__(self, post: Post):
        self.post = post
        self.load_failure: str | None = None  # LoadFailed's message ("" for none)
        self.final: object = None  # the evaluation's final event

    def __call__(self, model_id: str, event: object) -> None:
        if isinstance(event, ev.EvalProgress):
            self.post(m.EvalProgressed(event.task, event.done, event.total, event.eta_s))
        elif isinstance(event, Skipped):
            self.post(m.EvalSkipped(event.tasks))
        elif isinstance(event, Stored):
            self.post(m.EvalTaskStored(event.run))
        elif isinstance(event, LoadFailed):
            self.load_failure = event.message
        elif isinstance(event, (ev.EvalDone, ev.Cancelled, ev.Failed, ev.WorkerDied)):
            self.final = event
