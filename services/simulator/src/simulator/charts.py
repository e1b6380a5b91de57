"""Hand-made SVG charts: horizontal bars, a line, a weekday × hour heat map.

Inline SVG needs no JavaScript, no build step and no charting dependency, prints and opens in
any browser or mail client, and the three shapes a SLA report needs are a few dozen lines
each. Values are escaped; sizes are in SVG user units so the page scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def bars(items: Sequence[tuple[str, float]], *, percent: bool = False, width: int = 560) -> Markup:
    """One horizontal bar per (label, value); ``percent`` reads values as shares of 1."""
    row, label_w = 22, 190
    top = max((v for _, v in items), default=0.0)
    scale = 1.0 if percent else (top or 1.0)
    height = row * len(items) + 10
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {FONT}>'
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        bar = (width - label_w - 70) * (value / scale if scale else 0)
        colour = _colour(value) if percent else "#4a78b5"
        text = f"{value:.1%}" if percent else f"{value:g}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" '
            f'fill="{colour}"/><text x="{label_w + bar + 4:.1f}" y="{y + 14}">{text}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _colour(share: float) -> str:
    return "#2e8b57" if share >= 0.95 else "#d9a400" if share >= 0.85 else "#c0392b"


def line(points: Sequence[tuple[datetime, int]], *, width: int = 760, height: int = 220) -> Markup:
    """A time series (the backlog), with the first and last instants and the maximum marked."""
    if not points:
        return Markup("<p>no data</p>")
    left, bottom = 40, 24
    top = max(n for _, n in points) or 1
    first, last = points[0][0], points[-1][0]
    span = (last - first).total_seconds() or 1.0
    coords = " ".join(
        f"{left + (at - first).total_seconds() / span * (width - left - 10):.1f},"
        f"{height - bottom - n / top * (height - bottom - 10):.1f}"
        for at, n in points
    )
    return Markup(
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {FONT}>'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        f'stroke="#999"/><text x="{left - 4}" y="14" text-anchor="end">{top}</text>'
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>'
        f'<polyline points="{coords}" fill="none" stroke="#4a78b5" stroke-width="1.5"/>'
        f'<text x="{left}" y="{height - 6}">{first:%Y-%m-%d %H:%M}Z</text>'
        f'<text x="{width - 10}" y="{height - 6}" text-anchor="end">{last:%Y-%m-%d %H:%M}Z</text>'
        "</svg>"
    )


def heat(grid: Sequence[Sequence[int]], rows: Sequence[str], *, cell: int = 24) -> Markup:
    """A rows × 24 grid of counts (weekday × local hour), darker for more."""
    left, top_margin = 40, 18
    peak = max((n for r in grid for n in r), default=0) or 1
    width, height = left + 24 * cell + 4, top_margin + len(rows) * cell + 4
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {FONT}>'
    ]
    for h in range(0, 24, 3):
        parts.append(f'<text x="{left + h * cell + 2}" y="12">{h:02d}h</text>')
    for r, name in enumerate(rows):
        y = top_margin + r * cell
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        for h, n in enumerate(grid[r]):
            alpha = 0.06 + 0.94 * n / peak if n else 0.03
            parts.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="#c0392b" fill-opacity="{alpha:.2f}"><title>{name} {h:02d}h: {n}</title>'
                "</rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
