"""Evaluation on llama.cpp: the bundled Q4_1 file as it runs in chat, measured the same way
as transformers (lm-eval's HFLM on the same weights dequantized), through the same runner:
progress, cancel, statuses, time per sample, peak memory."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from fixtures.tasks.helpers import TASKS_DIR
from llama_support import BUNDLED, require_llama_cpp

require_llama_cpp()

from engine.runtimes.loading import load_model  # noqa: E402
from engine.settings import LoadOptions  # noqa: E402
from engine.worker.protocol import EvalProgress, EvalSpec, TaskDone  # noqa: E402

PARITY_DIR = Path(__file__).resolve().parent / "fixtures" / "parity_tasks"
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def gguf():
    return load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))


def run(loaded, spec, cancel=None):
    from engine.evaluation.runner import evaluate

    return list(evaluate(loaded, spec, cancel or threading.Event(), request_id=3))


def done(events):
    return {e.result.task: e.result for e in events if isinstance(e, TaskDone)}


# ---- parity with HFLM on the dequantized weights -----------------------------------------


@pytest.fixture(scope="module")
def dequantized():
    """The same file on transformers (its converted copy is cached across sessions)."""
    return load_model(LoadOptions(BUNDLED, runtime="transformers"))


def per_sample(lm, task: str, folder: Path):
    """lm-eval's own evaluate with samples logged: (metrics, {doc_id: sample})."""
    from lm_eval.evaluator import evaluate as lm_eval_evaluate
    from lm_eval.tasks import TaskManager

    from engine.evaluation.runner import _prepare

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    tasks = _prepare(TaskManager(include_path=str(folder), include_defaults=False), task, None)
    out = lm_eval_evaluate(lm=lm, task_dict=tasks, limit=None, log_samples=True, bootstrap_iters=0)
    metrics = {
        k.removesuffix(",none"): v for k, v in out["results"][task].items() if k.endswith(",none")
    }
    return metrics, {s["doc_id"]: s for s in out["samples"][task]}


@pytest.fixture(scope="module")
def both(gguf, dequantized):
    from lm_eval.models.huggingface import HFLM

    from engine.evaluation.runner import _make_lm

    ours = _make_lm(gguf, EvalSpec(tasks=()))
    theirs = HFLM(
        pretrained=dequantized.model, tokenizer=dequantized.tokenizer, batch_size=16
    )  # the four choices of a question in one forward pass
    return ours, theirs


def differing(ours: dict, theirs: dict, metric: str) -> list[str]:
    """The items whose score differs, said as the per-sample log of a run would."""
    return [
        f"doc {d}: llama.cpp {ours[d][metric]} {ours[d]['filtered_resps']!r} / "
        f"transformers {theirs[d][metric]} {theirs[d]['filtered_resps']!r}"
        for d in sorted(ours)
        if ours[d][metric] != theirs[d][metric]
    ]


@pytest.mark.parametrize(
    "task, folder, metrics",
    [
        ("fx_choice4", TASKS_DIR, ("acc", "acc_norm")),
        ("fx_choice2", TASKS_DIR, ("acc", "acc_norm")),
        ("fx_short_answer", PARITY_DIR, ("exact_match",)),
    ],
)
def test_q4_on_llamacpp_lands_within_one_item_of_hflm_dequantized(both, task, folder, metrics):
    ours_lm, theirs_lm = both
    ours, ours_samples = per_sample(ours_lm, task, folder)
    theirs, theirs_samples = per_sample(theirs_lm, task, folder)
    items = len(ours_samples)
    assert items == len(theirs_samples) >= 16
    for metric in metrics:
        diff = differing(ours_samples, theirs_samples, metric)
        log.info(
            "%s %s: llama.cpp %.4f, HFLM %.4f; differing items: %s",
            task,
            metric,
            ours[metric],
            theirs[metric],
            diff or "none",
        )
        assert abs(ours[metric] - theirs[metric]) * items <= 1 + 1e-9, "\n".join(diff)
    if task == "fx_short_answer":  # a real generation, not empty strings
        assert sum(bool(s["filtered_resps"][0].strip()) for s in ours_samples.values()) >= 8
        assert ours["exact_match"] >= 0.25


