"""Length-prefixed frames over a socket pair between the pool and its worker processes.

Why not `multiprocessing.Connection`: its `send` assumes a blocking socket. An event loop that
watches the parent's end (uvloop does) makes it non-blocking, and then a large message raises
`BlockingIOError` half-written, which left the worker dead and the stream corrupt. Here the
parent never blocks: what the socket does not take now waits in a buffer that is flushed when
the socket is writable. The worker's end stays blocking; it has nothing else to do.

A frame is an 8-byte big-endian length followed by that many bytes (orjson documents).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import deque
from collections.abc import Callable

_HEADER = struct.Struct("!Q")
MAX_FRAME_BYTES = 1 << 34  # far above any legal chunk; a larger length means a corrupt stream
_READ_BYTES = 1 << 20


class ChannelClosed(ConnectionError):
    pass


class Channel:
    """The parent's end: non-blocking, driven by the event loop.

    `on_frame(payload)` is called for each complete incoming frame; `on_closed(reason)` once, when
    the peer goes away or the stream breaks.
    """

    def __init__(self, sock: socket.socket, on_frame: Callable[[bytes], None],
                 on_closed: Callable[[str], None]) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._inbox = bytearray()
        self._outbox: deque[memoryview] = deque()
        self._writing = False
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    @property
    def backlog(self) -> int:
        """Bytes accepted by `send` and not yet taken by the socket."""
        return sum(len(m) for m in self._outbox)

    def send(self, payload: bytes) -> None:
        if self._closed:
            raise ChannelClosed("channel is closed")
        self._outbox.append(memoryview(_HEADER.pack(len(payload))))
        self._outbox.append(memoryview(payload))
        if not self._writing:
            self._flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for remove in (self._loop.remove_reader, self._loop.remove_writer):
            try:
                remove(self.sock.fileno())
            except (ValueError, OSError):
                pass
        self.sock.close()

    def _flush(self) -> None:
        while self._outbox:
            view = self._outbox[0]
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._fail(f"worker pipe closed ({exc.strerror or exc})")
                return
            if sent < len(view):
                self._outbox[0] = view[sent:]
                break
            self._outbox.popleft()
        if self._outbox and not self._writing:
            self._writing = True
            self._loop.add_writer(self.sock.fileno(), self._flush)
        elif not self._outbox and self._writing:
            self._writing = False
            self._loop.remove_writer(self.sock.fileno())

    def _readable(self) -> None:
        try:
            data = self.sock.recv(_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(f"worker pipe closed ({exc.strerror or exc})")
            return
        if not data:
            self._fail("worker pipe closed")
            return
        inbox = self._inbox
        inbox += data
        offset = 0
        while len(inbox) - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(inbox, offset)
            if size > MAX_FRAME_BYTES:
                self._fail("corrupt frame from worker")
                return
            end = offset + _HEADER.size + size
            if len(inbox) < end:
                break
            payload = bytes(inbox[offset + _HEADER.size:end])
            offset = end
            self._on_frame(payload)
            if self._closed:
                return
        if offset:
            del inbox[:offset]

    def _fail(self, reason: str) -> None:
        if self._closed:
            return
        self.close()
        self._on_closed(reason)


def send_frame(sock: socket.socket, payload: bytes) -> None:
    """The worker's end: a blocking write of one frame."""
    sock.sendall(_HEADER.pack(len(payload)))
    sock.sendall(payload)


def recv_frame(sock: socket.socket) -> bytes | None:
    """The worker's end: a blocking read of one frame; None when the parent has gone."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ChannelClosed("corrupt frame from the parent")
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buf)
