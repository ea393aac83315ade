"""What every telemetry reader is: a name, read() -> Snapshot, close()."""

from __future__ import annotations

from engine.telemetry.snapshot import Snapshot


class ReaderUnavailable(Exception):
    """This reader cannot work on this machine (module missing, service down, no GPU)."""


class Reader:
    """Base class: subclasses set `name` and implement read()."""

    name = "reader"

    def read(self) -> Snapshot:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """One line for `doctor` and the System screen."""
        return self.name

    def close(self) -> None:
        """Release what the reader holds (a service connection, NVML)."""
