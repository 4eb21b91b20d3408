"""A new user's first start: `make serve` installs the system packages (or says what to install),
and `referee serve` says which languages can run and why the others cannot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandbox.languages import LANGUAGES
from tests.conftest import ENV_PLUGIN_DIR, free_port

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "ensure-system-packages"


def path_without_bubblewrap(tmp_path: Path) -> str:
    """A PATH holding only what the install script itself uses: no bwrap, no setpriv on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id"):
        (bin_dir / tool).symlink_to(subprocess.check_output(["bash", "-c", f"command -v {tool}"], text=True).strip())
    return str(bin_dir)


def test_as_root_the_install_step_installs_what_is_missing(tmp_path):
    if os.geteuid() != 0:
        return
    path = path_without_bubblewrap(tmp_path)
    done = subprocess.run([f"{path}/bash", str(SCRIPT)], env={"PATH": path, "REFEREE_SYSTEM_PACKAGES_DRY_RUN": "1"},
                          capture_output=True, text=True, check=True)
    assert "would run: apt-get update -qq" in done.stdout
    install = re.search(r"would run: apt-get install .*", done.stdout).group(0)
    assert "bubblewrap" in install.split() and "util-linux" in install.split()


def test_without_root_it_says_exactly_what_to_install():
    with tempfile.TemporaryDirectory() as tmp:  # readable by the unprivileged user, unlike tmp_path
        os.chmod(tmp, 0o755)
        shutil.copytree(ROOT / "scripts", Path(tmp) / "scripts")
        path = path_without_bubblewrap(Path(tmp))
        argv = [f"{path}/bash", f"{tmp}/scripts/ensure-system-packages"]
        if os.geteuid() == 0:
            argv = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        done = subprocess.run(argv, env={"PATH": path}, capture_output=True, text=True)
    assert done.returncode == 0  # the service still starts; code items say what is missing
    assert "missing system packages: bubblewrap util-linux" in done.stderr
    command = re.search(r"sudo apt-get install .*", done.stderr).group(0)
    assert {"bubblewrap", "util-linux"} <= set(command.split())


def test_the_package_list_covers_every_language():
    listed = {line.split()[0] for line in (ROOT / "scripts" / "system-packages.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    for lang in LANGUAGES.values():
        assert set(lang.packages) - {"bash"} <= listed, lang.name


def test_serve_logs_the_usable_languages_and_the_endpoint_agrees(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = os.environ | {"PYTHONPATH": str(ENV_PLUGIN_DIR)}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)
        report = httpx.get(f"{url}/v1/sandbox/languages", timeout=30).json()
    finally:
        proc.terminate()
        proc.wait(10)
    text = log.read_text()
    assert report["sandbox"]["available"], report
    usable = [lang["name"] for lang in report["languages"] if lang["available"]]
    assert f"sandbox: usable languages: {', '.join(usable)}" in text, text
    for lang in report["languages"]:
        if not lang["available"]:
            assert "apt-get install" in lang["reason"] and lang["reason"] in text
