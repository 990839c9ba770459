#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scriptable fake LLM provider for LOKI's tests and demos (python3 standard library only).

Speaks the Anthropic Messages (POST /v1/messages), OpenAI Chat Completions
(POST /v1/chat/completions) and Gemini (POST /v1beta/models/M:generateContent and
:streamGenerateContent?alt=sse) wire formats, JSON and SSE ("stream": true).

Start:  fake_provider.py [--host 127.0.0.1] [--port 0] [--port-file F]
        prints "fake_provider listening on HOST:PORT" on stdout once ready.

Scripting. Each upstream request consumes the next behaviour of a FIFO queue; with the queue
empty the default behaviour applies (200, text "Hello from the fake provider.").
  POST /_script  {"queue": [B, ...]}   append behaviours ({"reset": true} clears queue and log;
                 {"default": B} replaces the default behaviour)
  POST /_reset                         clear queue, log and default
  GET  /_requests                      the requests received: [{"path","headers","body"}]
  GET  /_stats                         {"requests": N, "queued": N}
A request may instead carry its behaviour in an `x-fake-behaviour: {json}` header.

A behaviour B (all keys optional):
  text              the answer text (default "Hello from the fake provider.")
  text_bytes        generate an answer of exactly this many bytes instead
  chunks            stream the text in this many deltas (default: about 16 bytes each)
  status            HTTP status (default 200); >= 400 renders a native error body
  error_message     message of that error body
  retry_after       value of a Retry-After header (any status)
  delay_ms          wait before the response starts
  chunk_delay_ms    wait between stream events
  reset             close the connection at once, no response (a TCP RST)
  truncate          stream: end the HTTP response cleanly without the terminator event;
                    JSON: send half the body and close
  reset_after_events  stream: close the connection abruptly after this many events
  error_event       stream: after the text, send the provider's error event instead of the end
  model             model name reported (default: the request's, else "fake-model")
  repeat            use this behaviour this many times (default 1)
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = "Hello from the fake provider."
LOCK = threading.Lock()
STATE = {"queue": [], "log": [], "default": {}, "requests": 0}


def next_behaviour(headers):
    hdr = headers.get("x-fake-behaviour")
    if hdr:
        return json.loads(hdr)
    with LOCK:
        q = STATE["queue"]
        if not q:
            return dict(STATE["default"])
        b = q[0]
        n = b.get("repeat", 1)
        if n <= 1:
            q.pop(0)
        else:
            b["repeat"] = n - 1
        return dict(b)


def answer_text(b):
    if "text_bytes" in b:
        unit = "The quick brown fox jumps over the lazy dog. "
        n = int(b["text_bytes"])
        return (unit * (n // len(unit) + 1))[:n]
    return b.get("text", DEFAULT_TEXT)


def split_text(text, b):
    n = int(b.get("chunks", 0)) or max(1, (len(text) + 15) // 16)
    size = max(1, -(-len(text) // n)) if text else 1
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def tokens(s):
    return max(1, len(s) // 4)


# ---- wire formats -------------------------------------------------------------------------

class Anthropic:
    @staticmethod
    def error(status, msg):
        t = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}
        typ = t.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": typ, "message": msg}}

    @staticmethod
    def message(text, model, req):
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": tokens(json.dumps(req)), "output_tokens": tokens(text)}}

    @staticmethod
    def events(text, model, req, b):
        yield "message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": tokens(json.dumps(req)), "output_tokens": 1}}}
        yield "content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}
        yield "ping", {"type": "ping"}
        for piece in split_text(text, b):
            yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": piece}}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield "message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                "usage": {"output_tokens": tokens(text)}}

    @staticmethod
    def terminator():
        return "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

    @staticmethod
    def error_event(msg):
        return "event: error\ndata: " + json.dumps(Anthropic.error(529, msg)) + "\n\n"


class OpenAI:
    @staticmethod
    def error(status, msg):
        typ = {401: "authentication_error", 429: "rate_limit_error"}.get(
            status, "server_error" if status >= 500 else "invalid_request_error")
        return {"error": {"message": msg, "type": typ, "param": None, "code": None}}

    @staticmethod
    def message(text, model, req):
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens(json.dumps(req)),
                          "completion_tokens": tokens(text),
                          "total_tokens": tokens(json.dumps(req)) + tokens(text)}}

    @staticmethod
    def events(text, model, req, b):
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}
        yield None, dict(base, choices=[{"index": 0, "delta": {"role": "assistant",
                                                               "content": ""},
                                         "finish_reason": None}])
        for piece in split_text(text, b):
            yield None, dict(base, choices=[{"index": 0, "delta": {"content": piece},
                                             "finish_reason": None}])
        yield None, dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (req.get("stream_options") or {}).get("include_usage"):
            yield None, dict(base, choices=[], usage={
                "prompt_tokens": tokens(json.dumps(req)), "completion_tokens": tokens(text),
                "total_tokens": tokens(json.dumps(req)) + tokens(text)})

    @staticmethod
    def terminator():
        return "data: [DONE]\n\n"

    @staticmethod
    def error_event(msg):
        return "data: " + json.dumps(OpenAI.error(500, msg)) + "\n\n"


