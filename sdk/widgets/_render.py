"""The two views of the widget data: HTML for Jupyter, a rich table for a terminal.

Both show the run (status, duration, how to see it in full), one row per step or child run
(status, duration, metrics, last log lines), the run's own metrics and the end of its log.
"""
from __future__ import annotations

import html
import json

from .._status import RunStatus

# by status (looked up with Azure's plain strings); any other status is orange / yellow
COLOURS = {RunStatus.COMPLETED: "#2e7d32", RunStatus.FINISHED: "#2e7d32",
           RunStatus.FAILED: "#c62828", RunStatus.CANCELED: "#6d6d6d",
           RunStatus.CANCEL_REQUESTED: "#6d6d6d", RunStatus.RUNNING: "#1565c0"}
RICH_STYLES = {RunStatus.COMPLETED: "green", RunStatus.FINISHED: "green",
               RunStatus.FAILED: "bold red", RunStatus.CANCELED: "dim",
               RunStatus.CANCEL_REQUESTED: "dim", RunStatus.RUNNING: "cyan"}
TAIL_IN_TABLE = 3


def metric_text(value) -> str:
    """One metric, short: a scalar as is, a series as its last value and length."""
    if isinstance(value, list):
        last = value[-1] if value else ""
        return f"{_short(last)} ({len(value)} values)"
    if isinstance(value, dict):
        return "(table)"
    return _short(value)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def metrics_lines(metrics: dict) -> list[str]:
    return [f"{name}: {metric_text(value)}" for name, value in (metrics or {}).items()]


def run_metrics_dict(data: dict) -> dict:
    """``{name: value}`` back from Azure's ``run_metrics`` entries."""
    result = {}
    for entry in data.get("run_metrics") or []:
        series = entry["series"][0]["data"]
        result[entry["name"]] = series if len(series) != 1 else series[0]
    return result


def last_lines(text: str, count: int) -> str:
    """The last ``count`` lines that are not blank."""
    return "\n".join([line for line in (text or "").splitlines() if line.strip()][-count:])


def _rows(data: dict) -> list[dict]:
    """The step or child rows; a run without children is its own single row."""
    if data.get("child_runs"):
        return data["child_runs"]
    props = data["run_properties"]
    return [{"name": props.get("name") or props.get("script_name") or data["run_id"],
             "run_id": data["run_id"], "status": data["status"],
             "duration": props.get("run_duration") or "", "metrics": run_metrics_dict(data),
             "log_tail": last_lines(data["run_logs"], 10)}]


# -- HTML ---------------------------------------------------------------------------------------
CELL = "padding:2px 8px"
HEAD = "text-align:left;padding:2px 8px;border-bottom:1px solid #ccc"
HEADERS = ("Name", "Status", "Duration", "Metrics", "Last log lines")


def _coloured(status: str) -> str:
    return f'color:{COLOURS.get(status, "#e65100")}'


def to_html(data: dict, note: str = "") -> str:
    """A self-contained HTML view (inline styles only: notebooks strip style sheets)."""
    e = html.escape
    props = data["run_properties"]
    status = data["status"] or ""
    caption = ("Steps" if data.get("graph") else "Child runs") if data.get("child_runs") else "Run"
    parts = [
        '<div class="amlocal-run-details" style="font-family:sans-serif;font-size:13px">',
        f'<div><b>Run</b> <code>{e(data["run_id"])}</code> '
        f'<span class="status" style="{_coloured(status)};font-weight:bold">{e(status)}</span> '
        f'<span class="duration">{e(props.get("run_duration") or "")}</span></div>',
        '<div style="color:#555">See it in full: '
        f'<code>{e(data["workbench_run_details_uri"])}</code></div>',
    ]
    if props.get("error"):
        parts.append(f'<div style="color:#c62828">Error: {e(props["error"])}</div>')
    if data.get("progress"):
        parts.append(f'<div class="progress"><b>Progress</b> {e(data["progress"]["text"])}</div>')
    parts.append('<table class="steps" style="border-collapse:collapse;margin-top:6px">'
                 f'<caption style="text-align:left"><b>{caption}</b></caption><tr>'
                 + "".join(f'<th style="{HEAD}">{h}</th>' for h in HEADERS) + "</tr>")
    for row in _rows(data):
        st = row.get("status") or ""
        metrics = "<br>".join(e(m) for m in metrics_lines(row.get("metrics")))
        log = e(last_lines(row.get("log_tail") or "", TAIL_IN_TABLE * 2))
        parts.append(
            '<tr style="vertical-align:top">'
            f'<td style="{CELL}">{e(str(row.get("name") or ""))}</td>'
            f'<td style="{CELL};{_coloured(st)}">{e(st)}</td>'
            f'<td style="{CELL}">{e(str(row.get("duration") or ""))}</td>'
            f'<td style="{CELL}">{metrics}</td>'
            f'<td style="{CELL}"><pre style="margin:0;font-size:11px">{log}</pre></td></tr>')
    parts.append("</table>")
    own = metrics_lines(run_metrics_dict(data))
    if own and data.get("child_runs"):
        parts.append("<div><b>Run metrics</b><br>" + "<br>".join(e(m) for m in own) + "</div>")
    # open: each refresh replaces the view, which would close a collapsed section again
    parts.append('<details open><summary>Log</summary><pre class="log" style="font-size:11px;'
                 f'max-height:20em;overflow:auto">{e(last_lines(data.get("run_logs") or "", 40))}'
                 "</pre></details>")
    if note:
        parts.append(f'<div class="note" style="color:#c62828">{e(note)}</div>')
    parts.append("</div>")
    return "".join(parts)


# -- rich ---------------------------------------------------------------------------------------
def to_rich(data: dict, note: str = ""):
    """A rich renderable: a table of the steps (or the run), the run's metrics, a note."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    props = data["run_properties"]
    status = data["status"] or ""
    title = Text.assemble(("Run ", "bold"), data["run_id"], "  ",
                          (status, RICH_STYLES.get(status, "yellow")), "  ",
                          props.get("run_duration") or "")
    table = Table(title=title, title_justify="left", show_lines=True, expand=False)
    for header in ("Name", "Status", "Duration", "Metrics", "Last log lines"):
        table.add_column(header, overflow="fold")
    for row in _rows(data):
        st = row.get("status") or ""
        table.add_row(str(row.get("name") or ""), Text(st, style=RICH_STYLES.get(st, "yellow")),
                      str(row.get("duration") or ""), "\n".join(metrics_lines(row.get("metrics"))),
                      Text(last_lines(row.get("log_tail") or "", TAIL_IN_TABLE)))
    parts = [table]
    if data.get("progress"):
        parts.append(Text.assemble(("Progress: ", "bold"), data["progress"]["text"]))
    own = metrics_lines(run_metrics_dict(data))
    if own and data.get("child_runs"):
        parts.append(Text("Run metrics: " + "; ".join(own)))
    if props.get("error"):
        parts.append(Text(f"Error: {props['error']}", style="red"))
    parts.append(Text(f"See it in full: {data['workbench_run_details_uri']}", style="dim"))
    if note:
        parts.append(Text(note, style="red"))
    return Group(*parts)
