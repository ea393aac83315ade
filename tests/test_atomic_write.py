"""Files the user would miss (transcripts, reports, exports, settings) are written through
engine.paths.write_private_text: a write that fails part-way leaves the old file whole.

A full disk is made real with RLIMIT_FSIZE in a child process: past the limit, write()
fails with EFBIG exactly as it fails with ENOSPC on a full file system."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

from engine.paths import write_private_text

_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from engine.paths import write_private_text
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        write_private_text(Path(sys.argv[1]), "x" * 100_000)
    except OSError as exc:
        print("failed:", exc.errno)
    """
)


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("the old report\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(target)], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("failed:"), done.stdout + done.stderr
    assert target.read_text(encoding="utf-8") == "the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temporary left


def test_a_new_file_is_private_and_replaces_in_one_piece(tmp_path):
    old_umask = os.umask(0o022)
    try:
        target = tmp_path / "export.json"
        write_private_text(target, "first")
        write_private_text(target, "second")
    finally:
        os.umask(old_umask)
    assert target.read_text(encoding="utf-8") == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]
