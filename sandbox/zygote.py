"""The warm parent that lives inside the sandbox and forks one isolated child per run.

This file is executed *inside* the sandbox by the system interpreter (`python3 -I -c <source>`),
so it uses the standard library only and imports nothing from this package. The service side
imports it for the framing helpers (`send_frame`, `recv_frame`).

Layers, outermost first:
  1. The launcher (bubblewrap) gives this process its own user, mount, PID, network, IPC and
     UTS namespaces, read-only system directories, an empty environment and a non-root uid.
     This process keeps capabilities *inside* its user namespace only, and is non-dumpable.
  2. Per run it forks a child that becomes PID 1 of a fresh PID namespace (so the whole process
     tree dies with it), unshares mount/IPC/network namespaces, mounts fresh tmpfs on /work,
     /tmp and /dev/shm and a fresh /proc, sets rlimits, drops every capability, sets
     no_new_privs, and then either runs Python source in-process (the warm path) or execs a
     command under a minimal init.
The parent pumps stdin/stdout/stderr with caps, enforces the wall clock by killing the child
(PID 1 of its namespace: the kernel then kills every process in it) and reports raw facts.
Deciding what the facts mean (pass/fail, memory limit) happens outside, in the service.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import struct
import sys
import time

try:  # the service side; sandbox/session.py inlines sandbox/harness.py in place of these four lines
    from sandbox.harness import run_trusted_test, send_message, serve_program_calls
except ImportError:  # run as source without the harness (sandbox/interpreter.py): no assert tests there
    run_trusted_test = send_message = serve_program_calls = None

# A frame: header (JSON length, number of blobs), the JSON of the message, then each blob as a
# length and raw bytes. Program data (sources, files, stdin, outputs) travels as blobs, so a frame
# is as long as the bytes it carries: JSON would make every byte >= 0x80 six bytes long.
_HEADER = struct.Struct("!II")
_BLOB_HEADER = struct.Struct("!Q")
_BLOB_KEY = "\0blob"  # no file name or field can contain NUL
# The largest frame either side accepts. Replies always fit: stdout + stderr are cut at the output
# cap (at most 64 MiB) and the harness channel at CHANNEL_CAP; requests are bounded by the API's
# body limit (64 MiB by default), and a larger one is refused before it is sent.
MAX_FRAME = 512 << 20
CHANNEL_CAP = 64 << 20


class FrameTooLarge(ValueError):
    pass


def _read_into(fd: int, n: int) -> bytearray:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        count = os.readv(fd, [view[got:got + (1 << 24)]])
        if not count:
            raise EOFError("peer closed the channel")
        got += count
    return buffer


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:1 << 24]):]


def _extract_blobs(value, blobs: list):
    if isinstance(value, (bytes, bytearray, memoryview)):
        blobs.append(value)
        return {_BLOB_KEY: len(blobs) - 1}
    if isinstance(value, dict):
        return {key: _extract_blobs(item, blobs) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_extract_blobs(item, blobs) for item in value]
    return value


def send_frame(fd: int, obj: dict) -> None:
    """Send `obj`; its bytes values (at any depth) travel raw. Raises FrameTooLarge past MAX_FRAME."""
    blobs: list = []
    data = json.dumps(_extract_blobs(obj, blobs), separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass")
    size = len(data) + sum(_BLOB_HEADER.size + len(blob) for blob in blobs)
    if size > MAX_FRAME:
        raise FrameTooLarge(f"message of {size} bytes is over the frame limit of {MAX_FRAME} bytes")
    _write_all(fd, _HEADER.pack(len(data), len(blobs)) + data)
    for blob in blobs:
        _write_all(fd, _BLOB_HEADER.pack(len(blob)))
        _write_all(fd, blob)


def recv_frame(fd: int) -> dict:
    size, count = _HEADER.unpack(_read_into(fd, _HEADER.size))
    if size > MAX_FRAME or count > MAX_FRAME // _BLOB_HEADER.size:
        raise FrameTooLarge("frame too large")
    text = _read_into(fd, size)
    budget = MAX_FRAME - size
    blobs = []
    for _ in range(count):
        (length,) = _BLOB_HEADER.unpack(_read_into(fd, _BLOB_HEADER.size))
        budget -= _BLOB_HEADER.size + length
        if budget < 0:
            raise FrameTooLarge("frame too large")
        blobs.append(bytes(_read_into(fd, length)))

    def hook(obj: dict):
        if len(obj) == 1 and isinstance(obj.get(_BLOB_KEY), int):
            return blobs[obj[_BLOB_KEY]]
        return obj

    return json.loads(text.decode("utf-8", "surrogatepass"), object_hook=hook)


# ---------------------------------------------------------------------------------------------
# Kernel interfaces (ctypes; Python 3.11 has no os.unshare / os.setns / mount).

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
BUILD_SIZE_MB = 1024
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_CAPSET = 126  # x86_64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(option, arg2, arg3, 0, 0), f"prctl {option}")


def _drop_all_capabilities() -> None:
    # With no_new_privs set and a non-root uid, nothing can be regained on execve (file
    # capabilities and setuid bits are ignored), so clearing ambient + current sets suffices.
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words, all zero
    _check(_libc.syscall(SYS_CAPSET, header, data), "capset")


# ---------------------------------------------------------------------------------------------
# The child: namespaces, mounts, limits, then the program.

def _apply_rlimits(limits: dict, hard_limits: dict) -> None:
    import resource

    cpu = max(1, int(limits["cpu_time_s"] + 0.999))
    pairs = [
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) << 20),
        (resource.RLIMIT_NOFILE, int(limits["open_files"])),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_STACK, int(limits["stack_mb"]) << 20),
    ]
    if limits.get("nproc"):
        pairs.append((resource.RLIMIT_NPROC, int(limits["nproc"])))
    if limits.get("data_mb"):  # only without a memory cgroup; RLIMIT_AS would break OpenBLAS threads
        pairs.append((resource.RLIMIT_DATA, int(limits["data_mb"]) << 20))
    for which, value in pairs:
        hard = hard_limits[which]  # a user namespace cannot raise a hard limit set outside it
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def _loopback_up() -> None:
    """A new network namespace starts with `lo` down; programs expect 127.0.0.1 to work."""
    import fcntl
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        IFF_UP, IFF_LOOPBACK, IFF_RUNNING, SIOCSIFFLAGS = 0x1, 0x8, 0x40, 0x8914
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


def _set_up_child(job: dict, state: dict) -> None:
    """Runs in the forked child (PID 1 of a new PID namespace) before any untrusted code.

    Kept lean: every Python operation in a fresh fork pays for copy-on-write page faults.
    Mounts are private already (see `_prepare_parent_mounts`), so none of these propagate.
    """
    _prctl(PR_SET_DUMPABLE, 1)  # the parents are not (see `serve`); /proc/self of a run belongs to it
    # No new UTS namespace: without capabilities a run cannot change the sandbox's hostname.
    flags = CLONE_NEWNS | CLONE_NEWIPC
    if state["fresh_network"]:
        flags |= CLONE_NEWNET
    _check(_libc.unshare(flags), "unshare")
    if state["fresh_network"]:
        _loopback_up()
    limits = job["limits"]
    tmpfs_opts = f"size={int(limits['disk_mb'])}m,nr_inodes=4096,mode=0755"
    if job.get("build_rw"):  # a compiler run writes the build
        _mount("/build", "/work", None, MS_BIND)
    else:  # a test run reads it at /prog (read-only) and cannot reach the writable /build at all
        _mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts)
        _check(_libc.umount2(b"/build", MNT_DETACH), "umount /build")
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts.replace("0755", "1777"))
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts.replace("0755", "1777"))
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    _write_files("/work", job.get("files") or {})
    os.chdir("/work")
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)  # the run, never the parent, dies first
    os.write(fd, b"1000")
    os.close(fd)
    _apply_rlimits(limits, state["hard_limits"])
    _drop_all_capabilities()


def _child_exec(job: dict, chan: int | None) -> None:
    """Minimal init: fork the program, wait for it, report how it ended on the channel. In a
    trusted test there is no channel (the verdict is the test process's): a death by signal
    then ends the run with status 128 + the signal, and the test sees the program gone."""
    pid = os.fork()
    if pid == 0:
        if chan is not None:
            os.close(chan)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):  # Python's choices, not the program's
            signal.signal(sig, signal.SIG_DFL)
        argv = job["argv"]
        try:
            os.execve(argv[0], argv, job["env"])
        except OSError as exc:
            os.write(2, f"cannot execute {argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if reaped == pid:
            break
    if os.WIFSIGNALED(status):
        if chan is None:
            os._exit(128 + os.WTERMSIG(status))
        os.write(chan, f"S{os.WTERMSIG(status)}".encode())
        os._exit(0)
    os._exit(os.WEXITSTATUS(status))


def _python_stdio() -> tuple:
    """Text streams on fds 0, 1 and 2, built once in the warm parent: in each run the fds are
    the run's pipes, and the fork inherits ready objects instead of building them."""
    import io

    return (io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                             encoding="utf-8", errors="surrogateescape"),
            io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                             encoding="utf-8", errors="backslashreplace"),
            io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                             encoding="utf-8", errors="backslashreplace", line_buffering=True))


