"""The Arena: one prompt, two models (or one model in two configurations) side by side.

Each side has its own worker, history and figures (tui.widgets.arena_panel, around the
conversation view Chat uses). When the pair fits in memory together both answer at once;
otherwise they take turns, the loaded side first, each worker ended before the other loads
(engine.chat.arena.schedule, as the `arena` command does). Blind mode shows the sides as A and
B in random order with names hidden until the vote; votes go to the results store and
make the leaderboard (Compare, `smollm-tui report --arena`).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from engine.catalog.entries import ModelEntry
from engine.chat.arena import PairPlan, SideConfig, SideTranscript, Turn, schedule
from engine.settings import Conversation, GenerationSettings
from tui import messages as m
from tui.app_api import smollm_app
from tui.session import ModelSession
from tui.widgets.arena_panel import ArenaPanel
from tui.widgets.arena_vote import VoteBar
from tui.widgets.conversation import ConversationView
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.prompt_input import PromptInput

Planner = Callable[[tuple[ModelEntry, ModelEntry], tuple[SideConfig, SideConfig]], PairPlan]


class ArenaScreen(Screen):
    panel_class = ArenaPanel  # tests watch the panels through a subclass
    DEFAULT_CSS = """
    ArenaScreen #plan { height: 1; padding: 0 1; background: $boost; }
    ArenaScreen #sides { height: 1fr; }
    ArenaScreen.-narrow #sides { layout: vertical; }
    ArenaScreen PromptInput { min-height: 3; max-height: 5; }
    """
    BINDINGS = [
        Binding("escape", "stop_or_back", "Stop / back"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("ctrl+b", "toggle_blind", "Blind"),
        Binding("ctrl+g", "settings", "Settings"),
        Binding("ctrl+s", "save", "Save", show=False),
        Binding("ctrl+l", "clear", "Clear / new round", show=False),
    ]

    def __init__(
        self,
        entries: tuple[ModelEntry, ModelEntry],
        configs: tuple[SideConfig, SideConfig],
        *,
        client_factory: Callable[..., Any] | None = None,
        planner: Planner | None = None,
        rng: random.Random | None = None,
    ):
        super().__init__()
        self.entries, self.configs = entries, configs
        self._client_factory = client_factory
        self._planner = planner
        self.rng = rng or random.Random()
        self.panels: list[ArenaPanel] = []
        self.shown: list[ArenaPanel] = []  # display order: shown[0] is A
        self.plan: PairPlan | None = None
        self.settings = GenerationSettings()
        self.blind = False
        self.hidden = False  # blind and not yet voted
        self.voted = False
        self.prompt = ""  # the last round's prompt
        self.queue: list[list[Turn[ArenaPanel]]] = []  # the round's waves still to run
        self.asked: dict[ArenaPanel, Conversation] = {}  # what each side of the round answers
        self.in_round: list[ArenaPanel] = []
        self.last_round: list[ArenaPanel] = []  # the sides that took part in the last one

    def compose(self) -> ComposeResult:
        catalog_path = getattr(self.app, "catalog_path", None)
        self.panels = [
            self.panel_class(
                entry,
                config,
                ModelSession(catalog_path, self._client_factory),
                catalog_path,
                id=f"side-{index}",
            )
            for index, (entry, config) in enumerate(zip(self.entries, self.configs, strict=True))
        ]
        self.shown = list(self.panels)
        yield Header()
        yield Static(id="plan")
        with Horizontal(id="sides"):
            yield from self.panels
        yield VoteBar()
        yield PromptInput(id="prompt")
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Arena"
        self.name_sides()
        self.show_plan()
        self._make_plan()
        self.query_one(PromptInput).focus()

    def on_unmount(self) -> None:
        panels = list(self.panels)

        # Ending a worker waits for it; the screen is already gone, the UI must not wait.
        def close_all() -> None:
            for panel in panels:
                panel.close()

        threading.Thread(target=close_all, daemon=True, name="arena-close").start()

    # ---- memory plan -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="arena-plan", exit_on_error=False)
    def _make_plan(self) -> None:
        plan = (self._planner or self._default_plan)(self.entries, self.configs)
        self.post_message(m.PairPlanned(plan))

    def on_pair_planned(self, message: m.PairPlanned) -> None:
        self.plan_ready(message.plan)

    def _default_plan(self, entries, configs) -> PairPlan:
        from engine.chat.arena import plan_pair

        return plan_pair(entries, configs, rows_for=smollm_app(self).overview_source)

    def plan_ready(self, plan: PairPlan) -> None:
        self.plan = plan
        self.show_plan()
        first = [turn.side for turn in schedule(plan, self.panels)[0]]
        for panel in first:
            panel.start(None, panel.settings(self.settings))
        for panel in self.panels[len(first) :]:
            panel.set_state("loads on its turn (one after the other)")

    def show_plan(self) -> None:
        text = Text()
        if self.blind:
            text.append(
                "blind" if self.hidden else "blind, revealed",
                style="bold yellow" if self.hidden else "yellow",
            )
            text.append(" · ")
        if self.plan is None:
            text.append("checking memory …", style="dim")
        else:
            text.append(self.plan.describe(), style="" if self.plan.together else "yellow")
        self.query_one("#plan", Static).update(text)

    def name_sides(self) -> None:
        for letter, panel in zip("AB", self.shown, strict=True):
            panel.show_name(letter, self.hidden)
        self.sub_title = (
            "blind: names hidden until the vote"
            if self.hidden
            else " vs ".join(p.config.label() for p in self.shown)
        )

    # ---- rounds ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self.queue) or any(p.busy for p in self.panels)

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.busy:
            self.notify("A side is still loading or answering: wait, or press Esc to stop.")
            return
        if self.plan is None:
            self.notify("Still checking memory: try again in a moment.")
            return
        if await self.start_round(message.text):
            message.prompt_input.clear()

    async def start_round(self, text: str) -> bool:
        sides = [p for p in self.shown if p.phase not in ("failed", "died")]
        if not sides:
            self.notify(
                "Neither side is loaded: press ctrl+r to load them again.", severity="warning"
            )
            return False
        for panel in self.shown:
            if panel not in sides:
                panel.set_state("not loaded: ctrl+r loads it again", error=True)
        self.prompt = text
        self.query_one(VoteBar).close()
        self.asked = {p: await p.begin_round(text) for p in sides}
        self.in_round, self.last_round = list(sides), list(sides)
        # (a round waits for the plan; none would read as one after the other, the safe way)
        plan = self.plan or PairPlan(False, (None, None), None)
        self.queue = schedule(plan, sides, loaded=lambda p: p.session.state == "ready")
        for wave in self.queue[1:]:
            for turn in wave:
                turn.side.set_state("waits for its turn (one after the other)")
        self._next_turn()
        return True

    def _next_turn(self) -> None:
        if not self.queue or any(p.busy for p in self.panels):
            return
        for turn in self.queue.pop(0):
            panel = turn.side
            panel.start(
                self.asked[panel], panel.settings(self.settings), unload_after=turn.unload_after
            )

    def on_conversation_view_job_ended(self, message: ConversationView.JobEnded) -> None:
        if self.queue:
            self._next_turn()
            return
        if self.busy or not self.in_round:
            return
        sides, self.in_round = self.in_round, []
        if self.hidden and not self.voted and len(sides) == 2 and all(p.answered for p in sides):
            self.query_one(VoteBar).open()
        elif not self.query_one(VoteBar).is_open:
            self.query_one(PromptInput).focus()

    # ---- blind votes -------------------------------------------------------------------

    def action_toggle_blind(self) -> None:
        if self.busy:
            self.notify("Wait for the replies (or press Esc) first.")
            return
        self.blind = not self.blind
        if self.blind:
            self.run_worker(self.new_round(), exclusive=True, group="arena-round")
            self.notify(
                "Blind mode: A and B are in random order, their names hidden until "
                "you vote. Ask something; then a, b, t (tie) or n (both bad).",
                timeout=8,
            )
        else:
            self.hidden = False
            self.query_one(VoteBar).close()
            self.name_sides()
            self.show_plan()
            self.notify("Blind mode off: names shown.", timeout=3)

    async def new_round(self) -> None:
        """A fresh start: both histories cleared; in blind mode, a new random order."""
        for panel in self.panels:
            await panel.clear()
        self.query_one(VoteBar).close()
        self.prompt, self.last_round = "", []
        if self.blind:
            self.shown = list(self.panels)
            self.rng.shuffle(self.shown)
            sides = self.query_one("#sides", Horizontal)
            sides.move_child(self.shown[0], before=self.shown[1])
            self.hidden, self.voted = True, False
        self.name_sides()
        self.show_plan()
        for panel in self.panels:
            if panel.phase not in ("failed", "died", "loading"):
                panel.set_state("ready" if panel.session.state == "ready" else "loads on its turn")
        self.query_one(PromptInput).focus()

    def on_vote_bar_voted(self, message: VoteBar.Voted) -> None:
        a, b = self.shown
        from engine.results.arena import ArenaVote, player_name

        records = [p.config.record(p.session.info) for p in (a, b)]
        vote = ArenaVote(
            prompt=self.prompt,
            outcome=message.outcome,
            player_a=player_name(records[0]),
            player_b=player_name(records[1]),
            config_a=records[0],
            config_b=records[1],
            settings_a=dataclasses.asdict(a.settings(self.settings)),
            settings_b=dataclasses.asdict(b.settings(self.settings)),
            reply_a=a.last_reply,
            reply_b=b.last_reply,
            blind=True,
        )
        self.voted, self.hidden = True, False
        self.query_one(VoteBar).close()
        self.name_sides()
        self.show_plan()
        self._store_vote(vote)
        self.query_one(PromptInput).focus()

    @work(thread=True, group="arena-store", exit_on_error=False)
    def _store_vote(self, vote) -> None:
        from engine.results.arena import OUTCOME_LABELS, add_vote
        from engine.results.store import ResultsStore

        with ResultsStore() as store:
            add_vote(store, vote)
        self.notify(  # a message to the app: safe from this thread
            f"{OUTCOME_LABELS[vote.outcome]}. A was {vote.player_a}, B was "
            f"{vote.player_b}. ctrl+l starts a new blind round.",
            title="Vote stored",
            timeout=10,
            markup=False,
        )

    # ---- keys --------------------------------------------------------------------------

    async def action_stop_or_back(self) -> None:
        if not self.busy:
            self.app.pop_screen()
            return
        waiting, self.queue = self.queue, []
        for wave in waiting:
            for turn in wave:
                await turn.side.skip_round("stopped before its turn")
        for panel in self.panels:
            if panel.busy:
                panel.cancel()

    async def action_regenerate(self) -> None:
        if self.busy:
            return
        dead = [p for p in self.panels if p.phase in ("failed", "died")]
        if dead:
            for panel in dead:
                panel.phase = "unloaded"
                if self.plan is not None and (
                    self.plan.together or not any(p.session.state == "ready" for p in self.panels)
                ):
                    panel.start(None, panel.settings(self.settings))
                else:
                    panel.set_state("loads on its turn (one after the other)")
            return
        if not self.prompt:
            self.notify("Nothing to regenerate yet.")
            return
        for panel in self.last_round:  # a side that sat the last round out keeps its own
            await panel.rollback()
        await self.start_round(self.prompt)

    async def action_clear(self) -> None:
        if self.busy:
            await self.action_stop_or_back()
            return
        await self.new_round()

    def action_settings(self) -> None:
        from tui.widgets.arena_settings import ArenaSettingsScreen

        a, b = self.shown

        def keep(result) -> None:
            if result is not None:
                self.settings, a.overrides, b.overrides = result
                self.notify("Settings kept: they apply to the next reply.", timeout=3)

        self.app.push_screen(
            ArenaSettingsScreen(self.settings, (a.overrides, b.overrides), (a.letter, b.letter)),
            keep,
        )

    def action_save(self) -> None:
        if not any(p.conversation.turns for p in self.panels):
            self.notify("Nothing to save yet.")
            return
        sides = [
            SideTranscript(
                p.letter,
                p.config.record(p.session.info),
                p.settings(self.settings),
                p.conversation,
                list(p.stats),
                p.raw,
            )
            for p in self.shown
        ]
        self._save(sides, self.blind)

    @work(thread=True, group="arena-store", exit_on_error=False)
    def _save(self, sides, blind: bool) -> None:
        from engine.chat.arena import save_pair
        from engine.chat.transcripts import save_failure

        try:
            md_path, json_path = save_pair(sides, blind=blind)
        except OSError as exc:
            self.notify(
                f"{save_failure(exc, 'the pair')}. The chats are kept: ctrl+s tries again.",
                title="Arena not saved",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        self.notify(  # a message to the app: safe from this thread
            f"Saved {md_path}\nand {json_path.name}",
            title="Arena saved",
            timeout=10,
            markup=False,
        )
