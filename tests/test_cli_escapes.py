"""Text from outside (a model's reply, names in an overlay or an imported results file,
error texts) never reaches the terminal as escape sequences: the real `smollm-tui` shows
ESC as ␛ and BEL as ␇. A reply piped to another program stays exactly as generated.

The model that "writes" an escape sequence is a tiny Llama whose weights are set by hand:
its layers add nothing, every token but a chosen few embeds as one direction, and the head
maps each direction to the next character of ESC ] 0 ; P W N BEL, then end of text. With
greedy decoding it writes that title-changing sequence after any prompt, through the real
tokenizer, worker and runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_cli import smollm

from engine.results.store import ResultsStore

TITLE = "\x1b]0;PWN\x07"  # sets the terminal window's title
SHOWN = "␛]0;PWN␇"


@pytest.fixture(scope="module")
def escape_catalog(tiny_llama: Path, tmp_path_factory) -> Path:
    import torch
    from tiny_models import overlay_text
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("escape-model")
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    config = LlamaConfig.from_pretrained(tiny_llama)
    config.tie_word_embeddings = False
    chain = []
    for char in TITLE:
        [token] = tok.encode(char, add_special_tokens=False)
        chain.append(token)
    assert len(set(chain)) == len(chain) and len(chain) + 1 <= config.hidden_size
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:  # the residual stream stays the embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        head = model.lm_head.weight
        embed.zero_()
        head.zero_()
        embed[:, 0] = 1.0  # any other token: direction 0, followed by ESC
        for step, token in enumerate(chain):
            head[token, step] = 10.0
            embed[token] = 0.0
            embed[token, step + 1] = 1.0
        head[tok.eos_token_id, len(chain)] = 10.0  # after BEL: the end
    model.save_pretrained(out)
    tok.save_pretrained(out)
    path = out.parent / "escape.toml"
    path.write_text(overlay_text({"tiny-esc": out}))
    return path


def reply_args(
    catalog: Path, *args: str, precision: tuple[str, ...] = ("--precision",)
) -> list[str]:
    common = ["--raw", "--temperature", "0", "--max-new-tokens", "12", "--device", "cpu"]
    return ["--catalog", str(catalog), *args, *common, *(x for p in precision for x in (p, "fp32"))]


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the command with stdout on a pseudo-terminal: (exit code, stdout, stderr)."""
    master, slave = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        stdout=slave,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _, err = child.communicate(timeout=300)
    reader.join(timeout=60)
    os.close(master)
    return child.returncode, b"".join(chunks).decode("utf-8", "replace"), err.decode()


def test_a_reply_on_a_terminal_shows_escapes_and_piped_stays_exact(escape_catalog, cli_env):
    piped = smollm(*reply_args(escape_catalog, "generate", "tiny-esc", "hello"), env=cli_env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == TITLE + "\n"  # what a script asked for, byte for byte

    code, out, err = on_a_terminal(
        reply_args(escape_catalog, "generate", "tiny-esc", "hello"), cli_env
    )
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert SHOWN in out


def test_arena_on_a_terminal_shows_escapes(escape_catalog, cli_env):
    code, out, err = on_a_terminal(
        reply_args(
            escape_catalog,
            "arena",
            "tiny-esc",
            "tiny-esc",
            "hello",
            precision=("--precision-a", "--precision-b"),
        ),
        cli_env,
    )
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert out.count(SHOWN) == 2


def test_an_error_naming_what_was_typed_shows_escapes(cli_env):
    done = smollm("generate", f"nosuch{TITLE}\x1b[2J", "hello", env=cli_env)
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert f"nosuch{SHOWN}␛[2J" in done.stderr and "Traceback" not in done.stderr


def test_list_shows_an_overlay_name_with_escapes(tiny_llama, cli_env, tmp_path):
    from tiny_models import overlay_text

    overlay = tmp_path / "catalog.toml"
    overlay.write_text(
        overlay_text({"tiny-llama": tiny_llama}).replace(
            'name = "tiny-llama"', 'name = "Tiny\\u001b]0;PWN\\u0007"'
        )
    )
    done = smollm("--catalog", str(overlay), "list", env={**cli_env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert f"Tiny{SHOWN}" in done.stdout


def test_import_and_report_show_names_with_escapes(cli_env, tmp_path):
    results = tmp_path / "results_2026-01-01.json"
    results.write_text(
        json.dumps(
            {
                "results": {f"boolq{TITLE}": {"acc,none": 0.625}},
                "n-samples": {f"boolq{TITLE}": {"original": 8, "effective": 8}},
                "config": {"model_args": f"pretrained=org/evil{TITLE}"},
                "date": 5,
            }
        )
    )
    done = smollm("import", str(results), env=cli_env)
    assert done.returncode == 0, done.stderr
    model = "evil␛]0;pwn␇"  # the id is the repo's last part, lower-cased
    assert "\x1b" not in done.stdout and model in done.stdout
    with ResultsStore(read_only=True) as store:  # stored as it came: the data is kept
        assert [r.task for r in store.eval_runs()] == [f"boolq{TITLE}"]

    for fmt in ("md", "csv"):
        report = smollm("report", "--metric", "accuracy", "--format", fmt, env=cli_env)
        assert report.returncode == 0, report.stderr
        assert "\x1b" not in report.stdout and "\x07" not in report.stdout
        # a row is labelled with the repo's last part, as it was written
        assert "evil␛]0;" in report.stdout and "62.5" in report.stdout
    saved = tmp_path / "report.md"
    done = smollm("report", "--metric", "accuracy", "--output", str(saved), env=cli_env)
    assert done.returncode == 0, done.stderr
    text = saved.read_text(encoding="utf-8")
    assert "\x1b" not in text and "evil␛]0;" in text


def test_eval_progress_shows_hostile_names_literally():
    """A task or model name holding markup or an escape sequence is shown as it is in
    `eval`'s progress bar: no MarkupError, no raw escape reaching the terminal."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from tui.commands.eval import _Display, progress_columns

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with Progress(*progress_columns(), console=console, auto_refresh=False) as progress:
        _Display(progress)._bar("tiny [/]model fx\x1b]0;PWN\x07", 10, 3)
        progress.refresh()
    shown = out.getvalue()
    assert "tiny [/]model fx␛]0;PWN␇" in shown
    assert "\x07" not in shown
