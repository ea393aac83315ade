"""Turn a conversation into model input: chat template, a fixed format, or raw text.

The tokenizer's own chat template wins when it has one; otherwise the catalog entry's
prompt_format decides (alpaca, chatml, plain "User:/Assistant:", t5). Raw mode sends the
last user text as-is, for base models that continue text. Conversations too long for the
context lose their oldest turns (never the system prompt, never the new message).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UsageError
from engine.runtimes.template_guard import CancelFlag, limited_render
from engine.settings import Conversation

ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. Write a response that "
    "appropriately completes the request."
)

# Text a base model writes when it starts the next turn itself: stop there.
FORMAT_STOPS: dict[str, tuple[str, ...]] = {
    "plain": ("\nUser:",),
    "alpaca": ("### Instruction:",),
    "chatml": ("<|im_end|>", "<|im_start|>"),
    "t5": (),
}


class PromptTooLong(UsageError):
    """Even the new message alone does not fit the context."""


@dataclass(frozen=True)
class Prompt:
    text: str
    input_ids: list[int]
    dropped_turns: int
    format: str  # chat-template | alpaca | chatml | plain | t5 | raw
    stops: tuple[str, ...]  # stop strings implied by the format


def prompt_format(tokenizer, entry_format: str, is_seq2seq: bool) -> str:
    """Which format a model gets: its tokenizer's chat template when present."""
    if is_seq2seq:
        return "t5" if entry_format in ("t5", "chat-template") else entry_format
    if getattr(tokenizer, "chat_template", None):
        return "chat-template"
    return "chatml" if entry_format == "chat-template" else entry_format


def render(
    conversation: Conversation, fmt: str, tokenizer=None, cancel: CancelFlag | None = None
) -> str:
    """The prompt text of a conversation in format ``fmt`` (ends where the reply starts).
    A chat template (the model file's own program) renders within limits of time and
    memory, and stops when ``cancel`` is set (engine.runtimes.template_guard)."""
    turns = conversation.turns
    system = conversation.system.strip()
    if fmt == "chat-template":
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": t.role, "content": t.content} for t in turns]
        return limited_render(
            lambda: tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            ),
            cancel=cancel,
            input_chars=sum(len(m["content"]) for m in messages),
        )
    if fmt == "chatml":
        parts = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
        parts += [f"<|im_start|>{t.role}\n{t.content}<|im_end|>\n" for t in turns]
        return "".join(parts) + "<|im_start|>assistant\n"
    if fmt == "alpaca":
        parts = [f"{system or ALPACA_PREAMBLE}\n\n"]
        for turn in turns:
            if turn.role == "user":
                parts.append(f"### Instruction:\n{turn.content}\n\n### Response:\n")
            else:
                parts.append(f"{turn.content}\n\n")
        return "".join(parts)
    if fmt == "plain":
        parts = [f"{system}\n\n"] if system else []
        for turn in turns:
            speaker = "User" if turn.role == "user" else "Assistant"
            parts.append(f"{speaker}: {turn.content}\n")
        return "".join(parts) + "Assistant:"
    if fmt == "t5":
        # An encoder-decoder reads the whole request; earlier turns become context lines.
        *history, last = turns
        lines = [system] if system else []
        lines += [f"{'User' if t.role == 'user' else 'Assistant'}: {t.content}" for t in history]
        lines.append(last.content)
        return "\n".join(lines)
    raise UsageError(f"unknown prompt format '{fmt}'")


def build_prompt(
    tokenizer,
    conversation: Conversation,
    *,
    entry_format: str,
    is_seq2seq: bool,
    max_prompt_tokens: int,
    raw: bool = False,
    cancel: CancelFlag | None = None,
) -> Prompt:
    """Render and tokenize, dropping the oldest turns until the prompt fits.

    Raises UsageError for an empty message and PromptTooLong when the new message alone
    exceeds ``max_prompt_tokens``.
    """
    turns = conversation.turns
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise UsageError("the prompt is empty: type a message first")
    # A cheap bound first: a token is rarely longer than 32 characters, so a message this
    # long can never fit and is refused without tokenizing megabytes of text.
    if len(turns[-1].content) > 32 * max_prompt_tokens:
        raise PromptTooLong(_too_long(None, max_prompt_tokens))
    if raw:
        text = turns[-1].content
        ids = _encode(tokenizer, text, special=True)
        _check_fits(len(ids), max_prompt_tokens)
        return Prompt(text, ids, 0, "raw", ())
    fmt = prompt_format(tokenizer, entry_format, is_seq2seq)
    dropped = 0
    while True:
        kept = turns[dropped:]
        text = render(Conversation(conversation.system, kept), fmt, tokenizer, cancel)
        ids = _encode(tokenizer, text, special=fmt != "chat-template")
        if len(ids) <= max_prompt_tokens or len(kept) == 1:
            break
        dropped += 1
        # Start again at a user turn so the history still alternates.
        while dropped < len(turns) - 1 and turns[dropped].role != "user":
            dropped += 1
    _check_fits(len(ids), max_prompt_tokens)
    return Prompt(text, ids, dropped, fmt, FORMAT_STOPS.get(fmt, ()))


def _encode(tokenizer, text: str, *, special: bool) -> list[int]:
    # A chat template already wrote its special tokens; the formats need the tokenizer's
    # own (a BOS for models that want one).
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def _check_fits(count: int, limit: int) -> None:
    if count > limit:
        raise PromptTooLong(_too_long(count, limit))


def _too_long(count: int | None, limit: int) -> str:
    size = f"{count} tokens" if count is not None else "far more tokens than fit"
    return (
        f"the message is too long for this model ({size}; the context leaves room for "
        f"{limit} prompt tokens after max new tokens): shorten it or lower max new tokens"
    )
