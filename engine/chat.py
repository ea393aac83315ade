"""Streamed replies: prompt building, generation with the user's settings, per-reply stats.

``stream_reply`` runs ``model.generate`` in a helper thread and yields protocol events
as text is decoded: Trimmed (first, if turns were dropped), Chunk..., then exactly one
of ReplyDone or Cancelled. Used in-process (tests, scripts) and by the worker.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from engine.background import iterate_in_thread
from engine.errors import UsageError
from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.loaded import LoadedModel
from engine.prompts import Prompt, build_prompt
from engine.records import ReplyStats
from engine.settings import Conversation, GenerationSettings
from engine.telemetry.process_peak import ProcessPeak
from engine.template_guard import TemplateStopped


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def stream_reply(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool = False,
    cancel: CancelFlag,
    request_id: int = 0,
) -> Iterator[Trimmed | Chunk | ReplyDone | Cancelled]:
    """Generate a reply to the last user turn, yielding events as text arrives.

    ``cancel`` (a threading or multiprocessing Event) is checked between tokens; the
    reply then ends with Cancelled carrying the stats so far. Raises UsageError for
    invalid settings, an empty message or a message that cannot fit the context.
    """
    settings.validate()
    if loaded.runtime == "llama.cpp":
        from engine.llamacpp.generate import stream_reply_llamacpp

        yield from stream_reply_llamacpp(
            loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
        )
        return
    import torch

    tokenizer = loaded.tokenizer
    prompt = reply_prompt(loaded, conversation, settings, raw=raw, cancel=cancel)
    if prompt is None:  # Esc while the chat template was rendering
        yield Cancelled(request_id)
        return
    if prompt.dropped_turns:
        yield Trimmed(request_id, prompt.dropped_turns)

    stops = tuple(dict.fromkeys(settings.stop + prompt.stops))
    events: queue.Queue = queue.Queue()
    streamer = _Streamer(tokenizer, events, stops, request_id, loaded.device)
    abort = threading.Event()
    criteria = _stopping_criteria(torch, cancel, abort, streamer)
    kwargs = _generate_kwargs(loaded, settings, prompt.input_ids, torch)
    memory = ProcessPeak(torch if loaded.device == "cuda" else None)
    streamer.memory = memory
    if settings.seed is not None:
        torch.manual_seed(settings.seed)
        if loaded.device == "cuda":
            torch.cuda.manual_seed_all(settings.seed)

    def run(put) -> None:  # the streamer puts the chunks into `events` itself
        loaded.model.generate(**kwargs, streamer=streamer, stopping_criteria=criteria)

    streamer.started = time.perf_counter()
    # A consumer that stops early (closed generator) sets `abort`: generation stops.
    yield from iterate_in_thread(run, name="smollm-generate", stop=abort, events=events)
    streamer.flush()
    yield from _drain(events)
    stats = streamer.stats(
        len(prompt.input_ids),
        memory.peak_mb(),
        prompt.dropped_turns,
        _eos_ids(loaded),
        settings.max_new_tokens,
        cancel.is_set(),
        runtime="transformers",
    )
    if stats.stop_reason == "cancelled":
        yield Cancelled(request_id, stats)
    else:
        yield ReplyDone(request_id, stats)


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


def _drain(events: queue.Queue) -> list[Any]:
    items: list[Any] = []
    while True:
        try:
            item = events.get_nowait()
        except queue.Empty:
            return items
        items.append(item)


def _generate_kwargs(
    loaded: LoadedModel, settings: GenerationSettings, ids: list[int], torch
) -> dict[str, Any]:
    tokenizer = loaded.tokenizer
    device = loaded.model.device
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    kwargs: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.temperature > 0,
        "repetition_penalty": settings.repetition_penalty,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    if settings.temperature > 0:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
    else:
        # Greedy: neutralise sampling defaults a model's generation_config may carry.
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs


def _eos_ids(loaded: LoadedModel) -> set[int]:
    ids: set[int] = set()
    for source in (loaded.model.generation_config, loaded.tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def _stopping_criteria(torch, cancel: CancelFlag, abort: threading.Event, streamer: _Streamer):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        """Checked after every token: user cancel, consumer gone, or a stop string seen."""

        def __call__(self, input_ids, scores, **kwargs):
            stop = cancel.is_set() or abort.is_set() or streamer.stopped
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_Stop()])


class _Streamer:
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
            end -= _held_back(text, self.stops)
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


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that starts some stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest
