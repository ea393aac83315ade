"""Whatever values the options of generate, eval, report, import and monitor get, the
command ends with exit 0, 1 or 2 and one message, never a traceback.

Hypothesis picks the options and their values (numbers of every kind as text, odd and
empty text, real and missing paths). The command runs in this process through the real
entry point. Where every value is valid the command would go on to load a model; there a
stop sign stands in (the worker client for generate, the batch for eval), so no model is
ever loaded here. The stop sign first hands the accepted values to what would take them
next: the seed to torch, the sample limit and few-shot count to a results row in SQLite.
Reaching it counts as "accepted".
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.events import Loaded
from engine.records import LoadInfo
from engine.results.store import EvalRun, ResultsStore
from tui.cli import main

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Accepted(Exception):
    """Raised where the command would start loading a model or running a task."""


class _StopSignWorker:
    """Stands in for the worker client: a load succeeds at once, a reply stops the command
    after the seed has been given to torch as the worker would."""

    def __init__(self, *args, **kwargs):
        pass

    def load(self, options):
        yield Loaded(
            1,
            LoadInfo(
                model_id=options.model_id,
                repo=None,
                revision=None,
                kind="causal",
                params=1,
                size_mb=1.0,
                dtype="float32",
                device="cpu",
                device_name="CPU",
                quantization=None,
                load_seconds=0.0,
                context_length=2048,
                has_chat_template=True,
            ),
        )

    def generate(self, conversation, settings, raw=False):
        import torch

        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        raise Accepted

    def cancel(self):
        pass

    def close(self):
        pass


def _stop_sign_batch(models, spec, *, store, **kwargs):
    """Stands in for the batch: stores the row its first task would get, then stops."""
    store.add_eval(
        EvalRun(
            model_id=models[0],
            repo=None,
            precision="fp32",
            device="cpu",
            task=spec.tasks[0],
            status="cancelled",
            started=1,
            ended=2,
            limit=spec.limit,
            num_fewshot=spec.num_fewshot,
            samples=0,
        )
    )
    raise Accepted


# ---- values ------------------------------------------------------------------------------

# Text a shell can pass: any characters but NUL (argv cannot hold one) and lone surrogates.
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
# A relative name that is no folder above this one (a walk of "/" or ".." would take long).
local_name = text.filter(lambda t: "/" not in t and t.strip() not in (".", ".."))
number = st.one_of(
    st.integers(min_value=0, max_value=64).map(str),  # mostly in range
    st.floats(min_value=0, max_value=2).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "1e309",
            "-0",
            "0",
            "1",
            "2",
            "0.5",
            "1e-300",
            "4294967296",
            "",
            " ",
            "abc",
            "0x10",
            "1_000",
            "٣",
        ]
    ),
    text,
)


def option(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    """``[name, value]``, written ``name=value`` so that values starting with '-' stay
    values."""
    return values.map(lambda value: [f"{name}={value}"])


def flag(name: str) -> st.SearchStrategy:
    return st.just([name])


def command(name: str, positionals: st.SearchStrategy, options: list) -> st.SearchStrategy:
    """argv: the command, its positionals, then a random choice of its options."""
    chosen = st.lists(st.sampled_from(range(len(options))), unique=True, max_size=3)
    return st.tuples(
        positionals,
        chosen.flatmap(
            lambda picks: st.tuples(*(options[i] for i in picks)) if picks else st.just(())
        ),
    ).map(lambda parts: [name, *parts[0], *(word for opt in parts[1] for word in opt)])


def check(argv: list[str], capsys, seen: set) -> None:
    """Run one example; ``seen`` collects the outcomes ("accepted" where a model would
    load), so a test can make sure its examples reach both sides."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: --help, or a value of the wrong type
        status = exc.code
    except Accepted:
        status = "accepted"
    out, err = capsys.readouterr()
    assert status in (0, 1, 2, "accepted"), (argv, status, err)
    assert "Traceback" not in err, (argv, err)
    if status == 2 and err:
        assert err.startswith(("smollm-tui: error: ", "usage: ")), (argv, err)
    seen.add(status)


