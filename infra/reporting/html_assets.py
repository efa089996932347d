"""Style and the one small script of the HTML report, inlined so the file needs no network."""

from __future__ import annotations

STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --ok: #2f855a; --warn: #975a16;
  --bad: #c53030; --accent: #2b6cb0; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f7f9fb; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.sub { color: var(--muted); margin-bottom: 20px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
  margin-bottom: 20px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.kpi .v { font-size: 22px; font-weight: 600; }
.kpi .l { color: var(--muted); font-size: 13px; white-space: nowrap; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
  margin-bottom: 16px; overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .tick { fill: var(--muted); font-size: 11px; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .dot { fill: var(--accent); }
svg rect.mark { fill: var(--accent); }
svg .axis { fill: var(--ink); font-size: 12px; }
.empty { color: var(--muted); margin: 4px 0; }
.note { background: #fffbea; border: 1px solid #f0b429; border-radius: 6px; padding: 8px 12px;
  margin-bottom: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
th:first-child, td:first-child, td.t, th.t { text-align: left; }
th { color: var(--muted); font-weight: 600; }
.breached { color: var(--bad); font-weight: 600; }
.at_risk { color: var(--warn); font-weight: 600; }
"""

#: Counts the charts that drew marks and records any script error in the hidden
#: #render-status, so a headless browser's DOM dump tells whether the page rendered
#: completely (nothing of it is shown to the reader).
SCRIPT = """
(function () {
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  function done() {
    var charts = document.querySelectorAll("svg.chart");
    var drawn = 0;
    charts.forEach(function (chart) { if (chart.querySelector(".mark")) { drawn += 1; } });
    var status = document.getElementById("render-status");
    status.setAttribute("data-charts", String(charts.length));
    status.setAttribute("data-drawn", String(drawn));
    status.setAttribute("data-errors", String(errors.length));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", done);
  } else {
    done();
  }
})();
"""
