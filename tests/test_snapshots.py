"""SVG snapshots of every screen at 80x24 and 120x40 (baselines in tests/__snapshots__)."""

from __future__ import annotations

import pytest
from app_fixtures import make_app, make_scripted_app, rows_shown, steady

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_catalog(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=rows_shown)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_help(snap_compare, size):
    assert snap_compare(
        make_app(), terminal_size=size, press=["question_mark"], run_before=rows_shown
    )


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_chat_mid_conversation(snap_compare, size):
    async def converse(pilot):
        await rows_shown(pilot)
        await pilot.press("c")
        await pilot.pause()  # the chat screen mounts and starts loading
        await pilot.app.workers.wait_for_complete()
        await pilot.press(*"What is the capital of France?", "enter")
        await pilot.app.workers.wait_for_complete()
        await steady(pilot)

    assert snap_compare(make_scripted_app(), terminal_size=size, run_before=converse)
