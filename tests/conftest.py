"""Test set-up: every test gets its own app home; nothing reaches the network."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub or datasets, which read these at import.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="smollm-tui-tests-"))
os.environ["HF_HOME"] = str(_SESSION_HOME / "hf")
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("SMOLLM_TUI_HOME", str(_SESSION_HOME / "app"))
# The set-up tests' llama.cpp wheels, never the machine's own store (tools/llama_build.py).
os.environ["SMOLLM_TUI_WHEEL_STORE"] = str(_SESSION_HOME / "llama-wheels")

REPO_ROOT = Path(__file__).resolve().parent.parent
# One conversion of the bundled GGUF (about 15 s) shared by every test and test run.
os.environ.setdefault("SMOLLM_TUI_BUNDLED_DIR", str(REPO_ROOT / ".cache" / "bundled"))


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SMOLLM_TUI_HOME per test: results, transcripts and overlays stay in it."""
    home = tmp_path / "smollm-home"
    monkeypatch.setenv("SMOLLM_TUI_HOME", str(home))
    return home


@pytest.fixture
def cli_env(app_home: Path) -> dict[str, str]:
    """Environment for running the real `smollm-tui` command in a subprocess."""
    env = dict(os.environ)
    env["SMOLLM_TUI_HOME"] = str(app_home)
    env["COLUMNS"] = "80"
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="session")
def tiny_llama() -> Path:
    from tiny_models import tiny_llama_dir

    return tiny_llama_dir()


@pytest.fixture(scope="session")
def tiny_t5() -> Path:
    from tiny_models import tiny_t5_dir

    return tiny_t5_dir()


@pytest.fixture(scope="session")
def tiny_catalog(tiny_llama: Path, tiny_t5: Path, tmp_path_factory) -> Path:
    """A catalog overlay file adding `tiny-llama` and `tiny-t5` (source = "local")."""
    from tiny_models import overlay_text

    path = tmp_path_factory.mktemp("catalog") / "tiny.toml"
    path.write_text(
        overlay_text({"tiny-llama": tiny_llama, "tiny-t5": tiny_t5}, kind={"tiny-t5": "seq2seq"})
    )
    return path


@pytest.fixture
def local_hub(tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Hub on 127.0.0.1 (tests/hub_server.py) serving the tiny model and its variants,
    a fresh Hugging Face cache, and HF_ENDPOINT pointed at the server."""
    from hub_server import isolate_hf, standard_server

    isolate_hf(tmp_path, monkeypatch)
    with standard_server(tiny_llama) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


# The screen tests that also run on the board's stack (make test-board); see below.
BOARD_UI_SMOKE = (
    "tests/test_app_chat.py::test_send_stream_stop_regenerate_and_settings",
    "tests/test_app_evaluate.py::test_run_stores_each_task_shows_results_and_history_then_cancel",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the screen tests `ui`: every Pilot test (a coroutine) and SVG snapshot.

    `make test` runs them; `make test-board` leaves them out, but for BOARD_UI_SMOKE (a chat
    and an evaluation driven through the screens and the real worker). The screens are the
    same Textual on both stacks; what differs there (Python 3.10, torch 2.6, the libraries
    pip resolves for 3.10) is the engine's, which its own tests drive directly, and the UI's
    3.10 compatibility is checked by mypy (python_version 3.10) and the 3.10 byte-compile."""
    import inspect

    for item in items:
        function = getattr(item, "function", None)
        screen = inspect.iscoroutinefunction(function) or "snap_compare" in getattr(
            item, "fixturenames", ()
        )
        if screen and not item.nodeid.startswith(BOARD_UI_SMOKE):
            item.add_marker(pytest.mark.ui)
