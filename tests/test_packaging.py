"""The wheel (what `pip install .` and the container image install) carries every file the
packages read at run time: a source the sandbox builds or runs that is missing there breaks the
service at import, in the image only."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("verifiers", "sandbox", "server", "envs")


def test_the_wheel_holds_every_file_of_the_packages(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    files = [name for name in tracked.stdout.splitlines() if (ROOT / name).is_file()]
    wanted = {name for name in files if name.split("/", 1)[0] in PACKAGES}
    source = tmp_path / "src"  # the tracked files only: a build directory left in the checkout would hide a gap
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("referee-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    assert sorted(wanted - shipped) == []
