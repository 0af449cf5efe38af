#!/usr/bin/env python3
"""A loopback stand-in for Amazon S3 (path-style) that authenticates every
request the way S3 does, for the gateway's aws CLI test.

Each request must carry an AWS Signature Version 4 made with the access
key and secret key in --config; the upstream recomputes it from the request
as received: S3's canonical URI (each path segment URI-encoded once, no
double encoding), sorted canonical query, the signed headers' values, and
the payload hash from x-amz-content-sha256 (a hex SHA-256 must match the
body; UNSIGNED-PAYLOAD is accepted as S3 does). host, x-amz-date and
x-amz-content-sha256 must be signed, the credential scope must be
<date>/<region>/s3/aws4_request for --config's region, and x-amz-date must
be within 15 minutes. Anything else is answered like S3 answers it: 403
with an XML <Error> (InvalidAccessKeyId, SignatureDoesNotMatch,
RequestTimeTooSkewed, ...).

Operations served from the buckets in --config ({"buckets": {name: {key:
text}}, "generated": {name: {key: size}}}; a generated object is the bytes
0..250 repeated to its size):
  GET /                               ListBuckets
  GET /BUCKET?list-type=2&...         ListObjectsV2 (prefix, delimiter,
                                      encoding-type=url)
  GET|HEAD /BUCKET/KEY                GetObject / HeadObject (Range:
                                      bytes=A-B answers 206)
  PUT /BUCKET/KEY                     PutObject (stored in memory)
  other                               404 NoSuchBucket / NoSuchKey, or 405

Every request is one JSON line in --record: method, path, query, all
headers except the signature itself (Authorization is recorded as its
Credential and SignedHeaders), body size, and "verified" (true, or the
reason it was refused). The secret key never leaves this process. Binds
127.0.0.1; writes its port to --port-file once listening.
"""
import argparse
import calendar
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit
from xml.sax.saxutils import escape

from upstream_common import serve

LOCK = threading.Lock()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
LAST_MODIFIED = "2026-01-02T03:04:05.000Z"
LAST_MODIFIED_HTTP = "Fri, 02 Jan 2026 03:04:05 GMT"
OWNER = "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>latchkey-test</DisplayName></Owner>"


