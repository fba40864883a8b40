"""Under gevent, a transaction waiting for SQLite's write lock must yield, not freeze the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import sys, time
    import gevent
    from helpdesk.db import make_engine

    engine = make_engine(f"sqlite:///{sys.argv[1]}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (who TEXT)")

    def slow_writer():
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ('slow')")
            gevent.sleep(0.5)  # e.g. a Redis emit or an SMTP call while the transaction is open

    def quick_writer(out):
        gevent.sleep(0.1)
        start = time.monotonic()
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ('quick')")
        out.append(time.monotonic() - start)

    waited = []
    gevent.joinall([gevent.spawn(slow_writer), gevent.spawn(quick_writer, waited)], raise_error=True)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("SELECT who FROM t")]
    print(rows, round(waited[0], 2))
""")


def test_a_waiting_writer_yields_to_the_greenlet_holding_the_lock(tmp_path: Path) -> None:
    script = tmp_path / "writers.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "db.sqlite")], cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows, waited = result.stdout.rsplit("]", 1)
    assert rows + "]" == "['slow', 'quick']"
    assert float(waited) < 5  # it waited for the slow writer (~0.4 s), not for SQLite's 30 s busy timeout
