"""A minimal routing service on the standard library alone: one router loaded at start-up, JSON over HTTP.

    python examples/service.py                       # the default model, http://127.0.0.1:8000
    python examples/service.py --model models/router.zip --host 0.0.0.0 --port 8080

Endpoints:

    POST /route   {"text": "我要退货", "context": {"channel": "wechat", "failures": 0}}
                  -> one decision (csnlp.Decision.to_dict())
                  {"texts": ["我要退货", "转人工"], "contexts": [...]}   (contexts optional)
                  -> {"decisions": [...]}, routed in one batch
    GET  /health  -> {"status": "ok", "intents": 31, "model": "..."}

Errors are JSON too: 400 for bad input (what was expected and what arrived), 404, 405, 413 (body over 1 MiB).

One router serves every request thread: a csnlp Router keeps no state between calls (the conversation state
comes in ``context``), so concurrent calls are safe. ``ThreadingHTTPServer`` is fine for a demo and for
internal traffic; behind a real web server, use the FastAPI or Flask versions in docs/guide_service.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import csnlp

logger = logging.getLogger("csnlp_service")

MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 1000


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def load_router(model: str | None):
    """The router to serve: a saved bundle (router, or intent classifier with the default policy) or the default."""
    if model is None:
        router = csnlp.load_default()
    else:
        loaded = csnlp.load(model)
        router = loaded if isinstance(loaded, csnlp.Router) else csnlp.Router(loaded)
    router.route("你好")  # warm up: loads the jieba dictionary and compiles the phrase matchers once
    return router


def route_payload(router, payload) -> dict:
    """The response body for one POST /route payload."""
    if not isinstance(payload, dict):
        raise BadRequest(HTTPStatus.BAD_REQUEST, 'expected a JSON object such as {"text": "我要退货"}')
    if "texts" in payload:
        texts, contexts = payload["texts"], payload.get("contexts")
        if not isinstance(texts, list):
            raise BadRequest(HTTPStatus.BAD_REQUEST, f'"texts" must be a list of strings, got {type(texts).__name__}')
        if len(texts) > MAX_BATCH:
            raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_BATCH} texts per request, got {len(texts)}")
        decisions = router.route_many(texts, contexts)
        return {"decisions": [d.to_dict() for d in decisions]}
    if "text" not in payload:
        raise BadRequest(HTTPStatus.BAD_REQUEST, 'missing "text" (one message) or "texts" (a list of messages)')
    return router.route(payload["text"], payload.get("context")).to_dict()


class RouteHandler(BaseHTTPRequestHandler):
    server_version = "csnlp-example/1"
    protocol_version = "HTTP/1.1"

    def _send(self, status: HTTPStatus, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, {"error": message, "status": int(status)})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != "/health":
            return self._error(HTTPStatus.NOT_FOUND, f"no such endpoint {self.path}: use POST /route or GET /health")
        router = self.server.router
        self._send(HTTPStatus.OK, {"status": "ok", "intents": len(router.classes_), "model": self.server.model_name})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/route":
            return self._error(HTTPStatus.NOT_FOUND, f"no such endpoint {self.path}: use POST /route")
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                # the body is not read: close the connection rather than leave it in the stream
                self.close_connection = True
                raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
            try:
                payload = json.loads(self.rfile.read(length).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadRequest(HTTPStatus.BAD_REQUEST, f"body is not UTF-8 JSON: {exc}") from None
            body = route_payload(self.server.router, payload)
        except BadRequest as exc:
            return self._error(exc.status, str(exc))
        except csnlp.CsnlpError as exc:  # InputError: a non-str text, a bad context ...
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        self._send(HTTPStatus.OK, body)

    def do_PUT(self) -> None:  # noqa: N802
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST /route")

    do_DELETE = do_PATCH = do_PUT

    def log_message(self, format: str, *args) -> None:  # request lines to the service's logger, not print
        logger.info("%s %s", self.address_string(), format % args)


def make_server(router, host: str = "127.0.0.1", port: int = 8000, model_name: str = "default") -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) around ``router``; ``port=0`` picks a free port (see ``server_address``)."""
    server = ThreadingHTTPServer((host, port), RouteHandler)
    server.daemon_threads = True
    server.router = router
    server.model_name = model_name
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="router or intent bundle (default: csnlp's default model)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    router = load_router(args.model)
    server = make_server(router, args.host, args.port, model_name=args.model or "csnlp default model")
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)  # the first stdout line: scripts read the port here
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
