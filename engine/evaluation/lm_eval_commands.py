"""The `lm_eval` command lines equivalent to an `eval` run, for a GPU server or a cluster.

Where one board is not enough, lm-eval's own launchers run the same models × tasks: the
`hf` backend on one GPU, vLLM, or `accelerate launch` over every GPU of a machine. Their
`results_*.json` files come back with `smollm-tui import`. The lines name the same model
(repo and revision), tasks (lm-eval names), few-shot counts, sample limit and precision as
the run here; tasks whose default few-shot counts differ get one command each, as each
lm-eval command takes one --num_fewshot.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from engine.task_registry import default_fewshot, resolve_name

_DTYPES = {
    "auto": "float16",
    "fp16": "float16",
    "fp32": "float32",
    "bf16": "bfloat16",
    "int8": "float16",
    "int4": "float16",
}


def _model_args(entry: Any, precision: str, backend: str) -> tuple[str, list[str]]:
    """(model_args, comments) for one catalog entry."""
    notes: list[str] = []
    if entry.source == "local":
        pretrained = entry.path or entry.id
        notes.append(f"{entry.id} is a local folder here: copy it to the server first")
    else:
        pretrained = entry.repo or entry.id
    parts = [f"pretrained={pretrained}"]
    revision = entry.revision
    if revision:
        parts.append(f"revision={revision}")
    parts.append(f"dtype={_DTYPES.get(precision, 'float16')}")
    if precision in ("int8", "int4"):
        if backend == "vllm":
            notes.append(f"vLLM has no bitsandbytes {precision}: this line runs float16")
        else:
            parts.append("load_in_8bit=True" if precision == "int8" else "load_in_4bit=True")
    if entry.trust_remote_code:
        parts.append("trust_remote_code=True")
    if backend == "vllm":
        parts.append("gpu_memory_utilization=0.8")
    return ",".join(parts), notes


def _groups(tasks: Iterable[str], fewshot: int | None) -> list[tuple[int | None, list[str]]]:
    """Tasks grouped by the few-shot count they run with (the asked one, else each task's
    default), in the order given."""
    groups: dict[int | None, list[str]] = {}
    for task in tasks:
        shots = fewshot if fewshot is not None else default_fewshot(task)
        groups.setdefault(shots, []).append(resolve_name(task))
    return list(groups.items())


def lm_eval_commands(
    entries: list[Any],
    tasks: tuple[str, ...],
    *,
    limit: int | None,
    fewshot: int | None,
    precision: str,
    include_path: str | None = None,
    batch_size: int = 1,
) -> list[str]:
    """Shell lines (comments start with #): for each model, the hf, vLLM and accelerate
    variants of the same evaluation."""
    lines = [
        "# The same evaluation with lm-eval's own launchers (pip install "
        "'lm_eval[hf,vllm]' accelerate).",
        "# Keep one launcher's lines; bring the results back with: "
        "smollm-tui import results/ --machine NAME",
    ]
    for entry in entries:
        out = f"results/{entry.id}"
        for label, prefix, backend, batch in (
            ("hf backend, one GPU", ["lm_eval"], "hf", str(batch_size)),
            ("vLLM", ["lm_eval"], "vllm", "auto"),
            (
                "accelerate launch, every GPU of the machine (data parallel)",
                ["accelerate", "launch", "-m", "lm_eval"],
                "hf",
                str(max(batch_size, 16)),
            ),
        ):
            args, notes = _model_args(entry, precision, backend)
            lines.append(f"# {entry.id}: {label}")
            lines += [f"# {note}" for note in notes]
            for shots, names in _groups(tasks, fewshot):
                command = [
                    *prefix,
                    "--model",
                    backend,
                    "--model_args",
                    args,
                    "--tasks",
                    ",".join(names),
                ]
                if shots is not None:
                    command += ["--num_fewshot", str(shots)]
                if limit is not None:
                    command += ["--limit", str(limit)]
                command += ["--batch_size", batch]
                if backend == "hf" and prefix[0] == "lm_eval":
                    command += ["--device", "cuda:0"]
                if include_path:
                    command += ["--include_path", include_path]
                command += ["--output_path", out]
                lines.append(shlex.join(command))
    return lines
