"""Resume inside a task: a job's request cache answers what an earlier attempt computed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from jobs_fixtures import LONG_TASK, long_task_dir

from engine.evaluation.in_process import InProcessSession
from engine.evaluation.request_cache import MISSING, RequestCache, cache_file
from engine.events import EvalProgress, TaskDone
from engine.records import EvalSpec, LoadInfo
from engine.settings import LoadOptions


def _info(**changes) -> LoadInfo:
    base = LoadInfo(
        model_id="tiny-llama",
        repo=None,
        revision="abc123",
        kind="causal",
        params=1,
        size_mb=1.0,
        dtype="float32",
        device="cpu",
        device_name="CPU",
        quantization=None,
        load_seconds=0.1,
        context_length=2048,
        has_chat_template=True,
    )
    return replace(base, **changes)


def test_the_cache_file_names_model_revision_precision_device_and_batch(tmp_path):
    one = cache_file(tmp_path, _info(), 1)
    assert one.parent == tmp_path
    others = {
        cache_file(tmp_path, _info(model_id="opt-125m"), 1),
        cache_file(tmp_path, _info(revision="def456"), 1),
        cache_file(tmp_path, _info(quantization="int8"), 1),
        cache_file(tmp_path, _info(device="cuda"), 1),
        cache_file(tmp_path, _info(), 4),
        cache_file(tmp_path, _info(model_id="../../etc/passwd"), 1),
    }
    assert one not in others and len(others) == 6
    assert all(p.parent == tmp_path for p in others)  # no name leaves the folder


def _request(*args):
    return SimpleNamespace(args=args)


def test_answers_round_trip_exactly_and_damaged_ones_are_computed_again(tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite")
    asked = [_request("ctx", " a"), _request("ctx", " b")]
    cache.store("loglikelihood", asked, [(-1.2345678901234567, False), (float("-inf"), True)])
    cache.store("generate_until", [_request("q", {"until": ["\n"]})], ["Paris"])
    cache.store("generate_until", [_request("q", {"do_sample": True})], ["random"])
    assert cache.lookup("loglikelihood", asked) == [
        (-1.2345678901234567, False),
        (float("-inf"), True),
    ]
    assert cache.lookup("generate_until", [_request("q", {"until": ["\n"]})]) == ["Paris"]
    assert cache.lookup("generate_until", [_request("q", {"do_sample": True})]) == [MISSING]
    assert cache.lookup("loglikelihood", [_request("ctx", " c")]) == [MISSING]
    key = cache.key("loglikelihood", asked[0])
    cache.db.execute("UPDATE answers SET value=? WHERE key=?", ('["x", 1]', key))
    cache.db.commit()
    assert cache.lookup("loglikelihood", asked[:1]) == [MISSING]
    cache.close()


def _results(session, spec, cancel_at: int | None = None):
    results, last_done = [], 0
    for event in session.evaluate(spec):
        if isinstance(event, EvalProgress):
            last_done = event.done
            if cancel_at is not None and event.done >= cancel_at:
                session.cancel()
        elif isinstance(event, TaskDone):
            results.append(event.result)
    return results, last_done


@pytest.fixture(scope="module")
def loaded_session(tiny_catalog):
    session = InProcessSession()
    session.load(
        LoadOptions("tiny-llama", precision="fp32", device="cpu", catalog_path=str(tiny_catalog))
    )
    return session


def test_a_task_stopped_midway_resumes_with_fewer_model_calls_and_the_same_figures(
    loaded_session, tmp_path: Path
):
    tasks = long_task_dir(tmp_path / "tasks", copies=2)  # 36 documents, 144 requests
    plain = EvalSpec(tasks=(LONG_TASK,), limit=None, include_path=str(tasks))
    [reference], _ = _results(loaded_session, plain)
    cached = replace(plain, request_cache=str(tmp_path / "cache"))

    [stopped], computed_before = _results(loaded_session, cached, cancel_at=48)
    [resumed], _ = _results(loaded_session, cached)

    assert reference.status == "ok" and reference.requests == 144
    assert reference.cached_requests == 0
    assert stopped.status == "cancelled" and 48 <= computed_before < 144
    assert resumed.status == "ok" and resumed.requests == 144
    # every request the stopped attempt computed is answered by the cache: the model is
    # called only for the rest
    assert resumed.cached_requests == computed_before
    assert resumed.metrics == reference.metrics  # to the last digit
    assert resumed.samples == reference.samples
    assert resumed.time_per_sample_ms and resumed.time_per_sample_ms > 0


def test_without_a_cache_folder_nothing_is_cached(loaded_session, tmp_path: Path):
    from fixtures.tasks.helpers import TASKS_DIR

    spec = EvalSpec(tasks=("fx_yesno",), limit=3, include_path=str(TASKS_DIR))
    [first], _ = _results(loaded_session, spec)
    [second], _ = _results(loaded_session, spec)
    assert (first.cached_requests, second.cached_requests) == (0, 0)
    assert first.metrics == second.metrics
