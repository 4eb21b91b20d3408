"""C++ test code run apart from the program, in a trusted test process of its own.

HumanEval-X records carry a `declaration`: the includes, any helper the test needs, and the
signature of the function to write (ending with its opening brace). With it, the program and
the test are two executables:
  * the program's: the program, then a `main` that answers calls to that function on a pipe
    (arguments in, the result out, as bytes of the declared types: sandbox/bridge/bridge.hpp);
  * the test's: the declaration, the function as a stub that sends its arguments to the program
    and returns what comes back, then the test code. It is built and run by the sandbox's test
    server (see `sandbox/zygote.py`), never where a program can read it, and its exit status
    is the verdict.
So the test's expected values never enter the program's process, and nothing the program
defines (an `operator==`, a macro, a type) takes part in a comparison. A declaration this module
cannot read, or types the bridge does not carry, leave the test code built into the program
(sandbox/testcode.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sandbox import native_test, pch
from sandbox.languages import CXX_FLAGS

_BRIDGE_DIR = Path(__file__).with_name("bridge")
BRIDGE = (_BRIDGE_DIR / "bridge.hpp").read_text(encoding="utf-8")
# Without the runtime object (see `sandbox.pch.bridge_object`), its source goes into the build.
_RUNTIME_INLINE = (_BRIDGE_DIR / "bridge_runtime.cpp").read_text(encoding="utf-8").replace('#include "bridge.hpp"\n', "")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_SIGNATURE = re.compile(r"^(?P<ret>.*?[\w>&\s])\b(?P<name>[A-Za-z_]\w*)\s*\((?P<params>.*)\)\s*$", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]\w*")
# The types the bridge carries: arithmetic types, strings and the standard containers of them.
_TYPE_WORDS = {"bool", "char", "signed", "unsigned", "short", "int", "long", "float", "double", "size_t",
               "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
               "string", "vector", "map", "set", "unordered_map", "unordered_set", "pair",
               "std", "const"}


@dataclass(frozen=True)
class Signature:
    preamble: str  # the declaration before the signature: includes, helpers
    text: str  # the signature as declared, without the brace
    return_type: str
    name: str
    params: tuple[tuple[str, str], ...]  # (type, name)


def _carried(type_text: str) -> bool:
    return ("*" not in type_text and "[" not in type_text and "(" not in type_text
            and all(word in _TYPE_WORDS for word in _WORD.findall(type_text)) and bool(_WORD.search(type_text)))


def entry_signature(declaration: str) -> Signature | None:
    """The function a declaration ends with, if the bridge can carry its arguments and result."""
    text = declaration.rstrip()
    if not text.endswith("{"):
        return None
    head = text[:-1]
    cut = max(head.rfind("}"), head.rfind(";"), head.rfind("\n#"))
    if cut >= 0 and head[cut] == "\n":  # a preprocessor line: the signature starts after it
        cut = head.find("\n", cut + 1)
        if cut < 0:
            return None
    preamble, signature = head[:cut + 1], head[cut + 1:]
    match = _SIGNATURE.match(_COMMENT.sub(" ", signature).strip())
    if match is None or "template" in signature or "operator" in signature:
        return None
    return_type = match.group("ret").strip()
    if return_type in ("", "void") or not _carried(return_type) or "static" in return_type:
        return None
    params: list[tuple[str, str]] = []
    raw = match.group("params").strip()
    for part in ([] if raw in ("", "void") else native_test.split_top_level(raw)):
        part = part.split("=", 1)[0].strip()
        named = re.match(r"^(?P<type>.*?[\w>&\s])\b(?P<name>[A-Za-z_]\w*)$", part, re.DOTALL)
        if named is None or not _carried(named.group("type")) or named.group("name") in _TYPE_WORDS:
            return None
        params.append((named.group("type").strip(), named.group("name")))
    return Signature(preamble=preamble, text=signature.strip(), return_type=return_type,
                     name=match.group("name"), params=tuple(params))


def _decayed(type_text: str) -> str:
    return f"std::decay_t<{type_text}>"


def _bridge(runtime_object: str | None) -> str:
    return BRIDGE if runtime_object else f"{BRIDGE}\n{_RUNTIME_INLINE}"


def program_source(program: str, sig: Signature, runtime_object: str | None) -> str:
    """The program, then the bridge and a `main` that answers calls to the entry function (built
    with `runtime_object` when there is one)."""
    reads = "".join(f"        auto referee_a{i} = referee_bridge::get<{_decayed(t)}>(referee_in);\n"
                    for i, (t, _) in enumerate(sig.params))
    args = ", ".join(f"referee_a{i}" for i in range(len(sig.params)))
    # A `main` of the program's own (completions often add one that runs an example) is renamed:
    # the bridge's `main` answers the calls. The definition goes after the leading includes, so
    # the program's precompiled header still applies.
    program = pch.after_leading_block(program, "#define main referee_program_main\n")
    return (f"{program}\n\n{_bridge(runtime_object)}\n"
            "#undef main\n"
            "int main() {\n    using namespace std;\n"
            "    return referee_bridge::serve([](referee_bridge::Buffer &referee_in, referee_bridge::Buffer &referee_out) {\n"
            f"{reads}"
            f"        {_decayed(sig.return_type)} referee_result = {sig.name}({args});\n"
            "        referee_bridge::put(referee_out, referee_result);\n"
            "    });\n}\n")


def test_source(sig: Signature, test_code: str, runtime_object: str | None) -> str:
    """The declaration with the entry function as a stub that calls the program, then the test."""
    puts = "".join(f"    referee_bridge::put(referee_args, static_cast<{_decayed(t)}>({name}));\n"
                   for t, name in sig.params)
    return (f"{sig.preamble}\n{_bridge(runtime_object)}\n"
            f"{sig.text} {{\n    referee_bridge::Buffer referee_args, referee_reply;\n{puts}"
            "    referee_bridge::call(referee_args, referee_reply);\n"
            f"    return referee_bridge::get<{_decayed(sig.return_type)}>(referee_reply);\n}}\n\n"
            f'#line 1 "test"\n{test_code}\n')  # the test's own line numbers in its messages


def test_frame(source: str, extra_flags: list[str], runtime_object: str | None) -> dict:
    """The trusted test process's frame for `test_source(...)`: how the test server builds it (once
    per sandbox and test) and runs it."""
    build = ["/usr/bin/g++", *extra_flags, *CXX_FLAGS, "-o", "test", "test.cpp", *([runtime_object] if runtime_object else [])]
    return native_test.test_frame({"test.cpp": source}, build, ["./test"])
