"""``amlocal pipeline list|show|disable|enable``: published pipelines."""
from __future__ import annotations

import click

from ..errors import NotFoundError
from ._common import (echo_json, open_store, output_option, print_fields, print_mapping,
                      print_table, show_time, workspace_options)


@click.group()
def pipeline() -> None:
    """Published pipelines (immutable; run them with `amlocal run submit-pipeline -i ID`)."""


def _summary(pp) -> dict:
    info = pp._info
    return {"id": pp.id, "name": pp.name, "description": pp.description, "version": pp.version,
            "status": pp.status, "totalRunSteps": pp.total_run_steps,
            "continueOnStepFailure": pp.continue_on_step_failure,
            "createdTime": info.created_at, "endpoint": pp._endpoint(start=False),
            "parameters": dict(info.definition.get("parameters", {}))}


def _steps(pp) -> list[dict]:
    return [{"name": n.get("name"), "script": n.get("script_name"),
             "compute": (n.get("compute") or {}).get("name"),
             "environment": n.get("environment_name"), "allowReuse": n.get("allow_reuse"),
             "dependsOn": n.get("depends_on", [])}
            for n in pp._info.definition.get("steps", [])]


def resolve_published(selector, pipeline_id: str):
    """``(workspace, PublishedPipeline)`` for ``pipeline_id`` in the selected workspace (or, when
    none is selected, in the workspace it belongs to). Raises NotFoundError."""
    from ..pipeline.core.published import PublishedPipeline
    info = open_store().get_pipeline(pipeline_id)
    if info is None:
        raise NotFoundError(f"no published pipeline with id {pipeline_id}; list them with "
                            "`amlocal pipeline list --all`")
    ws = selector.resolve(owner_workspace_id=info.workspace_id)
    return ws, PublishedPipeline.get(ws, pipeline_id)


@pipeline.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also disabled pipelines.")
@workspace_options
@output_option
def list_(show_all, selector, output) -> None:
    """List published pipelines (active ones unless --all)."""
    from ..pipeline.core.published import PublishedPipeline
    found = [_summary(p) for p in PublishedPipeline.list(selector.resolve(), active_only=not show_all)]
    if output == "json":
        echo_json(found)
        return
    print_table(["ID", "NAME", "VERSION", "STATUS", "STEPS", "CREATED"],
                [[p["id"], p["name"], p["version"] or "", p["status"], p["totalRunSteps"],
                  show_time(p["createdTime"])] for p in found],
                empty="No published pipelines" + ("" if show_all else " (active; --all shows "
                                                  "disabled ones too)") + ".")


@pipeline.command("show")
@click.argument("pipeline_id", metavar="ID")
@workspace_options
@output_option
def show(pipeline_id, selector, output) -> None:
    """Show a published pipeline, its parameters and steps."""
    _, pp = resolve_published(selector, pipeline_id)
    data = {**_summary(pp), "steps": _steps(pp)}
    if output == "json":
        echo_json(data)
        return
    print_fields([("id", data["id"]), ("name", data["name"]), ("version", data["version"] or ""),
                  ("status", data["status"]), ("description", data["description"] or ""),
                  ("continue on step failure", data["continueOnStepFailure"]),
                  ("created", show_time(data["createdTime"])), ("endpoint", data["endpoint"])])
    print_mapping(data["parameters"], "Parameters (defaults)")
    print_table(["STEP", "SCRIPT", "COMPUTE", "ENVIRONMENT", "REUSE", "AFTER"],
                [[s["name"], s["script"], s["compute"], s["environment"],
                  "yes" if s["allowReuse"] else "no", ", ".join(s["dependsOn"])]
                 for s in data["steps"]], title="Steps")


def _set_status(pipeline_id, selector, enable: bool) -> None:
    _, pp = resolve_published(selector, pipeline_id)
    if enable:
        pp.enable()
    else:
        pp.disable()
    click.echo(f"Published pipeline {pp.id} ('{pp.name}') is now {pp.status}")


@pipeline.command("disable")
@click.argument("pipeline_id", metavar="ID")
@workspace_options
def disable(pipeline_id, selector) -> None:
    """Disable a published pipeline: it refuses submissions until enabled."""
    _set_status(pipeline_id, selector, enable=False)


@pipeline.command("enable")
@click.argument("pipeline_id", metavar="ID")
@workspace_options
def enable(pipeline_id, selector) -> None:
    """Enable a disabled published pipeline."""
    _set_status(pipeline_id, selector, enable=True)
