"""GGUF headers read without llama.cpp: the real bundled file, files written here, and
damaged or hostile ones (one clear message each, never a crash or a huge allocation)."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from engine.catalog.bundled import gguf_path
from engine.catalog.entries import load_catalog
from engine.gguf_files import GGUFError, NoGGUFFile, choose_file, quant_type, read_metadata


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, values: dict, tail: bytes = b"") -> Path:
    """A GGUF v3 header with string/uint32 values and a string array (no tensors)."""
    body = b""
    for key, value in values.items():
        body += _string(key)
        if isinstance(value, str):
            body += struct.pack("<I", 8) + _string(value)
        elif isinstance(value, list):
            body += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_string(v) for v in value)
        else:
            body += struct.pack("<II", 4, value)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(values)) + body + tail)
    return path


def test_the_bundled_files_header():
    meta = read_metadata(gguf_path())
    assert meta["general.architecture"] == "llama"
    assert meta["llama.context_length"] == 8192
    assert meta["general.file_type"] == 3 and quant_type(gguf_path()) == "Q4_1"
    assert meta["tokenizer.ggml.tokens"] == 49152  # arrays come back as their length
    assert "<|im_start|>" in meta["tokenizer.chat_template"]


def test_only_the_wanted_keys_and_a_quant_type_from_the_name(tmp_path):
    path = write_gguf(
        tmp_path / "m.Q8_0.gguf",
        {"general.architecture": "llama", "tokens": ["a", "b", "c"], "general.name": "x"},
    )
    assert read_metadata(path) == {
        "general.architecture": "llama",
        "tokens": 3,
        "general.name": "x",
    }
    assert read_metadata(path, ("general.name",)) == {"general.name": "x"}
    assert quant_type(path) == "Q8_0"  # no general.file_type: the file name says it
    with pytest.raises(GGUFError, match="does not say its quant type"):
        quant_type(write_gguf(tmp_path / "plain.gguf", {"general.architecture": "llama"}))


@pytest.mark.parametrize(
    "damage", ["not gguf", "cut", "huge string", "huge array", "bad type", "bad version"]
)
def test_damaged_files_get_one_message(tmp_path, damage):
    good = write_gguf(
        tmp_path / "good.gguf", {"general.architecture": "llama", "general.file_type": 7}
    )
    data = good.read_bytes()
    path = tmp_path / "bad.gguf"
    if damage == "not gguf":
        path.write_bytes(b"<html>not found</html>")
    elif damage == "cut":
        path.write_bytes(data[:30])
    elif damage == "huge string":
        path.write_bytes(data[:24] + struct.pack("<Q", 2**62) + b"x" * 10)
    elif damage == "huge array":
        path.write_bytes(data[:24] + _string("k") + struct.pack("<IIQ", 9, 4, 2**60))
    elif damage == "bad type":
        path.write_bytes(data[:24] + _string("k") + struct.pack("<I", 99))
    else:
        path.write_bytes(b"GGUF" + struct.pack("<IQQ", 99, 0, 1))
    with pytest.raises(GGUFError, match="bad.gguf is damaged or not a GGUF model file"):
        quant_type(path)


def test_a_local_gguf_entry_and_an_entry_without_one(tmp_path, tiny_catalog):
    catalog = load_catalog(tiny_catalog)
    file = write_gguf(tmp_path / "mine.gguf", {"general.file_type": 15})
    local = dataclasses.replace(catalog.get("tiny-llama"), path=str(file))
    assert choose_file(local, "auto").quant == "Q4_K_M"
    assert choose_file(local, "int4").path == file
    with pytest.raises(NoGGUFFile, match="tiny-llama has no GGUF file"):
        choose_file(catalog.get("tiny-llama"), "auto")


def test_a_context_length_past_int32_is_one_clear_message(tmp_path):
    """2^32-1 (uint32) came back from llama-cpp-python as "Array length must be >= 0, not
    -1"; the header reader refuses it first, for the load and the memory estimate alike."""
    path = write_gguf(
        tmp_path / "wide.gguf",
        {"general.architecture": "llama", "llama.context_length": 2**32 - 1},
    )
    with pytest.raises(GGUFError) as err:
        read_metadata(path, ("llama.context_length",))
    message = str(err.value)
    assert "wide.gguf is damaged or not a GGUF model file" in message
    assert "llama.context_length is 4,294,967,295 tokens" in message and "\n" not in message
    fine = write_gguf(tmp_path / "fine.gguf", {"llama.context_length": 2**31 - 1})
    assert read_metadata(fine) == {"llama.context_length": 2**31 - 1}


def test_millions_of_empty_strings_are_refused_before_they_are_read(tmp_path):
    """12.5 million empty strings are a valid header of 100 MB (zeros: a sparse file here);
    reading past each took 8 s. The count alone refuses it."""
    path = tmp_path / "strings.gguf"
    count = 12_500_000
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("tokens")
    path.write_bytes(head + struct.pack("<IIQ", 9, 8, count))
    with open(path, "r+b") as handle:
        handle.truncate(len(head) + 12 + 8 * count)  # every length 0: an empty string
    with pytest.raises(GGUFError, match="an array claims 12,500,000 strings"):
        read_metadata(path)
    real = write_gguf(tmp_path / "vocab.gguf", {"tokens": [""] * 262_144})  # Gemma 3's size
    assert read_metadata(real) == {"tokens": 262_144}
