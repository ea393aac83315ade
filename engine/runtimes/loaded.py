"""A model in memory, ready to generate or be evaluated (inside the worker, or in-process).

The same shape for every runtime: ``runtime`` names the one that loaded it (which library
``model`` and ``tokenizer`` come from); code that needs the library's own object (a
reply, an evaluation) asks that runtime (engine.runtimes.runtime_named).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.records import LoadInfo


@dataclass
class LoadedModel:
    entry: ModelEntry
    # transformers: a PreTrainedModel (causal LM or seq2seq); llama.cpp: a llama_cpp.Llama
    model: Any
    # transformers: its tokenizer; llama.cpp: engine.runtimes.llamacpp.tokenizer.GGUFTokenizer
    tokenizer: Any
    info: LoadInfo
    runtime: str = "transformers"  # transformers | llama.cpp

    @property
    def device(self) -> str:
        return self.info.device

    @property
    def is_seq2seq(self) -> bool:
        return self.info.kind == "seq2seq"
