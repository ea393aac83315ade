"""The catalog: the shipped file, every error kind with its line, the overlay."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.catalog.entries import (
    CatalogError,
    UnknownModelError,
    load_catalog,
    parse_catalog_text,
    shipped_catalog_path,
)
from engine.paths import user_catalog_path

GOOD = """\
[[model]]
id = "tiny-one"
name = "Tiny One"
repo = "someone/tiny-one"
family = "Tiny"
affiliation = "Nobody"
params = 1_000_000
released = "2024-01"
architecture = "llama"
kind = "causal"
context_length = 512
license = "mit"
prompt_format = "plain"
trust_remote_code = false
tags = ["base"]
source = "hub"
facts_from = ["test"]
"""


def with_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_shipped_catalog_is_valid_and_starts_with_the_bundled_model():
    catalog = load_catalog(use_user_overlay=False)
    assert len(catalog) >= 28
    first = catalog.entries[0]
    assert first.id == "smollm2-135m-instruct" and first.source == "bundled"
    assert catalog.default() is first


@pytest.mark.parametrize(
    ("model_id", "architecture", "kind", "prompt_format"),
    [
        ("flan-t5-base", "t5", "seq2seq", "t5"),
        ("pythia-160m", "gpt_neox", "causal", "plain"),
        ("opt-125m", "opt", "causal", "plain"),
        ("bloom-560m", "bloom", "causal", "plain"),
        ("bloomz-560m", "bloom", "causal", "plain"),
        ("cerebras-gpt-111m", "gpt2", "causal", "plain"),
        ("lamini-gpt-124m", "gpt2", "causal", "alpaca"),
        ("smollm-135m", "llama", "causal", "plain"),
        ("tinyllama-1.1b", "llama", "causal", "plain"),
        ("litellama-460m", "llama", "causal", "plain"),
        ("danube3-500m", "llama", "causal", "plain"),
        ("qwen2.5-0.5b", "qwen2", "causal", "plain"),
        ("qwen1.5-0.5b", "qwen2", "causal", "plain"),
        ("smollm2-360m-instruct", "llama", "causal", "chat-template"),
    ],
)
def test_shipped_catalog_facts(model_id, architecture, kind, prompt_format):
    entry = load_catalog(use_user_overlay=False).get(model_id)
    assert (entry.architecture, entry.kind, entry.prompt_format) == (
        architecture,
        kind,
        prompt_format,
    )
    assert entry.facts_from


def test_shipped_catalog_special_entries():
    catalog = load_catalog(use_user_overlay=False)
    assert catalog.get("phonelm-0.5b").trust_remote_code
    assert catalog.get("lamini-gpt-774m").license == "cc-by-nc-4.0"
    merino = catalog.get("merino")
    assert merino.source == "unavailable" and "weights" in merino.unavailable_reason
    seed_repos = {
        "bigscience/bloom-560m",
        "bigscience/bloomz-560m",
        "cerebras/Cerebras-GPT-590M",
        "cerebras/Cerebras-GPT-256M",
        "cerebras/Cerebras-GPT-111M",
        "h2oai/h2o-danube3-500m-base",
        "google/flan-t5-base",
        "MBZUAI/LaMini-GPT-774M",
        "MBZUAI/LaMini-GPT-124M",
        "ahxt/LiteLlama-460M-1T",
        "facebook/opt-350m",
        "facebook/opt-125m",
        "EleutherAI/pythia-410m",
        "EleutherAI/pythia-160m",
        "mllmTeam/PhoneLM-0.5B",
        "Qwen/Qwen1.5-0.5B",
        "Qwen/Qwen2.5-0.5B",
        "HuggingFaceTB/SmolLM-360M",
        "HuggingFaceTB/SmolLM-135M",
        "TinyLlama/TinyLlama_v1.1",
    }
    assert seed_repos <= {e.repo for e in catalog}


def test_lookup_by_repo_prefers_the_hub_copy_and_unknown_names_suggest():
    catalog = load_catalog(use_user_overlay=False)
    assert catalog.get("HuggingFaceTB/SmolLM2-135M-Instruct").source == "hub"
    assert catalog.get("facebook/opt-125m").id == "opt-125m"
    with pytest.raises(UnknownModelError, match="Did you mean: opt-125m"):
        catalog.get("opt-125")


def test_good_text_parses():
    (entry,) = parse_catalog_text(GOOD)
    assert entry.id == "tiny-one" and entry.params_label == "1M" and entry.origin.endswith(":1")


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "context_length = 512",
            "context_length = -3",
            11,
            "model 'tiny-one': context_length must be a positive integer",
        ),
        (
            'license = "mit"',
            'licence = "mit"',
            12,
            "model 'tiny-one': unknown key 'licence' (did you mean 'license'?)",
        ),
        ("params = 1_000_000", 'params = "1M"', 7, "params must be a positive integer"),
        ('repo = "someone/tiny-one"', 'repo = "not a repo"', 4, "repo must look like"),
        ('kind = "causal"', 'kind = "encoder"', 10, "kind must be one of causal, seq2seq"),
        (
            "trust_remote_code = false",
            'trust_remote_code = "no"',
            14,
            "trust_remote_code must be true or false",
        ),
        ('family = "Tiny"\n', "", 1, "missing required field(s): family"),
        ('released = "2024-01"', 'released = "Jan 2024"', 8, "released must be 'YYYY-MM'"),
        ('tags = ["base"]', 'tags = "base"', 15, "tags must be a list of strings"),
    ],
)
def test_each_error_names_file_line_and_model(old, new, line, message):
    with pytest.raises(CatalogError) as caught:
        parse_catalog_text(with_line(GOOD, old, new), path="my.toml")
    text = str(caught.value)
    assert text.startswith(f"my.toml:{line}: "), text
    assert message in text


def test_syntax_error_names_its_line():
    broken = GOOD.replace('name = "Tiny One"', 'name = "Tiny One')
    with pytest.raises(CatalogError) as caught:
        parse_catalog_text(broken, path="my.toml")
    assert str(caught.value).startswith("my.toml:3: TOML syntax error")


def test_duplicate_id_names_both_lines():
    with pytest.raises(CatalogError) as caught:
        parse_catalog_text(GOOD + "\n" + GOOD, path="my.toml")
    assert str(caught.value) == (
        "my.toml:19: model 'tiny-one': duplicate id (first defined at line 1)"
    )


def test_source_rules():
    local = GOOD.replace('source = "hub"', 'source = "local"')
    with pytest.raises(CatalogError, match="source 'local' needs a path"):
        parse_catalog_text(local)
    unavailable = GOOD.replace('source = "hub"', 'source = "unavailable"')
    with pytest.raises(CatalogError, match="needs an unavailable_reason"):
        parse_catalog_text(unavailable)


def test_overlay_adds_and_overrides_by_id(tmp_path: Path):
    overlay = tmp_path / "mine.toml"
    overlay.write_text(
        GOOD + '\n[[model]]\nid = "opt-125m"\nnotes = "my favourite"\ncontext_length = 1024\n'
    )
    catalog = load_catalog(overlay)
    assert catalog.get("tiny-one").repo == "someone/tiny-one"
    opt = catalog.get("opt-125m")
    assert opt.notes == "my favourite" and opt.context_length == 1024
    assert opt.repo == "facebook/opt-125m"  # untouched fields keep the shipped value
    assert catalog.files == (shipped_catalog_path(), overlay)


def test_user_overlay_in_config_dir_is_picked_up():
    path = user_catalog_path()
    path.parent.mkdir(parents=True)
    path.write_text('[[model]]\nid = "pythia-160m"\nnotes = "overlaid"\n')
    assert load_catalog().get("pythia-160m").notes == "overlaid"
    assert load_catalog(use_user_overlay=False).get("pythia-160m").notes != "overlaid"


def test_overlay_new_entry_must_be_complete(tmp_path: Path):
    overlay = tmp_path / "mine.toml"
    overlay.write_text('\n[[model]]\nid = "brand-new"\nname = "X"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog(overlay)
    assert f"{overlay}:2: model 'brand-new': missing required field(s): family" in str(caught.value)


toml_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=20),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)


def toml_literal(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


GOOD_KEYS = [line.split(" = ")[0] for line in GOOD.splitlines() if " = " in line]
any_key = st.sampled_from(GOOD_KEYS) | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12
)


@settings(
    max_examples=300,
    deadline=None,  # what is checked is the message, not the time; a loaded machine is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=any_key, value=toml_values)
def test_random_values_never_escape_as_a_traceback(key, value):
    lines = [line for line in GOOD.splitlines() if not line.startswith(f"{key} = ")]
    text = "\n".join(lines) + f"\n{key} = {toml_literal(value)}\n"
    try:
        entries = parse_catalog_text(text)
    except CatalogError as exc:
        assert all(p.line >= 0 for p in exc.problems) and str(exc)
    else:
        assert entries[0].id
