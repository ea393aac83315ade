"""The one builder of a job's spec (engine.jobs.spec.job_spec), used by the Evaluate
screen's "in background", `eval --background` and Pick's measuring job."""

from __future__ import annotations

import os

from engine.jobs import JobSpec, job_spec
from engine.records import EvalSpec


def test_a_job_keeps_what_the_user_chose_with_absolute_folders(tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    (tmp_path / "more").mkdir()
    (tmp_path / "catalog.toml").write_text("")
    monkeypatch.chdir(tmp_path)  # the runner starts elsewhere: relative paths would break
    chosen = EvalSpec(
        tasks=("fx_yesno", "fx_choice2"),
        limit=7,
        num_fewshot=2,
        include_path=os.pathsep.join(["mine", " ", "more"]),
        batch_size=4,
    )
    spec = job_spec(
        ["tiny-llama", "tiny-t5"],
        chosen,
        precision="fp32",
        device="cpu",
        runtime="auto",
        force=True,
        catalog_path="catalog.toml",
    )
    assert spec == JobSpec(
        models=("tiny-llama", "tiny-t5"),
        tasks=("fx_yesno", "fx_choice2"),
        limit=7,
        num_fewshot=2,
        precision="fp32",
        device="cpu",
        runtime="auto",
        include_path=os.pathsep.join([str(tmp_path / "mine"), str(tmp_path / "more")]),
        batch_size=4,
        force=True,
        catalog_path=str(tmp_path / "catalog.toml"),
    )
    # what the runner evaluates is what was chosen
    back = spec.eval_spec()
    assert (back.tasks, back.limit, back.num_fewshot, back.batch_size) == (
        chosen.tasks,
        7,
        2,
        4,
    )
    assert JobSpec.from_json(spec.to_json()) == spec


def test_no_folders_and_the_default_catalog_stay_none():
    spec = job_spec(["a"], EvalSpec(tasks=("t",), limit=None, include_path=""))
    assert (spec.include_path, spec.catalog_path, spec.limit) == (None, None, None)
    assert (spec.precision, spec.device, spec.runtime, spec.force) == (
        "auto",
        "auto",
        "transformers",
        False,
    )


def test_a_measuring_job_lists_its_configurations_and_the_decode_test():
    spec = job_spec(
        ["a"],
        EvalSpec(tasks=("t",), limit=100),
        device="cpu",
        configurations=[("a", "llama.cpp", "int4")],
        bench=True,
    )
    assert spec.steps() == [("a", "llama.cpp", "int4")] and spec.bench
    assert spec.cells == 2
