"""What SREs see of every service: traces, metrics and logs, set up the same way everywhere.

- **Traces**: an OpenTelemetry ``TracerProvider`` named after the service. Spans go to an OTLP
  collector when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``) is
  set — protocol, headers and batching follow the other ``OTEL_*`` variables — and, when
  ``SUPPORTDESK_TRACE_DIR`` is set (``make run``: ``var/traces``), to one JSON line per span in
  ``<dir>/<service>.jsonl``, which ``supportdesk-trace`` prints as a waterfall without Docker.
- **Metrics**: an OpenTelemetry ``MeterProvider`` read by the Prometheus exporter; each
  service serves ``GET /metrics`` (``metrics_route``).
- **Logs**: JSON lines with ``trace_id`` and ``span_id`` of the current span, so a log line
  leads to its trace; plain ``time level logger message`` lines for a person instead when
  ``SUPPORTDESK_LOG_FORMAT=text`` (``make run`` sets it) or, with the variable unset, when
  stderr is a terminal. Nothing here logs bodies or credentials; callers keep to that too.

``setup_telemetry`` is idempotent: the app factories call it, and a process hosting several
services (tests) keeps the first provider.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from pythonjsonlogger.json import JsonFormatter

_lock = threading.Lock()
_metrics_ready = False


class JsonLinesSpanExporter(SpanExporter):
    """One JSON object per finished span, appended to a file (a trace file per service)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_record(s), separators=(",", ":")) + "\n" for s in spans]
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "service": span.resource.attributes.get("service.name"),
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def setup_telemetry(service: str, environ: dict[str, str] | None = None) -> None:
    """Traces and metrics providers for this process, from the standard variables."""
    env = dict(os.environ if environ is None else environ)
    # The stable HTTP semantic conventions (http.request.method, http.response.status_code,
    # http.server.request.duration), not the older experimental names.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    with _lock:
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            ):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            if trace_dir := env.get("SUPPORTDESK_TRACE_DIR"):
                exporter = JsonLinesSpanExporter(Path(trace_dir) / f"{service}.jsonl")
                provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
        setup_metrics(service)


def setup_metrics(service: str) -> None:
    """A meter provider read by Prometheus (once per process)."""
    global _metrics_ready
    if _metrics_ready:
        return
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    provider = MeterProvider(
        resource=Resource.create({"service.name": service}),
        metric_readers=[PrometheusMetricReader()],
    )
    metrics.set_meter_provider(provider)
    _metrics_ready = True


def metrics_route(app: FastAPI) -> None:
    """``GET /metrics`` in the Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class _TraceIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = f"{context.trace_id:032x}" if context.is_valid else None
        record.span_id = f"{context.span_id:016x}" if context.is_valid else None
        return True


#: ``SUPPORTDESK_LOG_FORMAT``: ``json`` (log collectors parse it) or ``text`` (people read it).
LOG_FORMAT_VARIABLE = "SUPPORTDESK_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_format(environ: Mapping[str, str] | None = None, *, tty: bool | None = None) -> str:
    """``json`` or ``text``: as ``SUPPORTDESK_LOG_FORMAT`` says, else text on a terminal only.

    JSON stays the default wherever output is collected (containers, systemd, files), so
    production needs no setting; a developer starting a service by hand reads plain lines.
    """
    env = os.environ if environ is None else environ
    chosen = env.get(LOG_FORMAT_VARIABLE, "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    if tty is None:
        tty = sys.stderr.isatty()
    return "text" if tty else "json"


def setup_logging(service: str, level: int = logging.INFO) -> None:
    """Log lines on stderr: JSON with the service, level, logger, message and trace ids, or
    plain ``time level logger message`` text (see ``log_format``)."""
    handler = logging.StreamHandler()
    handler.addFilter(_TraceIds())
    formatter: logging.Formatter
    if log_format() == "text":
        formatter = logging.Formatter(TEXT_FORMAT)
    else:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def observe(app: FastAPI, service: str) -> None:
    """Make a service's app observable: providers, ``/metrics``, HTTP server spans and metrics
    (health and metrics endpoints left out of traces)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    setup_telemetry(service)
    metrics_route(app)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )


def serve(app: FastAPI, service: str, host: str, port: int, summary: str) -> None:
    """Run a service with uvicorn, logging JSON through the root logger (its command)."""
    import uvicorn

    print(f"{service}: http://{host}:{port}/docs  ({summary})", flush=True)
    uvicorn.run(app, host=host, port=port, log_config=None)
