"""Tiny random models built at test time from configs (megabytes, load in a fraction of a second).

They use the real SmolLM2 tokenizer (taken from the bundled GGUF once) so prompts, chat
templates and decoding behave as with the real model. Built once into .cache/test-models
(ignored by git) and reused; a build goes to a temporary folder and is renamed into place,
so concurrent test runs never see half a model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SMOLLM_TEST_MODELS", REPO_ROOT / ".cache" / "test-models"))
VERSION = "v1"  # bump when a builder below changes


def _build_once(name: str, build) -> Path:
    final = CACHE / VERSION / name
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        build(work)
        os.rename(work, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def tokenizer_dir() -> Path:
    """The SmolLM2-135M-Instruct tokenizer (with its chat template), saved as files."""

    def build(out: Path) -> None:
        from transformers import AutoTokenizer

        from engine.catalog.bundled import gguf_path

        gguf = gguf_path()
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tok.save_pretrained(out)

    return _build_once("smollm2-tokenizer", build)


def tiny_llama_dir() -> Path:
    """A Llama-shaped model: hidden 64, 2 layers, SmolLM2 vocabulary, random weights."""

    def build(out: Path) -> None:
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tok = AutoTokenizer.from_pretrained(tokenizer_dir())
        config = LlamaConfig(
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            tie_word_embeddings=True,
        )
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(out)
        tok.save_pretrained(out)

    return _build_once("tiny-llama", build)


def tiny_t5_dir() -> Path:
    """A T5-shaped encoder-decoder: d_model 64, 2+2 layers, SmolLM2 vocabulary."""

    def build(out: Path) -> None:
        import torch
        from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

        tok = AutoTokenizer.from_pretrained(tokenizer_dir())
        tok.chat_template = None  # a T5 tokenizer has none: prompts use the t5 format
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        config = T5Config(
            vocab_size=len(tok),
            d_model=64,
            d_kv=16,
            d_ff=128,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            pad_token_id=pad,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=pad,
            n_positions=512,
        )
        torch.manual_seed(0)
        T5ForConditionalGeneration(config).save_pretrained(out)
        tok.save_pretrained(out)

    return _build_once("tiny-t5", build)


def overlay_text(models: dict[str, Path], *, kind: dict[str, str] | None = None) -> str:
    """A catalog overlay with `source = "local"` entries for the given model folders."""
    kind = kind or {}
    parts = []
    for model_id, path in models.items():
        k = kind.get(model_id, "causal")
        parts.append(f"""
[[model]]
id = "{model_id}"
name = "{model_id}"
family = "Test"
affiliation = "tests"
params = 3_300_000
released = "2026-01"
architecture = "{"t5" if k == "seq2seq" else "llama"}"
kind = "{k}"
context_length = {512 if k == "seq2seq" else 2048}
license = "apache-2.0"
prompt_format = "{"t5" if k == "seq2seq" else "chat-template"}"
trust_remote_code = false
tags = ["{"base" if k == "seq2seq" else "instruct"}"]
source = "local"
path = "{path}"
facts_from = ["tests/tiny_models.py"]
""")
    return "".join(parts)
