"""The llama.cpp runtime in-process on the real bundled GGUF file (Q4_1, loads in well
under a second): the same events, stop rules, controls and trimming as transformers."""

from __future__ import annotations

import dataclasses
import queue
import threading

import pytest
from llama_support import BUNDLED, require_llama_cpp

require_llama_cpp()

from engine.catalog.entries import load_catalog  # noqa: E402
from engine.chat.stream import stream_reply  # noqa: E402
from engine.errors import UsageError  # noqa: E402
from engine.gguf_files import NoGGUFFile, choose_file  # noqa: E402
from engine.runtimes.choice import resolve_runtime  # noqa: E402
from engine.runtimes.loading import load_model  # noqa: E402
from engine.runtimes.reply import Streamer  # noqa: E402
from engine.settings import Conversation, GenerationSettings, LoadOptions  # noqa: E402
from engine.worker.protocol import Cancelled, Chunk, ReplyDone, Trimmed  # noqa: E402

GREEDY = GenerationSettings(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24)
FRANCE = "What is the capital of France? Answer in one sentence."


@pytest.fixture(scope="module")
def model():
    return load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))


def ask(text: str = "Tell me about the sea.", system: str = "") -> Conversation:
    return Conversation(system=system).add("user", text)


def reply(loaded, settings=GREEDY, conversation=None, **kwargs):
    events = list(
        stream_reply(loaded, conversation or ask(), settings, cancel=threading.Event(), **kwargs)
    )
    text = "".join(e.text for e in events if isinstance(e, Chunk))
    return text, events


def test_the_bundled_file_loads_as_is_and_says_so(model):
    info = model.info
    assert (info.runtime, info.dtype, info.precision) == ("llama.cpp", "Q4_1", "Q4_1")
    assert info.params == load_catalog().get(BUNDLED).params
    assert info.context_length == 4096 and info.has_chat_template  # the working context
    assert info.device == "cpu" and info.quantization is None
    assert 60 < info.size_mb < 120  # the 4-bit weights, not a dequantized copy


def test_the_kv_cache_is_allocated_for_the_working_context_not_the_trained_one():
    from engine import preferences

    preferences.save_settings({"working_context": 2048})
    loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))
    # What the chat screen shows, what the fit estimate assumes, and what llama.cpp holds.
    assert loaded.info.context_length == 2048 == loaded.model.n_ctx()
    preferences.save_settings({"working_context": 16384})  # longer than SmolLM2's 8192
    loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))
    assert loaded.info.context_length == 8192 == loaded.model.n_ctx()


