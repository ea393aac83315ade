"""The Pick screen's scatter chart: quality against tok/s, one point per compared
configuration; the front's points numbered as in the table, the dominated ones faint."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from engine.pick.choice import Choice, Ranked

FAINT = "gray"
FRONT = "cyan"


class PickChart(PlotextPlot):
    def draw(self, choice: Choice | None) -> None:
        plt = self.plt
        plt.clear_figure()
        if choice is None or not choice.frontier:
            plt.title("Quality against tok/s: nothing to chart")
            self.refresh()
            return
        dominated = choice.dominated
        if dominated:
            plt.scatter(_speeds(dominated), _qualities(dominated), marker="dot", color=FAINT)
        front = choice.frontier
        xs, ys = _speeds(front), _qualities(front)
        plt.plot(xs, ys, marker="braille", color=FRONT)  # the front, as a line by quality
        for number, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
            plt.text(str(number), x, y, color=FRONT, alignment="center")
        plt.xlabel("tok/s")
        plt.title("Quality against tok/s: the front numbered, dominated faint")
        self.refresh()


def _speeds(items: list[Ranked]) -> list[float]:
    return [r.config.tok_s or 0.0 for r in items]


def _qualities(items: list[Ranked]) -> list[float]:
    return [r.quality for r in items]
