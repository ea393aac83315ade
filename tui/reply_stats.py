"""How a reply's figures read, in one place: the short line under a reply in the chat
transcript, the long line the `generate` and `arena` commands print, and the thread count
that the long line, the chat's load line and `bench` show."""

from __future__ import annotations

from engine.records import LoadInfo, ReplyStats


def _rate(stats: ReplyStats) -> str:
    return f"{stats.tokens_per_s:.1f} tok/s"


def _first_token(stats: ReplyStats) -> list[str]:
    ttft = stats.time_to_first_token_s
    return [] if ttft is None else [f"first token {ttft * 1000:.0f} ms"]


def _peak(figure: float | None) -> list[str]:
    return [] if not figure else [f"peak {figure:.0f} MB"]


def threads_text(info: LoadInfo | None) -> str:
    """'2 threads', '1 thread'; '' when not known (a worker from before threads)."""
    count = info.threads if info is not None else None
    if not count:
        return ""
    return f"{count} thread{'' if count == 1 else 's'}"


def short_line(stats: ReplyStats | None, cancelled: bool = False) -> str:
    """'12 tokens · 35.1 tok/s · first token 55 ms · eos · peak 612 MB · transformers'."""
    if stats is None:
        return "stopped" if cancelled else ""
    parts = [
        f"{stats.new_tokens} tokens",
        _rate(stats),
        *_first_token(stats),
        "stopped" if cancelled else stats.stop_reason,
        *_peak(stats.peak_memory_mb),
    ]
    if stats.runtime:
        parts.append(stats.runtime)
    return " · ".join(parts)


def long_line(stats: ReplyStats | None, info: LoadInfo | None, dropped: int) -> str:
    """The command line's account of a reply: tokens, timing, why it stopped, peak memory,
    turns dropped, and what the model ran as."""
    if stats is None:
        return "no reply"
    parts = [
        f"{stats.prompt_tokens} prompt tokens",
        f"{stats.new_tokens} new tokens",
        *_first_token(stats),
        _rate(stats),
        f"stop: {stats.stop_reason}",
    ]
    if stats.peak_memory_mb is not None:
        parts.append(f"peak {stats.peak_memory_mb:.0f} MB")
    if dropped:
        parts.append(f"{dropped} oldest turns dropped")
    if info is not None:
        quant = f" {info.quantization}" if info.quantization else ""
        threads = threads_text(info)
        how = f"{info.runtime}, {threads}" if threads else info.runtime
        parts.append(
            f"{info.model_id} {info.dtype}{quant} on {info.device} "
            f"({how}), loaded in {info.load_seconds:.1f} s"
        )
    return " · ".join(parts)
