"""Where the app keeps its data and where models live on disk."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "smollm-tui"


def app_home() -> Path | None:
    """The single folder set by SMOLLM_TUI_HOME, if any (tests and portable installs)."""
    value = os.environ.get("SMOLLM_TUI_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """App data: results.db, transcripts, converted copies of the bundled model."""
    home = app_home()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """User configuration: the catalog overlay and settings."""
    home = app_home()
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def user_catalog_path() -> Path:
    return config_dir() / "catalog.toml"


def results_db_path() -> Path:
    return data_dir() / "results.db"


def hf_cache_dir() -> Path:
    """The standard Hugging Face hub cache, honouring HF_HUB_CACHE and HF_HOME.

    Computed here rather than imported from huggingface_hub so that the UI starts fast.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    return hf_home() / "hub"


def hf_home() -> Path:
    """HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface."""
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface"
