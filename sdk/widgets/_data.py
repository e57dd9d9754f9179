"""What a RunDetails view shows, read through the runs' public API.

:class:`WidgetData` builds the dict that ``RunDetails.get_widget_data()`` returns, with Azure's
keys (``status``, ``workbench_run_details_uri``, ``run_id``, ``run_properties``, ``child_runs``,
``children_metrics``, ``run_metrics``, ``run_logs``, ``graph``, ``widget_settings``) and shapes.
Everything comes from ``get_details``, ``get_metrics``, ``get_children``, ``get_tags``,
``get_properties``, the step logs (``StepRun.get_job_log`` or the run's ``logs/`` files) and
``PipelineRun.get_graph``; the store is never read directly. Step runs that have ended are kept
in a cache so that a refresh reads only the steps that still change.

Additions to Azure's shapes (new keys only, none removed): every child run entry carries
``name``, ``metrics`` (its ``get_metrics()``) and ``log_tail`` (its last log lines), and
``run_properties`` carries ``name``, ``start_time_utc`` and ``error``; they are what the local
views show.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from .._status import PIPELINE_LOG, STD_LOG, TERMINAL, RunStatus

LOG_TAIL_LINES = 10
WAITING_LOG = "The run has not written a log yet; watching for it..."
NO_LOG = "Log is empty or no log files found."


def details_command(run_id: str) -> str:
    """The local equivalent of Azure's studio link: the command that shows the run."""
    return f"amlocal run show {run_id}"


def duration(start: str | None, end: str | None) -> str | None:
    """``H:MM:SS`` from start to end (to now while the run goes on); None before it starts."""
    from datetime import datetime, timedelta, timezone
    if not start:
        return None
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = (datetime.fromisoformat(end.replace("Z", "+00:00")) if end
              else datetime.now(timezone.utc))
    seconds = max(int((finish - begin).total_seconds()), 0)
    return str(timedelta(seconds=seconds))


def log_groups(names) -> list[list[str]]:
    """Log names grouped by their first number and ordered by all their numbers, as Azure's
    widget groups ``70_driver_log_0.txt``, ``70_driver_log_1.txt`` ... (names with no number
    come first)."""
    import re

    def numbers(name: str) -> tuple:
        return tuple(int(n) for n in re.findall(r"\d+", name))

    groups: dict = {}
    for name in sorted(names, key=lambda n: (numbers(n), n)):
        key = numbers(name)[0] if numbers(name) else -1
        groups.setdefault(key, []).append(name)
    return [groups[k] for k in sorted(groups)]


def read_log(run, name: str) -> str:
    """The text of the run's log file ``name`` (a key of ``get_details()['logFiles']``)."""
    if name == STD_LOG and hasattr(run, "get_job_log"):
        return run.get_job_log()
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "log.txt")
        run.download_file(name, target)
        with open(target, encoding="utf-8", errors="replace") as f:
            return f.read()


def main_log(log_files) -> str | None:
    """The log a view follows: the script's output, else the pipeline's log, else the first log
    of the last group (Azure's choice)."""
    names = list(log_files)
    for preferred in (STD_LOG, PIPELINE_LOG):
        if preferred in names:
            return preferred
    groups = log_groups(names)
    return groups[-1][0] if groups else None


def tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:]) if text else ""


def metric_entries(run_id: str, metrics: dict) -> list[dict]:
    """Azure's ``run_metrics`` shape: one entry per metric with its series."""
    entries = []
    for name, value in metrics.items():
        data = value if isinstance(value, list) else [value]
        entries.append({"name": name, "run_id": run_id, "categories": list(range(len(data))),
                        "series": [{"data": data}]})
    return entries


@dataclass
class WidgetData:
    """Collects the widget data of one run; keeps what ended runs can no longer change."""

    run: object
    log_lines: int = LOG_TAIL_LINES
    _ended_children: dict = field(default_factory=dict)

    # -- the run itself ---------------------------------------------------------------------
    def collect(self, widget_settings: dict | None = None) -> dict:
        run = self.run
        details = run.get_details()
        tags = dict(details.get("tags") or {})
        status = tags.get("_aml_system_automl_status") or details.get("status")
        definition = details.get("runDefinition") or {}
        log_files = dict(details.get("logFiles") or {})
        error = details.get("error")
        arguments = definition.get("arguments")
        properties = {
            "run_id": run.id,
            "name": run.name,
            "created_utc": details.get("createdUtc") or details.get("startTimeUtc"),
            "start_time_utc": details.get("startTimeUtc"),
            "end_time_utc": details.get("endTimeUtc"),
            "properties": dict(details.get("properties") or {}),
            "tags": tags,
            "script_name": definition.get("script"),
            "arguments": " ".join(str(a) for a in arguments) if arguments else None,
            "status": status,
            "log_files": log_files,
            "log_groups": log_groups(log_files),
            "run_duration": duration(details.get("startTimeUtc"), details.get("endTimeUtc")),
            "error": (error or {}).get("message") if isinstance(error, dict) else error,
        }
        child_runs, graph = self._children_and_graph()
        return {
            "status": status,
            "workbench_run_details_uri": details_command(run.id),
            "run_id": run.id,
            "run_properties": properties,
            "child_runs": child_runs,
            "children_metrics": children_metrics(child_runs, widget_settings),
            "run_metrics": metric_entries(run.id, run.get_metrics()),
            "run_logs": self._run_logs(log_files, status, properties["error"]),
            "graph": graph,
            "widget_settings": widget_settings,
        }

    def _run_logs(self, log_files: dict, status: str, error: str | None) -> str:
        chosen = main_log(log_files)
        text = read_log(self.run, chosen) if chosen else ""
        if text and not text.endswith("\n"):
            text += "\n"
        if error:
            text += f"\nError occurred: {error}\n"
        elif status in TERMINAL and status != RunStatus.FAILED:
            text += f"\nRun is {status.lower()}."
        return text or (NO_LOG if status in TERMINAL else WAITING_LOG)

    # -- children ---------------------------------------------------------------------------
    def _children_and_graph(self) -> tuple[list, dict]:
        run = self.run
        children = list(run.get_children())
        if getattr(run, "type", None) != "azureml.PipelineRun" or not hasattr(run, "get_graph"):
            return [self._child(c, i + 1) for i, c in enumerate(children)], {}
        return pipeline_graph(run.get_graph(), children, self._child)

    def _child(self, child, number: int) -> dict:
        cached = self._ended_children.get(child.id)
        if cached is not None:
            return dict(cached, run_number=number)
        details = child.get_details()
        status = details.get("status")
        definition = details.get("runDefinition") or {}
        reuse = definition.get("reuse") or {}
        log_files = details.get("logFiles") or {}
        chosen = main_log(log_files)
        start, end = details.get("startTimeUtc"), details.get("endTimeUtc")
        entry = {
            "run_id": child.id, "run_number": number, "metric": None, "status": status,
            "run_type": child.type, "training_percent": None,
            "start_time": start or "", "end_time": end or "",
            "created_time": start or "", "created_time_dt": start or "",
            "duration": duration(start, end) or "",
            "name": child.name or definition.get("node_id") or child.id,
            "is_reused": "Yes" if reuse.get("decision") == "reused" and status in TERMINAL else "",
            "metrics": child.get_metrics(),
            "log_tail": tail(read_log(child, chosen), self.log_lines) if chosen else "",
        }
        if status in TERMINAL:
            self._ended_children[child.id] = entry
        return entry


