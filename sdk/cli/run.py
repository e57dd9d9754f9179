"""``amlocal run list|show|logs|cancel|submit-pipeline``.

A run id is global to the store, so when no workspace is selected (no ``-w``, no config file)
the run's own workspace is used. az ml takes the run id as ``-r/--run``; both that and a
positional ``RUN_ID`` are accepted.
"""
from __future__ import annotations

import click

from .._status import TERMINAL, RunStatus
from ..errors import UserErrorException
from ._common import (duration, echo_json, output_option, print_fields, print_mapping, print_table,
                      show_time, workspace_options)
from ._runs import get_run, info_summary, pick_run_id, run_id_options, settled_runs
from .logs import logs
from .submit import submit_pipeline

LAST = 10       # runs `run list` shows by default (az ml run list's --last default)


@click.group()
def run() -> None:
    """Runs: submit a published pipeline, list, show, follow logs, cancel."""


def run_details(r) -> dict:
    """Everything ``run show`` prints: the run, its metrics and files, and a pipeline's steps."""
    info = r._refresh()
    data = info_summary(info)
    data["metrics"] = r.get_metrics()
    data["files"] = r.get_file_names()
    data["inputDatasets"] = (info.definition or {}).get("inputDatasets", [])
    if info.kind == "pipeline":
        data["steps"] = [info_summary(s._info) for s in r.get_steps()]
    return data


def reuse_report(r) -> dict:
    """For every step of a pipeline run: did it run or was it reused, and why."""
    info = r._refresh()
    if info.kind != "pipeline":
        raise UserErrorException(f"run {r.id} is not a pipeline run; --reuse explains the steps "
                                 "of a pipeline run")
    steps = []
    for s in r.get_steps():
        record = (s._info.definition or {}).get("reuse") or {}
        status = RunStatus.of(s._info.status)
        decision = record.get("decision") if status.succeeded else None
        steps.append({"name": s.name, "runId": s.id, "status": s._info.status,
                      "decision": decision or ("failed" if status == RunStatus.FAILED else "not run"),
                      "reusedFrom": s._info.reused_from, "reason": record.get("reason", ""),
                      "changed": record.get("changed", []), "comparedWith": record.get("compared_with"),
                      "reuseKey": record.get("key")})
    return {"runId": r.id, "status": info.status, "steps": steps}


@run.command("list")
@click.option("-e", "--experiment-name", "experiment", default=None, help="Only this experiment.")
@click.option("--last", type=click.IntRange(min=0), default=LAST, show_default=True, metavar="N",
              help="Only the newest N runs (as az ml's --last); 0 for every run.")
@click.option("--include-children", is_flag=True, help="Also the step runs of pipeline runs.")
@workspace_options
@output_option
def list_(experiment, last, include_children, selector, output) -> None:
    """List runs, newest first (top-level runs unless --include-children): the newest 10
    unless --last says otherwise; the table's footer says when there are more."""
    ws = selector.resolve()
    infos, total = settled_runs(ws._store, ws._id, experiment, top_level=not include_children,
                                last=last or None)
    if output == "json":
        echo_json([info_summary(i) for i in infos])
        return
    print_table(["RUN ID", "EXPERIMENT", "TYPE", "STATUS", "CREATED", "DURATION", "NAME"],
                [[i.id, i.experiment, i.kind, i.status, show_time(i.created_at),
                  duration(i.started_at, i.ended_at), i.name or ""] for i in infos],
                empty="No runs" + (f" in experiment '{experiment}'" if experiment else "") + ".")
    if total > len(infos):
        click.echo(f"Showing the newest {len(infos)} of {total:,} runs; --last N for more "
                   "(--last 0 for all).")


@run.command("show")
@run_id_options
@click.option("--reuse", is_flag=True,
              help="For a pipeline run: which steps ran and which were reused, and why.")
