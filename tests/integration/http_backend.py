"""A small HTTP/1.1 backend for the proxy tests (python's http.server).

    python3 http_backend.py NAME PORT

  /echo*      the request line and headers it got, one a line, and the body's length
  /chunked*   a chunked body of ?N pieces
  /old*       an HTTP/1.0-style answer without a length, ended by closing
  /conns*     how many connections it accepted so far
  anything else "hello from NAME"
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, PORT = sys.argv[1], int(sys.argv[2])
accepted = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global accepted
        with lock:
            accepted += 1
        super().setup()

    def log_message(self, *args):
        pass

    def answer(self, body, extra=()):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Backend", NAME)
        self.send_header("Connection", "keep-alive, X-Private")
        self.send_header("X-Private", "hop")
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/echo"):
            lines = [self.requestline] + [f"{k}: {v}" for k, v in self.headers.items()]
            lines.append(f"body {len(body)}")
            self.answer(("\n".join(lines) + "\n").encode())
        elif self.path.startswith("/chunked"):
            n = int(self.path.partition("?")[2] or "3")
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                piece = f"piece {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/old"):
            self.close_connection = True
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold style\n")
        elif self.path.startswith("/status/"):
            self.send_response(int(self.path[len("/status/"):]))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/sleep/"):
            time.sleep(float(self.path[len("/sleep/"):]))
            self.answer(b"late\n")
        elif self.path.startswith("/conns"):
            self.answer(f"{accepted}\n".encode())
        else:
            self.answer(f"hello from {NAME}\n".encode())

    do_GET = do_POST = do_HEAD = do_PUT = handle_any


srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.daemon_threads = True
print("ready", flush=True)
srv.serve_forever()
