"""The persistent Python interpreter that lives inside the sandbox (one per interpreter session).

Executed *inside* the sandbox by the system interpreter, after the source of `sandbox/zygote.py`
(whose kernel helpers it reuses), so it uses the standard library only. The service
side is `sandbox/interpreter.py`.

Unlike the warm parent, which forks a fresh child per run, this process keeps one namespace for
the whole session: a variable set by one cell is there for the next. Its isolation is the
launcher's (user, mount, PID, network, IPC and UTS namespaces, read-only system, seccomp, its own
cgroup) plus what `_enter_jail` does once before any user code: fresh tmpfs work directories,
rlimits, no capabilities, no_new_privs.

Protocol on the control channel: frames of a 4-byte big-endian length and UTF-8 JSON (its own
framing, small and fixed, independent of the warm parent's):
    service -> here: {"code": "...", "nonce": "..."}
    here -> service: {"done": nonce, "error": bool}   once the cell finished and stdio is flushed
Cell output goes to fds 1 and 2, pipes the service reads while the cell runs.
"""

# ruff: noqa: F821  (names below come from zygote.py, executed before this source)

import ast as _ast
import builtins as _builtins
import json as _json
import os as _os
import sys as _sys


def _enter_jail(limits: dict) -> None:
    """Once, before any user code: private writable dirs, limits, no privileges left."""
    import resource

    tmpfs = f"size={int(limits['disk_mb'])}m,nr_inodes=4096,mode=0755"
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs.replace("0755", "1777"))
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmpfs.replace("0755", "1777"))
    for unused in ("/build", "/prog"):
        _libc.umount2(unused.encode(), MNT_DETACH)
    _os.chdir("/work")
    fd = _os.open("/proc/self/oom_score_adj", _os.O_WRONLY)
    _os.write(fd, b"1000")
    _os.close(fd)
    hard = {which: resource.getrlimit(which)[1] for which in (
        resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE,
        resource.RLIMIT_STACK, resource.RLIMIT_NPROC, resource.RLIMIT_DATA)}
    _apply_rlimits(limits, hard)
    _drop_all_capabilities()


def _split_last_expression(source: str, filename: str):
    """Compile a cell; a final bare expression is evaluated separately so its value can be shown."""
    tree = _ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = _ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    return body, (compile(last, filename, "eval") if last is not None else None)


def _serve(control_fd: int) -> None:
    stdio = _python_stdio()
    _sys.stdin, _sys.stdout, _sys.stderr = _sys.__stdin__, _sys.__stdout__, _sys.__stderr__ = stdio
    namespace = {"__name__": "__main__", "__builtins__": _builtins}
    _sys.modules["__main__"] = type(_sys)("__main__")
    _sys.modules["__main__"].__dict__.update(namespace)
    namespace = _sys.modules["__main__"].__dict__
    write, dumps, flush_all = _os.write, _json.dumps, (stdio[1], stdio[2])
    cell = 0
    while True:
        try:
            request = _receive(control_fd)
        except (EOFError, ValueError):
            _os._exit(0)
        cell += 1
        failed = False
        try:
            body, last = _split_last_expression(request["code"], f"<cell {cell}>")
            exec(body, namespace)
            if last is not None:
                value = eval(last, namespace)
                if value is not None:
                    print(repr(value))
        except SystemExit as exc:
            print(f"SystemExit({exc.code!r}): the interpreter keeps running", file=_sys.stderr)
            failed = True
        except BaseException as exc:  # the cell's own error: a traceback, like the Python REPL
            import traceback
            tb = exc.__traceback__
            while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell"):
                tb = tb.tb_next  # drop this loop's frames: the user sees only their own code
            traceback.print_exception(type(exc), exc, tb)
            failed = True
        for stream in flush_all:
            try:
                stream.flush()
            except Exception:
                pass
        payload = dumps({"done": request.get("nonce", ""), "error": failed}).encode()
        write(control_fd, len(payload).to_bytes(4, "big") + payload)  # bound before any cell ran


def _read_exactly(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = _os.read(fd, n - len(data))
        if not chunk:
            raise EOFError("the service closed the channel")
        data += chunk
    return data


def _receive(fd: int) -> dict:
    size = int.from_bytes(_read_exactly(fd, 4), "big")
    return _json.loads(_read_exactly(fd, size))


def _send(fd: int, message: dict) -> None:
    payload = _json.dumps(message).encode()
    _os.write(fd, len(payload).to_bytes(4, "big") + payload)


def repl_main(control_fd: int, limits_json: str) -> None:
    for name in _os.listdir("/proc/self/fd"):  # keep nothing the launcher may have leaked
        if int(name) > 2 and int(name) != control_fd:
            try:
                _os.close(int(name))
            except OSError:
                pass
    _enter_jail(_json.loads(limits_json))
    _send(control_fd, {"ready": True, "python": _sys.version.split()[0]})
    _serve(control_fd)
