"""Writing the SLA report: ``index.html`` with inline SVG charts, and every figure as CSV and
JSON beside it, so a spreadsheet or a script sees exactly the numbers the charts show."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from simulator import charts
from simulator.figures import BUCKETS, WEEKDAYS, Figures, weekday_hours

TEMPLATES = Environment(
    loader=PackageLoader("simulator", "templates"), autoescape=select_autoescape(["html"])
)


def write(folder: Path, run: str, figs: Figures) -> Path:
    """The report of ``figs`` in ``folder`` (created); returns the HTML page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = figs.as_json()
    (folder / "figures.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    _csv(folder / "compliance.csv", data["compliance"])
    _csv(folder / "breaches.csv", data["breaches_by_weekday_hour"], ["weekday", "hour", "breaches"])
    _csv(folder / "backlog.csv", data["backlog"], ["at", "open"])
    _csv(
        folder / "time_to_met.csv",
        [
            {"metric": m, "bucket": label, "clocks": counts[label]}
            for m, counts in data["time_to_met"].items()
            for label in counts
        ],
        ["metric", "bucket", "clocks"],
    )
    _csv(
        folder / "escalations.csv",
        [{"level": k, "escalations": v} for k, v in data["escalations_by_level"].items()],
        ["level", "escalations"],
    )
    _csv(
        folder / "notifications.csv",
        [{"channel": k, "deliveries": v} for k, v in data["notifications_by_channel"].items()],
        ["channel", "deliveries"],
    )
    page = folder / "index.html"
    page.write_text(render(run, figs, data))
    return page


def render(
    run: str, figs: Figures, data: dict[str, Any], template: str = "report.html", **extra: Any
) -> str:
    metrics = sorted({metric for _, _, metric in figs.compliance})
    compliance_charts = [
        (
            metric,
            charts.bars(
                [
                    (f"{p} · {pr}", rate)
                    for (p, pr, m) in sorted(figs.compliance)
                    if m == metric and (rate := figs.rate((p, pr, m))) is not None
                ],
                percent=True,
                width=520,
            ),
        )
        for metric in metrics
    ]
    met_charts = [
        (metric, charts.bars([(label, counts[label]) for label, _ in BUCKETS], width=520))
        for metric, counts in sorted(figs.met_times.items())
    ]
    return TEMPLATES.get_template(template).render(
        run=run,
        figures=figs,
        opened_total=sum(figs.opened.values()),
        compliance_charts=compliance_charts,
        heat=charts.heat(weekday_hours(figs.breaches_by_slot), WEEKDAYS),
        backlog=charts.line(figs.backlog),
        met_charts=met_charts,
        escalations=charts.bars(
            [(f"level {k}", v) for k, v in sorted(figs.escalations.items())] or [("none", 0)]
        ),
        notifications=charts.bars(sorted(figs.notifications.items()) or [("none", 0)]),
        table=data["compliance"],
        **extra,
    )


def _csv(path: Path, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
    names = fields or (list(rows[0]) if rows else ["empty"])
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
