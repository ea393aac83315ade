"""One line on the catalog screen while a download runs: model, bytes, speed, time left."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine import downloads as dl
from engine.hub import format_bytes
from tui.safe_text import visible
from tui.widgets.memory_meter import bar


def progress_text(event: dl.DownloadProgress, waiting: int) -> Text:
    text = Text()
    text.append("download ", style="bold")
    text.append(visible(event.job.model_id))
    text.append(f" {bar(event.fraction, 16)} {event.fraction:.0%} ")
    text.append(f"{format_bytes(event.bytes_done)} / {format_bytes(event.bytes_total)}")
    text.append(f" · {format_bytes(int(event.speed_bps))}/s")
    if event.eta_s is not None:
        text.append(f" · {event.eta_s:.0f} s left")
    if waiting:
        text.append(f" · {waiting} waiting", style="dim")
    text.append("  (d on it again cancels)", style="dim")
    return text


class DownloadBar(Static):
    DEFAULT_CSS = """
    DownloadBar { height: 1; padding: 0 1; background: $boost; display: none; }
    DownloadBar.active { display: block; }
    """

    def show_event(self, event, waiting: int) -> None:
        if isinstance(event, dl.DownloadProgress):
            self.add_class("active")
            self.update(progress_text(event, waiting))
        elif isinstance(event, dl.DownloadStarted):
            self.add_class("active")
            self.update(Text(f"download {visible(event.job.model_id)}: listing files …"))
        elif isinstance(event, dl.FINAL_EVENTS) and not waiting:
            self.remove_class("active")
