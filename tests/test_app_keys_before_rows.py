"""Keys pressed on the catalog before its first rows were read (they arrive about half a
second after the first frame): `c`, `e`, `a`, `enter` and `d` act once the rows are in, on
the row highlighted then, and what is typed meanwhile goes to what opens, shown on the way,
never to the catalog's own keys. The rows' read is held on an Event, as a slow disk holds
it; real rows (engine.memory.overview or the fixed figures), the real worker for the chat."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from app_fixtures import fixed_overview, make_app, notes, rows_shown
from test_app_chat import WatchedChat
from textual import events
from textual.widgets import DataTable, Input

from engine.memory.overview import overview
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.screens.details import DetailsScreen
from tui.screens.evaluate import EvaluateScreen
from tui.widgets.open_wait import OpenWait
from tui.widgets.prompt_input import PromptInput
from tui.widgets.transcript import QueuedTurn, ReplyTurn, UserTurn


def held(gate: threading.Event, source=fixed_overview):
    """The catalog's rows, read once the test opens ``gate``."""

    def read(catalog, precision, device, runtime="auto"):
        gate.wait(60)  # (only a safety net: the test opens the gate)
        return source(catalog, precision, device, runtime=runtime)

    return read


class ShortChat(WatchedChat):
    """The real chat screen (telling the test when it replied), with 3 new tokens a reply."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.settings = replace(self.settings, max_new_tokens=3)


async def burst(pilot, *keys: str) -> None:
    """Keys as a terminal delivers them when typed fast or sent by tmux: all at once, none
    waiting for the one before to be handled (Pilot's press waits after each)."""
    named = {"enter": "\r", "escape": "\x1b"}
    names = {" ": "space", "?": "question_mark"}
    for key in keys:
        character = named.get(key, key)
        pilot.app.post_message(events.Key(names.get(key, key), character))
    await pilot.pause()


def waiting_line(screen: CatalogScreen) -> str:
    wait = screen.query_one(OpenWait)
    assert wait.display, "the line saying what waits is on screen"
    return str(wait.render())


async def test_c_and_a_question_typed_before_the_rows_get_the_answer(
    tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("tui.app.ChatScreen", ShortChat)
    gate = threading.Event()
    app = make_app(tiny_catalog, overview_source=held(gate, overview))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await pilot.pause()
            catalog = app.screen
            assert isinstance(catalog, CatalogScreen)
            assert catalog.query_one(DataTable).row_count == 0
            await pilot.press("slash", *"tiny-llama", "enter")  # the filter keeps one model
            # s, ? and a are the catalog's System, help and Arena keys: here, a question.
            await burst(pilot, "c", *"is a sign?", "enter", *"then more")
            assert app.screen is catalog
            line = waiting_line(catalog)
            assert "Chat with tiny-llama opens once the catalog is read" in line
            assert "Question waiting: is a sign?" in line and "then more" in line

            gate.set()
            await rows_shown(pilot)
            chat = app.screen
            assert isinstance(chat, ShortChat) and chat.entry.id == "tiny-llama"
            assert app.screen_stack == [catalog, chat]  # nothing else opened
            await asyncio.wait_for(chat.replied.wait(), 300)  # (a safety net: a busy CPU)
            await pilot.pause()
            assert not chat.query(QueuedTurn)
            assert [u.content_text for u in chat.query(UserTurn)] == ["is a sign?"]
            assert chat.query(ReplyTurn).last().text  # the answer, from the real worker
            assert [t.role for t in chat.conversation.turns] == ["user", "assistant"]
            assert chat.query_one(PromptInput).text == "then more"  # typed after Enter
            assert not catalog.query_one(OpenWait).display
        finally:
            gate.set()


@pytest.mark.parametrize(
    ("opener", "opens"), [("e", EvaluateScreen), ("enter", DetailsScreen)], ids=["e", "enter"]
)
async def test_e_and_enter_before_the_rows_open_their_screen_on_the_first_model(opener, opens):
    gate = threading.Event()
    app = make_app(overview_source=held(gate))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await pilot.pause()
            catalog = app.screen
            assert isinstance(catalog, CatalogScreen)
            await burst(pilot, opener, *"hello", "enter")
            assert app.screen is catalog
            line = waiting_line(catalog)
            bundled = app.catalog.default()
            assert bundled.name in line and "Typed meanwhile (not passed on): hello⏎" in line

            gate.set()
            await rows_shown(pilot)
            assert isinstance(app.screen, opens)  # not closed by the Enter typed after
            assert app.screen_stack == [catalog, app.screen]
            model = app.screen.row.entry if opens is DetailsScreen else app.screen.entry
            assert model.id == bundled.id  # the row highlighted once the rows are in
            assert any("hello⏎" in n for n in notes(app) if n.startswith("Not passed on"))
        finally:
            gate.set()


@pytest.mark.parametrize(
    ("opener", "says"),
    [
        ("a", "is the Arena's first side"),
        ("d", "is not downloaded from the Hub: it comes with the app"),
    ],
    ids=["a", "d"],
)
async def test_a_and_d_before_the_rows_act_on_the_bundled_model_and_say_so(opener, says):
    gate = threading.Event()
    app = make_app(overview_source=held(gate))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await pilot.pause()
            catalog = app.screen
            await pilot.press(opener)
            await pilot.pause()
            assert app.catalog.default().name in waiting_line(catalog)
            assert not [n for n in notes(app) if says in n]
            gate.set()
            await rows_shown(pilot)
            assert app.screen is catalog
            bundled = app.catalog.default()  # named by its id (Arena) or its name
            assert [n for n in notes(app) if says in n and (bundled.id in n or bundled.name in n)]
        finally:
            gate.set()


async def test_esc_cancels_what_waits_for_the_rows_and_says_so():
    gate = threading.Event()
    app = make_app(overview_source=held(gate))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await pilot.pause()
            catalog = app.screen
            await burst(pilot, "c", *"hi", "escape")
            assert not catalog.query_one(OpenWait).display
            [note] = [n for n in notes(app) if n.startswith("Cancelled")]
            assert "Chat with" in note and "Typed meanwhile: hi" in note
            gate.set()
            await rows_shown(pilot)
            assert app.screen is catalog  # nothing opened when the rows came
        finally:
            gate.set()


async def test_a_letter_that_is_no_catalog_key_shows_in_the_filter():
    gate = threading.Event()
    app = make_app(overview_source=held(gate))
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await pilot.pause()
            catalog = app.screen
            await pilot.press("t", "i")  # no key of the catalog's: the start of a search
            await pilot.pause()
            box = catalog.query_one("#filter", Input)
            assert box.display and box.value == "ti"
            gate.set()
            await rows_shown(pilot)
            assert box.value == "ti" and app.screen is catalog
            shown = catalog.query_one(DataTable).row_count
            assert 0 < shown < len(app.catalog)  # filtered, and the filter says why
        finally:
            gate.set()


async def test_a_question_typed_at_once_after_c_on_the_rows_reaches_the_chat(tiny_catalog: Path):
    # The rows are in; c and the question arrive in one read. The chat takes the focus as
    # it opens, before the app passes on the letters queued behind c.
    app = make_app(tiny_catalog, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        catalog = app.screen
        await pilot.press("slash", *"tiny-llama", "enter")
        await burst(pilot, "c", *"is a sign?", "enter")
        await pilot.pause()  # (the chat queues the question it was sent)
        chat = app.screen
        assert isinstance(chat, ChatScreen) and app.screen_stack == [catalog, chat]
        sent = [q.content_text for q in chat.query(QueuedTurn)]
        sent += [u.content_text for u in chat.query(UserTurn)]
        assert sent == ["is a sign?"] and chat.query_one(PromptInput).text == ""


async def test_keys_wait_for_the_rows_shown_not_for_rows_the_app_keeps_meanwhile():
    # A read asked for during the first one follows it: the first rows are kept by the app
    # but not shown until then. c waits for the rows on the screen, as the user does.
    gates = [threading.Event(), threading.Event()]
    asked = [threading.Event(), threading.Event()]
    calls = []

    def read(catalog, precision, device, runtime="auto"):
        n = min(len(calls), 1)
        calls.append(n)
        asked[n].set()
        gates[n].wait(60)  # (only a safety net: the test opens the gates)
        return fixed_overview(catalog, precision, device, runtime=runtime)

    app = make_app(overview_source=read)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await asyncio.to_thread(asked[0].wait, 60)
            app.overview.refresh()  # (as the app does when something changed meanwhile)
            gates[0].set()
            await asyncio.to_thread(asked[1].wait, 60)  # the first rows are kept now
            await pilot.pause()
            catalog = app.screen
            assert app.overview.rows is not None and catalog.query_one(DataTable).row_count == 0
            await burst(pilot, "e", *"hi")
            assert "Typed meanwhile (not passed on): hi" in waiting_line(catalog)
            gates[1].set()
            await rows_shown(pilot)
            assert isinstance(app.screen, EvaluateScreen)
        finally:
            for gate in gates:
                gate.set()
