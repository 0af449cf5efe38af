#!/usr/bin/env python3
"""A loopback HTTP upstream that checks a credential the way a real API does.

Used by templates_e2e_test: each service template is added with
`latchkeyctl add SERVICE --origin=http://127.0.0.1:PORT`, and this server
stands in for the service. It accepts a request only when the credential
arrives in the service's place and form, and otherwise answers 401 with a
service-like error body, so a template with the wrong auth scheme fails.

  --scheme header --name NAME [--prefix P]  header NAME == P + secret
      (GitHub: Authorization / "Bearer "; GitLab: PRIVATE-TOKEN;
       PagerDuty: Authorization / "Token token=")
  --scheme basic --user USER                Authorization: Basic b64(USER:secret)
      (Twilio: the account or API key SID as username)
  --scheme query --name NAME                query parameter NAME == secret
      (Pipedrive: api_token)
  --scheme binance --key-id K               Binance SIGNED endpoints: header
      X-MBX-APIKEY == K, a millisecond "timestamp" parameter within 60 s,
      and a last "signature" parameter == hex HMAC-SHA256(secret, the raw
      query string before it)

The expected secret is read from --secret-file (never argv). Every request
is recorded as one JSON line in --record (method, path, query, headers).
It binds 127.0.0.1 only and writes its port to --port-file once listening.
"""
import argparse
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from upstream_common import serve

LOCK = threading.Lock()


def same(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None
    secret = ""

    def log_message(self, fmt, *args):
        pass

    def authorized(self, query):
        a = self.args
        if a.scheme == "header":
            got = self.headers.get(a.name)
            return got is not None and same(got, a.prefix + self.secret)
        if a.scheme == "basic":
            got = self.headers.get("Authorization", "")
            if not got.startswith("Basic "):
                return False
            try:
                decoded = base64.b64decode(got[6:], validate=True).decode()
            except Exception:  # malformed base64 is a failed login
                return False
            user, _, password = decoded.partition(":")
            return same(user, a.user) and same(password, self.secret)
        if a.scheme == "query":
            values = [v for k, v in query if k == a.name]
            return len(values) == 1 and same(values[0], self.secret)
        if a.scheme == "binance":
            if not same(self.headers.get("X-MBX-APIKEY", ""), a.key_id):
                return False
            raw = urlsplit(self.path).query
            marker = "&signature="
            at = raw.rfind(marker)
            if at < 0 or "&" in raw[at + len(marker):]:
                return False
            signed, signature = raw[:at], raw[at + len(marker):]
            stamps = [v for k, v in parse_qsl(signed) if k == "timestamp"]
            if len(stamps) != 1 or not stamps[0].isdigit():
                return False
            if abs(int(stamps[0]) - time.time() * 1000) > 60000:
                return False
            expected = hmac.new(self.secret.encode(), signed.encode(),
                                hashlib.sha256).hexdigest()
            return same(signature.lower(), expected)
        return False

    def do_GET(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length > 0:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        with LOCK, open(self.args.record, "a") as f:
            f.write(json.dumps({
                "method": self.command,
                "path": url.path,
                "query": dict(query),
                "headers": dict(self.headers.items()),
            }) + "\n")
        if self.authorized(query):
            status, body = 200, {"ok": True, "path": url.path}
        else:
            status, body = 401, {"message": "Bad credentials"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_HEAD = do_GET
    do_POST = do_GET


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scheme", required=True,
                        choices=["header", "basic", "query", "binance"])
    parser.add_argument("--name", default="")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--user", default="")
    parser.add_argument("--key-id", default="")
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    with open(args.secret_file) as f:
        Handler.secret = f.read().strip()
    Handler.args = args
    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
