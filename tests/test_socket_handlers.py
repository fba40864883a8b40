"""Every app made in a process gets the socket handlers, not only the first one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import sys
    from helpdesk import create_app
    from helpdesk.extensions import socketio

    for n in range(2):
        create_app({"DATABASE_URL": f"sqlite:///{sys.argv[1]}/{n}.sqlite", "SECRET_KEY": "x",
                    "INSTANCE_PATH": sys.argv[1]})
        print(sorted(socketio.server.handlers))
""")


def test_a_second_app_in_the_same_process_has_the_widget_and_console_handlers(tmp_path: Path) -> None:
    script = tmp_path / "apps.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=tmp_path, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first == second == "['/console', '/widget']"
