"""One side of the Arena: a conversation view (tui.widgets.conversation: its own worker,
history, transcript, replies, their peak memory and speed rows, as Chat's) in the Arena's
chrome: the A/B name or the model's, the state line with the last reply's figures (hidden
until the vote in blind mode), and this side's own generation settings.

The view's messages bubble up here after the view has handled them; the panel shows them
on its state line and stops them. The view's JobEnded goes on to the screen, which
coordinates both sides.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from engine.catalog.entries import ModelEntry
from engine.chat.arena import SideConfig
from engine.settings import Conversation, GenerationSettings, LoadOptions
from tui import messages as m
from tui.load_text import loading_text
from tui.safe_text import plain
from tui.session import ModelSession
from tui.widgets.conversation import ConversationView, Phase


class ArenaPanel(Vertical):
    DEFAULT_CSS = """
    ArenaPanel { width: 1fr; height: 1fr; border: round $panel-lighten-2; }
    ArenaPanel:focus-within { border: round $accent; }
    ArenaPanel .state { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    ArenaPanel .state.error { color: $error; text-style: bold; }
    """

    def __init__(
        self,
        entry: ModelEntry,
        config: SideConfig,
        session: ModelSession,
        catalog_path: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entry, self.config = entry, config
        self.view = ConversationView(entry, config.load_options(catalog_path), session, paired=True)
        self.overrides: dict[str, Any] = {}  # this side's own generation settings
        self.letter = "?"
        self.hidden = False
        self._answering = False  # the state line says so (once a reply)

    def compose(self):
        yield self.view
        yield Static(classes="state")

    def on_mount(self) -> None:
        self.show_name(self.letter, self.hidden)
        self.set_state("not loaded yet")

    # The conversation's facts, as the screen reads them.
    @property
    def session(self) -> ModelSession:
        return self.view.session

    @property
    def options(self) -> LoadOptions:
        return self.view.options

    @property
    def raw(self) -> bool:
        return self.view.raw

    @property
    def conversation(self) -> Conversation:
        return self.view.conversation

    @property
    def stats(self) -> list[dict[str, Any] | None]:
        return self.view.stats

    @property
    def phase(self) -> Phase:
        return self.view.phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        self.view.phase = phase

    @property
    def busy(self) -> bool:
        return self.view.busy

    @property
    def answered(self) -> bool:
        return self.view.answered

    @property
    def last_reply(self) -> str:
        return self.view.last_reply

    # ---- what the panel shows ----------------------------------------------------------

    def identity(self) -> str:
        """'tiny-llama · fp32 · transformers': what ran when known, else what was asked."""
        from engine.results.arena import player_name

        return player_name(self.config.record(self.session.info))

    def show_name(self, letter: str, hidden: bool) -> None:
        self.letter, self.hidden = letter, hidden
        self.set_class(hidden, "-hidden")
        self.border_title = plain(letter if hidden else f"{letter} · {self.identity()}")
        if not hidden and self.view.last_stats is not None and self.phase == "ready":
            self.show_stats(*self.view.last_stats)

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
        return await self.view.ask(text)

    async def rollback(self) -> None:
        """Forget the last round: its turns, its reply, its figures."""
        await self.view.take_back()

    async def skip_round(self, why: str) -> None:
        """The round was stopped before this side's turn came."""
        await self.view.skip()
        self.set_state(why)

    async def clear(self) -> None:
        await self.view.clear()

    def settings(self, shared: GenerationSettings) -> GenerationSettings:
        return shared.with_values(**self.overrides) if self.overrides else shared

    def start(
        self,
        conversation: Conversation | None,
        settings: GenerationSettings,
        unload_after: bool = False,
    ) -> None:
        """Load if needed, answer ``conversation`` (None: only load), then end the worker
        when ``unload_after`` (the sides take turns)."""
        if not self.session.is_loaded(self.options):
            self.set_state("loading …" if self.hidden else f"loading {self.config.label()} …")
        self._answering = False
        self.view.start(conversation, settings, unload_after=unload_after)

    def cancel(self) -> None:
        self.view.cancel()

    def close(self) -> None:
        self.view.close()

    # ---- the worker's events, once the view has handled them ----------------------------

    def on_load_stage(self, message: m.LoadStage) -> None:
        message.stop()
        self.set_state(loading_text(message.stage, message.fraction))

    def on_model_loaded(self, message: m.ModelLoaded) -> None:
        message.stop()
        self.show_name(self.letter, self.hidden)
        info = message.info
        if self.hidden:
            self.set_state("ready")
        else:
            self.set_state(
                f"ready · {info.device_name or info.device} · {info.size_mb:.0f} MB "
                f"· loaded in {info.load_seconds:.1f} s"
            )

    def on_load_failed(self, message: m.LoadFailed) -> None:
        message.stop()
        died = message.kind == "died"  # its message already offers ctrl+r
        self.set_state(
            message.message if died else f"not loaded: {message.message} — ctrl+r retries",
            error=True,
        )

    def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        message.stop()
        if not self._answering:
            self._answering = True
            self.set_state("answering …")

    def on_reply_trimmed(self, message: m.ReplyTrimmed) -> None:
        message.stop()

    def on_reply_finished(self, message: m.ReplyFinished) -> None:
        message.stop()
        if message.stats is not None:
            self.show_stats(message.stats, message.cancelled)
        elif self.phase == "unloaded":  # the view's reply ended before its model loaded
            self.set_state("stopped while loading")

    def on_reply_failed(self, message: m.ReplyFailed) -> None:
        message.stop()
        if message.kind == "died":
            self.set_state(message.message, error=True)
            self.show_name(self.letter, self.hidden)
        else:
            self.set_state(f"no reply: {message.message}", error=True)


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
