"""The Compare chart's bar labels: short, and never two alike for two different rows (one
model in three configurations once showed 'SmolLM2-135M-I' under all three bars)."""

from __future__ import annotations

from tui.widgets.compare_cells import bar_labels

NAME = "SmolLM2-135M-Instruct"


def test_configurations_of_one_model_keep_the_end_that_differs():
    labels = [
        f"{NAME} · transformers fp32",
        f"{NAME} · transformers int8",
        f"{NAME} · llama.cpp Q4_1",
        "tiny-llama",
    ]
    shown = bar_labels(labels)
    assert shown == ["SmolLM2-… fp32", "SmolLM2-… int8", "SmolLM2-… Q4_1", "tiny-llama"]
    assert all(len(label) <= 14 for label in shown)


def test_short_or_distinct_labels_are_cut_as_before():
    assert bar_labels(["tiny-llama", "Qwen2.5-0.5B-Instruct"]) == ["tiny-llama", "Qwen2.5-0.5B-…"]


def test_labels_still_alike_are_numbered():
    labels = [f"{NAME} · transformers fp32", f"{NAME}-v2 · transformers fp32"]
    shown = bar_labels(labels)
    assert len(set(shown)) == 2 and shown[0].startswith("1 ") and shown[1].startswith("2 ")
    assert all(len(label) <= 14 for label in shown)
