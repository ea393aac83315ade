"""Downloads, deletes and remote-code consent from the catalog, with Pilot, against a real
HTTP server speaking the Hub's endpoints on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from app_fixtures import make_app, rows_shown
from hub_server import overlay_text

from engine.hub.downloads import FINAL_EVENTS
from engine.memory.overview import overview
from engine.models import consent
from tui.screens.catalog import CatalogScreen
from tui.screens.dialogs import ChoiceScreen


@pytest.fixture
def hub_overlay(local_hub, tmp_path: Path) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(overlay_text({"tiny-hub": "tests/tiny-llama"}, remote_code=("tiny-hub",)))
    return path


def row_of(screen: CatalogScreen, model_id: str):
    return next(r for r in screen.rows if r.entry.id == model_id)


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def select(pilot, text: str) -> None:
    await rows_shown(pilot)
    await pilot.press("slash", *text, "enter")
    await pilot.pause()


async def test_download_then_delete_from_the_catalog(hub_overlay: Path):
    app = make_app(hub_overlay, overview_source=overview)
    finished = asyncio.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        on_event = app.files.on_event

        def watch(event) -> None:
            on_event(event)
            if isinstance(event, FINAL_EVENTS):
                finished.set()

        app.files.on_event = watch
        screen = app.screen
        await select(pilot, "tiny-hub")
        assert row_of(screen, "tiny-hub").on_disk == "no"
        await pilot.press("c")  # not on disk: says so, opens nothing
        assert isinstance(app.screen, CatalogScreen)
        assert any("is not on disk: press d" in n for n in notes(app))

        await pilot.press("d")
        await asyncio.wait_for(finished.wait(), 60)
        await rows_shown(pilot)
        assert row_of(screen, "tiny-hub").on_disk == "yes"
        assert any("tiny-hub is on disk" in n for n in notes(app))
        await pilot.press("d")
        assert any("already on disk" in n for n in notes(app))

        await pilot.press("x")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.click("#choice-delete")
        await rows_shown(pilot)
        assert row_of(screen, "tiny-hub").on_disk == "no"
        assert any("Deleted tiny-hub" in n for n in notes(app))


async def test_remote_code_needs_consent_and_a_no_loads_nothing(hub_overlay: Path):
    from engine import hub
    from engine.catalog.entries import load_catalog

    entry = load_catalog(hub_overlay).get("tiny-hub")
    hub.download(entry)
    app = make_app(hub_overlay, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, "tiny-hub")
        await pilot.press("c")
        assert isinstance(app.screen, ChoiceScreen)
        assert "tiny-hub runs its own code" in app.screen.title_text
        await pilot.click("#choice-no")
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen)
        assert app.session.state == "none"
        assert consent.needs_consent(entry)
