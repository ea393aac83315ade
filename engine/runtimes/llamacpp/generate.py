"""Streamed replies on llama.cpp: the shared reply skeleton (engine.runtimes.reply: events, stop
strings, trimming, stats) fed from a token loop this module runs itself.

The loop is pulled by the consumer: every token is sampled only when the previous one
has been handed on, so a cancel (checked after each token) stops within one token and a
closed generator stops at once. Text goes out in chunks of about BATCH_S (the first at
once): a message per token cost a pickle, a pipe write and a wake-up of the reading
process per token, which on a 2-core machine competes with the decode itself; the cancel
check stays per token. The sampler chain mirrors transformers' order
(repetition penalty over the prompt and the reply, temperature, top-k, top-p); a reply
that starts like the previous prompt reuses its KV cache (follow-up turns are fast).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.runtimes.llamacpp import NAME, UNSUPPORTED
from engine.runtimes.loaded import LoadedModel
from engine.runtimes.reply import (
    CancelFlag,
    begin_reply,
    drain,
    final_event,
    refuse_unsupported,
)
from engine.settings import Conversation, GenerationSettings
from engine.telemetry.process_peak import ProcessPeak

# Text is sent at most this often (the first piece at once): about 3 tokens a message at
# 100 tok/s, and still 33 updates a second on the screen.
BATCH_S = 0.03


def stream_reply_llamacpp(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool,
    cancel: CancelFlag,
    request_id: int,
) -> Iterator[Trimmed | Chunk | ReplyDone | Cancelled]:
    """engine.chat.stream.stream_reply for a llama.cpp model (see there)."""
    refuse_unsupported(UNSUPPORTED, settings)
    import llama_cpp

    llama = loaded.model
    started = yield from begin_reply(
        loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
    )
    if started is None:
        return
    prompt, events, streamer = started
    streamer.skip_prompt = False
    # Process memory, read before and after: llama.cpp allocates its buffers at load and in
    # the prefill, not per token, and the kernel's high-water mark catches what happens
    # between, so a read per token would only add a system call to every token.
    memory = ProcessPeak(gpu_outside_torch=loaded.device == "cuda")
    vocab = llama._model.vocab
    eog: set[int] = set()
    sampler = _sampler(llama, llama_cpp, settings, prompt.input_ids)
    streamer.started = time.perf_counter()
    batch = _Batch(request_id)
    try:
        for token in _tokens(llama, prompt.input_ids, sampler, settings.max_new_tokens):
            streamer.put_ids([token])
            yield from batch.add(drain(events))
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                eog.add(token)
                break
            if streamer.stopped or cancel.is_set():
                break
    finally:
        sampler.close()
    streamer.flush()
    yield from batch.add(drain(events), final=True)
    stats = streamer.stats(
        len(prompt.input_ids),
        memory.peak_mb(),
        prompt.dropped_turns,
        eog,
        settings.max_new_tokens,
        cancel.is_set(),
        runtime=NAME,
    )
    yield final_event(request_id, stats)


class _Batch:
    """Chunks joined until BATCH_S has passed since the last one went out."""

    def __init__(self, request_id: int):
        self.request_id = request_id
        self.pending: list[str] = []
        self.sent_at: float | None = None  # None: nothing sent yet, the first goes at once

    def add(self, events: list, final: bool = False) -> list:
        out = []
        for event in events:
            if isinstance(event, Chunk):
                self.pending.append(event.text)
            else:  # anything else keeps its place after the text before it
                out += self._flush()
                out.append(event)
        now = time.perf_counter()
        if final or self.sent_at is None or now - self.sent_at >= BATCH_S:
            out += self._flush()
        return out

    def _flush(self) -> list[Chunk]:
        if not self.pending:
            return []
        text, self.pending = "".join(self.pending), []
        self.sent_at = time.perf_counter()
        return [Chunk(self.request_id, text)]


def _tokens(llama, prompt: list[int], sampler, max_new: int) -> Iterator[int]:
    """Evaluate the prompt, then sample and evaluate one token at a time, lazily."""
    _prefill(llama, prompt)
    for produced in range(1, max_new + 1):
        token = sampler.sample(llama._ctx, -1)  # also feeds the token to the penalties
        yield token
        if produced < max_new:
            llama.eval([token])


def _prefill(llama, prompt: list[int]) -> None:
    """Evaluate ``prompt``, keeping the cached part it shares with what was evaluated last.
    At least its last token is evaluated again: sampling needs fresh logits. The same
    prompt again (regenerate) is evaluated afresh: its last token evaluated alone over the
    cache gives logits a little off those of the first, whole-prompt evaluation, and a
    greedy reply could differ from the first one."""
    cached = llama.input_ids[: llama.n_tokens].tolist()
    common = 0
    for old, new in zip(cached, prompt, strict=False):
        if old != new:
            break
        common += 1
    if 0 < common < len(prompt) and llama._ctx.kv_cache_seq_rm(-1, common, -1):
        llama.n_tokens = common
    else:
        llama.reset()
    llama.eval(prompt[llama.n_tokens :])


def _sampler(llama, llama_cpp, settings: GenerationSettings, prompt: list[int]):
    """The sampler chain for ``settings``, in transformers' order."""
    from llama_cpp import _internals

    chain = _internals.LlamaSampler()
    if settings.repetition_penalty != 1.0:
        # Over the whole context, prompt included, as transformers applies it.
        chain.add_penalties(
            n_vocab=llama.n_vocab(),
            penalty_last_n=llama.n_ctx(),
            penalty_repeat=settings.repetition_penalty,
            penalty_freq=0.0,
            penalty_present=0.0,
        )
        for token in prompt:
            llama_cpp.llama_sampler_accept(chain.sampler, token)
    if settings.temperature == 0:
        chain.add_greedy()
        return chain
    chain.add_temp(settings.temperature)
    if settings.top_k > 0:
        chain.add_top_k(settings.top_k)
    if settings.top_p < 1.0:
        chain.add_top_p(settings.top_p, 1)
    seed = settings.seed if settings.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED
    chain.add_dist(seed)
    return chain
