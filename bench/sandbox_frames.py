"""Bytes on the sandbox's control channel and time per frame: byte blobs vs JSON text.

    .venv/bin/python -m bench.sandbox_frames [--mib 16] [--rounds 5]

Same payloads, same run, both over a real socketpair (a sender thread and a receiver):
  * ours:   `sandbox.zygote.send_frame` / `recv_frame`: a JSON header plus raw byte blobs;
  * before: the previous framing, the payload as latin-1 text inside one JSON document (one
            char per byte; every byte >= 0x80 becomes a six-byte `\\u00XX` escape).
Payloads: ASCII program output, UTF-8 text (Cyrillic), and raw 0xFF bytes (binary output).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import threading
import time

from sandbox import zygote

_TEXT_HEADER = struct.Struct("!I")


def send_text_frame(fd: int, obj: dict) -> int:
    data = json.dumps(obj, separators=(",", ":")).encode("utf-8", "surrogatepass")
    payload = _TEXT_HEADER.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]
    return len(payload)


def recv_text_frame(fd: int) -> dict:
    def exact(n: int) -> bytes:
        chunks = []
        while n:
            chunk = os.read(fd, min(n, 1 << 20))
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    (size,) = _TEXT_HEADER.unpack(exact(_TEXT_HEADER.size))
    return json.loads(exact(size).decode("utf-8", "surrogatepass"))


def transfer(send, recv, message: dict) -> tuple[float, int]:
    """Seconds to send and receive `message` once, and the bytes the sender wrote."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        sent: list[int] = []
        start = time.perf_counter()
        sender = threading.Thread(target=lambda: sent.append(send(ours.fileno(), message)))
        sender.start()
        recv(theirs.fileno())
        sender.join()
        return time.perf_counter() - start, sent[0]


def send_blob_frame(fd: int, obj: dict) -> int:
    zygote.send_frame(fd, obj)  # then count the same frame's bytes
    blobs: list = []
    header = json.dumps(zygote._extract_blobs(obj, blobs), separators=(",", ":"), ensure_ascii=False).encode()
    return zygote._HEADER.size + len(header) + sum(zygote._BLOB_HEADER.size + len(b) for b in blobs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = args.mib << 20
    payloads = {
        "ascii output": b"0123456789 abcdef\n" * (size // 18),
        "utf-8 text": ("привет мир " * (size // 20)).encode(),
        "0xff bytes": b"\xff" * size,
    }
    print(f"{'payload':14s} | {'runner':6s} | {'wire MiB':>8s} | {'ms/frame':>8s}")
    print("-" * 48)
    for name, data in payloads.items():
        results = {}
        for runner, send, recv, message in (
            ("ours", send_blob_frame, zygote.recv_frame, {"stdout": data}),
            ("before", send_text_frame, recv_text_frame, {"stdout": data.decode("latin-1")}),
        ):
            times, wire = [], 0
            for _ in range(args.rounds):
                elapsed, wire = transfer(send, recv, message)
                times.append(elapsed)
            best = min(times) * 1000
            results[runner] = (wire, best)
            print(f"{name:14s} | {runner:6s} | {wire / 2**20:8.1f} | {best:8.1f}")
        (ours_wire, ours_ms), (before_wire, before_ms) = results["ours"], results["before"]
        print(f"{name:14s} | ratio before/ours: {before_wire / ours_wire:.1f}x bytes, {before_ms / ours_ms:.1f}x time")
    print(f"(under the previous 256 MiB cap, text frames fit at most {(256 << 20) // 6 >> 20} MiB of 0xff output; "
          f"blob frames fit any output up to the 64 MiB output cap with room to spare: cap {zygote.MAX_FRAME >> 20} MiB)")


if __name__ == "__main__":
    main()
