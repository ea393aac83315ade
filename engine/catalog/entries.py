"""The model catalog: the shipped catalog.toml plus the user's overlay, validated.

Every problem is reported with the file and line it comes from, e.g.
``catalog.toml:41: model 'opt-125m': context_length must be a positive integer``.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.catalog.checks import (
    INVALID,
    check_value,
)
from engine.errors import SmollmError, UsageError
from engine.paths import user_catalog_path

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the Jetson's Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class ModelEntry:
    """One model of the catalog. Field names are the catalog.toml keys."""

    id: str
    name: str
    family: str
    affiliation: str
    params: int
    released: str
    architecture: str
    kind: str
    context_length: int
    license: str
    prompt_format: str
    trust_remote_code: bool
    tags: tuple[str, ...]
    source: str
    facts_from: tuple[str, ...]
    repo: str | None = None
    revision: str | None = None
    notes: str = ""
    unavailable_reason: str | None = None
    path: str | None = None
    layers: int | None = None
    hidden_size: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    vocab_size: int | None = None
    # A published GGUF build for llama.cpp: its repo, one file per quant type (Q8_0, ...),
    # and where those names were checked.
    gguf_repo: str | None = None
    gguf_files: tuple[tuple[str, str], ...] = ()
    gguf_facts_from: tuple[str, ...] = ()
    # Where the entry was defined (file:line), for messages. Not a catalog key.
    origin: str = field(default="", compare=False)

    @property
    def is_base(self) -> bool:
        return "base" in self.tags

    @property
    def params_label(self) -> str:
        return format_params(self.params)


_KEYS: dict[str, Any] = {f.name: f for f in fields(ModelEntry) if f.name != "origin"}
_REQUIRED = (
    "id",
    "name",
    "family",
    "affiliation",
    "params",
    "released",
    "architecture",
    "kind",
    "context_length",
    "license",
    "prompt_format",
    "trust_remote_code",
    "tags",
    "source",
    "facts_from",
)


def format_params(params: int) -> str:
    """135_000_000 -> '135M', 1_100_000_000 -> '1.1B'."""
    if params >= 1_000_000_000:
        return f"{params / 1e9:.1f}B"
    if params >= 1_000_000:
        return f"{params / 1e6:.0f}M"
    return f"{params / 1e3:.0f}K"


@dataclass(frozen=True)
class CatalogProblem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class CatalogError(SmollmError):
    """The catalog or an overlay is invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownModelError(UsageError):
    pass


class Catalog:
    """The merged catalog, in file order (the bundled default model first)."""

    def __init__(self, entries: list[ModelEntry], files: tuple[Path, ...] = ()):
        self.entries = entries
        self.files = files
        self._by_id = {e.id: e for e in entries}

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def default(self) -> ModelEntry:
        """The bundled model if the catalog has one, else the first entry."""
        for entry in self.entries:
            if entry.source == "bundled":
                return entry
        return self.entries[0]

    def get(self, key: str) -> ModelEntry:
        """Find a model by catalog id or by Hub repo id (case-insensitive for repos)."""
        if key in self._by_id:
            return self._by_id[key]
        lowered = key.lower()
        if lowered in self._by_id:
            return self._by_id[lowered]
        by_repo = [e for e in self.entries if e.repo and e.repo.lower() == lowered]
        if by_repo:
            # A repo id names the Hub copy, not the bundled conversion of it.
            by_repo.sort(key=lambda e: e.source == "bundled")
            return by_repo[0]
        candidates = list(self._by_id) + [e.repo for e in self.entries if e.repo]
        close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model '{key}'.{hint} Run 'smollm-tui list' to see the catalog."
        )


def shipped_catalog_path() -> Path:
    """catalog.toml inside the installed package, or at the top of a source tree."""
    here = Path(__file__).resolve().parent.parent  # engine/, above engine/catalog/
    for candidate in (here / "catalog.toml", here.parent / "catalog.toml"):
        if candidate.is_file():
            return candidate
    raise SmollmError(
        f"the shipped catalog.toml is missing (looked in {here} and {here.parent}); "
        "reinstall smollm-tui"
    )


def load_catalog(overlay: Path | None = None, *, use_user_overlay: bool = True) -> Catalog:
    """Load the shipped catalog and merge the overlay on top of it.

    ``overlay`` is an explicit ``--catalog PATH``; otherwise the user's overlay in the
    config dir is used when it exists (and ``use_user_overlay`` is true).
    """
    base = shipped_catalog_path()
    entries, problems = _read_file(base, overlay=False, known={})
    files = [base]
    if overlay is not None:
        if not overlay.is_file():
            raise CatalogError([CatalogProblem(str(overlay), 0, "catalog file not found")])
        overlay_path: Path | None = overlay
    else:
        user = user_catalog_path()
        overlay_path = user if use_user_overlay and user.is_file() else None
    if overlay_path is not None and not problems:
        known = {e.id: e for e in entries}
        extra, more = _read_file(overlay_path, overlay=True, known=known)
        problems += more
        merged = dict(known)
        for entry in extra:
            merged[entry.id] = entry
        entries = list(merged.values())
        files.append(overlay_path)
    if problems:
        raise CatalogError(problems)
    return Catalog(entries, tuple(files))


