"""The working context: the context the app plans for (settings.json `working_context`,
4096 by default). Fit estimates assume it, the details give the full-context figure too,
and a chat keeps its conversation within it."""

from __future__ import annotations

import io
import threading
from functools import partial

import pytest
from app_fixtures import make_app
from rich.console import Console
from textual.widgets import Static

import engine.memory.fit as memory
from engine import preferences
from engine.catalog.entries import load_catalog
from engine.chat.stream import stream_reply
from engine.events import ReplyDone, Trimmed
from engine.memory.overview import overview
from engine.preferences import SettingsError
from engine.runtimes.loading import load_model
from engine.settings import Conversation, GenerationSettings, LoadOptions
from tui.screens.details import DetailsScreen

# /proc/meminfo of an idle Jetson Orin Nano 8 GB over SSH (no desktop).
IDLE_ORIN_NANO = (
    "MemTotal:        7802212 kB\nMemFree:         5912000 kB\n"
    "MemAvailable:    6553600 kB\nNvMapMemUsed:       4000 kB\n"
)


@pytest.fixture
def jetson(tmp_path, monkeypatch) -> float:
    """This machine seen as an 8 GB Jetson (its /proc/meminfo faked); the budget in MB."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(IDLE_ORIN_NANO)
    monkeypatch.setattr(memory, "is_jetson", lambda: True)
    monkeypatch.setattr(memory, "budget", partial(memory.budget, meminfo=meminfo))
    return 6553600 / 1024


def test_the_setting_defaults_to_4096_and_refuses_nonsense():
    assert preferences.working_context() == 4096
    preferences.save_settings({"working_context": 2048})
    assert preferences.working_context() == 2048
    for bad in ["big", 0, 64, True, 2.5, 10**9]:
        preferences.save_settings({"working_context": bad})
        with pytest.raises(SettingsError, match="working_context must be a whole number") as err:
            preferences.working_context()
        assert str(preferences.settings_path()) in str(err.value)
        assert preferences.working_context_or_default() == 4096


def test_qwen_at_fp32_fits_an_8gb_jetson_at_the_working_context(jetson):
    rows = {r.entry.id: r for r in overview(load_catalog(use_user_overlay=False), "fp32")}
    qwen = rows["qwen1.5-0.5b"]
    assert qwen.context_length == 4096 and qwen.entry.context_length == 32768
    assert qwen.size_mb == pytest.approx(3853, abs=1) and qwen.fit == "fits"
    # At its full context the same model would not fit: that figure is kept for the details.
    assert qwen.full_context_mb == pytest.approx(11245, abs=1)
    assert memory.verdict(qwen.full_context_mb, jetson) == "does not fit"
    # A model whose own context is shorter is estimated at that, with no second figure.
    opt = rows["opt-125m"]
    assert opt.context_length == opt.entry.context_length == 2048
    assert opt.full_context_mb is None


def test_a_smaller_working_context_makes_a_smaller_estimate(jetson):
    preferences.save_settings({"working_context": 1024})
    [qwen] = [
        r
        for r in overview(load_catalog(use_user_overlay=False), "fp32")
        if r.entry.id == "qwen1.5-0.5b"
    ]
    assert qwen.context_length == 1024 and qwen.size_mb < 3853


async def test_the_details_show_the_working_and_the_full_context_figures(jetson):
    app = make_app(overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")  # precision auto -> fp32
        await pilot.press("slash", *"qwen1.5-0.5b", "enter", "enter")
        await pilot.pause()
        assert app.precision == "fp32" and isinstance(app.screen, DetailsScreen)
        shown = rendered(app.screen.query_one(Static).content)
        assert "about 3,853 MB at 4,096 tokens: fits" in shown
        assert "11,245 MB at the full 32,768" in shown


def rendered(renderable) -> str:
    console = Console(width=78, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def test_the_chat_keeps_a_conversation_within_the_working_context(tiny_catalog):
    preferences.save_settings({"working_context": 256})
    loaded = load_model(LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)))
    assert loaded.info.context_length == 256  # the model itself takes 2048
    conversation = Conversation()
    for i in range(6):
        conversation = conversation.add("user", f"question {i} " + "blah " * 20)
        conversation = conversation.add("assistant", "ok " * 5)
    conversation = conversation.add("user", "last question")
    events = list(
        stream_reply(
            loaded,
            conversation,
            GenerationSettings(temperature=0, max_new_tokens=8),
            cancel=threading.Event(),
        )
    )
    assert isinstance(events[0], Trimmed) and events[0].dropped_turns > 0
    assert isinstance(events[-1], ReplyDone)
    assert events[-1].stats.prompt_tokens <= 256 - 8


def test_a_broken_setting_stops_a_load_with_one_message(tiny_catalog):
    preferences.save_settings({"working_context": "lots"})
    with pytest.raises(SettingsError, match="working_context"):
        load_model(LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)))
