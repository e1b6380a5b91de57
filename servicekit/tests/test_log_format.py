"""Logs are JSON for collectors and plain lines for people (``SUPPORTDESK_LOG_FORMAT``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from servicekit.telemetry import log_format, setup_logging


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_unless_told_or_on_a_terminal() -> None:
    assert log_format({}, tty=False) == "json"  # containers, systemd, files: production
    assert log_format({}, tty=True) == "text"  # someone started the service by hand
    assert log_format({"SUPPORTDESK_LOG_FORMAT": "text"}, tty=False) == "text"  # make run
    assert log_format({"SUPPORTDESK_LOG_FORMAT": "json"}, tty=True) == "json"


@pytest.mark.usefixtures("restored_root_logger")
def test_text_lines_read_time_level_logger_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPPORTDESK_LOG_FORMAT", "text")
    setup_logging("ticket-api")
    logging.getLogger("ticket_api.relay").warning("NATS unreachable, retrying")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" WARNING ticket_api.relay NATS unreachable, retrying")
    assert not line.startswith("{")


@pytest.mark.usefixtures("restored_root_logger")
def test_json_lines_carry_service_and_trace_ids(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPPORTDESK_LOG_FORMAT", "json")
    setup_logging("ticket-api")
    logging.getLogger("ticket_api.relay").info("published")
    record = json.loads(capsys.readouterr().err)
    assert record["service"] == "ticket-api" and record["level"] == "INFO"
    assert record["logger"] == "ticket_api.relay" and "trace_id" in record
