"""One row of live facts per catalog model, for the catalog screen. Never imports torch.

Size and fit come from a measured run when there is one for (model, precision, device),
else from the estimate; the row says which.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.catalog import Catalog, ModelEntry


@dataclass(frozen=True)
class ModelOverview:
    entry: ModelEntry
    size_mb: float | None  # in memory at the chosen precision
    on_disk: str  # yes | partial | no | bundled | local | n/a
    fit: str  # fits | tight | does not fit | unknown
    fit_measured: bool
    best_avg_accuracy: float | None  # percent
    last_tokens_per_s: float | None


def overview(catalog: Catalog, precision: str, device: str = "auto") -> list[ModelOverview]:
    return [ModelOverview(e, None, "n/a", "unknown", False, None, None) for e in catalog]
