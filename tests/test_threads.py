"""Every core: llama.cpp (decode and prompt) and torch compute with as many threads as the
process may use (its CPU affinity), unless `--threads` or the `threads` setting says
otherwise; the count reaches the runtime, comes back in LoadInfo and reads in the stats."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import pytest
from llama_support import BUNDLED, require_llama_cpp

from engine import preferences
from engine.errors import SmollmError, UsageError
from engine.records import LoadInfo, ReplyStats
from engine.settings import LoadOptions, usable_cores
from engine.worker.client import WorkerClient
from engine.worker.protocol import Failed, Loaded
from tui.cli import main
from tui.reply_stats import long_line

CORES = len(os.sched_getaffinity(0))


@contextlib.contextmanager
def affinity(cpus: set[int]):
    """This process (and a worker spawned meanwhile) limited to ``cpus``, as taskset or a
    container's cpuset would."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def loaded_info(client: WorkerClient, options: LoadOptions) -> LoadInfo:
    events = list(client.load(options))
    assert isinstance(events[-1], Loaded), events[-1]
    return events[-1].info


def test_every_core_is_the_affinity_not_the_machine():
    assert usable_cores() == CORES
    with affinity({min(os.sched_getaffinity(0))}):
        assert usable_cores() == 1
        assert preferences.thread_count() == 1
    assert preferences.thread_count() == CORES


def test_the_setting_and_an_explicit_count_win_in_that_order():
    preferences.save_settings({"threads": 1})
    assert preferences.thread_count() == 1
    assert preferences.thread_count(CORES) == CORES  # --threads over the setting


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True, CORES + 1])
def test_a_bad_threads_setting_is_one_line_naming_the_file(value):
    preferences.save_settings({"threads": value})
    with pytest.raises(SmollmError) as err:
        preferences.thread_count()
    message = str(err.value)
    assert str(preferences.settings_path()) in message and "\n" not in message
    assert f"threads must be a whole number from 1 to {CORES}" in message


@pytest.mark.parametrize("value", [0, -2, CORES + 1])
def test_load_options_refuse_a_count_out_of_range(value):
    with pytest.raises(UsageError, match=f"from 1 to {CORES}"):
        LoadOptions(BUNDLED, threads=value).validate()


def test_the_long_line_names_the_threads():
    stats = ReplyStats(10, 5, 0.01, 60.0, 0.1, "length", None, runtime="llama.cpp")
    info = LoadInfo(
        BUNDLED, None, None, "causal", 1, 1.0, "Q4_1", "cpu", "cpu", None, 0.2, 4096, True,
        runtime="llama.cpp", threads=2,
    )  # fmt: skip
    assert "(llama.cpp, 2 threads), loaded in 0.2 s" in long_line(stats, info, 0)
    one = dataclasses.replace(info, threads=1)
    assert "(llama.cpp, 1 thread)" in long_line(stats, one, 0)
    older = dataclasses.replace(info, threads=None)  # a worker from before threads
    assert "(llama.cpp), loaded" in long_line(stats, older, 0)


@pytest.mark.parametrize("command", ["generate", "bench", "eval", "arena"])
@pytest.mark.parametrize("value", ["0", "abc", "-1", "1.5", str(CORES + 1)])
def test_a_bad_threads_option_is_one_line_and_exit_2(command, value, capsys):
    args = {
        "generate": ["generate", "hi"],
        "bench": ["bench"],
        "eval": ["eval", BUNDLED, "--tasks", "arc_easy"],
        "arena": ["arena", BUNDLED, BUNDLED, "hi"],
    }[command]
    assert main([*args, "--threads", value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"--threads must be a whole number from 1 to {CORES}" in err and value in err
    assert ("or sweep to measure each count" in err) == (command == "bench")


def test_eval_refuses_threads_for_a_background_job(capsys):
    args = ["eval", BUNDLED, "--tasks", "arc_easy", "--background", "--threads", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--threads does not apply to --background" in err


def test_torch_in_the_worker_uses_the_count_asked_for(tiny_catalog):
    """LoadInfo.threads is torch.get_num_threads() inside the worker."""
    client = WorkerClient(catalog_path=str(tiny_catalog))
    try:
        assert loaded_info(client, LoadOptions("tiny-llama", threads=1)).threads == 1
        assert loaded_info(client, LoadOptions("tiny-llama")).threads == CORES
    finally:
        client.close()


def test_a_bad_threads_setting_stops_generate_with_one_line(capsys):
    preferences.save_settings({"threads": 0})
    assert main(["generate", "hi"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "settings.json is broken (threads must be a whole number" in err


class TestLlamaCpp:
    @pytest.fixture(autouse=True)
    def _llama(self):
        require_llama_cpp()

    def test_the_worker_decodes_on_every_core_by_default(self):
        """Read back from the Llama object in the worker (its context's n_threads)."""
        client = WorkerClient()
        try:
            info = loaded_info(client, LoadOptions(BUNDLED, runtime="llama.cpp"))
            assert (info.runtime, info.threads) == ("llama.cpp", CORES)
            info = loaded_info(client, LoadOptions(BUNDLED, runtime="llama.cpp", threads=1))
            assert info.threads == 1
        finally:
            client.close()

    def test_decode_and_prompt_threads_reach_llama_cpp(self):
        from engine.runtimes.loading import load_model

        loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp", threads=1))
        params = loaded.model.context_params
        assert (params.n_threads, params.n_threads_batch) == (1, 1)
        # Under a one-core affinity on a bigger machine: one thread for the prompt too,
        # where llama-cpp-python alone takes every core of the machine for it.
        with affinity({min(os.sched_getaffinity(0))}):
            loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp"))
        params = loaded.model.context_params
        assert (params.n_threads, params.n_threads_batch) == (1, 1)
        assert loaded.info.threads == 1

    def test_a_bad_setting_fails_the_load_in_the_worker(self):
        preferences.save_settings({"threads": CORES + 1})
        client = WorkerClient()
        try:
            events = list(client.load(LoadOptions(BUNDLED, runtime="llama.cpp")))
        finally:
            client.close()
        assert isinstance(events[-1], Failed) and "settings.json is broken" in events[-1].message
