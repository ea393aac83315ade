"""Streamed replies on transformers: ``model.generate`` in a helper thread, its tokens fed
to the shared reply skeleton (engine.runtimes.reply), which yields the protocol events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from engine.background import iterate_in_thread
from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.runtimes.loaded import LoadedModel
from engine.runtimes.reply import (
    CancelFlag,
    Streamer,
    begin_reply,
    drain,
    final_event,
)
from engine.runtimes.transformers import NAME
from engine.settings import Conversation, GenerationSettings
from engine.telemetry.process_peak import ProcessPeak


def stream_reply_transformers(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool,
    cancel: CancelFlag,
    request_id: int,
) -> Iterator[Trimmed | Chunk | ReplyDone | Cancelled]:
    """engine.chat.stream.stream_reply for a transformers model (see there)."""
    import torch

    started = yield from begin_reply(
        loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
    )
    if started is None:
        return
    prompt, events, streamer = started
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
    yield from drain(events)
    stats = streamer.stats(
        len(prompt.input_ids),
        memory.peak_mb(),
        prompt.dropped_turns,
        _eos_ids(loaded),
        settings.max_new_tokens,
        cancel.is_set(),
        runtime=NAME,
    )
    yield final_event(request_id, stats)


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


def _stopping_criteria(torch, cancel: CancelFlag, abort: threading.Event, streamer: Streamer):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        """Checked after every token: user cancel, consumer gone, or a stop string seen."""

        def __call__(self, input_ids, scores, **kwargs):
            stop = cancel.is_set() or abort.is_set() or streamer.stopped
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_Stop()])
