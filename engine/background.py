"""Run a producer in a background thread and consume what it makes as an iterator.

Used where a library call blocks while it produces results (model.generate streaming
tokens, lm-eval running tasks) but the caller wants a plain iterator it can stop.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def iterate_in_thread(
    produce: Callable[[Callable[[Any], None]], None],
    *,
    name: str,
    stop: threading.Event,
    events: queue.Queue | None = None,
    join_timeout: float | None = None,
) -> Iterator[Any]:
    """Run ``produce(put)`` in a daemon thread; yield what it puts, in order.

    An exception raised by ``produce`` is raised here, after what it put before. When the
    iteration ends, early (the consumer closed the generator) or not, ``stop`` is set and
    the thread joined, so no work goes on behind the caller's back. ``events`` lets other
    parts of the producer (a streamer) put into the same queue.
    """
    events = events if events is not None else queue.Queue()

    def run() -> None:
        try:
            produce(events.put)
        except BaseException as exc:  # handed to the consumer, raised there
            events.put(_Raised(exc))
        finally:
            events.put(_END)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = events.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(join_timeout)
