"""The catalog's rows (engine.memory.overview: SQLite reads and a walk of every model's cache
folder), kept by the app and read again in a thread worker whenever something they show may
have changed. The UI thread never reads these rows itself: it keeps showing the last rows
until the new ones arrive (an OverviewRead message), then tells whoever shows them
(``changed``, a Textual Signal that the catalog screen subscribes to). (One model's row at
int8, for the question a load that may not fit asks, is read on the UI thread:
tui.app.SmollmApp._eight_bit.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from textual.signal import Signal

from engine.memory.overview import ModelOverview
from tui import messages as m
from tui.read_gate import ReadGate

Key = tuple[str, str, str]  # (precision, device, runtime)


class CatalogRows:
    """``rows``: the last rows read (None before the first read ends); ``key``: the
    precision, device and runtime they were read for. ``changed`` is published (with this
    object) on the UI thread after each read, and when what the catalog shows besides the
    rows changed (tui.app.SmollmApp.refresh_catalog)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.rows: list[ModelOverview] | None = None
        self.key: Key | None = None
        self.error: str | None = None  # why the last read failed
        self.changed: Signal[CatalogRows] = Signal(app, "catalog-rows")
        self._gate = ReadGate()  # settled: rows kept for the app's settings, no read owed
        self._waiting: deque[tuple[Key, Callable[[list[ModelOverview], Key], None]]] = deque()

    def wanted(self) -> Key:
        return self.app.precision, self.app.device, self.app.runtime

    @property
    def current(self) -> list[ModelOverview] | None:
        """The rows for the app's precision, device and runtime, if they have been read."""
        return self.rows if self.key == self.wanted() else None

    def row(self, model_id: str) -> ModelOverview | None:
        return next((r for r in self.current or () if r.entry.id == model_id), None)

    # ---- reading -------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the rows again in a thread. A read already under way is not cancelled half
        way (a thread cannot be), nor doubled: one more read follows it."""
        if not self._gate.begin():
            return
        # What waits for rows first (tui.app: an open asked at other settings), else the app's.
        key = self._waiting[0][0] if self._waiting else self.wanted()
        catalog, source = self.app.catalog, self.app.overview_source

        def read() -> None:
            precision, device, runtime = key
            try:
                rows = source(catalog, precision, device, runtime=runtime)
            except Exception as exc:  # a bug or a disk error: one line, the app goes on
                self.app.post_message(m.OverviewRead(key, None, str(exc) or type(exc).__name__))
                return
            self.app.post_message(m.OverviewRead(key, rows))

        self.app.run_worker(read, thread=True, group="overview", exit_on_error=False)

    def arrived(self, message: m.OverviewRead) -> None:
        """On the UI thread: keep the rows read (when they are for the app's settings), say
        a store problem once, do what waited for them, tell the screens; read again if
        something changed meanwhile."""
        again = self._gate.end()
        self.error = message.error
        if message.rows is None:
            self._waiting.clear()  # what waited for the rows is not done later, unasked
            self.app.notify(
                message.error or "",
                title="The catalog could not be read",
                severity="error",
                timeout=15,
                markup=False,
            )
        else:
            if message.key == self.wanted():
                self.rows, self.key = message.rows, message.key
                self.app.store_problem(
                    next((r.results_problem for r in message.rows if r.results_problem), None)
                )
            while self._waiting and self._waiting[0][0] == message.key:
                self._waiting.popleft()[1](message.rows, message.key)
            if again or self._waiting or self.key != self.wanted():
                self.refresh()
                return
        self._gate.settle()
        self.changed.publish(self)

    # ---- waiting -------------------------------------------------------------------

    def when_read(self, then: Callable[[list[ModelOverview], Key], None]) -> None:
        """Call ``then`` with the rows for the app's settings as they are now, and those
        settings: at once if those rows are kept, else once they are read. What waits is done
        in the order asked (a quick `r a r a` opens the Arena on both runtimes)."""
        rows = self.current
        if rows is not None and not self._waiting:
            then(rows, self.wanted())
            return
        self._waiting.append((self.wanted(), then))
        if not self._gate.reading:
            self.refresh()

    async def settled(self) -> None:
        """Until the rows for the app's settings are kept and no read is under way (what a
        user waits for: the rows on the screen)."""
        await self._gate.settled()
