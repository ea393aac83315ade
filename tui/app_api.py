"""The app as screens and widgets see it: ``SmollmAppApi``, the typed base of the
application, and ``smollm_app(node)``, the one way a screen reaches it.

Screens sit below ``tui.app`` (import-linter's tui layers): they cannot import SmollmApp,
which imports them. They name this base instead. It holds the shared parts and the facts
screens ask for (the catalog's rows, the fit line, load marks on the charts, chat speed);
``tui.app.SmollmApp`` adds the screens and the navigation between them, declared here so
that a type checker holds both sides to the same signatures.
"""

from __future__ import annotations

import dataclasses
import threading
from functools import cached_property
from typing import Any, Protocol, cast

from textual.app import App
from textual.content import Content
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.signal import Signal

from engine.catalog.entries import Catalog, ModelEntry
from engine.memory.overview import ModelOverview
from engine.records import LoadInfo, ReplyStats, precision_label
from engine.runtimes import load_note
from engine.settings import GenerationSettings, LoadOptions
from engine.telemetry.peak import PeakTracker, start_peak
from engine.telemetry.sampler import Sampler
from tui import messages as m
from tui.catalog_rows import CatalogRows
from tui.jobs_watch import JobsWatch
from tui.safe_text import visible
from tui.session import ModelSession


@dataclasses.dataclass(frozen=True)
class TypedAhead:
    """What was typed for a chat before it opened (keys pressed before the catalog's first
    rows, tui.widgets.open_wait): a question sent with Enter, and the input's text."""

    question: str | None = None
    text: str = ""


class OverviewSource(Protocol):
    """(catalog, precision, device, runtime=) -> the catalog's rows:
    engine.memory.overview.overview, or a test's."""

    def __call__(
        self, catalog: Catalog, precision: str, device: str, *, runtime: str = ...
    ) -> list[ModelOverview]: ...


class ArenaMark(Protocol):
    """The Arena's marked first side (tui.screens.arena_pick.ArenaPicker)."""

    def marked_text(self) -> str | None: ...

    def pick(self, entry: ModelEntry, options: LoadOptions) -> None: ...


