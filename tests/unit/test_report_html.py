"""The HTML report's small rules: readable colours, one-line "no data", named axes."""

from __future__ import annotations

import itertools
import re

import pytest

from infra.reporting import svg
from infra.reporting.html_assets import STYLE


def _luminance(hex_colour: str) -> float:
    # WCAG 2.x relative luminance of an sRGB colour
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _colour_of(selector: str) -> str:
    rule = re.search(re.escape(selector) + r"\s*\{[^}]*?color:\s*([^;]+);", STYLE)
    assert rule is not None, selector
    value = rule.group(1).strip()
    if value.startswith("var("):
        name = value[4:-1]
        found = re.search(re.escape(name) + r":\s*(#[0-9a-fA-F]{6})", STYLE)
        assert found is not None, name
        return found.group(1)
    return value


@pytest.mark.parametrize("selector", [".at_risk", ".breached", "th", ".kpi .l"])
def test_text_colours_meet_wcag_aa_on_the_white_cards(selector: str) -> None:
    assert _contrast(_colour_of(selector), "#ffffff") >= 4.5


def test_a_chart_without_data_is_one_line_not_a_panel() -> None:
    axes = ("day", "orders")
    for chart in (
        svg.bar_chart("x", "Backlog", ["2024-03-01"], [svg.Series("a", "#000000", [0])], axes),
        svg.line_chart("y", "On time", ["2024-03-01"], [None], axes),
        svg.hbar_chart("z", "Carriers", [("dhl", None, "")], "on time (%)"),
    ):
        assert "<svg" not in chart and chart.count("\n") == 0
        assert chart.endswith("no data.</p>")


def test_every_chart_names_its_axes() -> None:
    bars = svg.bar_chart("b", "B", ["a", "b"], [svg.Series("n", "#000000", [1, 2])], ("x", "y"))
    line = svg.line_chart("l", "L", ["a", "b"], [0.5, 0.7], ("when", "rate"))
    hbar = svg.hbar_chart("h", "H", [("dhl", 0.9, "n=3")], "on time (%)")
    assert re.findall(r'class="axis"[^>]*>([^<]+)<', bars) == ["x", "y"]
    assert re.findall(r'class="axis"[^>]*>([^<]+)<', line) == ["when", "rate"]
    assert re.findall(r'class="axis"[^>]*>([^<]+)<', hbar) == ["on time (%)"]


def test_day_labels_never_touch() -> None:
    days = [f"2024-03-{d:02d}" for d in range(1, 32)]
    chart = svg.bar_chart("b", "B", days, [svg.Series("n", "#000000", [1] * 31)], ("d", "n"))
    xs = [
        float(x)
        for x in re.findall(r'class="tick" x="([\d.]+)" y="\d+" text-anchor="middle"', chart)
    ]
    assert len(xs) >= 2
    # ten characters of an 11 px sans-serif label are at most ~66 px wide
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 66
