"""Java test code run apart from the program, in a trusted test process of its own.

HumanEval-X Java records carry a `declaration`: the imports and `class Solution {` with any helper
the test needs, ending with the signature of the method to write (and its opening brace). With it,
the program and the test are two JVMs:
  * the program's: the program, then a public class whose `main` answers calls to that method
    on a pipe (arguments in, the result out, as bytes of the declared types, in the format of
    sandbox/java/RefereeBridge.java, with readers and writers generated for those types only).
    It is compiled like any Java program;
  * the test's: the declaration with the method as a stub that sends its arguments to the program
    and returns what comes back (rebuilt as JDK types: ArrayList, LinkedHashMap, String...), then
    the test code. Being the reference's, it is compiled by the service's warm javac (cached per
    test) and its class files sent to the sandbox's test server, which runs it where no program
    can read it (see `sandbox/zygote.py`); its exit status is the verdict. Without the warm
    javac, the test server builds it with javac in the sandbox instead.
So the test's expected values never enter the program's process, and no class of the program's
(an `Arrays` of its own, a List whose `equals` is always true) takes part in a comparison. A
declaration this module cannot read, or types the bridge does not carry, leave the test code
built into the program (sandbox/testcode.py).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox import native_test, pch
from sandbox.languages import JAVAC_JVM_FLAGS, LANGUAGES
from sandbox.testcode import java_main_class, java_parts

if TYPE_CHECKING:
    from sandbox.session import Sandbox

RUNTIME = (Path(__file__).with_name("java") / "RefereeBridge.java").read_text(encoding="utf-8")  # the test's side
SERVER_CLASS = "RefereeProgramServer"
TEST_FILE = "RefereeTest.java"
JAVA = "/usr/bin/java"
# The test's JVM: its threads on top of the run's (GC, compiler, reference handler, ...).
TEST_TASKS = 40

_PRIMITIVES = {"boolean", "byte", "short", "char", "int", "long", "float", "double"}
_BOXES = {"Boolean", "Byte", "Short", "Character", "Integer", "Long", "Float", "Double"}
_GENERIC = {"List": "list", "ArrayList": "list", "Set": "set", "HashSet": "set", "Map": "map", "HashMap": "map",
            "Optional": "optional"}
_GENERIC_ARITY = {"list": 1, "set": 1, "map": 2, "optional": 1}
_QUALIFIED = {"list": "java.util.List", "set": "java.util.Set", "map": "java.util.Map", "optional": "java.util.Optional"}
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)|(?P<punct>\[\s*\]|[<>,]))")
# Comments, string and char literals: blanked (same length) before braces are counted.
_NOT_CODE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL)
_SOLUTION = re.compile(r"\bclass\s+Solution\b[^{;]*\{")
_SIGNATURE = re.compile(r"^(?P<mods>(?:(?:public|protected|static|final)\s+)*)(?P<ret>[^()]+?)\s*\b(?P<name>[A-Za-z_$][\w$]*)"
                        r"\s*\((?P<params>[^()]*)\)$", re.DOTALL)
_PARAM = re.compile(r"^(?:final\s+)?(?P<type>.+?)\s*\b(?P<name>[A-Za-z_$][\w$]*)$", re.DOTALL)
_KEYWORDS = {"abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const", "continue",
             "default", "do", "double", "else", "enum", "extends", "final", "finally", "float", "for", "goto", "if",
             "implements", "import", "instanceof", "int", "interface", "long", "native", "new", "package", "private",
             "protected", "public", "return", "short", "static", "strictfp", "super", "switch", "synchronized",
             "this", "throw", "throws", "transient", "try", "void", "volatile", "while", "var"}


@dataclass(frozen=True)
class JavaType:
    """A type the bridge carries: `kind` is a primitive, a box, `String`, or list/set/map/optional/array."""
    kind: str
    args: tuple[JavaType, ...] = ()

    @property
    def descriptor(self) -> str:
        """As RefereeBridge.java reads it: `list(Integer)`, `map(String,array(double))`."""
        inner = ",".join(arg.descriptor for arg in self.args)
        return f"{self.kind}({inner})" if self.args else self.kind

    @property
    def java(self) -> str:
        """The type written in full (the program may define classes named like the JDK's)."""
        if self.kind in _PRIMITIVES:
            return self.kind
        if self.kind in _BOXES or self.kind == "String":
            return f"java.lang.{self.kind}"
        if self.kind == "array":
            return f"{self.args[0].java}[]"
        return f"{_QUALIFIED[self.kind]}<{', '.join(arg.java for arg in self.args)}>"

    @property
    def boxed(self) -> str:
        """What a value of this type is as an Object."""
        if self.kind in _PRIMITIVES:
            return "java.lang." + {"int": "Integer", "char": "Character"}.get(self.kind, self.kind.capitalize())
        return self.java


@dataclass(frozen=True)
class Signature:
    preamble: str  # the declaration before the signature: imports, `class Solution {`, helpers
    text: str  # the signature as declared, without the brace
    name: str
    static: bool
    return_type: JavaType
    params: tuple[tuple[JavaType, str], ...]  # (type, name)


def parse_type(text: str) -> JavaType | None:
    """The bridge's type for Java type text (`List<Map<String, Integer>>`, `int[]`), or None."""
    tokens: list[str] = []
    at = 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            return None
        tokens.append(re.sub(r"\s+", "", match.group(0)))
        at = match.end()
    position = [0]

    def take() -> str | None:
        if position[0] >= len(tokens):
            return None
        position[0] += 1
        return tokens[position[0] - 1]

    def peek() -> str | None:
        return tokens[position[0]] if position[0] < len(tokens) else None

    def one(depth: int) -> JavaType | None:
        name = take()
        if name is None or depth > 16:
            return None
        name = name.removeprefix("java.util.").removeprefix("java.lang.")
        if name in _PRIMITIVES or name in _BOXES or name == "String":
            if depth and name in _PRIMITIVES and peek() != "[]":  # List<int>: not Java
                return None
            result = JavaType(name)
        elif name in _GENERIC:
            kind = _GENERIC[name]
            if take() != "<":
                return None
            args = []
            while True:
                arg = one(depth + 1)
                if arg is None:
                    return None
                args.append(arg)
                separator = take()
                if separator == ">":
                    break
                if separator != ",":
                    return None
            if len(args) != _GENERIC_ARITY[kind]:
                return None
            result = JavaType(kind, tuple(args))
        else:
            return None
        while peek() == "[]":
            take()
            result = JavaType("array", (result,))
        return result

    parsed = one(0)
    return parsed if parsed is not None and position[0] == len(tokens) else None


def entry_signature(declaration: str) -> Signature | None:
    """The method a declaration ends with, inside `class Solution`, if the bridge carries its
    arguments and result."""
    text = declaration.rstrip()
    if not text.endswith("{"):
        return None
    code = _NOT_CODE.sub(lambda m: " " * len(m.group(0)), text)
    solution = _SOLUTION.search(code)
    if solution is None:
        return None
    depth = 0  # the signature must be a member of Solution, after its helpers
    for ch in code[solution.end():-1]:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return None
    if depth != 0:
        return None
    head = code[:-1]
    cut = max(head.rfind("}"), head.rfind(";"), head.rfind("{"))
    signature = head[cut + 1:]
    match = _SIGNATURE.match(signature.strip())
    if match is None or "@" in signature or "..." in signature or "throws" in signature:
        return None
    if match.group("name") in _KEYWORDS or match.group("ret").strip() == "void":
        return None
    return_type = parse_type(match.group("ret"))
    if return_type is None:
        return None
    params: list[tuple[JavaType, str]] = []
    raw = match.group("params").strip()
    for part in ([] if not raw else native_test.split_top_level(raw)):
        named = _PARAM.match(part)
        if named is None or named.group("name") in _KEYWORDS:
            return None
        param_type = parse_type(named.group("type"))
        if param_type is None:
            return None
        params.append((param_type, named.group("name")))
    if len({name for _, name in params}) != len(params):
        return None
    return Signature(preamble=text[:cut + 1], text=text[cut + 1:-1].strip(), name=match.group("name"),
                     static="static" in match.group("mods").split(), return_type=return_type, params=tuple(params))


def _descriptors(types: list[JavaType]) -> str:
    return ",".join(t.descriptor for t in types)


class _ProgramCodec:
    """Straight-line readers and writers of the declared types for the program's side, in the wire
    format of RefereeBridge.java: a few lines to compile with each program instead of the whole
    generic runtime (which doubled a small program's compile in the warm javac)."""

    def __init__(self) -> None:
        self.methods: dict[str, str] = {}  # "read:list(Integer)" -> the method's source
        self.names: dict[str, str] = {}  # the same key -> the method's name

    def _method(self, prefix: str, t: JavaType, body: str, signature: str) -> str:
        key = f"{prefix}:{t.descriptor}"
        if key not in self.names:
            name = self.names[key] = f"referee_{prefix}{len(self.names)}"
            self.methods[key] = (f"    @SuppressWarnings(\"unchecked\")\n    static {signature.replace('NAME', name)}"
                                 f" throws java.io.IOException {{\n{body}    }}\n")
        return self.names[key]

    def read(self, t: JavaType) -> str:
        """A Java expression reading a value of `t` from `in` (a DataInputStream)."""
        simple = {"boolean": "in.readBoolean()", "byte": "in.readByte()", "short": "in.readShort()",
                  "char": "in.readChar()", "int": "in.readInt()", "long": "in.readLong()",
                  "float": "java.lang.Float.intBitsToFloat(in.readInt())",
                  "double": "java.lang.Double.longBitsToDouble(in.readLong())"}
        if t.kind in simple:
            return simple[t.kind]
        body = "        if (in.readByte() == 0) return null;\n"
        if t.kind in _BOXES:
            body += f"        return {self.read(JavaType(_primitive(t.kind)))};\n"
        elif t.kind == "String":
            body += ("        char[] v = new char[in.readInt()];\n        for (int i = 0; i < v.length; i++) v[i] = in.readChar();\n"
                     "        return new java.lang.String(v);\n")
        elif t.kind in ("list", "set"):
            made = "java.util.ArrayList" if t.kind == "list" else "java.util.LinkedHashSet"
            body += (f"        int n = in.readInt();\n        {made}<{t.args[0].java}> v = new {made}<>();\n"
                     f"        for (int i = 0; i < n; i++) v.add({self.read(t.args[0])});\n        return v;\n")
        elif t.kind == "map":
            key, value = t.args
            body += (f"        int n = in.readInt();\n        java.util.LinkedHashMap<{key.java}, {value.java}> v = new java.util.LinkedHashMap<>();\n"
                     f"        for (int i = 0; i < n; i++) {{ {key.java} k = {self.read(key)}; v.put(k, {self.read(value)}); }}\n"
                     "        return v;\n")
        elif t.kind == "optional":
            body += f"        return in.readBoolean() ? java.util.Optional.ofNullable({self.read(t.args[0])}) : java.util.Optional.empty();\n"
        else:  # array
            item = t.args[0]
            base, dims = item, 1
            while base.kind == "array":
                base, dims = base.args[0], dims + 1
            erased = base.java.split("<", 1)[0]
            body += (f"        int n = in.readInt();\n        {t.java} v = ({t.java}) new {erased}[n]{'[]' * (dims - 1)};\n"
                     f"        for (int i = 0; i < n; i++) v[i] = {self.read(item)};\n        return v;\n")
        return self._method("read", t, body, f"{t.java} NAME(java.io.DataInputStream in)") + "(in)"

    def write(self, t: JavaType, value: str) -> str:
        """A Java statement writing `value` (of `t`) to `out` (a DataOutputStream)."""
        simple = {"boolean": "out.writeBoolean({})", "byte": "out.writeByte({})", "short": "out.writeShort({})",
                  "char": "out.writeChar({})", "int": "out.writeInt({})", "long": "out.writeLong({})",
                  "float": "out.writeInt(java.lang.Float.floatToRawIntBits({}))",
                  "double": "out.writeLong(java.lang.Double.doubleToRawLongBits({}))"}
        if t.kind in simple:
            return simple[t.kind].format(value) + ";"
        body = "        if (v == null) { out.writeByte(0); return; }\n        out.writeByte(1);\n"
        if t.kind in _BOXES:
            body += f"        {self.write(JavaType(_primitive(t.kind)), 'v')}\n"
        elif t.kind == "String":
            body += "        out.writeInt(v.length());\n        out.writeChars(v);\n"
        elif t.kind in ("list", "set"):
            item = t.args[0]
            body += (f"        java.util.ArrayList<{item.java}> items = new java.util.ArrayList<>();\n"
                     f"        for ({item.java} x : v) items.add(x);\n        out.writeInt(items.size());\n"
                     f"        for ({item.java} x : items) {self.write(item, 'x')}\n")
        elif t.kind == "map":
            key, value_type = t.args
            entry = f"java.util.Map.Entry<{key.java}, {value_type.java}>"
            body += (f"        java.util.ArrayList<{entry}> items = new java.util.ArrayList<>();\n"
                     f"        for ({entry} x : v.entrySet()) items.add(x);\n        out.writeInt(items.size());\n"
                     f"        for ({entry} x : items) {{ {self.write(key, 'x.getKey()')} {self.write(value_type, 'x.getValue()')} }}\n")
        elif t.kind == "optional":
            body += f"        out.writeBoolean(v.isPresent());\n        if (v.isPresent()) {self.write(t.args[0], 'v.get()')}\n"
        else:  # array
            item = t.args[0]
            body += f"        out.writeInt(v.length);\n        for ({item.java} x : v) {self.write(item, 'x')}\n"
        return self._method("write", t, body, f"void NAME(java.io.DataOutputStream out, {t.java} v)") + f"(out, {value});"


def _primitive(box: str) -> str:
    return {"Integer": "int", "Character": "char"}.get(box, box.lower())


_PROGRAM_SERVER = """public class SERVER {
    @SuppressWarnings("unchecked")
    public static void main(java.lang.String[] referee_args) throws java.lang.Throwable {
        java.io.DataInputStream calls = new java.io.DataInputStream(new java.io.BufferedInputStream(
            new java.io.FileInputStream("/proc/self/fd/3")));
        java.io.OutputStream results = new java.io.FileOutputStream("/proc/self/fd/5");
        for (;;) {
            int size;
            try {
                size = calls.readInt();
            } catch (java.io.EOFException over) {
                break;  // the test is over
            }
            byte[] frame = new byte[size];
            calls.readFully(frame);
            java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(frame));
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
            try {
CALL            } catch (java.lang.Throwable thrown) {
                bytes.reset();
                bytes.write(1);
                java.lang.String what;
                try {
                    what = java.lang.String.valueOf(thrown);
                } catch (java.lang.Throwable again) {
                    what = thrown.getClass().getName();
                }
                byte[] text = what.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                bytes.write(text, 0, java.lang.Math.min(text.length, 4000));
            }
            byte[] reply = bytes.toByteArray();
            try {
                results.write(java.nio.ByteBuffer.allocate(4 + reply.length).putInt(reply.length).put(reply).array());
                results.flush();
            } catch (java.io.IOException over) {
                break;  // the test is over (it decided without this reply)
            }
        }
        java.lang.System.exit(0);
    }

METHODS}
"""


def program_source(program: str, sig: Signature) -> str:
    """The program, then a public class whose `main` answers calls to the declared method."""
    imports, body = java_parts(program)
    codec = _ProgramCodec()
    call = "".join(f"                {t.java} referee_a{i} = {codec.read(t)};\n" for i, (t, _) in enumerate(sig.params))
    target = "Solution" if sig.static else "new Solution()"
    args = ", ".join(f"referee_a{i}" for i in range(len(sig.params)))
    call += (f"                {sig.return_type.java} referee_result = {target}.{sig.name}({args});\n"
             "                out.writeByte(0);\n"
             f"                {codec.write(sig.return_type, 'referee_result')}\n")
    server = (_PROGRAM_SERVER.replace("SERVER", SERVER_CLASS).replace("CALL", call)
              .replace("METHODS", "\n".join(codec.methods.values())))
    return "\n".join(imports) + "\n\n" + server + "\n" + body + "\n"


def test_source(sig: Signature, test_code: str) -> str:
    """The declaration with the declared method as a stub that calls the program, then the test
    code and the bridge: one file, no public class."""
    declaration_imports, declaration_body = java_parts(sig.preamble)
    test_imports, test_body = java_parts(test_code)
    args = ", ".join(name for _, name in sig.params)
    stub = (f"    @SuppressWarnings(\"unchecked\")\n    {sig.text} {{\n"
            f"        return ({sig.return_type.boxed}) RefereeBridge.call(\"{_descriptors([t for t, _ in sig.params])}\", "
            f"\"{sig.return_type.descriptor}\", new java.lang.Object[] {{{args}}});\n    }}\n}}\n")
    imports = list(dict.fromkeys(declaration_imports + test_imports))
    return "\n".join(imports) + "\n\n" + declaration_body + stub + "\n" + test_body + "\n\n" + RUNTIME


_compiled: OrderedDict[str, dict[str, bytes]] = OrderedDict()  # test key -> its class files
_compiled_lock = threading.Lock()
_COMPILED_KEPT = 256


def test_frame(source: str, test_code: str, box: Sandbox, memory_mb: int, timeout_s: float) -> dict:
    """The trusted test process's frame for `test_source(...)`: its class files (from the warm javac,
    compiled once per test and process) and how the test server runs it; or, where the warm
    javac cannot compile it, how the test server builds it with javac in the sandbox."""
    java = LANGUAGES["java"]
    jvm_flags = java.run[1:java.run.index("-cp")]
    run = [JAVA, *(flag.format(memory_mb=memory_mb) for flag in jvm_flags), "-cp", ".", java_main_class(test_code)]
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    with _compiled_lock:
        classes = _compiled.get(key)
        if classes is not None:
            _compiled.move_to_end(key)
    if classes is None:
        try:
            encoded = source.encode("utf-8")
        except UnicodeEncodeError:
            encoded = None
        with box.lock:  # one request at a time to the sandbox's warm javac
            compiled = box.warm_javac.compile({TEST_FILE: encoded}, timeout_s) if encoded is not None else None
        if compiled is not None and compiled.ok and compiled.classes:
            classes = compiled.classes
            with _compiled_lock:
                _compiled[key] = classes
                while len(_compiled) > _COMPILED_KEPT:
                    _compiled.popitem(last=False)
    if classes is not None:
        return native_test.test_frame(classes, None, run, TEST_TASKS)
    # javac in the sandbox decides, and says why a test that does not compile does not build
    build = ["/usr/bin/javac", *JAVAC_JVM_FLAGS, *pch.javac_flags(box.pch_bound), "-encoding", "UTF-8",
             "-proc:none", "-d", ".", TEST_FILE]
    return native_test.test_frame({TEST_FILE: source}, build, run, TEST_TASKS)
