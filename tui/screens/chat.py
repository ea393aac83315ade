"""Chat playground: streamed replies, stop at any time, generation controls."""

from __future__ import annotations

import time
from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from engine import preferences
from engine.catalog.entries import ModelEntry
from engine.chat.transcripts import save_failure, save_transcript
from engine.settings import Conversation, GenerationSettings, LoadOptions
from tui import messages as m
from tui.app_api import smollm_app
from tui.load_text import loading_text
from tui.reply_stats import threads_text
from tui.safe_text import plain, visible
from tui.screens.dialogs import TextEditScreen
from tui.widgets.conversation import ConversationView
from tui.widgets.gen_controls import GenerationControls
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.prompt_input import PromptInput
from tui.widgets.transcript import QueuedTurn, ReplyTurn, Transcript


class ChatScreen(Screen):
    DEFAULT_CSS = """
    ChatScreen #status { height: 1; padding: 0 1; background: $boost; }
    ChatScreen #context { height: 1; padding: 0 1; color: $text-muted; }
    ChatScreen.-narrow GenerationControls { display: none; }
    ChatScreen.-narrow.show-controls GenerationControls { display: block; width: 30; }
    ChatScreen.-wide.hide-controls GenerationControls { display: none; }
    """
    BINDINGS = [
        Binding("escape", "stop_or_back", "Stop / back"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+t", "toggle_raw", "Chat/raw"),
        Binding("ctrl+o", "system_prompt", "System prompt"),
        Binding("ctrl+g", "toggle_controls", "Settings"),
        Binding("ctrl+n", "cycle_runtime", "Runtime"),
    ]

    def __init__(self, entry: ModelEntry, options: LoadOptions):
        super().__init__()
        self.entry = entry
        # The conversation itself (the app's session, history, transcript, replies, their
        # peak memory and speed rows); this screen adds its status and context lines, the
        # question typed while loading, the controls and the keys.
        self.view = ConversationView(entry, options)
        self.settings = GenerationSettings()
        self._load_started = 0.0
        self._load_stage = ""  # what the load is doing, as the worker last said
        self._load_share: float | None = None  # and how much of it is done
        self._queued: QueuedTurn | None = None  # a question sent before the model was ready

    # What the conversation holds, under the names the screen's keys use.
    @property
    def options(self) -> LoadOptions:
        return self.view.options

    @options.setter
    def options(self, options: LoadOptions) -> None:
        self.view.options = options

    @property
    def conversation(self) -> Conversation:
        return self.view.conversation

    @conversation.setter
    def conversation(self, conversation: Conversation) -> None:
        self.view.conversation = conversation

    @property
    def raw(self) -> bool:
        return self.view.raw

    @raw.setter
    def raw(self, raw: bool) -> None:
        self.view.raw = raw

    @property
    def generating(self) -> bool:
        return self.view.generating

    @property
    def model_loading(self) -> bool:
        """This screen's load is under way (until Loaded / Failed)."""
        return self.view.phase == "loading"

    @property
    def dropped_turns(self) -> int:
        return self.view.dropped_turns

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical():
                yield Static(id="status")
                yield self.view
                yield Static(id="context")
                yield PromptInput(id="prompt")
            yield GenerationControls(self.settings, self.raw)
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Chat · {self.entry.name}"
        self.sub_title = f"{self.options.precision} · runtime {self.options.runtime}"
        self.update_context(0)
        # While a load runs, its line counts the seconds: a slow step still shows life.
        self._load_ticker = self.set_interval(1, self.show_loading, pause=True)
        self.ensure_loaded()
        # At once, not later in the app's queue (focus()): the keys typed right after c on
        # the catalog are already in that queue, and must reach the input.
        self.set_focus(self.query_one(PromptInput))

    # ---- loading -------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        session = smollm_app(self).session
        if session.is_loaded(self.options) and session.info is not None:
            self.view.phase = "ready"
            self.set_status(f"ready · {self.describe_loaded()}")
            self.query_one(GenerationControls).set_runtime(session.info.runtime)
        else:
            self._load_started = time.monotonic()
            fit = smollm_app(self).fit_text(self.entry)
            self._load_stage = (
                f"{self.entry.name} ({self.options.precision}, {self._runtime_label()}), {fit}"
            )
            self._load_share = None
            self.view.start(None, self.settings)  # the view is "loading" from here
            self.show_loading()
            self._load_ticker.resume()

    def on_load_stage(self, message: m.LoadStage) -> None:
        self._load_stage, self._load_share = message.stage, message.fraction
        self.show_loading()

    def show_loading(self) -> None:
        """The load's progress line (tui.load_text), its seconds ticking."""
        if not self.model_loading:
            return
        seconds = int(time.monotonic() - self._load_started)
        self.set_status(loading_text(self._load_stage, self._load_share, seconds))

    def load_ended(self) -> None:
        self._load_ticker.pause()

    async def on_model_loaded(self, message: m.ModelLoaded) -> None:
        self.load_ended()
        self.set_status(f"ready · {self.describe_loaded()}")
        self.query_one(GenerationControls).set_runtime(message.info.runtime)
        smollm_app(self).model_loaded(message.info)
        self.update_context(0)
        await self.send_queued()

    async def on_load_failed(self, message: m.LoadFailed) -> None:
        self.load_ended()
        self.withdraw_queued()
        self.set_status(f"not loaded: {message.message} · ctrl+r tries again", error=True)
        self.notify(
            message.message,
            title="Could not load the model",
            severity="error",
            timeout=10,
            markup=False,
        )

    def describe_loaded(self) -> str:
        info = smollm_app(self).session.info
        if info is None:
            return self.entry.name
        threads = threads_text(info)
        return (
            f"{info.runtime} · {info.model_id} · {info.precision} on "
            f"{info.device_name or info.device} · {info.size_mb:.0f} MB · "
            f"loaded in {info.load_seconds:.1f} s" + (f" · {threads}" if threads else "")
        )

    def _runtime_expected(self) -> str:
        """The runtime a load of this chat's options takes (auto resolved)."""
        from engine.runtimes.choice import runtime_expected

        return runtime_expected(self.entry, self.options.runtime, self.options.precision)

    def _runtime_label(self) -> str:
        asked, chosen = self.options.runtime, self._runtime_expected()
        return chosen if asked == chosen else f"{asked}: {chosen}"

    def set_status(self, text: str, error: bool = False) -> None:
        self.query_one("#status", Static).update(plain(text, "bold red" if error else ""))

    def update_context(self, used: int) -> None:
        info = smollm_app(self).session.info
        total = (
            info.context_length
            if info
            else min(self.entry.context_length, preferences.working_context_or_default())
        )
        text = Text(f"context {used} / {total} tokens · {'raw completion' if self.raw else 'chat'}")
        if self.dropped_turns:
            text.append(f" · {self.dropped_turns} old turn(s) dropped to fit", style="yellow")
        self.query_one("#context", Static).update(text)

    # ---- sending and streaming -----------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.generating:
            self.notify("A reply is still coming: press Esc to stop it first.")
            return
        if self._queued is not None:
            self.notify("A question is already waiting for the model: Esc withdraws it.")
            return
        if self.model_loading:  # keep it; it goes as soon as the model is ready
            message.prompt_input.clear()
            self._queued = await self.query_one(Transcript).add_queued(message.text)
            return
        if smollm_app(self).session.state not in ("ready",):
            self.notify("The model is not loaded: ctrl+r loads it again.", severity="warning")
            return
        message.prompt_input.clear()
        await self.send(message.text)

    async def send_queued(self) -> None:
        """Send the question that waited for the model, in its place in the transcript."""
        if self._queued is None:
            return
        if smollm_app(self).session.state != "ready" or self.generating:
            self.withdraw_queued()
            return
        queued, self._queued = self._queued, None
        await queued.remove()
        await self.send(queued.content_text)

    def withdraw_queued(self) -> None:
        """Take the waiting question out of the transcript and back into the input."""
        queued, self._queued = self._queued, None
        if queued is None:
            return
        queued.remove()
        prompt = self.query_one(PromptInput)
        rest = prompt.text
        prompt.text = queued.content_text + ("\n" + rest if rest.strip() else "")
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    async def type_ahead(self, question: str | None, text: str) -> None:
        """Keys typed for this chat before it opened (on the catalog, before its rows were
        read): the question goes as if sent here (it waits while the model loads), the
        rest stays in the input."""
        prompt = self.query_one(PromptInput)
        if question:
            prompt.text = question
            await self.on_prompt_input_submitted(PromptInput.Submitted(prompt, question))
        if text:  # after a question left in the input (refused), on its own line
            prompt.text = prompt.text + "\n" + text if prompt.text else text
        prompt.move_cursor(prompt.document.end)

    async def send(self, text: str) -> None:
        conversation = await self.view.ask(text)
        self.view.start(conversation, self.settings)

    async def on_reply_finished(self, message: m.ReplyFinished) -> None:
        # The view kept the reply, its peak and its speed row; here, the context line.
        if message.stats is not None:
            self.update_context(message.stats.prompt_tokens + message.stats.new_tokens)

    def on_reply_failed(self, message: m.ReplyFailed) -> None:
        if message.kind == "died":
            smollm_app(self).model_unloaded("the worker died")
            self.set_status(visible(message.message), error=True)
            self.notify(
                message.message, title="The model's worker died", severity="error", timeout=15
            )

    # ---- actions -------------------------------------------------------------------

    def action_stop_or_back(self) -> None:
        if self.generating:
            smollm_app(self).session.cancel()
        elif self._queued is not None:
            self.withdraw_queued()
            self.notify("Question withdrawn: it is back in the input.", timeout=3)
        else:
            self.app.pop_screen()

    async def action_regenerate(self) -> None:
        if self.generating or self.model_loading:
            return
        if smollm_app(self).session.state in ("died", "none"):  # died, or a load that failed
            self.ensure_loaded()
            return
        turns = self.conversation.turns
        if not turns or turns[-1].role != "assistant":
            self.notify("Nothing to regenerate yet.")
            return
        replies = self.query(ReplyTurn)
        if replies:
            await replies.last().remove()
        conversation = replace(self.conversation, turns=turns[:-1])
        await self.view.begin_reply(conversation)
        self.view.start(conversation, self.settings)

    async def action_clear(self) -> None:
        if self.generating:
            smollm_app(self).session.cancel()
        await self.view.clear()
        self.update_context(0)

    def action_save(self) -> None:
        if not self.conversation.turns:
            self.notify("Nothing to save yet.")
            return
        self._save(self.conversation, self.settings, self.raw)

    @work(thread=True, group="save", exit_on_error=False)
    def _save(self, conversation: Conversation, settings: GenerationSettings, raw: bool) -> None:
        """Disk work off the UI thread; a failed save (a full disk, a folder that cannot be
        written) is one notification, and the chat stays on screen to be saved again."""
        try:
            md_path, json_path = save_transcript(self.entry.id, conversation, settings, raw=raw)
        except OSError as exc:
            self.notify(  # a message to the app: safe from this thread
                f"{save_failure(exc)}. The chat is kept: ctrl+s tries again.",
                title="Transcript not saved",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        self.notify(
            f"Saved {md_path}\nand {json_path.name}",
            title="Transcript saved",
            timeout=10,
            markup=False,
        )

    def action_toggle_raw(self) -> None:
        self.query_one(GenerationControls).set_raw(not self.raw)

    def on_generation_controls_raw_toggled(self, message: GenerationControls.RawToggled) -> None:
        self.raw = message.raw
        self.update_context(0)

    def on_generation_controls_changed(self, message: GenerationControls.Changed) -> None:
        self.settings = message.settings

    def action_toggle_controls(self) -> None:
        """Show or hide the generation controls (hidden at first on narrow terminals)."""
        narrow = self.has_class("-narrow")
        self.toggle_class("show-controls" if narrow else "hide-controls")
        controls = self.query_one(GenerationControls)
        if controls.display:
            controls.query_one(Input).focus()
        else:
            self.query_one(PromptInput).focus()

    def action_cycle_runtime(self) -> None:
        """Reload this model on its other runtime; the conversation stays."""
        from engine.errors import SmollmError
        from engine.runtimes import runtime_named
        from engine.runtimes.choice import next_runtime

        if self.generating:
            self.notify("A reply is still coming: press Esc to stop it first.")
            return
        info = smollm_app(self).session.info
        loaded = info is not None and smollm_app(self).session.is_loaded(self.options)
        current = info.runtime if loaded and info else self._runtime_expected()
        try:
            following = next_runtime(self.entry, current)
        except SmollmError as exc:
            only = runtime_named(None).name
            self.notify(f"Only {only} here: {exc}", severity="warning", timeout=8, markup=False)
            return
        self.options = replace(self.options, runtime=following)
        self.sub_title = f"{self.options.precision} · runtime {following}"
        self.notify(f"Runtime: {following}", timeout=2)
        self.ensure_loaded()

    def action_system_prompt(self) -> None:
        def keep(text: str | None) -> None:
            if text is not None:
                self.conversation = replace(self.conversation, system=text)
                self.notify("System prompt set." if text else "System prompt cleared.")

        self.app.push_screen(TextEditScreen("System prompt", self.conversation.system), keep)
