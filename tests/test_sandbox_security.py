"""Hostile programs: each must be contained, and the sandbox must keep working afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap
import threading

import pytest

from sandbox import ExecStatus, Limits, Sandbox, SandboxError
from sandbox.session import Program

SHORT = Limits(cpu_time_s=2, wall_time_s=3, memory_mb=128, max_processes=32, disk_mb=16, file_size_mb=8,
               output_bytes=64 << 10)


@pytest.fixture(scope="module")
def box():
    os.environ["REFEREE_TEST_SECRET"] = "s3cr3t-in-the-service-env"
    sandbox = Sandbox()
    sandbox.start()
    yield sandbox
    sandbox.close()
    os.environ.pop("REFEREE_TEST_SECRET", None)


@pytest.fixture(autouse=True)
def still_works_afterwards(box):
    yield
    result = box.execute("python", "print(sum(range(10)))")
    assert result.status is ExecStatus.ok and result.stdout == "45\n", result
    assert _leftover(box) == [], "processes of a finished run are still alive"


def _leftover(box: Sandbox) -> list[str]:
    """Processes in the sandbox's cgroup other than the launcher and the warm parent."""
    if box.cgroup is None:
        return []
    names = []
    for pid in box.cgroup.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"bwrap") or argv[:2] == [b"/usr/bin/python3", b"-I"]:
            continue
        names.append(b" ".join(argv).decode(errors="replace"))
    return names


def py(box: Sandbox, source: str, limits: Limits = SHORT, stdin: str = ""):
    return box.execute("python", textwrap.dedent(source), limits=limits, stdin=stdin)


def sh(box: Sandbox, source: str, limits: Limits = SHORT):
    return box.execute("bash", textwrap.dedent(source), limits=limits)


# -- network ----------------------------------------------------------------------------------------

def test_cannot_reach_a_server_on_the_hosts_loopback(box):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    result = py(box, f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1)
            print("connected")
        except OSError as exc:
            print("blocked", exc.errno)
    """)
    thread.join()
    server.close()
    assert result.stdout.startswith("blocked"), result
    assert accepted == []


def test_cannot_reach_outside_addresses_or_resolve_names(box):
    result = py(box, """
        import socket
        for host in ("1.1.1.1", "8.8.8.8"):
            try:
                socket.create_connection((host, 53), timeout=1)
                print("connected", host)
            except OSError:
                print("blocked")
        try:
            socket.getaddrinfo("example.com", 80)
            print("resolved")
        except OSError:
            print("no dns")
    """)
    assert result.stdout.split("\n")[:3] == ["blocked", "blocked", "no dns"], result


# -- file system --------------------------------------------------------------------------------------

def test_cannot_write_outside_the_work_dir(box):
    result = py(box, """
        import os
        for path in ("/usr/evil", "/etc/evil", "/evil", "/prog/evil", "/build/evil", "/proc/evil", "/dev/evil"):
            try:
                with open(path, "w") as fh:
                    fh.write("x")
                print("wrote", path)
            except OSError:
                pass
        for path in ("/work/ok", "/tmp/ok", "/dev/shm/ok"):
            with open(path, "w") as fh:
                fh.write("x")
        print("done", os.getuid())
    """)
    assert result.stdout == "done 1000\n", result


def test_cannot_read_service_files_or_environment(box):
    here = os.path.dirname(os.path.abspath(__file__))
    result = py(box, f"""
        import os
        print(sorted(os.environ))
        for path in ({here!r}, "/root", "/home", "/work/wt", "/etc/shadow", "/proc/1/environ", "/var", "/run"):
            try:
                print(path, os.listdir(path) if os.path.isdir(path) else open(path).read()[:50])
            except OSError as exc:
                print(path, "denied")
    """)
    assert result.status is ExecStatus.ok, result
    assert "s3cr3t" not in result.stdout
    assert "REFEREE" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == str(sorted(["HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "TMPDIR", "USER"]))
    for line in lines[1:]:
        assert line.endswith("denied") or line.endswith("[]") or line.startswith("/proc/1/environ"), line
    assert "test_sandbox_security" not in result.stdout


def test_symlink_and_dotdot_tricks_stay_inside(box):
    result = sh(box, """
        ln -s / /work/root; ln -s ../../../../etc /work/up
        cat /work/root/etc/shadow 2>/dev/null && echo LEAK-shadow
        ls /work/up/ | grep -q shadow && echo LEAK-etc
        ls /work/root/ | tr '\\n' ' '
        ls /work/root/work/wt 2>/dev/null && echo LEAK-worktree
        cd /work/../../..; pwd
        echo x > /work/../usr/x 2>/dev/null && echo LEAK-write
        true
    """)
    assert "LEAK" not in result.stdout, result
    for name in ("work", "proc", "usr"):
        assert name in result.stdout
    for name in ("home", "root ", "var", "srv"):
        assert f" {name} " not in f" {result.stdout} "


def test_file_names_with_dotdot_or_absolute_paths_are_refused(box):
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", ""):
        result = box.execute("python", "print(1)", files={bad: "x"})
        assert result.status is ExecStatus.sandbox_error and "file name" in (result.message or ""), bad


def test_disk_fill_is_contained_and_the_next_run_gets_a_fresh_dir(box):
    result = py(box, """
        import os
        n = 0
        try:
            with open("/work/fill", "wb") as fh:
                while True:
                    fh.write(b"x" * (1 << 20)); fh.flush(); n += 1
        except OSError as exc:
            print("stopped", exc.errno)
    """)
    assert result.status is ExecStatus.ok and result.stdout.startswith("stopped"), result
    after = py(box, "import os; print(os.listdir('/work'), os.listdir('/tmp'))")
    assert after.stdout == "[] []\n", after


# -- processes ---------------------------------------------------------------------------------------

def test_fork_bomb_is_contained(box):
    result = py(box, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """)
    assert result.status in (ExecStatus.timeout, ExecStatus.runtime_error), result


