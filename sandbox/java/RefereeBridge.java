/**
 * The trusted test's side of the Java bridge (see sandbox/java_bridge.py): appended, as a class of
 * its own, after the declaration and the test code, where the stub of the declared method sends
 * its arguments to the program and returns what comes back ({@link #call}). Values cross as bytes
 * of the declared types and are rebuilt here as JDK types (ArrayList, LinkedHashMap, String,
 * Integer...), so no class of the program's ever reaches the test. The program's side, generated
 * per declaration by sandbox/java_bridge.py, reads and writes the same format.
 *
 * <p>Types travel as descriptors generated from the declared type text: the primitives
 * ({@code int}), their boxes ({@code Integer}), {@code String}, {@code list(T)}, {@code set(T)},
 * {@code map(K,V)}, {@code optional(T)} and {@code array(T)}. A frame is an int length and that many
 * bytes (big-endian, as DataOutput writes them). A primitive is its bytes (floats and doubles as
 * their exact bits); any other value a byte 0 (null) or 1, then: a box its primitive, a String its
 * UTF-16 length and chars, a list, set or array its count and elements, a map its count and keys
 * and values, an Optional a byte (present) and the value. A call is its arguments; a reply is a
 * byte 0 and the result, or a byte 1 and what the program threw (UTF-8).
 *
 * <p>Every name outside this class is written in full: the test code may define classes of its own.
 */
final class RefereeBridge {
    private static final int MAX_FRAME = 64 << 20;
    private static final int TO_PROGRAM = 3, FROM_PROGRAM = 4;
    private static final java.util.Map<java.lang.String, Type[]> PARSED = new java.util.HashMap<>();
    private static java.io.InputStream fromProgram;
    private static java.io.OutputStream toProgram;

    private RefereeBridge() {
    }

    /** A type descriptor, parsed. */
    static final class Type {
        final java.lang.String kind;
        final Type[] args;

        Type(java.lang.String kind, Type[] args) {
            this.kind = kind;
            this.args = args;
        }
    }

    /** The test's side: call the program's method with these arguments; its result as JDK types. */
    static synchronized java.lang.Object call(java.lang.String paramTypes, java.lang.String returnType,
                                              java.lang.Object[] args) {
        Type[] params = types(paramTypes);
        Type result = types(returnType)[0];
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream data = new java.io.DataOutputStream(bytes);
        try {
            for (int i = 0; i < params.length; i++) {
                put(data, params[i], args[i]);
            }
            data.flush();
        } catch (java.io.IOException impossible) {
            throw new java.io.UncheckedIOException(impossible);
        }
        byte[] reply = null;
        try {
            if (toProgram == null) {
                toProgram = new java.io.FileOutputStream("/proc/self/fd/" + TO_PROGRAM);
                fromProgram = new java.io.FileInputStream("/proc/self/fd/" + FROM_PROGRAM);
            }
            if (writeFrame(toProgram, bytes.toByteArray())) {
                reply = readFrame(fromProgram);
            }
        } catch (java.io.IOException broken) {
            reply = null;
        }
        if (reply == null || reply.length == 0) {
            gone("the program exited during the tests");
        }
        if (reply[0] != 0) {
            int n = java.lang.Math.min(reply.length - 1, 400);
            throw new java.lang.RuntimeException("the program threw: "
                    + new java.lang.String(reply, 1, n, java.nio.charset.StandardCharsets.UTF_8));
        }
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(reply);
        buffer.position(1);
        try {
            return get(buffer, result);
        } catch (java.nio.BufferUnderflowException | java.lang.IllegalArgumentException bad) {
            gone("a value ended early");
            return null;
        }
    }

    private static void gone(java.lang.String why) {  // the test's stderr carries the reason to its verdict
        java.lang.System.err.println("referee: " + why);
        java.lang.System.err.flush();
        java.lang.System.exit(86);
    }

    // -- frames ------------------------------------------------------------------------------

    private static byte[] readFrame(java.io.InputStream in) throws java.io.IOException {
        byte[] head = new byte[4];
        if (!readFully(in, head)) {
            return null;
        }
        int n = java.nio.ByteBuffer.wrap(head).getInt();
        if (n < 0 || n > MAX_FRAME) {
            return null;
        }
        byte[] body = new byte[n];
        return readFully(in, body) ? body : null;
    }

