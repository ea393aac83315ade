"""The evaluation tasks we know by name: lm-eval's name, the seed report's short name, our
default few-shot count, the metric a table shows, the score of chance, the dataset.

Plain data and lookups, below both the evaluation runner and the results store (which
names and orders tasks with it). No lm_eval, no datasets, no disk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from engine.errors import UsageError


@dataclass(frozen=True)
class TaskInfo:
    """One task of the registry. ``chance`` is the accuracy of random guessing in percent."""

    name: str  # lm-eval's task (or group) name
    short: str  # the seed report's column name
    title: str
    num_fewshot: int  # our default
    primary: str  # the metric a matrix shows: acc, acc_norm, exact_match, ...
    metrics: tuple[str, ...]
    chance: float | None
    dataset: str  # Hugging Face dataset id
    dataset_config: str | None = None


REGISTRY: tuple[TaskInfo, ...] = (
    TaskInfo(
        "arc_easy",
        "ARC-e",
        "AI2 Reasoning Challenge, easy set",
        0,
        "acc",
        ("acc", "acc_norm"),
        25.0,
        "allenai/ai2_arc",
        "ARC-Easy",
    ),
    TaskInfo(
        "arc_challenge",
        "ARC-c",
        "AI2 Reasoning Challenge, challenge set",
        0,
        "acc_norm",
        ("acc", "acc_norm"),
        25.0,
        "allenai/ai2_arc",
        "ARC-Challenge",
    ),
    TaskInfo(
        "boolq",
        "BoolQ",
        "Yes/no questions about a passage",
        0,
        "acc",
        ("acc",),
        50.0,
        "aps/super_glue",
        "boolq",
    ),
    TaskInfo(
        "openbookqa",
        "OBQA",
        "Open-book science questions",
        0,
        "acc_norm",
        ("acc", "acc_norm"),
        25.0,
        "allenai/openbookqa",
        "main",
    ),
    TaskInfo(
        "piqa",
        "PIQA",
        "Physical commonsense, two solutions",
        0,
        "acc",
        ("acc", "acc_norm"),
        50.0,
        "baber/piqa",
    ),
    TaskInfo(
        "social_iqa",
        "SIQA",
        "Social commonsense, three answers",
        0,
        "acc",
        ("acc",),
        100 / 3,
        "lighteval/siqa",
    ),
    TaskInfo(
        "winogrande",
        "WinoGrande",
        "Fill-in-the-blank pronoun resolution",
        0,
        "acc",
        ("acc",),
        50.0,
        "allenai/winogrande",
        "winogrande_xl",
    ),
    TaskInfo(
        "hellaswag",
        "HellaSwag",
        "Commonsense sentence completion",
        0,
        "acc_norm",
        ("acc", "acc_norm"),
        25.0,
        "Rowan/hellaswag",
    ),
    TaskInfo(
        "lambada_openai",
        "LAMBADA",
        "Last-word prediction (OpenAI version)",
        0,
        "acc",
        ("acc", "perplexity"),
        0.0,
        "EleutherAI/lambada_openai",
        "default",
    ),
    TaskInfo(
        "mmlu",
        "MMLU",
        "57 subjects, multiple choice (group)",
        5,
        "acc",
        ("acc",),
        25.0,
        "cais/mmlu",
    ),
    TaskInfo(
        "truthfulqa_mc2",
        "TruthfulQA",
        "TruthfulQA multiple choice (mc2 score)",
        0,
        "acc",
        ("acc",),
        None,
        "truthfulqa/truthful_qa",
        "multiple_choice",
    ),
    TaskInfo(
        "gsm8k",
        "GSM8K",
        "Grade-school maths, generated answers",
        5,
        "exact_match,strict-match",
        ("exact_match,strict-match", "exact_match,flexible-extract"),
        0.0,
        "openai/gsm8k",
        "main",
    ),
)

_BY_KEY = {key.lower(): t for t in REGISTRY for key in (t.name, t.short)}
SEED_TASKS = ("arc_easy", "boolq", "openbookqa", "piqa", "social_iqa", "winogrande")


def lookup(name: str) -> TaskInfo | None:
    """The registry entry for an lm-eval name or a short name (case does not matter)."""
    return _BY_KEY.get(name.strip().lower())


def resolve_name(name: str) -> str:
    """The lm-eval task name for ``name`` (short names map; unknown names pass unchanged)."""
    info = lookup(name)
    return info.name if info else name.strip()


def short_name(task: str) -> str:
    info = lookup(task)
    return info.short if info else task


def primary_metric(task: str) -> str:
    info = lookup(task)
    return info.primary if info else "acc"


def default_fewshot(task: str) -> int | None:
    info = lookup(task)
    return info.num_fewshot if info else None


def parse_task_list(text: str) -> tuple[str, ...]:
    """'ARC-e, boolq' -> ('arc_easy', 'boolq'); a clear error for an empty list."""
    names = tuple(resolve_name(part) for part in text.split(",") if part.strip())
    if not names:
        raise UsageError(
            "no tasks given: pass --tasks with names such as arc_easy,boolq "
            f"(known: {', '.join(t.short for t in REGISTRY)})"
        )
    return tuple(dict.fromkeys(names))


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(close)}?" if close else ""
