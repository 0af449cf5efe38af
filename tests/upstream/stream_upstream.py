#!/usr/bin/env python3
"""A loopback upstream for the gateway's streaming test: everything it
sends and receives is streamed in chunks, never held whole, so that bodies
of hundreds of MiB pass through it at disk-free speed. It accepts only
"Authorization: Bearer <secret>" (the secret from --secret-file) and
answers 401 otherwise.

  GET  /v1/git/<repo>.git/...  git smart HTTP through `git http-backend`,
  POST                         request body piped in, answer piped out
                               (chunked)
  GET  /v1/blob?bytes=N&seed=S N deterministic bytes (seeded random
       [&plant=O1,O2...]       stream S, blob_chunks), the secret written over
                               them at each offset O (for the scrubber)
  POST /v1/upload              reads the whole body (Content-Length or
                               chunked) and answers its size and SHA-256
  GET  /v1/drop?bytes=N        sends a chunked 200, N bytes, then closes
                               the connection without the final chunk

Every request is recorded as one JSON line in --record (method, path,
auth as "vault"/"other"/"none", body bytes), never the secret. Binds
127.0.0.1 only; writes its port to --port-file once listening.
"""
import hashlib
import hmac
import json
import random
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from upstream_common import (HTTP_BACKEND, git_cgi_env, parse_cgi_head,
                             serve_git_upstream)

RECORD_LOCK = threading.Lock()
CHUNK = 1 << 20


def blob_chunks(size, seed):
    """Yields `size` deterministic bytes in pieces of at most CHUNK: piece
    i is random.Random("<seed>:<i>").randbytes(...), fast and the same for
    every reader that uses this function."""
    index = 0
    left = size
    while left > 0:
        piece = random.Random("%s:%d" % (seed, index)).randbytes(
            min(CHUNK, left))
        index += 1
        left -= len(piece)
        yield piece


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    secret = b""
    record_path = None
    repos = None

    def log_message(self, fmt, *args):
        pass

    # Request body -----------------------------------------------------
    def _body_pieces(self):
        """Yields the request body as it arrives (Content-Length or
        chunked transfer coding)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return
                left = size
                while left > 0:
                    data = self.rfile.read(min(left, CHUNK))
                    if not data:
                        raise ConnectionError("body ended early")
                    left -= len(data)
                    yield data
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length", "0") or 0)
            while left > 0:
                data = self.rfile.read(min(left, CHUNK))
                if not data:
                    raise ConnectionError("body ended early")
                left -= len(data)
                yield data

    # Answers ----------------------------------------------------------
    def _reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _start_chunked(self, status, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")

    def _record(self, auth, body_bytes):
        url = urlsplit(self.path)
        record = {"method": self.command, "path": url.path, "auth": auth,
                  "body_bytes": body_bytes}
        with RECORD_LOCK, open(self.record_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _handle(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        presented = self.headers.get("Authorization")
        if presented is None:
            auth = "none"
        elif hmac.compare_digest(presented.encode("latin-1"),
                                 b"Bearer " + self.secret):
            auth = "vault"
        else:
            auth = "other"
        if auth != "vault":
            for _ in self._body_pieces():
                pass
            self._record(auth, 0)
            self._reply(401, b'{"error":"bad credential"}\n')
            return
        if url.path.startswith("/v1/git/"):
            self._git(url)
        elif url.path == "/v1/blob":
            self._record(auth, 0)
            size = int(query.get("bytes", "1024"))
            seed = query.get("seed", "0").encode()
            plants = [int(o) for o in query.get("plant", "").split(",") if o]
            self._start_chunked(200, "application/octet-stream")
            offset = 0
            for piece in blob_chunks(size, seed):
                piece = bytearray(piece)
                for plant in plants:
                    # The part of the secret at `plant` that falls here.
                    for i, byte in enumerate(self.secret):
                        at = plant + i - offset
                        if 0 <= at < len(piece):
                            piece[at] = byte
                offset += len(piece)
                self._chunk(bytes(piece))
            self._end_chunked()
        elif url.path == "/v1/upload":
            digest = hashlib.sha256()
            total = 0
            for piece in self._body_pieces():
                digest.update(piece)
                total += len(piece)
            self._record(auth, total)
            self._reply(200, json.dumps(
                {"bytes": total, "sha256": digest.hexdigest()}).encode())
        elif url.path == "/v1/drop":
            self._record(auth, 0)
            self._start_chunked(200, "application/octet-stream")
            for piece in blob_chunks(int(query.get("bytes", "1024")), b"d"):
                self._chunk(piece)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self._record(auth, 0)
            self._reply(404, b'{"error":"not found"}\n')

    def _git(self, url):
        env = git_cgi_env(self, self.repos, url,
                          self.headers.get("Content-Length") or None)
        backend = subprocess.Popen([HTTP_BACKEND], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=env)
        total = 0

        def feed():
            nonlocal total
            try:
                for piece in self._body_pieces():
                    total += len(piece)
                    backend.stdin.write(piece)
            finally:
                backend.stdin.close()

        feeder = threading.Thread(target=feed)
        feeder.start()
        # The head, line by line until the blank line, as it comes.
        head = iter(lambda: backend.stdout.readline().decode("latin-1").strip(),
                    "")
        status, ctype, headers = parse_cgi_head(
            head, drop=("content-length", "transfer-encoding"))
        self._start_chunked(status, ctype, headers)
        while True:
            data = backend.stdout.read1(CHUNK)
            if not data:
                break
            self._chunk(data)
        self._end_chunked()
        feeder.join()
        backend.wait()
        self._record("vault", total)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle


def main():
    serve_git_upstream(Handler)


if __name__ == "__main__":
    main()
