"""A wheel built from the tree and installed without dependencies still finds its data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_installed_wheel_finds_catalog_and_references(tmp_path: Path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("smollm_tui-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import engine, engine.catalog.entries as c; "
        "cat = c.load_catalog(use_user_overlay=False); "
        "print(engine.__file__); print(c.shipped_catalog_path()); print(len(cat))"
    )
    path = [str(target)]
    if sys.version_info < (3, 11):  # tomllib's backport, the one dependency the catalog needs
        import tomli

        path.append(str(Path(tomli.__file__).resolve().parent.parent))
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(path),
        "SMOLLM_TUI_HOME": str(tmp_path / "home"),
    }
    # -S: no site-packages, so nothing from the source tree or the editable install leaks in.
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    module, catalog, count = done.stdout.split()
    assert module.startswith(str(target)) and catalog.startswith(str(target))
    assert int(count) >= 28
    assert (target / "engine" / "references.toml").is_file()
