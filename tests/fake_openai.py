"""A fake OpenAI-compatible chat server on 127.0.0.1, for the GPT writer's and the LLM judge's tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """Answers each POST with the next (status, body) from `script`; records every request.

    Error replies ask the client to retry after 1 ms (`retry-after-ms`, a header the OpenAI API sends too),
    so retries do not wait out the client's back-off in tests.
    """

    def __init__(self, reply: Callable[[dict], str] | None = None):
        # `reply` writes the default answer from the request body (e.g. a judge's rating of the answer
        # it was shown); without it the default answer is "default".
        self.reply = reply or (lambda body: "default")
        self.script: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                request = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},  # names are case-insensitive
                    "body": json.loads(self.rfile.read(length)),
                }
                fake.requests.append(request)
                default = (200, completion(fake.reply(request["body"])))
                status, body = fake.script.pop(0) if fake.script else default
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status >= 400:
                    self.send_header("retry-after-ms", "1")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
