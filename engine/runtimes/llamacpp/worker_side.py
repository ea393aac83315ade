"""What a llama.cpp model does in the worker process: load, reply, its lm-eval model. The
adapter imports this module only inside those calls: it is the one way from the runtime's
questions (asked by the UI too) to llama_cpp and lm-eval."""

from __future__ import annotations

from engine.runtimes.llamacpp.generate import stream_reply_llamacpp
from engine.runtimes.llamacpp.lm import LlamaCppLM
from engine.runtimes.llamacpp.load import load_llamacpp
from engine.runtimes.loaded import LoadedModel

__all__ = ["lm", "load_llamacpp", "stream_reply_llamacpp"]


def lm(loaded: LoadedModel) -> LlamaCppLM:
    return LlamaCppLM(loaded)  # one request at a time: batch_size does not apply
