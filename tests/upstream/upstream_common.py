"""What the loopback upstream scripts in tests/upstream share: starting the
server and telling the test its port, and running `git http-backend` as
CGI. Imported by the scripts next to it (Python puts a script's own
directory first on sys.path); a test target that runs one of them lists
this file in its data too.
"""
import argparse
import os
from http.server import ThreadingHTTPServer

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def serve(handler_class, port_file, daemon_threads=False, setup=None):
    """Serves `handler_class` on 127.0.0.1 at a port the kernel picks, and
    writes that port to `port_file` once listening (through a .tmp file and
    a rename, so the test never reads half a number). `setup(server)`, if
    given, runs before the port is written (e.g. to wrap the socket in TLS).
    Never returns."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = daemon_threads
    if setup is not None:
        setup(server)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


def serve_git_upstream(handler_class):
    """main() of the git upstreams (git_upstream.py, stream_upstream.py):
    their flags --port-file, --record, --secret-file (the credential they
    accept) and --repos (the bare repositories), set on `handler_class` as
    record_path, secret (bytes) and repos, then serve(). Never returns."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--repos", required=True)
    args = parser.parse_args()
    with open(args.secret_file, "rb") as f:
        handler_class.secret = f.read().strip()
    handler_class.record_path = args.record
    handler_class.repos = args.repos
    serve(handler_class, args.port_file)


def git_cgi_env(handler, repos, url, content_length):
    """The CGI environment for `git http-backend` answering `handler`'s
    request for `url` (urlsplit of its path, under /v1/git) from the bare
    repositories under `repos`, authenticated so that a push is allowed.
    `content_length` is the request body's size as a string, or None when
    it is not known up front."""
    env = {
        "PATH": "/usr/bin:/bin",
        "GIT_PROJECT_ROOT": repos,
        "GIT_HTTP_EXPORT_ALL": "1",
        "REMOTE_USER": "latchkey-vault",  # authenticated: push allowed
        "REQUEST_METHOD": handler.command,
        "PATH_INFO": url.path[len("/v1/git"):],
        "QUERY_STRING": url.query,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if content_length is not None:
        env["CONTENT_LENGTH"] = content_length
    if handler.headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = handler.headers["Content-Encoding"]
    if handler.headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = handler.headers["Git-Protocol"]
    return env


def parse_cgi_head(lines, drop=()):
    """Parses the header lines a CGI program printed (str, without the blank
    line that ends them) into (status, content type, other headers as
    (name, value) pairs), leaving out the names (lower case) in `drop`."""
    status, ctype, headers = 200, "application/octet-stream", []
    for line in lines:
        name, _, value = line.partition(":")
        value = value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name.lower() == "content-type":
            ctype = value
        elif name and name.lower() not in drop:
            headers.append((name, value))
    return status, ctype, headers
