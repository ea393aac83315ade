"""One conversation with one model: the widget Chat mounts once and the Arena twice (as
oterm mounts one chat container per tab).

It owns what every conversation does: its model session (a worker), its history, the
transcript, the load messages (stage, loaded, failed) and the reply messages (chunk,
trimmed, finished, failed), each reply's stats line, the board's peak memory during the
reply and the reply's speed row in the results store. Its jobs run in a thread: load the
model if it is not loaded, answer a conversation, and (when the Arena's sides take turns)
end the worker afterwards.

The worker's messages are posted to this widget, handled here, then bubble on to the
screen or panel that holds it, which shows them in its own chrome (Chat's status and
context lines; the Arena's state line, A/B names and vote). When a job ends it posts
JobEnded, which bubbles the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from textual import work
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from engine.catalog.entries import ModelEntry
from engine.records import LoadInfo
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.telemetry.peak import PeakTracker, finish_peak
from tui import messages as m
from tui.app_api import smollm_app
from tui.session import ModelSession
from tui.widgets.transcript import ReplyTurn, Transcript

Phase = Literal["unloaded", "loading", "ready", "answering", "failed", "died"]


class ConversationView(Vertical):
    DEFAULT_CSS = """
    ConversationView { height: 1fr; }
    /* a side of the Arena: its panel's state line carries the figures */
    ConversationView.-paired ReplyTurn .stats { display: none; }
    """

    @dataclass
    class JobEnded(Message):
        view: ConversationView

    def __init__(
        self,
        entry: ModelEntry,
        options: LoadOptions,
        session: ModelSession | None = None,
        *,
        paired: bool = False,
        **kwargs: Any,
    ) -> None:
        """``session`` None: the app's own (Chat). ``paired``: one of the Arena's two
        sides, half the width: shorter notices, and the figures on the panel's state
        line instead of under each reply (so a failed reply is also told as a notice)."""
        super().__init__(**kwargs)
        self.entry, self.options, self._session = entry, options, session
        self.paired = paired
        self.set_class(paired, "-paired")
        # Base models continue text; chat needs an instruction-tuned model.
        self.raw = entry.is_base and entry.kind == "causal"
        self.conversation = Conversation()
        self.stats: list[dict[str, Any] | None] = []  # per assistant turn, for saving
        self.phase: Phase = "unloaded"
        self.generating = False  # a reply is under way (until it finishes or fails)
        self.answered = False  # the last reply asked for ended with a reply
        self.dropped_turns = 0
        self.last_reply = ""
        self.last_stats: tuple[Any, bool] | None = None  # (ReplyStats, cancelled)
        self._jobs = 0  # jobs in flight (a load and its queued question may overlap)
        self._reply: ReplyTurn | None = None
        self._pending: Conversation | None = None
        self._settings = GenerationSettings()  # the reply in flight's, for its speed row
        self._peak: PeakTracker | None = None  # board peaks during the reply in flight
        # What this view last loaded: when the sides take turns, the worker may be ended
        # before the reply's last message is read here.
        self._info: LoadInfo | None = None
        self._round: list[Widget] = []
        self._round_start: tuple[Conversation, int] = (self.conversation, 0)

    def compose(self):
        yield Transcript()

    @property
    def session(self) -> ModelSession:
        return self._session if self._session is not None else smollm_app(self).session

    @property
    def busy(self) -> bool:
        """A job (load, reply, unload) is running in its thread."""
        return self._jobs > 0

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    # ---- turns -------------------------------------------------------------------------

    async def ask(self, text: str) -> Conversation:
        """Show the user's turn and an empty reply; return the conversation to answer.
        take_back() undoes both."""
        self._round_start = (self.conversation, len(self.stats))
        if self.raw:  # raw completion: the text alone, no history
            conversation = Conversation(turns=()).add("user", text)
        else:
            conversation = self.conversation.add("user", text)
        self._round = [await self.transcript.add_user(text)]
        await self.begin_reply(conversation)
        return conversation

    async def begin_reply(self, conversation: Conversation) -> None:
        """An empty reply in the transcript, for ``conversation``'s answer."""
        self._reply = await self.transcript.add_reply()
        self._round.append(self._reply)
        self._pending = conversation
        self.answered = False

    async def take_back(self) -> None:
        """Forget the last question: its turns, its reply, its figures."""
        for widget in self._round:
            await widget.remove()
        self._round = []
        self.conversation, kept = self._round_start
        del self.stats[kept:]

    async def skip(self) -> None:
        """The reply shown will not come (stopped before its turn)."""
        if self._reply is not None:
            await self._reply.finish(None, cancelled=True)
        self._reply = self._pending = None

    async def clear(self) -> None:
        """A fresh start; the system prompt stays."""
        self.conversation = Conversation(system=self.conversation.system)
        self.stats, self.dropped_turns = [], 0
        self.last_stats, self.last_reply = None, ""
        self._round = []
        if not self.generating:  # a reply being stopped still ends as any stopped reply
            self._reply = self._pending = None
        await self.transcript.remove_children()

    # ---- jobs in a thread --------------------------------------------------------------

    def start(
        self,
        conversation: Conversation | None,
        settings: GenerationSettings,
        *,
        unload_after: bool = False,
    ) -> None:
        """Load if needed, answer ``conversation`` (None: only load; its reply must have
        been begun), then end the worker when ``unload_after`` (the sides take turns)."""
        self._jobs += 1
        if not self.session.is_loaded(self.options):
            self.phase = "loading"
        if conversation is not None:
            self.generating = True
            self._settings = settings
        self._job(conversation, settings, unload_after)

    @work(thread=True, group="conversation", exit_on_error=False)
    def _job(
        self, conversation: Conversation | None, settings: GenerationSettings, unload_after: bool
    ) -> None:
        post, session = self.post_message, self.session
        try:
            if not session.is_loaded(self.options):
                try:
                    session.load(self.options, post)
                except Exception as exc:  # a waiting question must not wait for ever
                    post(m.LoadFailed(str(exc) or type(exc).__name__, "error"))
                if not session.is_loaded(self.options):
                    return  # failed or stopped: the messages say which
            if conversation is not None:
                finish_peak(self._peak)  # a reply that never finished leaves nothing to keep
                self._peak = smollm_app(self).begin_peak()  # the reply's, not the load's
                session.generate(conversation, settings, self.raw, post)
            if unload_after:
                session.close()
        finally:
            post(self.JobEnded(self))

    def cancel(self) -> None:
        self.session.cancel()

    def close(self) -> None:
        self.session.close()

    def on_conversation_view_job_ended(self, message: JobEnded) -> None:
        # Not stopped: it bubbles on to the panel or screen that holds this view.
        self._jobs -= 1
        if not self.busy and self.phase in ("ready", "answering", "loading"):
            self.phase = "ready" if self.session.state == "ready" else "unloaded"

    # ---- the worker's events (each bubbles on to the holder) ---------------------------

    def on_model_loaded(self, message: m.ModelLoaded) -> None:
        self.phase = "ready"
        self._info = message.info

    async def on_load_failed(self, message: m.LoadFailed) -> None:
        self.phase = "died" if message.kind == "died" else "failed"
        if self._reply is not None:
            await self._reply.fail(message.message)
        self.generating = False
        self._reply = self._pending = None
        await self.transcript.add_notice(message.message, error=True)

    async def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        self.phase = "answering"
        if self._reply is not None:
            await self._reply.write(message.text)

    async def on_reply_trimmed(self, message: m.ReplyTrimmed) -> None:
        self.dropped_turns = message.dropped_turns
        if self.paired:
            text = f"The {message.dropped_turns} oldest turn(s) were left out to fit the context."
        else:
            text = (
                f"The conversation is longer than the context: the {message.dropped_turns} "
                "oldest turn(s) were left out of the prompt (the system prompt is kept)."
            )
        await self.transcript.add_notice(text)

    async def on_reply_finished(self, message: m.ReplyFinished) -> None:
        reply, pending = self._reply, self._pending
        self.generating, self._reply, self._pending = False, None, None
        board = finish_peak(self._peak)
        self._peak = None
        if reply is None:
            return
        await reply.finish(message.stats, message.cancelled)
        if message.stats is None and self.phase == "loading":  # a load stopped before it
            self.phase = "unloaded"
            return
        self.phase = "ready"
        if pending is not None:  # (stopped before its first token: an empty reply)
            self.conversation = pending.add("assistant", reply.text)
            self.stats.append(dict(message.stats.__dict__) if message.stats else None)
        if message.stats is None:
            return
        self.answered = True
        self.last_reply = reply.text
        self.last_stats = (message.stats, message.cancelled)
        info = self.session.info or self._info
        if info is not None:
            smollm_app(self).record_chat_speed(message.stats, self._settings, board, info=info)

    async def on_reply_failed(self, message: m.ReplyFailed) -> None:
        reply = self._reply
        self.generating, self._reply, self._pending = False, None, None
        finish_peak(self._peak)
        self._peak = None
        self.phase = "died" if message.kind == "died" else "ready"
        if reply is not None:
            await reply.fail(message.message)
        if self.paired:  # its reply's own line is hidden
            await self.transcript.add_notice(message.message, error=True)
