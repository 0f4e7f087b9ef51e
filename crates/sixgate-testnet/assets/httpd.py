#!/usr/bin/env python3
"""Test HTTP server for sixgate's e2e tests and demo (IPv6, [::]:PORT).

GET  /file/<N>          N deterministic pseudo-random bytes (splitmix64 seeded
                        with N, 8 bytes little-endian per step, truncated to N;
                        mirrored by sixgate_testnet::file_bytes)
GET  /                  a one-line greeting naming the client address
PUT|POST /upload        replies with the hex SHA-256 of the body it received

Logs one line per request to stdout, with the client address exactly as the
server's socket saw it:
  client=2001:db8:64::c000:20a method=GET path=/file/1048576 status=200 bytes=1048576
"""
import argparse
import hashlib
import socket
import sys
from array import array
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MASK = (1 << 64) - 1
MAX_FILE = 1 << 30
CHUNK_WORDS = 8192  # 64 KiB per write


def file_chunks(n):
    """Yields the N bytes of /file/N in chunks."""
    state = n
    left = n
    while left > 0:
        words = min(CHUNK_WORDS, (left + 7) // 8)
        out = array("Q")
        for _ in range(words):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            out.append(z ^ (z >> 31))
        if sys.byteorder != "little":
            out.byteswap()
        data = out.tobytes()[:left]
        left -= len(data)
        yield data


def log(**fields):
    print(" ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sixgate-test-httpd/1"

    def log_message(self, format, *args):  # noqa: A002 - quiet default log
        pass

    def client(self):
        return self.client_address[0]

    def reply(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        # A query string (e.g. curl's URL globbing, /?n=[1-2000]) only
        # makes requests distinct; the log shows it.
        if path.split("?", 1)[0] == "/":
            body = f"hello from the IPv6-only server; you are {self.client()}\n".encode()
            self.reply(200, body)
            log(client=self.client(), method="GET", path=path, status=200, bytes=len(body))
            return
        if path.startswith("/file/"):
            try:
                n = int(path[len("/file/"):])
            except ValueError:
                n = -1
            if n < 0 or n > MAX_FILE:
                self.reply(400, b"bad size\n")
                log(client=self.client(), method="GET", path=path, status=400, bytes=0)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            sent = 0
            for chunk in file_chunks(n):
                self.wfile.write(chunk)
                sent += len(chunk)
            log(client=self.client(), method="GET", path=path, status=200, bytes=sent)
            return
        self.reply(404, b"not found\n")
        log(client=self.client(), method="GET", path=path, status=404, bytes=0)

    def read_body(self, digest):
        """Feeds the request body to digest; returns its length."""
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                self.read_exact(size, digest)
                total += size
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        self.read_exact(left, digest)
        return total + left

    def read_exact(self, n, digest):
        """Feeds exactly n body bytes to digest."""
        while n:
            data = self.rfile.read(min(n, 65536))
            if not data:
                raise ConnectionError("body truncated")
            digest.update(data)
            n -= len(data)

    def do_upload(self):
        if self.path != "/upload":
            self.reply(404, b"not found\n")
            log(client=self.client(), method=self.command, path=self.path, status=404, bytes=0)
            return
        digest = hashlib.sha256()
        n = self.read_body(digest)
        hexd = digest.hexdigest()
        self.reply(200, (hexd + "\n").encode())
        log(client=self.client(), method=self.command, path=self.path, status=200, bytes=n,
            sha256=hexd)

    do_PUT = do_upload
    do_POST = do_upload


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="::")
    args = ap.parse_args()
    srv = Server((args.bind, args.port), Handler)
    print(f"httpd: listening on [{args.bind}]:{args.port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
