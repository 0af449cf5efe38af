#!/usr/bin/env python3
"""A canary host for SSRF tests: listens on every --listen HOST:PORT, accepts
connections, appends "HOST:PORT" per connection to --record, and closes them
without answering. Writes --ready once every socket listens. Used inside a
network namespace the test creates (tests/ssrf_netns_test.cc)."""
import argparse
import os
import selectors
import socket
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", action="append", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--ready", required=True)
    args = parser.parse_args()
    sel = selectors.DefaultSelector()
    for spec in args.listen:
        host, port = spec.rsplit(":", 1)
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(16)
        sel.register(sock, selectors.EVENT_READ, spec)
    with open(args.ready + ".tmp", "w") as f:
        f.write("ready")
    os.rename(args.ready + ".tmp", args.ready)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            with open(args.record, "a") as f:
                f.write(key.data + "\n")
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