def test_shell_fork_bomb_is_contained(box):
    result = sh(box, ":(){ :|:& };:\nsleep 5")
    assert result.status in (ExecStatus.timeout, ExecStatus.runtime_error, ExecStatus.ok), result
    assert result.wall_ms < 30_000


def test_thread_bomb_is_contained(box):
    result = py(box, """
        import threading, time
        n = 0
        try:
            while True:
                threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
                n += 1
        except RuntimeError:
            print("capped at", n)
    """)
    assert result.status is ExecStatus.ok and result.stdout.startswith("capped at"), result
    assert int(result.stdout.split()[-1]) < SHORT.max_processes


def test_memory_bomb_reports_memory_limit(box):
    result = py(box, """
        chunks = []
        while True:
            chunks.append(bytearray(16 << 20))
    """)
    assert result.status is ExecStatus.memory_limit, result


def test_memory_bomb_in_c_reports_memory_limit(box):
    source = textwrap.dedent("""
        #include <stdlib.h>
        #include <string.h>
        int main(void) { for (;;) { char *p = malloc(16 << 20); if (!p) return 3; memset(p, 1, 16 << 20); } }
    """)
    result = box.execute("c", source, limits=SHORT)
    assert result.status is ExecStatus.memory_limit, result


def test_infinite_loop_hits_the_cpu_limit(box):
    result = py(box, "while True: pass", limits=SHORT.model_copy(update={"cpu_time_s": 1, "wall_time_s": 5}))
    assert result.status is ExecStatus.timeout, result


def test_sleep_forever_hits_the_wall_clock(box):
    result = py(box, "import time; time.sleep(10**6)", limits=SHORT.model_copy(update={"wall_time_s": 1}))
    assert result.status is ExecStatus.timeout, result