# ---- the commands ------------------------------------------------------------------------


@pytest.fixture
def catalog_args(tiny_catalog: Path) -> list[str]:
    return ["--catalog", str(tiny_catalog)]


def test_generate_options(catalog_args, monkeypatch, capsys):
    monkeypatch.setattr("engine.worker.client.WorkerClient", _StopSignWorker)
    models = st.one_of(
        st.sampled_from(
            [
                "tiny-llama",
                "",
                " ",
                "no-such-model",
                "qwen2.5-0.5b",
                "phonelm-0.5b",
                "HuggingFaceTB/SmolLM2-135M",
            ]
        ),
        text,
    )
    prompts = st.one_of(st.sampled_from(["hi", "", "   "]), text.filter(lambda t: t != "-"))
    positionals = st.one_of(st.tuples(prompts), st.tuples(models, prompts), st.just(()))
    argv = command(
        "generate",
        positionals,
        [
            option("--system", text),
            flag("--raw"),
            option("--temperature", number),
            option("--top-p", number),
            option("--top-k", number),
            option("--repetition-penalty", number),
            option("--no-repeat-ngram-size", number),
            option("--max-new-tokens", number),
            option("--seed", number),
            option("--stop", text),
            option("--precision", st.sampled_from(["fp32", "int8", "x"])),
            option("--device", st.sampled_from(["cpu", "cuda", "auto", "tpu"])),
            flag("--trust-remote-code"),
            flag("--json"),
        ],
    )

    seen: set = set()

    @SETTINGS
    @given(argv)
    @example(["generate", "tiny-llama", "hi", "--seed=100000000000000000000000"])
    @example(["generate", "", "hi"])
    def run(args):
        check([*catalog_args, *args], capsys, seen)

    run()
    assert {"accepted", 2} <= seen, seen


def test_eval_options(catalog_args, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("tui.commands.eval.run_batch", _stop_sign_batch)
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    # Valid values first and more often: the examples reach the end of the checks too.
    models = st.sampled_from(
        ["tiny-llama", "tiny-llama", "tiny-t5", "", "no-such-model", "tiny-llama,"]
    )
    tasks = st.one_of(
        st.sampled_from(
            [
                "boolq",
                "ARC-e,boolq",
                "mmlu_anatomy",
                "fx_yesno",
                "fx_yesno,fx_choice2",
                "fx_yesnoo",
                "",
                ",",
                "arc_eassy",
            ]
        ),
        text,
    )
    # --tasks is required: always given, so that the examples go further than argparse
    positionals = st.tuples(
        st.one_of(models.map(lambda m: [m]), st.just([])), tasks.map(lambda t: [f"--tasks={t}"])
    ).map(lambda parts: [*parts[0], *parts[1]])
    folders = st.sampled_from([str(TASKS_DIR), str(tmp_path / "missing"), str(a_file), ""])
    argv = command(
        "eval",
        positionals,
        [
            option("--models", st.one_of(models, text)),
            option("--limit", number),
            flag("--full"),
            option("--fewshot", number),
            option("--precision", st.sampled_from(["fp32", "auto", "int4", "x"])),
            option("--device", st.sampled_from(["cpu", "auto", "x"])),
            option("--include-path", st.one_of(folders, local_name)),
            option("--batch-size", number),
            flag("--trust-remote-code"),
            flag("--force"),
            flag("--in-process"),
        ],
    )

    seen: set = set()

    @SETTINGS
    @given(argv)
    @example(["eval", "tiny-llama", "--tasks=boolq", "--limit=100000000000000000000"])
    @example(["eval", "tiny-llama", "--tasks=boolq", "--batch-size=0"])
    def run(args):
        check([*catalog_args, *args], capsys, seen)

    run()
    assert {"accepted", 2} <= seen, seen


def test_report_options(catalog_args, capsys, tmp_path):
    with ResultsStore() as store:
        for model, precision, acc in (("tiny-llama", "fp32", 0.5), ("opt-125m", "int8", 0.3)):
            store.add_eval(
                EvalRun(
                    model_id=model,
                    repo=None,
                    precision=precision,
                    device="cpu",
                    task="fx_yesno",
                    status="ok",
                    started=1,
                    ended=2,
                    limit=3,
                    num_fewshot=0,
                    samples=3,
                    metrics={"acc": acc, "acc_stderr": 0.1},
                    time_per_sample_ms=12.5,
                    peak_memory_mb=300.0,
                )
            )
    names = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=10)
    outputs = names.filter(lambda n: n not in (".", "..")).map(lambda n: str(tmp_path / "out" / n))
    argv = command(
        "report",
        st.just(()),
        [
            option("--metric", st.sampled_from(["accuracy", "time", "memory", "size", "all", "x"])),
            option("--accuracy", st.sampled_from(["primary", "acc", "acc_norm", "x"])),
            option("--format", st.sampled_from(["md", "csv", "json", "x"])),
            option("--output", outputs),
            option("--precision", text),
            option("--device", text),
            flag("--quick"),
            flag("--full"),
            option("--fewshot", number),
            option("--models", text),
            option("--tasks", text),
        ],
    )

    seen: set = set()

    @SETTINGS
    @given(argv)
    def run(args):
        check([*catalog_args, *args], capsys, seen)

    run()
    assert {0, 2} <= seen, seen


