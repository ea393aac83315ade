"""Choose the best reader this machine offers, and hand over to the next when one fails.

Order: jtop (if importable and its service answers), Jetson /proc files, NVML + psutil
(discrete NVIDIA GPU), psutil. Nothing here imports torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.telemetry.base import Reader, ReaderUnavailable
from engine.telemetry.jetson_proc import JetsonProcReader
from engine.telemetry.jtop_reader import JtopReader
from engine.telemetry.nvml_reader import NvmlReader
from engine.telemetry.psutil_reader import PsutilReader
from engine.telemetry.snapshot import Snapshot

log = logging.getLogger(__name__)

ReaderFactory = Callable[[], Reader]
READER_NAMES = ("jtop", "jetson-proc", "nvml", "psutil")


def default_factories(interval: float = 1.0) -> list[tuple[str, ReaderFactory]]:
    """The readers in order of preference, each as (name, factory)."""
    return [
        ("jtop", lambda: JtopReader(interval=interval)),
        ("jetson-proc", JetsonProcReader),
        ("nvml", NvmlReader),
        ("psutil", PsutilReader),
    ]


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


class ReaderChain:
    """The current reader and the ones after it; read() fails over with one notice.

    `notices` collects one line per hand-over ("jtop failed (...): now reading from
    jetson-proc"); `skipped` says why each better reader was not used at selection.
    """

    def __init__(
        self, factories: Sequence[tuple[str, ReaderFactory]] | None = None, interval: float = 1.0
    ) -> None:
        self._factories = list(factories if factories is not None else default_factories(interval))
        self._next = 0
        self.reader: Reader | None = None
        self.skipped: list[Skipped] = []
        self.notices: list[str] = []
        self._open_next()

    @property
    def name(self) -> str:
        return self.reader.name if self.reader else "none"

    def describe(self) -> str:
        return self.reader.describe() if self.reader else "no reader works here"

    def _open_next(self) -> bool:
        while self._next < len(self._factories):
            name, factory = self._factories[self._next]
            self._next += 1
            try:
                self.reader = factory()
                return True
            except ReaderUnavailable as exc:
                self.skipped.append(Skipped(name, str(exc)))
            except Exception as exc:  # a broken optional library must not stop the app
                self.skipped.append(Skipped(name, f"{exc.__class__.__name__}: {exc}"))
        self.reader = None
        return False

    def read(self) -> tuple[Snapshot | None, str | None]:
        """One snapshot, and a notice when the reader changed on the way (else None)."""
        notice = None
        while self.reader is not None:
            try:
                return self.reader.read(), notice
            except Exception as exc:
                failed = self.reader
                failed.close()
                reason = " ".join(str(exc).split()) or exc.__class__.__name__
                self._open_next()
                notice = f"{failed.name} failed ({reason}): now reading from {self.name}"
                log.warning(notice)
                self.notices.append(notice)
        return None, notice

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def select_reader(
    interval: float = 1.0, factories: Sequence[tuple[str, ReaderFactory]] | None = None
) -> ReaderChain:
    """A ReaderChain opened on the best reader that works here (may take a second: jtop)."""
    return ReaderChain(factories, interval=interval)
