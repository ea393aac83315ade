"""One line on the catalog screen while a download runs: model, bytes, speed, time left.
On a narrow terminal the least useful parts go first (the cancel hint, the queue, the
speed), so that the bar and the time left stay in view at 80 columns."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.hub import downloads as dl
from engine.units import format_bytes
from tui.safe_text import visible
from tui.widgets.memory_meter import bar

MODEL_ID_MAX = 20  # a longer id is cut with … on a line that would not fit otherwise


def progress_text(event: dl.DownloadProgress, waiting: int, width: int | None = None) -> Text:
    """The line for ``event``; with ``width``, the longest form that fits in it."""
    model = visible(event.job.model_id)
    size = f"{format_bytes(event.bytes_done)} / {format_bytes(event.bytes_total)}"
    eta = f" · {event.eta_s:.0f} s left" if event.eta_s is not None else ""
    speed = f" · {format_bytes(int(event.speed_bps))}/s"
    queue = f" · {waiting} waiting" if waiting else ""
    hint = "  (d on it again cancels)"
    total = f"of {format_bytes(event.bytes_total)}"
    forms = [
        (model, 16, size, speed, queue, hint),
        (model, 16, size, speed, queue, ""),
        (model, 10, size, speed, "", ""),
        (model, 10, size, "", "", ""),
        (_cut(model, MODEL_ID_MAX), 8, total, "", "", ""),
    ]
    for name, cells, amount, fast, waits, tip in forms:
        text = Text()
        text.append("download ", style="bold")
        text.append(name)
        text.append(f" {bar(event.fraction, cells)} {event.fraction:.0%} {amount}{fast}{eta}")
        text.append(waits, style="dim")
        text.append(tip, style="dim")
        if width is None or text.cell_len <= width:
            return text
    return text


def _cut(name: str, most: int) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


class DownloadBar(Static):
    DEFAULT_CSS = """
    DownloadBar { height: 1; padding: 0 1; background: $boost; display: none; }
    DownloadBar.active { display: block; }
    """

    _last: tuple[dl.DownloadProgress, int] | None = None

    def show_event(self, event, waiting: int) -> None:
        if isinstance(event, dl.DownloadProgress):
            self.add_class("active")
            self._last = (event, waiting)
            self._draw()
        elif isinstance(event, dl.DownloadStarted):
            self.add_class("active")
            self._last = None
            self.update(Text(f"download {visible(event.job.model_id)}: listing files …"))
        elif isinstance(event, dl.FINAL_EVENTS) and not waiting:
            self._last = None
            self.remove_class("active")

    def on_resize(self) -> None:
        if self._last is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._last is not None
        event, waiting = self._last
        width = self.content_region.width or (self.app.size.width - 2)
        self.update(progress_text(event, waiting, width))
