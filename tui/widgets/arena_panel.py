"""One side of the Arena: its own worker (a ModelSession), its own history, its transcript
and a state line with the last reply's figures.

A side runs jobs in a thread: load the model if it is not loaded, answer a conversation,
and (when the pair takes turns) end the worker afterwards. The worker's events come back
as the app's usual messages, posted to this panel; when a job ends the panel posts
JobEnded, which bubbles to the screen that coordinates both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual import work
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from engine.arena import SideConfig
from engine.catalog import ModelEntry
from engine.settings import Conversation, GenerationSettings
from tui import messages as m
from tui.load_text import loading_text
from tui.safe_text import plain
from tui.session import ModelSession
from tui.widgets.transcript import ReplyTurn, Transcript

Phase = Literal["unloaded", "loading", "ready", "answering", "failed", "died"]


class ArenaPanel(Vertical):
    DEFAULT_CSS = """
    ArenaPanel { width: 1fr; height: 1fr; border: round $panel-lighten-2; }
    ArenaPanel:focus-within { border: round $accent; }
    ArenaPanel .state { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    ArenaPanel .state.error { color: $error; text-style: bold; }
    /* the state line carries the figures; a failure is added as a notice */
    ArenaPanel ReplyTurn .stats { display: none; }
    """

    @dataclass
    class JobEnded(Message):
        panel: ArenaPanel

    def __init__(
        self,
        entry: ModelEntry,
        config: SideConfig,
        session: ModelSession,
        catalog_path: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entry, self.config, self.session = entry, config, session
        self.options = config.load_options(catalog_path)
        # Base models continue text; chat needs an instruction-tuned model.
        self.raw = entry.is_base and entry.kind == "causal"
        self.conversation = Conversation()
        self.stats: list[dict[str, Any] | None] = []  # per assistant turn, for saving
        self.overrides: dict[str, Any] = {}  # this side's own generation settings
        self.phase: Phase = "unloaded"
        self.letter = "?"
        self.hidden = False
        self.busy = False
        self.answered = False  # this round ended with a reply (finished or stopped)
        self.last_reply = ""
        self.last_stats: tuple[Any, bool] | None = None  # (ReplyStats, cancelled)
        self._reply: ReplyTurn | None = None
        self._pending: Conversation | None = None
        self._round: list[Widget] = []
        self._round_start: tuple[Conversation, int] = (self.conversation, 0)

    def compose(self):
        yield Transcript()
        yield Static(classes="state")

    def on_mount(self) -> None:
        self.show_name(self.letter, self.hidden)
        self.set_state("not loaded yet")

    # ---- what the panel shows ----------------------------------------------------------

    def identity(self) -> str:
        """'tiny-llama · fp32 · transformers': what ran when known, else what was asked."""
        from engine.results.arena import player_name

        return player_name(self.config.record(self.session.info))

    def show_name(self, letter: str, hidden: bool) -> None:
        self.letter, self.hidden = letter, hidden
        self.set_class(hidden, "-hidden")
        self.border_title = plain(letter if hidden else f"{letter} · {self.identity()}")
        if not hidden and self.last_stats is not None and self.phase == "ready":
            self.show_stats(*self.last_stats)

    def set_state(self, text: str | Text, error: bool = False) -> None:
        state = self.query_one(".state", Static)
        state.set_class(error, "error")
        state.update(plain(text) if isinstance(text, str) else text)

    def show_stats(self, stats, cancelled: bool) -> None:
        if self.hidden:
            self.set_state(f"answered: {stats.new_tokens} tokens · figures shown after the vote")
            return
        self.set_state(
            compact_stats(stats, cancelled, self.identity().split(" · ", 1)[1].replace(" · ", " "))
        )

    # ---- rounds ------------------------------------------------------------------------

    async def begin_round(self, text: str) -> Conversation:
        """Show the user's turn and an empty reply; return the conversation to answer."""
        self._round_start = (self.conversation, len(self.stats))
        if self.raw:
            conversation = Conversation(turns=()).add("user", text)
        else:
            conversation = self.conversation.add("user", text)
        transcript = self.query_one(Transcript)
        self._round = [await transcript.add_user(text)]
        self._reply = await transcript.add_reply()
        self._round.append(self._reply)
        self._pending = conversation
        self.answered = False
        return conversation

    async def rollback(self) -> None:
        """Forget the last round: its turns, its reply, its figures."""
        for widget in self._round:
            await widget.remove()
        self._round = []
        self.conversation, kept = self._round_start
        del self.stats[kept:]

    async def skip_round(self, why: str) -> None:
        """The round was stopped before this side's turn came."""
        if self._reply is not None:
            await self._reply.finish(None, cancelled=True)
        self._reply = self._pending = None
        self.set_state(why)

    async def clear(self) -> None:
        self.conversation = Conversation()
        self.stats = []
        self.last_stats, self.last_reply = None, ""
        self._round = []
        self._reply = self._pending = None
        await self.query_one(Transcript).remove_children()

    def settings(self, shared: GenerationSettings) -> GenerationSettings:
        return shared.with_values(**self.overrides) if self.overrides else shared

    # ---- jobs in a thread --------------------------------------------------------------

    def start(
        self,
        conversation: Conversation | None,
        settings: GenerationSettings,
        unload_after: bool = False,
    ) -> None:
        """Load if needed, answer ``conversation`` (None: only load), then end the worker
        when ``unload_after`` (the sides take turns)."""
        self.busy = True
        if not self.session.is_loaded(self.options):
            self.phase = "loading"
            self.set_state("loading …" if self.hidden else f"loading {self.config.label()} …")
        self._job(conversation, settings, unload_after)

    @work(thread=True, exclusive=True, group="arena-job", exit_on_error=False)
    def _job(
        self, conversation: Conversation | None, settings: GenerationSettings, unload_after: bool
    ) -> None:
        post = self.post_message
        try:
            if not self.session.is_loaded(self.options):
                self.session.load(self.options, post)
                if not self.session.is_loaded(self.options):
                    return  # failed or stopped: the messages say which
            if conversation is not None:
                self.session.generate(conversation, settings, self.raw, post)
            if unload_after:
                self.session.close()
        finally:
            post(self.JobEnded(self))

    def cancel(self) -> None:
        self.session.cancel()

    def on_arena_panel_job_ended(self, message: JobEnded) -> None:
        # Not stopped: it bubbles on to the screen, which coordinates both sides.
        self.busy = False
        if self.phase in ("ready", "answering", "loading"):
            self.phase = "ready" if self.session.state == "ready" else "unloaded"

    # ---- the worker's events -----------------------------------------------------------

    def on_load_stage(self, message: m.LoadStage) -> None:
        message.stop()
        self.set_state(loading_text(message.stage, message.fraction))

    def on_model_loaded(self, message: m.ModelLoaded) -> None:
        message.stop()
        self.phase = "ready"
        self.show_name(self.letter, self.hidden)
        info = message.info
        if self.hidden:
            self.set_state("ready")
        else:
            self.set_state(
                f"ready · {info.device_name or info.device} · {info.size_mb:.0f} MB "
                f"· loaded in {info.load_seconds:.1f} s"
            )

    async def on_load_failed(self, message: m.LoadFailed) -> None:
        message.stop()
        died = message.kind == "died"  # its message already offers ctrl+r
        self.phase = "died" if died else "failed"
        self.set_state(
            message.message if died else f"not loaded: {message.message} — ctrl+r retries",
            error=True,
        )
        if self._reply is not None:
            await self._reply.fail(message.message)
        await self.query_one(Transcript).add_notice(message.message, error=True)
        self._reply = self._pending = None

    async def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        message.stop()
        if self.phase != "answering":
            self.phase = "answering"
            self.set_state("answering …")
        if self._reply is not None:
            await self._reply.write(message.text)

    async def on_reply_trimmed(self, message: m.ReplyTrimmed) -> None:
        message.stop()
        await self.query_one(Transcript).add_notice(
            f"The {message.dropped_turns} oldest turn(s) were left out to fit the context."
        )

    async def on_reply_finished(self, message: m.ReplyFinished) -> None:
        message.stop()
        reply, pending = self._reply, self._pending
        self._reply = self._pending = None
        if reply is None:
            return
        await reply.finish(message.stats, message.cancelled)
        if message.stats is None:  # a load stopped before any reply
            self.phase = "unloaded"
            self.set_state("stopped while loading")
            return
        self.phase = "ready"
        self.answered = True
        self.last_reply = reply.text
        self.last_stats = (message.stats, message.cancelled)
        if pending is not None:
            self.conversation = pending.add("assistant", reply.text)
            self.stats.append(dict(message.stats.__dict__))
        self.show_stats(message.stats, message.cancelled)

    async def on_reply_failed(self, message: m.ReplyFailed) -> None:
        message.stop()
        reply = self._reply
        self._reply = self._pending = None
        if reply is not None:
            await reply.fail(message.message)
        await self.query_one(Transcript).add_notice(message.message, error=True)
        if message.kind == "died":
            self.phase = "died"
            self.set_state(message.message, error=True)
            self.show_name(self.letter, self.hidden)
        else:
            self.phase = "ready"
            self.set_state(f"no reply: {message.message}", error=True)

    def close(self) -> None:
        self.session.close()


def compact_stats(stats, cancelled: bool, how: str) -> Text:
    """'9 tokens · 35.2 tok/s · first 55 ms · peak 612 MB · fp32 transformers'."""
    parts = [f"{stats.new_tokens} tokens", f"{stats.tokens_per_s:.1f} tok/s"]
    if stats.time_to_first_token_s is not None:
        parts.append(f"first {stats.time_to_first_token_s * 1000:.0f} ms")
    if stats.peak_memory_mb:
        parts.append(f"peak {stats.peak_memory_mb:.0f} MB")
    parts.append(how)
    if cancelled:
        parts.append("stopped")
    return Text(" · ".join(parts), style="dim")
