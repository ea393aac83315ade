"""The `?` help screen: every key, per screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# smollm-tui keys

**Everywhere:** `?` this help · `ctrl+p` command palette · `q` quit (outside text boxes) ·
`ctrl+q` quit · `esc` back.

## Catalog
| key | does |
|---|---|
| `↑` `↓` | move · `enter` details |
| `/` | filter by name, family, architecture, tags (`esc` clears) |
| `o` | sort by the next column (again: reverse); click a header to sort by it |
| `p` | cycle precision: auto, fp32, fp16, bf16, int8, int4 (sizes and fit follow) |
| `r` | cycle runtime: auto (llama.cpp for GGUF files), transformers, llama.cpp |
| `c` | chat with the model · `e` evaluate it |
| `a` | Arena: mark this model; `a` on a second one (or on the same one after `p`) opens it |
| `d` | download it · `x` delete it from disk |
| `m` | compare results · `s` system (board memory, GPU, power) |
| `j` | background jobs: progress and ETA, `c` cancel, `r` resume a failed one |
| `b` | which configuration for this board: the measured front of quality, speed, memory |

## Chat
| key | does |
|---|---|
| `enter` | send · `ctrl+j` new line |
| `esc` | stop the reply (when none is coming: back to the catalog) |
| `ctrl+r` | regenerate the last reply (after a crash: reload the model) |
| `ctrl+l` | clear · `ctrl+s` save transcript (Markdown and JSON) |
| `ctrl+t` | chat / raw completion · `ctrl+o` system prompt |
| `ctrl+g` | show/hide the generation controls (temperature, top-p, top-k, …) |
| `ctrl+n` | reload on the other runtime (transformers ↔ llama.cpp); the chat stays |
| `tab` | move between the prompt and the controls |

## Evaluate
| key | does |
|---|---|
| `space` | tick a task (each says whether its dataset is cached) |
| `enter` / `ctrl+r` | run the ticked tasks (quick: first N samples; or full) |
| | tasks measured before with the same settings are skipped; tick "re-run measured" |
| `f` | your own lm-eval task YAML folders (saved; their tasks are listed first) |
| | tick "in background" to queue the run as a job that outlives the app (`j`) |
| `esc` | cancel a running evaluation (when none runs: back) |

## Compare
| key | does |
|---|---|
| `1`–`5` | accuracy % · time per sample ms · peak memory GB · model size MB · board GB |
| `a` | accuracy as each task's primary metric, acc or acc_norm |
| `r` | show published figures; `!` marks a cell > 3 standard errors off |
| `x` | export the tables as Markdown, CSV and JSON (the path is shown) |
| `l` | the Arena leaderboard of your blind votes (Bradley–Terry) |

## Which configuration (`b`)
| key | does |
|---|---|
| `tab` | move between the limits: tasks, max MB, min tok/s, longest first token (ms) |
| `enter` | on a row: chat with that configuration; in a limit box: apply the limits |
| `m` | queue one background job that measures the configurations not measured yet |
| `x` | export the table as Markdown (the path is shown) |

## Arena
| key | does |
|---|---|
| `enter` | send the prompt to both sides (each keeps its own history) |
| `esc` | stop both replies (when none is coming: back) |
| `ctrl+r` | regenerate both (after a crash: reload the side that died) |
| `ctrl+b` | blind mode: A and B in random order, names hidden until the vote |
| `a` `b` `t` `n` | vote (after both answered in blind mode): A better, B better, tie, both bad |
| `ctrl+g` | settings for both, and per-side overrides |
| `ctrl+s` | save both transcripts (Markdown and JSON) · `ctrl+l` clear / new blind round |

## System
`b` or `esc` back. Charts of the last minutes; marks where a model was loaded.

tok/s is the fastest measured decode on this device, tagged with its runtime: `L`
llama.cpp, `T` transformers (`smollm-tui bench` measures each side by side).

Sizes and fit verdicts are estimates (weights + KV cache at the working context, 4,096
tokens unless settings.json says otherwise, + runtime overhead; the details give the
figure at the model's full context too) until the model has run here at that precision:
then they come from the measured peak memory, marked ✓.
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%;
        border: thick $accent; background: $surface; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)
