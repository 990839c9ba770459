# SPDX-License-Identifier: MIT
"""Helpers for the `loki serve` end-to-end tests: start a real server on a free port (port 0,
read back from its start-up line), talk HTTP to it with the standard library, stop it with a
signal, and fail when a sanitizer report shows up in its stderr."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SANITIZER = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|"
                       r"SUMMARY: \w+Sanitizer")


class Server:
    def __init__(self, binary, tmp, args=(), env=None, config=None, name="srv"):
        self.binary, self.tmp, self.name = binary, tmp, name
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.config = config
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(tmp, name + ".stderr")
        self.access_log = os.path.join(tmp, name + ".access.log")
        self.audit_db = os.path.join(tmp, name + ".audit.db")

    def start(self, timeout=120):
        args = [self.binary, "serve", "--listen", "127.0.0.1:0"]
        if self.config is not None:
            path = os.path.join(self.tmp, self.name + ".conf")
            with open(path, "w") as f:
                f.write(self.config)
            args += ["--config", path]
        if not any(a.startswith("--audit-db") for a in self.args):
            args += ["--audit-db", self.audit_db]
        if not any(a.startswith("--access-log") for a in self.args):
            args += ["--access-log", self.access_log]
        args += self.args
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.stderr()
            m = re.search(r"listening on http://[\d.]+:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s:\n%s" % (self.proc.returncode, text))
            time.sleep(0.05)
        raise AssertionError("server did not start:\n" + self.stderr())

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=60):
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                c.close()

    def json(self, method, path, body=None, headers=None, expect=200):
        st, hd, data = self.request(method, path, body, headers)
        assert st == expect, "%s %s: want %d, got %d: %s" % (method, path, expect, st, data[:300])
        return json.loads(data), hd

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop within %d s" % timeout)
        self.err.close()
        self.proc = None
        text = self.stderr()
        if SANITIZER.search(text):
            raise AssertionError("sanitizer report in server stderr:\n" + text[-4000:])
        return rc


def expect_error(resp, status, code=None):
    st, hd, data = resp
    assert st == status, "want %d, got %d: %s" % (status, st, data[:300])
    body = json.loads(data)
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def run(tests, setup, teardown):
    """Runs test functions (each gets the context from setup); prints one line per test."""
    failed = 0
    ctx = None
    try:
        ctx = setup()
        for t in tests:
            t0 = time.time()
            try:
                t(ctx)
                print("ok   %-40s %.2fs" % (t.__name__, time.time() - t0), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__, flush=True)
                traceback.print_exc()
    except Exception:
        traceback.print_exc()
        failed += 1
    finally:
        try:
            teardown(ctx)
        except Exception:
            traceback.print_exc()
            failed += 1
    print("%d tests, %d failed" % (len(tests), failed))
    return 1 if failed else 0


def tmpdir(base):
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(dir=base)


def binary_and_tmp():
    if len(sys.argv) < 3:
        print("usage: %s LOKI_BINARY TMPDIR" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    return sys.argv[1], tmpdir(sys.argv[2])


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """Parses the Prometheus text format 0.0.4 strictly. Returns {family: {"type", "help",
    "samples": [(name, labels_dict, value)]}}; raises AssertionError on any malformed line."""
    fams = {}
    current = None
    for ln, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            assert len(parts) == 4, "line %d: %r" % (ln, line)
            fam = fams.setdefault(parts[2], {"type": None, "help": None, "samples": []})
            if parts[1] == "TYPE":
                assert parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert fam["type"] is None, "line %d: second TYPE for %s" % (ln, parts[2])
                assert not fam["samples"], "line %d: TYPE after samples" % ln
                fam["type"] = parts[3]
            else:
                fam["help"] = parts[3]
            current = parts[2]
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "line %d: malformed sample %r" % (ln, line)
        name, labels_s, value = m.group(1), m.group(3), m.group(4)
        labels = {}
        if labels_s:
            pos = 0
            while pos < len(labels_s):
                lm = _LABEL.match(labels_s, pos)
                assert lm, "line %d: malformed labels %r" % (ln, labels_s)
                assert lm.group(1) not in labels, "line %d: duplicate label" % ln
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        v = float(value)  # raises on garbage; accepts +Inf/NaN spellings
        fam_name = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in fams:
                fam_name = name[: -len(suffix)]
        assert fam_name in fams, "line %d: sample %s without TYPE" % (ln, name)
        assert fam_name == current, "line %d: %s not grouped under its family" % (ln, name)
        fams[fam_name]["samples"].append((name, labels, v))
    for fname, fam in fams.items():
        assert fam["type"], "%s has no TYPE" % fname
        if fam["type"] == "histogram":
            check_histogram(fname, fam["samples"])
    return fams


def check_histogram(fname, samples):
    series = {}
    for name, labels, v in samples:
        key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if name == fname + "_bucket":
            le = labels["le"]
            s["buckets"].append((float("inf") if le == "+Inf" else float(le), v))
        elif name == fname + "_sum":
            s["sum"] = v
        elif name == fname + "_count":
            s["count"] = v
        else:
            raise AssertionError("%s: unexpected sample %s" % (fname, name))
    for key, s in series.items():
        b = s["buckets"]
        assert b and b[-1][0] == float("inf"), "%s%s: no +Inf bucket" % (fname, key)
        assert [x for x, _ in b] == sorted(x for x, _ in b), "%s: buckets out of order" % fname
        assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), "%s: not cumulative" % fname
        assert s["count"] == b[-1][1], "%s: _count != +Inf bucket" % fname
        assert s["sum"] is not None and s["sum"] >= 0, "%s: bad _sum" % fname


def metric(fams, family, name=None, **labels):
    """The value of one sample (0 when absent)."""
    for n, lab, v in fams.get(family, {"samples": []})["samples"]:
        if n == (name or family) and all(lab.get(k) == x for k, x in labels.items()):
            return v
    return 0.0
