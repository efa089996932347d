"""Small inline SVG charts (no scripts, no network): line, vertical bars, horizontal bars.

Every data mark carries ``class="mark"`` and a ``<title>`` (the browser's tooltip);
every chart names its axes. A chart with no data is one line of text
(``<p class="empty">``), not an empty panel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 16, 68
#: Roughly how wide one character of an 11 px tick label is (to keep labels apart).
CHAR_PX = 6.6


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked layer of a bar chart: a name, a CSS colour and a value per label."""

    name: str
    color: str
    values: Sequence[float]


def nice_scale(largest: float) -> tuple[float, int]:
    """A round axis top (a multiple of 1, 2 or 5 x 10^k) and its number of ticks (<= 5)."""
    if largest <= 1:
        return 1.0, 1
    magnitude = 10 ** math.floor(math.log10(largest / 5))
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        ticks = math.ceil(largest / step)
        if ticks <= 5:
            return step * ticks, ticks
    return largest, 1  # not reached: factor 10 always fits


def _open(chart_id: str, label: str, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg class="chart" data-chart="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}"'
        f' width="100%" role="img" aria-label="{escape(label)}"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]


def no_data(label: str) -> str:
    """What a chart without data shows: one line saying so."""
    return f'<p class="empty">{escape(label)}: no data.</p>'


def _axis_titles(parts: list[str], x_title: str, y_title: str, height: int = HEIGHT) -> None:
    plot_bottom = height - BOTTOM
    parts.append(
        f'<text class="axis" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{plot_bottom + 36}"'
        f' text-anchor="middle">{escape(x_title)}</text>'
    )
    middle = TOP + (plot_bottom - TOP) / 2
    parts.append(
        f'<text class="axis" x="14" y="{middle:.1f}" text-anchor="middle"'
        f' transform="rotate(-90 14 {middle:.1f})">{escape(y_title)}</text>'
    )


def _y_axis(parts: list[str], top_value: float, fmt: str, ticks: int = 4) -> None:
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(ticks + 1):
        value = top_value * i / ticks
        y = TOP + plot_h - plot_h * i / ticks
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt.format(value))}</text>"
        )


def _x_labels(parts: list[str], labels: Sequence[str], step: float) -> None:
    # every n-th label, n chosen so that labels never touch (at most ~12 in all)
    widest = max((len(label) for label in labels), default=1) * CHAR_PX + 10
    every = max(1, round(len(labels) / 12), math.ceil(widest / step))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + step * (i + 0.5)
        y = HEIGHT - BOTTOM + 16
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="middle">{escape(label)}</text>'
        )


def line_chart(
    chart_id: str,
    label: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    axes: tuple[str, str],
) -> str:
    """A line of fractions in [0, 1] drawn as percentages; None values leave a gap.

    ``axes``: the titles of the x and y axes.
    """
    if not any(v is not None for v in values):
        return no_data(label)
    parts = _open(chart_id, label)
    _y_axis(parts, 100.0, "{:.0f}")
    _axis_titles(parts, *axes)
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / len(labels)
    points = [
        (LEFT + step * (i + 0.5), TOP + plot_h * (1 - v), labels[i], v)
        for i, v in enumerate(values)
        if v is not None
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
    parts.append(f'<polyline class="line" points="{path}"/>')
    for x, y, name, v in points:
        parts.append(
            f'<circle class="mark dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
            f"<title>{escape(name)}: {v * 100:.1f} %</title></circle>"
        )
    _x_labels(parts, labels, step)
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    chart_id: str,
    label: str,
    labels: Sequence[str],
    series: Sequence[Series],
    axes: tuple[str, str],
    unit: str = "",
) -> str:
    """Vertical bars, stacked when there are several series; ``axes``: x and y titles."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not labels or max(totals, default=0) <= 0:
        return no_data(label)
    parts = _open(chart_id, label)
    top, ticks = nice_scale(max(totals))
    _y_axis(parts, top, "{:.0f}", ticks)
    _axis_titles(parts, *axes)
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / len(labels)
    for i, name in enumerate(labels):
        base = 0.0
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - plot_h * base / top - h
            parts.append(
                f'<rect class="mark" x="{LEFT + step * i + step * 0.15:.1f}" y="{y:.1f}"'
                f' width="{step * 0.7:.1f}" height="{h:.1f}" style="fill: {s.color}">'
                f"<title>{escape(name)} {escape(s.name)}: {value:g}{unit}</title></rect>"
            )
            base += value
    _x_labels(parts, labels, step)
    if len(series) > 1:
        for k, s in enumerate(series):
            x = WIDTH - RIGHT - 110 * (len(series) - k)
            parts.append(
                f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.color}"/>'
            )
            parts.append(
                f'<text class="tick" x="{x + 14}" y="{HEIGHT - 5}">{escape(s.name)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def hbar_chart(
    chart_id: str, label: str, rows: Sequence[tuple[str, float | None, str]], x_title: str
) -> str:
    """Horizontal bars of fractions in [0, 1] (as %), one per (name, value, note) row.

    The value is written after its bar, the note in its own column at the right
    edge, so the two never run together.
    """
    if not any(value is not None for _, value, _ in rows):
        return no_data(label)
    row_h = 26
    height = TOP + row_h * len(rows) + 40
    parts = _open(chart_id, label, height)
    left = 150
    plot_w = WIDTH - left - 230  # the rest: the value after the bar, then the note column
    for i, (name, value, note) in enumerate(rows):
        y = TOP + row_h * i
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        parts.append(
            f'<text class="tick note" x="{WIDTH - RIGHT}" y="{y + 16}" text-anchor="end">'
            f"{escape(note)}</text>"
        )
        if value is None:
            continue
        w = max(plot_w * value, 1.0)
        parts.append(
            f'<rect class="mark" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}">'
            f"<title>{escape(name)}: {value * 100:.1f} % on time; {escape(note)}</title></rect>"
        )
        parts.append(
            f'<text class="tick value" x="{left + w + 6:.1f}" y="{y + 16}">'
            f"{value * 100:.1f} %</text>"
        )
    axis_y = TOP + row_h * len(rows) + 28
    parts.append(
        f'<text class="axis" x="{left + plot_w / 2:.1f}" y="{axis_y}" text-anchor="middle">'
        f"{escape(x_title)}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
