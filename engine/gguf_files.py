"""GGUF files: which one a catalog entry runs on llama.cpp, and what is inside its header.

Reads the header's key/value metadata directly (the `gguf` package's reader parses every
tensor and takes seconds; this takes milliseconds), without llama-cpp-python, so the
client and the UI can use it. A damaged or foreign file becomes one GGUFError naming it.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.catalog.entries import ModelEntry
from engine.errors import UsageError

# llama_ftype (general.file_type) -> the quant type's usual name.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
}

# The app's precision names -> GGUF quant types, best first ("the nearest there is").
PRECISION_QUANTS: dict[str, tuple[str, ...]] = {
    "fp32": ("F32",),
    "fp16": ("F16",),
    "bf16": ("BF16",),
    "int8": ("Q8_0",),
    "int4": ("Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "IQ4_XS", "IQ4_NL"),
}
# With precision auto and several files on disk: the most faithful that is there.
AUTO_ORDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_1", "Q4_0", "F16", "BF16", "F32")

_MAGIC = b"GGUF"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 16 * 2**20  # a chat template is a few kB; a key a few dozen bytes
_MAX_KEYS = 100_000
# The longest string arrays real files carry are vocabularies and merges: 262,144 tokens
# (Gemma 3), a few hundred thousand merges. Skipping a string costs a read of its length,
# so a header claiming 12.5 million empty strings (100 MB) took 8 s before this cap.
_MAX_STRINGS = 2**20
# llama.cpp keeps a context length in an int32: 2^32-1 read back as -1 ("Array length must
# be >= 0, not -1" deep inside llama-cpp-python).
_MAX_CONTEXT = 2**31 - 1
_QUANT_IN_NAME = re.compile(
    r"(?i)(?:^|[.\-_])("
    + "|".join(sorted((re.escape(q) for q in FILE_TYPES.values()), key=len, reverse=True))
    + r")(?=\.gguf$)"
)


class GGUFError(UsageError):
    """A file that is not a readable GGUF model."""


class NoGGUFFile(UsageError):
    """The entry has no GGUF weights (or none matching the precision asked for)."""


@dataclass(frozen=True)
class GGUFFile:
    path: Path
    quant: str  # Q4_1, Q8_0, F16, ...


def read_metadata(path: Path, wanted: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The header's key/value pairs (all, or only ``wanted``; stops once they are read).

    Array values are returned as their length only (token lists are long and not needed
    here). Raises GGUFError for a file that is not GGUF or is cut short.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            return _read(handle, size, set(wanted) if wanted else None)
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise GGUFError(f"{path} is damaged or not a GGUF model file ({exc})") from exc


def _read(handle: BinaryIO, size: int, wanted: set[str] | None) -> dict[str, Any]:
    if handle.read(4) != _MAGIC:
        raise ValueError("no GGUF signature")
    version, _tensors, count = struct.unpack("<IQQ", _exact(handle, 20))
    if version not in (2, 3) or count > _MAX_KEYS:
        raise ValueError(f"unsupported GGUF version {version} or {count} keys")
    out: dict[str, Any] = {}
    for _ in range(count):
        key = _string(handle, size)
        kind = struct.unpack("<I", _exact(handle, 4))[0]
        value = _value(handle, kind, size)
        if key.endswith(".context_length") and isinstance(value, int) and value > _MAX_CONTEXT:
            raise ValueError(f"{key} is {value:,} tokens, more than any model has")
        if wanted is None or key in wanted:
            out[key] = value
            if wanted is not None and wanted <= out.keys():
                break
    return out


def _exact(handle: BinaryIO, n: int) -> bytes:
    data = handle.read(n)
    if len(data) != n:
        raise ValueError("the file ends inside its header")
    return data


def _string(handle: BinaryIO, size: int) -> str:
    length = struct.unpack("<Q", _exact(handle, 8))[0]
    if length > min(_MAX_STRING, size):
        raise ValueError(f"a header string claims {length} bytes")
    return _exact(handle, length).decode("utf-8")


def _value(handle: BinaryIO, kind: int, size: int) -> Any:
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, _exact(handle, struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(handle, size)
    if kind == _ARRAY:
        item, length = struct.unpack("<IQ", _exact(handle, 12))
        if item in _SCALARS:
            skip = struct.calcsize(_SCALARS[item]) * length
            if skip > size:
                raise ValueError(f"an array claims {length} items")
            handle.seek(skip, 1)
        elif item == _STRING:
            if length > min(size // 8, _MAX_STRINGS):
                raise ValueError(f"an array claims {length:,} strings")
            for _ in range(length):
                n = struct.unpack("<Q", _exact(handle, 8))[0]
                if n > _MAX_STRING:
                    raise ValueError(f"a header string claims {n} bytes")
                handle.seek(n, 1)
        else:
            raise ValueError(f"unsupported array item type {item}")
        return length
    raise ValueError(f"unknown value type {kind}")


def quant_type(path: Path) -> str:
    """The file's quant type from its header (general.file_type), else from its name."""
    meta = read_metadata(path, ("general.file_type",))
    code = meta.get("general.file_type")
    if isinstance(code, int) and code in FILE_TYPES:
        return FILE_TYPES[code]
    match = _QUANT_IN_NAME.search(path.name)
    if match:
        return match.group(1).upper()
    raise GGUFError(f"{path} does not say its quant type (no general.file_type)")


