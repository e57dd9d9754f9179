"""``amlocal run submit-pipeline``, with ``az ml run submit-pipeline``'s flags.

Deliberate differences from az ml v1:

* ``-y/--pipeline-yaml FILE`` (with ``-n``, required as on az) builds the pipeline with
  ``Pipeline.load_yaml`` and submits it; ``-i`` and ``-y`` together are refused;
* ``-f/--output_file`` (also spelled ``--output-file``) is created when missing, where az
  requires the file to exist; it holds ``Run.get_details()`` plus ``_experiment_name``;
* ``--wait`` is new: it follows the run's live log, then prints the final status and every
  failed step's error and log tail, and exits 1 unless the run Finished. Ctrl-C while waiting
  cancels the run (exit status 130).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from .._status import RunStatus
from ..errors import UserErrorException
from ._common import EXIT_ERROR, note, parse_pairs, workspace_options
from .pipeline import resolve_published


def _write_output_file(path: str, r, experiment_name: str) -> None:
    details = {**r.get_details(), "_experiment_name": experiment_name}
    target = Path(path)
    if not target.parent.is_dir():
        raise UserErrorException(f"-f/--output_file {path}: folder {target.parent} does not exist")
    target.write_text(json.dumps(details, indent=2, default=str) + "\n", encoding="utf-8")


def _report_failure(r, status: str) -> None:
    """The failed steps' messages and log tails (the user's traceback), on stderr."""
    failed = [s for s in r.get_steps() if s.get_status() == RunStatus.FAILED]
    for step in failed:
        error = step.get_details().get("error") or {}
        note(f"Step '{step.name}' failed: {error.get('message', 'no error message recorded')}")
        tail = (error.get("log_tail") or "").rstrip("\n")
        if tail:
            note(tail)
    if not failed:
        error = r.get_details().get("error") or {}
        if error.get("message"):
            note(f"Pipeline run {r.id}: {error['message']}")
    note(f"Pipeline run {r.id} ended with status {status}; see `amlocal run show {r.id}` "
         f"and `amlocal run logs {r.id}`")


def _datapath(ws, name: str, text: str):
    """``datastore/path`` -> ``DataPath`` (split on the first ``/``, as az ml does)."""
    from ..core.datastore import Datastore
    from ..data.datapath import DataPath
    datastore, sep, path = text.strip().partition("/")
    if not sep or not datastore:
        raise UserErrorException(f"-d/--datapaths: {name}={text!r} is not DATASTORE/PATH; write "
                                 f"it as {name}=workspaceblobstore/folder/file.csv")
    return DataPath(Datastore(ws, datastore), path)


@click.command("submit-pipeline")
@click.option("-i", "--pipeline-id", default=None, metavar="ID",
              help="Id of the published pipeline to run (see `amlocal pipeline list`).")
@click.option("-y", "--pipeline-yaml", default=None, metavar="FILE",
              help="Pipeline YAML file (Azure's schema; see Pipeline.load_yaml). Needs -n.")
@click.option("-n", "--experiment-name", default=None, metavar="NAME",
              help="Experiment to run in (default: the pipeline's name, other characters than "
                   "letters, digits, '_' and '-' replaced by '_').")
@click.option("-p", "--parameters", default=None, metavar='"a=1,b=x"',
              help="Pipeline parameter values: NAME=VALUE pairs separated by commas.")
@click.option("-d", "--datapaths", default=None, metavar='"p=datastore/path"',
              help="DataPath parameter values: NAME=DATASTORE/PATH pairs separated by commas.")
@click.option("-f", "--output_file", "--output-file", "output_file", default=None, metavar="FILE",
              help="Write the run's details as JSON to FILE.")
@click.option("--wait", is_flag=True,
              help="Follow the run's output until it ends; exit 1 unless it Finished.")
@workspace_options
def submit_pipeline(pipeline_id, pipeline_yaml, experiment_name, parameters, datapaths,
                    output_file, wait, selector) -> None:
    """Submit a published pipeline (-i) or a pipeline YAML file (-y) for execution."""
    if pipeline_yaml and pipeline_id:
        raise UserErrorException("give either -i/--pipeline-id or -y/--pipeline-yaml, not both")
    if pipeline_yaml and not experiment_name:
        raise UserErrorException("-y/--pipeline-yaml needs the experiment to run in: add "
                                 "-n/--experiment-name NAME")
    if not pipeline_id and not pipeline_yaml:
        raise UserErrorException("give the published pipeline's id with -i/--pipeline-id (list "
                                 "them with `amlocal pipeline list`) or a pipeline YAML file "
                                 "with -y/--pipeline-yaml FILE -n EXPERIMENT")
    values = parse_pairs(parameters, "-p/--parameters", '"a=1,b=x"')
    paths = parse_pairs(datapaths, "-d/--datapaths", '"p=datastore/path,q=other/folder"')
    both = sorted(set(values) & set(paths))
    if both:
        raise UserErrorException(f"{', '.join(both)} is given with both -p and -d; give each "
                                 "parameter once")
    if pipeline_yaml:
        from ..pipeline.core.pipeline import Pipeline
        ws = selector.resolve()
        values.update({name: _datapath(ws, name, text) for name, text in paths.items()})
        experiment = experiment_name
        r = Pipeline.load_yaml(ws, pipeline_yaml).submit(experiment, pipeline_parameters=values or None)
    else:
        ws, published = resolve_published(selector, pipeline_id)
        values.update({name: _datapath(ws, name, text) for name, text in paths.items()})
        experiment = experiment_name or published.default_experiment_name()
        from ..core.experiment import Experiment
        r = published._submit_to_experiment(   # the one submission path, marked as the CLI's
            Experiment(ws, experiment), pipeline_parameters=values or None,
            _properties={"amlocal.submitted_via": "CLI", "runSource": "CLI"})
    click.echo(f"Pipeline was submitted with run ID {r.id}")
    if output_file:
        _write_output_file(output_file, r, experiment)
    if not wait:
        return
    status = r.wait_for_completion(show_output=True, raise_on_error=False)
    if output_file:
        _write_output_file(output_file, r, experiment)
    click.echo(f"Pipeline run {r.id} final status: {status}")
    if status != RunStatus.FINISHED:
        _report_failure(r, status)
        click.get_current_context().exit(EXIT_ERROR)
