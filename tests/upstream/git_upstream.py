#!/usr/bin/env python3
"""A loopback HTTP upstream for the keyless gateway test: a git server
(`git http-backend` run as CGI) plus echo endpoints, which accepts only the
credential the vault injects ("Authorization: Bearer <secret>", the secret
read from --secret-file) and answers 401 to anything else.

  /v1/git/<repo>.git/...  git smart HTTP (clone, fetch, push) over the bare
                          repositories under --repos
  /v1/echo/...            a JSON echo: method, path, query, body size and
                          the request header names
  /v1/huge?bytes=N        N bytes of 'x'
  /v1/reflect             echoes the credential it received in its body
                          and in an X-Echo-Auth header (the vault must
                          scrub both before the answer leaves it)

Every request is recorded as one JSON line in --record: method, path,
query, header names and values *except* Authorization, which is recorded
only as "vault" (it was the injected secret), "other" or "none", so the
record itself never holds the secret. Binds 127.0.0.1 only; writes its
port to --port-file once listening.
"""
import hmac
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from upstream_common import (HTTP_BACKEND, git_cgi_env, parse_cgi_head,
                             serve_git_upstream)

RECORD_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    secret = b""
    record_path = None
    repos = None

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, body, ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        presented = self.headers.get("Authorization")
        expected = b"Bearer " + self.secret
        if presented is None:
            auth = "none"
        elif hmac.compare_digest(presented.encode("latin-1"), expected):
            auth = "vault"
        else:
            auth = "other"
        record = {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "auth": auth,
            "headers": {k: v for k, v in self.headers.items()
                        if k.lower() != "authorization"},
            "body_bytes": len(body),
        }
        with RECORD_LOCK, open(self.record_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if auth != "vault":
            self._reply(401, b'{"error":"bad credential"}\n',
                        headers=[("WWW-Authenticate", "Bearer")])
            return
        if url.path.startswith("/v1/git/"):
            self._git(url, body)
        elif url.path == "/v1/huge":
            query = dict(parse_qsl(url.query))
            size = min(int(query.get("bytes", "1024")), 64 << 20)
            self._reply(200, b"x" * size, "application/octet-stream")
        elif url.path == "/v1/reflect":
            self._reply(200, ("received: %s\n" % presented).encode(),
                        "text/plain", [("X-Echo-Auth", presented)])
        elif url.path.startswith("/v1/echo"):
            echo = {
                "method": self.command,
                "path": url.path,
                "query": parse_qsl(url.query, keep_blank_values=True),
                "body_bytes": len(body),
                "header_names": sorted(k.lower() for k in self.headers.keys()
                                       if k.lower() != "authorization"),
            }
            self._reply(200, (json.dumps(echo) + "\n").encode())
        else:
            self._reply(404, b'{"error":"not found"}\n')

    def _git(self, url, body):
        env = git_cgi_env(self, self.repos, url, str(len(body)))
        done = subprocess.run([HTTP_BACKEND], input=body, env=env,
                              capture_output=True, timeout=60)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, ctype, headers = parse_cgi_head(
            head.decode("latin-1").splitlines())
        self._reply(status, payload, ctype, headers)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_HEAD = _handle


def main():
    serve_git_upstream(Handler)


if __name__ == "__main__":
    main()
