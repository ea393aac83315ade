"""The chat transcript: user turns as plain text, replies as streamed Markdown."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from engine.records import ReplyStats
from tui.reply_stats import short_line
from tui.safe_text import plain, visible


class UserTurn(Static):
    DEFAULT_CSS = """
    UserTurn { margin: 1 0 0 0; padding: 0 1; background: $boost; border-left: thick $accent; }
    """

    def __init__(self, content: str):
        super().__init__(plain(content))
        self.content_text = content


class QueuedTurn(Static):
    """A question sent while the model was still loading: shown at once, sent when the
    model is ready, withdrawn with Esc."""

    DEFAULT_CSS = """
    QueuedTurn { margin: 1 0 0 0; padding: 0 1; border-left: thick $warning; }
    """
    WAITING = "waiting for the model to load… (esc withdraws it)"

    def __init__(self, content: str):
        text = plain(content)
        text.append("\n" + self.WAITING, style="dim italic")
        super().__init__(text)
        self.content_text = content


class Notice(Static):
    DEFAULT_CSS = """
    Notice { color: $text-muted; padding: 0 1; }
    Notice.error { color: $error; }
    """

    def __init__(self, content: str, error: bool = False):
        super().__init__(plain(content), classes="error" if error else "")


class ReplyTurn(Vertical):
    """A reply being streamed. Markdown.get_stream batches updates so the widget does not
    re-render on every token."""

    DEFAULT_CSS = """
    ReplyTurn { height: auto; margin: 1 0 0 0; border-left: thick $success; }
    ReplyTurn Markdown { margin: 0; padding: 0 1; }
    ReplyTurn .stats { color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self._stream: MarkdownStream | None = None

    def compose(self):
        yield Markdown()
        yield Static(Text("…", style="dim"), classes="stats")

    async def write(self, chunk: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        self.text += chunk
        await self._stream.write(visible(chunk))

    async def finish(self, stats: ReplyStats | None, cancelled: bool = False) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.query_one(".stats", Static).update(stats_line(stats, cancelled))

    async def fail(self, message: str) -> None:
        await self.finish(None)
        self.query_one(".stats", Static).update(plain(message, style="bold red"))


def stats_line(stats: ReplyStats | None, cancelled: bool = False) -> Text:
    return Text(short_line(stats, cancelled), style="dim")


class Transcript(VerticalScroll):
    """Scrolls with the reply only while the view is at the bottom (anchor)."""

    DEFAULT_CSS = """
    Transcript { height: 1fr; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, content: str) -> UserTurn:
        turn = UserTurn(content)
        await self.mount(turn)
        return turn

    async def add_queued(self, content: str) -> QueuedTurn:
        turn = QueuedTurn(content)
        await self.mount(turn)
        return turn

    async def add_reply(self) -> ReplyTurn:
        reply = ReplyTurn()
        await self.mount(reply)
        return reply

    async def add_notice(self, content: str, error: bool = False) -> None:
        await self.mount(Notice(content, error))
