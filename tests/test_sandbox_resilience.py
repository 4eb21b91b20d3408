"""The sandbox's channel and life cycle: frames carry bytes as bytes under a hard cap, and a
sandbox that fails in any way is replaced rather than reused."""

from __future__ import annotations

import socket
import threading

import pytest

from sandbox import Limits, Sandbox, SandboxError
from sandbox import zygote


def roundtrip(message: dict) -> dict:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        sender = threading.Thread(target=zygote.send_frame, args=(ours.fileno(), message))
        sender.start()
        received = zygote.recv_frame(theirs.fileno())
        sender.join()
    return received


def test_frames_carry_bytes_raw_at_any_depth():
    message = {"op": "run", "job": {"stdin": b"\xff" * 100_000, "files": {"a/b": b"\x00\x80", "\0blob": b"x"},
                                    "argv": ["é", "\ud800"], "n": 3}, "list": [b"", {"k": b"v"}]}
    assert roundtrip(message) == message


def test_a_frame_over_the_cap_is_refused_by_both_sides(monkeypatch):
    monkeypatch.setattr(zygote, "MAX_FRAME", 1 << 20)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with pytest.raises(zygote.FrameTooLarge):
            zygote.send_frame(ours.fileno(), {"stdin": b"x" * (2 << 20)})
        ours.sendall(zygote._HEADER.pack(2 << 20, 0))  # a peer that claims a larger frame
        with pytest.raises(zygote.FrameTooLarge):
            zygote.recv_frame(theirs.fileno())


@pytest.fixture(scope="module")
def box():
    with Sandbox() as sandbox:
        yield sandbox


def test_a_sandbox_that_answers_with_an_error_is_replaced(box):
    assert box.execute("python", "print(1)").stdout == "1\n"
    generation = box.generation
    with pytest.raises(SandboxError):
        box._request({"op": "no-such-operation"})
    assert not box.alive  # torn down at once, never handed to the next program
    assert box.execute("python", "print(2)").stdout == "2\n"
    assert box.generation == generation + 1


def test_output_of_invalid_utf8_up_to_the_largest_cap_fits_the_channel(box):
    limits = Limits(output_bytes=64 << 20)
    result = box.execute("python", "import sys\nsys.stdout.buffer.write(b'\\xff' * (63 << 20))", limits=limits)
    assert result.status.value == "ok" and result.truncated
    assert len(result.stdout.encode()) <= 64 << 20
    over = box.execute("python", "import sys\nsys.stdout.buffer.write(b'\\xff' * (65 << 20))", limits=limits)
    assert over.status.value == "output_limit"
    assert box.execute("python", "print(3)").stdout == "3\n"


def test_file_names_past_the_kernels_limits_are_refused(box):
    result = box.execute("python", "print(1)", files={"a" * 300: "x"})
    assert result.status.value == "sandbox_error" and "too long" in result.message
    result = box.execute("python", "print(1)", files={"/".join(["d"] * 600): "x"})
    assert result.status.value == "sandbox_error" and "too long" in result.message
    assert box.execute("python", "print(4)").stdout == "4\n"
