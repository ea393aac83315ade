"""ctrl+s on a full disk, in the real app with the real worker: one notification naming
the full disk, the chat kept on screen, no empty transcript left, and ctrl+s saves once
there is room again. The disk is made full with RLIMIT_FSIZE (past it, write() fails
with EFBIG as it fails with ENOSPC on a full file system)."""

from __future__ import annotations

import contextlib
import resource
import signal
from pathlib import Path

from app_fixtures import make_app, notes
from test_app_chat import open_chat, send

from engine.chat.transcripts import transcripts_dir
from tui.screens.chat import ChatScreen
from tui.widgets.transcript import ReplyTurn, UserTurn


@contextlib.contextmanager
def full_disk(room: int = 64):
    """Files of this process cannot grow past ``room`` bytes (only ours: the worker, a
    separate process started before, is not limited)."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)


async def test_ctrl_s_on_a_full_disk_says_so_and_keeps_the_chat(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await open_chat(pilot, "tiny-llama")
        await send(pilot, "Hello")
        turns = screen.conversation.turns
        assert len(turns) == 2

        with full_disk():
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()  # the save runs in a thread
        await pilot.pause()
        last = notes(app)[-1]
        assert last.startswith("could not save the transcript: the disk holding ")
        assert "is full; free some space" in last and "The chat is kept" in last
        assert app.screen is screen and isinstance(screen, ChatScreen)  # the app goes on
        assert screen.conversation.turns == turns
        assert len(screen.query(UserTurn)) == 1 and len(screen.query(ReplyTurn)) == 1
        assert list(transcripts_dir().iterdir()) == []  # no empty .md left behind

        await pilot.press("ctrl+s")  # room again: the same chat is saved
        await app.workers.wait_for_complete()
        [md] = transcripts_dir().glob("*-tiny-llama.md")
        assert "Hello" in md.read_text() and md.with_suffix(".json").stat().st_size > 0
        assert notes(app)[-1].startswith("Saved ")


async def test_the_arenas_ctrl_s_on_a_full_disk_says_so_and_keeps_both_chats(
    tiny_catalog: Path,
):
    from test_arena_app import TOGETHER, ask, open_arena, settle

    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await open_arena(pilot, TOGETHER)
        await ask(pilot, "Hello there")
        kept = [panel.conversation.turns for panel in screen.panels]
        assert all(len(turns) == 2 for turns in kept)

        with full_disk():
            await pilot.press("ctrl+s")
            await settle(pilot)  # the save runs in a thread
        last = notes(app)[-1]
        assert last.startswith("could not save the pair: the disk holding ")
        assert "is full; free some space" in last and "The chats are kept" in last
        assert app.screen is screen
        assert [panel.conversation.turns for panel in screen.panels] == kept
        assert list(transcripts_dir().iterdir()) == []

        await pilot.press("ctrl+s")
        await settle(pilot)
        [saved] = transcripts_dir().glob("*-arena-*.md")
        assert "Hello there" in saved.read_text() and notes(app)[-1].startswith("Saved ")