def children_metrics(child_runs: list[dict], widget_settings: dict | None) -> dict:
    """Azure's ``children_metrics`` shape: per metric name, one series per child run. Azure
    fills it only when ``widget_settings['Metric']`` names a primary metric; here it is filled
    for every metric, and ``primaryMetricName`` is set when one is named."""
    series: dict = {}
    for child in child_runs:
        for name, value in (child.get("metrics") or {}).items():
            data = value if isinstance(value, list) else [value]
            series.setdefault(name, []).append({
                "run_id": child["run_number"], "name": child.get("name"), "data": data,
                "mode": "lines", "stepped": False})
    if not series:
        return {"categories": None, "series": None, "metricName": None}
    longest = max(len(s["data"]) for items in series.values() for s in items)
    result = {"categories": list(range(longest)), "series": series, "metricName": None,
              "showLegend": True}
    primary = (widget_settings or {}).get("Metric") or {}
    if primary.get("name"):
        result["primaryMetricName"] = primary["name"]
    return result


def pipeline_graph(graph: dict, step_runs: list, child_entry) -> tuple[list, dict]:
    """Azure's pipeline widget graph from a frozen pipeline graph and its step runs:
    ``module_nodes`` (a step each), ``datasource_nodes`` (inputs no step produces), ``edges``
    and ``child_runs`` (one per step, NotStarted until its step run exists)."""
    steps = graph.get("steps") or []
    by_node = {}
    for run in step_runs:
        node_id = (run.get_properties() or {}).get("azureml.nodeid")
        by_node.setdefault(node_id, run)
    producers = {out["name"]: step for step in steps for out in step.get("outputs") or []}
    module_nodes, datasource_nodes, edges, child_runs = {}, {}, [], []
    for number, step in enumerate(steps, start=1):
        node_id = step["id"]
        run = by_node.get(node_id)
        entry = child_entry(run, number) if run is not None else {
            "run_id": "", "run_number": number, "name": step["name"],
            "status": RunStatus.NOT_STARTED.value,
            "start_time": "", "created_time": "", "end_time": "", "duration": "",
            "metrics": {}, "log_tail": ""}
        entry["name"] = step["name"]
        child_runs.append(entry)
        module_nodes[node_id] = {"node_id": node_id, "name": step["name"],
                                 "status": entry["status"], "run_id": entry["run_id"],
                                 "_is_reused": entry.get("is_reused") == "Yes"}
        linked = set()
        for inp in step.get("inputs") or []:
            source = producers.get(inp.get("data")) if inp.get("type") == "output" else None
            if source is not None:
                linked.add(source["id"])
                edges.append(_edge(source["id"], source["name"], inp.get("data") or "",
                                   inp["name"], step))
                continue
            ds_id = f"{inp.get('type', 'data')}:{inp['name']}"
            datasource_nodes.setdefault(ds_id, {"node_id": ds_id, "name": inp["name"]})
            edges.append(_edge(ds_id, inp["name"], inp["name"], inp["name"], step))
        for dep in step.get("depends_on") or []:
            if dep not in linked:  # run_after: an ordering edge that carries no data
                source = next((s for s in steps if s["id"] == dep), {"id": dep, "name": dep})
                edges.append(_edge(dep, source["name"], "", "", step))
    return child_runs, {"datasource_nodes": datasource_nodes, "module_nodes": module_nodes,
                        "edges": edges, "child_runs": child_runs}


def _edge(source_id: str, source_name: str, output: str, target: str, step: dict) -> dict:
    return {"source_node_id": source_id, "source_node_name": source_name, "source_name": output,
            "target_name": target, "dst_node_id": step["id"], "dst_node_name": step["name"]}
