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
  GET|POST /coded[coding=C&repeat=N]  reflects the bearer token from the
                            Authorization header raw, base64, hex and
                            percent-encoded in N JSON lines, sent with the
                            coding C whatever the request's Accept-Encoding:
                            gzip, deflate, br, zstd, gzip-gzip (nested),
                            te-gzip (Transfer-Encoding: gzip, chunked),
                            x-custom (the plain body labelled with an unknown
                            coding), corrupt-gzip (bytes flipped mid-stream),
                            gzip-trailing (the token in clear after the gzip
                            stream), gzip-cut (a gzip stream that stops half
                            way through the token). X-Seen-Accept-Encoding
                            says what the request asked for ("(none)" if
                            nothing).
  GET|POST /headers         reads the body; answers {"method", "headers"
                            (all but Authorization), "body_bytes"}
Writes its port to --port-file once listening.
"""
import argparse
import base64
import gzip
import hashlib
import json
import socket
import subprocess
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from upstream_common import serve

try:
    import brotli  # Debian's python3-brotli (dev.sh TEST_PACKAGES)
except ImportError:
    brotli = None


def pattern_block():
    # 1 MiB of a byte pattern the C++ test regenerates (PatternBytes).
    return bytes(((i * 131) + (i >> 9)) & 0xFF for i in range(1 << 20))


def encode(coding, data):
    """(Content-Encoding or None, Transfer-Encoding or None, bytes)."""
    if coding == "gzip":
        return "gzip", None, gzip.compress(data)
    if coding == "deflate":
        return "deflate", None, zlib.compress(data)
    if coding == "br":
        if brotli is None:
            raise RuntimeError("python3-brotli is not installed")
        return "br", None, brotli.compress(data)
    if coding == "zstd":
        out = subprocess.run(["zstd", "-q", "-c"], input=data,
                             capture_output=True, check=True).stdout
        return "zstd", None, out
    if coding == "gzip-gzip":
        return "gzip, gzip", None, gzip.compress(gzip.compress(data))
    if coding == "te-gzip":
        return None, "gzip, chunked", gzip.compress(data)
    if coding == "x-custom":
        return "x-custom", None, data
    if coding == "corrupt-gzip":
        body = bytearray(gzip.compress(data))
        for i in range(20, min(len(body) - 8, 60)):
            body[i] ^= 0x5A
        return "gzip", None, bytes(body)
    if coding == "gzip-cut":
        # A gzip stream that stops (no final block, no trailer) half way
        # through the token: what it decodes to ends with the token's
        # first half.
        token = data.split(b'"raw": "', 1)[1].split(b'"', 1)[0]
        c = zlib.compressobj(wbits=31)
        cut = b"cut here: " + token[:len(token) // 2]
        return "gzip", None, c.compress(cut) + c.flush(zlib.Z_SYNC_FLUSH)
    if coding == "gzip-trailing":
        token = data.split(b'"raw": "', 1)[1].split(b'"', 1)[0]
        return "gzip", None, gzip.compress(data) + token
    raise ValueError("unknown coding " + coding)


def reflected_forms(token):
    """One JSON line carrying `token` (bytes) in every form the vault
    scrubs."""
    from urllib.parse import quote
    return json.dumps({
        "raw": token.decode("latin-1"),
        "base64": base64.b64encode(token).decode(),
        "hex": token.hex(),
        "percent": quote(token.decode("latin-1"), safe=""),
    }).encode() + b"\n"


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

    def _coded(self, q):
        self._read_body()
        token = self.headers.get("Authorization", "").split(" ", 1)[-1]
        plain = reflected_forms(token.encode()) * int(q.get("repeat", "1"))
        content_coding, transfer_coding, body = encode(q.get("coding"), plain)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("X-Seen-Accept-Encoding",
                         self.headers.get("Accept-Encoding", "(none)"))
        if content_coding:
            self.send_header("Content-Encoding", content_coding)
        if transfer_coding:
            self.send_header("Transfer-Encoding", transfer_coding)
            self.end_headers()
            self.wfile.write(b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _handle(self):
        path, q = self._query()
        if path == "/coded":
            self._coded(q)
        elif path == "/headers":
            total, _, _ = self._read_body()
            self._json(200, {
                "method": self.command,
                "headers": [[k, v] for k, v in self.headers.items()
                            if k.lower() != "authorization"],
                "body_bytes": total})
        elif path == "/download":
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
