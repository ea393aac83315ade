"""Saved user settings (engine.preferences) and the task folders include_paths gives."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine import preferences
from engine.errors import SmollmError, UsageError
from engine.evaluation.tasks import include_paths
from engine.paths import config_dir


def test_task_folders_round_trip_resolved_deduplicated_and_cleared(tmp_path, monkeypatch):
    assert preferences.task_folders() == []  # nothing saved yet, no file made
    assert not preferences.settings_path().exists()
    other = tmp_path / "mine"
    other.mkdir()
    monkeypatch.chdir(tmp_path)
    saved = preferences.set_task_folders([str(TASKS_DIR), "mine", str(TASKS_DIR)])
    assert saved == [str(TASKS_DIR.resolve()), str(other.resolve())]
    assert preferences.task_folders() == saved
    assert preferences.settings_path() == config_dir() / "settings.json"
    on_disk = json.loads(preferences.settings_path().read_text())
    assert on_disk == {"task_folders": saved}
    # other keys survive; no temporary files are left behind
    preferences.save_settings({**on_disk, "theme": "dark"})
    assert preferences.set_task_folders([]) == []
    assert json.loads(preferences.settings_path().read_text()) == {"theme": "dark"}
    assert sorted(p.name for p in config_dir().iterdir()) == ["settings.json"]
    assert stat.S_IMODE(preferences.settings_path().stat().st_mode) == 0o600


def test_a_bad_folder_is_a_usage_error_and_nothing_is_saved(tmp_path):
    preferences.set_task_folders([str(TASKS_DIR)])
    with pytest.raises(UsageError, match="does not exist") as err:
        preferences.set_task_folders([str(TASKS_DIR), str(tmp_path / "nope")])
    assert str(tmp_path / "nope") in str(err.value) and "nothing was saved" in str(err.value)
    a_file = tmp_path / "tasks.yaml"
    a_file.write_text("task: x\n")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        preferences.set_task_folders([str(a_file)])
    assert preferences.task_folders() == [str(TASKS_DIR.resolve())]


def test_split_folders():
    sep = os.pathsep
    assert preferences.split_folders(f" a {sep}{sep} b{sep}") == ["a", "b"]
    assert preferences.split_folders("   ") == []


@pytest.mark.parametrize(
    "content, why",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"task_folders": "/one/folder"}', "must be a list"),
        (b'{"task_folders": ["/caf\xe9"]}', "not UTF-8 text: byte 23 is 0xe9"),  # Latin-1
        ("[" * 100_000 + "]" * 100_000, "nested far too deeply"),  # json's RecursionError
    ],
    ids=["not-json", "not-an-object", "wrong-type", "latin-1", "nested"],
)
def test_a_broken_settings_file_is_one_clear_error_naming_it(content, why):
    path = preferences.settings_path()
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SmollmError) as err:
        preferences.task_folders()
    message = str(err.value)
    assert str(path) in message and why in message and "delete it" in message
    assert "\n" not in message
    with pytest.raises(SmollmError, match="broken"):
        include_paths(None)  # the eval command stops with the same message
    if why == "must be a list":  # saving replaces just that value: the file is fixed
        preferences.set_task_folders([str(TASKS_DIR)])
        assert preferences.task_folders() == [str(TASKS_DIR.resolve())]
        return
    with pytest.raises(SmollmError, match="broken"):
        preferences.set_task_folders([str(TASKS_DIR)])  # never overwrites a broken file
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_include_paths_order_dedup_and_a_vanished_saved_folder(tmp_path, monkeypatch):
    folders = {name: tmp_path / name for name in ("cli", "env", "saved", "gone")}
    for folder in folders.values():
        folder.mkdir()
    preferences.set_task_folders([str(folders["saved"]), str(folders["gone"]), str(folders["env"])])
    monkeypatch.setenv("SMOLLM_TUI_TASKS", str(folders["env"]))
    expected = [str(folders[n].resolve()) for n in ("cli", "env", "saved", "gone")]
    assert include_paths(str(folders["cli"])) == expected
    folders["gone"].rmdir()
    assert include_paths(str(folders["cli"])) == expected[:3]  # skipped, no error
    assert preferences.missing_task_folders() == [str(folders["gone"].resolve())]
    # a folder given on the command line that is missing still stops the command
    with pytest.raises(UsageError, match="--include-path"):
        include_paths(str(tmp_path / "missing"))
    monkeypatch.delenv("SMOLLM_TUI_TASKS")
    assert include_paths(None) == [str(folders["saved"].resolve()), str(folders["env"].resolve())]


def test_the_settings_file_follows_smollm_tui_home(app_home: Path):
    preferences.set_task_folders([str(TASKS_DIR)])
    assert (app_home / "config" / "settings.json").is_file()
