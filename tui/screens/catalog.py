"""Home screen: every catalog model with live metrics, a filter, sorting and details."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input

from engine.catalog.entries import ModelEntry
from engine.memory.overview import ModelOverview
from engine.runtimes.choice import SHORT
from tui.app_api import smollm_app
from tui.catalog_rows import CatalogRows
from tui.safe_text import plain
from tui.widgets.download_bar import DownloadBar
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.model_details import ModelDetails
from tui.widgets.open_wait import OpenWait
from tui.widgets.table_fill import fill

# (key, header, how to sort)
COLUMNS = (
    ("name", "model", lambda r: r.entry.name.lower()),
    ("params", "params", lambda r: r.entry.params),
    ("arch", "arch", lambda r: r.entry.architecture),
    ("size", "MB", lambda r: r.size_mb or 0.0),
    ("disk", "disk", lambda r: r.on_disk),
    ("fit", "fit", lambda r: ("fits", "tight", "does not fit", "unknown").index(r.fit)),
    ("acc", "acc%", lambda r: r.best_avg_accuracy or -1.0),
    ("speed", "tok/s", lambda r: r.best_tokens_per_s or -1.0),
)
_FIT_STYLE = {"fits": "green", "tight": "yellow", "does not fit": "bold red", "unknown": "dim"}
_FIT_LABEL = {"fits": "fits", "tight": "tight", "does not fit": "no fit", "unknown": "?"}
_DISK_STYLE = {
    "yes": "green",
    "partial": "yellow",
    "no": "dim",
    "n/a": "dim",
    "bundled": "green",
    "local": "green",
}


def row_cells(row: ModelOverview) -> list[Text]:
    e = row.entry
    name = plain(e.name, "dim" if e.source == "unavailable" else "")
    size = Text("—" if row.size_mb is None else f"{row.size_mb:,.0f}", justify="right")
    # A tick marks a verdict from a measured run; without it the verdict is estimated.
    fit = Text(_FIT_LABEL[row.fit], style=_FIT_STYLE[row.fit])
    if row.fit_measured:
        fit.append(" ✓", style="bold")
    acc = Text(
        "—" if row.best_avg_accuracy is None else f"{row.best_avg_accuracy:.1f}", justify="right"
    )
    speed = speed_cell(row.best_tokens_per_s, row.best_speed_runtime)
    return [
        name,
        Text(e.params_label, justify="right"),
        plain(e.architecture),
        size,
        Text(row.on_disk, style=_DISK_STYLE.get(row.on_disk, "")),
        fit,
        acc,
        speed,
    ]


def speed_cell(tokens_per_s: float | None, runtime: str | None) -> Text:
    """The best measured tok/s and its runtime's tag: '117 L' (llama.cpp), '35.2 T'."""
    if tokens_per_s is None:
        return Text("—", justify="right")
    figure = f"{tokens_per_s:.0f}" if tokens_per_s >= 100 else f"{tokens_per_s:.1f}"
    text = Text(figure, justify="right")
    if runtime:
        text.append(f" {SHORT.get(runtime, runtime)}", style="dim")
    return text


def matches(row: ModelOverview, needle: str) -> bool:
    return entry_matches(row.entry, needle)


def entry_matches(e: ModelEntry, needle: str) -> bool:
    haystack = " ".join(
        [e.id, e.name, e.family, e.architecture, e.affiliation, *e.tags, e.repo or ""]
    ).lower()
    return all(word in haystack for word in needle.lower().split())