def test_closing_its_outputs_does_not_escape_the_wall_clock(box):
    quiet = py(box, "import os, time\nos.close(1); os.close(2)\ntime.sleep(1000)",
               limits=SHORT.model_copy(update={"wall_time_s": 1}))
    assert quiet.status is ExecStatus.timeout, quiet
    daemon = sh(box, "sleep 1000 >/dev/null 2>&1 &\necho parent-done")
    assert daemon.status is ExecStatus.ok and daemon.stdout == "parent-done\n", daemon


def test_kill_everything_only_kills_the_run(box):
    result = sh(box, "sleep 100 & kill -9 -1; echo survived")
    assert result.status in (ExecStatus.ok, ExecStatus.runtime_error), result


def test_signals_to_pid_1_and_the_parent_do_nothing_outside(box):
    result = py(box, """
        import os, signal
        for pid in range(1, 400):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        print("alive")
    """)
    assert result.stdout == "alive\n", result


def test_only_its_own_processes_are_visible_and_ptrace_fails(box):
    result = py(box, f"""
        import ctypes, os
        print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        libc = ctypes.CDLL(None, use_errno=True)
        PTRACE_ATTACH = 16
        for pid in ({os.getpid()}, {box._proc.pid}, 2, 3):
            if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
                print("attached", pid)
        print("done")
    """)
    lines = result.stdout.splitlines()
    assert lines[0] == "[1]", result
    assert lines[1:] == ["done"], result


def test_cannot_create_namespaces_or_mount(box):
    result = sh(box, """
        unshare -Ur true 2>/dev/null && echo LEAK-userns
        unshare -n true 2>/dev/null && echo LEAK-netns
        mount -t tmpfs none /work 2>/dev/null && echo LEAK-mount
        hostname evil 2>/dev/null && echo LEAK-hostname
        echo checked
    """)
    assert result.stdout == "checked\n", result


def test_gigabytes_of_output_are_cut_off(box):
    result = py(box, """
        import sys
        block = "x" * 65536
        while True:
            sys.stdout.write(block)
    """)
    assert result.status is ExecStatus.output_limit, result
    assert len(result.stdout) <= SHORT.output_bytes
    assert result.truncated
    stderr_flood = sh(box, "yes error >&2")
    assert stderr_flood.status is ExecStatus.output_limit


def test_no_process_survives_a_timeout(box):
    marker = "referee-orphan-marker"
    result = sh(box, f"""
        (exec -a {marker} sleep 1000) &
        setsid sleep 1001 &
        nohup sleep 1002 >/dev/null 2>&1 &
        while true; do :; done
    """, limits=SHORT.model_copy(update={"wall_time_s": 1}))
    assert result.status is ExecStatus.timeout, result
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in ps and "sleep 1001" not in ps and "sleep 1002" not in ps


def test_runs_cannot_see_each_others_files_or_processes(box):
    secret = "run-a-secret-7c1f"
    first = sh(box, f"""
        echo {secret} > /work/s; echo {secret} > /tmp/s; echo {secret} > /dev/shm/s
        (exec -a {secret} sleep 1000) &
        echo started
    """)
    assert first.stdout == "started\n", first
    second = py(box, """
        import glob, os
        secret = "run-a-" + "secret-7c1f"  # never spelled out whole, so it is in no command line
        seen = []
        for path in glob.glob("/work/**", recursive=True) + glob.glob("/tmp/**", recursive=True) \\
                + glob.glob("/dev/shm/**", recursive=True) + glob.glob("/proc/[0-9]*/cmdline"):
            try:
                if os.path.isfile(path) and secret.encode() in open(path, "rb").read():
                    seen.append(path)
            except OSError:
                pass
        print(seen, os.listdir("/work"), os.listdir("/tmp"), os.listdir("/dev/shm"))
    """)
    assert second.stdout == "[] [] [] []\n", second


def test_a_program_cannot_tamper_with_its_build_for_later_tests(box):
    source = "import os\ntry:\n    open('/prog/main.py','a').write('print(666)')\nexcept OSError: pass\nprint('ran')"
    with Program(box, "python", source, limits=SHORT) as prog:
        assert [prog.run().stdout for _ in range(2)] == ["ran\n", "ran\n"]


