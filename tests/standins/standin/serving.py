"""Serving a stand-in: on 127.0.0.1 only, in a daemon thread, saying on start-up what it is."""

import http.server
import sys
import threading


def serve(handler, port: int, service: str) -> http.server.ThreadingHTTPServer:
    """Starts `handler` on 127.0.0.1:`port` (0: any free port) and prints, to stderr, that
    this is a local stand-in for `service` and not the service."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    name = service.split()[-1].lower()
    print(f"{name} stand-in (a local stand-in, not Alibaba Cloud {service}) on 127.0.0.1:{server.server_port}",
          file=sys.stderr)
    return server


def stop(server) -> None:
    if server:
        server.shutdown()
        server.server_close()
