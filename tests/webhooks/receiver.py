"""A real HTTP receiver for webhook tests: ThreadingHTTPServer on 127.0.0.1 in a thread,
recording every request and answering scripted statuses, and a signature check written from
the documented scheme (not from cookiegate's code)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


class Receiver:
    """Answers each POST with the next scripted status (then `default`), recording it."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200, delay: float = 0.0):
        self.script, self.default, self.delay = list(statuses or []), default, delay
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.script.pop(0) if receiver.script else receiver.default
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def keys(self) -> list[str]:
        with self.lock:
            return [item.key for item in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def signature_valid(secret: str, received: Received, tolerance: int = 300) -> bool:
    """Check Cookiegate-Signature as a receiver would: t=<unix>,v1=<hex HMAC-SHA256(secret,
    "<t>." + raw body)>, with t no older than `tolerance` seconds."""
    parts = dict(item.split("=", 1) for item in received.headers["Cookiegate-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance
