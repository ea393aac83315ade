"""The GGUF file's own tokenizer and chat template, behind the small part of the
transformers tokenizer interface that prompt building and streaming use, so trimming
counts the model's real tokens and the chat template is the one the file carries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


class GGUFTokenizer:
    """Wraps a llama_cpp.Llama: encode, decode, chat template (from GGUF metadata)."""

    def __init__(self, llama: Any, chat_template: str | None):
        self.llama = llama
        self.chat_template = chat_template or None
        self.bos_token_id = _token_or_none(llama.token_bos())
        self.eos_token_id = _token_or_none(llama.token_eos())
        self.pad_token_id = self.eos_token_id
        self.bos_token = self._piece(self.bos_token_id)
        self.eos_token = self._piece(self.eos_token_id)
        self._template: Any = None  # a jinja2 Template, compiled on first use

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        # special=True: control tokens written in the text (<|im_start|>) are parsed as
        # such, as transformers tokenizers do; add_bos follows the file's own setting.
        ids = self.llama.tokenize(text.encode("utf-8"), add_bos=add_special_tokens, special=True)
        return {"input_ids": list(ids)}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        data = self.llama.detokenize(list(ids), special=not skip_special_tokens)
        return data.decode("utf-8", errors="replace")

    def apply_chat_template(
        self,
        messages: list[dict[str, str]],
        tokenize: bool = False,
        add_generation_prompt: bool = True,
    ) -> str:
        """Render the GGUF file's Jinja chat template, sandboxed as transformers does."""
        if self.chat_template is None:
            raise ValueError("this GGUF file carries no chat template")
        if tokenize:
            raise ValueError("tokenize=True is not supported here")
        if self._template is None:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals["raise_exception"] = _raise
            env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
            self._template = env.from_string(self.chat_template)
        return self._template.render(
            messages=messages,
            bos_token=self.bos_token or "",
            eos_token=self.eos_token or "",
            add_generation_prompt=add_generation_prompt,
        )

    def _piece(self, token: int | None) -> str | None:
        if token is None:
            return None
        return self.llama.detokenize([token], special=True).decode("utf-8", errors="replace")


def _token_or_none(token: int) -> int | None:
    return token if isinstance(token, int) and token >= 0 else None


def _raise(message: str) -> None:
    from jinja2.exceptions import TemplateError

    raise TemplateError(message)