def parse_catalog_text(
    text: str, path: str = "catalog.toml", known: dict[str, ModelEntry] | None = None
) -> list[ModelEntry]:
    """Parse catalog text (for tests and tools). Raises CatalogError."""
    entries, problems = _parse(text, path, overlay=known is not None, known=known or {})
    if problems:
        raise CatalogError(problems)
    return entries


def _read_file(
    path: Path, *, overlay: bool, known: dict[str, ModelEntry]
) -> tuple[list[ModelEntry], list[CatalogProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CatalogProblem(str(path), 0, f"cannot read the file: {exc}")]
    return _parse(text, str(path), overlay=overlay, known=known)


def _parse(
    text: str, path: str, *, overlay: bool, known: dict[str, ModelEntry]
) -> tuple[list[ModelEntry], list[CatalogProblem]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        reason = getattr(exc, "msg", None) or re.sub(r"\s*\(at line.*\)$", "", str(exc))
        return [], [CatalogProblem(path, line, f"TOML syntax error: {reason}")]
    lines = _TableLines(text)
    problems: list[CatalogProblem] = []
    for key in data:
        if key != "model":
            problems.append(
                CatalogProblem(
                    path,
                    lines.top_key(key),
                    f"unknown top-level key '{key}' (a catalog has only [[model]] tables)",
                )
            )
    tables = data.get("model", [])
    if not isinstance(tables, list):
        problems.append(
            CatalogProblem(
                path, lines.top_key("model"), "'model' must be an array of tables: write [[model]]"
            )
        )
        return [], problems
    entries: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        start = lines.table_start(index)
        entry = _entry(table, path, index, lines, overlay, known, problems)
        if entry is None:
            continue
        if entry.id in seen:
            problems.append(
                CatalogProblem(
                    path,
                    start,
                    f"model '{entry.id}': duplicate id (first defined at line {seen[entry.id]})",
                )
            )
            continue
        seen[entry.id] = start
        entries.append(entry)
    return entries, problems


def _line_from_message(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 0


class _TableLines:
    """Maps [[model]] tables and their keys back to line numbers (tomllib keeps none)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.starts = [
            i + 1 for i, line in enumerate(self.lines) if re.match(r"^\s*\[\[\s*model\s*\]\]", line)
        ]

    def table_start(self, index: int) -> int:
        return self.starts[index] if index < len(self.starts) else 0

    def key_line(self, index: int, key: str) -> int:
        start = self.table_start(index)
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines) + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, end):
            if number >= 1 and pattern.match(self.lines[number - 1]):
                return number
        return start

    def top_key(self, key: str) -> int:
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return 1


def _entry(
    table: Any,
    path: str,
    index: int,
    lines: _TableLines,
    overlay: bool,
    known: dict[str, ModelEntry],
    problems: list[CatalogProblem],
) -> ModelEntry | None:
    start = lines.table_start(index)
    if not isinstance(table, dict):
        problems.append(CatalogProblem(path, start, "each [[model]] must be a table"))
        return None
    raw_id = table.get("id")
    label = f"model '{raw_id}'" if isinstance(raw_id, str) else f"model #{index + 1}"
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        line = lines.key_line(index, key) if key else start
        problems.append(CatalogProblem(path, line, f"{label}: {message}"))

    if not isinstance(raw_id, str) or not raw_id:
        problem("id" if "id" in table else None, "id is required and must be a string")
        return None
    if not _ID_RE.match(raw_id):
        problem("id", f"id must be lower case letters, digits, '.', '-' or '_' (got '{raw_id}')")
    for key in table:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problem(key, f"unknown key '{key}'{hint}")

    base = known.get(raw_id) if overlay else None
    values: dict[str, Any] = {}
    if base is None:
        missing = [k for k in _REQUIRED if k not in table]
        if missing:
            problem(None, "missing required field(s): " + ", ".join(missing))
    for key, value in table.items():
        if key in _KEYS:
            checked = check_value(key, value, problem)
            if checked is not INVALID:
                values[key] = checked
    if len(problems) > before:
        return None
    origin = f"{path}:{start}"
    if base is not None:
        entry = replace(base, **values, origin=origin)
    else:
        entry = ModelEntry(**values, origin=origin)
    check_entry(entry, problem)
    if len(problems) > before:
        return None
    return entry


def check_entry(entry: ModelEntry, problem: Any) -> None:
    """Rules that tie several fields together."""
    if entry.source in ("hub", "bundled") and not entry.repo:
        problem("source", f"source '{entry.source}' needs a repo ('owner/name')")
    if entry.source == "local" and not entry.path:
        problem("source", "source 'local' needs a path (a model folder or a .gguf file)")
    if entry.source == "unavailable" and not entry.unavailable_reason:
        problem("source", "source 'unavailable' needs an unavailable_reason")
    if bool(entry.gguf_repo) != bool(entry.gguf_files):
        problem(
            "gguf_repo" if entry.gguf_repo else "gguf_files", "gguf_repo and gguf_files go together"
        )
    elif entry.gguf_repo and not entry.gguf_facts_from:
        problem(
            "gguf_repo", "a GGUF build needs gguf_facts_from (where its file names were checked)"
        )
    elif entry.gguf_repo and entry.kind != "causal":
        problem("gguf_repo", "GGUF builds are run for causal models only")
    if entry.kind == "seq2seq" and entry.prompt_format not in ("t5", "plain"):
        problem("prompt_format", "a seq2seq model takes prompt_format 't5' or 'plain'")
