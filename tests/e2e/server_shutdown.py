#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`loki serve` end to end: graceful shutdown with requests in flight, and an audit database
that is unavailable or locked never failing a validation.
usage: server_shutdown.py LOKI_BINARY TMPDIR"""
import json
import os
import signal
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_lib import Server, metric, parse_prometheus, run, binary_and_tmp  # noqa

HERE = os.path.dirname(os.path.abspath(__file__))
FCA_DOC = open(os.path.join(HERE, "..", "golden", "domains", "fca_uk", "violating.txt")).read()


def setup():
    binary, tmp = binary_and_tmp()
    return {"binary": binary, "tmp": tmp}


def teardown(ctx):
    pass


def wait_for(pred, timeout=10, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_graceful_shutdown_in_flight(ctx):
    s = Server(ctx["binary"], ctx["tmp"], name="drain",
               args=["--max-body-bytes", "32m", "--threads", "4", "--shutdown-timeout", "60"])
    s.start()
    big = FCA_DOC * (1500000 // len(FCA_DOC))  # ~1.5 MB: a check takes a while
    results = []
    bodies = [json.dumps({"text": "doc %d\n%s" % (i, big)}).encode() for i in range(3)]
    conns = []
    # Each client sends its headers and all but the last bytes of its body, so the three
    # requests are in flight together however the machine schedules them; the tails go out
    # together just before SIGTERM (the CI machine once finished one check before the third
    # client had started).
    for body in bodies:
        c = s.conn(120)
        c.putrequest("POST", "/api/validate")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        c.send(body[:-16])
        conns.append(c)

    def client(c, body):
        try:
            r = c.getresponse()
            data = r.read()
            results.append((r.status, json.loads(data)))
        except Exception as e:  # noqa: BLE001
            results.append((None, repr(e)))

    idle = s.conn()  # an idle keep-alive connection must not hold shutdown up
    idle.request("GET", "/api/health")
    idle.getresponse().read()
    wait_for(lambda: s.json("GET", "/api/stats")[0]["in_flight"] >= 4, what="3 in flight")
    for c, body in zip(conns, bodies):
        c.send(body[-16:])
    threads = [threading.Thread(target=client, args=cb) for cb in zip(conns, bodies)]
    for t in threads:
        t.start()
    t_sig = time.time()
    s.proc.send_signal(signal.SIGTERM)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
            return False
        except OSError:
            return True
    wait_for(refused, 5, "listening socket closed")
    for t in threads:
        t.join(120)
    rc = s.stop(timeout=120)
    assert rc == 0, rc
    assert len(results) == 3 and all(st == 200 for st, _ in results), results
    assert all(d["document_bytes"] > 1000000 for _, d in results)
    text = s.stderr()
    assert "draining" in text and "stopped" in text, text
    idle.close()
    # Every validation that finished was audited, including those that ended after SIGTERM.
    db = sqlite3.connect(s.audit_db)
    n = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    db.close()
    assert n == 3, n
    print("     drained 3 requests in %.2fs after SIGTERM" % (time.time() - t_sig))


def test_sigint_idle(ctx):
    s = Server(ctx["binary"], ctx["tmp"], name="sigint")
    s.start()
    s.json("GET", "/api/health")
    assert s.stop(signal.SIGINT, timeout=20) == 0


def test_audit_unavailable(ctx):
    s = Server(ctx["binary"], ctx["tmp"], name="noaudit",
               args=["--audit-db", os.path.join(ctx["tmp"], "no", "such", "dir", "a.db")])
    s.start()
    try:
        for i in range(3):
            d, _ = s.json("POST", "/api/validate", {"text": "hello %d" % i})
            assert d["overall_risk"]
        h = wait_for(lambda: (lambda d: d if d["audit"]["errors"] >= 3 else None)(
            s.json("GET", "/api/health?detailed=true")[0]), what="audit errors counted")
        assert h["status"] == "degraded" and h["audit"]["state"] == "failing", h
        assert "no/such/dir" in h["audit"]["last_error"], h["audit"]
        st, _, _ = s.request("GET", "/api/analytics/overview")
        assert st == 503
        fams = parse_prometheus(s.request("GET", "/metrics")[2].decode())
        assert metric(fams, "loki_audit_errors_total") >= 3
    finally:
        assert s.stop() == 0


def test_audit_locked(ctx):
    s = Server(ctx["binary"], ctx["tmp"], name="locked")
    s.start()
    try:
        s.json("POST", "/api/validate", {"text": "before the lock"})
        wait_for(lambda: s.json("GET", "/api/health?detailed=true")[0]["audit"]["rows_written"]
                 == 1, what="first row")
        locker = sqlite3.connect(s.audit_db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            for i in range(3):
                t0 = time.time()
                s.json("POST", "/api/validate", {"text": "while locked %d" % i})
                assert time.time() - t0 < 2, "validation waited on the audit lock"
            h = wait_for(lambda: (lambda d: d if d["audit"]["errors"] >= 3 else None)(
                s.json("GET", "/api/health?detailed=true")[0]), what="locked errors")
            assert h["status"] == "degraded", h
        finally:
            locker.execute("COMMIT")
            locker.close()
        s.json("POST", "/api/validate", {"text": "after the lock"})
        h = wait_for(lambda: (lambda d: d if d["audit"]["rows_written"] == 2 else None)(
            s.json("GET", "/api/health?detailed=true")[0]), what="recovery")
        assert h["audit"]["state"] == "ok", h
    finally:
        assert s.stop() == 0


TESTS = [test_graceful_shutdown_in_flight, test_sigint_idle, test_audit_unavailable,
         test_audit_locked]

if __name__ == "__main__":
    sys.exit(run(TESTS, setup, teardown))