class S3Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def enc(text):
    return quote(text, safe="-._~")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config = {}
    buckets = {}
    record_path = None

    def log_message(self, fmt, *args):
        pass

    # -- plumbing ---------------------------------------------------------
    def _reply(self, status, body=b"", ctype="application/xml", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", "LKTEST%010d" % int(time.time()))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, err):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message><Resource>%s</Resource>'
                '<RequestId>LKTEST</RequestId></Error>' % (
                    err.code, escape(err.message), escape(self.url.path)))
        self._reply(err.status, body.encode())

    def _record(self, verified):
        headers = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                # The signature is a credential: keep only what names the
                # key and what was signed.
                parts = self._auth_parts() or {}
                value = {"credential": parts.get("Credential", ""),
                         "signed_headers": parts.get("SignedHeaders", "")}
            headers.setdefault(name.lower(), []).append(value)
        record = {"method": self.command, "path": self.url.path,
                  "query": self.url.query, "headers": headers,
                  "body_bytes": len(self.body), "verified": verified}
        with LOCK, open(self.record_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _handle(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.url = urlsplit(self.path)
        try:
            self.verify_sigv4()
        except S3Error as err:
            self._record(err.message)
            return self._error(err)
        self._record(True)
        try:
            self.serve()
        except S3Error as err:
            self._error(err)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    # -- SigV4, as S3 checks it ---------------------------------------------
    def _auth_parts(self):
        auth = self.headers.get("Authorization", "")
        prefix = "AWS4-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return None
        try:
            return dict(p.strip().split("=", 1)
                        for p in auth[len(prefix):].split(","))
        except ValueError:
            return None

    def verify_sigv4(self):
        cfg = self.config
        if len(self.headers.get_all("Authorization") or []) > 1:
            raise S3Error(400, "InvalidArgument", "more than one Authorization header")
        parts = self._auth_parts()
        if parts is None:
            raise S3Error(403, "AccessDenied", "no AWS4-HMAC-SHA256 Authorization header")
        try:
            akid, date, region, service, term = parts["Credential"].split("/")
        except (KeyError, ValueError):
            raise S3Error(400, "AuthorizationHeaderMalformed", "bad Credential")
        if akid != cfg["access_key_id"]:
            raise S3Error(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.")
        if region != cfg["region"] or service != "s3" or term != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "the credential scope must be DATE/%s/s3/aws4_request" % cfg["region"])
        for name in ("X-Amz-Date", "X-Amz-Content-Sha256"):
            if len(self.headers.get_all(name) or []) != 1:
                raise S3Error(400, "InvalidArgument", "exactly one %s header needed" % name)
        amz_date = self.headers["X-Amz-Date"]
        try:
            stamp = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise S3Error(403, "AccessDenied", "bad X-Amz-Date")
        if abs(stamp - time.time()) > 900 or amz_date[:8] != date:
            raise S3Error(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the current time is too large.")
        payload = self.headers["X-Amz-Content-Sha256"]
        if payload != "UNSIGNED-PAYLOAD":
            if payload != hashlib.sha256(self.body).hexdigest():
                raise S3Error(400, "XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header does not match what was computed.")
        signed = parts.get("SignedHeaders", "").split(";")
        if signed != sorted(signed) or not {"host", "x-amz-date",
                                            "x-amz-content-sha256"} <= set(signed):
            raise S3Error(403, "AccessDenied",
                          "host, x-amz-date and x-amz-content-sha256 must be signed, sorted")
        values = {}
        for name, value in self.headers.items():
            values.setdefault(name.lower(), []).append(" ".join(value.split()))
        for name in signed:
            if name not in values:
                raise S3Error(403, "AccessDenied", "signed header %s is missing" % name)
        canon_headers = "".join("%s:%s\n" % (h, ",".join(values[h])) for h in signed)
        # S3: each segment of the path as sent, URI-encoded once.
        canon_uri = "/".join(enc(unquote(seg)) for seg in self.url.path.split("/"))
        query = sorted((enc(k), enc(v)) for k, v in
                       parse_qsl(self.url.query, keep_blank_values=True))
        canon_query = "&".join("%s=%s" % kv for kv in query)
        creq = "\n".join([self.command, canon_uri, canon_query, canon_headers,
                          ";".join(signed), payload])
        scope = "/".join([date, region, service, term])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ("AWS4" + cfg["secret_access_key"]).encode()
        for part in (date, region, service, term):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts.get("Signature", "")):
            raise S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match "
                          "the signature you provided. Check your key and signing method.")

    # -- S3 operations ------------------------------------------------------
    def serve(self):
        segments = self.url.path.split("/", 2)  # "", bucket, key
        bucket = unquote(segments[1]) if len(segments) > 1 else ""
        key = unquote(segments[2]) if len(segments) > 2 else ""
        query = dict(parse_qsl(self.url.query, keep_blank_values=True))
        if not bucket:
            if self.command != "GET":
                raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            return self.list_buckets()
        with LOCK:
            objects = self.buckets.get(bucket)
        if objects is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        if not key:
            if self.command == "GET" and query.get("list-type") == "2":
                return self.list_objects_v2(bucket, objects, query)
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        if self.command == "PUT":
            with LOCK:
                objects[key] = self.body.decode("utf-8", "replace")
            return self._reply(200, headers=[("ETag", self.etag(self.body))])
        if self.command not in ("GET", "HEAD"):
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        if key not in objects:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        data = objects[key]
        data = data if isinstance(data, bytes) else data.encode()
        headers = [("ETag", self.etag(data)),
                   ("Last-Modified", LAST_MODIFIED_HTTP),
                   ("Accept-Ranges", "bytes")]
        status, ranged = 200, self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged[len("bytes="):].partition("-")
            first = int(first)
            last = min(int(last) if last else len(data) - 1, len(data) - 1)
            if first > last:
                raise S3Error(416, "InvalidRange", "The requested range is not satisfiable")
            headers.append(("Content-Range", "bytes %d-%d/%d" % (first, last, len(data))))
            status, data = 206, data[first:last + 1]
        self._reply(status, data, ctype="application/octet-stream", headers=headers)

    @staticmethod
    def etag(data):
        return '"%s"' % hashlib.md5(data).hexdigest()

    def list_buckets(self):
        with LOCK:
            names = sorted(self.buckets)
        items = "".join("<Bucket><Name>%s</Name><CreationDate>%s</CreationDate></Bucket>"
                        % (escape(n), LAST_MODIFIED) for n in names)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                '%s<Buckets>%s</Buckets></ListAllMyBucketsResult>' % (OWNER, items))
        self._reply(200, body.encode())

    def list_objects_v2(self, bucket, objects, query):
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        url = query.get("encoding-type") == "url"
        out = (lambda s: escape(quote_plus(s, safe="/"))) if url else escape
        contents, prefixes = [], set()
        with LOCK:
            keys = sorted(objects.items())
        for key, text in keys:
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                continue
            data = text if isinstance(text, bytes) else text.encode()
            contents.append(
                "<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>"
                "</Contents>" % (out(key), LAST_MODIFIED,
                                 escape(self.etag(data)), len(data)))
        common = "".join("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>"
                         % out(p) for p in sorted(prefixes))
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                '<Name>%s</Name><Prefix>%s</Prefix>%s<KeyCount>%d</KeyCount>'
                '<MaxKeys>1000</MaxKeys>%s<IsTruncated>false</IsTruncated>%s%s'
                '</ListBucketResult>' % (
                    escape(bucket), out(prefix),
                    "<Delimiter>%s</Delimiter>" % out(delimiter) if delimiter else "",
                    len(contents) + len(prefixes),
                    "<EncodingType>url</EncodingType>" if url else "",
                    "".join(contents), common))
        self._reply(200, body.encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    with open(args.config) as f:
        Handler.config = json.load(f)
    Handler.buckets = Handler.config.get("buckets", {})
    for bucket, objects in Handler.config.get("generated", {}).items():
        for key, size in objects.items():
            Handler.buckets.setdefault(bucket, {})[key] = (
                bytes(range(251)) * (size // 251 + 1))[:size]
    Handler.record_path = args.record
    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
