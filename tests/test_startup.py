"""The UI process never loads torch or the model libraries (it starts in a fraction of a
second and survives any model crash)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "lm_eval", "bitsandbytes", "accelerate", "datasets", "llama_cpp")

SCRIPT = f"""
import asyncio, sys
from engine.catalog.entries import load_catalog
from tui.app import SmollmApp
import tui.cli

async def main():
    app = SmollmApp(load_catalog())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in ("p", "r", "slash", "q", "escape", "question_mark", "escape", "enter",
                    "escape"):
            await pilot.press(key)
        tui.cli.build_parser()  # every subcommand module, as `smollm-tui --help` loads them
asyncio.run(main())
print("loaded:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_the_app_and_the_cli_parser_never_import_model_libraries(cli_env):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=cli_env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:"
