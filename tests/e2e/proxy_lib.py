# SPDX-License-Identifier: MIT
"""Helpers for the interceptor tests: start tests/e2e/fake_provider.py, script it, start
`loki serve` pointed at it, read SSE streams."""
import http.client
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_lib import Server  # noqa: E402

ALLOWED = "Hello from the fake provider."
FLAGGED = "This product is 100% guaranteed to work."
BLOCKED = ("This investment offers guaranteed returns of 20% per year with no risk. "
           "Invest now!")
FILLER = ("Markets move for many reasons and nobody can promise an outcome; read the key "
          "information document and consider speaking to an adviser before you decide. ")


class Fake:
    def __init__(self, tmp):
        self.port_file = os.path.join(tmp, "fake.port")
        self.log = open(os.path.join(tmp, "fake.log"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_provider.py"),
                                      "--port-file", self.port_file],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(self.port_file) and open(self.port_file).read().strip():
                self.port = int(open(self.port_file).read())
                return
            time.sleep(0.05)
        raise AssertionError("fake provider did not start")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def post(self, path, obj):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return json.loads(data)

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        data = c.getresponse().read()
        c.close()
        return json.loads(data)

    def script(self, *behaviours, reset=True):
        return self.post("/_script", {"reset": reset, "queue": list(behaviours)})

    def requests(self):
        return self.get("/_stats")["requests"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def loki(binary, tmp, fake, name, config="", **kw):
    env = {"LOKI_ANTHROPIC_BASE_URL": fake.url, "LOKI_OPENAI_BASE_URL": fake.url,
           "ANTHROPIC_API_KEY": "sk-ant-test-secret-key", "OPENAI_API_KEY": "sk-test-secret-key"}
    env.update(kw.pop("env", {}))
    return Server(binary, tmp, env=env, config=config, name=name, **kw).start()


def anthropic_body(stream=False, text="hi"):
    b = {"model": "claude-test", "max_tokens": 64,
         "messages": [{"role": "user", "content": text}]}
    if stream:
        b["stream"] = True
    return b


def openai_body(stream=False, text="hi"):
    b = {"model": "gpt-test", "messages": [{"role": "user", "content": text}]}
    if stream:
        b["stream"] = True
    return b


API = {"anthropic": ("/v1/messages", anthropic_body), "openai": ("/v1/chat/completions",
                                                                 openai_body)}


def call(srv, api, stream=False, text="hi", headers=None):
    path, body = API[api]
    return srv.request("POST", path, body(stream, text), headers)


def sse(data):
    """Parses an SSE body into [(event or None, data_str)]."""
    out = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        ev, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
        out.append((ev, "\n".join(lines)))
    return out


def stream_text(api, events):
    text = []
    for ev, data in events:
        if data == "[DONE]" or ev == "loki":
            continue
        d = json.loads(data)
        if api == "anthropic" and d.get("type") == "content_block_delta":
            text.append(d["delta"].get("text", ""))
        elif api == "openai" and d.get("choices"):
            text.append(d["choices"][0].get("delta", {}).get("content") or "")
    return "".join(text)


def terminated(api, events):
    if api == "anthropic":
        return any(ev == "message_stop" for ev, _ in events)
    return any(d == "[DONE]" for _, d in events)


def error_event(api, events):
    for ev, data in events:
        if api == "anthropic" and ev == "error":
            return json.loads(data)["error"]
        if api == "openai" and ev is None and data.startswith("{") and "error" in json.loads(data):
            return json.loads(data)["error"]
    return None


def loki_event(events):
    last = events[-1]
    assert last[0] == "loki", "last event is not the verdict: %r" % (last,)
    return json.loads(last[1])