def test_import_options(catalog_args, capsys, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    results = folder / "results_2026-01-01.json"
    results.write_text(
        json.dumps(
            {
                "results": {
                    "fx_yesno": {"alias": "fx_yesno", "acc,none": 0.6, "acc_stderr,none": 0.2}
                },
                "n-samples": {"fx_yesno": {"original": 18, "effective": 5}},
                "n-shot": {"fx_yesno": 0},
                "versions": {"fx_yesno": 2.0},
                "config": {
                    "model": "hf",
                    "model_args": "pretrained=tests/tiny,dtype=float32",
                    "device": "cpu",
                    "limit": 5,
                },
                "date": 1767225600.0,
                "lm_eval_version": "0.4.13",
            }
        )
    )
    (tmp_path / "empty").mkdir()
    paths = st.one_of(
        st.sampled_from(
            [str(results), str(folder), str(tmp_path / "empty"), str(tmp_path / "missing.json"), ""]
        ),
        local_name,
    )
    argv = command(
        "import",
        st.tuples(paths),
        [
            option("--model", st.one_of(st.sampled_from(["tiny-llama", "", "no-such"]), text)),
        ],
    )

    seen: set = set()

    @SETTINGS
    @given(argv)
    def run(args):
        check([*catalog_args, *args], capsys, seen)

    run()
    assert {0, 2} <= seen, seen


def test_monitor_options(capsys):
    # --count is negative or 1: 0 and more than one sample would wait between samples (the
    # examples with 2 have intervals no wait accepts)
    counts = st.one_of(st.integers(max_value=-1).map(str), st.just("1"))
    argv = command(
        "monitor",
        st.just(()),
        [
            flag("--json"),
            option("--interval", number),
            option("--count", counts),
            option("--count", counts),
            option("--reader", st.sampled_from(["psutil", "jetson-proc", "auto", "x"])),
        ],
    ).map(
        lambda args: args if any(a.startswith("--count=") for a in args) else [*args, "--count=1"]
    )

    seen: set = set()

    @SETTINGS
    @given(argv)
    @example(["monitor", "--interval=inf", "--count=2", "--reader=psutil"])
    @example(["monitor", "--interval=1e10", "--count=2", "--reader=psutil"])
    def run(args):
        check(args, capsys, seen)

    run()
    assert {0, 2} <= seen, seen
