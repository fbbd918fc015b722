"""A fault-injecting HTTP proxy in front of a local AWS endpoint (moto), for tests.

    python fault_proxy.py UPSTREAM_PORT PORT_FILE [LOG_FILE]

Listens on a free port of 127.0.0.1 (written to PORT_FILE) and forwards every request to
127.0.0.1:UPSTREAM_PORT, except that, for S3 object GETs:
  - a key containing "throttled" gets 503 SlowDown twice, then goes through;
  - a key containing "flaky" gets 500 InternalError once, then goes through;
  - a key containing "forbidden" always gets 403 AccessDenied;
  - a key containing "deleted" always gets 404 NoSuchKey (deleted after it was listed);
  - a key containing "cutoff" has its body cut half-way, the connection closed, on its
    first GET (a network fault in the middle of a download).
A ListObjectsV2 request whose prefix contains "busy" gets 503 SlowDown once.
A conditional PUT (If-Match: a renewal, or the proof before a commit) of a dataset's
_manifest/LOCK under a key containing "renewfail" always gets 403 AccessDenied.
With LOG_FILE, each request is appended to it as one line, "METHOD PATH?QUERY", before it
is answered (to count requests).
For CloudWatch Logs, FilterLogEvents on a log group whose name contains "throttled" gets
400 ThrottlingException twice per stream, and on one containing "broken" 503 once.
"""
import http.client, http.server, sys, threading
from urllib.parse import urlsplit, parse_qs

upstream_port = int(sys.argv[1])
log_file = sys.argv[3] if len(sys.argv) > 3 else None
seen = {}
lock = threading.Lock()


def count(key):
    with lock:
        seen[key] = seen.get(key, 0) + 1
        return seen[key]


def json_error(kind, status, message):
    body = ('{"__type":"%s","message":"%s"}' % (kind, message)).encode()
    return status, body, "application/x-amz-json-1.1"


def error(code, status, message):
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>'.encode()
    return status, body, "application/xml"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def fault(self, body):
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".FilterLogEvents"):
            text = body.decode(errors="replace")
            if "throttled" in text and count("cw:" + text) <= 2:
                return json_error("ThrottlingException", 400, "Rate exceeded")
            if "broken" in text and count("cw:" + text) <= 1:
                return json_error("ServiceUnavailableException", 503, "Service unavailable")
            return None
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if (self.command == "PUT" and "renewfail" in url.path
                and url.path.endswith("/_manifest/LOCK") and self.headers.get("If-Match")):
            return error("AccessDenied", 403, "Access Denied")
        if self.command == "GET" and "list-type" in q and "busy" in q.get("prefix", [""])[0]:
            if count("list:" + url.path + url.query) <= 1:
                return error("SlowDown", 503, "Please reduce your request rate.")
        if self.command == "GET" and "list-type" not in q and url.path.count("/") >= 2:
            key = url.path
            if "throttled" in key and count(key) <= 2:
                return error("SlowDown", 503, "Please reduce your request rate.")
            if "flaky" in key and count(key) <= 1:
                return error("InternalError", 500, "We encountered an internal error.")
            if "forbidden" in key:
                return error("AccessDenied", 403, "Access Denied")
            if "deleted" in key:
                return error("NoSuchKey", 404, "The specified key does not exist.")
        return None

    def handle_any(self):
        if log_file:
            with lock:
                with open(log_file, "a") as f:
                    f.write(f"{self.command} {self.path}\n")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        f = self.fault(body)
        if f:
            status, payload, ctype = f
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        url = urlsplit(self.path)
        cut = (self.command == "GET" and "cutoff" in url.path and "list-type" not in url.query
               and count("cut:" + url.path) <= 1)
        conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        if self.command == "HEAD":
            # No body, but the object's size, as the upstream gave it.
            self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            conn.close()
            return
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
