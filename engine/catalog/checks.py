"""The rules a catalog entry's fields follow (engine.catalog.entries reads the file and reports each
problem with its line): what each key may hold, and the rules that tie several together."""

from __future__ import annotations

import re
from typing import Any

from engine.hub_names import revision_problem

KINDS = ("causal", "seq2seq")
PROMPT_FORMATS = ("chat-template", "chatml", "alpaca", "plain", "t5")
SOURCES = ("hub", "bundled", "local", "unavailable")

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_MONTH_RE = re.compile(r"^(\d{4}-(0[1-9]|1[0-2])|unknown)$")
# A file at the top of a GGUF repo: no folders, no "..", ends in .gguf.
_GGUF_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.gguf$")
_QUANT_RE = re.compile(r"^(F32|F16|BF16|Q[2-8]_[0-9A-Z_]+|IQ[1-4]_[A-Z_]+|TQ[12]_0)$")
OPTIONAL_INTS = ("layers", "hidden_size", "heads", "kv_heads", "vocab_size")


INVALID = object()


def check_value(key: str, value: Any, problem: Any) -> Any:
    if key in ("params", "context_length") or key in OPTIONAL_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problem(key, f"{key} must be a positive integer")
            return INVALID
        return value
    if key == "trust_remote_code":
        if not isinstance(value, bool):
            problem(key, "trust_remote_code must be true or false")
            return INVALID
        return value
    if key == "gguf_files":
        if not isinstance(value, dict) or not value:
            problem(
                key,
                "gguf_files must be a table of quant type = file name, e.g. "
                '{ Q8_0 = "model.Q8_0.gguf" }',
            )
            return INVALID
        for quant, name in value.items():
            if not _QUANT_RE.match(quant):
                problem(
                    key, f"gguf_files: '{quant}' is not a GGUF quant type (Q8_0, Q4_K_M, F16, ...)"
                )
                return INVALID
            if not isinstance(name, str) or not _GGUF_NAME_RE.match(name):
                problem(
                    key,
                    f"gguf_files: {quant} must name a .gguf file at the top of the "
                    f"repo (got {name!r})",
                )
                return INVALID
        return tuple(value.items())
    if key in ("tags", "facts_from", "gguf_facts_from"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problem(key, f"{key} must be a list of strings")
            return INVALID
        return tuple(value)
    if not isinstance(value, str):
        problem(key, f"{key} must be a string")
        return INVALID
    if key == "kind" and value not in KINDS:
        problem(key, f"kind must be one of {', '.join(KINDS)} (got '{value}')")
        return INVALID
    if key == "prompt_format" and value not in PROMPT_FORMATS:
        problem(key, f"prompt_format must be one of {', '.join(PROMPT_FORMATS)} (got '{value}')")
        return INVALID
    if key == "source" and value not in SOURCES:
        problem(key, f"source must be one of {', '.join(SOURCES)} (got '{value}')")
        return INVALID
    if key in ("repo", "gguf_repo") and not _REPO_RE.match(value):
        problem(key, f"{key} must look like 'owner/name' (got '{value}')")
        return INVALID
    if key == "revision" and revision_problem(value):
        problem(
            key,
            f"revision {value!r} is not a branch, tag or commit name: {revision_problem(value)}",
        )
        return INVALID
    if key == "released" and not _MONTH_RE.match(value):
        problem(key, f"released must be 'YYYY-MM' or 'unknown' (got '{value}')")
        return INVALID
    if key in ("id", "name", "family", "affiliation", "architecture", "license") and not value:
        problem(key, f"{key} must not be empty")
        return INVALID
    return value
