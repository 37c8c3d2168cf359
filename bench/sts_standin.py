"""A fast stand-in STS for load runs: answers every AssumeRole at once with a recorded success
(expiring in 2030) and reports on stderr how many it answered. HEAD (issue-token's cold-start
warm-up) is answered and not counted.

usage: python3 bench/sts_standin.py [port]
"""
import http.server, json, sys
calls = 0
BODY = json.dumps({"RequestId": "r", "Credentials": {"AccessKeyId": "STS.test-vended-key", "AccessKeySecret": "s", "SecurityToken": "CAIS" + "x" * 700, "Expiration": "2030-01-01T00:00:00Z"}}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_HEAD(self):
        self.wfile.write(b"HTTP/1.1 400 X\r\nContent-Length: 0\r\n\r\n")
    def do_POST(self):
        global calls
        calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
        sys.stderr.write(f"calls={calls}\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9440), H).serve_forever()
