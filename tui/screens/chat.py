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
from engine.catalog import ModelEntry
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.telemetry.peak import PeakTracker, finish_peak
from engine.transcripts import save_failure, save_transcript
from tui import messages as m
from tui.app_api import smollm_app
from tui.load_text import loading_text
from tui.reply_stats import threads_text
from tui.safe_text import plain, visible
from tui.screens.dialogs import TextEditScreen
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
        self.options = options
        self.conversation = Conversation()
        self.settings = GenerationSettings()
        # Base models continue text; chat needs an instruction-tuned model.
        self.raw = entry.is_base and entry.kind == "causal"
        self.generating = False
        self.model_loading = False  # this screen's load is under way (until Loaded / Failed)
        self._load_started = 0.0
        self._load_stage = ""  # what the load is doing, as the worker last said
        self._load_share: float | None = None  # and how much of it is done
        self._queued: QueuedTurn | None = None  # a question sent before the model was ready
        self.dropped_turns = 0
        self._reply: ReplyTurn | None = None
        self._pending: Conversation | None = None
        self._peak: PeakTracker | None = None  # board peaks during the reply in flight

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical():
                yield Static(id="status")
                yield Transcript()
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
            self.set_status(f"ready · {self.describe_loaded()}")
            self.query_one(GenerationControls).set_runtime(session.info.runtime)
        else:
            self.model_loading = True
            self._load_started = time.monotonic()
            fit = smollm_app(self).fit_text(self.entry)
            self._load_stage = (
                f"{self.entry.name} ({self.options.precision}, {self._runtime_label()}), {fit}"
            )
            self._load_share = None
            self.show_loading()
            self._load_ticker.resume()
            self._load()

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def _load(self) -> None:
        try:
            smollm_app(self).session.load(self.options, self.post_message)
        except Exception as exc:  # a waiting question must not wait for ever
            self.post_message(m.LoadFailed(str(exc) or type(exc).__name__, "error"))

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
        self.model_loading = False
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
        await self.query_one(Transcript).add_notice(message.message, error=True)
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

    def _runtime_label(self) -> str:
        from engine.runtimes.choice import runtime_expected

        asked = self.options.runtime
        chosen = runtime_expected(self.entry, asked, self.options.precision)
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
        if self.raw:
            conversation = Conversation(turns=()).add("user", text)
        else:
            conversation = self.conversation.add("user", text)
        await self.query_one(Transcript).add_user(text)
        await self.start_reply(conversation)

    async def start_reply(self, conversation: Conversation) -> None:
        self.generating = True
        self._pending = conversation
        finish_peak(self._peak)  # a reply that never finished leaves nothing to keep
        self._peak = smollm_app(self).begin_peak()
        self._reply = await self.query_one(Transcript).add_reply()
        self._generate(conversation, self.settings, self.raw)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate(
        self, conversation: Conversation, settings: GenerationSettings, raw: bool
    ) -> None:
        smollm_app(self).session.generate(conversation, settings, raw, self.post_message)

    async def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        if self._reply is not None:
            await self._reply.write(message.text)

    async def on_reply_trimmed(self, message: m.ReplyTrimmed) -> None:
        self.dropped_turns = message.dropped_turns
        await self.query_one(Transcript).add_notice(
            f"The conversation is longer than the context: the {message.dropped_turns} oldest "
            "turn(s) were left out of the prompt (the system prompt is kept)."
        )

    async def on_reply_finished(self, message: m.ReplyFinished) -> None:
        reply, pending = self._reply, self._pending
        self.generating, self._reply, self._pending = False, None, None
        board = finish_peak(self._peak)
        self._peak = None
        if reply is None or pending is None:
            return
        await reply.finish(message.stats, message.cancelled)
        self.conversation = pending.add("assistant", reply.text)
        if message.stats is not None:
            self.update_context(message.stats.prompt_tokens + message.stats.new_tokens)
            smollm_app(self).record_chat_speed(message.stats, self.settings, board)

    async def on_reply_failed(self, message: m.ReplyFailed) -> None:
        reply = self._reply
        self.generating, self._reply, self._pending = False, None, None
        finish_peak(self._peak)
        self._peak = None
        if reply is not None:
            await reply.fail(message.message)
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
        await self.start_reply(replace(self.conversation, turns=turns[:-1]))

    async def action_clear(self) -> None:
        if self.generating:
            smollm_app(self).session.cancel()
        self.conversation = Conversation(system=self.conversation.system)
        self.dropped_turns = 0
        await self.query_one(Transcript).remove_children()
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
        from engine.runtimes.choice import next_runtime

        if self.generating:
            self.notify("A reply is still coming: press Esc to stop it first.")
            return
        info = smollm_app(self).session.info
        loaded = info is not None and smollm_app(self).session.is_loaded(self.options)
        current = info.runtime if loaded and info else self._runtime_label().rsplit(": ", 1)[-1]
        try:
            following = next_runtime(self.entry, current)
        except SmollmError as exc:
            self.notify(
                f"Only transformers here: {exc}", severity="warning", timeout=8, markup=False
            )
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
