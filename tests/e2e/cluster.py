# SPDX-License-Identifier: MIT
"""Several `loki serve` instances behind nginx, sharing one Redis (ctest label `cluster`).

Starts redis-server, three instances and nginx (running deploy/nginx.conf with its ports
rewritten) on free loopback ports, all with generated configs in a temp dir, and checks:
a verdict computed on one instance is a cache hit on the others; `loki cache warm` fills the
cache the servers read; a per-client rate limit holds across instances; killing an instance
loses no request nginx can retry; killing Redis degrades (health says so) without failing a
request, and Redis coming back heals it. Exits 77 (skip) without nginx or redis-server.

usage: cluster.py LOKI_BINARY TMPDIR SOURCE_DIR
The Cluster class is also used by bench/cluster_bench.py.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_lib import Server, parse_prometheus, metric, run, tmpdir  # noqa: E402

RATE, BURST = 2, 10
KEYS = ["k%02d-cluster-test-key" % i for i in range(60)]
RL_KEY = "rl-cluster-test-key"


def find_tool(name):
    return shutil.which(name) or next(
        (p for p in ("/usr/sbin/" + name, "/usr/bin/" + name) if os.access(p, os.X_OK)), None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not listen on %d" % (what, port))


class Redis:
    def __init__(self, tmp, port=None):
        self.tmp, self.port = tmp, port or free_port()
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.tmp, "redis.log"), "a")
        self.proc = subprocess.Popen(
            [find_tool("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.tmp, "--daemonize", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "redis-server")
        return self

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        if self.proc:
            self.log.close()
        self.proc = None


class Nginx:
    """nginx in the foreground with a generated config: deploy/nginx.conf inside an http block
    whose temp paths, pid and logs all live in the temp dir (no root-only paths)."""

    def __init__(self, tmp, src, upstream_ports):
        self.tmp, self.port, self.proc = tmp, free_port(), None
        with open(os.path.join(src, "deploy", "nginx.conf")) as f:
            site = f.read()
        example = re.findall(r"server 127\.0\.0\.1:(\d+)", site)
        assert len(example) == 3, "deploy/nginx.conf: expected 3 upstream servers"
        lines = [l for l in site.split("\n") if not re.search(r"^\s*server 127\.0\.0\.1:", l)]
        site = "\n".join(lines)
        servers = "".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % p
                          for p in upstream_ports)
        site = site.replace("upstream loki {\n", "upstream loki {\n" + servers, 1)
        site = site.replace("listen 80;", "listen 127.0.0.1:%d;" % self.port, 1)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(tmp, "nginx", d), exist_ok=True)
        self.conf = os.path.join(tmp, "nginx", "nginx.conf")
        n = os.path.join(tmp, "nginx")
        with open(self.conf, "w") as f:
            f.write("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                    "error_log %s/error.log info;\nevents { worker_connections 1024; }\n"
                    "http {\n  access_log %s/access.log;\n"
                    "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
                    "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
                    "  scgi_temp_path %s/scgi;\n%s\n}\n" % ((n,) * 8 + (site,)))
        self.dir = n

    def start(self):
        self.err = open(os.path.join(self.dir, "stderr.log"), "w")
        args = [find_tool("nginx"), "-p", self.dir, "-e", os.path.join(self.dir, "error.log"),
                "-c", self.conf]
        t = subprocess.run(args + ["-t"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert t.returncode == 0, "nginx -t: " + t.stdout.decode(errors="replace")
        self.proc = subprocess.Popen(args, stdout=self.err, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "nginx")
        return self

    def error_log(self):
        with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.err.close()
        self.proc = None


class Cluster:
    def __init__(self, binary, tmp, src, n=3, extra_config=""):
        self.binary, self.tmp, self.src, self.n = binary, tmp, src, n
        self.extra_config = extra_config
        self.redis, self.nodes, self.nginx = None, [], None

    def node_config(self, i):
        return ("redis_url = %s\ninstance_id = node%d\nrate_limit = %g\nrate_burst = %g\n"
                "api_keys = %s\naccess_log = off\nshutdown_timeout = 5\n%s"
                % (self.redis.url(), i + 1, RATE, BURST, ",".join(KEYS + [RL_KEY]),
                   self.extra_config))

    def start(self):
        self.redis = Redis(self.tmp).start()
        for i in range(self.n):
            s = Server(self.binary, self.tmp, config=self.node_config(i), name="node%d" % (i + 1))
            self.nodes.append(s.start())
        self.nginx = Nginx(self.tmp, self.src, [s.port for s in self.nodes]).start()
        return self

    def lb(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=timeout)

    def stop(self):
        errors = []
        if self.nginx:
            self.nginx.stop()
        for s in self.nodes:
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        if self.redis:
            self.redis.stop()
        assert not errors, "\n".join(errors)


def call(conn, method, path, body=None, key=None, headers=None):
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def direct(node, method, path, body=None, key=KEYS[0]):
    c = node.conn()
    try:
        return call(c, method, path, body, key)
    finally:
        c.close()


def doc(tag):
    return ("Privacy notice %s. We collect your email address and share it with partners. "
            "Contact the data protection officer at dpo@example.com." % tag)


# ---- tests -----------------------------------------------------------------------------------

def test_health_and_metrics_carry_instance_id(c):
    for i, s in enumerate(c.nodes):
        st, _, body = direct(s, "GET", "/api/health")
        h = json.loads(body)
        assert st == 200 and h["instance_id"] == "node%d" % (i + 1), h
        assert h["status"] == "ok" and h["degraded_reasons"] == [], h
        st, _, body = direct(s, "GET", "/api/health?detailed=true")
        rl = json.loads(body)["ratelimit"]
        assert rl["enabled"] and rl["mode"] == "shared" and rl["state"] == "ok", rl
        st, _, body = direct(s, "GET", "/metrics")
        fams = parse_prometheus(body.decode())
        assert metric(fams, "loki_instance_info", instance_id="node%d" % (i + 1)) == 1
        assert metric(fams, "loki_ratelimit_shared_up") == 1


def test_verdict_computed_once_is_a_hit_everywhere(c):
    body = {"text": doc("cross-%d" % os.getpid()), "document_type": "privacy_notice"}
    st, hd, v1 = direct(c.nodes[0], "POST", "/api/validate", body)
    assert st == 200 and hd["x-loki-cache"] == "miss", (st, hd)
    for s in c.nodes[1:]:
        st, hd, v = direct(s, "POST", "/api/validate", body)
        assert st == 200 and hd["x-loki-cache"] == "hit", (s.name, st, hd)
        assert json.loads(v)["overall_risk"] == json.loads(v1)["overall_risk"]
    # Through the balancer: every pass after the first is a hit whichever instance answers.
    lb = c.lb()
    docs = [{"text": doc("lb-%d-%d" % (os.getpid(), i))} for i in range(12)]
    for d in docs:
        st, hd, _ = call(lb, "POST", "/api/validate", d, KEYS[1 + docs.index(d) % 20])
        assert st == 200 and hd["x-loki-cache"] == "miss", (st, hd)
    hits = 0
    for d in docs:
        st, hd, _ = call(lb, "POST", "/api/validate", d, KEYS[21 + docs.index(d) % 20])
        assert st == 200, st
        hits += hd["x-loki-cache"] == "hit"
    lb.close()
    assert hits == len(docs), "cross-instance hits %d/%d" % (hits, len(docs))


def test_cache_warm_fills_what_servers_read(c):
    d = os.path.join(c.tmp, "warm")
    os.makedirs(os.path.join(d, "sub"), exist_ok=True)
    texts = [doc("warm-%d-%d" % (os.getpid(), i)) for i in range(4)]
    for i, t in enumerate(texts):
        with open(os.path.join(d, "sub" if i % 2 else "", "doc%d.txt" % i), "w") as f:
            f.write(t)
    env = dict(os.environ)
    env.pop("LOKI_REDIS_URL", None)
    r = subprocess.run([c.binary, "cache", "warm", d, "--redis", c.redis.url()], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0 and "4 stored, 0 already present, 0 failed" in out, out
    r = subprocess.run([c.binary, "cache", "warm", d, "--redis", c.redis.url(), "--quiet"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0 and "0 stored, 4 already present" in r.stdout.decode(), r.stdout
    for i, t in enumerate(texts):  # JSON and text/plain bodies, on every instance
        s = c.nodes[i % len(c.nodes)]
        st, hd, _ = direct(s, "POST", "/api/validate", {"text": t})
        assert st == 200 and hd["x-loki-cache"] == "hit", (i, st, hd)
        sc = s.conn()
        st, hd, _ = call(sc, "POST", "/api/validate", t.encode(), KEYS[2],
                         {"Content-Type": "text/plain"})
        sc.close()
        assert st == 200 and hd["x-loki-cache"] == "hit", (i, st, hd)
    # --type and --modules are part of the key, as on the server.
    r = subprocess.run([c.binary, "cache", "warm", d, "--redis", c.redis.url(), "--type",
                        "privacy_notice", "--modules", "gdpr_uk,fca_uk", "-q"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0 and "4 stored" in r.stdout.decode(), r.stdout + r.stderr
    st, hd, _ = direct(c.nodes[1], "POST", "/api/validate",
                       {"text": texts[0], "document_type": "privacy_notice",
                        "modules": ["fca_uk", "gdpr_uk"]})
    assert st == 200 and hd["x-loki-cache"] == "hit", hd
    # Errors are clear: a bad module, no Redis.
    r = subprocess.run([c.binary, "cache", "warm", d, "--redis", c.redis.url(), "--modules",
                        "nope"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 2 and b"unknown module 'nope'" in r.stderr, r.stderr
    r = subprocess.run([c.binary, "cache", "warm", d, "--redis",
                        "redis://127.0.0.1:%d" % free_port()], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 2 and b"not reachable" in r.stderr, r.stderr


def test_rate_limit_holds_across_instances(c):
    # BURST tokens in all, whichever instances the requests reach.
    t0 = time.time()
    codes = []
    for i in range(BURST):
        st, _, _ = direct(c.nodes[i % 3], "GET", "/api/modules", key=RL_KEY)
        codes.append(st)
    refill = int((time.time() - t0) * RATE) + 1
    for s in c.nodes:
        st, hd, body = direct(s, "GET", "/api/modules", key=RL_KEY)
        codes.append(st)
        if st == 429:
            assert int(hd["retry-after"]) >= 1, hd
    allowed = codes.count(200)
    assert BURST <= allowed <= BURST + refill, codes
    assert codes[-3:].count(429) >= 3 - refill, codes
    # Through nginx too: a burst of 3 * BURST from one client gets about BURST through.
    time.sleep(BURST / RATE + 0.5)  # the bucket is full again
    lb = c.lb()
    t0 = time.time()
    codes = [call(lb, "GET", "/api/modules", key=RL_KEY)[0] for _ in range(3 * BURST)]
    lb.close()
    allowed = codes.count(200)
    assert BURST <= allowed <= BURST + int((time.time() - t0) * RATE) + 1, codes
    # Another client is not affected.
    assert direct(c.nodes[0], "GET", "/api/modules", key=KEYS[59])[0] == 200


class Stream(threading.Thread):
    """Sends validations and catalog GETs through nginx, cycling API keys so that no key runs
    out of tokens; records every status and exception."""

    def __init__(self, c, tag, keys, n):
        super().__init__(daemon=True)
        self.c, self.tag, self.keys, self.n = c, tag, keys, n
        self.results, self.done = [], 0

    def run(self):
        lb = self.c.lb(timeout=30)
        for i in range(self.n):
            key = self.keys[i % len(self.keys)]
            try:
                if i % 3 == 2:
                    st, _, _ = call(lb, "GET", "/api/modules", key=key)
                else:
                    st, _, _ = call(lb, "POST", "/api/validate",
                                    {"text": doc("%s-%d" % (self.tag, i))}, key)
                self.results.append(st)
            except Exception as e:  # noqa: BLE001 - a lost request is what we count
                self.results.append(repr(e))
                lb.close()
                lb = self.c.lb(timeout=30)
            self.done = i + 1
            time.sleep(0.005)
        lb.close()


def test_killing_an_instance_loses_no_request(c):
    # 40 keys x 4 requests each stays within the burst of every key.
    st = Stream(c, "kill-%d" % os.getpid(), KEYS[:40], 160)
    st.start()
    while st.done < 40 and st.is_alive():
        time.sleep(0.01)
    victim = c.nodes[2]
    victim.proc.kill()  # SIGKILL: no draining, connections reset mid-request
    victim.proc.wait()
    st.join(120)
    assert not st.is_alive(), "stream did not finish"
    bad = [(i, r) for i, r in enumerate(st.results) if r != 200]
    assert not bad and len(st.results) == 160, "lost or failed: %s" % bad[:10]
    log = c.nginx.error_log()
    assert "connect() failed" in log or "upstream prematurely closed" in log or \
        "recv() failed" in log, "nginx never saw the dead instance:\n" + log[-2000:]
    c.nodes.remove(victim)
    victim.stop()  # already dead: collects stderr, checks for sanitizer reports


def test_killing_redis_degrades_without_errors(c):
    c.redis.stop(signal.SIGKILL)
    st = Stream(c, "noredis-%d" % os.getpid(), KEYS[40:58], 54)
    st.run()
    bad = [(i, r) for i, r in enumerate(st.results) if r != 200]
    assert not bad, "failed without Redis: %s" % bad[:10]
    for s in c.nodes:
        h = json.loads(direct(s, "GET", "/api/health?detailed=true", key=KEYS[58])[2])
        assert h["status"] == "degraded", h
        why = " ".join(h["degraded_reasons"])
        assert "ratelimit: redis" in why and "cache:" in why, h["degraded_reasons"]
        assert h["ratelimit"]["mode"] == "local_fallback", h["ratelimit"]
        fams = parse_prometheus(direct(s, "GET", "/metrics")[2].decode())
        assert metric(fams, "loki_ratelimit_shared_up") == 0
        assert metric(fams, "loki_ratelimit_local_fallbacks_total") >= 1
    # Local buckets still limit a client (per instance now: up to BURST on each).
    codes = [direct(c.nodes[0], "GET", "/api/modules", key=KEYS[59])[0]
             for _ in range(BURST + 3)]
    assert 429 in codes, codes
    # Redis comes back (empty, on the same port): shared limits and the cache tier recover.
    c.redis = Redis(c.tmp, c.redis.port).start()
    deadline = time.time() + 30
    pending = set(range(len(c.nodes)))
    i = 0
    while pending and time.time() < deadline:
        for n in list(pending):
            direct(c.nodes[n], "POST", "/api/validate", {"text": doc("heal-%d" % i)},
                   key=KEYS[i % 40])
            i += 1
            h = json.loads(direct(c.nodes[n], "GET", "/api/health")[2])
            if h["status"] == "ok":
                pending.discard(n)
        time.sleep(0.2)
    assert not pending, "not healed: %s" % [c.nodes[n].name for n in pending]


TESTS = [test_health_and_metrics_carry_instance_id, test_verdict_computed_once_is_a_hit_everywhere,
         test_cache_warm_fills_what_servers_read, test_rate_limit_holds_across_instances,
         test_killing_an_instance_loses_no_request, test_killing_redis_degrades_without_errors]


def main():
    if len(sys.argv) < 4:
        print("usage: %s LOKI_BINARY TMPDIR SOURCE_DIR" % sys.argv[0], file=sys.stderr)
        return 2
    missing = [t for t in ("nginx", "redis-server") if not find_tool(t)]
    if missing:
        print("SKIP: %s not installed" % " and ".join(missing))
        return 77
    binary, tmp, src = sys.argv[1], os.path.abspath(tmpdir(sys.argv[2])), sys.argv[3]
    cl = Cluster(binary, tmp, src)
    return run(TESTS, cl.start, lambda ctx: cl.stop())


if __name__ == "__main__":
    sys.exit(main())
