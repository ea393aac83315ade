"""Streamed replies: a reply to the last user turn, on the runtime that loaded the model.

``stream_reply`` yields protocol events as text is decoded: Trimmed (first, if turns were
dropped), Chunk..., then exactly one of ReplyDone or Cancelled. The runtime generates
(engine.runtimes); the prompt, stop strings and stats are the same for all (engine.runtimes.reply).
Used in-process (tests, scripts) and by the worker.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.events import Cancelled, Chunk, ReplyDone, Trimmed
from engine.runtimes import runtime_named
from engine.runtimes.loaded import LoadedModel
from engine.runtimes.reply import CancelFlag, context_room, reply_prompt
from engine.settings import Conversation, GenerationSettings

__all__ = ["CancelFlag", "context_room", "reply_prompt", "stream_reply"]


def stream_reply(
    loaded: LoadedModel,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool = False,
    cancel: CancelFlag,
    request_id: int = 0,
) -> Iterator[Trimmed | Chunk | ReplyDone | Cancelled]:
    """Generate a reply to the last user turn, yielding events as text arrives.

    ``cancel`` (a threading or multiprocessing Event) is checked between tokens; the
    reply then ends with Cancelled carrying the stats so far. Raises UsageError for
    invalid settings, an empty message or a message that cannot fit the context.
    """
    settings.validate()
    yield from runtime_named(loaded.runtime).stream_reply(
        loaded, conversation, settings, raw=raw, cancel=cancel, request_id=request_id
    )
