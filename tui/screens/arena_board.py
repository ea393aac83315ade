"""The Arena leaderboard (opened from Compare): your blind votes ranked by Bradley–Terry,
with bootstrap intervals and the method named."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.results.bradley_terry import Leaderboard, method_text
from tui import messages as m
from tui.safe_text import plain
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.table_fill import fill


class ArenaBoardScreen(Screen):
    DEFAULT_CSS = """
    ArenaBoardScreen #method { height: auto; padding: 0 1; color: $text-muted; }
    ArenaBoardScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, resamples: int = 200, seed: int = 0):
        super().__init__()
        self.resamples, self.seed = resamples, seed
        self.board: Leaderboard | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(method_text(self.resamples, self.seed)), id="method")
        yield DataTable(id="board", cursor_type="row", zebra_stripes=True)
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Arena leaderboard"
        self.sub_title = "reading votes …"
        table = self.query_one(DataTable)
        for key, label in (
            ("rank", "#"),
            ("player", "model · precision · runtime"),
            ("score", "score"),
            ("ci", "95% interval"),
            ("games", "games"),
            ("wins", "wins"),
            ("ties", "ties"),
        ):
            table.add_column(label, key=key)
        self._load()
        table.focus()

    @work(thread=True, exclusive=True, group="arena-board", exit_on_error=False)
    def _load(self) -> None:
        from engine.results.arena import arena_leaderboard
        from engine.results.store import ResultsStore

        with ResultsStore() as store:
            board = arena_leaderboard(store, resamples=self.resamples, seed=self.seed)
        self.post_message(m.LeaderboardRead(board))

    def on_leaderboard_read(self, message: m.LeaderboardRead) -> None:
        self.show(message.board)

    def show(self, board: Leaderboard) -> None:
        from engine.results.arena import interval_text

        self.board = board
        table = self.query_one(DataTable)
        fill(
            table,
            (
                (
                    Text(str(rank), justify="right"),
                    plain(s.player),
                    Text(f"{s.score:.0f}", justify="right"),
                    Text(interval_text(s.low, s.high)),
                    Text(str(s.games), justify="right"),
                    Text(f"{s.wins:g}", justify="right"),
                    Text(str(s.ties), justify="right"),
                )
                for rank, s in enumerate(board.standings, 1)
            ),
            (s.player for s in board.standings),
        )
        if board.standings:
            self.sub_title = f"{board.games} vote(s), {len(board.standings)} configurations"
        else:
            self.sub_title = (
                "no votes yet: open the Arena (a on two catalog models), "
                "switch blind mode on (ctrl+b) and vote"
            )