def _child_python(job: dict, code, chan: int, stdio: tuple) -> None:
    """The warm path: run Python source in this already-initialised interpreter."""
    import types

    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdio
    sys.argv = ["main.py"]
    sys.path.insert(0, "/work")
    out, err = stdio[1], stdio[2]
    harness = job.get("harness") or {"mode": "script"}
    nonce = harness.get("nonce", "")
    # Tests import the program: its `if __name__ == "__main__":` block does not run.
    name = "__main__" if harness["mode"] == "script" else "solution"
    module = types.ModuleType(name)
    module.__file__ = "/work/main.py"
    module.__builtins__ = __builtins__
    sys.modules[name] = module
    exit_code = 0

    def finish(code: int) -> None:
        for stream in (out, err):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)

    write, dumps, loads = os.write, json.dumps, json.loads  # bound before the program can rebind them

    if harness["mode"] == "assert":  # fd 3: the test's requests, fd 5: our answers (see sandbox/harness.py)
        try:
            exec(code, module.__dict__)
        except BaseException as exc:
            import traceback
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            try:
                send_message(5, {"failed": f"{type(exc).__name__}: {str(exc)[:500]}"})
            finally:
                finish(1)
        serve_program_calls(module.__dict__, 3, 5)
        finish(0)

    try:
        exec(code, module.__dict__)
        if harness["mode"] == "call":
            fn = module.__dict__.get(harness["fn"])
            if not callable(fn):
                print(f"function {harness['fn']!r} is not defined", file=sys.stderr)
                finish(1)
            value = fn(*loads(harness["args"]))
            try:
                payload = dumps({"value": value, "done": nonce}, default=_jsonable)
            except (TypeError, ValueError) as exc:
                print(f"return value is not JSON-serialisable: {exc}", file=sys.stderr)
                finish(1)
            write(chan, payload.encode("utf-8", "surrogatepass"))
    except SystemExit as exc:
        if harness["mode"] != "script":
            print(f"the program exited (SystemExit {exc.code!r}) before the tests finished", file=sys.stderr)
            exit_code = 1
        elif exc.code is None:
            exit_code = 0
        elif isinstance(exc.code, int):
            exit_code = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            exit_code = 1
    except BaseException as exc:  # the program's own exception: a traceback, exit 1, like python3
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # without this harness frame
        exit_code = 1
    finish(exit_code)