def gguf_paths(entry: ModelEntry) -> list[Path]:
    """The GGUF files of ``entry`` that are on disk (no header is read)."""
    if entry.source == "bundled":
        from engine.catalog.bundled import BundledModelMissing, gguf_path

        try:
            return [gguf_path()]
        except BundledModelMissing:
            return []
    if entry.source == "local":
        path = Path(entry.path or "").expanduser()
        return [path] if path.suffix == ".gguf" and path.is_file() else []
    if entry.source == "hub" and entry.gguf_repo:
        return [p for _, p in downloaded_gguf(entry)]
    return []


def downloaded_gguf(entry: ModelEntry) -> list[tuple[str, Path]]:
    """(quant, path) of the catalog's GGUF files of ``entry`` that are in the Hugging Face
    cache (any snapshot of its GGUF repo; the newest copy of each), in catalog order."""
    if not entry.gguf_repo:
        return []
    from engine.hub import repo_folder

    snapshots = repo_folder(entry.gguf_repo) / "snapshots"
    found = []
    for quant, name in entry.gguf_files:
        copies = [p for p in snapshots.glob(f"*/{name}") if p.is_file()]
        if copies:
            found.append((quant, max(copies, key=lambda p: p.stat().st_mtime)))
    return found


def has_gguf_weights(entry: ModelEntry) -> bool:
    """Whether ``entry`` has GGUF weights here: the bundled model, a local .gguf entry, or a
    published GGUF build whose file is downloaded."""
    if entry.source == "bundled":
        return True
    if entry.source == "local":
        return (entry.path or "").endswith(".gguf")
    return bool(entry.gguf_repo and downloaded_gguf(entry))


def missing_gguf_message(entry: ModelEntry) -> str:
    """Why ``entry`` cannot run on llama.cpp for want of a file, and what to do."""
    if entry.gguf_repo:
        quants = ", ".join(q for q, _ in entry.gguf_files)
        first = entry.gguf_files[0][0]
        return (
            f"{entry.id}'s GGUF build ({entry.gguf_repo}: {quants}) is not downloaded; "
            f"fetch one with: smollm-tui download {entry.id} --gguf {first}"
        )
    return (
        f"{entry.id} has no GGUF file for llama.cpp: use --runtime transformers (or the "
        "runtime key in the app)"
    )


def choose_file(entry: ModelEntry, precision: str) -> GGUFFile:
    """The GGUF file llama.cpp runs for ``entry`` at ``precision`` (auto = the file's own
    quant type). Raises NoGGUFFile, naming what there is, when none fits."""
    paths = gguf_paths(entry)
    if not paths:
        raise NoGGUFFile(missing_gguf_message(entry))
    files = [GGUFFile(p, quant_type(p)) for p in paths]
    by_quant = {f.quant: f for f in files}
    if precision == "auto":
        for quant in AUTO_ORDER:
            if quant in by_quant:
                return by_quant[quant]
        return files[0]
    for quant in PRECISION_QUANTS.get(precision, ()):
        if quant in by_quant:
            return by_quant[quant]
    have = ", ".join(sorted(by_quant))
    published = [q for q, _ in entry.gguf_files if q in PRECISION_QUANTS.get(precision, ())]
    if published:
        raise NoGGUFFile(
            f"{entry.id}'s {precision} GGUF file ({published[0]}) is not "
            f"downloaded (on disk: {have}); fetch it with: smollm-tui download "
            f"{entry.id} --gguf {published[0]}"
        )
    raise NoGGUFFile(
        f"{entry.id} has no {precision} GGUF file for llama.cpp (on disk: "
        f"{have}); choose precision auto, or the transformers runtime for "
        f"{precision}"
    )
