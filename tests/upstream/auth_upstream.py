#!/usr/bin/env python3
"""A loopback upstream that verifies each Latchkey auth scheme the way the
real service does, for the vault's auth scheme end-to-end tests.

Paths (any suffix after the prefix is allowed):
  /hmac/...     HMAC-SHA256 of X-Timestamp + method + path?query + body,
                hex in X-Signature, key id in X-Api-Key, timestamp within
                5 minutes (exchange style).
  /aws/...      AWS Signature Version 4, recomputed from the request as
                received (canonical request, scope, signing key), date
                within 15 minutes, session token if configured.
  /oauth1/...   OAuth 1.0a HMAC-SHA1 (RFC 5849 3.4), base string rebuilt
                from the Host header, query and form body; timestamp within
                5 minutes; nonces may not repeat.
  /oauth/token  OAuth2 token endpoint: client_credentials (client id and
                secret by HTTP Basic or in the form) and refresh_token
                grants; issues random tokens with --oauth2-lifetime seconds.
                Also the JWT-bearer grant (RFC 7523) as Google runs it: the
                assertion is verified with PyJWT against the service
                account's public key (RS256, kid, iss, aud = this endpoint's
                URL, scope, sub, exp - iat <= 1 hour, not expired).
  /oauth/rotating-token
                refresh_token grant that rotates: every refresh answers a
                new refresh_token and the one used is refused from then on
                (invalid_grant), as providers that rotate do.
  /rotated      JSON list of the refresh tokens /oauth/rotating-token
                issued (for leak checks).
  /oauth2/...   requires "Bearer <unexpired issued OAuth2 token>".
  /app/installations/<id>/access_tokens
                GitHub: verifies the RS256 JWT with the app's public key
                (iss = app id, exp - iat <= 10 min, not expired), issues an
                installation token expiring in --github-lifetime seconds.
  /github/...   requires "Bearer <unexpired installation token>".
  /stats        JSON counts of tokens issued (to check caching).
A verified request gets 200 and a JSON body that echoes the Authorization
header (so tests can check the vault scrubs it); a failed one gets 401 with
{"why": ...}. Secrets to verify with come from --config (JSON). Binds
127.0.0.1; with --cert/--key it serves HTTPS. Writes its port to
--port-file once listening.
"""
import argparse
import base64
import calendar
import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from upstream_common import serve

LOCK = threading.Lock()
ISSUED = {"oauth2": {}, "github": {}}  # token -> expiry (unix seconds)
COUNTS = {"oauth2": 0, "github": 0, "jwt_bearer": 0, "rotations": 0,
          "refused_refresh": 0}
NONCES = set()
# The rotating endpoint's one valid refresh token (None: the configured
# initial one) and every refresh token it has issued.
ROTATING = {"current": None, "issued": []}


def enc(text):
    return quote(text, safe="-._~")


