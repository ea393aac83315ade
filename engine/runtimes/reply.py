"""The skeleton of a streamed reply that every runtime shares: the prompt within the
context, the stop strings, the text decoded and held back at a possible stop, the stats
and the one final event. Each runtime (engine.runtimes) feeds it token ids from its own
generation loop. No model library is imported here."""

from __future__ import annotations

import queue
import time
from collections.abc import Generator, Mapping
from typing import Any

from engine.errors import UsageError
from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.records import ReplyStats
from engine.runtimes.loaded import LoadedModel
from engine.runtimes.prompts import Prompt, build_prompt
from engine.runtimes.template_guard import CancelFlag, TemplateStopped
from engine.settings import Conversation, GenerationSettings
from engine.telemetry.process_peak import ProcessPeak

__all__ = [
    "CancelFlag",
    "Streamer",
    "context_room",
    "drain",
    "final_event",
    "refuse_unsupported",
    "reply_prompt",
    "reply_stops",
    "unsupported_settings",
]


def reply_prompt(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool,
    cancel: CancelFlag,
) -> Prompt | None:
    """The prompt of a reply, within the context the reply leaves (both runtimes); None
    when Esc stopped the chat template's render."""
    seq2seq = loaded.is_seq2seq
    room = context_room(loaded.info.context_length, settings.max_new_tokens, seq2seq=seq2seq)
    try:
        return build_prompt(
            loaded.tokenizer,
            conversation,
            entry_format=loaded.entry.prompt_format,
            is_seq2seq=seq2seq,
            max_prompt_tokens=room,
            raw=raw,
            cancel=cancel,
        )
    except TemplateStopped:
        return None


def context_room(context: int, max_new_tokens: int, *, seq2seq: bool) -> int:
    """Prompt tokens the context leaves after the reply; UsageError when there are none."""
    # An encoder-decoder reads the prompt in its encoder: the reply does not share it.
    room = context if seq2seq else context - max_new_tokens
    if room < 1:
        raise UsageError(
            f"max_new_tokens ({max_new_tokens}) leaves no room for the "
            f"prompt in this model's context of {context} tokens; lower it"
        )
    return room


def unsupported_settings(missing: Mapping[str, str], settings: GenerationSettings) -> list[str]:
    """Why each control set to a non-default value cannot work on a runtime that lacks
    ``missing`` (control -> why)."""
    defaults = GenerationSettings()
    return [
        f"{name} {getattr(settings, name)}: {why}"
        for name, why in missing.items()
        if getattr(settings, name) != getattr(defaults, name)
    ]


def refuse_unsupported(missing: Mapping[str, str], settings: GenerationSettings) -> None:
    """Refuse, never silently ignore, a control the runtime does not have."""
    problems = unsupported_settings(missing, settings)
    if problems:
        raise UsageError(
            f"{'; '.join(problems)}: leave it at its default (0) or use the transformers runtime"
        )


def reply_stops(settings: GenerationSettings, prompt: Prompt) -> tuple[str, ...]:
    """The user's stop strings, then the prompt format's, each once."""
    return tuple(dict.fromkeys(settings.stop + prompt.stops))


def final_event(request_id: int, stats: ReplyStats) -> ReplyDone | Cancelled:
    """The one event that ends a reply: Cancelled when Esc stopped it, else ReplyDone."""
    if stats.stop_reason == "cancelled":
        return Cancelled(request_id, stats)
    return ReplyDone(request_id, stats)


def drain(events: queue.Queue) -> list[Any]:
    """Everything queued so far, without waiting."""
    items: list[Any] = []
    while True:
        try:
            item = events.get_nowait()
        except queue.Empty:
            return items
        items.append(item)


