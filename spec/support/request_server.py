#!/usr/bin/env python3
"""HTTP/1.1 peer for spec/request_spec.lua (python's http.server, keep-alive).

Prints its port, then serves on 127.0.0.1 until killed or for 60 s at most.
Paths:
  /hello            "hello", with x-peer: the client's port (tells connections apart)
  /echo             a text dump: method, target, headers, then the body
  /big?n=N          N bytes of a repeating pattern
  /upload           reads the body (content-length or chunked); answers "<bytes> <md5>"
  /gzip             "hello gzip" x 100, gzip-encoded when the client accepts it
  /never            reads the request and never answers
  /expect-417       answers an Expect: 100-continue with 417 at once
  /expect-silent    sends no 100 Continue; reads the body when it comes
  /redirect?to=URL&status=S   a redirect
"""
import gzip, hashlib, http.server, socketserver, sys, threading, time, urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_expect_100(self):
        if self.path.startswith("/expect-417"):
            self.send_response_only(417)
            self.send_header("content-length", "0")
            self.end_headers()
            self.close_connection = True
            return False
        if self.path.startswith("/expect-silent"):
            return True
        return super().handle_expect_100()

    def read_body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path if not self.path.startswith("http") else "/echo"
        if path == "/never":
            time.sleep(30)
            return
        body = self.read_body()
        if path == "/hello":
            self.reply(200, b"hello", [("x-peer", str(self.client_address[1]))])
        elif path == "/echo" or path.startswith("/expect"):
            text = "%s %s\n%s\n" % (self.command, self.path, self.headers)
            self.reply(200, text.encode("latin-1") + body)
        elif path == "/big":
            n = int(query.get("n", "0"))
            pattern = b"0123456789abcdef" * 4096
            data = (pattern * (n // len(pattern) + 1))[:n]
            self.reply(200, data)
        elif path == "/upload":
            self.reply(200, ("%d %s" % (len(body), hashlib.md5(body).hexdigest())).encode())
        elif path == "/gzip":
            data = b"hello gzip" * 100
            if "gzip" in self.headers.get("accept-encoding", ""):
                self.reply(200, gzip.compress(data), [("content-encoding", "gzip")])
            else:
                self.reply(200, data)
        elif path == "/redirect":
            self.reply(int(query.get("status", "302")), b"moved", [("location", query["to"])])
        else:
            self.reply(404, b"not found")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(60, lambda: server.shutdown()).start()
server.serve_forever()