def test_rolling_loglikelihood_is_within_two_percent_of_hflm(both):
    ours_lm, theirs_lm = both
    _, ours = per_sample(ours_lm, "fx_rolling", PARITY_DIR)
    _, theirs = per_sample(theirs_lm, "fx_rolling", PARITY_DIR)
    for doc, sample in ours.items():
        mine, ref = sample["word_perplexity"][0], theirs[doc]["word_perplexity"][0]
        assert mine < 0 and abs(mine - ref) <= 0.02 * abs(ref), (doc, mine, ref)


# ---- the runner on a GGUF model ----------------------------------------------------------


def test_every_task_runs_with_progress_time_and_memory(gguf):
    events = run(
        gguf,
        EvalSpec(
            tasks=("fx_choice4", "fx_short_answer", "fx_rolling"),
            limit=6,
            include_path=f"{TASKS_DIR}{os.pathsep}{PARITY_DIR}",
        ),
    )
    results = done(events)
    assert [r.status for r in results.values()] == ["ok", "ok", "ok"], results
    choice = results["fx_choice4"]
    assert set(choice.metrics) == {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}
    assert choice.samples == 6 and choice.requests == 24
    assert choice.time_per_sample_ms > 0 and choice.peak_memory_mb > 100
    assert results["fx_short_answer"].num_fewshot == 2  # the task's own few-shot count
    assert "word_perplexity" in results["fx_rolling"].metrics
    progress = [e for e in events if isinstance(e, EvalProgress) and e.task == "fx_choice4"]
    assert progress[-1].done == progress[-1].total == 24


def test_cancel_mid_task_stops_within_a_chunk(gguf, monkeypatch):
    from engine.evaluation import runner
    from engine.runtimes.llamacpp.lm import LlamaCppLM

    cancel = threading.Event()
    scored = []
    score = LlamaCppLM._score

    def counting(self, *args, **kwargs):
        scored.append(1)
        if len(scored) == 3:
            cancel.set()  # the user presses cancel while the model is busy
        return score(self, *args, **kwargs)

    monkeypatch.setattr(LlamaCppLM, "_score", counting)
    results = done(
        run(
            gguf,
            EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=None, include_path=str(TASKS_DIR)),
            cancel,
        )
    )
    assert list(results) == ["fx_choice4"]  # the second task never starts
    assert results["fx_choice4"].status == "cancelled"
    assert len(scored) <= runner.CHUNK < 72  # 18 questions x 4 choices


def test_llamacpp_out_of_memory_is_oom_and_the_next_task_runs(gguf, monkeypatch):
    """llama_decode's GGML_STATUS_ALLOC_FAILED (-2) is an oom row; the context is left
    clean and the next task runs on it."""
    import llama_cpp

    decode = llama_cpp.llama_decode
    calls = []

    def first_fails(ctx, batch):
        calls.append(1)
        return -2 if len(calls) == 1 else decode(ctx, batch)

    monkeypatch.setattr(llama_cpp, "llama_decode", first_fails)
    results = done(
        run(gguf, EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=4, include_path=str(TASKS_DIR)))
    )
    assert results["fx_choice4"].status == "oom"
    assert "out of memory" in results["fx_choice4"].error
    assert results["fx_yesno"].status == "ok" and results["fx_yesno"].samples == 4


def test_chat_after_an_evaluation_answers_as_before(gguf):
    """Evaluation shares the chat's context: a reply afterwards is the same as before it."""
    from engine.chat.stream import stream_reply
    from engine.events import Chunk
    from engine.settings import Conversation, GenerationSettings

    greedy = GenerationSettings(temperature=0.0, repetition_penalty=1.0, max_new_tokens=12)

    def answer() -> str:
        conversation = Conversation().add(
            "user", "What is the capital of France? Answer in one sentence."
        )
        return "".join(
            e.text
            for e in stream_reply(gguf, conversation, greedy, cancel=threading.Event())
            if isinstance(e, Chunk)
        )

    before = answer()
    run(gguf, EvalSpec(tasks=("fx_yesno",), limit=3, include_path=str(TASKS_DIR)))
    assert answer() == before and "Paris" in before


def test_request_cache_files_differ_by_runtime_and_quant(gguf, tmp_path):
    from dataclasses import replace

    from engine.evaluation.request_cache import cache_file

    mine = cache_file(tmp_path, gguf.info, 1)
    fp32 = cache_file(tmp_path, replace(gguf.info, runtime="transformers", dtype="float32"), 1)
    assert "llama.cpp" in mine.name and "Q4_1" in mine.name and mine != fp32
