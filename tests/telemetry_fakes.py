"""The fake jtop and pynvml modules (tests/fixtures/telemetry), loaded once for every test file,
and a reader that hands out scripted snapshots."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.telemetry import Reader, Snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "telemetry"


def load_fake(name: str):
    spec = importlib.util.spec_from_file_location(f"_fixture_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_jtop = load_fake("fake_jtop")
fake_pynvml = load_fake("fake_pynvml")


class ScriptedReader(Reader):
    """Hands out the given snapshots in turn (times from a counter), then raises."""

    name = "scripted"

    def __init__(self, values: list[dict], fail_with: Exception | None = None):
        self.values = list(values)
        self.fail_with = fail_with or RuntimeError("sensor went away")
        self.reads = 0
        self.closed = False

    def read(self) -> Snapshot:
        if self.reads >= len(self.values):
            raise self.fail_with
        values = self.values[self.reads]
        self.reads += 1
        return Snapshot(time=float(values.pop("t", self.reads)), source=self.name, **values)

    def close(self) -> None:
        self.closed = True
