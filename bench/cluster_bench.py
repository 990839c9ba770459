#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Throughput through nginx with 1, 2 and 3 `loki serve` instances sharing one Redis (the
tests/e2e/cluster.py setup, deploy/nginx.conf as shipped), with wrk on loopback: cached
validations (one 10 KB document) and uncached ones (a distinct 10 KB document per request),
then the cross-instance cache hit rate (each document sent twice through the balancer; the
second pass lands on another instance), with and without the Redis tier.
Everything shares this machine's CPUs: with 2 cores expect no scaling from extra instances.

usage: bench/cluster_bench.py [LOKI_BINARY] [DURATION] [CONNECTIONS]
       defaults: build/h-cluster-rel/loki 8s 32
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from cluster import Cluster, KEYS, call, find_tool  # noqa: E402

KEY = KEYS[0]
# No rate limit in the way, but the shared limiter still runs per request (rate_limit > 0) as
# in a real deployment; access log off as the e2e tests do.
CONFIG = "rate_limit = 1000000\nrate_burst = 1000000\ncache_entries = 200000\ncache_bytes = 2g\n"


def wrk(script, port, dur, conns):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d" + dur, "--latency", "--timeout",
                          "10s", "-s", script, "http://127.0.0.1:%d/api/validate" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, errs.group(1) if errs else ""


def scripts(tmp):
    text = "".join(open(os.path.join(ROOT, "tests/golden/domains", d, "violating.txt"),
                        encoding="utf-8", errors="ignore").read()
                   for d in sorted(os.listdir(os.path.join(ROOT, "tests/golden/domains")))
                   if os.path.exists(os.path.join(ROOT, "tests/golden/domains", d,
                                                  "violating.txt")))[:10240]
    with open(os.path.join(tmp, "cached.json"), "w") as f:
        json.dump({"text": text}, f)
    with open(os.path.join(tmp, "escaped.txt"), "w") as f:
        f.write(json.dumps(text)[1:-1])
    hdr = '{ ["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s" }' % KEY
    with open(os.path.join(tmp, "cached.lua"), "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.headers["Authorization"] = "Bearer %s"\n'
                'local f = io.open("%s/cached.json"); wrk.body = f:read("*a"); f:close()\n'
                % (KEY, tmp))
    with open(os.path.join(tmp, "uncached.lua"), "w") as f:
        f.write('local f = io.open("%s/escaped.txt"); local text = f:read("*a"); f:close()\n'
                'local n = 0\nlocal hdr = %s\n'
                'function setup(thread) thread:set("seed", math.random(1, 1000000000)) end\n'
                'function init(args) math.randomseed(seed or os.time()); '
                'n = math.random(1, 1000000000) * 1000 end\n'
                'function request()\n  n = n + 1\n  return wrk.format("POST", "/api/validate", '
                'hdr, \'{"text":"doc \' .. n .. \' \' .. text .. \'"}\')\nend\n' % (tmp, hdr))


def hit_rate(cl, n_docs, tag):
    """Each document first to instance i % n, then to instance (i + 1) % n: every second
    request is on another instance than the one that computed the verdict."""
    docs = [{"text": "Document %s %d. We collect your email address and sell it." % (tag, i)}
            for i in range(n_docs)]
    n = len(cl.nodes)
    for i, d in enumerate(docs):
        c = cl.nodes[i % n].conn()
        call(c, "POST", "/api/validate", d, KEY)
        c.close()
    hits = 0
    for i, d in enumerate(docs):
        c = cl.nodes[(i + 1) % n].conn()
        st, hd, _ = call(c, "POST", "/api/validate", d, KEY)
        c.close()
        hits += st == 200 and hd.get("x-loki-cache") == "hit"
    return hits / n_docs


def line(label, res):
    rps, p50, p99, bad, errs = res
    print("%-32s %9.0f req/s  p50 %-8s p99 %-8s%s%s"
          % (label, rps, p50, p99, "  non-2xx %d" % bad if bad else "",
             "  socket errors: " + errs if errs else ""), flush=True)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/h-cluster-rel/loki")
    dur = sys.argv[2] if len(sys.argv) > 2 else "8s"
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    for t in ("wrk", "nginx", "redis-server"):
        if not find_tool(t):
            print("cluster_bench: %s not installed" % t)
            return 77
    tmp = tempfile.mkdtemp(prefix="loki-cluster-bench-")
    scripts(tmp)
    print("loki %s, %d CPUs, wrk -t2 -c%d -d%s through nginx (deploy/nginx.conf), Redis shared"
          % (subprocess.run([binary, "version"], stdout=subprocess.PIPE).stdout.decode().split()[-1],
             os.cpu_count(), conns, dur))
    try:
        for n in (1, 2, 3):
            cl = Cluster(binary, os.path.join(tmp, "n%d" % n), ROOT, n=n, extra_config=CONFIG)
            os.makedirs(cl.tmp)
            cl.start()
            try:
                time.sleep(0.5)
                for name in ("cached", "uncached"):
                    line("%d instance(s), nginx, %s" % (n, name),
                         wrk(os.path.join(tmp, name + ".lua"), cl.nginx.port, dur, conns))
                if n == 1:  # the same instance without nginx in front
                    for name in ("cached", "uncached"):
                        line("1 instance, direct, %s" % name,
                             wrk(os.path.join(tmp, name + ".lua"), cl.nodes[0].port, dur,
                                 conns))
                if n == 3:
                    print("cross-instance hit rate (Redis tier): %.0f%%"
                          % (100 * hit_rate(cl, 60, "redis")))
            finally:
                cl.stop()
        # The same with the memory tier only: a hit needs the same instance again.
        cl = Cluster(binary, os.path.join(tmp, "mem"), ROOT, n=3,
                     extra_config=CONFIG + "redis_url =\n")
        os.makedirs(cl.tmp)
        cl.start()
        try:
            print("cross-instance hit rate (memory tier only): %.0f%%"
                  % (100 * hit_rate(cl, 60, "mem")))
        finally:
            cl.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
