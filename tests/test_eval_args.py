"""`smollm-tui eval` refuses bad arguments in one line, exit 2, before any model is loaded:
unknown tasks (with the nearest names), task files that do not parse (which file, why),
missing task folders, and numbers out of range. Nothing is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine.results.store import ResultsStore
from tui.cli import main


def eval_args(tiny_catalog: Path, *args: str) -> list[str]:
    return [
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--precision",
        "fp32",
        "--device",
        "cpu",
        *args,
    ]


def refused(argv: list[str], capsys) -> str:
    """Run the command in this process; it must stop with exit 2 and one line on stderr,
    having loaded nothing (no "loaded on" line) and stored nothing."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("smollm-tui: error: ")
    assert "loaded on" not in out
    with ResultsStore() as store:
        assert store.eval_runs() == []
    return err


@pytest.fixture
def task_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_an_unknown_task_names_the_nearest_ones(tiny_catalog, capsys):
    err = refused(
        eval_args(tiny_catalog, "--tasks", "fx_yesnoo", "--include-path", str(TASKS_DIR)), capsys
    )
    assert "unknown task 'fx_yesnoo'. Did you mean fx_yesno?" in err
    assert "Task folders searched: " in err
    err = refused(eval_args(tiny_catalog, "--tasks", "arc_eassy"), capsys)
    assert "unknown task 'arc_eassy'. Did you mean arc_easy" in err


def test_a_local_task_without_its_folder_says_to_add_include_path(tiny_catalog, capsys):
    err = refused(eval_args(tiny_catalog, "--tasks", "fx_yesno"), capsys)
    assert "unknown task 'fx_yesno'" in err and "--include-path" in err


def test_a_missing_task_folder(tiny_catalog, tmp_path, capsys):
    err = refused(
        eval_args(tiny_catalog, "--tasks", "fx_yesno", "--include-path", str(tmp_path / "nowhere")),
        capsys,
    )
    assert "nowhere does not exist" in err


@pytest.mark.parametrize(
    "damage, why",
    [
        # a YAML syntax error: lm-eval skips the file without a word
        (
            lambda text: text.replace("output_type: multiple_choice", "output_type: [multiple"),
            "line 7",
        ),
        (
            lambda text: text.replace("task: fx_yesno", "task: fx_yesno\ninclude: gone.yaml"),
            "it includes",
        ),
        # the settings written as an item of a list
        (lambda text: "- " + text.replace("\n", "\n  "), "does not hold task settings"),
    ],
)
def test_a_task_file_that_does_not_parse_is_named_with_the_reason(
    tiny_catalog, task_copy, capsys, damage, why
):
    yaml_file = task_copy / "fx_yesno.yaml"
    yaml_file.write_text(damage(yaml_file.read_text()))
    err = refused(
        eval_args(tiny_catalog, "--tasks", "fx_yesno", "--include-path", str(task_copy)), capsys
    )
    assert f"task 'fx_yesno' is in {yaml_file}, which lm-eval cannot read: " in err
    assert why in err


def test_a_yml_task_file_is_named_too(tiny_catalog, task_copy, capsys):
    (task_copy / "fx_yesno.yaml").rename(task_copy / "fx_yesno.yml")
    err = refused(
        eval_args(tiny_catalog, "--tasks", "fx_yesno", "--include-path", str(task_copy)), capsys
    )
    assert "lm-eval reads only .yaml files: rename it to fx_yesno.yaml" in err


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--batch-size", "0", "--batch-size must be between 1 and 1,024"),
        ("--batch-size", "-4", "--batch-size must be between 1 and 1,024"),
        ("--limit", "0", "--limit must be between 1 and"),
        ("--limit", "100000000000000000000", "--limit must be between 1 and 1,000,000,000"),
        ("--fewshot", "-1", "--fewshot must be between 0 and 100"),
        ("--fewshot", "100000", "--fewshot must be between 0 and 100"),
    ],
)
def test_numbers_out_of_range(tiny_catalog, capsys, option, value, words):
    err = refused(
        eval_args(
            tiny_catalog, "--tasks", "fx_yesno", "--include-path", str(TASKS_DIR), option, value
        ),
        capsys,
    )
    assert words in err


def test_builtin_tasks_outside_our_registry_are_accepted():
    from engine.evaluation.task_names import check_tasks

    # lm-eval's own names: a task, a tag kept in an include file without .yaml, a group
    check_tasks(("lambada_standard", "xquad", "ntrex_tasks", "mmlu_anatomy"), None)
