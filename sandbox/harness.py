"""Python assert tests decided outside the program's reach.

Two processes take part in one assert test, both inside the sandbox (see `sandbox/zygote.py`):
  * the program process imports the program (as module `solution`, never `__main__`) and then
    only answers calls: "call f with these arguments", "next item of this iterator";
  * the trusted test process runs the test script with pristine builtins. The program's
    functions are proxies there: arguments go out and results come back as plain data (None,
    bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset, Fraction,
    Decimal), rebuilt from JSON as exact builtin types, so no `__eq__`, `__bool__` or patched
    builtin of the program takes part in a comparison. Other objects stay in the program and
    come back as handles whose methods can be called and which can be iterated, but which
    compare by identity and have no truth value.
The test process writes the pass/fail verdict on a channel the program never holds, and the
test never enters the program's memory (the program's process is not forked from any process
that has seen it).

Standard library only: this source is inlined into the sandbox's warm parent.
"""

import builtins
import importlib
import json
import os
import struct
import sys
import types

_LENGTH = struct.Struct("!I")
MAX_MESSAGE = 64 << 20
_MUTABLE = (list, dict, set, bytearray)


class ProgramGone(BaseException):
    """The program process died or closed the link mid-test (never caught by `except Exception`)."""


class ProgramError(Exception):
    """An exception of the program's own type, raised in the test as this."""


# Built once: json.dumps with options and json.loads build or check these on every call.
_to_json = json.JSONEncoder(separators=(",", ":")).encode
_from_json = json.JSONDecoder().decode