def test_auto_is_llamacpp_for_gguf_weights_and_transformers_otherwise(tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    assert resolve_runtime(catalog.get(BUNDLED), "auto") == "llama.cpp"
    assert resolve_runtime(catalog.get("tiny-llama"), "auto") == "transformers"
    with pytest.raises(NoGGUFFile, match="tiny-llama has no GGUF file"):
        resolve_runtime(catalog.get("tiny-llama"), "llama.cpp")
    with pytest.raises(UsageError, match="encoder-decoder"):
        resolve_runtime(catalog.get("tiny-t5"), "llama.cpp")
    # auto with a precision only transformers has for it: the bundled Q4_1 model at fp32
    # or 8-bit (bitsandbytes) runs on transformers, not as an error on llama.cpp
    assert resolve_runtime(catalog.get(BUNDLED), "auto", "fp32") == "transformers"
    assert resolve_runtime(catalog.get(BUNDLED), "auto", "int8") == "transformers"
    assert resolve_runtime(catalog.get(BUNDLED), "auto", "int4") == "llama.cpp"  # Q4_1


def test_precision_is_the_files_quant_type():
    entry = load_catalog().get(BUNDLED)
    assert choose_file(entry, "auto").quant == "Q4_1"
    assert choose_file(entry, "int4").quant == "Q4_1"  # the nearest 4-bit file there is
    with pytest.raises(NoGGUFFile, match=r"no int8 GGUF file.*on disk: Q4_1"):
        choose_file(entry, "int8")
    with pytest.raises(NoGGUFFile, match="no fp32 GGUF file"):
        load_model(LoadOptions(BUNDLED, precision="fp32", runtime="llama.cpp"))


def test_greedy_answer_streams_then_one_final_event(model):
    text, events = reply(model, GREEDY.with_values(max_new_tokens=40), ask(FRANCE), request_id=9)
    assert text == "The capital of France is Paris."
    assert all(e.request_id == 9 for e in events)
    assert isinstance(events[-1], ReplyDone)
    assert all(isinstance(e, Chunk) for e in events[:-1]) and len(events) > 3
    stats = events[-1].stats
    assert stats.stop_reason == "eos" and stats.runtime == "llama.cpp"
    assert stats.new_tokens == 8  # seven pieces of text and the end-of-turn token
    assert stats.prompt_tokens > 20
    assert 0 < stats.time_to_first_token_s < stats.total_s and stats.tokens_per_s > 0
    assert stats.peak_memory_mb > 50


def test_a_reply_sharing_the_cached_prefix_is_the_same_as_a_fresh_one(model):
    first = reply(model)[0]
    assert reply(model)[0] == first  # regenerate: the whole prompt is in the cache
    other = reply(model, conversation=ask("Name three colours."))[0]
    assert other != first
    assert reply(model)[0] == first  # after the KV cache held another conversation
    longer = ask().add("assistant", first).add("user", "And the mountains?")
    assert reply(model, conversation=longer)[0]


def test_seed_makes_sampling_reproducible(model):
    settings = GenerationSettings(
        temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=20, repetition_penalty=1.0
    )
    first = reply(model, settings.with_values(seed=1))[0]
    assert reply(model, settings.with_values(seed=1))[0] == first
    assert reply(model, settings.with_values(seed=2))[0] != first


def test_top_k_one_is_greedy_whatever_the_temperature(model):
    sampled = GenerationSettings(
        temperature=1.5, top_p=1.0, top_k=1, max_new_tokens=24, repetition_penalty=1.0, seed=3
    )
    assert reply(model, sampled)[0] == reply(model)[0]


def test_repetition_penalty_and_top_p_change_the_output(model):
    plain = reply(model, GREEDY.with_values(max_new_tokens=60))[0]
    assert reply(model, GREEDY.with_values(max_new_tokens=60, repetition_penalty=2.0))[0] != plain
    warm = GenerationSettings(
        temperature=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=30, seed=5
    )
    assert reply(model, warm.with_values(top_p=0.05))[0] != reply(model, warm)[0]


def test_repetition_penalty_covers_the_prompt_as_in_transformers(model):
    echo = ask("Paris, Paris, Paris, Paris, Paris,")
    short = GREEDY.with_values(max_new_tokens=4)
    assert reply(model, short, echo, raw=True)[0].startswith(" Paris")
    # The very first token is already penalised: the prompt's tokens count.
    assert not reply(model, short.with_values(repetition_penalty=1.5), echo, raw=True)[
        0
    ].startswith(" Paris")


def test_no_repeat_ngram_is_refused_not_ignored(model):
    with pytest.raises(
        UsageError, match="no_repeat_ngram_size 3: llama.cpp has no no-repeat n-gram control"
    ):
        reply(model, GREEDY.with_values(no_repeat_ngram_size=3))


def test_stop_string_ends_the_reply_before_it(model):
    text = reply(model, GREEDY.with_values(max_new_tokens=40))[0]
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    assert stop.strip()
    stopped, events = reply(model, GREEDY.with_values(max_new_tokens=40, stop=(stop,)))
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


def test_cancel_takes_effect_within_two_tokens(model):
    flag = CountingFlag(after=5)
    events = list(
        stream_reply(
            model,
            ask("Write a long story about the sea."),
            GREEDY.with_values(max_new_tokens=200),
            cancel=flag,
        )
    )
    assert isinstance(events[-1], Cancelled)
    stats = events[-1].stats
    assert stats.stop_reason == "cancelled" and stats.runtime == "llama.cpp"
    assert 5 <= stats.new_tokens <= 7


def test_closing_the_stream_early_stops_and_frees_the_model(model):
    stream = stream_reply(
        model, ask(), GREEDY.with_values(max_new_tokens=2000), cancel=threading.Event()
    )
    assert isinstance(next(stream), Chunk)
    stream.close()
    assert reply(model)[0]


def test_context_trimming_counts_the_models_own_tokens(model):
    small = dataclasses.replace(model, info=dataclasses.replace(model.info, context_length=200))
    conv = Conversation(system="Be nice.")
    for i in range(8):
        conv = conv.add("user", f"question {i} " + "blah " * 20).add("assistant", "ok " * 5)
    conv = conv.add("user", "last question")
    text, events = reply(small, GREEDY.with_values(max_new_tokens=20), conv)
    assert isinstance(events[0], Trimmed) and events[0].dropped_turns > 0
    assert isinstance(events[-1], ReplyDone)
    assert events[-1].stats.dropped_turns == events[0].dropped_turns
    assert events[-1].stats.prompt_tokens <= 180
    # What was counted is what llama.cpp was given: the kept turns in the file's template.
    kept = Conversation(conv.system, conv.turns[events[0].dropped_turns :])
    rendered = model.tokenizer.apply_chat_template(
        [{"role": "system", "content": kept.system}]
        + [{"role": t.role, "content": t.content} for t in kept.turns]
    )
    assert (
        len(model.tokenizer(rendered, add_special_tokens=False)["input_ids"])
        == events[-1].stats.prompt_tokens
    )


def test_max_new_tokens_larger_than_context_is_refused(model):
    small = dataclasses.replace(model, info=dataclasses.replace(model.info, context_length=50))
    with pytest.raises(UsageError, match="max_new_tokens"):
        reply(small, GREEDY.with_values(max_new_tokens=60))


def test_chat_template_comes_from_the_gguf_file(model):
    text = model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert "<|im_start|>system" in text  # SmolLM2's template adds its default system turn


def test_raw_mode_continues_the_text(model):
    text, events = reply(model, conversation=ask("The capital of France is"), raw=True)
    assert events[-1].stats.prompt_tokens == 5
    assert "Paris" in text


def test_streamer_never_splits_a_character(model):
    tokenizer = model.tokenizer
    original = "héllo 🙂 世界 — naïve café ✓"
    ids = tokenizer(original, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(original.split())
    assert tokenizer.decode(ids) == original
    events: queue.Queue = queue.Queue()
    streamer = Streamer(tokenizer, events, (), 0, "cpu")
    streamer.skip_prompt = False
    for token in ids:
        streamer.put_ids([token])
    streamer.flush()
    chunks = [events.get_nowait().text for _ in range(events.qsize())]
    assert "".join(chunks) == original
    assert not any("\ufffd" in c for c in chunks)


@pytest.mark.parametrize("what", ["gptj", "header only", "cut short"])
def test_files_llamacpp_cannot_run_get_one_message(tmp_path, what):
    from test_gguf_files import write_gguf

    from engine.catalog.bundled import gguf_path
    from engine.runtimes.llamacpp.load import load_llamacpp
    from engine.runtimes.loading import resolve_load

    if what == "cut short":
        path = tmp_path / "cut.gguf"
        with open(gguf_path(), "rb") as whole:
            path.write_bytes(whole.read(20 * 2**20))
    else:
        arch = "gptj" if what == "gptj" else "llama"
        path = write_gguf(
            tmp_path / f"{arch}.gguf", {"general.architecture": arch, "general.file_type": 7}
        )
    entry = dataclasses.replace(load_catalog().get(BUNDLED), source="local", path=str(path))
    expected = "cannot run GPT-J models" if what == "gptj" else "could not load"
    with pytest.raises(UsageError, match=expected):
        options = resolve_load(entry, LoadOptions(BUNDLED, runtime="llama.cpp"))
        load_llamacpp(entry, options, lambda *a: None)


@pytest.mark.gpu
def test_every_layer_on_the_gpu():
    from engine.machine import cuda_gpu_visible

    if not cuda_gpu_visible():
        pytest.skip("needs a CUDA GPU")
    loaded = load_model(LoadOptions(BUNDLED, device="cuda", runtime="llama.cpp"))
    assert loaded.info.device == "cuda" and loaded.info.runtime == "llama.cpp"
    text, events = reply(loaded, GREEDY.with_values(max_new_tokens=40), ask(FRANCE))
    assert text == "The capital of France is Paris."
    assert events[-1].stats.peak_memory_mb > 0


def test_cuda_asked_of_a_cpu_build_or_without_a_gpu_is_refused():
    import llama_cpp

    from engine.errors import DeviceUnavailable
    from engine.machine import cuda_gpu_visible

    if llama_cpp.llama_supports_gpu_offload() and cuda_gpu_visible():
        pytest.skip("this machine runs llama.cpp on its GPU")
    with pytest.raises(DeviceUnavailable, match="--device cpu"):
        load_model(LoadOptions(BUNDLED, device="cuda", runtime="llama.cpp"))


def test_text_goes_out_in_batches_the_first_piece_at_once(model, monkeypatch):
    import engine.runtimes.llamacpp.generate as generate

    settings = GREEDY.with_values(max_new_tokens=40)
    monkeypatch.setattr(generate, "BATCH_S", 0.0)  # every piece as it comes
    one_by_one, _ = reply(model, settings)
    pieces = [e for e in reply(model, settings)[1] if isinstance(e, Chunk)]
    monkeypatch.setattr(generate, "BATCH_S", 3600.0)  # nothing before the end but the first
    text, events = reply(model, settings)
    chunks = [e for e in events if isinstance(e, Chunk)]
    assert text == one_by_one and len(pieces) > 10
    assert len(chunks) == 2 and chunks[0].text == pieces[0].text
    assert isinstance(events[-1], ReplyDone) and events[-1].stats.new_tokens == 40
    # A cancel does not wait for the batch: it still lands within two tokens.
    events = list(
        stream_reply(
            model,
            ask("Write a long story about the sea."),
            settings.with_values(max_new_tokens=200),
            cancel=CountingFlag(after=5),
        )
    )
    assert isinstance(events[-1], Cancelled) and 5 <= events[-1].stats.new_tokens <= 7
