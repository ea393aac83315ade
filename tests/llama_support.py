"""llama.cpp in tests: skipped where llama-cpp-python is missing, except in CI (CI=true),
where a missing llama.cpp fails the run instead, so that its tests always run there."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require_llama_cpp() -> None:
    """Call at module level in tests that need llama-cpp-python."""
    if importlib.util.find_spec("llama_cpp") is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            "llama-cpp-python is not installed, and CI must run the llama.cpp tests: "
            "`make setup` builds it",
            pytrace=False,
        )
    pytest.skip("llama-cpp-python is not installed (make setup builds it)", allow_module_level=True)


BUNDLED = "smollm2-135m-instruct"
