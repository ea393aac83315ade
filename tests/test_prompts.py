"""Prompt building: chat template, the fixed formats, raw mode, trimming."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from engine.errors import UsageError
from engine.runtimes.prompts import FORMAT_STOPS, PromptTooLong, build_prompt, prompt_format, render
from engine.settings import Conversation


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    return AutoTokenizer.from_pretrained(tiny_llama)


@pytest.fixture(scope="module")
def plain_tokenizer(tiny_llama):
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    tok.chat_template = None
    return tok


def chat(*texts: str, system: str = "") -> Conversation:
    conv = Conversation(system=system)
    for i, text in enumerate(texts):
        conv = conv.add("user" if i % 2 == 0 else "assistant", text)
    return conv


def test_chat_template_is_used_when_the_tokenizer_has_one(tokenizer):
    prompt = build_prompt(
        tokenizer,
        chat("Hi there", system="Be brief."),
        entry_format="plain",
        is_seq2seq=False,
        max_prompt_tokens=500,
    )
    assert prompt.format == "chat-template"
    assert prompt.text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert prompt.text.endswith("<|im_start|>assistant\n")
    assert prompt.input_ids == tokenizer(prompt.text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize(
    "fmt, start, end",
    [
        ("alpaca", "Be brief.\n\n### Instruction:\nHi there", "### Response:\n"),
        (
            "chatml",
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there",
            "<|im_start|>assistant\n",
        ),
        ("plain", "Be brief.\n\nUser: Hi there\nAssistant: Hello!\nUser: Bye", "Assistant:"),
    ],
)
def test_each_fixed_format(plain_tokenizer, fmt, start, end):
    conv = chat("Hi there", "Hello!", "Bye", system="Be brief.")
    prompt = build_prompt(
        plain_tokenizer, conv, entry_format=fmt, is_seq2seq=False, max_prompt_tokens=500
    )
    assert prompt.format == fmt
    assert prompt.text.startswith(start)
    assert prompt.text.endswith(end)
    assert prompt.stops == FORMAT_STOPS[fmt]


def test_alpaca_without_system_uses_its_preamble():
    text = render(chat("Add 2 and 2"), "alpaca")
    assert text.startswith("Below is an instruction")
    assert "### Instruction:\nAdd 2 and 2\n\n### Response:\n" in text


def test_t5_format_puts_history_before_the_question(plain_tokenizer):
    conv = chat("Name a colour.", "Blue.", "Another one?", system="Answer briefly.")
    prompt = build_prompt(
        plain_tokenizer, conv, entry_format="t5", is_seq2seq=True, max_prompt_tokens=500
    )
    assert prompt.format == "t5"
    assert prompt.text == "Answer briefly.\nUser: Name a colour.\nAssistant: Blue.\nAnother one?"


def test_missing_template_falls_back_to_chatml(plain_tokenizer):
    assert prompt_format(plain_tokenizer, "chat-template", False) == "chatml"


def test_raw_mode_sends_the_text_as_is(tokenizer):
    prompt = build_prompt(
        tokenizer,
        chat("Once upon a time", system="ignored"),
        entry_format="chat-template",
        is_seq2seq=False,
        max_prompt_tokens=500,
        raw=True,
    )
    assert prompt.format == "raw"
    assert prompt.text == "Once upon a time"
    assert tokenizer.decode(prompt.input_ids) == "Once upon a time"


def test_trimming_drops_oldest_turns_but_keeps_system_and_new_message(tokenizer):
    history = [f"message number {i} " + "word " * 30 for i in range(9)]
    conv = chat(*history, system="SYSTEM PROMPT")
    full = build_prompt(
        tokenizer, conv, entry_format="chat-template", is_seq2seq=False, max_prompt_tokens=10_000
    )
    assert full.dropped_turns == 0
    prompt = build_prompt(
        tokenizer,
        conv,
        entry_format="chat-template",
        is_seq2seq=False,
        max_prompt_tokens=len(full.input_ids) // 2,
    )
    assert prompt.dropped_turns > 0 and prompt.dropped_turns % 2 == 0  # starts at a user turn
    assert len(prompt.input_ids) <= len(full.input_ids) // 2
    assert "SYSTEM PROMPT" in prompt.text
    assert "message number 8" in prompt.text
    assert "message number 0 " not in prompt.text


def test_a_message_that_cannot_fit_is_refused(tokenizer):
    with pytest.raises(PromptTooLong, match="too long"):
        build_prompt(
            tokenizer,
            chat("word " * 400),
            entry_format="chat-template",
            is_seq2seq=False,
            max_prompt_tokens=100,
        )


class Watched:
    """The real tokenizer, noting the length of every text it is asked to encode."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.lengths: list[int] = []

    def __call__(self, text, *args, **kwargs):
        self.lengths.append(len(text))
        return self.tokenizer(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


@pytest.mark.parametrize("raw", [False, True], ids=["chat", "raw"])
def test_a_1mb_prompt_is_refused_without_tokenizing_it(tokenizer, raw):
    """Quickly: the length alone says it cannot fit (the time is in bench/latency.py)."""
    watched = Watched(tokenizer)
    with pytest.raises(PromptTooLong, match="shorten it"):
        build_prompt(
            watched,
            chat("x" * 2**20),
            entry_format="chat-template",
            is_seq2seq=False,
            max_prompt_tokens=2000,
            raw=raw,
        )
    assert all(length < 100_000 for length in watched.lengths), watched.lengths


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_prompt(tokenizer, text):
    with pytest.raises(UsageError, match="empty"):
        build_prompt(
            tokenizer, chat(text), entry_format="plain", is_seq2seq=False, max_prompt_tokens=100
        )
