"""Runs *inside* the sandbox: load one Python module once, then call one of its functions on
many inputs, each call in a fork of the loaded interpreter.

Executed as the program of a warm-Python run (it is PID 1 of the run's own PID namespace), so it
uses the standard library only and imports nothing from this package. `sandbox/calls.py` is the
service side. Protocol:
  stdin   one JSON object: {"entry", "calls": [[arg, ...], ...], "call_timeout_s", "budget_s", "result_bytes"}
  fd 3    one JSON line per event: {"loaded": true} or {"load_error": "..."}, then per call
          {"i": index, "status": "ok" | "error" | "timeout" | "crashed", "ms": wall ms,
           "value": JSON text of the return value, "message": str, "output": tail of its prints}
A call runs in a fork, so nothing one call does (state, monkeypatching, exit, a crash) reaches
the next; after each call every other process of the run is killed, so forks cannot linger.
"""

import gc
import json
import os
import select
import signal
import sys
import time
import traceback
import types

CHANNEL = 3
MODULE_PATH = "/prog/module.py"
OUTPUT_PATH = "/tmp/.call-output"
OUTPUT_TAIL = 2000

# Bound before the module runs: its top-level code cannot rebind what the driver relies on.
_fork, _pipe, _read, _write, _close, _kill, _waitpid = os.fork, os.pipe, os.read, os.write, os.close, os.kill, os.waitpid
_dup2, _open, _exit, _monotonic, _dumps, _loads = os.dup2, os.open, os._exit, time.monotonic, json.dumps, json.loads


def _emit(event: dict) -> None:
    data = (_dumps(event) + "\n").encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        view = view[_write(CHANNEL, view):]


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:2000]


def _kill_the_rest() -> None:
    """As PID 1 of the run's namespace, kill(-1) reaches every other process of the run."""
    if os.getpid() != 1:  # not the run's init: kill(-1) would reach too far; only reap
        try:
            while _waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        return
    while True:  # again until none is left: a fork racing the kill escapes one round
        try:
            _kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while _waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.0002)


def _output_tail() -> str:
    try:
        with open(OUTPUT_PATH, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - OUTPUT_TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _child(fn, args: list, result_w: int, result_bytes: int) -> None:
    """In the fork: call the function once, write its JSON result to the pipe, leave."""
    _close(CHANNEL)
    fd = _open(OUTPUT_PATH, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _dup2(fd, 1)
    _dup2(fd, 2)
    _close(fd)
    try:
        value = fn(*args)
        try:
            payload = _dumps({"value": value})
        except (TypeError, ValueError) as exc:
            payload = _dumps({"error": f"the return value is not JSON: {_describe(exc)}"})
    except BaseException as exc:  # the function's own failure, SystemExit included
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
        payload = _dumps({"error": _describe(exc), "trace": trace[-OUTPUT_TAIL:]})
    if len(payload) > result_bytes:
        payload = _dumps({"error": f"the return value is {len(payload)} bytes of JSON, over the limit of {result_bytes}"})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    data = memoryview(payload.encode("utf-8", "surrogatepass"))
    while data:
        data = data[_write(result_w, data):]
    _exit(0)


def _call(index: int, fn, args: list, timeout_s: float, result_bytes: int) -> dict:
    result_r, result_w = _pipe()
    started = _monotonic()
    pid = _fork()
    if pid == 0:
        _close(result_r)
        _child(fn, args, result_w, result_bytes)
    _close(result_w)
    deadline = started + timeout_s
    chunks, size, timed_out, status_word = [], 0, False, None
    pidfd = os.pidfd_open(pid)  # readable once the call's process has ended
    poller = select.poll()
    poller.register(result_r, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    reading = True
    while reading or status_word is None:
        remaining = deadline - _monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(remaining * 1000):
            if fd == pidfd:
                status_word = _waitpid(pid, 0)[1]
                poller.unregister(pidfd)
                continue
            chunk = _read(result_r, 1 << 16)
            size += len(chunk)
            if not chunk or size > result_bytes + 4096:  # the child checks the size; this stops a liar
                poller.unregister(result_r)
                reading = False
            else:
                chunks.append(chunk)
        if status_word is not None and reading:
            os.set_blocking(result_r, False)
            try:  # what the process wrote before it ended; forks of it may still hold the pipe open
                for _ in range(8):
                    chunk = _read(result_r, 1 << 16)
                    size += len(chunk)
                    if not chunk or size > result_bytes + 4096:
                        break
                    chunks.append(chunk)
            except BlockingIOError:
                pass
            reading = False
    _close(result_r)
    _close(pidfd)
    _kill_the_rest()
    elapsed = (_monotonic() - started) * 1000.0
    event = {"i": index, "ms": round(elapsed, 3)}
    if timed_out:
        event.update(status="timeout", message=f"the call ran past its time limit of {timeout_s:g} s")
    else:
        raw = b"".join(chunks)
        try:
            reply = _loads(raw.decode("utf-8", "surrogatepass")) if raw else None
        except ValueError:
            reply = None
        if isinstance(reply, dict) and "value" in reply:
            event.update(status="ok", value=_dumps(reply["value"]))
        elif isinstance(reply, dict) and "error" in reply:
            event.update(status="error", message=str(reply["error"]), trace=str(reply.get("trace", "")))
        else:
            how = "without a readable result (did it fork, or close its output?)"
            if status_word is not None and os.WIFSIGNALED(status_word):
                how = f"killed by signal {os.WTERMSIG(status_word)}"
            elif status_word is not None and os.WIFEXITED(status_word):
                code = os.WEXITSTATUS(status_word)
                how = f"with exit code {code} and no result" if code else how
            event.update(status="crashed", message=f"the call ended its process {how}")
    if event["status"] != "ok":
        event["output"] = _output_tail()
    return event


def main() -> None:
    request = _loads(sys.stdin.read())
    entry, calls = request["entry"], request["calls"]
    timeout_s, result_bytes = float(request["call_timeout_s"]), int(request["result_bytes"])
    end = _monotonic() + float(request["budget_s"])  # no call starts, or runs, past the batch's budget
    with open(MODULE_PATH, encoding="utf-8") as fh:
        source = fh.read()
    module = types.ModuleType("verifier_module")
    module.__file__ = MODULE_PATH
    sys.modules["verifier_module"] = module
    try:
        exec(compile(source, "module.py", "exec"), module.__dict__)
    except BaseException as exc:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
        _emit({"load_error": _describe(exc), "trace": trace[-OUTPUT_TAIL:]})
        _kill_the_rest()
        return
    fn = module.__dict__.get(entry)
    if not callable(fn):
        _emit({"load_error": f"the module defines no function {entry!r}"})
        return
    _kill_the_rest()  # threads or forks started at import time do not outlive the load
    gc.collect()
    gc.freeze()  # each call is a fork: its collections must not touch (and so copy) the loaded module
    _emit({"loaded": True})
    for index, args in enumerate(calls):
        remaining = end - _monotonic()
        if remaining <= 0:
            return
        _emit(_call(index, fn, args, min(timeout_s, remaining), result_bytes))


main()
