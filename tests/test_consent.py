"""engine.models.consent: remote-code consent remembered per model and revision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_server import HubServer, isolate_hf, overlay_text

from engine import hub
from engine.catalog.entries import load_catalog
from engine.models import consent


@pytest.fixture
def catalog(tmp_path: Path):
    overlay = tmp_path / "rc.toml"
    overlay.write_text(
        overlay_text(
            {"rc-model": "tests/remote-code", "plain": "tests/plain"}, remote_code=("rc-model",)
        )
    )
    return load_catalog(overlay)


def test_consent_is_remembered_per_model_and_revision(app_home: Path):
    assert not consent.has_consent("rc-model", "a" * 40)
    consent.give_consent("rc-model", "a" * 40)
    assert consent.has_consent("rc-model", "a" * 40)
    assert not consent.has_consent("rc-model", "b" * 40)  # a new revision asks again
    assert not consent.has_consent("other", "a" * 40)
    stored = json.loads(consent.consent_path().read_text())
    assert consent.consent_path().parent == app_home / "data"
    assert list(stored["models"]["rc-model"]) == ["a" * 40] and stored["version"] == 1
    assert consent.revoke_consent("rc-model") and not consent.has_consent("rc-model", "a" * 40)
    assert not consent.revoke_consent("rc-model")


def test_a_broken_consent_file_means_asking_again():
    consent.consent_path().parent.mkdir(parents=True)
    consent.consent_path().write_text("{ not json")
    assert not consent.has_consent("rc-model", None)
    consent.give_consent("rc-model", None)  # and it is replaced by a good one
    assert consent.has_consent("rc-model", None)


def test_needs_consent_follows_the_revision_on_disk(catalog, tiny_llama, tmp_path, monkeypatch):
    isolate_hf(tmp_path, monkeypatch)
    entry = catalog.get("rc-model")
    assert not consent.needs_consent(catalog.get("plain"))
    assert consent.needs_consent(entry)  # nothing on disk, no pin: "unknown" revision

    server = HubServer()
    code = {"modeling_rc.py": b"print('hello')\n"}
    server.add_folder("tests/remote-code", tiny_llama, extra=code)
    with server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        first = hub.download(entry)
        assert "modeling_rc.py" in first.files
        assert consent.consent_revision(entry) == first.commit
        question = consent.consent_question(entry)
        assert "modeling_rc.py" in question and first.commit[:12] in question
        assert consent.needs_consent(entry)
        consent.give_consent(entry.id, consent.consent_revision(entry))
        assert not consent.needs_consent(entry)

        # The repo gets a new commit: downloading it moves refs/main, so consent is asked again.
        server.add_folder(
            "tests/remote-code", tiny_llama, extra={"modeling_rc.py": b"print('changed')\n"}
        )
        second = hub.download(entry)
    assert second.commit != first.commit
    assert consent.consent_revision(entry) == second.commit
    assert consent.needs_consent(entry)


def test_a_local_model_is_asked_again_when_its_code_changes(tmp_path: Path):
    """Consent for a local folder is keyed on its code: the same id pointed at a folder with
    other .py files (or the files edited) asks again, and the question names the files."""
    from tiny_models import overlay_text as local_overlay

    first, second = tmp_path / "first", tmp_path / "second"
    for folder, body in ((first, b"print('one')\n"), (second, b"print('two')\n")):
        (folder / "sub").mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "modeling_x.py").write_bytes(body)
        (folder / "sub" / "helpers.py").write_bytes(b"X = 1\n")

    def entry_at(folder: Path):
        overlay = tmp_path / f"{folder.name}.toml"
        text = local_overlay({"my-local": folder}).replace(
            "trust_remote_code = false", "trust_remote_code = true"
        )
        assert "trust_remote_code = true" in text
        overlay.write_text(text)
        return load_catalog(overlay).get("my-local")

    entry = entry_at(first)
    assert consent.needs_consent(entry)
    question = consent.consent_question(entry)
    assert "modeling_x.py" in question and "sub/helpers.py" in question
    assert consent.resolve_trust(entry, allow_now=True)
    assert not consent.needs_consent(entry)
    assert consent.resolve_trust(entry, allow_now=False)

    moved = entry_at(second)  # same id, other code
    assert consent.needs_consent(moved)
    assert not consent.resolve_trust(moved, allow_now=False)

    (first / "sub" / "helpers.py").write_bytes(b"X = 2\n")  # the consented code edited
    assert consent.needs_consent(entry)
