#!/usr/bin/env python3
"""A real HTTP/1.1 upstream on loopback for Latchkey's tests and demo.

It records every request it receives (method, path, query, headers, body) as
one JSON line in --record, and answers with a JSON echo of the request, so
tests can check what the vault really sent (the Authorization header) and
that the vault scrubbed the credential from what the agent sees (the echo
contains it). Extra endpoints:
  /slow?ms=N      answers after N milliseconds (any path ending in /slow,
                  e.g. /v1/slow, which a capability for /v1/** allows)
  /huge?bytes=N   answers with N bytes of 'x' (any path ending in /huge)
  /encoded        reflects the credential raw, base64, base64url, hex and
                  percent-encoded, in the body and in headers
  /cookie         sets a cookie
  /redirect?to=URL[&status=N]  answers N (default 302) with Location: URL
                  (any path ending in /redirect; without to=, itself)
  /status/N       answers with status N
It binds 127.0.0.1 (or --host, inside a test's network namespace) and
writes its port to --port-file once listening.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from base64 import b64encode
from urllib.parse import parse_qsl, urlsplit

RECORD_LOCK = threading.Lock()


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    record_path = None

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        record = {
            "method": self.command,
            "path": url.path,
            "raw_path": self.path,
            "query": query,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            # body_base64 is the body byte for byte (binary bodies do not
            # survive the "replace" decoding above).
            "body_base64": b64encode(body).decode(),
        }
        if self.record_path:
            with RECORD_LOCK, open(self.record_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        status = 200
        extra_headers = []
        if url.path.endswith("/slow"):
            time.sleep(min(int(query.get("ms", "1000")), 30000) / 1000.0)
        if url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
        if url.path == "/cookie" or url.path.endswith("/cookie"):
            extra_headers.append(("Set-Cookie", "session=abc; HttpOnly"))
        if url.path.endswith("/redirect"):
            status = int(query.get("status", "302"))
            # Without ?to= it redirects to itself, forever.
            extra_headers.append(("Location", query.get("to", self.path)))
        if url.path.endswith("/encoded"):
            # Reflect the Authorization header in every encoding the vault
            # must scrub, in the body and in a header.
            import base64, urllib.parse
            auth = (self.headers.get("Authorization") or "").encode()
            token = auth.split(b" ", 1)[-1]
            forms = {"header_raw": auth.decode("latin-1")}
            for label, value in (("token", token),):
                forms[label + "_raw"] = value.decode("latin-1")
                forms[label + "_base64"] = base64.b64encode(value).decode()
                forms[label + "_base64url"] = base64.urlsafe_b64encode(
                    value).decode().rstrip("=")
                forms[label + "_hex"] = value.hex()
                forms[label + "_HEX"] = value.hex().upper()
                forms[label + "_percent"] = urllib.parse.quote(
                    value.decode("latin-1"), safe="")
            forms["body_echo"] = body.decode("utf-8", "replace")
            extra_headers.append(("X-Echo-Base64", forms["token_base64"]))
            extra_headers.append(("X-Echo-Hex", forms["token_hex"]))
            payload = json.dumps({"ok": True, "forms": forms}).encode()
            ctype = "application/json"
        elif url.path == "/huge" or url.path.endswith("/huge"):
            payload = b"x" * min(int(query.get("bytes", "1048576")), 64 << 20)
            ctype = "application/octet-stream"
        else:
            payload = json.dumps({"ok": True, "echo": record}).encode()
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        # Reflect the credential in a response header too: it must be
        # scrubbed from headers as well as bodies.
        auth = self.headers.get("Authorization")
        if auth:
            self.send_header("X-Echo-Authorization", auth)
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    # Only the netns SSRF test binds another address, inside its namespace.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--record", default=None)
    args = parser.parse_args()
    EchoHandler.record_path = args.record
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