@workspace_options
@output_option
def show(run_id, run_option, reuse, selector, output) -> None:
    """Show a run: status, times, tags, properties, metrics, files and a pipeline's steps."""
    r = get_run(selector, pick_run_id(run_id, run_option))
    if reuse:
        report = reuse_report(r)
        if output == "json":
            echo_json(report)
            return
        print_table(["STEP", "DECISION", "WHY", "REUSED FROM"],
                    [[s["name"], s["decision"], s["reason"], s["reusedFrom"] or ""]
                     for s in report["steps"]], title=f"Reuse in pipeline run {r.id}")
        return
    data = run_details(r)
    if output == "json":
        echo_json(data)
        return
    fields = [("run id", data["runId"]), ("type", data["type"]), ("status", data["status"]),
              ("experiment", data["experiment"]), ("display name", data["displayName"] or ""),
              ("target", data["target"]), ("created", show_time(data["createdUtc"])),
              ("started", show_time(data["startTimeUtc"])), ("ended", show_time(data["endTimeUtc"])),
              ("duration", duration(data["startTimeUtc"], data["endTimeUtc"]))]
    if data["parentRunId"]:
        fields.append(("parent run", data["parentRunId"]))
    if data["environmentDigest"]:
        fields.append(("environment digest", data["environmentDigest"]))
    if data["error"]:
        fields.append(("error", (data["error"] or {}).get("message", "")))
    print_fields(fields)
    print_mapping(data["tags"], "Tags")
    print_mapping(data["properties"], "Properties")
    print_mapping(data["metrics"], "Metrics")
    if data["inputDatasets"]:
        print_table(["INPUT", "MODE", "DATASET", "FILES", "CONTENT DIGEST"],
                    [[d["name"], d["mode"],
                      (f"{d['registered']['name']}:{d['registered']['version']}"
                       if d.get("registered") else d.get("dataset_id", "")[:16]),
                      d.get("files", ""), (d.get("content_digest") or "")[:16]]
                     for d in data["inputDatasets"]], title="Input datasets (lineage)")
    click.echo("Files:" + ("" if data["files"] else " (none)"))
    for name in data["files"]:
        click.echo(f"  {name}")
    if "steps" in data:
        print_table(["STEP", "RUN ID", "STATUS", "DURATION", "ENVIRONMENT DIGEST", "ERROR"],
                    [[s["displayName"], s["runId"], s["status"],
                      duration(s["startTimeUtc"], s["endTimeUtc"]),
                      (s["environmentDigest"] or "")[:16], (s["error"] or {}).get("message", "")]
                     for s in data["steps"]], title="Steps")


@run.command("cancel")
@run_id_options
@workspace_options
def cancel(run_id, run_option, selector) -> None:
    """Cancel a run (a pipeline run stops its running steps and skips the rest)."""
    r = get_run(selector, pick_run_id(run_id, run_option))
    info = r._refresh()
    if info.kind == "step":
        raise UserErrorException(
            f"run {r.id} is step '{info.name}' of pipeline run {info.parent_id}; cancel the "
            f"pipeline run: `amlocal run cancel {info.parent_id}`")
    if info.status in TERMINAL:
        click.echo(f"Run {r.id} is already {info.status}; nothing to cancel")
        return
    r.cancel()
    click.echo(f"Cancel requested for run {r.id}")


run.add_command(logs)
run.add_command(submit_pipeline)


@run.command("rerun-step")
@click.argument("run_id")
@click.argument("step_name")
@click.option("--shell", is_flag=True,
              help="Open a shell in the step's container (everything mounted) instead of running it.")
@click.option("--no-wait", is_flag=True, help="Start the rerun and return at once.")
@workspace_options
def rerun_step(run_id, step_name, shell, no_wait, selector) -> None:
    """Run one step of a pipeline run again, in its recorded environment with its recorded
    inputs, snapshot and arguments, as a new run linked to the old one."""
    from ..pipeline.core._rerun import rerun_step as start
    from ..pipeline.core.run import PipelineRun
    r = get_run(selector, run_id)
    if not isinstance(r, PipelineRun):
        raise UserErrorException(f"{run_id} is not a pipeline run; give the pipeline run that "
                                 "holds the step")
    result = start(r.experiment.workspace, run_id, step_name, shell=shell)
    if shell:
        raise SystemExit(result)
    click.echo(f"Rerun of step '{step_name}' submitted as pipeline run {result.id}")
    if no_wait:
        return
    status = result.wait_for_completion(show_output=True, raise_on_error=False)
    if status != RunStatus.FINISHED:
        raise SystemExit(1)


@run.command("download")
@run_id_options
@click.option("--prefix", default=None, help="Only files whose name starts with this, e.g. outputs/.")
@click.option("-t", "--target-dir", "target", default=".", show_default=True,
              help="Folder to write the files into (their run paths are kept).")
@workspace_options
def download(run_id, run_option, prefix, target, selector) -> None:
    """Download a run's files (outputs, logs, images) into a folder."""
    r = get_run(selector, pick_run_id(run_id, run_option))
    names = [n for n in r.get_file_names() if not prefix or n.startswith(prefix)]
    if not names:
        raise UserErrorException(f"run {r.id} has no files" + (f" starting with {prefix!r}" if prefix else ""))
    r.download_files(prefix=prefix, output_directory=target)
    for name in names:
        click.echo(name)
    click.echo(f"Downloaded {len(names)} file(s) into {target}")