class SmollmAppApi(App[None]):
    """The shared parts every screen may use, and the facts computed from them."""

    catalog: Catalog
    catalog_path: str | None
    session: ModelSession
    telemetry: Any  # a Sampler, a Reader (tests, screenshots), or None: telemetry off
    device: str
    precision: str  # chosen on the catalog: auto, fp32, ..., int4
    runtime: str  # auto, transformers, llama.cpp
    overview_source: OverviewSource
    overview: CatalogRows  # the catalog's rows, read in a thread (tui.catalog_rows)
    download_news: Signal  # (event, downloads waiting): for the catalog's download bar
    jobs_watch: JobsWatch
    arena: ArenaMark
    _marked_model: str | None = None  # the load last marked on the charts
    _store_notice: str | None = None  # the results-store problem last shown

    # Outside text reaches notifications (markup=False) and screen titles, which Textual
    # shows without markup but with control characters as they are: an ESC from a model
    # name or a path would reach the terminal. Shown as visible symbols instead.
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        super().notify(
            visible(message),
            title=visible(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def format_title(self, title: str, sub_title: str) -> Content:
        return super().format_title(visible(title), visible(sub_title))

    # ---- facts for the screens -----------------------------------------------------

    def store_problem(self, problem: str | None) -> None:
        """Say once (per problem) that stored results are unavailable, and why. The
        problem is told by its first words ("the results store X is damaged"): the rest
        (SQLite's detail, the time-stamped `mv` command) may differ from one read to the
        next."""
        key = problem.split(" (", 1)[0] if problem else None
        if problem and key and key != self._store_notice:
            self.notify(
                problem, title="Results unavailable", severity="warning", timeout=30, markup=False
            )
        self._store_notice = key

    def fit_text(self, entry: ModelEntry) -> str:
        """'needs about 1,489 MB: fits (estimated)' for the loading line ("memory need
        unknown" also while the catalog's rows for these settings are being read)."""
        row = self.overview.row(entry.id)
        if row is None or row.size_mb is None:
            return "memory need unknown"
        how = "measured" if row.fit_measured else "estimated"
        return f"needs about {row.size_mb:,.0f} MB: {row.fit} ({how})"

    def model_loaded(self, info: LoadInfo) -> None:
        """Mark the load (and the unload of the model it replaced) on the telemetry charts
        and follow the worker's memory."""
        if self.telemetry is None or not hasattr(self.telemetry, "add_mark"):
            return
        precision = precision_label(info.dtype, info.quantization, short=False)
        label = f"{info.model_id} {precision} on {info.device}"
        label += load_note(info.runtime)
        if self._marked_model not in (None, label):
            self.telemetry.add_mark(f"unloaded {self._marked_model}")
        self.telemetry.add_mark(f"loaded {label}")
        self._marked_model = label
        self.telemetry.watch_process("worker", self.session.worker_pid)

    def model_unloaded(self, why: str) -> None:
        """Mark on the telemetry charts that the loaded model is gone (its worker died)."""
        if self._marked_model is None or not hasattr(self.telemetry, "add_mark"):
            return
        self.telemetry.add_mark(f"unloaded {self._marked_model}: {why}")
        self._marked_model = None
        self.telemetry.watch_process("worker", None)

    def begin_peak(self) -> PeakTracker | None:
        """Start following peak board memory and GPU load (for a reply); None when the
        session's telemetry is not a running Sampler."""
        return start_peak(self.telemetry) if isinstance(self.telemetry, Sampler) else None

    def record_chat_speed(
        self,
        stats: ReplyStats,
        settings: GenerationSettings,
        board: dict | None = None,
        *,
        info: LoadInfo | None = None,
    ) -> None:
        """Keep the reply's speed and peak memory: the catalog shows the last measured
        tok/s, and the measured peak replaces the estimate in the fit verdict. ``board``
        (finish_peak of the tracker from begin_peak) adds the board's peak memory and GPU
        load during the reply; ``info``: the model that replied (None: the app's session's,
        an Arena side has its own). Written in a thread (SpeedStored comes back)."""
        from engine.results.store import SpeedRun

        info = info or self.session.info
        if info is None or stats.new_tokens == 0:
            return
        run = SpeedRun(
            model_id=info.model_id,
            precision=info.precision,
            runtime=info.runtime,
            device=info.device,
            device_name=info.device_name,
            prompt_tokens=stats.prompt_tokens,
            new_tokens=stats.new_tokens,
            tokens_per_s=stats.tokens_per_s,
            time_to_first_token_s=stats.time_to_first_token_s,
            peak_memory_mb=stats.peak_memory_mb,
            settings={**dataclasses.asdict(settings), "threads": info.threads},
            **(board or {}),
        )

        lock = self._speed_writes

        def write() -> None:
            from engine.results.health import StoreUnavailable
            from engine.results.store import ResultsStore

            try:
                with lock, ResultsStore() as store:
                    store.add_speed(run)
            except StoreUnavailable as exc:  # the chat goes on; this reply's speed is not kept
                self.post_message(m.SpeedStored(str(exc)))
            except Exception as exc:  # e.g. a store locked for longer than SQLite waits
                self.post_message(
                    m.SpeedStored(
                        f"This reply's speed was not kept: {str(exc) or type(exc).__name__}"
                    )
                )
            else:
                self.post_message(m.SpeedStored())

        self.run_worker(write, thread=True, group="chat-speed", exit_on_error=False)

    @cached_property
    def _speed_writes(self) -> threading.Lock:
        """One speed row written at a time: the Arena's two sides end together, and two
        first opens of a store that does not exist yet both try to create its tables
        (the second fails with "table ... already exists")."""
        return threading.Lock()

    def on_speed_stored(self, message: m.SpeedStored) -> None:
        if message.problem:
            self.store_problem(message.problem)
        else:
            self.overview.refresh()  # the catalog's tok/s and measured fit

    # ---- what the catalog opens (tui.app.SmollmApp) ---------------------------------

    def cycle_precision(self) -> None:
        raise NotImplementedError

    def cycle_runtime(self) -> None:
        raise NotImplementedError

    def show_details(self, entry: ModelEntry) -> None:
        raise NotImplementedError

    def open_chat(self, entry: ModelEntry, typed: TypedAhead | None = None) -> None:
        raise NotImplementedError

    def open_evaluate(self, entry: ModelEntry) -> None:
        raise NotImplementedError

    def arena_pick(self, entry: ModelEntry) -> None:
        raise NotImplementedError

    def start_download(self, entry: ModelEntry) -> None:
        raise NotImplementedError

    def delete_model(self, entry: ModelEntry) -> None:
        raise NotImplementedError

    def refresh_catalog(self) -> None:
        raise NotImplementedError

    def open_compare(self) -> None:
        raise NotImplementedError

    def open_system(self) -> None:
        raise NotImplementedError

    def open_pick(self) -> None:
        raise NotImplementedError

    def chat_with(self, entry: ModelEntry, options: LoadOptions) -> None:
        """Chat with ``entry`` loaded exactly as ``options`` say (a configuration that
        Pick chose), not with the catalog's precision and runtime."""
        raise NotImplementedError


def smollm_app(node: DOMNode) -> SmollmAppApi:
    """The running app, typed: what a screen or widget uses instead of ``self.app``."""
    return cast(SmollmAppApi, node.app)
