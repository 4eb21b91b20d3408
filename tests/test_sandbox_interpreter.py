"""The persistent sandboxed interpreter behind `run_python`: state between cells, and its limits."""

from __future__ import annotations

import threading

import pytest

from sandbox.interpreter import INTERPRETER_LIMITS, PythonInterpreter

FAST = INTERPRETER_LIMITS.model_copy(update={"wall_time_s": 2.0, "cpu_time_s": 4.0, "output_bytes": 4096})


@pytest.fixture
def py():
    with PythonInterpreter(FAST) as interpreter:
        yield interpreter


def test_state_persists_and_a_final_expression_is_shown(py: PythonInterpreter) -> None:
    assert py.run("import math\nr = 2").ok
    assert py.run("def area(): return math.pi * r ** 2").ok
    assert py.run("round(area(), 3)").stdout == "12.566\n"
    assert py.run("None").stdout == ""
    failed = py.run("undefined_name")
    assert failed.error and "NameError" in failed.stderr and failed.stopped is None
    assert "interpreter.py" not in failed.stderr and "repl" not in failed.stderr  # only the user's frames
    assert py.run("r").stdout == "2\n" and py.starts == 1


def test_exit_and_syntax_errors_do_not_end_the_interpreter(py: PythonInterpreter) -> None:
    py.run("kept = 1")
    assert py.run("raise SystemExit(3)").error
    assert py.run("import sys; sys.exit()").error
    assert "SyntaxError" in py.run("def (:").stderr
    assert py.run("kept").stdout == "1\n" and py.starts == 1


def test_the_sandbox_is_isolated(py: PythonInterpreter) -> None:
    out = py.run("import os, socket\nprint(os.getuid(), os.getcwd())\n"
                 "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\nexcept OSError as e:\n"
                 "    print('no network:', e.errno)\n"
                 "print(sorted(os.listdir('/proc'))[:0], len([p for p in os.listdir('/proc') if p.isdigit()]) < 6)\n"
                 "print(os.path.exists('/work/../etc/shadow'))")
    lines = out.stdout.splitlines()
    assert lines[0] == "1000 /work" and lines[1].startswith("no network") and lines[2] == "[] True"
    assert lines[3] == "False"
    assert py.run("open('/usr/bin/evil', 'w')").error  # the system is read-only


def test_a_loop_past_the_wall_clock_stops_the_interpreter_and_the_next_call_starts_fresh(py) -> None:
    py.run("x = 1")
    result = py.run("while True: pass")
    assert result.stopped == "timeout" and "wall-clock limit of 2 s" in result.message
    after = py.run("print('fresh'); x")
    assert after.stdout == "fresh\n" and "NameError" in after.stderr and py.starts == 2


def test_fork_bombs_are_bounded_and_floods_truncated(py: PythonInterpreter) -> None:
    forks = py.run("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                   "            import time; time.sleep(60)\n        n += 1\nexcept OSError:\n    print(n)")
    assert forks.stopped is None and int(forks.stdout) < INTERPRETER_LIMITS.max_processes + 4
    flood = py.run("print('y' * 100_000); z = 5")
    assert flood.truncated and len(flood.stdout) == 4096 and flood.stopped is None
    assert py.run("z").stdout == "5\n"
    endless = py.run("while True: print('spam' * 1000)")
    assert endless.truncated and endless.stopped == "timeout"


def test_memory_and_cpu_limits_end_the_interpreter(py: PythonInterpreter) -> None:
    memory = py.run("block = bytearray(2 * 1024 ** 3)")
    assert memory.stopped == "memory_limit"
    cpu = py.run("import threading\ndef spin():\n    while True: pass\n"
                 "for _ in range(4): threading.Thread(target=spin, daemon=True).start()\nspin()")
    assert cpu.stopped in ("timeout", "cpu_limit")
    assert py.run("print('alive')").stdout == "alive\n"


def test_stop_from_another_thread_ends_a_running_cell() -> None:
    interpreter = PythonInterpreter(FAST)
    interpreter.run("x = 1")
    results = []
    runner = threading.Thread(target=lambda: results.append(interpreter.run("import time; time.sleep(30)")))
    runner.start()
    import time
    time.sleep(0.3)
    interpreter.stop()
    runner.join(10)
    assert not runner.is_alive() and results[0].stopped == "closed"
    assert interpreter.run("x").stopped == "closed" and not interpreter.alive


def test_bad_code_arguments_are_errors_not_crashes(py: PythonInterpreter) -> None:
    assert py.run("x = '" + "a" * (2 << 20) + "'").error
    assert py.run(123).error  # type: ignore[arg-type]
    assert py.run("'\\udcff'").stdout  # a lone surrogate survives the trip
