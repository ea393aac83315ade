"""Where the app keeps its data and where models live on disk, and how its private files
are made: the data dir holds prompts, replies and results, so on a shared board it is
readable by its owner only (folders 0700, files 0600), whatever the umask."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO

APP_NAME = "smollm-tui"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


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


_TRUTHY = ("1", "ON", "YES", "TRUE")


def offline_forced(*, datasets: bool = False) -> bool:
    """The user has said "no network" to the Hugging Face libraries: HF_HUB_OFFLINE or
    TRANSFORMERS_OFFLINE, and for datasets also HF_DATASETS_OFFLINE. Read here only, so
    that downloads and evaluation tasks agree."""
    names = ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"]
    if datasets:
        names.append("HF_DATASETS_OFFLINE")
    return any(os.environ.get(name, "").strip().upper() in _TRUTHY for name in names)


def hf_home() -> Path:
    """HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface."""
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface"


# ---- private folders and files ------------------------------------------------------------


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (parents as the system makes them) readable by its owner only, and
    tighten it to 0700 if it exists, is ours and is open to others. Returns ``path``."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    tighten(path, PRIVATE_DIR_MODE)
    return path


def make_private_dirs(path: Path) -> Path:
    """make_private_dir, with every missing folder above ``path`` made 0700 too (mkdir's
    parents=True makes them 0755 under the usual umask). Returns ``path``."""
    missing = []
    folder = path
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        make_private_dir(folder)
    return make_private_dir(path)


def private_data_dir() -> Path:
    """data_dir(), created (or tightened) 0700."""
    return make_private_dir(data_dir())


def tighten(path: Path, mode: int = PRIVATE_FILE_MODE) -> None:
    """Take away group and other permissions from ``path`` when it is ours; a file that is
    missing or not ours (another user's, a shared mount) is left alone."""
    try:
        st = path.stat()
    except OSError:
        return
    if st.st_uid == os.geteuid() and st.st_mode & 0o077:
        try:
            os.chmod(path, st.st_mode & mode & 0o7777)
        except OSError:
            pass  # a read-only file system: nothing we can do, and nothing to break


def open_private(path: Path, mode: str = "w", **kwargs) -> IO:
    """open() for a file only its owner may read: a new file is created 0600 (whatever the
    umask), an existing one of ours is tightened. ``mode`` is "w", "a", "wb" or "ab"."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    try:
        tighten(path)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as a private file, atomically: the text goes to a
    temporary file beside it (0600), which then replaces ``path`` in one rename. A write
    that fails (a full disk, Ctrl-C) leaves ``path`` as it was and no temporary behind."""
    data = text.encode("utf-8")
    if path.exists() and not path.is_file():  # /dev/stdout, a FIFO: written in place
        with open(path, "wb") as out:
            out.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates it 0600 whatever the umask
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
