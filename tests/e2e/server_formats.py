#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`POST /api/validate` with documents instead of text: a raw body whose Content-Type names a
document format, and a JSON body with "document_base64" (+ "filename"). The text is extracted
(HTML, Markdown, DOCX, PDF, e-mail) and checked; bad documents get 400/413/415."""
import base64
import json
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from server_lib import Server, expect_error, run, binary_and_tmp  # noqa

HTML = ("<html><head><script>var x='by using our website you agree';</script></head><body>"
        "<h1>Privacy notice</h1><p>We collect personal data.</p>"
        "<p>By using our website you agree to the processing of your personal data.</p>"
        "</body></html>")


def failed_gates(v):
    return {m + "." + g for m, mr in v["modules"].items() for g, gr in mr["gates"].items()
            if gr["status"] == "FAIL"}


def test_html_body(s):
    v, _ = s.json("POST", "/api/validate?document_type=privacy_notice&filename=n.html", HTML,
                  {"Content-Type": "text/html"})
    assert "gdpr_uk.consent" in failed_gates(v), failed_gates(v)
    spans = v["modules"]["gdpr_uk"]["gates"]["consent"]["spans"]
    assert spans and spans[0]["text"] == "By using our website you agree", spans
    # the script's copy of the phrase is not visible text: exactly one span
    assert len(spans) == 1, spans


def test_base64_field(s):
    body = {"document_base64": base64.b64encode(HTML.encode()).decode(), "filename": "n.html",
            "document_type": "privacy_notice"}
    v, _ = s.json("POST", "/api/validate", body)
    assert "gdpr_uk.consent" in failed_gates(v)
    # the same text sent as text gives the same verdict hash
    v2, _ = s.json("POST", "/api/validate", body)
    assert v2["document_hash"] == v["document_hash"]


def test_markdown_body(s):
    md = "# Privacy notice\n\nWe collect **personal data**.\n\nBy using our website you agree to it.\n"
    v, _ = s.json("POST", "/api/validate?document_type=privacy_notice", md,
                  {"Content-Type": "text/markdown"})
    assert "gdpr_uk.consent" in failed_gates(v)


def test_bad_documents(s):
    expect_error(s.request("POST", "/api/validate", b"%PDF-1.4\ngarbage where objects go",
                           {"Content-Type": "application/pdf"}), 400, "invalid_document")
    expect_error(s.request("POST", "/api/validate", b"\x00\x01\x02\x03binary junk\xff",
                           {"Content-Type": "application/octet-stream"}), 415,
                 "unsupported_document")
    expect_error(s.request("POST", "/api/validate", {"document_base64": "not base64!"}), 400,
                 "invalid_base64")
    expect_error(s.request("POST", "/api/validate", {"document_base64": 12}), 400, "invalid_type")
    expect_error(s.request("POST", "/api/validate", b"x", {"Content-Type": "image/png"}), 415,
                 "unsupported_media_type")


def test_hostile_json(s):
    # 100,000 nested arrays: refused as malformed (cJSON's nesting limit), not a stack overflow
    expect_error(s.request("POST", "/api/validate", "[" * 100000 + "]" * 100000,
                           {"Content-Type": "application/json"}), 400, "invalid_json")
    expect_error(s.request("POST", "/api/validate", '{"text": ' + "[" * 5000 + "]" * 5000 + "}",
                           {"Content-Type": "application/json"}), 400)
    # huge numbers where booleans or strings belong: a type error, not a crash
    expect_error(s.request("POST", "/api/validate", '{"text": 1e999999}',
                           {"Content-Type": "application/json"}), 400, "invalid_type")
    expect_error(s.request("POST", "/api/validate",
                           '{"text": "x", "options": {"pretty": 123456789012345678901234567890}}',
                           {"Content-Type": "application/json"}), 400, "invalid_type")
    # duplicate keys: the first value is used (documented), the request still succeeds
    v, _ = s.json("POST", "/api/validate", '{"text": "first", "text": "second"}',
                  {"Content-Type": "application/json"})
    assert v["document_bytes"] == len("first"), v["document_bytes"]
    # a file name is only a format hint: a traversal path reads nothing from disk
    v, _ = s.json("POST", "/api/validate?filename=../../../../etc/passwd", "plain words",
                  {"Content-Type": "application/octet-stream"})
    assert v["document_bytes"] == len("plain words")


def setup():
    binary, tmp = binary_and_tmp()
    return Server(binary, tmp, name="formats").start()


def teardown(s):
    if s:
        s.stop()


if __name__ == "__main__":
    sys.exit(run([test_html_body, test_base64_field, test_markdown_body, test_bad_documents,
                  test_hostile_json],
                 setup, teardown))
