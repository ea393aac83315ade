"""The Textual application: a thin shell that owns the shared parts and opens screens
(the parts and the facts screens use: tui.app_api)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from engine.catalog.entries import Catalog, ModelEntry
from engine.memory.overview import ModelOverview, overview
from engine.settings import PRECISIONS, RUNTIMES, LoadOptions
from tui import messages as m
from tui.app_api import OverviewSource, SmollmAppApi, TypedAhead
from tui.catalog_rows import CatalogRows, Key
from tui.jobs_watch import JobsWatch, warn_shared_board
from tui.model_files import ModelFiles
from tui.screens.arena_pick import ArenaPicker
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import ChoiceScreen
from tui.screens.help import HelpScreen
from tui.session import ModelSession


class SmollmApp(SmollmAppApi):
    TITLE = "smollm-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+c", "quit", "Quit", show=False),
        Binding("j", "jobs", "Jobs", show=False),
    ]

    def __init__(
        self,
        catalog: Catalog,
        *,
        catalog_path: str | None = None,
        session: ModelSession | None = None,
        telemetry: Any = None,
        device: str = "auto",
        overview_source: OverviewSource = overview,
        exit_on_signals: bool = False,
    ):
        super().__init__()
        self.exit_on_signals = exit_on_signals
        self.overview_source = overview_source
        self.catalog = catalog
        self.catalog_path = catalog_path
        self.session = session or ModelSession(catalog_path)
        self.telemetry = telemetry
        self.device = device
        self.precision = "auto"
        self.runtime = "auto"
        self._chat: ChatScreen | None = None
        self.overview = CatalogRows(self)
        self.download_news = Signal(self, "downloads")
        self.files = ModelFiles(self)
        self.jobs_watch = JobsWatch(self)
        self.arena = ArenaPicker(self)

    def get_default_screen(self) -> Screen:
        # The catalog is the first screen (not pushed on mount over Textual's blank one):
        # a key typed before the first frame reaches it, as c or a filter letter.
        return CatalogScreen()

    def on_mount(self) -> None:
        self.jobs_watch.start()
        if self.exit_on_signals:
            self.handle_signals()

    def handle_signals(self) -> None:
        """SIGTERM and SIGHUP (a closed terminal, `kill`) end the app as q does, so that
        Textual puts the terminal back: the Python default ended the process at once and
        left it in the alternate screen, mouse tracking on, the cursor hidden. The exit
        code is the shell's for that signal (128 + its number)."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(number, self.exit, None, 128 + number)

    def on_unmount(self) -> None:
        self.session.close()
        self.files.close()
        if self.telemetry is not None:
            self.telemetry.stop()

    def cycle_precision(self) -> None:
        self.precision = PRECISIONS[(PRECISIONS.index(self.precision) + 1) % len(PRECISIONS)]
        self.notify(f"Precision: {self.precision}", timeout=2)
        self.refresh_catalog()

    def cycle_runtime(self) -> None:
        """auto (llama.cpp for GGUF weights when installed), transformers, llama.cpp."""
        self.runtime = RUNTIMES[(RUNTIMES.index(self.runtime) + 1) % len(RUNTIMES)]
        note = ""
        from engine import runtimes

        runtime = runtimes.RUNTIMES.get(self.runtime)  # None for auto
        if runtime is not None and not runtime.installed():
            note = " (not installed here: loads will say how to install it)"
        self.notify(f"Runtime: {self.runtime}{note}", timeout=3)
        self.refresh_catalog()

    # ---- actions opened from the catalog -------------------------------------------

    def show_details(self, entry: ModelEntry) -> None:
        from tui.screens.details import DetailsScreen

        def show(rows: list[ModelOverview], key: Key) -> None:
            row = next((r for r in rows if r.entry.id == entry.id), None)
            if row is not None:
                self.push_screen(DetailsScreen(row))

        self.overview.when_read(show)

    def open_chat(self, entry: ModelEntry, typed: TypedAhead | None = None) -> None:
        self._prepare(entry, lambda e, o: self._push_chat(e, o, typed))

    def _prepare(self, entry: ModelEntry, go) -> None:
        """Say why a model cannot run, ask for remote-code consent and about memory, then go
        (with the catalog's row for the settings chosen: once read, if it is being read)."""
        if entry.source == "unavailable":
            self.notify(
                f"{entry.name} cannot be run: {entry.unavailable_reason}",
                severity="warning",
                markup=False,
            )
            return

        def with_rows(rows: list[ModelOverview], key: Key) -> None:
            row = next((r for r in rows if r.entry.id == entry.id), None)
            if row is not None:
                precision, device, runtime = key  # as they were when asked
                self._prepare_row(
                    row,
                    LoadOptions(
                        entry.id,
                        precision=precision,
                        device=device,
                        catalog_path=self.catalog_path,
                        runtime=runtime,
                    ),
                    go,
                )

        self.overview.when_read(with_rows)

    def _prepare_row(self, row: ModelOverview, options: LoadOptions, go) -> None:
        entry = row.entry
        if (
            entry.source == "hub"
            and row.on_disk != "yes"
            and self._on_default_runtime(entry, options)
        ):
            what = "is only partly downloaded" if row.on_disk == "partial" else "is not on disk"
            self.notify(
                f"{entry.name} {what}: press d to download it.", severity="warning", markup=False
            )
            return
        if not entry.trust_remote_code:
            self._confirm_fit(row, options, go)
            return
        from engine.models import consent

        trusted = replace(options, trust_remote_code=True)
        if not consent.needs_consent(entry):
            self._confirm_fit(row, trusted, go)
            return

        def answer(choice: str | None) -> None:
            if choice == "allow":
                consent.give_consent(entry.id, consent.consent_revision(entry))
                self._confirm_fit(row, trusted, go)

        self.push_screen(
            ChoiceScreen(
                f"{entry.name} runs its own code",
                consent.consent_question(entry),
                [("allow", "Allow and load"), ("no", "Do not load")],
            ),
            answer,
        )

    def _on_default_runtime(self, entry: ModelEntry, options: LoadOptions) -> bool:
        """Whether the runtime chosen is the default one (transformers), whose files are
        the catalog's download; another (llama.cpp) was chosen because its own file is
        on disk."""
        from engine.errors import SmollmError
        from engine.runtimes import is_default
        from engine.runtimes.choice import resolve_runtime

        try:
            return is_default(resolve_runtime(entry, options.runtime, options.precision))
        except SmollmError:  # no usable file: the load says why, in full
            return True

    def _confirm_fit(self, row: ModelOverview, options: LoadOptions, go) -> None:
        entry = row.entry
        if row.fit != "does not fit":
            go(entry, options)
            return

        def answer(choice: str | None) -> None:
            if choice == "anyway":
                go(entry, options)
            elif choice == "int8":
                go(entry, replace(options, precision="int8"))

        question = (
            f"At {options.precision} it needs about {row.size_mb or 0:,.0f} MB, more "
            "than this machine has free. On a Jetson, running out of memory gets the "
            "model's worker killed (the app stays up)."
        )
        choices = [("anyway", "Load anyway"), ("cancel", "Cancel")]
        eight = self._eight_bit(entry, options)
        if eight is not None and eight.fit in ("fits", "tight"):
            question += f" In 8-bit it needs about {eight.size_mb or 0:,.0f} MB and fits."
            choices.insert(0, ("int8", "Load in 8-bit"))
        elif eight is not None:
            question += (
                f" 8-bit would need about {eight.size_mb or 0:,.0f} MB: it does not "
                "fit either. A smaller model, or closing other programs, will."
            )
        self.push_screen(
            ChoiceScreen(f"{entry.name} may not fit in memory", question, choices), answer
        )

    def _eight_bit(self, entry: ModelEntry, options: LoadOptions) -> ModelOverview | None:
        """The catalog's row for ``entry`` in 8-bit (bitsandbytes), where 8-bit is another
        choice: not already 8- or 4-bit, and on transformers (llama.cpp's precision is the
        GGUF file's quant type)."""
        from engine.catalog.entries import Catalog

        if options.precision in ("int8", "int4") or not self._on_default_runtime(entry, options):
            return None
        rows = self.overview_source(Catalog([entry]), "int8", options.device)
        return rows[0] if rows else None

    def _push_chat(
        self, entry: ModelEntry, options: LoadOptions, typed: TypedAhead | None = None
    ) -> None:
        warn_shared_board(self, entry)
        if self._chat is None or self._chat.options != options:
            self._chat = ChatScreen(entry, options)
        self.push_screen(self._chat)
        if typed is not None:
            # After the screen's mount, which push_screen queued first: its input is there.
            self.call_next(self._chat.type_ahead, typed.question, typed.text)

    def open_evaluate(self, entry: ModelEntry) -> None:
        from tui.screens.evaluate import EvaluateScreen

        # On the runtime chosen for chat: a GGUF model is evaluated as it runs there.
        self._prepare(entry, lambda e, o: self.push_screen(EvaluateScreen(e, o)))

    def arena_pick(self, entry: ModelEntry) -> None:
        """`a` on the catalog: mark the first side, or open the Arena on the marked one and
        this one (tui.screens.arena_pick)."""
        self._prepare(entry, self.arena.pick)

    def start_download(self, entry: ModelEntry) -> None:
        self.files.download(entry)

    def delete_model(self, entry: ModelEntry) -> None:
        self.files.delete(entry)

    def refresh_catalog(self) -> None:
        """What the catalog shows may have changed: it redraws now with the rows kept (the
        settings and the Arena's mark in its title) and again once they are read anew."""
        self.overview.refresh()
        self.overview.changed.publish(self.overview)

    def on_overview_read(self, message: m.OverviewRead) -> None:
        self.overview.arrived(message)

    def on_download_event(self, message: m.DownloadEvent) -> None:
        self.files.on_event(message.event)

    def on_jobs_changed(self, message: m.JobsChanged) -> None:
        self.jobs_watch.poll()

    def open_compare(self) -> None:
        from tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen())

    def open_pick(self) -> None:
        from tui.screens.pick import PickScreen

        if not isinstance(self.screen, PickScreen):
            self.push_screen(PickScreen())

    def chat_with(self, entry: ModelEntry, options: LoadOptions) -> None:
        self._push_chat(entry, options)

    def open_system(self) -> None:
        from tui.screens.system import SystemScreen

        if self.telemetry is None:
            self.notify("Telemetry is off in this session.", severity="warning")
            return
        self.push_screen(SystemScreen(self.telemetry))

    def action_jobs(self) -> None:
        from tui.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Every key, per screen", self.action_help)
        yield SystemCommand(
            "Jobs", "Background evaluations: progress, cancel, resume (j)", self.action_jobs
        )
        yield SystemCommand(
            "Which configuration for this board",
            "Pick: the configurations no other beats on quality, speed and memory",
            self.open_pick,
        )
        yield SystemCommand(
            "Cycle precision", "auto, fp32, fp16, bf16, int8, int4", self._palette_precision
        )
        yield SystemCommand("Cycle runtime", "auto, transformers, llama.cpp", self._palette_runtime)
        if isinstance(screen, CatalogScreen):
            for name, action, text in (
                ("Chat", "chat", "Chat with the selected model"),
                ("Evaluate", "evaluate", "Evaluate the selected model"),
                ("Arena", "arena", "Mark the model for the Arena, or open it on the pair"),
                ("Download", "download", "Download the selected model"),
                ("Delete from disk", "delete", "Remove the selected model's files"),
                ("Compare results", "compare", "Side-by-side tables and charts"),
                ("System", "system", "Board memory, GPU load, power, temperatures"),
                ("Filter", "filter", "Filter the catalog"),
                ("Sort", "sort", "Sort by the next column"),
            ):
                yield SystemCommand(name, text, getattr(screen, f"action_{action}"))

    def _palette_runtime(self) -> None:
        if isinstance(self.screen, ChatScreen):
            self.screen.action_cycle_runtime()
            return
        self.cycle_runtime()

    def _palette_precision(self) -> None:
        self.cycle_precision()
