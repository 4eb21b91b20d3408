"""Server-Sent Events as ORS frames them: `task_id`, then `chunk`s, then `end` (or `error`).

A result over CHUNK_CHARS characters is split into `chunk` events and a final `end`; the client
joins their data. While the tool runs, comment lines (`: ping`) keep the connection alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

CHUNK_CHARS = 4096
PING = b": ping\n\n"
HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


def event(name: str, data: str) -> bytes:
    lines = data.split("\n") if data else [""]
    return (f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """`text` in pieces of at most `size` characters. A piece does not start with whitespace where
    a cut up to 256 characters earlier avoids it: clients strip a data line's leading whitespace."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        cut = end
        while cut < len(text) and cut > max(start + 1, end - 256) and text[cut].isspace():
            cut -= 1
        if cut < len(text) and text[cut].isspace():
            cut = end  # a longer run of whitespace: no better place to cut
        pieces.append(text[start:cut])
        start = cut
    return pieces or [""]


def result_events(result: str) -> list[bytes]:
    pieces = chunks(result)
    return [event("chunk", piece) for piece in pieces[:-1]] + [event("end", pieces[-1])]


QUICK_S = 0.02  # a call done this soon is answered in one write: id and result together


async def quick_result(task_id: str, task: asyncio.Future) -> bytes | None:
    """The whole stream of a call that succeeds within QUICK_S, else None (then stream it)."""
    await asyncio.wait({task}, timeout=QUICK_S)
    if task.done() and not task.cancelled() and task.exception() is None:
        return b"".join([event("task_id", task_id), *result_events(task.result())])
    return None


async def task_stream(task_id: str, task: asyncio.Future, ping_interval_s: float) -> AsyncIterator[bytes]:
    """The events of one tool call: its id, pings while it runs, then its result (a JSON string)."""
    yield event("task_id", task_id)
    while not task.done():
        try:
            await asyncio.wait_for(asyncio.shield(task), ping_interval_s)
        except asyncio.TimeoutError:
            yield PING
        except BaseException:  # the task failed or was cancelled: reported below
            break
    if task.cancelled():
        yield event("error", "the tool call was cancelled (the session was closed)")
        return
    error = task.exception()
    if error is not None:
        yield event("error", f"{type(error).__name__}: {error}")
        return
    for frame in result_events(task.result()):
        yield frame
