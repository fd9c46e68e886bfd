"""Small server-side SVG charts for the back-office (no JavaScript, no CDN): a line chart and a grouped
bar chart. They take figures already aggregated by a selector and only draw them; every point and bar
carries its value in a `data-value` attribute and a `<title>` (the browser's tooltip)."""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 78, 12, 14, 46
PALETTE = ["#417690", "#2e9e44", "#c0392b", "#8e44ad", "#d68910"]


@dataclass(frozen=True)
class Series:
    name: str
    values: list  # Decimal or int, one per label
    color: str = ""
    tooltips: list | None = None  # one text per value; defaults to "<label>: <value>"


def nice_ceiling(value: Decimal | int) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ value (1 for 0): the top of the y axis."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    exponent = math.floor(math.log10(value))
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = Decimal(step) * Decimal(10) ** exponent
        if top >= value:
            return top.normalize() if top == top.to_integral() else top
    return Decimal(10) ** (exponent + 1)  # pragma: no cover


def _fmt(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _axes(labels: list[str], top: Decimal, unit: str, every: int) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):  # horizontal grid lines and y labels at 0, ¼, ½, ¾, 1 of the top
        y = TOP + plot_h - plot_h * i / 4
        tick = top * i / 4
        text = f"{tick:,.0f}" if tick == tick.to_integral() else f"{tick:,.2f}"
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>')
    parts.append(f'<text x="4" y="{TOP + 4}" font-style="italic">{escape(unit)}</text>')
    step = plot_w / len(labels)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            x = LEFT + step * (i + 0.5)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    return parts


def _legend(series: list[Series]) -> list[str]:
    parts, x = [], LEFT
    for s in series:
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.color}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 5}">{escape(s.name)}</text>')
        x += 26 + 7 * len(s.name)
    return parts


def _svg(chart_id: str, title: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width:{WIDTH}px" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11" fill="#333">'
        f'<title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def _colored(series: list[Series]) -> list[Series]:
    return [s if s.color else Series(s.name, s.values, PALETTE[i % len(PALETTE)], s.tooltips)
            for i, s in enumerate(series)]


def _tooltip(s: Series, i: int, label: str) -> str:
    return s.tooltips[i] if s.tooltips else f"{s.name}, {label}: {_fmt(s.values[i])}"


def line_chart(*, chart_id: str, title: str, labels: list[str], series: list[Series], unit: str = "EUR",
               label_every: int = 5) -> SafeString:
    """One polyline per series over the labels, on a y axis from 0 to a round top."""
    series = _colored(series)
    top = nice_ceiling(max([v for s in series for v in s.values] + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(labels)
    body = _axes(labels, top, unit, label_every)
    for s in series:
        points = [(LEFT + step * (i + 0.5), TOP + plot_h - plot_h * float(Decimal(v) / top)) for i, v in enumerate(s.values)]
        body.append(f'<polyline class="series" data-series="{escape(s.name)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')
        for i, (x, y) in enumerate(points):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{s.color}" data-series="{escape(s.name)}" '
                        f'data-label="{escape(labels[i])}" data-value="{s.values[i]}">'
                        f'<title>{escape(_tooltip(s, i, labels[i]))}</title></circle>')
    return _svg(chart_id, title, body + _legend(series))


def bar_chart(*, chart_id: str, title: str, labels: list[str], series: list[Series], unit: str = "EUR",
              label_every: int = 1) -> SafeString:
    """Bars of each series side by side for every label (grouped bars)."""
    series = _colored(series)
    top = nice_ceiling(max([v for s in series for v in s.values] + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(labels)
    bar_w = step * 0.8 / len(series)
    body = _axes(labels, top, unit, label_every)
    for k, s in enumerate(series):
        for i, value in enumerate(s.values):
            h = plot_h * float(Decimal(value) / top)
            x = LEFT + step * i + step * 0.1 + bar_w * k
            body.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{s.color}" data-series="{escape(s.name)}" data-label="{escape(labels[i])}" '
                        f'data-value="{value}"><title>{escape(_tooltip(s, i, labels[i]))}</title></rect>')
    return _svg(chart_id, title, body + _legend(series))