def send_message(fd: int, obj) -> None:
    data = _to_json(obj).encode("utf-8", "surrogatepass")
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"message of {len(data)} bytes is over {MAX_MESSAGE}")
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_message_bytes(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the link")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def recv_message(fd: int):
    (size,) = _LENGTH.unpack(_read_message_bytes(fd, _LENGTH.size))
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    return _from_json(_read_message_bytes(fd, size).decode("utf-8", "surrogatepass"))


# -- values as data ----------------------------------------------------------------------------

def encode(value, handles=None):
    """`value` as JSON-able data; tagged `{"$": kind, "v": ...}` where JSON has no such type.
    Objects that are not data become handles when `handles` (id -> object) is given."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if kind is list:
        return [encode(item, handles) for item in value]
    if kind is tuple:
        return {"$": "tuple", "v": [encode(item, handles) for item in value]}
    if kind is dict:
        return {"$": "dict", "v": [[encode(k, handles), encode(v, handles)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"$": kind.__name__, "v": [encode(item, handles) for item in value]}
    if kind is bytes or kind is bytearray:
        return {"$": kind.__name__, "v": bytes(value).decode("latin-1")}
    if kind is complex:
        return {"$": "complex", "v": [value.real, value.imag]}
    if kind is _Remote:
        return {"$": "ref", "v": value._ref}
    if kind.__module__ == "fractions" and kind.__name__ == "Fraction":
        return {"$": "fraction", "v": [value.numerator, value.denominator]}
    if kind.__module__ == "decimal" and kind.__name__ == "Decimal":
        return {"$": "decimal", "v": str(value)}
    # Subclasses of data types travel as their base type (namedtuple, Counter, IntEnum ...).
    for base in (bool, int, float, str, tuple, list, dict, frozenset, set, bytes, bytearray, complex):
        if isinstance(value, base):
            return encode(str.__str__(value) if base is str else base(value), handles)
    if handles is not None:
        if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
            return encode(value.tolist(), handles)
        handles[len(handles) + 1] = value
        return {"$": "handle", "v": len(handles), "type": kind.__name__}
    raise TypeError(f"a {kind.__name__} cannot be passed to the program: use plain data")


def decode(data, resolve):
    """Builtin values from `encode`'s data; `resolve(tag, payload)` turns handles and refs into objects."""
    if isinstance(data, list):
        return [decode(item, resolve) for item in data]
    if not isinstance(data, dict):
        return data
    tag, payload = data["$"], data["v"]
    if tag == "tuple":
        return tuple(decode(item, resolve) for item in payload)
    if tag == "dict":
        return {decode(k, resolve): decode(v, resolve) for k, v in payload}
    if tag == "set":
        return {decode(item, resolve) for item in payload}
    if tag == "frozenset":
        return frozenset(decode(item, resolve) for item in payload)
    if tag == "bytes":
        return payload.encode("latin-1")
    if tag == "bytearray":
        return bytearray(payload.encode("latin-1"))
    if tag == "complex":
        return complex(float(payload[0]), float(payload[1]))
    if tag == "fraction":
        from fractions import Fraction
        return Fraction(int(payload[0]), int(payload[1]))
    if tag == "decimal":
        from decimal import Decimal
        return Decimal(str(payload))
    if tag in ("handle", "ref"):
        return resolve(tag, data)
    raise ValueError(f"unknown value tag {tag!r}")


# -- the program side (untrusted: it only answers) -----------------------------------------------

def describe_names(namespace: dict) -> dict:
    """What the test may use from the program's globals: callables, modules and data values."""
    names = {}
    for name, value in list(namespace.items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            names[name] = {"module": value.__name__}
        elif callable(value):
            names[name] = {"callable": True, "module": getattr(value, "__module__", None),
                           "qualname": getattr(value, "__qualname__", None)}
        else:
            try:
                names[name] = {"value": encode(value)}
            except (TypeError, ValueError, RecursionError):
                pass
    return names


def serve_program_calls(namespace: dict, requests: int, replies: int) -> None:
    """Answer the test's requests until it closes the link."""
    handles: dict = {}

    def resolve(tag, data):  # the test hands back a program object: by handle, or by global name
        if tag != "ref":
            raise ValueError("the test sent a handle")
        return namespace[data["v"]] if isinstance(data["v"], str) else handles[data["v"]]

    send_message(replies, {"names": describe_names(namespace)})
    while True:
        try:
            request = recv_message(requests)
        except (EOFError, ValueError):
            return
        try:
            reply = _answer(request, namespace, handles, resolve)
            data = _to_json(reply).encode("utf-8", "surrogatepass")
        except BaseException as exc:  # the program's exception (SystemExit included) goes to the test
            try:
                message = str(exc)[:2000]
            except BaseException:
                message = ""
            reply = {"raised": type(exc).__name__, "message": message}
            data = json.dumps(reply).encode("utf-8", "surrogatepass")
        if len(data) > MAX_MESSAGE:
            data = json.dumps({"raised": "ValueError", "message": "the result is too large to send"}).encode()
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(replies, view):]


def _answer(request: dict, namespace: dict, handles: dict, resolve) -> dict:
    ref = request["ref"]
    target = namespace[ref] if isinstance(ref, str) else handles[ref]
    op = request["op"]
    if op == "call":
        args = decode(request["args"], resolve)
        kwargs = decode(request["kwargs"], resolve)
        value = target(*args, **kwargs)
        echoed = [encode(a, handles) if type(a) in _MUTABLE else None for a in args]
        return {"value": encode(value, handles), "args": echoed}
    if op == "getattr":
        return {"value": encode(getattr(target, request["name"]), handles)}
    if op == "iter":
        return {"value": encode(iter(target), handles)}
    if op == "next":
        try:
            return {"value": encode(next(target), handles)}
        except StopIteration:
            return {"stop": True}
    if op == "text":
        text = repr(target) if request["name"] == "repr" else str(target)
        return {"value": str.__str__(text)[:10000]}
    raise ValueError(f"unknown request {op!r}")


# -- the trusted side (runs the test) ------------------------------------------------------------

class _Link:
    """The test's end of the link to the program."""

    def __init__(self, to_program: int, from_program: int):
        self.to_program, self.from_program = to_program, from_program
        self.gone = False

    def request(self, message: dict) -> dict:
        if self.gone:
            raise ProgramGone("the program is no longer running")
        try:
            send_message(self.to_program, message)
            reply = recv_message(self.from_program)
        except (EOFError, OSError, ValueError) as exc:
            self.gone = True
            raise ProgramGone(f"the program exited or broke the link during a call ({exc})") from None
        if "raised" in reply:
            raise _program_exception(str(reply["raised"]), str(reply.get("message", "")))
        return reply

    def value(self, data):
        return decode(data, self._resolve)

    def _resolve(self, tag, data):
        return _Remote(self, data["v"], str(data.get("type", "object")))

    def call(self, ref, args: tuple, kwargs: dict):
        reply = self.request({"op": "call", "ref": ref, "args": encode(list(args)), "kwargs": encode(kwargs)})
        for arg, echoed in zip(args, reply.get("args") or []):
            if echoed is not None and type(arg) in _MUTABLE:  # the program changed an argument in place
                _update_in_place(arg, self.value(echoed))
        return self.value(reply["value"])


def _update_in_place(arg, new) -> None:
    if type(new) is not type(arg):
        return
    if isinstance(arg, (list, bytearray)):
        arg[:] = new
    else:
        arg.clear()
        arg.update(new)


def _program_exception(name: str, message: str) -> BaseException:
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not StopIteration:
        try:
            return cls(message)
        except Exception:
            pass
    return ProgramError(f"{name}: {message}" if message else name)


class _Remote:
    """A program object seen from the test: callable, has attributes, iterable; never equal to
    data and without a truth value, so it cannot stand in for an expected value."""

    __slots__ = ("_link", "_ref", "_type")

    def __init__(self, link: _Link, ref, type_name: str):
        self._link, self._ref, self._type = link, ref, type_name

    def __call__(self, *args, **kwargs):
        return self._link.call(self._ref, args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._link.value(self._link.request({"op": "getattr", "ref": self._ref, "name": name})["value"])

    def __iter__(self):
        iterator = self._link.value(self._link.request({"op": "iter", "ref": self._ref})["value"])
        while True:
            reply = self._link.request({"op": "next", "ref": iterator._ref})
            if reply.get("stop"):
                return
            yield self._link.value(reply["value"])

    def __bool__(self):
        raise TypeError(f"a {self._type} object of the program has no truth value in a test: return plain data")

    def __repr__(self):
        return self._link.request({"op": "text", "ref": self._ref, "name": "repr"})["value"]

    def __str__(self):
        return self._link.request({"op": "text", "ref": self._ref, "name": "str"})["value"]


def _real_object(module: str | None, qualname: str | None):
    """The installed module's own object the program imported (`from math import sqrt`), or None."""
    if not module or not qualname or module.split(".")[0] in ("solution", "__main__") or "<" in qualname:
        return None
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return None
    return found if callable(found) else None


def _import_installed(name: str):
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def bind_program_names(namespace: dict, names: dict, link: _Link, entry_point: str | None) -> None:
    """The program's globals as the test sees them. Builtins are never shadowed (a module-level
    `abs = ...` stays in the program); modules are the installed ones; a function the program
    imported from an installed module is that module's own."""
    for name, info in names.items():
        if not isinstance(info, dict) or not isinstance(name, str):
            continue
        if name != entry_point and hasattr(builtins, name):
            continue
        if "module" in info and "callable" not in info:
            module = _import_installed(str(info["module"]))
        elif name in sys.stdlib_module_names and name != entry_point:
            module = _import_installed(name)
        else:
            module = None
        if module is not None:
            namespace[name] = module
        elif info.get("callable"):
            namespace[name] = _real_object(info.get("module"), info.get("qualname")) or _Remote(link, name, "function")
        elif "value" in info:
            namespace[name] = link.value(info["value"])


def run_trusted_test(script: str | types.CodeType, entry_point: str | None, to_program: int,
                     from_program: int) -> dict:
    """Run the test script (its source, or its code compiled beforehand) against the program;
    `{"passed": bool, "reason": str | None}`."""
    link = _Link(to_program, from_program)
    try:
        hello = recv_message(from_program)
    except (EOFError, OSError, ValueError):
        return {"passed": False, "reason": "the program exited before the tests started"}
    if "failed" in hello:
        return {"passed": False, "reason": f"importing the program failed: {hello['failed']}"}
    namespace = {"__name__": "__test__", "__builtins__": builtins}
    try:
        bind_program_names(namespace, hello.get("names") or {}, link, entry_point)
        exec(script if isinstance(script, types.CodeType) else compile(script, "test.py", "exec"), namespace)
        if entry_point:
            if entry_point not in namespace:
                return {"passed": False, "reason": f"the program does not define {entry_point!r}"}
            check = namespace.get("check")
            if not callable(check):
                return {"passed": False, "reason": "the test script defines no check()"}
            check(namespace[entry_point])
    except ProgramGone as exc:
        return {"passed": False, "reason": str(exc)}
    except AssertionError as exc:
        return {"passed": False, "reason": "assertion failed" + _where(exc)}
    except BaseException as exc:
        try:
            message = str(exc)[:500]
        except BaseException:
            message = ""
        return {"passed": False, "reason": f"{type(exc).__name__}: {message}{_where(exc)}"}
    if link.gone:
        return {"passed": False, "reason": "the program exited during the test"}
    return {"passed": True, "reason": None}


def _where(exc: BaseException) -> str:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "test.py":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (test.py line {line})" if line else ""
