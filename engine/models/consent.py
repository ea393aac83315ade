"""Remembered consent to run a model's own Python code (trust_remote_code).

Consent is given per catalog model id AND revision: code at another commit is other code,
so a new revision asks again. A local folder (``source = "local"``) has no commit; its
"revision" is a hash of its Python files, so changed code asks again. Kept as JSON in
data_dir()/remote-code-consent.json::

    {"version": 1, "models": {"phonelm-1.5b": {"<commit>": "2026-03-01T12:00:00Z"}}}
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from engine.catalog.entries import ModelEntry
from engine.paths import data_dir, make_private_dir

UNKNOWN_REVISION = "unknown"
_VERSION = 1


def consent_path() -> Path:
    return data_dir() / "remote-code-consent.json"


def _read() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(consent_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: ask again rather than trust a broken file
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        return {}
    return {k: dict(v) for k, v in models.items() if isinstance(v, dict)}


def _write(models: dict[str, dict[str, str]]) -> None:
    path = consent_path()
    make_private_dir(path.parent)
    # Write then rename, so a crash never leaves half a file.
    fd, tmp = tempfile.mkstemp(prefix=".consent-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"version": _VERSION, "models": models}, out, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _key(revision: str | None) -> str:
    return revision or UNKNOWN_REVISION


def has_consent(model_id: str, revision: str | None) -> bool:
    """Whether the user allowed this model's code at this revision to run."""
    return _key(revision) in _read().get(model_id, {})


def give_consent(model_id: str, revision: str | None) -> None:
    """Remember that the user allowed this model's code at this revision to run."""
    models = _read()
    models.setdefault(model_id, {})[_key(revision)] = time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
    )
    _write(models)


def revoke_consent(model_id: str) -> bool:
    """Forget every consent for a model; returns whether there was any."""
    models = _read()
    if models.pop(model_id, None) is None:
        return False
    _write(models)
    return True


def consent_revision(entry: ModelEntry) -> str | None:
    """The revision a load would run: the commit on disk, else the catalog's pin. A local
    folder has no commit: its code is named by a hash of its Python files, so pointing the
    same id at other code asks again."""
    if entry.source == "local":
        return local_code_key(Path(entry.path or "").expanduser())
    from engine.models.local_status import local_status

    return local_status(entry).commit or entry.revision


def local_code_files(folder: Path) -> list[Path]:
    """The Python files a local model folder could run (what trust_remote_code imports)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.py")
        if p.is_file() and "__pycache__" not in p.relative_to(folder).parts
    )


def local_code_key(folder: Path) -> str:
    """ "local-sha256:<hex>" over the names and contents of the folder's Python files."""
    import hashlib

    digest = hashlib.sha256()
    for path in local_code_files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
        digest.update(b"\0")
    return "local-sha256:" + digest.hexdigest()


def needs_consent(entry: ModelEntry, revision: str | None = None) -> bool:
    """True when the entry runs its own code and no consent covers `revision` (default:
    the revision on disk)."""
    if not entry.trust_remote_code:
        return False
    return not has_consent(entry.id, revision or consent_revision(entry))


def consent_question(entry: ModelEntry, revision: str | None = None) -> str:
    """Plain text for the dialog (or the CLI): what will run, and what saying yes means."""
    from engine.models.local_status import local_status

    status = local_status(entry)
    code = [f for f in status.files if f.endswith(".py") and "__pycache__" not in f]
    files = f" ({', '.join(code)})" if code else ""
    if entry.source == "local":
        return (
            f"{entry.name} ships its own Python code{files} in {entry.path}. Loading it runs "
            "that code on this machine with your user's rights. Only allow it if you trust "
            "its authors. Your answer is remembered for these files as they are now; if "
            "they change, you are asked again."
        )
    revision = revision or status.commit or entry.revision
    where = f"{entry.repo or entry.path} at revision {(revision or 'unknown')[:12]}"
    return (
        f"{entry.name} ships its own Python code{files} from {where}. Loading it runs that "
        "code on this machine with your user's rights. Only allow it if you trust its "
        "authors. Your answer is remembered for this revision; a new revision asks again."
    )


def resolve_trust(entry: ModelEntry, allow_now: bool) -> bool:
    """Whether a load may run the entry's own code. ``allow_now`` (the CLI's
    --trust-remote-code) is consent for the revision on disk and is remembered; without it
    a consent given earlier for that revision counts."""
    if not entry.trust_remote_code:
        return False
    if allow_now:
        give_consent(entry.id, consent_revision(entry))
        return True
    return not needs_consent(entry)
