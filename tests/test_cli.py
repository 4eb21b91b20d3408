"""The `referee` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REFEREE = str(Path(sys.executable).parent / "referee")

ITEMS = [
    {"id": 1, "verifier": "exact", "completion": "Paris", "reference": "paris"},
    {"id": 2, "verifier": "numeric", "completion": "about 41", "reference": "42"},
    {"id": 3, "verifier": "nope", "completion": "x"},
    {"id": 4, "verifier": "exact", "completion": 123},
]


def _write_items(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in ITEMS) + "\n")
    return path


def _check_output(out: Path, stderr: str) -> None:
    verdicts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [v["id"] for v in verdicts[:3]] == [1, 2, 3]
    assert [v["status"] for v in verdicts] == ["ok", "ok", "invalid_input", "invalid_input"]
    assert [v["reward"] for v in verdicts] == [1.0, 0.0, 0.0, 0.0]
    assert "4 items" in stderr and "mean reward 0.2500" in stderr and "invalid_input=2" in stderr


def test_verify_file_locally(tmp_path):
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([REFEREE, "verify", str(_write_items(tmp_path)), "-o", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _check_output(out, proc.stderr)


def test_verify_file_against_server(tmp_path, server):
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([REFEREE, "verify", str(_write_items(tmp_path)), "-o", str(out), "--url", server],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _check_output(out, proc.stderr)


def test_bad_jsonl_line_is_reported(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"verifier": "exact", "completion": "a"}\n{oops\n')
    proc = subprocess.run([REFEREE, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "bad.jsonl:2" in proc.stderr


def test_list_verifiers(server):
    local = subprocess.run([REFEREE, "verifiers"], capture_output=True, text=True, timeout=60)
    assert local.returncode == 0 and "exact@1" in local.stdout and "composite@1" in local.stdout
    remote = subprocess.run([REFEREE, "verifiers", "--url", server, "--json"], capture_output=True, text=True,
                            timeout=60)
    specs = {v["spec"] for v in json.loads(remote.stdout)}
    assert "demo:word_count@1" in specs


def test_serve_refuses_public_bind_without_keys():
    proc = subprocess.run([REFEREE, "serve", "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "without API keys" in proc.stderr