def _jsonable(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _run(job: dict, state: dict) -> dict:
    if job["kind"] == "python" and state.get("code") is None:
        raise ValueError("no Python program is prepared")
    if job.get("build_rw"):
        state["build_dirty"] = True  # before the fork: a run that fails midway may have written
    stdin_data = job.get("stdin") or b""
    stdin_r, stdin_w = os.pipe() if stdin_data else (state["devnull"], -1)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    chan_r, chan_w = os.pipe()
    setup_r, setup_w = os.pipe()  # set-up failures only; closed before the program starts
    trusted_test = (job.get("harness") or {}).get("mode") == "assert"
    if trusted_test:  # the program answers the test's calls on these; the verdict comes from the test
        to_program_r, to_program_w = os.pipe()
        from_program_r, from_program_w = os.pipe()
        _hand_to_test_server(state, job, (to_program_w, from_program_r, chan_w))
        state["test_frame_pending"] = False
    start = time.monotonic()
    _check(_libc.unshare(CLONE_NEWPID), "unshare pid")  # the next child is PID 1 of a new namespace
    try:
        pid = os.fork()
    except BaseException:
        _check(_libc.setns(state["own_pid_ns"], CLONE_NEWPID), "setns")
        raise
    if pid:  # back to our own namespace for the children of later runs
        _check(_libc.setns(state["own_pid_ns"], CLONE_NEWPID), "setns")
    else:
        try:
            os.setsid()  # its own process group: kill(0, ...) in the run reaches only the run
            os.dup2(stdin_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            if trusted_test:  # no channel: only the test process can write a verdict
                os.dup2(to_program_r, 3)
                os.dup2(from_program_w, 5)
            else:
                os.dup2(chan_w, 3)
            os.dup2(setup_w, 4)
            os.closerange(6 if trusted_test else 5, 1 << 16)
            _set_up_child(job, state)
            os.close(4)
            if job["kind"] == "python":
                _child_python(job, state["code"], 3, state["stdio"])
            else:
                _child_exec(job, None if trusted_test else 3)
        except BaseException as exc:  # setup failed: report to the parent, never run the program
            try:
                os.write(4, f"{type(exc).__name__}: {exc}".encode())
            finally:
                os._exit(125)
        os._exit(0)
    for fd in (out_w, err_w, chan_w, setup_w) + ((stdin_r,) if stdin_w >= 0 else ()):
        os.close(fd)
    if trusted_test:
        for fd in (to_program_r, to_program_w, from_program_r, from_program_w):
            os.close(fd)
    raw = _pump(pid, stdin_w, (out_r, err_r, chan_r, setup_r), stdin_data, job["limits"], start)
    if trusted_test:  # before the next request is read, the test must be off the channel
        _await_test_server(state)
    if job["kind"] == "exec" and trusted_test:  # the init's 128 + signal (see `_child_exec`); either way a failure
        if raw["exit_code"] is not None and 128 < raw["exit_code"] < 128 + 65:
            raw.update(signal=raw["exit_code"] - 128, exit_code=None)
    elif job["kind"] == "exec" and raw["exit_code"] == 0 and raw["channel"][:1] == b"S" and raw["channel"][1:].isdigit():
        raw.update(signal=int(raw["channel"][1:]), exit_code=None, channel=b"")  # the init relays a signal death
    return raw


def _pump(pid: int, stdin_w: int, fds: tuple[int, int, int, int], stdin_data: bytes, limits: dict,
          start: float) -> dict:
    """Feed stdin, collect outputs under the cap, until the run is over or out of time."""
    out_r, err_r, chan_r, setup_r = fds
    deadline = start + float(limits["wall_time_s"])
    cap = int(limits["output_bytes"])
    buffers = {fd: bytearray() for fd in fds}
    readers = set(fds)
    stdin_view = memoryview(stdin_data)
    pidfd = os.pidfd_open(pid)  # readable once the run's init has exited, even if pipes stay open
    exited = timed_out = output_limit = False
    poller = select.poll()
    for fd in readers:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    if stdin_w >= 0:
        os.set_blocking(stdin_w, False)
        poller.register(stdin_w, select.POLLOUT)
    while readers or not exited:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(remaining * 1000):
            if fd == pidfd:
                exited = True
                poller.unregister(pidfd)
            elif fd == stdin_w:
                try:
                    stdin_view = stdin_view[os.write(stdin_w, stdin_view[:65536]):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    stdin_view = stdin_view[:0]
                if not stdin_view:
                    poller.unregister(stdin_w)
                    os.close(stdin_w)
                    stdin_w = -1
            else:
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    readers.discard(fd)
                    continue
                buffers[fd] += chunk
                if len(buffers[out_r]) + len(buffers[err_r]) > cap or len(buffers[chan_r]) > CHANNEL_CAP:
                    output_limit = True
        if output_limit:
            break
    if timed_out or output_limit:
        os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: the kernel kills the whole tree
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    os.close(pidfd)
    for fd in fds:
        if fd in readers:
            _drain(fd, buffers[fd], cap)
        os.close(fd)
    if stdin_w >= 0:
        os.close(stdin_w)
    out, err = bytes(buffers[out_r]), bytes(buffers[err_r])
    truncated = len(out) + len(err) > cap
    if truncated:
        out = out[:cap]
        err = err[: max(0, cap - len(out))]
    signalled = os.WIFSIGNALED(status)
    return {
        "exit_code": None if signalled else os.WEXITSTATUS(status),
        "signal": os.WTERMSIG(status) if signalled else None,
        "stdout": out,
        "stderr": err,
        "truncated": truncated,
        "timed_out": timed_out,
        "output_limit": output_limit,
        "wall_ms": wall * 1000.0,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000.0,
        "max_rss_kb": usage.ru_maxrss,
        "channel": bytes(buffers[chan_r][:CHANNEL_CAP]),
        "setup_error": bytes(buffers[setup_r][:65536]).decode("utf-8", "replace") or None,
    }


def _drain(fd: int, buffer: bytearray, cap: int) -> None:
    """Collect what is left in a pipe after the writers died, without blocking."""
    os.set_blocking(fd, False)
    try:
        while len(buffer) <= cap:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
    except BlockingIOError:
        pass


def _mount_build() -> None:
    """A fresh, empty build directory at /build, seen read-only at /prog."""
    _mount("tmpfs", "/build", "tmpfs", MS_NOSUID | MS_NODEV, f"size={BUILD_SIZE_MB}m,mode=0755")
    _mount("/build", "/prog", None, MS_BIND)
    _mount("none", "/prog", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


# ---------------------------------------------------------------------------------------------
# The trusted test runner (assert tests; see sandbox/harness.py for what runs on each side).
#
# The test server is forked from the warm parent at start, before any test reaches the sandbox,
# and it is the only process that reads a test: the service sends the test as its own frame right
# after the run request, and the process that reads the request (the warm parent, or a large
# program's program parent) leaves that frame on the control channel for the test server. So no
# program process, always forked from one of those two, has ever had a test (or a freed copy of
# one) in its memory. Each test runs in a fresh child of the test server: outside the program's
# PID namespace (the program cannot name it), non-dumpable, without capabilities (the server
# dropped them), under the run's limits.

def _start_test_server(control_fd: int, state: dict) -> None:
    import socket

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            _test_server_loop(control_fd, theirs, state)
        finally:
            os._exit(0)
    theirs.close()
    state["test_server"] = ours


def _hand_to_test_server(state: dict, job: dict, fds: tuple[int, ...]) -> None:
    """Ask the test server to read the next frame (the test) and run it against these pipes (or,
    without pipes, only to start building it: see `_native_test_build`)."""
    import socket

    try:
        message = {"limits": job["limits"], "prebuild": not fds}
        socket.send_fds(state["test_server"], [json.dumps(message).encode()], list(fds))
    except OSError:  # no test server: the test frame stays on the channel, out of step; restart
        os._exit(70)


def _await_test_server(state: dict) -> None:
    """Check that the test server took the test off the control channel (it says so before it
    starts the test, so this does not wait in practice); if not, the channel is out of step:
    leave, and the service restarts the sandbox."""
    sock = state["test_server"]
    ready, _, _ = select.select([sock], [], [], 30.0)
    if not ready or sock.recv(1) != b"k":
        os._exit(70)


_COMPILE_IN_SERVER_BYTES = 1 << 20  # larger test scripts are compiled in the test's child, under its limits


def _test_server_loop(control_fd: int, sock, state: dict) -> None:
    import socket

    # The server needs no privilege (it reads frames and forks); dropped once here, its test
    # children start without any. /dev/null is opened once for the children's stdio.
    _drop_all_capabilities()
    null = os.open("/dev/null", os.O_RDWR)
    builders: list[int] = []  # children building a test ahead of its run (`prebuild`)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return
        if not message:
            return
        job = json.loads(message)
        if (len(fds) != 3 or min(fds) < 3) and not (job.get("prebuild") and not fds):
            return
        try:
            test = recv_frame(control_fd)
        except Exception:
            return  # the program parent sees no acknowledgement and restarts the sandbox
        sock.sendall(b"k")
        builders = [pid for pid in builders if os.waitpid(pid, os.WNOHANG)[0] == 0]  # reap the finished
        if job.get("prebuild"):
            if test.get("runner") == "native":
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    try:
                        _native_test_build(test, null, job["limits"], state)
                    finally:
                        os._exit(0)
                builders.append(pid)
            continue
        # Compiling here (it runs nothing) spares each child the compiler's page faults on a
        # fresh copy of this process's memory; a script that does not compile is compiled again
        # in the child, which reports the error at its usual place.
        script = test.get("script")
        if test.get("runner") is None and isinstance(script, str) and len(script) <= _COMPILE_IN_SERVER_BYTES:
            try:
                script = compile(script, "test.py", "exec")
            except Exception:
                pass
        pid = os.fork()
        if pid == 0:
            sock.close()
            if test.get("runner") == "javascript":
                _exec_node_test(test, fds, null, job["limits"], state)
            if test.get("runner") == "native":
                _native_test_child(test, fds, null, job["limits"], state)
            _trusted_test_child(script, test.get("entry_point"), fds, null, job["limits"], state)
        for fd in fds:
            os.close(fd)
        del test, script
        _wait_or_kill(pid, float(job["limits"]["wall_time_s"]) + 1.0)


def _trusted_test_child(script, entry_point, fds: list[int], null: int, limits: dict, state: dict) -> None:
    """Runs in a fresh fork of the test server (already without capabilities): the run's limits,
    stdio to /dev/null, no descriptor but the three of this test, then the test."""
    to_program, from_program, verdict_fd = fds
    verdict = {"passed": False, "reason": "the test harness failed"}
    try:
        for target in (0, 1, 2):  # what the test prints goes nowhere
            os.dup2(null, target)
        keep = sorted(fds)  # all >= 3 (checked by the server)
        os.closerange(3, keep[0])
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, keep[2])
        os.closerange(keep[2] + 1, 1 << 16)
        _apply_rlimits(limits, state["hard_limits"])
        verdict = run_trusted_test(script, entry_point, to_program, from_program)
    except BaseException as exc:
        verdict = {"passed": False, "reason": f"the test harness failed: {type(exc).__name__}: {exc}"}
    finally:
        _leave_with_verdict(verdict_fd, verdict)


def _leave_with_verdict(verdict_fd: int, verdict: dict) -> None:
    """End a test server's child: write the verdict on the channel only it holds, then exit."""
    try:
        os.write(verdict_fd, json.dumps(verdict).encode("utf-8", "surrogatepass"))
    finally:
        os._exit(0)


def _place_fds(fds: list[int], first: int = 3) -> None:
    """Put `fds` on `first`, `first` + 1, ... (in order, whatever numbers they had) and close every
    other descriptor from 3 up."""
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]  # out of the way of the targets
    os.closerange(3, 64)
    for target, fd in enumerate(high, start=first):
        os.dup2(fd, target)
    os.closerange(first + len(fds), 1 << 16)


_NODE = "/usr/bin/node"


def _exec_node_test(test: dict, fds: list[int], null: int, limits: dict, state: dict) -> None:
    """Runs in a fresh fork of the test server: become the JavaScript test process (the runner of
    sandbox/js/trusted_test.js) with the pipes to the program on fds 3 and 4, the verdict on 5 and
    the test on 6 (a memfd: never in a file the program could reach). Never returns: if Node
    cannot start, the verdict says so."""
    verdict_fd = fds[2]
    try:
        payload = json.dumps({"script": test["script"], "names": test["names"]}).encode("utf-8", "surrogatepass")
        memfd = os.memfd_create("test", 0)
        view = memoryview(payload)
        while view:
            view = view[os.write(memfd, view):]
        os.lseek(memfd, 0, os.SEEK_SET)
        for target in (0, 1, 2):  # what the test prints goes nowhere
            os.dup2(null, target)
        _place_fds([*fds, memfd])
        verdict_fd = 5
        # Node's own threads, on top of the run's (the frame's `tasks`, as for the pids cgroup)
        room = dict(limits, nproc=int(limits["nproc"]) + int(test["tasks"])) if limits.get("nproc") else limits
        _apply_rlimits(room, state["hard_limits"])
        os.execve(_NODE, [_NODE, "-e", test["runner_source"]],
                  {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"})
    except BaseException as exc:
        _leave_with_verdict(verdict_fd, {"passed": False, "reason": f"the test process could not start: {exc}"})


_NATIVE_TESTS_DIR = "/tmp/referee-tests"  # the sandbox's own /tmp: every run mounts a fresh one over it
_NATIVE_TESTS_KEPT = 48
_NATIVE_BUILD_CPU_S = 30


def _native_test_child(test: dict, fds: list[int], null: int, limits: dict, state: dict) -> None:
    """Runs in a fresh fork of the test server: build the test's executable (once per test: kept
    under this sandbox's /tmp, which no run can see), run it with the pipes to the program on fds
    3 and 4, and write its verdict: passed if it exited 0. Never returns."""
    verdict = {"passed": False, "reason": "the test harness failed"}
    try:
        directory = _native_test_build(test, null, limits, state)
        if isinstance(directory, dict):
            verdict = directory
        else:
            verdict = _native_verdict(*_native_spawn(test["run"], directory, (fds[0], fds[1]), null, limits, state))
    except BaseException as exc:
        verdict = {"passed": False, "reason": f"the test harness failed: {type(exc).__name__}: {exc}"}
    finally:
        _leave_with_verdict(fds[2], verdict)


def _native_test_build(test: dict, null: int, limits: dict, state: dict):
    """The directory holding the built test, or a verdict saying why it does not build."""
    import fcntl
    import shutil

    key = test["key"]
    if not key.isalnum():
        raise ValueError("bad test key")
    directory = f"{_NATIVE_TESTS_DIR}/{key}"
    if os.path.exists(f"{directory}/.built"):
        os.utime(directory)  # recently used: evicted last
        return directory
    os.makedirs(_NATIVE_TESTS_DIR, exist_ok=True)
    with open(f"{directory}.lock", "w") as lock:  # a build started ahead (`prebuild`) finishes first
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(f"{directory}/.built"):
            return directory
        kept = sorted((entry for entry in os.scandir(_NATIVE_TESTS_DIR) if entry.is_dir()),
                      key=lambda entry: entry.stat().st_mtime)
        for entry in kept[:max(0, len(kept) - _NATIVE_TESTS_KEPT)]:
            shutil.rmtree(entry.path, ignore_errors=True)
            try:
                os.unlink(f"{entry.path}.lock")
            except OSError:
                pass
        return _native_test_compile(test, directory, null, limits, state)


def _native_test_compile(test: dict, directory: str, null: int, limits: dict, state: dict):
    import shutil

    work = f"{directory}.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    os.mkdir(work)
    _write_files(work, {name: text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
                        for name, text in test["files"].items()})
    room = dict(limits, cpu_time_s=max(float(limits["cpu_time_s"]), _NATIVE_BUILD_CPU_S),
                file_size_mb=max(int(limits["file_size_mb"]), 64))
    # No build: the files are the built test already (class files compiled by the service).
    status, stderr = _native_spawn(test["build"], work, (null, null), null, room, state) if test.get("build") else (0, b"")
    if status != 0:
        shutil.rmtree(work, ignore_errors=True)
        return {"passed": False, "test_error": True,
                "reason": f"the reference's test code does not build (status {status}): "
                          + stderr.decode("utf-8", "replace")[-1500:]}
    open(f"{work}/.built", "w").close()
    shutil.rmtree(directory, ignore_errors=True)
    os.rename(work, directory)
    return directory


def _native_spawn(argv: list[str], cwd: str, pipes: tuple[int, int], null: int, limits: dict, state: dict):
    """Run argv in cwd with `pipes` on fds 3 and 4, stdout to /dev/null, under the limits;
    (exit status or 128 + signal, the first 4 KiB of its stderr)."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            os.dup2(null, 0)
            os.dup2(null, 1)
            _place_fds([*pipes, err_w])  # the pipes on 3 and 4, stderr's on 5 for a moment
            os.dup2(5, 2)
            os.close(5)
            os.chdir(cwd)
            _apply_rlimits(limits, state["hard_limits"])
            os.execve(argv[0] if argv[0].startswith("/") else f"{cwd}/{argv[0]}", argv,
                      {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": cwd, "TMPDIR": cwd})
        except BaseException as exc:
            os.write(2, f"cannot start {argv[0]}: {exc}\n".encode())
        os._exit(127)
    os.close(err_w)
    kept, chunk = bytearray(), b"x"
    while chunk:  # until the child (and anything it left holding stderr) is gone
        chunk = os.read(err_r, 65536)
        if len(kept) < 4096:
            kept += chunk[:4096 - len(kept)]
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return code, bytes(kept)


def _native_verdict(status: int, stderr: bytes) -> dict:
    if status == 0:
        return {"passed": True, "reason": None}
    text = stderr.decode("utf-8", "replace").strip()
    if "referee: " in text:  # the bridge: the program went away mid-call
        return {"passed": False, "reason": text.split("referee: ", 1)[1].splitlines()[0]}
    lines = [line for line in text.splitlines() if line.strip()]
    told = next((line for line in reversed(lines) if "Assertion" in line or "assert" in line or
                 line.startswith("Exception in thread")), lines[-1] if lines else "")
    what = f"killed by signal {status - 128}" if status > 128 else f"exit status {status}"
    return {"passed": False, "reason": f"the test failed ({what})" + (f": {told[-400:]}" if told else "")}


def _wait_or_kill(pid: int, timeout_s: float) -> None:
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], timeout_s)[0]:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
    os.waitpid(pid, 0)


def _wipe_build(state: dict) -> None:
    """Replace the build directory by a fresh tmpfs: constant time and no walk, however deep the
    tree a compiler left (javac makes one directory per package component). Skipped when nothing
    was written since the last wipe (only `prepare`'s files and compiler runs write there)."""
    if not state.get("build_dirty", True):
        return
    _check(_libc.umount2(b"/prog", MNT_DETACH), "umount /prog")
    _check(_libc.umount2(b"/build", MNT_DETACH), "umount /build")
    _mount_build()
    state["build_dirty"] = False


def _write_files(root: str, files: dict) -> None:
    """Write `files` (relative name -> bytes) under `root`, making parent directories one level
    at a time (os.makedirs recurses once per level)."""
    for name, content in files.items():
        parts = name.split("/")
        path = root
        for part in parts[:-1]:
            path = os.path.join(path, part)
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
        with open(os.path.join(path, parts[-1]), "wb") as fh:
            fh.write(content)


def _start_python_program(control_fd: int, source: str, env: dict, state: dict) -> dict:
    """Compile one Python program once for all its runs.

    A small source is compiled here and its runs are forked from this process (see `_run`); the
    reply goes to "prepare", and "wipe" drops the code. A larger one gets a program parent, a
    fork that compiles it and serves its runs; then the reply is to "prepare" on a compile
    error, else to the final "wipe" (sent once the program parent and all its runs are gone, so
    nothing is left behind).
    """
    # compile() runs no program code. A small source is compiled here, where the compiler's memory
    # is warm: in a fresh fork its first use costs ~270 copy-on-write page faults (~1.4 ms of CPU).
    # A larger one is compiled in the fork, where a parser crash or a bloated heap only loses it.
    state["code"] = None
    if len(source) <= _COMPILE_HERE_CHARS:
        try:
            state["code"] = compile(source, "main.py", "exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            return {"ok": True, "compile_error": _compile_error(exc)}
    if state.get("env") != env:  # the environment every run of this program sees (os.environ
        os.environ.clear()       # costs ~80 page faults to set in a fresh fork; usually unchanged)
        os.environ.update(env)
        state["env"] = dict(env)
    if state["code"] is not None:  # no program parent: a fork and its first page faults saved per program
        return {"ok": True, "program_parent": False}
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(status_r)
        try:
            if state["code"] is None:
                state["code"] = compile(source, "main.py", "exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            os.write(status_w, _compile_error(exc).encode("utf-8", "replace")[:65536])
            os._exit(0)
        os.write(status_w, b"\0")  # compiled
        os.close(status_w)
        import gc
        gc.freeze()  # a collection in a run must not touch (and so copy) the parent's objects
        _serve_loop(control_fd, state, program_parent=True)
        os._exit(0)
    state["code"] = None
    os.close(status_w)
    message = b""
    while chunk := os.read(status_r, 65536):
        message += chunk
    os.close(status_r)
    if message != b"\0":
        os.waitpid(pid, 0)
        reason = message.decode("utf-8", "replace") or "the Python compiler crashed on this program"
        return {"ok": True, "compile_error": reason}
    send_frame(control_fd, {"ok": True})
    _, status = os.waitpid(pid, 0)
    if status == _EXIT_CHANNEL_CLOSED:
        os._exit(0)
    if status != 0:
        os._exit(70)  # the program parent died: the service sees EOF and restarts the sandbox
    _wipe_build(state)
    return {"ok": True}


_EXIT_CHANNEL_CLOSED = 3 << 8  # wait status of a program parent that saw the channel close
_COMPILE_HERE_CHARS = 64 << 10


def _compile_error(exc: BaseException) -> str:
    import traceback
    return "".join(traceback.format_exception_only(exc))


def _serve_loop(control_fd: int, state: dict, program_parent: bool = False) -> None:
    while True:
        try:
            request = recv_frame(control_fd)
        except EOFError:
            os._exit(3 if program_parent else 0)
        except ValueError:  # a malformed frame: the service restarts the sandbox
            os._exit(70)
        op = request.get("op")
        if program_parent and op == "wipe":
            return  # the zygote answers once this process is gone
        try:
            if op == "configure":
                state["fresh_network"] = bool(request.get("fresh_network", False))
                reply = {"ok": True}
            elif op == "prepare" and not program_parent:
                _wipe_build(state)
                if request.get("files"):
                    state["build_dirty"] = True
                    _write_files("/build", request["files"])
                if request.get("python_source") is not None:
                    reply = _start_python_program(control_fd, request["python_source"], request.get("env") or {}, state)
                else:
                    reply = {"ok": True}
            elif op == "run":
                # An assert run is followed by the test's own frame, for the test server: if this
                # run fails before handing it over, that frame would be read as the next request.
                state["test_frame_pending"] = (request["job"].get("harness") or {}).get("mode") == "assert"
                reply = _run(request["job"], state)
            elif op == "prebuild" and not program_parent:  # start building a test while the program compiles
                state["test_frame_pending"] = True
                _hand_to_test_server(state, {"limits": request["limits"]}, ())
                _await_test_server(state)
                state["test_frame_pending"] = False
                reply = {"ok": True}
            elif op == "wipe":
                state["code"] = None  # a program compiled here (see `_start_python_program`) is done
                _wipe_build(state)
                reply = {"ok": True}
            else:
                reply = {"error": f"unexpected op {op!r}"}
        except Exception as exc:
            if state.get("test_frame_pending"):
                os._exit(70)  # the channel is out of step: the service restarts the sandbox
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        send_frame(control_fd, reply)


def _prepare_parent_mounts() -> None:
    """Once, in the warm parent: private propagation, and the build directory (see `_mount_build`)."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount_build()


def serve(control_fd: int) -> None:
    """Answer requests on the control channel until it closes."""
    import resource

    # No run can name this process (each has its own PID namespace and /proc); being
    # non-dumpable also keeps its memory out of reach of anything holding its uid.
    _prctl(PR_SET_DUMPABLE, 0)
    _prepare_parent_mounts()
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as fh:
            fh.write("0")  # no nested user namespaces: shrinks the kernel surface for the runs
    except OSError:
        pass
    state = {
        "own_pid_ns": os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC),
        "devnull": os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC),
        "fresh_network": False,
        "code": None,
        "hard_limits": {which: resource.getrlimit(which)[1] for which in (
            resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE,
            resource.RLIMIT_STACK, resource.RLIMIT_NPROC, resource.RLIMIT_DATA)},
    }
    state["stdio"] = _python_stdio()  # used by the Python runs only, each with its own copy
    import gc
    gc.collect()
    gc.freeze()
    _start_test_server(control_fd, state)
    send_frame(control_fd, {"ready": True, "python": sys.version.split()[0]})
    _serve_loop(control_fd, state)


if __name__ == "__main__":
    # Warm the modules typical programs import, so a run pays for them once, here.
    import bisect, collections, functools, heapq, itertools, math, re, string, io, types, traceback, resource  # noqa: E401,F401
    _control = int(sys.argv[1])
    for _fd in os.listdir("/proc/self/fd"):  # keep nothing the launcher may have leaked
        if int(_fd) > 2 and int(_fd) != _control:
            try:
                os.close(int(_fd))
            except OSError:
                pass
    serve(_control)