    // A plain read loop: FileInputStream's readNBytes seeks, and a pipe cannot.
    private static boolean readFully(java.io.InputStream in, byte[] buffer) throws java.io.IOException {
        for (int got = 0; got < buffer.length; ) {
            int n = in.read(buffer, got, buffer.length - got);
            if (n < 0) {
                return false;
            }
            got += n;
        }
        return true;
    }

    private static boolean writeFrame(java.io.OutputStream out, byte[] body) throws java.io.IOException {
        if (body.length > MAX_FRAME) {
            return false;
        }
        byte[] frame = java.nio.ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
        try {
            out.write(frame);
            out.flush();
            return true;
        } catch (java.io.IOException closed) {
            return false;
        }
    }

    // -- descriptors ---------------------------------------------------------------------------

    private static synchronized Type[] types(java.lang.String text) {
        Type[] parsed = PARSED.get(text);
        if (parsed == null) {
            java.util.List<Type> list = new java.util.ArrayList<>();
            int[] at = {0};
            while (at[0] < text.length()) {
                list.add(parse(text, at));
                if (at[0] < text.length() && text.charAt(at[0]) == ',') {
                    at[0]++;
                }
            }
            parsed = list.toArray(new Type[0]);
            PARSED.put(text, parsed);
        }
        return parsed;
    }

    private static Type parse(java.lang.String text, int[] at) {
        int start = at[0];
        while (at[0] < text.length() && java.lang.Character.isLetter(text.charAt(at[0]))) {
            at[0]++;
        }
        java.lang.String kind = text.substring(start, at[0]);
        java.util.List<Type> args = new java.util.ArrayList<>();
        if (at[0] < text.length() && text.charAt(at[0]) == '(') {
            at[0]++;
            args.add(parse(text, at));
            while (text.charAt(at[0]) == ',') {
                at[0]++;
                args.add(parse(text, at));
            }
            at[0]++;  // ')'
        }
        return new Type(kind, args.toArray(new Type[0]));
    }

    // -- values --------------------------------------------------------------------------------

    private static void put(java.io.DataOutputStream out, Type type, java.lang.Object value) throws java.io.IOException {
        switch (type.kind) {
            case "boolean": out.writeBoolean((java.lang.Boolean) value); return;
            case "byte": out.writeByte((java.lang.Byte) value); return;
            case "short": out.writeShort((java.lang.Short) value); return;
            case "char": out.writeChar((java.lang.Character) value); return;
            case "int": out.writeInt((java.lang.Integer) value); return;
            case "long": out.writeLong((java.lang.Long) value); return;
            case "float": out.writeInt(java.lang.Float.floatToRawIntBits((java.lang.Float) value)); return;
            case "double": out.writeLong(java.lang.Double.doubleToRawLongBits((java.lang.Double) value)); return;
            default: break;
        }
        if (value == null) {
            out.writeByte(0);
            return;
        }
        out.writeByte(1);
        switch (type.kind) {
            case "Boolean": case "Byte": case "Short": case "Character": case "Integer": case "Long": case "Float":
            case "Double":
                put(out, new Type(primitive(type.kind), type.args), value);
                return;
            case "String": {
                java.lang.String text = (java.lang.String) value;
                out.writeInt(text.length());
                out.writeChars(text);
                return;
            }
            case "list": case "set": {
                java.util.List<java.lang.Object> items = new java.util.ArrayList<>();
                for (java.lang.Object item : (java.util.Collection<?>) value) {
                    items.add(item);
                }
                out.writeInt(items.size());
                for (java.lang.Object item : items) {
                    put(out, type.args[0], item);
                }
                return;
            }
            case "map": {
                java.util.List<java.util.Map.Entry<?, ?>> entries = new java.util.ArrayList<>();
                for (java.util.Map.Entry<?, ?> entry : ((java.util.Map<?, ?>) value).entrySet()) {
                    entries.add(entry);
                }
                out.writeInt(entries.size());
                for (java.util.Map.Entry<?, ?> entry : entries) {
                    put(out, type.args[0], entry.getKey());
                    put(out, type.args[1], entry.getValue());
                }
                return;
            }
            case "optional": {
                java.util.Optional<?> optional = (java.util.Optional<?>) value;
                out.writeBoolean(optional.isPresent());
                if (optional.isPresent()) {
                    put(out, type.args[0], optional.get());
                }
                return;
            }
            case "array": {
                int n = java.lang.reflect.Array.getLength(value);
                out.writeInt(n);
                for (int i = 0; i < n; i++) {
                    put(out, type.args[0], java.lang.reflect.Array.get(value, i));
                }
                return;
            }
            default:
                throw new java.lang.IllegalArgumentException("no bridge for " + type.kind);
        }
    }