def test_a_crashed_sandbox_is_restarted(box):
    box._teardown()  # as if the warm parent had died
    assert box.execute("python", "print(7)").stdout == "7\n"


def test_unknown_language_is_a_sandbox_error(box):
    result = box.execute("cobol", "DISPLAY 'HI'.")
    assert result.status is ExecStatus.sandbox_error and "unknown language" in result.message


def test_starting_without_a_launcher_binary_raises():
    from sandbox.launcher import BubblewrapLauncher

    with pytest.raises(SandboxError, match="not installed"):
        Sandbox(BubblewrapLauncher(bwrap="/nonexistent/bwrap")).start()


def test_without_cgroups_rlimits_still_contain_bombs():
    from sandbox.languages import LANGUAGES, missing_toolchain

    with Sandbox(use_cgroups=False) as bare:
        assert bare.cgroup is None
        memory = py(bare, "x = []\nwhile True:\n    x.append(bytearray(16 << 20))")
        assert memory.status is ExecStatus.memory_limit, memory
        forks = py(bare, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
        assert forks.status in (ExecStatus.timeout, ExecStatus.runtime_error), forks
        threads = py(bare, "import threading\nts = [threading.Thread(target=sum, args=([1],)) for _ in range(8)]\n"
                           "[t.start() for t in ts]; [t.join() for t in ts]\nprint('ok')")
        assert threads.stdout == "ok\n", threads
        if missing_toolchain(LANGUAGES["java"]) is None:
            java = bare.execute("java", "public class Main { public static void main(String[] a) {"
                                        " System.out.println(6 * 7); } }", limits=SHORT)
            assert java.stdout == "42\n", java


def test_a_fresh_network_namespace_per_run_has_only_its_own_loopback():
    with Sandbox(fresh_network_per_run=True) as fresh:
        result = py(fresh, """
            import socket
            server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
            client = socket.create_connection(server.getsockname(), timeout=1)
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=1)
                print("outside reachable")
            except OSError:
                print("loopback only")
        """)
        assert result.stdout == "loopback only\n", result


def test_root_mapped_fallback_still_isolates():
    """The mode used where unprivileged user namespaces are forbidden."""
    from sandbox.launcher import BubblewrapLauncher

    if os.geteuid() != 0:
        pytest.skip("the fallback exists for a service running as root")
    with Sandbox(BubblewrapLauncher(drop_root=False)) as mapped:
        result = sh(mapped, """
            id -u
            echo x > /usr/evil 2>/dev/null && echo LEAK-usr
            cat /etc/shadow 2>/dev/null && echo LEAK-shadow
            ls /root 2>/dev/null && echo LEAK-root
            unshare -Ur true 2>/dev/null && echo LEAK-userns
            echo done
        """)
        assert result.stdout == "1000\ndone\n", result
        assert mapped.execute("python", "x = bytearray(400 << 20)", limits=SHORT).status is ExecStatus.memory_limit


def test_a_forked_process_starts_its_own_sandbox_and_leaves_the_parents_alone(box):
    assert box.execute("python", "print(1)").stdout == "1\n"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, box.execute("python", "print(2)").stdout.encode())
            box.close()
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100) == b"2\n"
    os.close(read)
    assert box.alive and box.execute("python", "print(3)").stdout == "3\n"


def test_kernel_attack_surface_syscalls_are_denied(box):
    from sandbox.seccomp import filter_program

    if filter_program() is None:
        pytest.skip("no seccomp filter is described for this architecture")
    result = py(box, """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for name, number in (("bpf", 321), ("io_uring_setup", 425), ("perf_event_open", 298), ("keyctl", 250),
                             ("userfaultfd", 323), ("ptrace", 101), ("x32 getpid", 0x40000000 + 39)):
            if libc.syscall(number, 0, 0, 0, 0, 0) != -1 or ctypes.get_errno() != 1:
                print("allowed", name)
        print("pid", libc.syscall(39))
    """)
    assert result.stdout == "pid 1\n", result
