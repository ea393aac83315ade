"""`smollm-tui rm` and the catalog's delete find the GGUF files fetched with
`download MODEL --gguf QUANT` (a repo of their own in the Hugging Face cache), list them
with their size, delete them with the model, or one of them alone with --gguf."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fixtures import make_app
from hub_server import HubServer, overlay_text

from engine import hub
from engine.catalog.entries import load_catalog
from engine.gguf_files import downloaded_gguf
from engine.models.local_status import local_status
from tui.cli import main
from tui.screens.dialogs import ChoiceScreen

GGUF_REPO = "tests/tiny-llama-GGUF"
Q4 = b"GGUF" + b"4" * 300_000
Q8 = b"GGUF" + b"8" * 500_000


def overlay(path: Path) -> Path:
    text = overlay_text({"tiny-hub": "tests/tiny-llama"})
    text += (
        f'gguf_repo = "{GGUF_REPO}"\n'
        'gguf_files = { Q4_K_M = "tiny.Q4_K_M.gguf", Q8_0 = "tiny.Q8_0.gguf" }\n'
        'gguf_facts_from = ["tests/test_gguf_rm.py"]\n'
    )
    path.write_text(text)
    return path


@pytest.fixture
def catalog(local_hub: HubServer, tmp_path: Path) -> Path:
    local_hub.add_repo(
        GGUF_REPO, {"tiny.Q4_K_M.gguf": Q4, "tiny.Q8_0.gguf": Q8, "README.md": b"# tiny\n"}
    )
    return overlay(tmp_path / "overlay.toml")


def download(catalog: Path, *args: str) -> None:
    assert main(["--catalog", str(catalog), "download", "tiny-hub", *args]) == 0


def quants(catalog: Path) -> list[str]:
    return [q for q, _ in downloaded_gguf(load_catalog(catalog).get("tiny-hub"))]


def test_rm_deletes_the_gguf_files_with_the_model_and_lists_them(catalog, capsys):
    download(catalog, "--gguf", "Q8_0")  # only GGUF: the transformers weights never came
    download(catalog, "--gguf", "Q4_K_M")
    assert quants(catalog) == ["Q4_K_M", "Q8_0"]
    capsys.readouterr()
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"GGUF Q4_K_M, Q8_0 ({GGUF_REPO})" in out and "tiny-llama-GGUF" in out
    assert "deleted tiny-hub: 800.0 kB freed" in out  # both files, nothing else was there
    assert quants(catalog) == []
    assert not hub.repo_folder(GGUF_REPO).exists()
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--yes"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


def test_rm_gguf_deletes_one_file_and_keeps_the_rest(catalog, capsys):
    download(catalog)  # the transformers weights
    download(catalog, "--gguf", "Q8_0")
    download(catalog, "--gguf", "Q4_K_M")
    capsys.readouterr()
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "q8_0", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"GGUF Q8_0 ({GGUF_REPO})" in out and "500.0 kB" in out
    assert "deleted tiny-hub Q8_0 GGUF: 500.0 kB freed" in out
    assert quants(catalog) == ["Q4_K_M"]
    assert local_status(load_catalog(catalog).get("tiny-hub")).state == "yes"
    # The blob went too, not only the link to it.
    blobs = list((hub.repo_folder(GGUF_REPO) / "blobs").iterdir())
    assert [b.stat().st_size for b in blobs] == [len(Q4)]

    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "Q8_0", "--yes"]) == 0
    assert "Q8_0 GGUF file is not in the Hugging Face cache" in capsys.readouterr().out
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "Q5_K_M"]) == 2
    assert (
        "has no Q5_K_M GGUF file in the catalog (GGUF builds: Q4_K_M, Q8_0)"
        in capsys.readouterr().err
    )

    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "Q4_K_M", "--yes"]) == 0
    assert not hub.repo_folder(GGUF_REPO).exists()  # its last file: the repo goes
    assert local_status(load_catalog(catalog).get("tiny-hub")).state == "yes"


def test_a_link_planted_outside_the_repo_is_never_followed(catalog, tmp_path):
    download(catalog, "--gguf", "Q8_0")
    [(_, link)] = downloaded_gguf(load_catalog(catalog).get("tiny-hub"))
    precious = tmp_path / "precious.bin"
    precious.write_bytes(b"keep me")
    link.unlink()
    link.symlink_to(precious)
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "Q8_0", "--yes"]) == 0
    assert precious.read_bytes() == b"keep me"
    assert not link.exists() and not link.is_symlink()


def test_a_snapshot_folder_linked_outside_the_cache_is_refused(catalog, tmp_path, capsys):
    """The file is no link, its folder is: deleting it would delete the user's own file."""
    download(catalog, "--gguf", "Q4_K_M")
    elsewhere = tmp_path / "my-models"
    elsewhere.mkdir()
    precious = elsewhere / "tiny.Q8_0.gguf"
    precious.write_bytes(b"the user's own build")
    (hub.repo_folder(GGUF_REPO) / "snapshots" / ("f" * 40)).symlink_to(elsewhere)
    capsys.readouterr()
    assert main(["--catalog", str(catalog), "rm", "tiny-hub", "--gguf", "Q8_0", "--yes"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "outside" in err and "nothing was deleted" in err
    assert precious.read_bytes() == b"the user's own build"
    blobs = list((hub.repo_folder(GGUF_REPO) / "blobs").iterdir())
    assert [b.stat().st_size for b in blobs] == [len(Q4)]  # nothing else was touched either


async def test_the_catalogs_delete_finds_a_gguf_only_download(catalog):
    download(catalog, "--gguf", "Q8_0")
    app = make_app(catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"tiny-hub", "enter", "x")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ChoiceScreen)
        assert "GGUF Q8_0" in dialog.body and "500.0 kB" in dialog.body
        await pilot.click("#choice-delete")
        await pilot.pause()
        assert quants(catalog) == []
        assert any("500.0 kB freed" in str(n.message) for n in app._notifications)