    private static java.lang.Object get(java.nio.ByteBuffer in, Type type) {
        switch (type.kind) {
            case "boolean": return in.get() != 0;
            case "byte": return in.get();
            case "short": return in.getShort();
            case "char": return in.getChar();
            case "int": return in.getInt();
            case "long": return in.getLong();
            case "float": return java.lang.Float.intBitsToFloat(in.getInt());
            case "double": return java.lang.Double.longBitsToDouble(in.getLong());
            default: break;
        }
        if (in.get() == 0) {
            return null;
        }
        switch (type.kind) {
            case "Boolean": case "Byte": case "Short": case "Character": case "Integer": case "Long": case "Float":
            case "Double":
                return get(in, new Type(primitive(type.kind), type.args));
            case "String": {
                char[] chars = new char[count(in, 2)];
                for (int i = 0; i < chars.length; i++) {
                    chars[i] = in.getChar();
                }
                return new java.lang.String(chars);
            }
            case "list": {
                int n = count(in, 1);
                java.util.ArrayList<java.lang.Object> list = new java.util.ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(get(in, type.args[0]));
                }
                return list;
            }
            case "set": {
                int n = count(in, 1);
                java.util.LinkedHashSet<java.lang.Object> set = new java.util.LinkedHashSet<>();
                for (int i = 0; i < n; i++) {
                    set.add(get(in, type.args[0]));
                }
                return set;
            }
            case "map": {
                int n = count(in, 2);
                java.util.LinkedHashMap<java.lang.Object, java.lang.Object> map = new java.util.LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    java.lang.Object key = get(in, type.args[0]);
                    map.put(key, get(in, type.args[1]));
                }
                return map;
            }
            case "optional":
                return in.get() != 0 ? java.util.Optional.ofNullable(get(in, type.args[0])) : java.util.Optional.empty();
            case "array": {
                Type item = type.args[0];
                int n = count(in, size(item));
                java.lang.Object array = java.lang.reflect.Array.newInstance(javaClass(item), n);
                for (int i = 0; i < n; i++) {
                    java.lang.reflect.Array.set(array, i, get(in, item));
                }
                return array;
            }
            default:
                throw new java.lang.IllegalArgumentException("no bridge for " + type.kind);
        }
    }

    /** A count of items of at least `itemBytes` each, never more than the bytes left hold. */
    private static int count(java.nio.ByteBuffer in, int itemBytes) {
        int n = in.getInt();
        if (n < 0 || n > in.remaining() / itemBytes) {
            throw new java.lang.IllegalArgumentException("a count longer than the value");
        }
        return n;
    }

    private static java.lang.String primitive(java.lang.String box) {
        switch (box) {
            case "Integer": return "int";
            case "Character": return "char";
            default: return box.toLowerCase(java.util.Locale.ROOT);
        }
    }

    private static int size(Type type) {
        switch (type.kind) {
            case "short": case "char": return 2;
            case "int": case "float": return 4;
            case "long": case "double": return 8;
            default: return 1;  // a byte, a boolean, or the null mark of any other value
        }
    }

    private static java.lang.Class<?> javaClass(Type type) {
        switch (type.kind) {
            case "boolean": return boolean.class;
            case "byte": return byte.class;
            case "short": return short.class;
            case "char": return char.class;
            case "int": return int.class;
            case "long": return long.class;
            case "float": return float.class;
            case "double": return double.class;
            case "Boolean": return java.lang.Boolean.class;
            case "Byte": return java.lang.Byte.class;
            case "Short": return java.lang.Short.class;
            case "Character": return java.lang.Character.class;
            case "Integer": return java.lang.Integer.class;
            case "Long": return java.lang.Long.class;
            case "Float": return java.lang.Float.class;
            case "Double": return java.lang.Double.class;
            case "String": return java.lang.String.class;
            case "list": return java.util.List.class;
            case "set": return java.util.Set.class;
            case "map": return java.util.Map.class;
            case "optional": return java.util.Optional.class;
            case "array": return java.lang.reflect.Array.newInstance(javaClass(type.args[0]), 0).getClass();
            default: throw new java.lang.IllegalArgumentException("no bridge for " + type.kind);
        }
    }
}
