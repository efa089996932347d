"""The HTML report opened in headless Chromium: every chart draws, no script error, no network."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from tests.support.report_data import AS_OF, load, make_orders

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("SLA_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
CHARTS = {
    "on-time-by-day",
    "lead-time-distribution",
    "carrier-compared",
    "region-compared",
    "at-risk-backlog",
}


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    argv = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def report_html(tmp_path: Path, sqlite_url: str) -> Path:
    """An HTML report written by the real CLI over 2000 generated orders."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    load(engine, make_orders(seed=21, count=2000))
    engine.dispose()
    out = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()",
         "--database-url", sqlite_url, "report",
         "--as-of", AS_OF.isoformat(), "--format", "html", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_html_report_renders_in_chromium(tmp_path: Path, report_html: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: run scripts/install-chromium")
        pytest.skip(f"{CHROMIUM} missing: run scripts/install-chromium")
    html = report_html.read_text(encoding="utf-8")
    # self-contained: nothing fetched (the SVG namespace is an identifier, not a request)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html

    url = report_html.as_uri()
    dom = _chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    status = re.search(r'id="render-status"[^>]*', dom.stdout)
    assert status is not None, "render-status marker missing: the script did not run"
    attributes = dict(re.findall(r'data-([a-z]+)="(\d+)"', status.group(0)))
    assert attributes == {"charts": "5", "drawn": "5", "errors": "0"}, attributes
    drawn = set(re.findall(r'<svg class="chart" data-chart="([a-z-]+)"', dom.stdout))
    assert drawn == CHARTS

    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, "--window-size=1400,1800", f"--screenshot={shot}", url)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert _png_size(shot) == (1400, 1800)
    # a blank page compresses to a few kB; charts, tables and text make it much larger
    assert shot.stat().st_size > 50_000


def test_html_report_reads_well(tmp_path: Path, report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    # the as-of to the minute, days with their year, no debug line for the reader
    assert f"as of {AS_OF:%Y-%m-%d %H:%M} UTC" in html and ".250000" not in html
    assert re.search(r'class="tick"[^>]*>\d{4}-\d{2}-\d{2}<', html)
    assert "charts drawn" not in html and re.search(r'id="render-status" hidden', html)
    # every chart names its axes; carriers and regions say what their bars are
    charts = re.findall(r'<svg class="chart".*?</svg>', html, re.DOTALL)
    assert len(charts) == 5 and all('class="axis"' in chart for chart in charts)
    assert html.count("compared: on-time rate</h2>") == 2
    # one unit per quantity: durations in hours only
    assert not re.search(r"\d+(-\d+)?\+? d<", html)
    # every listed order says why; an amber state stays readable (see tests/unit)
    assert "deadline passed, not delivered" in html
