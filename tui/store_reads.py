"""A screen's read of the results store (SQLite), done in a thread worker: the UI thread
never opens the store. The runs come back to the screen as a ResultsRead message, which the
screen shows on the UI thread (inside its StoreRead's ``arrived()``). As with the
catalog's rows (tui.catalog_rows), a read asked for while one is under way is not doubled:
one more read follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from textual.dom import DOMNode

from engine.paths import results_db_path
from engine.results.health import StoreUnavailable, StoreUnreadable
from engine.results.store import ResultsStore
from tui import messages as m
from tui.read_gate import ReadGate

READING = "reading the results store…"


def read_results(model_id: str | None = None, speed: bool = False) -> m.ResultsRead:
    """The evaluations (of ``model_id``, else all) and, with ``speed``, the chat speed rows;
    a store that cannot be read gives its reason instead (never an exception: this runs in
    a thread, whose exceptions nobody would see)."""
    try:
        with ResultsStore(read_only=True) as store:
            runs = store.eval_runs(model_id=model_id)
            speed_runs = store.speed_runs() if speed else []
    except StoreUnavailable as exc:
        return m.ResultsRead([], [], exc)
    except Exception as exc:  # a lock held past SQLite's timeout, a disk error
        path, why = results_db_path(), str(exc) or type(exc).__name__
        problem = StoreUnreadable(
            path, why, f"the results store {path} could not be read ({why}): try again later"
        )
        return m.ResultsRead([], [], problem)
    return m.ResultsRead(runs, speed_runs)


class StoreRead:
    """``StoreRead(screen, group, model_id=None, speed=False)``: ``request()`` reads in a
    thread worker of ``screen`` (Textual worker group ``group``), which gets the result as a
    ResultsRead message and shows it inside ``with arrived():``. ``done``: a read has
    ended (until then the screen says it is reading)."""

    def __init__(
        self, screen: DOMNode, group: str, model_id: str | None = None, speed: bool = False
    ) -> None:
        self.screen = screen
        self.group = group
        self.model_id = model_id
        self.speed = speed
        self.done = False
        self._gate = ReadGate()

    def request(self) -> None:
        """Read again. A read under way is not cancelled (a thread cannot be) nor doubled:
        one more follows it, which sees what changed meanwhile."""
        if not self._gate.begin():
            return
        screen, model_id, speed = self.screen, self.model_id, self.speed

        def read() -> None:
            screen.post_message(read_results(model_id, speed))

        screen.run_worker(read, thread=True, group=self.group, exit_on_error=False)

    @contextmanager
    def arrived(self) -> Iterator[None]:
        """On the UI thread, around showing the ResultsRead: ``done`` from here on; then
        read again if asked meanwhile, else settled."""
        again, self.done = self._gate.end(), True
        try:
            yield
        finally:
            if again:
                self.request()
            else:
                self._gate.settle()

    async def settled(self) -> None:
        """Until no read is under way or asked for and the last one has been handled (what a
        user waits for: the results on the screen)."""
        await self._gate.settled()
