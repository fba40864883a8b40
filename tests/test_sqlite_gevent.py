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


HOLDER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES ('other process')")
    print("holding", flush=True)
    time.sleep(2.0)  # e.g. the worker process in a long write
    conn.execute("COMMIT")
""")

CROSS_PROCESS = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import subprocess, sys, time
    import gevent
    from helpdesk.db import make_engine

    engine = make_engine(f"sqlite:///{sys.argv[1]}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (who TEXT)")
    holder = subprocess.Popen([sys.executable, sys.argv[2], sys.argv[1]], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"

    gaps, waited, done = [], [], []

    def ticker():
        last = time.monotonic()
        while not done:
            gevent.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    def writer():
        start = time.monotonic()
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ('gevent')")
        waited.append(time.monotonic() - start)
        done.append(True)

    gevent.joinall([gevent.spawn(ticker), gevent.spawn(writer)], raise_error=True)
    holder.wait()
    with engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("SELECT who FROM t")]
    print(rows, round(waited[0], 2), round(max(gaps), 3))
""")


def test_waiting_for_another_process_s_write_lock_keeps_the_greenlets_running(tmp_path: Path) -> None:
    (tmp_path / "holder.py").write_text(HOLDER)
    (tmp_path / "cross.py").write_text(CROSS_PROCESS)
    result = subprocess.run([sys.executable, str(tmp_path / "cross.py"), str(tmp_path / "db.sqlite"),
                             str(tmp_path / "holder.py")], cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows, waited, worst_gap = result.stdout.strip().rsplit(" ", 2)
    assert rows == "['other process', 'gevent']"
    assert 1.0 < float(waited) < 10  # it waited for the other process's commit, then wrote
    assert float(worst_gap) < 0.3  # while it waited, the other greenlets kept running


BUSY = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import subprocess, sys, time
    from helpdesk.db import DatabaseBusy, make_engine

    engine = make_engine(f"sqlite:///{sys.argv[1]}", busy_seconds=0.5)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (who TEXT)")
    holder = subprocess.Popen([sys.executable, sys.argv[2], sys.argv[1]], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    start = time.monotonic()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ('gevent')")
    except DatabaseBusy:
        print("busy", round(time.monotonic() - start, 2))
    holder.wait()
    with engine.connect() as conn:
        print([r[0] for r in conn.exec_driver_sql("SELECT who FROM t")])
""")


def test_past_the_deadline_the_writer_gets_database_busy_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "holder.py").write_text(HOLDER)
    (tmp_path / "busy.py").write_text(BUSY)
    result = subprocess.run([sys.executable, str(tmp_path / "busy.py"), str(tmp_path / "db.sqlite"),
                             str(tmp_path / "holder.py")], cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first.startswith("busy ") and 0.4 < float(first.split()[1]) < 1.5
    assert second == "['other process']"


def test_a_worker_leaves_a_gap_between_its_writes_for_the_web_process(tmp_path: Path) -> None:
    # A job writing a CRM import in many short transactions took the lock again the moment it let
    # it go; the web process, polling every few ms, kept finding it taken (chat messages waited
    # 50-86 ms, bench/stall.py). With a gap another process's waiting writer gets in between.
    import time

    from sqlalchemy import text

    from helpdesk.db import Database

    url = f"sqlite:///{tmp_path / 'gap.sqlite'}"
    worker, eager = Database(url, write_gap=0.05), Database(url)
    try:
        with worker.unit_of_work() as s:
            s.execute(text("CREATE TABLE t (x INTEGER)"))
        elapsed = {}
        for name, db in (("eager", eager), ("worker", worker)):
            started = time.monotonic()
            for _ in range(3):
                with db.unit_of_work() as s:
                    s.execute(text("INSERT INTO t VALUES (1)"))
            elapsed[name] = time.monotonic() - started
        assert elapsed["worker"] >= 0.1, elapsed  # two gaps of 50 ms: before its 2nd and 3rd writes
        assert elapsed["eager"] < elapsed["worker"] - 0.05, elapsed  # the web process never waits for one
        with eager.unit_of_work() as s:
            assert s.scalar(text("SELECT count(*) FROM t")) == 6
    finally:
        worker.dispose()
        eager.dispose()
