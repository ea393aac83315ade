"""One background read at a time, none lost: what the catalog's rows (tui.catalog_rows) and
a screen's read of the results store (tui.store_reads) share.

A read asked for while one is under way is not started beside it (a thread cannot be
cancelled half way, and two would race to be shown): one more read follows it, and sees
what changed meanwhile. ``settled()`` waits until no read is under way or owed and the last
one has been shown (what a user waits for; tests and screenshots wait on it too).
"""

from __future__ import annotations

import asyncio


class ReadGate:
    def __init__(self) -> None:
        self.reading = False
        self.again = False  # asked for while a read was under way
        self._settled = asyncio.Event()

    def begin(self) -> bool:
        """A read is asked for: True to start it now; False when one is under way (another
        then follows it)."""
        self._settled.clear()
        if self.reading:
            self.again = True
            return False
        self.reading, self.again = True, False
        return True

    def end(self) -> bool:
        """A read came back: True when another must follow (asked for meanwhile)."""
        self.reading = False
        return self.again

    def settle(self) -> None:
        """The last read asked for has been shown."""
        self._settled.set()

    async def settled(self) -> None:
        await self._settled.wait()
