"""`smollm-tui monitor`: board memory, GPU, power and temperatures, one line per sample."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from engine.errors import UsageError

NAME = "monitor"
ORDER = 60
HELP = "print live board telemetry (memory, GPU, power, temperature) for scripts and logs"
MIN_INTERVAL_S = 0.01  # shorter is a busy loop, not a measurement
MAX_INTERVAL_S = 86_400


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line (units in the key names)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between samples (default 1)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=0,
        metavar="N",
        help="stop after N samples (default: until Ctrl+C)",
    )
    parser.add_argument(
        "--reader",
        default="auto",
        choices=["auto", "jtop", "jetson-proc", "nvml", "psutil"],
        help="use this reader instead of the best available one",
    )


def _gb(mb: float | None) -> str:
    return "-" if mb is None else f"{mb / 1024:.1f}"


def format_line(snap) -> str:
    """One human-readable line; figures a reader cannot measure are left out."""
    parts = [time.strftime("%H:%M:%S", time.localtime(snap.time)), snap.source]
    if snap.ram_total_mb:
        parts.append(f"RAM {_gb(snap.ram_used_mb)}/{_gb(snap.ram_total_mb)} GB")
    if snap.gpu_shared_mb is not None:
        parts.append(f"GPU-shared {_gb(snap.gpu_shared_mb)} GB")
    if snap.gpu_mem_total_mb:
        parts.append(f"VRAM {_gb(snap.gpu_mem_used_mb)}/{_gb(snap.gpu_mem_total_mb)} GB")
    if snap.swap_total_mb:
        parts.append(f"swap {_gb(snap.swap_used_mb)}/{_gb(snap.swap_total_mb)} GB")
    if snap.gpu_load_pct is not None:
        gpu = f"GPU {snap.gpu_load_pct:.0f}%"
        if snap.gpu_freq_mhz is not None:
            gpu += f" {snap.gpu_freq_mhz:.0f} MHz"
        parts.append(gpu)
    if snap.power_total_mw is not None:
        parts.append(f"power {snap.power_total_mw / 1000:.1f} W")
    if snap.temps_c:
        name, value = max(snap.temps_c.items(), key=lambda item: item[1])
        parts.append(f"temp {name} {value:.0f}C")
    if snap.cpu_pct is not None:
        parts.append(f"CPU {snap.cpu_pct:.0f}%")
    return "  ".join(parts)


def _factories(choice: str, interval: float):
    from engine.telemetry import default_factories

    factories = default_factories(interval)
    if choice == "auto":
        return factories
    return [f for f in factories if f[0] == choice]


def run(args: argparse.Namespace) -> int:
    if not MIN_INTERVAL_S <= args.interval <= MAX_INTERVAL_S:  # nan compares False
        raise UsageError(
            f"--interval must be a positive number of seconds from "
            f"{MIN_INTERVAL_S} to {MAX_INTERVAL_S:,} (a day), e.g. --interval 0.5"
        )
    if args.count < 0:
        raise UsageError("--count must be 0 (no limit) or a positive number")
    from engine.telemetry import ReaderChain, Sampler

    chain = ReaderChain(_factories(args.reader, args.interval), interval=args.interval)
    if chain.reader is None:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in chain.skipped)
        raise UsageError(
            f"no telemetry reader works here ({reasons}); try `smollm-tui monitor --reader psutil`"
        )
    print(f"reading from {chain.describe()}", file=sys.stderr, flush=True)
    for skipped in chain.skipped:
        _note(skipped)
    sampler = Sampler(chain, interval=args.interval, history_seconds=args.interval * 2)
    pause = threading.Event()  # never set: wait() is an interruptible pause
    shown = 0
    try:
        while args.count == 0 or shown < args.count:
            notices = len(sampler.notices)
            snap = sampler.step()
            for notice in sampler.notices[notices:]:
                print(f"note: {notice}", file=sys.stderr, flush=True)
            if snap is None:
                print("smollm-tui: error: every telemetry reader failed", file=sys.stderr)
                return 1
            line = json.dumps(snap.to_dict()) if args.json else format_line(snap)
            print(line, flush=True)
            shown += 1
            if args.count == 0 or shown < args.count:
                pause.wait(args.interval)
    except KeyboardInterrupt:
        pass  # Ctrl+C is how a live readout ends
    except BrokenPipeError:
        sys.stderr.close()  # `monitor | head`: the reader left; nothing more to say
    finally:
        sampler.stop()
    return 0


def _note(skipped) -> None:
    print(f"note: {skipped.name} not used: {skipped.reason}", file=sys.stderr, flush=True)
