"""Published GGUF builds: catalog facts checked like every key, one named file fetched
through the resumable download from a Hub on 127.0.0.1, then run on llama.cpp (auto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_support import require_llama_cpp

from engine.catalog.bundled import gguf_path
from engine.catalog.entries import CatalogError, load_catalog, parse_catalog_text
from engine.errors import UsageError
from engine.gguf_files import downloaded_gguf
from engine.runtimes.choice import resolve_runtime
from engine.settings import Conversation, GenerationSettings, LoadOptions
from tui.cli import main

require_llama_cpp()

ENTRY = "smollm2-135m-instruct-hub"
GGUF_REPO = "tests/SmolLM2-GGUF"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def overlay(path: Path, files: str = f'Q4_1 = "{FILE}", Q8_0 = "missing.Q8_0.gguf"') -> Path:
    path.write_text(f"""
[[model]]
id = "{ENTRY}"
gguf_repo = "{GGUF_REPO}"
gguf_files = {{ {files} }}
gguf_facts_from = ["tests/test_gguf_hub.py"]
""")
    return path


def test_the_shipped_catalogs_gguf_builds_are_well_formed():
    catalog = load_catalog(use_user_overlay=False)
    builds = {e.id: e for e in catalog if e.gguf_repo}
    assert {"smollm-135m", "pythia-410m", "qwen1.5-0.5b", "bloom-560m"} <= set(builds)
    assert not {"opt-125m", "gerbil-a-32m", "phonelm-0.5b", "flan-t5-base"} & set(builds)
    assert dict(builds["smollm-135m"].gguf_files)["Q8_0"] == "SmolLM-135M.Q8_0.gguf"
    assert all(e.kind == "causal" and e.gguf_facts_from for e in builds.values())


@pytest.mark.parametrize(
    "files, words",
    [
        ('Q8_0 = "../../etc/passwd.gguf"', "must name a .gguf file at the top of the repo"),
        ('Q8_0 = "sub/model.gguf"', "must name a .gguf file at the top of the repo"),
        ('Q8_0 = "model.bin"', "must name a .gguf file"),
        ('Q9_Z = "model.gguf"', "'Q9_Z' is not a GGUF quant type"),
        ("", "gguf_files must be a table"),
    ],
)
def test_hostile_or_wrong_gguf_facts_are_refused_with_the_line(files, words):
    base = load_catalog(use_user_overlay=False)
    text = f"""
[[model]]
id = "{ENTRY}"
gguf_repo = "{GGUF_REPO}"
gguf_files = {{ {files} }}
gguf_facts_from = ["x"]
"""
    with pytest.raises(CatalogError, match=words) as caught:
        parse_catalog_text(text, "overlay.toml", known={e.id: e for e in base})
    assert "overlay.toml:5:" in str(caught.value)  # the gguf_files line


def test_a_gguf_build_needs_its_files_and_where_they_were_seen():
    base = {e.id: e for e in load_catalog(use_user_overlay=False)}
    with pytest.raises(CatalogError, match="gguf_repo and gguf_files go together"):
        parse_catalog_text('[[model]]\nid = "cerebras-gpt-111m"\ngguf_repo = "a/b"\n', known=base)
    with pytest.raises(CatalogError, match="needs gguf_facts_from"):
        parse_catalog_text(
            '[[model]]\nid = "cerebras-gpt-111m"\ngguf_repo = "a/b"\n'
            'gguf_files = { Q8_0 = "m.gguf" }\n',
            known=base,
        )
    with pytest.raises(CatalogError, match="causal models only"):
        parse_catalog_text(
            '[[model]]\nid = "flan-t5-base"\ngguf_repo = "a/b"\n'
            'gguf_files = { Q8_0 = "m.gguf" }\ngguf_facts_from = ["x"]\n',
            known=base,
        )


def test_fetch_one_gguf_file_then_chat_on_llamacpp(local_hub, tmp_path, capsys):
    from engine.events import Chunk, Loaded, ReplyDone
    from engine.worker.client import WorkerClient

    local_hub.add_repo(GGUF_REPO, {FILE: gguf_path().read_bytes(), "README.md": b"# GGUF\n"})
    path = overlay(tmp_path / "overlay.toml")
    entry = load_catalog(path).get(ENTRY)
    # Nothing on disk yet: auto stays on transformers, llama.cpp says what to fetch.
    assert resolve_runtime(entry, "auto") == "transformers"
    with pytest.raises(UsageError, match=f"download {ENTRY} --gguf Q4_1"):
        resolve_runtime(entry, "llama.cpp")

    assert main(["--catalog", str(path), "download", ENTRY, "--gguf", "Q4_1"]) == 0
    assert f"{ENTRY}: 1 files" in capsys.readouterr().out
    [(quant, file)] = downloaded_gguf(entry)
    assert quant == "Q4_1" and file.name == FILE and file.stat().st_size > 90 * 2**20
    assert len(local_hub.gets("README.md")) == 0  # only the named file was fetched
    local_hub.reset_counts()
    assert main(["--catalog", str(path), "download", ENTRY, "--gguf", "Q4_1"]) == 0
    assert local_hub.gets(FILE) == []  # already there: nothing fetched again
    assert main(["--catalog", str(path), "download", ENTRY, "--gguf", "Q5_K_M"]) == 2
    assert f"{ENTRY} has no Q5_K_M GGUF file in the catalog" in capsys.readouterr().err
    assert main(["--catalog", str(path), "download", ENTRY, "--gguf", "Q8_0"]) == 1
    assert "has no file missing.Q8_0.gguf" in capsys.readouterr().err

    # Now auto runs the downloaded file on llama.cpp (the transformers weights never came).
    assert resolve_runtime(entry, "auto") == "llama.cpp"
    client = WorkerClient(catalog_path=str(path))
    try:
        events = list(client.load(LoadOptions(ENTRY, runtime="auto")))
        assert isinstance(events[-1], Loaded), events[-1]
        assert (events[-1].info.runtime, events[-1].info.precision) == ("llama.cpp", "Q4_1")
        settings = GenerationSettings(temperature=0, repetition_penalty=1.0, max_new_tokens=30)
        question = "What is the capital of France? Answer in one sentence."
        reply = list(client.generate(Conversation().add("user", question), settings))
        assert isinstance(reply[-1], ReplyDone)
        assert (
            "".join(e.text for e in reply if isinstance(e, Chunk))
            == "The capital of France is Paris."
        )
        int8 = list(client.load(LoadOptions(ENTRY, precision="int8", runtime="llama.cpp")))
        assert int8[-1].kind == "usage"
        assert f"fetch it with: smollm-tui download {ENTRY} --gguf Q8_0" in int8[-1].message
    finally:
        client.close()
