"""`smollm-tui doctor` asks torch what it sees in a child process (the CLI's process, as
the app's, never imports torch). The real torch, and stand-ins for a broken one: a
script in place of the interpreter, at the edge of the machine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from engine.runtimes.transformers import torch_probe


def test_the_child_reports_the_installed_torch():
    import torch

    seen = torch_probe.probe_torch()
    assert seen.version == torch.__version__ and not seen.error
    assert (seen.gpu_name is not None) == torch.cuda.is_available()


def _interpreter(tmp_path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            'echo "ImportError: libcudart.so.12: cannot open shared object" >&2\nexit 1\n',
            "libcudart.so.12",
        ),
        ('echo "{not json"\n', "unexpected answer from torch's check: '{not json'"),
        ('echo \'{"version": "2.6", "cuda": {"name": "x"}}\'\n', "unexpected answer"),
        ("kill -SEGV $$\n", "crashed with signal 11"),
    ],
    ids=["import fails", "not json", "fields missing", "crash"],
)
def test_a_broken_torch_is_one_line(tmp_path, monkeypatch, body, said):
    monkeypatch.setattr(torch_probe.sys, "executable", _interpreter(tmp_path, body))
    seen = torch_probe.probe_torch()
    assert seen.version is None and said in seen.error


def test_doctor_names_a_torch_that_cannot_be_imported(tmp_path, cli_env):
    """The whole command, with a torch that fails to import: one PROBLEM line with the
    reason and the fix, no traceback (the child's PYTHONPATH holds a broken torch)."""
    broken = tmp_path / "broken" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('this torch is broken')\n")
    env = dict(cli_env, PYTHONPATH=os.pathsep.join([str(broken.parent), *sys.path]))
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "doctor"], env=env, capture_output=True, text=True
    )
    assert "cannot import torch: ImportError: this torch is broken" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
