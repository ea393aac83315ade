"""Downloads and deletes started from the catalog: a queue in the background, progress on
the catalog screen, a question before anything is deleted."""

from __future__ import annotations

from engine import hub
from engine.catalog.entries import ModelEntry
from engine.hub import downloads as dl
from engine.models.local_status import local_status
from engine.units import format_bytes
from tui.app_api import SmollmAppApi
from tui.messages import DownloadEvent
from tui.screens.dialogs import ChoiceScreen


class ModelFiles:
    """Owned by the app. The queue's thread posts each event to the app (a DownloadEvent
    message, thread-safe), which hands it to ``on_event`` on the UI thread; the catalog
    screen hears of it through ``app.download_news``."""

    def __init__(self, app: SmollmAppApi) -> None:
        self.app = app
        self._queue: dl.DownloadQueue | None = None

    @property
    def queue(self) -> dl.DownloadQueue:
        if self._queue is None:
            self._queue = dl.DownloadQueue(listener=self._from_thread)
        return self._queue

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()

    def is_busy(self, model_id: str) -> bool:
        return self._queue is not None and self._queue.is_busy(model_id)

    # ---- download ------------------------------------------------------------------

    def download(self, entry: ModelEntry) -> None:
        if entry.source != "hub":
            why = {
                "bundled": "it comes with the app",
                "local": "it is a local folder or file",
                "unavailable": entry.unavailable_reason or "it is not published",
            }
            self.app.notify(
                f"{entry.name} is not downloaded from the Hub: "
                f"{why.get(entry.source, entry.source)}.",
                markup=False,
            )
            return
        if self.is_busy(entry.id):

            def answer(choice: str | None) -> None:
                if choice == "cancel":
                    self.queue.cancel(entry.id)

            self.app.push_screen(
                ChoiceScreen(
                    f"Cancel the download of {entry.name}?",
                    "What was fetched stays on disk: downloading again resumes from there.",
                    [("cancel", "Cancel the download"), ("keep", "Keep downloading")],
                ),
                answer,
            )
            return
        if local_status(entry).state == "yes":
            self.app.notify(f"{entry.name} is already on disk.", markup=False)
            return
        self.queue.submit(entry)

    def _from_thread(self, event) -> None:
        self.app.post_message(DownloadEvent(event))

    def on_event(self, event) -> None:
        waiting = max(0, len(self.queue.jobs()) - 1)
        self.app.download_news.publish((event, waiting))
        if isinstance(event, dl.FINAL_EVENTS):
            self.app.refresh_catalog()  # on disk now, or partly, or not at all
        name = event.job.model_id
        if isinstance(event, dl.DownloadQueued) and event.position > 0:
            self.app.notify(f"{name}: queued ({event.position} before it)", markup=False)
        elif isinstance(event, dl.DownloadNotice):
            self.app.notify(event.message, title=name, severity="warning", markup=False)
        elif isinstance(event, dl.DownloadDone):
            self.app.notify(
                f"{name} is on disk ({format_bytes(event.result.bytes_total)})",
                title="Download finished",
                markup=False,
            )
        elif isinstance(event, dl.DownloadFailed):
            self.app.notify(
                event.message,
                title=f"Download of {name} failed",
                severity="error",
                timeout=15,
                markup=False,
            )
        elif isinstance(event, dl.DownloadCancelled):
            self.app.notify(
                f"Download of {name} cancelled; downloading again resumes it.", markup=False
            )

    # ---- delete --------------------------------------------------------------------

    def delete(self, entry: ModelEntry) -> None:
        if entry.source != "hub":
            self.app.notify(
                f"Only models downloaded from the Hub can be deleted here "
                f"({entry.name} is {entry.source}).",
                markup=False,
            )
            return
        if self.is_busy(entry.id):
            self.app.notify(f"{entry.name} is being downloaded: cancel it first (d).", markup=False)
            return
        from engine.hub.deletion import deletion_plan

        plan = deletion_plan(entry)  # the weights' repo and the GGUF files fetched for it
        if not plan:
            self.app.notify(f"{entry.name} is not on disk.", markup=False)
            return

        def answer(choice: str | None) -> None:
            if choice == "delete":
                freed = hub.delete(entry)
                self.app.notify(f"Deleted {entry.name}: {format_bytes(freed)} freed.", markup=False)
                self.app.refresh_catalog()

        listed = "\n".join(
            f"{item.label}: {format_bytes(item.size_bytes)} in {item.path}" for item in plan
        )
        self.app.push_screen(
            ChoiceScreen(
                f"Delete {entry.name} from disk?",
                f"{listed}\nOther tools that use the same cache lose it too.",
                [("delete", "Delete"), ("keep", "Keep")],
            ),
            answer,
        )
