#!/usr/bin/env python3
"""A loopback HTTP/1.1 upstream for the vault's streaming egress tests
(vault/egress_stream_test.cc).

Endpoints (query parameters in brackets):
  GET  /download[bytes=N]   N bytes of Pattern(), with Content-Length
  GET  /chunked[bytes=N]    the same, chunked transfer encoding
  GET  /planted[size=N&every=K]  N bytes of '.', with the bearer token from
                            the Authorization header written across every
                            K-byte boundary (split in two writes there)
  GET  /disconnect[bytes=N] announces 2N bytes, sends N, closes
  GET  /redirect[to=PATH&status=S]  answers S with Location: PATH
  POST|PUT /upload          reads the body (Content-Length or chunked) and
                            answers {"bytes":..,"sha256":..,"chunked":..}
  POST /redirect307         reads the body; 307 to /upload
  GET  /stats               {"aborted": how many pattern bodies failed to
                            send because the client closed the connection}
Writes its port to --port-file once listening.
"""
import argparse
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from upstream_common import serve


def pattern_block():
    # 1 MiB of a byte pattern the C++ test regenerates (PatternBytes).
    return bytes(((i * 131) + (i >> 9)) & 0xFF for i in range(1 << 20))


BLOCK = pattern_block()
STATS_LOCK = threading.Lock()
STATS = {"aborted": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _query(self):
        url = urlsplit(self.path)
        return url.path, dict(parse_qsl(url.query))

    def _send_pattern(self, total, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        try:
            while sent < total:
                n = min(len(BLOCK), total - sent)
                piece = BLOCK[:n]
                if chunked:
                    self.wfile.write(b"%x\r\n" % n + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                sent += n
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            with STATS_LOCK:
                STATS["aborted"] += 1
            self.close_connection = True

    def _read_body(self):
        h = hashlib.sha256()
        total = 0
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "")
        if chunked:
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 1 << 20))
                    h.update(data)
                    left -= len(data)
                total += size
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0") or 0)
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    break
                h.update(data)
                total += len(data)
                left -= len(data)
        return total, h.hexdigest(), chunked

    def _json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        path, q = self._query()
        if path == "/download":
            self._send_pattern(int(q.get("bytes", "0")), False)
        elif path == "/chunked":
            self._send_pattern(int(q.get("bytes", "0")), True)
        elif path == "/planted":
            token = self.headers.get("Authorization", "").split(" ", 1)[-1]
            size = int(q.get("size", "1048576"))
            every = int(q.get("every", "16384"))
            body = bytearray(b"." * size)
            cuts = []
            for boundary in range(every, size - len(token), every):
                start = boundary - len(token) // 2
                body[start:start + len(token)] = token.encode()
                cuts.append(boundary)
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("X-Planted", str(len(cuts)))
            self.end_headers()
            last = 0
            for cut in cuts:
                self.wfile.write(bytes(body[last:cut]))
                self.wfile.flush()
                last = cut
            self.wfile.write(bytes(body[last:]))
        elif path == "/disconnect":
            n = int(q.get("bytes", "0"))
            self.send_response(200)
            self.send_header("Content-Length", str(2 * n))
            self.end_headers()
            self.wfile.write(BLOCK[:n] if n <= len(BLOCK) else b"x" * n)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path == "/redirect":
            self.send_response(int(q.get("status", "302")))
            self.send_header("Location", q.get("to", "/download?bytes=10"))
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"redirect body")
        elif path == "/redirect307":
            self._read_body()
            self.send_response(307)
            self.send_header("Location", "/upload")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/stats":
            with STATS_LOCK:
                self._json(200, dict(STATS))
        elif path == "/upload":
            total, digest, chunked = self._read_body()
            self._json(200, {"bytes": total, "sha256": digest,
                             "chunked": chunked})
        else:
            self._json(404, {"error": "no such endpoint"})

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_HEAD = _handle


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    serve(Handler, args.port_file, daemon_threads=True)


if __name__ == "__main__":
    main()
