"""`make screenshots` builds its Compare picture from real evaluations of several models at
two precisions (tui/screenshots.py), here with the tiny models only, to stay quick."""

from __future__ import annotations

import pytest

from engine.results.store import ResultsStore
from tui import screenshots

pytestmark = pytest.mark.ui  # draws the screens (left out of make test-board)


def test_the_compare_picture_compares_real_runs_of_several_models(tmp_path, monkeypatch):
    monkeypatch.setattr(
        screenshots,
        "COMPARE_RUNS",
        ((("tiny-llama", "tiny-t5"), "fp32"), (("tiny-llama",), "bf16")),
    )
    assert screenshots.main([str(tmp_path / "shots"), "compare"]) == 0
    with ResultsStore() as store:
        runs = store.eval_runs()
    assert {(r.model_id, r.precision) for r in runs} == {
        ("tiny-llama", "fp32"),
        ("tiny-t5", "fp32"),
        ("tiny-llama", "bf16"),
    }
    assert {r.task for r in runs} == {"fx_choice4", "fx_yesno", "fx_choice2"}
    assert all(r.status == "ok" and r.samples > 0 and r.time_per_sample_ms for r in runs)
    picture = (tmp_path / "shots" / "compare.svg").read_text(encoding="utf-8")
    assert "tiny-llama" in picture and "tiny-t5" in picture
    assert "9&#160;of&#160;9&#160;run(s)" in picture  # SVG text keeps its spaces this way


def test_the_pick_picture_shows_a_front_of_real_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(screenshots, "COMPARE_RUNS", ((("tiny-llama",), "fp32"),))
    monkeypatch.setattr(screenshots, "PICK_BENCHES", (("tiny-llama", "transformers", "fp32"),))
    assert screenshots.main([str(tmp_path / "shots"), "pick"]) == 0
    with ResultsStore() as store:
        assert [(s.model_id, s.precision) for s in store.speed_runs()] == [("tiny-llama", "fp32")]
    picture = (tmp_path / "shots" / "pick.svg").read_text(encoding="utf-8")
    assert "tiny-llama&#160;·&#160;transformers&#160;fp32" in picture
