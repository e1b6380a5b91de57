"""The committed alert rules are valid: expressions parse, metrics exist, runbooks exist."""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yaml").read_text(encoding="utf-8"))
INSTRUMENT = re.compile(
    r"create_(counter|histogram|observable_gauge)\(\s*\"(supportdesk\.[a-z_.]+)\""
    r"([^)]*?unit=\"(\w+)\")?",
)


def exposed_metric_names() -> set[str]:
    """What the code's OpenTelemetry instruments are called in Prometheus."""
    names = {"http_server_request_duration_seconds_count",
             "http_server_request_duration_seconds_bucket"}  # fmt: skip
    sources = ("services/*/src/**/*.py", "servicekit/src/**/*.py", "contracts/src/**/*.py")
    for path in (p for pattern in sources for p in ROOT.glob(pattern)):
        for kind, name, _, unit in INSTRUMENT.findall(path.read_text(encoding="utf-8")):
            base = name.replace(".", "_")
            if kind == "counter":
                names.add(base + "_total")
            elif kind == "histogram":
                base += "_seconds" if unit == "s" else ""
                names |= {base + "_bucket", base + "_count", base + "_sum"}
            else:
                names.add(base)
    return names


def all_rules() -> list[dict[str, object]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def test_every_alert_parses_and_uses_metrics_the_services_expose() -> None:
    exposed = exposed_metric_names()
    assert "supportdesk_relay_lag" in exposed and "supportdesk_consumer_pending" in exposed
    for rule in all_rules():
        expr = str(rule["expr"])
        promql_parser.parse(expr)  # raises on a syntax error
        used = set(re.findall(r"\b(supportdesk_[a-z_]+|http_server_[a-z_]+)", expr))
        assert used, rule["alert"]
        assert used <= exposed, (rule["alert"], used - exposed)


def test_every_alert_says_how_bad_it_is_and_links_an_existing_runbook() -> None:
    operations = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", operations, re.M)
    }
    names = [rule["alert"] for rule in all_rules()]
    assert len(names) == len(set(names))
    for rule in all_rules():
        labels, notes = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and labels["severity"] in {"warning", "critical"}
        assert isinstance(notes, dict) and notes["summary"]
        path, _, anchor = str(notes["runbook_url"]).partition("#")
        assert path == "docs/operations.md" and anchor in anchors, (rule["alert"], anchor)
