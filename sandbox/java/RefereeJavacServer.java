import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;

/**
 * A javac kept warm: compiles Java sources held in memory into class files held in memory.
 *
 * <p>It runs in a sandbox of its own, started and fed by the service (sandbox/warm_javac.py) over
 * its stdin and stdout only. One request at a time, each with a fresh compiler task and nothing of
 * the previous one: the only state kept between requests is the file manager of the platform's
 * own classes. Nothing is read from or written to the file system but the JDK's classes.
 *
 * <p>Frames (big-endian, as DataInput and DataOutput write them; a blob is an int length and bytes):
 * <pre>
 * ready:   int 0x52454631, once, when the compiler is loaded
 * request: int options, blob per option (UTF-8); int files, per file blob name, blob source (UTF-8)
 * reply:   int status (0 compiled, 1 did not compile, 2 the compiler itself failed: this process
 *          exits after the reply); long CPU nanoseconds of this process during the request;
 *          blob diagnostics (UTF-8, as command-line javac prints them);
 *          int classes, per class blob relative path (p/q/Name$1.class), blob bytes
 * </pre>
 */
public final class RefereeJavacServer {
    private static final int READY = 0x52454631;  // "REF1", written once the compiler is loaded
    private static final int MAX_BLOB = 256 << 20;
    private static final int MAX_COUNT = 1 << 16;

    private RefereeJavacServer() {
    }

    public static void main(String[] args) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        // Only the replies go to stdout: anything else that prints there would break the framing.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager platform = compiler.getStandardFileManager(null, null, StandardCharsets.UTF_8);
        // No user class path (it would default to this server's own), no source path: a program
        // sees the platform's classes and its own sources only.
        platform.setLocation(StandardLocation.CLASS_PATH, List.of());
        platform.setLocation(StandardLocation.SOURCE_PATH, List.of());
        platform.setLocation(StandardLocation.ANNOTATION_PROCESSOR_PATH, List.of());
        out.writeInt(READY);
        out.flush();
        while (true) {
            List<String> options = new ArrayList<>();
            List<JavaFileObject> sources = new ArrayList<>();
            try {
                int count = readCount(in);
                for (int i = 0; i < count; i++) {
                    options.add(new String(readBlob(in), StandardCharsets.UTF_8));
                }
                count = readCount(in);
                for (int i = 0; i < count; i++) {
                    String name = new String(readBlob(in), StandardCharsets.UTF_8);
                    sources.add(new Source(name, new String(readBlob(in), StandardCharsets.UTF_8)));
                }
            } catch (EOFException closed) {
                return;
            }
            compile(compiler, platform, options, sources, out);
        }
    }

    private static void compile(JavaCompiler compiler, StandardJavaFileManager platform, List<String> options,
                                List<JavaFileObject> sources, DataOutputStream out) throws IOException {
        long cpuBefore = cpuNanos();
        StringWriter diagnostics = new StringWriter();
        Outputs outputs = new Outputs(platform);
        int status;
        boolean fatal = false;
        try {
            // No diagnostic listener: javac then prints to `diagnostics` what it prints on the command line.
            status = compiler.getTask(diagnostics, outputs, null, options, null, sources).call() ? 0 : 1;
        } catch (RuntimeException | Error failure) {
            diagnostics.write("error: the compiler failed: " + failure + "\n");
            status = 2;
            fatal = true;
        }
        out.writeInt(status);
        out.writeLong(Math.max(0, cpuNanos() - cpuBefore));
        writeBlob(out, diagnostics.toString().getBytes(StandardCharsets.UTF_8));
        Map<String, ByteArrayOutputStream> classes = status == 0 ? outputs.classes : Map.of();
        out.writeInt(classes.size());
        for (Map.Entry<String, ByteArrayOutputStream> entry : classes.entrySet()) {
            writeBlob(out, entry.getKey().getBytes(StandardCharsets.UTF_8));
            writeBlob(out, entry.getValue().toByteArray());
        }
        out.flush();
        if (fatal) {
            System.exit(3);  // its state is unknown now: the next compile gets a fresh process
        }
    }

    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    private static int readCount(DataInputStream in) throws IOException {
        int count = in.readInt();
        if (count < 0 || count > MAX_COUNT) {
            throw new IOException("bad count " + count);
        }
        return count;
    }

    private static byte[] readBlob(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > MAX_BLOB) {
            throw new IOException("bad length " + length);
        }
        byte[] data = new byte[length];
        in.readFully(data);
        return data;
    }

    private static void writeBlob(DataOutputStream out, byte[] data) throws IOException {
        out.writeInt(data.length);
        out.write(data);
    }

    /** A source held in memory, named as on javac's command line (diagnostics say `Main.java:3:`). */
    private static final class Source extends SimpleJavaFileObject {
        private final String name;
        private final String text;

        Source(String name, String text) {
            super(URI.create("string:///" + name.replace(" ", "%20")), Kind.SOURCE);
            this.name = name;
            this.text = text;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return text;
        }
    }

    /** A class file written into memory. */
    private static final class ClassOutput extends SimpleJavaFileObject {
        private final ByteArrayOutputStream bytes;

        ClassOutput(String path, ByteArrayOutputStream bytes) {
            super(URI.create("mem:///" + path), Kind.CLASS);
            this.bytes = bytes;
        }

        @Override
        public OutputStream openOutputStream() {
            bytes.reset();
            return bytes;
        }
    }

    /** The platform's classes from the shared file manager; every output into memory, nothing onto disk. */
    private static final class Outputs extends ForwardingJavaFileManager<JavaFileManager> {
        final Map<String, ByteArrayOutputStream> classes = new LinkedHashMap<>();

        Outputs(JavaFileManager platform) {
            super(platform);
        }

        @Override
        public JavaFileObject getJavaFileForOutput(Location location, String className, JavaFileObject.Kind kind,
                                                   FileObject sibling) throws IOException {
            if (kind != JavaFileObject.Kind.CLASS) {
                throw new IOException("only class files are written");
            }
            String path = className.replace('.', '/') + ".class";
            return new ClassOutput(path, classes.computeIfAbsent(path, key -> new ByteArrayOutputStream()));
        }

        @Override
        public FileObject getFileForOutput(Location location, String packageName, String relativeName,
                                           FileObject sibling) throws IOException {
            throw new IOException("only class files are written");
        }

        @Override
        public boolean isSameFile(FileObject a, FileObject b) {
            return a == b || a.toUri().equals(b.toUri());
        }

        @Override
        public String inferBinaryName(Location location, JavaFileObject file) {
            if (file instanceof Source || file instanceof ClassOutput) {
                return null;
            }
            return super.inferBinaryName(location, file);
        }

        @Override
        public void close() {
            // the platform's file manager is shared by every request: never closed here
        }
    }
}
