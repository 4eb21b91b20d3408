"""Rust test code run apart from the program, in a trusted test process of its own.

HumanEval-X's Rust records carry a `declaration`: `use` lines, any helper the test needs, and
the signature of the function to write (ending with its opening brace). With it, the program and
the test are two executables, as for C++ (sandbox/cpp_bridge.py):
  * the program's: the program (its `fn main` renamed), then a `main` that answers calls to the
    declared function on a pipe (arguments in, the result out, as bytes of the declared types:
    sandbox/bridge/bridge.rs);
  * the test's: the declaration, the function as a stub that sends its arguments to the program
    and returns what comes back, then the test code. The sandbox's test server builds and runs
    it (see `sandbox/zygote.py`), never where a program can read it; its exit status is the verdict.
So the test's expected values never enter the program's process, and nothing the program
defines (a `macro_rules! assert`, a type whose `PartialEq` always says equal) takes part in a
comparison. A declaration this module cannot read, or types the bridge does not carry, leave
the test code built into the program (sandbox/testcode.py).

The sandbox has rustc and its standard library only: on the test's side, `use` lines of other
crates (HumanEval-X's declarations name `rand`, `regex` and `md5`, which no test uses) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sandbox import native_test
from sandbox.languages import RUSTC_TEST_FLAGS
from sandbox.pch import RUST_BRIDGE_CRATE
from sandbox.testcode import rename_rust_main, rust_plain_tests

BRIDGE = Path(__file__).with_name("bridge").joinpath("bridge.rs").read_text(encoding="utf-8")

_INTEGERS = {"i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize"}
_SCALARS = _INTEGERS | {"f32", "f64", "bool", "char"}
# Generic types the bridge carries: name -> (number of parameters, its path)
_GENERICS = {"Vec": (1, "::std::vec::Vec"), "Option": (1, "::std::option::Option"),
             "HashMap": (2, "::std::collections::HashMap"), "BTreeMap": (2, "::std::collections::BTreeMap"),
             "HashSet": (1, "::std::collections::HashSet"), "BTreeSet": (1, "::std::collections::BTreeSet")}
_PATH_PREFIXES = {"std", "core", "alloc", "collections", "string", "vec", "option", "primitive"}
_TOKEN = re.compile(r"\s*(::|->|'?[A-Za-z_]\w*|\d+|[<>(),\[\]&;:*!=+{}#\"/\\.-])")
_STD_CRATES = {"std", "core", "alloc", "self", "super", "crate"}
_USE = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?use\s+(?:::)?([A-Za-z_]\w*)[^;]*;[ \t]*\n?", re.MULTILINE)
_EXTERN_CRATE = re.compile(r"^[ \t]*extern\s+crate\s+([A-Za-z_]\w*)[^;]*;[ \t]*\n?", re.MULTILINE)
_FN = re.compile(r"\bfn\s+([A-Za-z_]\w*)\s*")
_QUALIFIERS = re.compile(r"(?:\bpub(?:\s*\([^)]*\))?\s+)?$")
_PARAM = re.compile(r"^(?:mut\s+)?([A-Za-z_]\w*)\s*:\s*(.+)$", re.DOTALL)
_TEST_MAIN = re.compile(r"^\s*fn\s+main\s*\(\s*\)", re.MULTILINE)
_ALLOW = ("#![allow(unused_imports, unused_variables, unused_mut, unused_parens, dead_code, deprecated, "
          "non_snake_case, non_camel_case_types, unused_must_use, unreachable_code)]\n")


class _Unsupported(Exception):
    pass


@dataclass(frozen=True)
class RustType:
    kind: str  # scalar, String, str, vec, slice, option, tuple, map, set, ref
    name: str = ""  # the scalar's name; the map's or set's (HashMap ...)
    args: tuple["RustType", ...] = ()

    @property
    def borrows(self) -> bool:
        return self.kind == "ref" or any(arg.borrows for arg in self.args)

    def owned(self) -> str:
        """The type that crosses the pipe for this one: references become what they refer to."""
        if self.kind == "scalar":
            return f"::core::primitive::{self.name}"
        if self.kind in ("String", "str"):
            return "::std::string::String"
        if self.kind in ("vec", "slice"):
            return f"::std::vec::Vec<{self.args[0].owned()}>"
        if self.kind == "ref":
            return self.args[0].owned()
        if self.kind == "tuple":
            return "(" + "".join(f"{arg.owned()}, " for arg in self.args) + ")"
        path = _GENERICS["Option" if self.kind == "option" else self.name][1]
        return f"{path}<{', '.join(arg.owned() for arg in self.args)}>"


@dataclass(frozen=True)
class Signature:
    preamble: str  # the declaration before the signature: `use` lines, helpers
    text: str  # the signature as declared, without the brace
    name: str
    params: tuple[tuple[str, RustType], ...]  # (name, type)
    returns: RustType


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _Unsupported(text[at:])
        tokens.append(match.group(1))
        at = match.end()
    return tokens


class _TypeParser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise _Unsupported(token)
        self.at += 1
        return token

    def whole(self) -> RustType:
        parsed = self.type()
        if self.at != len(self.tokens):
            raise _Unsupported(self.peek())
        return parsed

    def type(self, behind_ref: bool = False) -> RustType:
        token = self.peek()
        if token == "&":
            self.take()
            if behind_ref:
                raise _Unsupported("a reference to a reference")
            target = self.type(behind_ref=True)
            if target.borrows:  # a reference to something that borrows again: not carried
                raise _Unsupported("nested references")
            return RustType("ref", args=(target,))
        if token == "[":
            self.take()
            item = self.type()
            self.take("]")
            if not behind_ref:
                raise _Unsupported("an unsized slice")
            return RustType("slice", args=(item,))
        if token == "(":
            self.take()
            items: list[RustType] = []
            while self.peek() != ")":
                items.append(self.type())
                if self.peek() != ")":
                    self.take(",")
            self.take(")")
            if not 1 <= len(items) <= 8:
                raise _Unsupported("a tuple of this size")
            return RustType("tuple", args=tuple(items))
        return self.path(behind_ref)

    def path(self, behind_ref: bool) -> RustType:
        if self.peek() == "::":
            self.take()
        segments = [self.take()]
        while self.peek() == "::":
            self.take()
            segments.append(self.take())
        *prefix, name = segments
        if any(segment not in _PATH_PREFIXES for segment in prefix) or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise _Unsupported("::".join(segments))
        if name in _SCALARS:
            return RustType("scalar", name)
        if name == "String":
            return RustType("String")
        if name == "str":
            if not behind_ref:
                raise _Unsupported("an unsized str")
            return RustType("str")
        if name not in _GENERICS:
            raise _Unsupported(name)
        count, _ = _GENERICS[name]
        self.take("<")
        args = [self.type()]
        while self.peek() == ",":
            self.take()
            args.append(self.type())
        self.take(">")
        if len(args) != count:
            raise _Unsupported(f"{name} with {len(args)} parameters")
        kind = {"Vec": "vec", "Option": "option"}.get(name, "map" if count == 2 else "set")
        return RustType(kind, name, tuple(args))


def parse_type(text: str) -> RustType | None:
    """The type the bridge carries for a declared parameter or result type, or None."""
    try:
        return _TypeParser(text).whole()
    except _Unsupported:
        return None


def entry_signature(declaration: str) -> Signature | None:
    """The function a declaration ends with (`fn NAME(params) -> RET {`), if the bridge can carry
    its arguments and result: no generics, lifetimes, `impl Trait`, `self` or `&mut`."""
    text = declaration.rstrip()
    if not text.endswith("{"):
        return None
    head = text[:-1]
    found = list(_FN.finditer(head))
    if not found:
        return None
    last = found[-1]
    qualifiers = _QUALIFIERS.search(head, 0, last.start())
    start = qualifiers.start() if qualifiers else last.start()
    preamble, signature = head[:start], head[start:].strip()
    if preamble.count("{") != preamble.count("}") or "//" in signature or "/*" in signature:
        return None  # the function is inside a block, or its signature holds a comment
    rest = head[last.end():]
    if not rest.startswith("("):
        return None  # generics
    depth = 0
    for close, ch in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            break
    else:
        return None
    after = rest[close + 1:].strip()
    if not after.startswith("->") or "where" in after.split():
        return None  # nothing returned (the test could only check that it does not panic), or bounds
    returns = parse_type(after[2:])
    if returns is None:
        return None
    params: list[tuple[str, RustType]] = []
    for part in native_test.split_top_level(rest[1:close]):
        if not part:
            continue
        match = _PARAM.match(part)
        parsed = parse_type(match.group(2)) if match else None
        if match is None or parsed is None or match.group(1) in ("_", "self"):
            return None
        params.append((match.group(1), parsed))
    if len(params) != len([p for p in native_test.split_top_level(rest[1:close]) if p]):
        return None
    return Signature(preamble=preamble, text=signature, name=last.group(1), params=tuple(params), returns=returns)


def _lend(kind: RustType, expr: str, depth: int = 0) -> str:
    """An expression of the declared type `kind` built from `expr`, a reference to a value of
    `kind.owned()` (the program's side: what a borrowing parameter is called with)."""
    item = f"referee_x{depth}"
    if not kind.borrows:
        return f"::std::clone::Clone::clone({expr})"
    if kind.kind == "ref":
        target = kind.args[0]
        if target.kind == "str":
            return f"::std::string::String::as_str({expr})"
        if target.kind == "slice":
            return f"::std::vec::Vec::as_slice({expr})"
        return expr
    if kind.kind == "vec":
        return f"({expr}).iter().map(|{item}| {_lend(kind.args[0], item, depth + 1)}).collect::<::std::vec::Vec<_>>()"
    if kind.kind == "option":
        return f"({expr}).as_ref().map(|{item}| {_lend(kind.args[0], item, depth + 1)})"
    if kind.kind == "tuple":
        return "(" + "".join(f"{_lend(arg, f'&({expr}).{i}', depth + 1)}, " for i, arg in enumerate(kind.args)) + ")"
    path = _GENERICS[kind.name][1]
    if kind.kind == "map":
        key, value = kind.args
        return (f"({expr}).iter().map(|({item}k, {item}v)| ({_lend(key, f'{item}k', depth + 1)}, "
                f"{_lend(value, f'{item}v', depth + 1)})).collect::<{path}<_, _>>()")
    return f"({expr}).iter().map(|{item}| {_lend(kind.args[0], item, depth + 1)}).collect::<{path}<_>>()"


def _leak(kind: RustType, expr: str, depth: int = 0) -> str:
    """An expression of the declared type `kind` (its references `'static`) built from `expr`, a
    value of `kind.owned()` (the test's side: a declared result that borrows)."""
    item = f"referee_x{depth}"
    if not kind.borrows:
        return expr
    if kind.kind == "ref":
        target = kind.args[0]
        if target.kind == "str":
            return f"referee_bridge::leak_str({expr})"
        if target.kind == "slice":
            return f"referee_bridge::leak({expr}).as_slice()"
        return f"referee_bridge::leak({expr})"
    if kind.kind == "vec":
        return f"{expr}.into_iter().map(|{item}| {_leak(kind.args[0], item, depth + 1)}).collect::<::std::vec::Vec<_>>()"
    if kind.kind == "option":
        return f"{expr}.map(|{item}| {_leak(kind.args[0], item, depth + 1)})"
    if kind.kind == "tuple":
        names = [f"{item}_{i}" for i in range(len(kind.args))]
        parts = "".join(f"{_leak(arg, name, depth + 1)}, " for arg, name in zip(kind.args, names))
        return f"{{ let ({''.join(n + ', ' for n in names)}) = {expr}; ({parts}) }}"
    path = _GENERICS[kind.name][1]
    if kind.kind == "map":
        key, value = kind.args
        return (f"{expr}.into_iter().map(|({item}k, {item}v)| ({_leak(key, f'{item}k', depth + 1)}, "
                f"{_leak(value, f'{item}v', depth + 1)})).collect::<{path}<_, _>>()")
    return f"{expr}.into_iter().map(|{item}| {_leak(kind.args[0], item, depth + 1)}).collect::<{path}<_>>()"


def _declared(kind: RustType) -> str:
    """The declared type by full paths, references without lifetimes (for a `let`)."""
    if kind.kind == "ref":
        target = kind.args[0]
        if target.kind == "str":
            return "&::core::primitive::str"
        if target.kind == "slice":
            return f"&[{_declared(target.args[0])}]"
        return f"&{_declared(target)}"
    if kind.kind == "vec":
        return f"::std::vec::Vec<{_declared(kind.args[0])}>"
    if kind.kind == "option":
        return f"::std::option::Option<{_declared(kind.args[0])}>"
    if kind.kind == "tuple":
        return "(" + "".join(f"{_declared(arg)}, " for arg in kind.args) + ")"
    if kind.kind in ("map", "set"):
        return f"{_GENERICS[kind.name][1]}<{', '.join(_declared(arg) for arg in kind.args)}>"
    return kind.owned()


def _bridge(crate: str | None) -> str:
    """The bridge's module: from its compiled crate (sandbox/pch.py) when there is one, else its source."""
    return f"use ::{RUST_BRIDGE_CRATE}::referee_bridge;\n" if crate else BRIDGE


def program_source(program: str, sig: Signature, crate: str | None) -> str:
    """The program (its `main` renamed), then the bridge and a `main` that answers calls to the
    declared function (built with the bridge's `crate` when there is one)."""
    reads = "".join(f"        let referee_a{i}: {kind.owned()} = referee_bridge::Get::get(referee_in);\n"
                    for i, (_, kind) in enumerate(sig.params))
    args = ", ".join(_lend(kind, f"&referee_a{i}") if kind.borrows else f"referee_a{i}"
                     for i, (_, kind) in enumerate(sig.params))
    # A completion that continues the declaration copies its `use rand::Rng;`: without the crate
    # it could not build here, though it does not need it. Those lines (only the declaration's
    # own crates) go; a program that really uses such a crate still fails to build.
    foreign = foreign_crates(sig.preamble)
    program = _drop_uses(program, foreign.__contains__) if foreign else program
    return (f"{rename_rust_main(program)}\n\n{_bridge(crate)}\n"
            "fn main() {\n"
            "    referee_bridge::serve(|referee_in: &mut referee_bridge::Reader, referee_out: &mut ::std::vec::Vec<u8>| {\n"
            f"{reads}"
            f"        let referee_result: {_declared(sig.returns)} = {sig.name}({args});\n"
            "        referee_bridge::Put::put(&referee_result, referee_out);\n"
            "    });\n}\n")


def preamble_for_test(preamble: str) -> str:
    """The declaration's preamble for the test's side: `use` lines of crates other than the
    standard ones dropped (the sandbox has no others)."""
    return _drop_uses(preamble, lambda crate: crate not in _STD_CRATES)


def _drop_uses(text: str, dropped: Callable[[str], bool]) -> str:
    """`text` without its `use` and `extern crate` lines of the crates `dropped` says."""
    kept = _USE.sub(lambda m: "" if dropped(m.group(1)) else m.group(0), text)
    return _EXTERN_CRATE.sub(lambda m: "" if dropped(m.group(1)) and m.group(1) not in _STD_CRATES else m.group(0), kept)


def foreign_crates(preamble: str) -> set[str]:
    """The crates other than the standard ones that a declaration's preamble names (HumanEval-X's
    name `rand`, `regex` and `md5`, which its own harness installs and this sandbox does not)."""
    named = {m.group(1) for m in _USE.finditer(preamble)} | {m.group(1) for m in _EXTERN_CRATE.finditer(preamble)}
    return named - _STD_CRATES


@dataclass(frozen=True)
class TestBuild:
    source: str
    libtest: bool  # built with `--test` (run by libtest) rather than as a plain binary
    crate: str | None  # the bridge's compiled crate it is built with, if any


def test_source(sig: Signature, test_code: str, crate: str | None) -> TestBuild | None:
    """The declaration with the declared function as a stub that calls the program, then the test
    code: a plain binary whose `main` calls each test (HumanEval-X's shape, or test code with a
    `main` of its own), else a libtest one. None for test code with neither tests nor `main`."""
    puts = "".join(f"    referee_bridge::Put::put(&{name}, &mut referee_args);\n" for name, _ in sig.params)
    stub = (f"{sig.text} {{\n    let mut referee_args: ::std::vec::Vec<u8> = ::std::vec::Vec::new();\n{puts}"
            "    let referee_reply = referee_bridge::call(&referee_args);\n"
            f"    let referee_value: {sig.returns.owned()} = referee_bridge::result(referee_reply);\n"
            f"    {_leak(sig.returns, 'referee_value')}\n}}\n\n")
    head = f"{_ALLOW}{preamble_for_test(sig.preamble)}\n{_bridge(crate)}\n{stub}"
    first_line = head.count("\n") + 1  # where the test code starts: its own line numbers in messages
    plain = rust_plain_tests(test_code)
    if plain is not None:
        body, tests = plain
        calls = "".join(f"    {name}();\n" for name in tests)
        main = f"fn main() {{\n    referee_bridge::report_panics({first_line});\n{calls}}}\n"
        return TestBuild(f"{head}{body}\n\n{main}", libtest=False, crate=crate)
    if "#[test]" in test_code:
        return TestBuild(f"{head}{test_code}\n", libtest=True, crate=crate)
    if _TEST_MAIN.search(test_code):
        return TestBuild(f"{head}{test_code}\n", libtest=False, crate=crate)
    return None


def test_frame(build: TestBuild) -> dict:
    """The trusted test process's frame: how the test server builds it (once per sandbox and
    test) and runs it (libtest one test at a time, panics on stderr where the verdict reads them)."""
    command = ["/usr/bin/rustc", *RUSTC_TEST_FLAGS, *(["--test"] if build.libtest else []),
               *(["--extern", f"{RUST_BRIDGE_CRATE}={build.crate}"] if build.crate else []), "-o", "test", "test.rs"]
    run = ["./test", "--test-threads=1", "--nocapture"] if build.libtest else ["./test"]
    return native_test.test_frame({"test.rs": build.source}, command, run)
