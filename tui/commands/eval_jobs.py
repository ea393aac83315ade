"""`eval --background`: the same validated run, queued as a background job (engine.jobs);
`eval --print-lm-eval`: the same run as lm_eval command lines for a GPU server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.errors import UsageError
from engine.models.consent import resolve_trust
from engine.records import EvalSpec
from engine.settings import LoadOptions
from tui.commands.common import catalog_from


def queue_background(args: argparse.Namespace, spec: EvalSpec, models: list[str]) -> int:
    """Queue ``models`` × ``spec`` and print the job's id; the runner starts if none runs."""
    from engine.evaluation.tasks import include_paths
    from engine.jobs import job_spec, submit

    if args.in_process:
        raise UsageError("--background runs models in worker processes: drop --in-process")
    catalog = catalog_from(args)
    for model_id in models:  # consent and settings are checked now, not in the night
        trust = resolve_trust(catalog.get(model_id), args.trust_remote_code)
        LoadOptions(
            model_id=model_id, precision=args.precision, device=args.device, trust_remote_code=trust
        ).validate()
    if spec.include_path:
        include_paths(spec.include_path)  # a missing folder is a usage error now
    job = submit(
        job_spec(
            models,
            spec,
            precision=args.precision,
            device=args.device,
            runtime=getattr(args, "runtime", "transformers"),
            force=args.force,
            catalog_path=getattr(args, "catalog", None),
        )
    )
    print(
        f"job {job.id} queued: {len(models)} model(s) × {len(spec.tasks)} task(s). "
        f"`smollm-tui jobs` lists jobs, `smollm-tui jobs wait {job.id}` waits for this one, "
        f"`smollm-tui jobs log {job.id} --follow` shows its output"
    )
    return 0


def print_lm_eval(args: argparse.Namespace, spec: EvalSpec, models: list[str]) -> int:
    """Print the lm_eval command lines for ``models`` × ``spec`` (runs nothing)."""
    from engine.evaluation.lm_eval_commands import lm_eval_commands

    catalog = catalog_from(args)
    folders = [
        str(Path(p.strip()).expanduser().resolve())
        for p in (spec.include_path or "").split(os.pathsep)
        if p.strip()
    ]
    lines = lm_eval_commands(
        [catalog.get(m) for m in models],
        spec.tasks,
        limit=spec.limit,
        fewshot=spec.num_fewshot,
        precision=args.precision,
        include_path=folders[0] if len(folders) == 1 else None,
        batch_size=spec.batch_size,
    )
    if len(folders) > 1:
        lines.insert(2, "# lm-eval takes one --include_path: put your task folders in one")
    print("\n".join(lines))
    return 0
