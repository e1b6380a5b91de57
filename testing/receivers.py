"""Real local receivers for the notifier's tests: an SMTP server and an HTTP endpoint.

Both run on 127.0.0.1 in a thread of their own, so the code under test talks to them over real
sockets exactly as it would to a mail relay or an integration's webhook endpoint. Tests wait
for what arrived with ``wait_for(n)`` (a condition, never a sleep).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.sink.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.arrived:
            self.sink.messages.append(message)
            self.sink.arrived.notify_all()
        return "250 Message accepted"


class SmtpSink:
    """An aiosmtpd server keeping every message; ``refuse`` holds addresses to answer 550."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.arrived = threading.Condition()
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_until(
        self, wanted: Callable[[EmailMessage], bool], timeout: float = 30
    ) -> EmailMessage:
        """The first message that ``wanted`` accepts, waiting for it to arrive."""
        with self.arrived:
            found: list[EmailMessage] = []

            def arrived() -> bool:
                found[:] = [m for m in self.messages if wanted(m)]
                return bool(found)

            if not self.arrived.wait_for(arrived, timeout):
                subjects = [(m["To"], m["Subject"]) for m in self.messages]
                raise AssertionError(f"no such message among {subjects}")
            return found[0]

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            return list(self.messages)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """An HTTP endpoint that records each POST and answers from a script (default 204).

    ``answers`` is a queue of ``(status, headers)``: the next request takes the first one.
    """

    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    """JSON served to GET requests by path (a JWKS, say); GETs are counted in ``gets``."""
    gets: int = 0

    def __post_init__(self) -> None:
        receiver = self
        self.arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                status, headers = receiver.answers.popleft() if receiver.answers else (204, {})
                with receiver.arrived:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver.arrived.notify_all()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self) -> None:
                receiver.gets += 1
                document = receiver.documents.get(self.path)
                body = json.dumps(document).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    attributes: dict[str, Any]
    links: list[tuple[str, str]]


class OtlpReceiver:
    """An OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf), as a collector would be.

    Services export to it with the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; tests wait for
    the spans they expect with ``wait_until``.
    """

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.spans: list[ReceivedSpan] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                found = []
                for resource_spans in request.resource_spans:
                    service = next(
                        (
                            a.value.string_value
                            for a in resource_spans.resource.attributes
                            if a.key == "service.name"
                        ),
                        "?",
                    )
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            found.append(
                                ReceivedSpan(
                                    service,
                                    span.trace_id.hex(),
                                    span.span_id.hex(),
                                    span.parent_span_id.hex() or None,
                                    span.name,
                                    span.kind,
                                    {a.key: _any_value(a.value) for a in span.attributes},
                                    [(k.trace_id.hex(), k.span_id.hex()) for k in span.links],
                                )
                            )
                with receiver.arrived:
                    receiver.spans.extend(found)
                    receiver.arrived.notify_all()
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_until(
        self, wanted: Callable[[list[ReceivedSpan]], bool], timeout: float = 60
    ) -> list[ReceivedSpan]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: wanted(self.spans), timeout):
                names = sorted({(s.service, s.name) for s in self.spans})
                raise AssertionError(f"the expected spans did not arrive; got {names}")
            return list(self.spans)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