class CatalogScreen(Screen):
    # The table has the focus from the first frame: Textual's default gives it to the first
    # focusable widget, the filter (hidden, its display not yet applied), so that a key typed
    # at once (j, q, ?, s) was typed into the filter instead of doing what it does.
    AUTO_FOCUS = "#models"
    DEFAULT_CSS = """
    CatalogScreen #filter { display: none; height: 3; }
    CatalogScreen #filter.visible { display: block; }
    CatalogScreen DataTable { height: 1fr; }
    CatalogScreen #body { height: 1fr; }
    CatalogScreen ModelDetails { width: 34; border-left: solid $panel-lighten-2; }
    CatalogScreen.-narrow #body { layout: vertical; }
    CatalogScreen.-narrow ModelDetails { width: 1fr; height: 8; border-left: none;
        border-top: solid $panel-lighten-2; }
    """
    BINDINGS = [
        # Priority: these run as the app receives the key, before it passes on the keys
        # typed after it (as plain bindings they ran once those had reached this screen:
        # a question typed at once after c became catalog keys). They may also wait for
        # the first rows (tui.widgets.open_wait).
        Binding("enter", "opener('details')", "Details", show=False, priority=True),
        Binding("c", "opener('chat')", "Chat", priority=True),
        Binding("e", "opener('evaluate')", "Eval", priority=True),
        Binding("a", "opener('arena')", "Arena", priority=True),
        Binding("d", "opener('download')", "Download", priority=True),
        Binding("x", "delete", "Delete", show=False),
        Binding("p", "cycle_precision", "Precision"),
        Binding("r", "cycle_runtime", "Runtime"),
        Binding("m", "compare", "Compare"),
        Binding("b", "pick", "Pick", show=False),
        Binding("s", "system", "System"),
        Binding("slash", "filter", "Filter"),
        Binding("o", "sort", "Sort", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ModelOverview] = []
        # Rows shown yet: the app may keep rows it has not published (a read follows)
        self.rows_in = False
        self.visible_rows: list[ModelOverview] = []
        self.sort_column = -1
        self.sort_reverse = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="filter: words in name, family, arch, tags (Esc clears)", id="filter"
        )
        yield OpenWait()
        yield DownloadBar()
        with Horizontal(id="body"):
            yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
            yield ModelDetails()
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header, _ in COLUMNS:
            table.add_column(header, key=key)
        app = smollm_app(self)
        app.overview.changed.subscribe(self, self.show_rows)
        app.download_news.subscribe(self, self.show_download)
        self.show_rows(app.overview)
        table.focus()

    def on_screen_resume(self) -> None:
        """Back on the catalog (a run may have finished, a model may be on disk now): the
        rows are read again in the background; the last ones stay meanwhile."""
        smollm_app(self).overview.refresh()

    # ---- rows ----------------------------------------------------------------------

    def show_rows(self, kept: CatalogRows) -> None:
        """Show the app's rows as last read (tui.catalog_rows), and its settings."""
        app = smollm_app(self)
        self.rows = list(kept.rows or ())
        self.rows_in = self.rows_in or kept.rows is not None
        if kept.rows is not None:
            count = f"{len(self.rows)} models"
        elif kept.error:
            count = "the catalog could not be read"
        else:
            count = "reading the catalog…"
        self.sub_title = f"precision {app.precision} · runtime {app.runtime} · {count}"
        marked = app.arena.marked_text() if hasattr(app, "arena") else None
        if marked:
            self.sub_title += f" · {marked}"
        self.refill()
        if kept.rows is not None:
            self._open_waiting()
        elif kept.error and self.query_one(OpenWait).waiting:
            self._cancel_waiting("The catalog could not be read")

    def refill(self) -> None:
        table = self.query_one(DataTable)
        current = self.current_row()
        needle = self.query_one("#filter", Input).value
        rows = [r for r in self.rows if matches(r, needle)] if needle else list(self.rows)
        if self.sort_column >= 0:
            rows.sort(key=COLUMNS[self.sort_column][2], reverse=self.sort_reverse)
        self.visible_rows = rows
        fill(table, (row_cells(row) for row in rows), (row.entry.id for row in rows))
        if current is not None and current in [r.entry.id for r in rows]:
            table.move_cursor(row=[r.entry.id for r in rows].index(current))
        self.show_details()

    def show_download(self, news: tuple) -> None:
        """A download's progress (the app's download_news: the event, how many wait)."""
        event, waiting = news
        self.query_one(DownloadBar).show_event(event, waiting)

    def current_row(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.visible_rows or table.cursor_row >= len(self.visible_rows):
            return None
        return self.visible_rows[table.cursor_row].entry.id

    def selected(self) -> ModelOverview | None:
        table = self.query_one(DataTable)
        if not self.visible_rows:
            return None
        return self.visible_rows[min(table.cursor_row, len(self.visible_rows) - 1)]

    def show_details(self) -> None:
        self.query_one(ModelDetails).show(self.selected())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_details()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_details()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(event.column_index)

    # ---- filter and sort -----------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value:  # letters typed as the app started can land here: say so
            event.input.add_class("visible")
        self.refill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("visible")
        self.query_one(DataTable).focus()

    def action_sort(self) -> None:
        self.sort_by((self.sort_column + 1) % len(COLUMNS))

    def sort_by(self, index: int) -> None:
        if index == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = index, False
        direction = "descending" if self.sort_reverse else "ascending"
        self.notify(f"Sorted by {COLUMNS[index][1]} ({direction})", timeout=2)
        self.refill()

    # ---- actions (the app does the work; the screen names the model) ---------------

    def _with_selected(self, action, opener: str | None = None) -> None:
        """``action`` on the highlighted model. Before the first rows, an ``opener`` waits
        for them (OpenWait); a delete is never done on a model not yet seen."""
        row = self.selected()
        if row is None and not self.rows_in:
            if opener is None:
                self.notify("The catalog is still being read.", timeout=3)
            else:
                self._wait_for_rows(opener)
            return
        if row is None:
            self.notify("No model matches the filter.", severity="warning")
            return
        action(row.entry)

    def action_details(self) -> None:
        self._with_selected(smollm_app(self).show_details, "details")

    def action_chat(self) -> None:
        self._with_selected(smollm_app(self).open_chat, "chat")

    def action_evaluate(self) -> None:
        self._with_selected(smollm_app(self).open_evaluate, "evaluate")

    def action_arena(self) -> None:
        self._with_selected(smollm_app(self).arena_pick, "arena")

    def action_download(self) -> None:
        self._with_selected(smollm_app(self).start_download, "download")

    def action_delete(self) -> None:
        self._with_selected(smollm_app(self).delete_model)

    # ---- an opener pressed before the first rows (tui.widgets.open_wait) -------------

    def _wait_for_rows(self, opener: str) -> None:
        """Wait for the rows, on the row that will be highlighted then: the first model in
        the catalog's order (the bundled one) that the filter keeps. Until they come, the
        keys typed are kept for what opens, not taken as the catalog's."""
        wait = self.query_one(OpenWait)
        if wait.waiting:
            return  # (a Footer click: the line already says what waits)
        app = smollm_app(self)
        needle = self.query_one("#filter", Input).value
        entry = next((e for e in app.catalog if entry_matches(e, needle)), None)
        if entry is None:
            self.notify("No model matches the filter.", severity="warning")
            return
        wait.start(opener, entry)
        self.query_one(DataTable).focus()
        if app.overview.error:  # the last read failed: none would come otherwise
            app.overview.refresh()

    def action_opener(self, action: str) -> None:
        """c, e, a, d or Enter: the action, unless the key is a letter typed into the
        filter or for what waits for the rows (then it goes on to on_key)."""
        if self.query_one(OpenWait).waiting or not (
            self.focused is None or isinstance(self.focused, DataTable)
        ):
            raise SkipAction()
        getattr(self, f"action_{action}")()

    def on_key(self, event: events.Key) -> None:
        wait = self.query_one(OpenWait)
        box = self.query_one("#filter", Input)
        on_table = self.focused is None or isinstance(self.focused, DataTable)
        if wait.waiting:
            if event.key == "escape":
                self._cancel_waiting("Cancelled")
            elif not wait.key(event):
                return
        elif (
            on_table
            and event.is_printable
            and (event.character or "").strip()
            and event.key not in self.active_bindings
        ):  # a letter that is no key here filters, on screen, instead of doing nothing
            box.add_class("visible")
            self.set_focus(box)  # (its Focus goes first: the letter is not then selected)
            box.post_message(events.Key(event.key, event.character))
        elif self.focused is box and event.is_printable:
            # A letter sent on to the table before the focus moved to the filter (typed in
            # one go with the one that moved it): the rest of the word.
            box.post_message(events.Key(event.key, event.character))
        else:
            return
        event.stop()
        event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        wait = self.query_one(OpenWait)
        if wait.waiting:
            wait.paste(event.text)
            event.stop()

    def _open_waiting(self) -> None:
        """The rows are in: do what waited for them, on its model."""
        wait = self.query_one(OpenWait)
        taken = wait.take()
        if taken is None:
            return
        opener, entry, typed = taken
        ids = [r.entry.id for r in self.visible_rows]
        if entry.id in ids:
            self.query_one(DataTable).move_cursor(row=ids.index(entry.id))
        self.query_one(DataTable).focus()
        app = smollm_app(self)
        if opener == "chat":
            self._with_selected(lambda chosen: app.open_chat(chosen, typed))
            return
        self._with_selected(
            {
                "details": app.show_details,
                "evaluate": app.open_evaluate,
                "arena": app.arena_pick,
                "download": app.start_download,
            }[opener]
        )
        if typed.text:
            self.notify(
                f"Not passed on (typed while the catalog was read): {typed.text}",
                timeout=8,
                markup=False,
            )

    def _cancel_waiting(self, why: str) -> None:
        wait = self.query_one(OpenWait)
        what = wait.describe().plain
        taken = wait.take()
        if taken is None:
            return
        _, _, typed = taken
        kept = " ".join(t for t in (typed.question, typed.text) if t)
        self.notify(
            f"{why}: nothing happens once the catalog is read (waiting was: {what})."
            + (f" Typed meanwhile: {kept}" if kept else ""),
            timeout=8,
            markup=False,
        )

    def action_cycle_precision(self) -> None:
        smollm_app(self).cycle_precision()

    def action_cycle_runtime(self) -> None:
        smollm_app(self).cycle_runtime()

    def action_compare(self) -> None:
        smollm_app(self).open_compare()

    def action_system(self) -> None:
        smollm_app(self).open_system()

    def action_pick(self) -> None:
        smollm_app(self).open_pick()
