"""The app's one door to the models: a WorkerClient and the relay of its events.

Streams are consumed in Textual thread workers; each protocol event becomes a Textual
message posted to the widget that asked (post_message is safe from any thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from textual.message import Message

from engine import events as ev
from engine.records import EvalSpec, LoadInfo
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.states import LOADED_STATES, WorkerState
from tui import messages as m


class ModelSession:
    """Owns the worker client; knows what is loaded and how."""

    def __init__(
        self, catalog_path: str | None = None, client_factory: Callable[..., Any] | None = None
    ):
        self.catalog_path = catalog_path
        self._client_factory = client_factory
        self._client: Any = None
        self.options: LoadOptions | None = None
        self.last_error: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            factory = self._client_factory
            if factory is None:
                from engine.worker.client import WorkerClient

                factory = WorkerClient
            self._client = factory(catalog_path=self.catalog_path)
        return self._client

    @property
    def state(self) -> WorkerState:
        return self._client.state if self._client is not None else "none"

    @property
    def info(self) -> LoadInfo | None:
        return self._client.info if self._client is not None else None

    def is_loaded(self, options: LoadOptions) -> bool:
        return self.state in LOADED_STATES and self.options == options

    def load(self, options: LoadOptions, post: Callable[[Message], Any]) -> bool:
        """Load in the calling (worker) thread, posting LoadStage / ModelLoaded / LoadFailed."""
        self.options = options
        return relay(self.client.load(options), post, failure=m.LoadFailed)

    def generate(
        self,
        conversation: Conversation,
        settings: GenerationSettings,
        raw: bool,
        post: Callable[[Message], Any],
    ) -> bool:
        return relay(self.client.generate(conversation, settings, raw=raw), post)

    def evaluate(self, spec: EvalSpec) -> Iterator[object]:
        """The loaded model's evaluation stream: EvalProgress and TaskDone events, then one
        final event (EvalDone, Cancelled, Failed or WorkerDied). The caller consumes it in a
        worker thread (the Evaluate screen through engine.evaluation.batch, tui.eval_run)."""
        return self.client.evaluate(spec)

    @property
    def worker_pid(self) -> int | None:
        """The worker process's id, for the telemetry to follow (None without a worker)."""
        return getattr(self._client, "pid", None)

    def cancel(self) -> None:
        if self._client is not None:
            self._client.cancel()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def relay(
    events: Iterable[Any],
    post: Callable[[Message], Any],
    failure: type[m.ReplyFailed] | type[m.LoadFailed] = m.ReplyFailed,
) -> bool:
    """Post a message for each event; True when the stream ended well.

    ``failure`` is the message for Failed/WorkerDied (a failed load is not a failed reply).
    """
    for event in events:
        message, ok = _translate(event, failure)
        if message is not None:
            post(message)
        if isinstance(event, ev.FINAL_EVENTS):
            return ok
    return False


def _translate(event: Any, failure: Any) -> tuple[Message | None, bool]:
    if isinstance(event, ev.Progress):
        return m.LoadStage(event.stage, event.fraction), True
    if isinstance(event, ev.Loaded):
        return m.ModelLoaded(event.info), True
    if isinstance(event, ev.Trimmed):
        return m.ReplyTrimmed(event.dropped_turns), True
    if isinstance(event, ev.Chunk):
        return m.ReplyChunk(event.text), True
    if isinstance(event, ev.ReplyDone):
        return m.ReplyFinished(event.stats), True
    if isinstance(event, ev.Cancelled):
        return m.ReplyFinished(event.stats, cancelled=True), True
    if isinstance(event, ev.Failed):
        return failure(event.message, event.kind), False
    if isinstance(event, ev.WorkerDied):
        return failure(event.message + " — press ctrl+r to reload", "died"), False
    return None, True
