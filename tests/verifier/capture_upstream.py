"""A loopback HTTP/1.1 server that records every request exactly as it
arrived, for tests/verifier/verify.py to judge.

It parses the wire itself (not http.server) so that nothing is normalized on
the way in: the request-target is kept byte for byte, headers keep their
order, their case and their raw values, and the body is stored as received
(a chunked body is stored de-chunked, with `chunked` set). One JSON line per
request goes to --record:

  {"seq": N, "conn": C, "time": UNIX_SECONDS, "method": "GET",
   "target_b64": ..., "target": (latin-1 text of the same bytes),
   "version": "HTTP/1.1", "headers": [[name, value], ...] (latin-1),
   "body_b64": ..., "chunked": false, "answered": {...}}

Answers are 200 with a small JSON body. Two paths answer like token
endpoints, so that token-minting schemes can be exercised: a POST whose
path ends in "/token" gets an OAuth 2 access token (RFC 6749 section 5.1),
and a POST to /app/installations/ID/access_tokens gets a GitHub App
installation token. Both tokens are fixed strings (--oauth2-token,
--github-token) that the verifier expects on the requests that follow.

The chosen port is written to --port-file (through a rename) once the
server listens. It never checks a credential: judging is verify.py's job.
"""
import argparse
import base64
import json
import os
import re
import socket
import socketserver
import threading
import time

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
IDLE_TIMEOUT_S = 20


class Recorder:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.seq = 0
        self.conn = 0

    def next_conn(self):
        with self.lock:
            self.conn += 1
            return self.conn

    def write(self, record):
        with self.lock:
            self.seq += 1
            record["seq"] = self.seq
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())


class Handler(socketserver.BaseRequestHandler):
    recorder = None
    oauth2_token = ""
    github_token = ""

    def handle(self):
        sock = self.request
        sock.settimeout(IDLE_TIMEOUT_S)
        conn = self.recorder.next_conn()
        buf = b""
        while True:
            try:
                head, buf = self._read_head(sock, buf)
            except (OSError, ValueError):
                return
            if head is None:
                return
            try:
                record, buf, keep_alive = self._parse(sock, head, buf)
            except (OSError, ValueError) as e:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: "
                             + str(len(str(e))).encode() + b"\r\n"
                             b"Connection: close\r\n\r\n" + str(e).encode())
                return
            record["conn"] = conn
            status, answer = self._answer(record)
            record["answered"] = {"status": status}
            self.recorder.write(record)
            payload = json.dumps(answer).encode()
            sock.sendall(
                b"HTTP/1.1 " + str(status).encode() + b" OK\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
                + (b"" if keep_alive else b"Connection: close\r\n")
                + b"\r\n" + payload)
            if not keep_alive:
                return

    @staticmethod
    def _read_head(sock, buf):
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                raise ValueError("head too large")
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    @staticmethod
    def _read_exact(sock, buf, n):
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed inside the body")
            buf += chunk
        return buf[:n], buf[n:]

    def _parse(self, sock, head, buf):
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            raise ValueError("bad request line")
        method, target, version = parts
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError("bad header line")
            # RFC 9110: optional whitespace around the value is not part of
            # it; everything else is kept as sent.
            headers.append([name.decode("latin-1"),
                            value.strip(b" \t").decode("latin-1")])
        lower = {}
        for name, value in headers:
            lower.setdefault(name.lower(), []).append(value)
        chunked = "chunked" in ",".join(
            lower.get("transfer-encoding", [])).lower()
        body = b""
        if chunked:
            while True:
                while b"\r\n" not in buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ValueError("closed in chunk size")
                    buf += chunk
                size_line, _, buf = buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                data, buf = self._read_exact(sock, buf, size + 2)
                if size == 0:
                    # Trailers are not used by the vault; a bare CRLF ends.
                    break
                body += data[:-2]
                if len(body) > MAX_BODY:
                    raise ValueError("body too large")
        elif "content-length" in lower:
            n = int(lower["content-length"][0])
            if n > MAX_BODY:
                raise ValueError("body too large")
            body, buf = self._read_exact(sock, buf, n)
        connection = ",".join(lower.get("connection", [])).lower()
        keep_alive = version == b"HTTP/1.1" and "close" not in connection
        record = {
            "time": time.time(),
            "method": method.decode("latin-1"),
            "target_b64": base64.b64encode(target).decode(),
            "target": target.decode("latin-1"),
            "version": version.decode("latin-1"),
            "headers": headers,
            "body_b64": base64.b64encode(body).decode(),
            "chunked": chunked,
        }
        return record, buf, keep_alive

    def _answer(self, record):
        path = record["target"].split("?", 1)[0]
        if record["method"] == "POST" and path.endswith("/token"):
            return 200, {"access_token": self.oauth2_token,
                         "token_type": "Bearer", "expires_in": 3600}
        if record["method"] == "POST" and re.fullmatch(
                r"(/.*)?/app/installations/[^/]+/access_tokens", path):
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                    time.gmtime(time.time() + 3600))
            return 201, {"token": self.github_token, "expires_at": expires}
        return 200, {"captured": True}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--oauth2-token", default="ya29.verifier-access-token")
    parser.add_argument("--github-token", default="ghs_verifierInstallationToken0")
    args = parser.parse_args()
    Handler.recorder = Recorder(args.record)
    Handler.oauth2_token = args.oauth2_token
    Handler.github_token = args.github_token
    server = Server(("127.0.0.1", 0), Handler)
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