class Denied(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config = {}
    scheme = "http"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.url = urlsplit(self.path)
        try:
            path = self.url.path
            if path.startswith("/moved/"):
                # A same-origin redirect: the next hop must be signed for
                # its own path (checked by verify_hmac there).
                self.send_response(302)
                self.send_header("Location", "/hmac/" + path[len("/moved/"):])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path.startswith("/hmac/"):
                self.verify_hmac()
            elif path.startswith("/aws/"):
                self.verify_sigv4()
            elif path.startswith("/oauth1/"):
                self.verify_oauth1()
            elif path == "/oauth/token":
                return self.oauth2_token()
            elif path == "/oauth/rotating-token":
                return self.rotating_token()
            elif path == "/rotated":
                with LOCK:
                    return self._reply(200, {"issued": list(ROTATING["issued"])})
            elif path.startswith("/oauth2/"):
                self.verify_bearer("oauth2")
            elif path.startswith("/app/installations/"):
                return self.github_token()
            elif path.startswith("/github/"):
                self.verify_bearer("github")
            elif path == "/stats":
                with LOCK:
                    return self._reply(200, dict(COUNTS))
            else:
                raise Denied("unknown path")
        except Denied as e:
            return self._reply(401, {"why": str(e)})
        self._reply(200, {"verified": True,
                          "echo": self.headers.get("Authorization", ""),
                          "signature": self.headers.get("X-Signature", "")})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    # -- HMAC (exchange style) ---------------------------------------------
    def verify_hmac(self):
        cfg = self.config["hmac"]
        ts = self.headers.get("X-Timestamp", "")
        if self.headers.get("X-Api-Key") != cfg["key_id"]:
            raise Denied("unknown key id")
        if not ts.isdigit() or abs(int(ts) - time.time()) > 300:
            raise Denied("timestamp missing or outside 5 minutes")
        canonical = (ts + self.command + self.path).encode() + self.body
        want = hmac.new(cfg["key"].encode(), canonical, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, self.headers.get("X-Signature", "")):
            raise Denied("bad HMAC signature")

    # -- AWS SigV4 ------------------------------------------------------------
    def verify_sigv4(self):
        cfg = self.config["aws"]
        auth = self.headers.get("Authorization", "")
        prefix = "AWS4-HMAC-SHA256 "
        if not auth.startswith(prefix):
            raise Denied("not SigV4")
        parts = dict(p.strip().split("=", 1) for p in auth[len(prefix):].split(","))
        akid, date, region, service, term = parts["Credential"].split("/")
        if akid != cfg["access_key_id"] or term != "aws4_request":
            raise Denied("unknown access key")
        amz_date = self.headers.get("X-Amz-Date", "")
        stamp = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        if abs(stamp - time.time()) > 900 or amz_date[:8] != date:
            raise Denied("request time too skewed")
        if cfg.get("session_token") and \
                self.headers.get("X-Amz-Security-Token") != cfg["session_token"]:
            raise Denied("bad session token")
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise Denied("host and x-amz-date must be signed")
        lowered = {}
        for k, v in self.headers.items():
            lowered.setdefault(k.lower(), []).append(" ".join(v.split()))
        canon_headers = "".join(
            "%s:%s\n" % (h, ",".join(lowered.get(h, []))) for h in signed)
        # Non-S3 services double-encode the path as received.
        canon_uri = "/".join(enc(seg) for seg in self.url.path.split("/"))
        query = sorted((enc(k), enc(v)) for k, v in
                       parse_qsl(self.url.query, keep_blank_values=True))
        canon_query = "&".join("%s=%s" % kv for kv in query)
        payload = hashlib.sha256(self.body).hexdigest()
        creq = "\n".join([self.command, canon_uri, canon_query, canon_headers,
                          ";".join(signed), payload])
        scope = "/".join([date, region, service, "aws4_request"])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ("AWS4" + cfg["secret_access_key"]).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts.get("Signature", "")):
            raise Denied("SigV4 signature does not match")

    # -- OAuth 1.0a -------------------------------------------------------------
    def verify_oauth1(self):
        cfg = self.config["oauth1"]
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            raise Denied("not OAuth")
        params = {}
        for item in auth[6:].split(","):
            k, v = item.strip().split("=", 1)
            params[k] = unquote(v.strip('"'))
        params.pop("realm", None)
        signature = params.pop("oauth_signature", "")
        if params.get("oauth_consumer_key") != cfg["consumer_key"] or \
                params.get("oauth_token") != cfg["token"] or \
                params.get("oauth_signature_method") != "HMAC-SHA1":
            raise Denied("unknown consumer or token")
        if abs(int(params.get("oauth_timestamp", "0")) - time.time()) > 300:
            raise Denied("stale timestamp")
        with LOCK:
            nonce = (params["oauth_timestamp"], params.get("oauth_nonce"))
            if nonce in NONCES:
                raise Denied("nonce replayed")
            NONCES.add(nonce)
        pairs = list(params.items())
        pairs += parse_qsl(self.url.query, keep_blank_values=True)
        if self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"):
            pairs += parse_qsl(self.body.decode(), keep_blank_values=True)
        norm = "&".join("%s=%s" % kv for kv in sorted(
            (enc(k), enc(v)) for k, v in pairs))
        base_uri = "%s://%s%s" % (self.scheme, self.headers["Host"].lower(),
                                  self.url.path)
        base = "&".join([self.command, enc(base_uri), enc(norm)])
        key = enc(cfg["consumer_secret"]) + "&" + enc(cfg["token_secret"])
        want = base64.b64encode(hmac.new(key.encode(), base.encode(),
                                         hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, signature):
            raise Denied("OAuth1 signature does not match")

    # -- OAuth2 token endpoint and bearer checks ------------------------------
    def issue(self, kind, lifetime):
        token = kind + "_" + secrets.token_hex(16)
        with LOCK:
            ISSUED[kind][token] = time.time() + lifetime
            COUNTS[kind] += 1
        return token

    def verify_bearer(self, kind):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        with LOCK:
            expiry = ISSUED[kind].get(token)
        if expiry is None or expiry < time.time():
            raise Denied("unknown or expired %s token" % kind)

    def client_ok(self, cfg, form):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, csecret = base64.b64decode(auth[6:]).decode().partition(":")
            cid, csecret = unquote(cid.replace("+", " ")), unquote(csecret.replace("+", " "))
        else:
            cid, csecret = form.get("client_id", ""), form.get("client_secret", "")
        return cid == cfg["client_id"] and hmac.compare_digest(
            csecret, cfg["client_secret"])

    def rotating_token(self):
        cfg = self.config["oauth2"]
        form = dict(parse_qsl(self.body.decode(), keep_blank_values=True))
        if not self.client_ok(cfg, form):
            return self._reply(401, {"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token":
            return self._reply(400, {"error": "unsupported_grant_type"})
        with LOCK:
            current = ROTATING["current"] or cfg["rotating_refresh_token"]
            if not hmac.compare_digest(form.get("refresh_token", ""), current):
                COUNTS["refused_refresh"] += 1
                return self._reply(400, {"error": "invalid_grant"})
            fresh = "rt_" + secrets.token_hex(16)
            ROTATING["current"] = fresh
            ROTATING["issued"].append(fresh)
            COUNTS["rotations"] += 1
        lifetime = int(cfg.get("lifetime", 3600))
        self._reply(200, {"access_token": self.issue("oauth2", lifetime),
                          "token_type": "Bearer", "expires_in": lifetime,
                          "refresh_token": fresh})

    def jwt_bearer(self, form):
        cfg = self.config["google"]
        assertion = form.get("assertion", "")
        # aud must be this endpoint's own URL, as the vault was configured.
        aud = "%s://%s/oauth/token" % (self.scheme, self.headers["Host"])
        try:
            header = pyjwt.get_unverified_header(assertion)
            claims = pyjwt.decode(
                assertion, cfg["public_key"], algorithms=["RS256"],
                audience=aud, issuer=cfg["client_email"],
                options={"require": ["iss", "aud", "iat", "exp", "scope"]})
        except pyjwt.PyJWTError as e:
            return self._reply(400, {"error": "invalid_grant",
                                     "error_description": str(e)})
        now = time.time()
        if header.get("typ") != "JWT" or \
                header.get("kid") != cfg["private_key_id"] or \
                claims["scope"] != cfg["scope"] or \
                claims.get("sub", "") != cfg.get("subject", "") or \
                claims["exp"] - claims["iat"] > 3600 or \
                claims["iat"] > now + 60:
            return self._reply(400, {"error": "invalid_grant"})
        with LOCK:
            COUNTS["jwt_bearer"] += 1
        lifetime = int(cfg.get("lifetime", 3600))
        self._reply(200, {"access_token": self.issue("oauth2", lifetime),
                          "token_type": "Bearer", "expires_in": lifetime})

    def oauth2_token(self):
        cfg = self.config["oauth2"]
        form = dict(parse_qsl(self.body.decode(), keep_blank_values=True))
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.jwt_bearer(form)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, csecret = base64.b64decode(auth[6:]).decode().partition(":")
            cid, csecret = unquote(cid.replace("+", " ")), unquote(csecret.replace("+", " "))
        else:
            cid, csecret = form.get("client_id", ""), form.get("client_secret", "")
        if cid != cfg["client_id"] or not hmac.compare_digest(
                csecret, cfg["client_secret"]):
            return self._reply(401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("refresh_token") != cfg["refresh_token"]:
                return self._reply(400, {"error": "invalid_grant"})
        elif grant != "client_credentials":
            return self._reply(400, {"error": "unsupported_grant_type"})
        if form.get("scope", "") != cfg.get("scope", ""):
            return self._reply(400, {"error": "invalid_scope"})
        lifetime = int(cfg.get("lifetime", 3600))
        self._reply(200, {"access_token": self.issue("oauth2", lifetime),
                          "token_type": "Bearer", "expires_in": lifetime})

    # -- GitHub App -----------------------------------------------------------
    def github_token(self):
        cfg = self.config["github"]
        parts = self.url.path.split("/")
        if len(parts) != 5 or parts[3] != cfg["installation_id"] or \
                parts[4] != "access_tokens" or self.command != "POST":
            return self._reply(404, {"message": "Not Found"})
        auth = self.headers.get("Authorization", "")
        jwt = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        try:
            head_b64, claims_b64, sig_b64 = jwt.split(".")
            pad = lambda s: s + "=" * (-len(s) % 4)
            header = json.loads(base64.urlsafe_b64decode(pad(head_b64)))
            claims = json.loads(base64.urlsafe_b64decode(pad(claims_b64)))
            key = serialization.load_pem_public_key(cfg["public_key"].encode())
            key.verify(base64.urlsafe_b64decode(pad(sig_b64)),
                       (head_b64 + "." + claims_b64).encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # any parse or signature failure
            return self._reply(401, {"message": "A JSON web token could not be decoded"})
        now = time.time()
        if header.get("alg") != "RS256" or str(claims.get("iss")) != cfg["app_id"] \
                or claims["exp"] - claims["iat"] > 600 or claims["exp"] < now \
                or claims["iat"] > now + 60:
            return self._reply(401, {"message": "'Expiration time' claim ('exp') is invalid"})
        lifetime = int(cfg.get("lifetime", 3600))
        token = self.issue("github", lifetime)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + lifetime))
        self._reply(201, {"token": token, "expires_at": expires})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    with open(args.config) as f:
        Handler.config = json.load(f)

    def tls(server):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        Handler.scheme = "https"

    serve(Handler, args.port_file, setup=tls if args.cert else None)


if __name__ == "__main__":
    main()
