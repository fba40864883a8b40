"""A real wheel carries the templates, static files and migrations, and runs from site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from tests.conftest import BACKEND, ROOT
from tests.servers import free_port, port_open, wait_until

# The wheel is built from this checkout (setuptools writes build/ in the tree) and runs on SQLite:
# once, in the SQLite pass, so the two passes scripts/test runs side by side never build together.
pytestmark = pytest.mark.skipif(BACKEND == "postgresql", reason="the wheel is built and tried in the SQLite pass")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300)
    return next(out.glob("helpdesk-*.whl"))


def test_wheel_contains_templates_static_files_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ["helpdesk/templates/base.html", "helpdesk/templates/console/queue.html",
                     "helpdesk/static/console.css", "helpdesk/migrations/env.py",
                     "helpdesk/migrations/script.py.mako", "helpdesk/migrations/versions/0001_foundation_schema.py",
                     "helpdesk/accounts/common_passwords.txt", "helpdesk/translations/de/LC_MESSAGES/messages.mo",
                     "helpdesk/translations/pl/LC_MESSAGES/messages.mo", "helpdesk/static/widget/locales/pl.json"]:
        assert expected in names, expected
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "helpdesk = helpdesk.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_migrates_and_serves_pages(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(target), "HELPDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    proc = subprocess.Popen([sys.executable, "-m", "helpdesk", "run", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), timeout=30, message="the installed app to listen")
        base = f"http://127.0.0.1:{port}"
        assert "Log in" in requests.get(f"{base}/login", timeout=10).text
        assert requests.get(f"{base}/static/console.css", timeout=10).status_code == 200
        assert (tmp_path / "instance" / "helpdesk.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
