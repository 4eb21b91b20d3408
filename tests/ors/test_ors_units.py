"""The tricky cores of the ORS endpoint: SSE chunking, split seed ranges, task-file validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.ors.catalog import Catalog, TaskFileEnvironment, TaskSpecError
from server.ors.config import ConfigError, SplitSpec, load_config, seed_ranges
from server.ors.sse import chunks, event, result_events
from verifiers.registry import default_registry


@pytest.mark.parametrize("text", ["", "x", "a" * 4096, "a" * 4097, "ab " * 5000, "a" * 4095 + " " * 10 + "b"])
def test_chunks_rejoin_exactly_and_do_not_start_with_whitespace(text: str) -> None:
    pieces = chunks(text)
    assert "".join(pieces) == text and all(len(p) <= 4096 for p in pieces)
    assert all(not p[:1].isspace() for p in pieces)


def test_chunks_of_long_whitespace_runs_stay_linear() -> None:
    text = '{"t": "' + " " * 100_000 + 'x"}'
    pieces = chunks(text)
    assert "".join(pieces) == text and len(pieces) == 25


def test_result_events_end_with_end_and_frame_multiline_data() -> None:
    frames = result_events("z" * 9000)
    assert [f.split(b"\n", 1)[0] for f in frames] == [b"event: chunk", b"event: chunk", b"event: end"]
    assert event("end", "a\nb") == b"event: end\ndata: a\ndata: b\n\n"


def test_splits_are_disjoint_seed_ranges() -> None:
    ranges = seed_ranges({"train": SplitSpec(size=100), "test": SplitSpec(size=10)})
    assert ranges == {"train": (0, 100), "test": (10**12, 10)}
    with pytest.raises(ConfigError, match="overlap"):
        seed_ranges({"train": SplitSpec(size=100), "test": SplitSpec(size=10, seed_start=50)})


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[env.sudoku]\nmax_atempts = 3\n")
    with pytest.raises(ConfigError, match="max_atempts"):
        load_config(bad)
    bad.write_text("[env.no_such_env]\nmax_attempts = 3\n")
    with pytest.raises(ConfigError, match="no_such_env"):
        Catalog.build(load_config(bad), default_registry())
    bad.write_text('[env.sudoku]\nsplits = { train = { size = 5, difficulty = { size = 99 } } }\n')
    with pytest.raises(ConfigError, match="difficulty"):
        Catalog.build(load_config(bad), default_registry())
    with pytest.raises(ConfigError, match="NAME=PATH"):
        load_config(None, "just-a-path.jsonl")


@pytest.mark.parametrize("row, message", [
    ("not json", "line 1: not JSON"),
    (json.dumps({"prompt": "p", "verifier": "no-such-verifier", "reference": "1"}), "line 1"),
    (json.dumps({"prompt": "", "verifier": "math", "reference": "1"}), "prompt"),
    (json.dumps({"prompt": "p", "verifier": "math", "reference": None}), "bad reference"),
    (json.dumps({"prompt": "p", "verifier": "math", "reference": "1", "answer": "1"}), "unknown field"),
])
def test_task_file_rows_are_validated_at_start(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(row + "\n")
    with pytest.raises(ConfigError, match=message):
        TaskFileEnvironment("t", path, _options(path), default_registry())


def test_task_specs_from_clients_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"prompt": "p", "verifier": "math", "reference": "1"}) + "\n")
    env = TaskFileEnvironment("t", path, _options(path), default_registry())
    assert env.check_task({"row": 0}) == {"row": 0}
    for bad in ({"row": 1}, {"row": True}, {"row": "0"}, {"row": 0, "x": 1}, [], None):
        with pytest.raises(TaskSpecError):
            env.check_task(bad)


def _options(path: Path):
    from server.ors.config import TaskFileOptions
    return TaskFileOptions(path=path)


def test_serve_refuses_a_bad_task_file_with_its_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"prompt": "p", "verifier": "math", "reference": "1"}) + "\n{oops\n")
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "1", "--task-file", f"t={path}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "task file 't' line 2: not JSON" in done.stderr
