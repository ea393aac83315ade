"""The shipped catalog names every model apart: two rows never read the same."""

from __future__ import annotations

from collections import Counter

from engine.catalog.entries import load_catalog


def test_every_shipped_model_has_its_own_display_name():
    catalog = load_catalog(use_user_overlay=False)
    names = Counter(entry.name for entry in catalog)
    assert [name for name, count in names.items() if count > 1] == []


def test_the_bundled_copy_says_what_it_is():
    # Short enough that every catalog column stays in view at 80x24 (names of 22 or
    # more characters push the last columns out of sight); the details say Q4_1.
    catalog = load_catalog(use_user_overlay=False)
    bundled = catalog.get("smollm2-135m-instruct")
    hub = catalog.get("smollm2-135m-instruct-hub")
    assert bundled.name == "SmolLM2-135M bundled"
    assert hub.name == "SmolLM2-135M-Instruct"
    assert max(len(entry.name) for entry in catalog) <= 21
