"""What a transformers model does in the worker process: load, reply, its lm-eval model,
its peak meter. The adapter imports this module only inside those calls: it is the one
way from the runtime's questions (asked by the UI too) to torch."""

from __future__ import annotations

from typing import Any

from engine.runtimes.loaded import LoadedModel
from engine.runtimes.transformers.generate import stream_reply_transformers
from engine.runtimes.transformers.load import load_transformers
from engine.telemetry.process_peak import ProcessPeak

__all__ = ["lm", "load_transformers", "peak_meter", "stream_reply_transformers"]


def lm(loaded: LoadedModel, batch_size: int | str) -> Any:
    from lm_eval.models.huggingface import HFLM

    return HFLM(
        pretrained=loaded.model,
        tokenizer=loaded.tokenizer,
        backend="seq2seq" if loaded.is_seq2seq else "causal",
        batch_size=batch_size,
    )


def peak_meter(torch_cuda: bool) -> ProcessPeak:
    if torch_cuda:
        import torch

        return ProcessPeak(torch)
    return ProcessPeak()