class Streamer:
    """Receives token ids from generate (in its thread) and queues decoded text.

    Incremental decoding compares the text of a short window with and without the new
    tokens (the prefix-offset method), so a character split over several byte tokens is
    only emitted once complete. Text that could be the start of a stop string is held
    back until it is clear that it is not.
    """

    def __init__(
        self, tokenizer, events: queue.Queue, stops: tuple[str, ...], request_id: int, device: str
    ):
        self.tokenizer = tokenizer
        self.events = events
        self.stops = stops
        self.request_id = request_id
        self.skip_prompt = True
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0
        self.text = ""
        self.emitted = 0
        self.stopped = False  # a stop string was seen
        self.started = 0.0
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.memory: ProcessPeak | None = None

    def put(self, value) -> None:
        if self.skip_prompt:  # the first call carries the prompt (or decoder start token)
            self.skip_prompt = False
            return
        self.put_ids(value.reshape(-1).tolist())

    def put_ids(self, ids: list[int]) -> None:
        """New token ids (from any runtime): timed, decoded, queued as text."""
        if self.stopped:
            return
        now = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        self.ids.extend(int(i) for i in ids)
        if self.memory is not None:
            self.memory.sample()
        self._decode()

    def end(self) -> None:
        pass  # flush() runs in the consumer after the thread is joined

    def _decode(self) -> None:
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix : self.read], skip_special_tokens=True)
        after = decode(self.ids[self.prefix :], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self.prefix, self.read = self.read, len(self.ids)
            self._emit(final=False)

    def flush(self) -> None:
        """After generation: whatever is left (an incomplete character is dropped)."""
        if not self.stopped:
            rest = self.tokenizer.decode(self.ids[self.prefix :], skip_special_tokens=True)
            done = self.tokenizer.decode(
                self.ids[self.prefix : self.read], skip_special_tokens=True
            )
            tail = rest[len(done) :].rstrip("\ufffd")
            self.text += tail
            self._emit(final=True)

    def _emit(self, *, final: bool) -> None:
        text = self.text
        end = len(text)
        search_from = max(0, self.emitted - max((len(s) for s in self.stops), default=0))
        hits = [i for i in (text.find(s, search_from) for s in self.stops) if i >= 0]
        if hits:
            end = min(hits)
            self.stopped = True
        elif not final:
            end -= held_back(text, self.stops)
        if end > self.emitted:
            self.events.put(Chunk(self.request_id, text[self.emitted : end]))
            self.emitted = end

    def stats(
        self,
        prompt_tokens: int,
        peak_mb: float | None,
        dropped: int,
        eos: set[int],
        max_new: int,
        cancelled: bool,
        runtime: str | None = None,
    ) -> ReplyStats:
        now = time.perf_counter()
        count = len(self.ids)
        first, last = self.first_token_at, self.last_token_at
        ttft = first - self.started if first else None
        if count > 1 and first and last is not None and last > first:
            rate = (count - 1) / (last - first)
        else:
            rate = count / max(now - self.started, 1e-9)
        if self.stopped:
            reason = "stop-string"
        elif count and self.ids[-1] in eos:
            reason = "eos"
        elif count >= max_new:
            reason = "length"
        elif cancelled:
            reason = "cancelled"
        else:
            reason = "eos"
        return ReplyStats(
            prompt_tokens=prompt_tokens,
            new_tokens=count,
            time_to_first_token_s=ttft,
            tokens_per_s=rate,
            total_s=now - self.started,
            stop_reason=reason,
            peak_memory_mb=peak_mb,
            dropped_turns=dropped,
            runtime=runtime,
        )


def begin_reply(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool,
    cancel: CancelFlag,
    request_id: int,
) -> Generator[Cancelled | Trimmed, None, tuple[Prompt, queue.Queue, Streamer] | None]:
    """The start both runtimes' replies share: the prompt within the context (Cancelled
    when Esc stopped its render, Trimmed when turns were dropped), then the streamer and
    the queue it fills. ``started = yield from begin_reply(...)``; None when cancelled."""
    prompt = reply_prompt(loaded, conversation, settings, raw=raw, cancel=cancel)
    if prompt is None:  # Esc while the chat template was rendering
        yield Cancelled(request_id)
        return None
    if prompt.dropped_turns:
        yield Trimmed(request_id, prompt.dropped_turns)
    events: queue.Queue = queue.Queue()
    stops = reply_stops(settings, prompt)
    return prompt, events, Streamer(loaded.tokenizer, events, stops, request_id, loaded.device)


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that starts some stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest
