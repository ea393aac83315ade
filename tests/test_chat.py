"""Streamed replies in-process with the tiny models: order, stats, controls, cancel."""

from __future__ import annotations

import dataclasses
import queue
import threading

import pytest

from engine.chat.stream import stream_reply
from engine.errors import UsageError
from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.runtimes.loading import load_model
from engine.runtimes.reply import Streamer
from engine.settings import Conversation, GenerationSettings, LoadOptions

GREEDY = GenerationSettings(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24)


@pytest.fixture(scope="module")
def llama(tiny_catalog):
    return load_model(LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)))


@pytest.fixture(scope="module")
def t5(tiny_catalog):
    return load_model(LoadOptions("tiny-t5", catalog_path=str(tiny_catalog)))


def ask(text: str = "Tell me about the sea.", system: str = "") -> Conversation:
    return Conversation(system=system).add("user", text)


def reply(loaded, settings=GREEDY, conversation=None, **kwargs):
    events = list(
        stream_reply(loaded, conversation or ask(), settings, cancel=threading.Event(), **kwargs)
    )
    text = "".join(e.text for e in events if isinstance(e, Chunk))
    return text, events


def test_stream_order_and_final_stats(llama):
    text, events = reply(llama, request_id=7)
    assert all(e.request_id == 7 for e in events)
    assert isinstance(events[-1], ReplyDone)
    assert all(isinstance(e, Chunk) for e in events[:-1]) and len(events) > 2
    stats = events[-1].stats
    assert stats.new_tokens == GREEDY.max_new_tokens and stats.stop_reason == "length"
    assert stats.prompt_tokens > 5
    assert 0 < stats.time_to_first_token_s < stats.total_s
    assert stats.tokens_per_s > 0
    assert stats.peak_memory_mb > 50
    assert text


def test_greedy_is_deterministic(llama):
    assert reply(llama)[0] == reply(llama)[0]


def test_seed_makes_sampling_reproducible(llama):
    settings = GenerationSettings(
        temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=20, repetition_penalty=1.0
    )
    first = reply(llama, settings.with_values(seed=1))[0]
    assert reply(llama, settings.with_values(seed=1))[0] == first
    assert reply(llama, settings.with_values(seed=2))[0] != first


def test_repetition_penalty_changes_the_output(llama):
    plain = reply(llama)[0]
    penalised = reply(llama, GREEDY.with_values(repetition_penalty=2.0))[0]
    assert plain != penalised


def test_no_repeat_ngram_changes_the_output(llama):
    assert reply(llama)[0] != reply(llama, GREEDY.with_values(no_repeat_ngram_size=1))[0]


def test_stop_string_ends_the_reply_before_it(llama):
    text = reply(llama, GREEDY.with_values(repetition_penalty=2.0))[0]
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    assert stop.strip()
    stopped, events = reply(llama, GREEDY.with_values(repetition_penalty=2.0, stop=(stop,)))
    assert stopped == text[: text.index(stop)]
    assert events[-1].stats.stop_reason == "stop-string"


class CountingFlag:
    """A cancel flag that turns on after it has been checked ``after`` times."""

    def __init__(self, after: int):
        self.after = after
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > self.after


def test_cancel_takes_effect_within_two_tokens(llama):
    flag = CountingFlag(after=5)
    events = list(stream_reply(llama, ask(), GREEDY.with_values(max_new_tokens=200), cancel=flag))
    assert isinstance(events[-1], Cancelled)
    stats = events[-1].stats
    assert stats.stop_reason == "cancelled"
    assert 5 <= stats.new_tokens <= 7


def test_cancel_from_another_thread_mid_reply(llama):
    cancel = threading.Event()
    seen = 0
    events = []
    for event in stream_reply(llama, ask(), GREEDY.with_values(max_new_tokens=2000), cancel=cancel):
        events.append(event)
        seen += isinstance(event, Chunk)
        if seen == 3:
            threading.Thread(target=cancel.set).start()
    assert isinstance(events[-1], Cancelled)
    assert events[-1].stats.new_tokens < 2000


def test_closing_the_stream_early_stops_generation(llama):
    # The cancel flag is read once per token: it counts the tokens generated.
    counted = CountingFlag(after=10**9)
    long = GREEDY.with_values(max_new_tokens=2000)
    stream = stream_reply(llama, ask(), long, cancel=counted)
    assert isinstance(next(stream), Chunk)
    stream.close()  # the consumer is gone: generation stops within a token or two
    assert counted.checks < 20, f"{counted.checks} tokens generated after close()"
    assert not [t for t in threading.enumerate() if t.name == "smollm-generate"]
    # Left alone, the same reply runs far longer: it is close() that stopped it.
    _, events = reply(llama, long.with_values(max_new_tokens=100))
    assert events[-1].stats.new_tokens == 100
    assert reply(llama)[0]  # and the model is free again


def test_context_trimming_reports_dropped_turns_first(llama):
    small = dataclasses.replace(llama, info=dataclasses.replace(llama.info, context_length=200))
    conv = Conversation(system="Be nice.")
    for i in range(8):
        conv = conv.add("user", f"question {i} " + "blah " * 20).add("assistant", "ok " * 5)
    conv = conv.add("user", "last question")
    text, events = reply(small, GREEDY.with_values(max_new_tokens=20), conv)
    assert isinstance(events[0], Trimmed) and events[0].dropped_turns > 0
    assert isinstance(events[-1], ReplyDone)
    assert events[-1].stats.dropped_turns == events[0].dropped_turns
    assert events[-1].stats.prompt_tokens <= 180


def test_max_new_tokens_larger_than_context_is_refused(llama):
    small = dataclasses.replace(llama, info=dataclasses.replace(llama.info, context_length=50))
    with pytest.raises(UsageError, match="max_new_tokens"):
        reply(small, GREEDY.with_values(max_new_tokens=60))


@pytest.mark.parametrize(
    "change, words",
    [
        ({"temperature": 3.0}, r"temperature must be in \[0.0, 2.0\]"),
        ({"top_p": 0.0}, r"top_p must be in \[0.01, 1.0\]"),
        ({"max_new_tokens": 0}, r"max_new_tokens must be in \[1, 4096\]"),
        ({"repetition_penalty": 0.5}, r"repetition_penalty must be in \[1.0, 2.0\]"),
    ],
)
def test_invalid_settings_name_their_range(llama, change, words):
    with pytest.raises(UsageError, match=words):
        reply(llama, dataclasses.replace(GREEDY, **change))


def test_raw_mode_continues_text(llama):
    text, events = reply(llama, conversation=ask("The sea is"), raw=True)
    assert events[-1].stats.prompt_tokens == 3
    assert text


def test_seq2seq_chat(t5):
    text, events = reply(t5, conversation=ask("Translate to German: hello", system="Be short"))
    assert isinstance(events[-1], ReplyDone)
    assert events[-1].stats.new_tokens == GREEDY.max_new_tokens
    assert text


@pytest.mark.parametrize("fmt", ["alpaca", "chatml", "plain"])
def test_each_format_generates(llama, fmt):
    tokenizer = llama.tokenizer
    saved = tokenizer.chat_template
    tokenizer.chat_template = None
    try:
        entry = dataclasses.replace(llama.entry, prompt_format=fmt)
        text, events = reply(dataclasses.replace(llama, entry=entry))
    finally:
        tokenizer.chat_template = saved
    assert isinstance(events[-1], ReplyDone)


def test_streamer_never_splits_a_character(llama):
    tokenizer = llama.tokenizer
    original = "héllo 🙂 世界 — naïve café ✓"
    ids = tokenizer(original, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(original.split())  # multi-byte characters span several tokens
    events: queue.Queue = queue.Queue()
    streamer = Streamer(tokenizer, events, (), 0, "cpu")
    streamer.skip_prompt = False
    import torch

    for token in ids:
        streamer.put(torch.tensor([token]))
    streamer.flush()
    chunks = [events.get_nowait().text for _ in range(events.qsize())]
    assert "".join(chunks) == original
    assert not any("\ufffd" in c for c in chunks)
