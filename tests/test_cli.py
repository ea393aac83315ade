"""The real `smollm-tui` command in subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from engine import __version__


def smollm(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_version_and_help(cli_env):
    assert smollm("--version", env=cli_env).stdout.strip() == f"smollm-tui {__version__}"
    out = smollm("--help", env=cli_env).stdout
    assert "list" in out and "doctor" in out


def test_list_fits_80_columns(cli_env):
    done = smollm("list", env=cli_env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "smollm2-135m-instruct" in done.stdout and "gpt_neox" in done.stdout


def test_list_json(cli_env):
    done = smollm("list", "--json", env=cli_env)
    rows = json.loads(done.stdout)
    assert rows[0]["id"] == "smollm2-135m-instruct" and rows[0]["source"] == "bundled"
    assert {"id", "repo", "params", "architecture", "license", "kind"} <= set(rows[0])


def test_doctor_json_reports_every_check(cli_env):
    done = smollm("doctor", "--json", env=cli_env)
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert {
        "python",
        "torch",
        "bitsandbytes",
        "jtop",
        "telemetry",
        "hf cache",
        "data dir",
        "bundled model",
        "catalog",
    } <= set(checks)
    assert all(c["status"] in ("ok", "warning", "problem") for c in checks.values())
    assert checks["catalog"]["status"] == "ok"
    assert checks["bundled model"]["status"] == "ok", checks["bundled model"]
    # bitsandbytes is installed (the quant extra) and runs a real 8-bit op: on the CPU
    # here, on the GPU where there is one.
    assert checks["bitsandbytes"]["status"] == "ok", checks["bitsandbytes"]
    assert re.search(r", 8-bit works on (cpu|cuda)$", checks["bitsandbytes"]["detail"])
    assert done.returncode == 0


def test_bad_catalog_exits_2_with_file_and_line_and_no_traceback(cli_env, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[model]]\nid = "opt-125m"\ncontext_length = 0\n')
    done = smollm("--catalog", str(bad), "list", env=cli_env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"smollm-tui: error: {bad}:3: model 'opt-125m': context_length must be a positive integer"
    )
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(cli_env, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[model]\n")
    done = smollm("--debug", "--catalog", str(bad), "list", env=cli_env)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_missing_overlay_file(cli_env, tmp_path: Path):
    done = smollm("--catalog", str(tmp_path / "nope.toml"), "list", env=cli_env)
    assert done.returncode == 2 and "catalog file not found" in done.stderr


def test_a_path_the_system_refuses_is_one_line_not_a_traceback(cli_env):
    long = "/" + "a" * 300 + "/catalog.toml"  # longer than a file name may be
    done = smollm("--catalog", long, "list", env=cli_env)
    assert done.returncode == 1
    assert done.stderr.startswith("smollm-tui: error: File name too long: /aaaa")
    assert len(done.stderr.strip().splitlines()) == 1 and len(done.stderr) < 200