class Gemini:
    @staticmethod
    def error(status, msg):
        st = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": msg,
                          "status": st.get(status, "INTERNAL")}}

    @staticmethod
    def chunk(text, model, req, finish):
        c = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            c["finishReason"] = "STOP"
        return {"candidates": [c], "modelVersion": model, "usageMetadata": {
            "promptTokenCount": tokens(json.dumps(req)), "candidatesTokenCount": tokens(text)}}

    @staticmethod
    def message(text, model, req):
        return Gemini.chunk(text, model, req, True)

    @staticmethod
    def events(text, model, req, b):
        pieces = split_text(text, b)
        for i, piece in enumerate(pieces[:-1]):
            yield None, Gemini.chunk(piece, model, req, False)
        yield "__last__", Gemini.chunk(pieces[-1], model, req, True)

    @staticmethod
    def terminator():
        return ""

    @staticmethod
    def error_event(msg):
        return "data: " + json.dumps(Gemini.error(500, msg)) + "\n\n"


# ---- HTTP ----------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_provider/1"
    # One write per response (headers and body together) and no Nagle: otherwise a keep-alive
    # client waits out a 40 ms delayed ACK between the two and latency figures mean nothing.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        n = int(self.headers.get("content-length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                self.send_json(200, STATE["log"])
        elif self.path == "/_stats":
            with LOCK:
                self.send_json(200, {"requests": STATE["requests"],
                                     "queued": len(STATE["queue"])})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        raw = self.read_body()
        if self.path in ("/_script", "/_reset"):
            return self.control(raw)
        path = self.path.split("?")[0]
        if path.endswith("/v1/messages"):
            fmt = Anthropic
        elif path.endswith("/chat/completions"):
            fmt = OpenAI
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            fmt = Gemini
        else:
            return self.send_json(404, {"error": "unknown path " + path})
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            return self.send_json(400, fmt.error(400, "body is not JSON"))
        with LOCK:
            STATE["requests"] += 1
            STATE["log"].append({"path": self.path, "headers": dict(self.headers.items()),
                                 "body": req})
        b = next_behaviour(self.headers)
        self.serve(fmt, req, b)

    def control(self, raw):
        cmd = json.loads(raw or b"{}")
        with LOCK:
            if self.path == "/_reset" or cmd.get("reset"):
                STATE["queue"].clear()
                STATE["log"].clear()
                STATE["default"] = {}
                STATE["requests"] = 0
            if "default" in cmd:
                STATE["default"] = cmd["default"]
            STATE["queue"].extend(cmd.get("queue", []))
            n = len(STATE["queue"])
        self.send_json(200, {"queued": n})

    def rst(self, after_data=False):
        # SO_LINGER 0: close() sends a RST instead of a FIN. A RST discards data the peer has
        # not read yet, so when data went out first give the client a moment to read it.
        if after_data:
            time.sleep(0.1)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def serve(self, fmt, req, b):
        if b.get("delay_ms"):
            time.sleep(b["delay_ms"] / 1000.0)
        if b.get("reset"):
            return self.rst()
        status = int(b.get("status", 200))
        extra = {"retry-after": str(b["retry_after"])} if "retry_after" in b else {}
        if status >= 400:
            msg = b.get("error_message", "fake provider error %d" % status)
            return self.send_json(status, fmt.error(status, msg), extra)
        model = b.get("model") or req.get("model") or "fake-model"
        text = answer_text(b)
        stream = req.get("stream") is True or ":streamGenerateContent" in self.path
        if not stream:
            if b.get("truncate"):
                data = json.dumps(fmt.message(text, model, req)).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                return self.rst(after_data=True)
            return self.send_json(status, fmt.message(text, model, req), extra)
        self.stream(fmt, req, b, status, extra, model, text)

    def chunk(self, s):
        data = s.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, fmt, req, b, status, extra, model, text):
        self.send_response(status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        delay = b.get("chunk_delay_ms", 0) / 1000.0
        limit = b.get("reset_after_events")
        n = 0
        for name, obj in fmt.events(text, model, req, b):
            if limit is not None and n >= limit:
                return self.rst(after_data=True)
            if name == "__last__" and (b.get("truncate") or b.get("error_event")):
                continue  # Gemini: the finishReason chunk is its terminator
            ev = ("event: %s\n" % name if name and name != "__last__" else "")
            self.chunk(ev + "data: " + json.dumps(obj) + "\n\n")
            n += 1
            if delay:
                time.sleep(delay)
        if b.get("error_event"):
            self.chunk(fmt.error_event(b.get("error_message", "fake stream error")))
        elif not b.get("truncate") and fmt.terminator():
            self.chunk(fmt.terminator())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that hang up mid-stream (an aborting caller) are expected, not errors.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, OSError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="scriptable fake LLM provider")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = Server((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write("%d\n" % port)
    print("fake_provider listening on %s:%d" % (a.host, port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
