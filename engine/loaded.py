"""A model in memory, ready to generate or be evaluated (inside the worker, or in-process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog import ModelEntry
from engine.worker.protocol import LoadInfo


@dataclass
class LoadedModel:
    entry: ModelEntry
    model: Any  # a transformers PreTrainedModel (causal LM or seq2seq)
    tokenizer: Any  # its tokenizer
    info: LoadInfo

    @property
    def device(self) -> str:
        return self.info.device

    @property
    def is_seq2seq(self) -> bool:
        return self.info.kind == "seq2seq"
