"""The fake jtop and pynvml modules (tests/fixtures/telemetry), loaded once for every test file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "telemetry"


def load_fake(name: str):
    spec = importlib.util.spec_from_file_location(f"_fixture_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_jtop = load_fake("fake_jtop")
fake_pynvml = load_fake("fake_pynvml")
