"""Checks on every name that comes from outside and becomes part of a path in the cache.

A Hub (or a mirror set with HF_ENDPOINT, or anyone in the middle of an ``http://`` mirror)
answers with a commit hash, blob ids and file names, and the user or a catalog overlay
names a revision. Each of these ends up in a path under ``<cache>/models--*/``
(``snapshots/<commit>/<file>``, ``blobs/<blob>``, ``refs/<revision>``), so each is checked
here before it is used: a hostile answer must never write outside the repo's folder.

Outside the engine.hub package, below it: engine.catalog.checks reads an overlay's revision here,
and importing a module of the package would import the whole package, catalog included.
"""

from __future__ import annotations

import re
from pathlib import Path

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
BLOB_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_NAME_CHARS = 1024
# git check-ref-format: no control characters, space, ~ ^ : ? * [ \ and no "@{".
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|@\{")


def is_commit(value: object) -> bool:
    return isinstance(value, str) and bool(COMMIT_RE.match(value))


def is_blob_id(value: object) -> bool:
    return isinstance(value, str) and bool(BLOB_RE.match(value))


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(SHA256_RE.match(value))


def file_name_problem(name: object) -> str | None:
    """Why `name` (a path inside a repo, from a file listing) is unsafe, or None.

    Allowed: a relative '/'-separated path with no empty, '.' or '..' part, no backslash,
    no control character."""
    if not isinstance(name, str) or not name:
        return "not a name"
    if len(name) > MAX_NAME_CHARS:
        return "too long"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if "\\" in name:
        return "a backslash"
    if re.search(r"[\x00-\x1f\x7f]", name):
        return "a control character"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "an empty, '.' or '..' part"
    return None


def revision_problem(revision: object) -> str | None:
    """Why `revision` is not a usable branch, tag or commit name, or None.

    Follows git's rules for ref names (``git check-ref-format``), which also keeps it from
    leaving ``refs/``: no '..', no leading or trailing '/', no empty part, no part starting
    with '.', no control characters, spaces or ``~^:?*[\\``."""
    if not isinstance(revision, str) or not revision:
        return "it is empty"
    if len(revision) > 255:
        return "it is too long"
    if ".." in revision:
        return "it contains '..'"
    if revision.startswith("/") or revision.endswith("/"):
        return "it starts or ends with '/'"
    if _BAD_REF_CHARS.search(revision):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\ @{"
    parts = revision.split("/")
    if any(not p or p.startswith(".") or p.endswith(".lock") for p in parts):
        return "a part of it is empty, starts with '.' or ends with '.lock'"
    if revision.endswith("."):
        return "it ends with '.'"
    return None


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` stays inside `folder` once '..' parts are resolved (links in the
    folder itself are resolved alike on both sides)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
