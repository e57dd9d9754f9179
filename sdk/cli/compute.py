"""``amlocal compute attach|list|show``: the workspace's compute targets, and attaching a Ray
cluster (``ComputeTarget.attach`` with ``RayCompute.attach_configuration``)."""
from __future__ import annotations

import click

from ..errors import UserErrorException

from ._common import echo_json, output_option, parse_pairs, print_fields, print_table, show_time, \
    workspace_options


@click.group()
def compute() -> None:
    """Compute targets: where steps run (docker, local, or an attached Ray cluster)."""


def _summary(target) -> dict:
    config = target._info.config
    return {"name": target.name, "type": target.type, "kind": target.kind,
            "address": config.get("address"), "resources": config.get("resources") or {},
            "createdTime": target._info.created_at,
            **{k: config.get(k) for k in ("num_cpus", "num_gpus", "memory", "service_address",
                                          "image_store", "image_registry", "max_retries")
               if config.get(k) is not None}}


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserErrorException(f"--resources: {what} {text!r} is not a number") from None
    return int(value) if value == int(value) else value


@compute.command("attach")
@click.argument("name")
@click.option("--address", required=True,
              help="The Ray cluster's head: HOST:PORT, ray://HOST:PORT or auto.")
@click.option("--resources", default=None,
              help="Custom resources every step asks for, e.g. node_a=1 (pins steps to the "
                   "nodes started with them).")
@click.option("--num-cpus", type=float, default=None, help="CPUs each step asks for (default 1).")
@click.option("--num-gpus", type=float, default=None, help="GPUs each step asks for.")
@click.option("--memory", type=int, default=None, help="Memory (bytes) each step asks for.")
@click.option("--service-address", default=None,
              help="IP[:PORT] of this machine as the nodes reach it, where steps find the run "
                   "service over TLS (default: the address Ray reports, a free port).")
@click.option("--image-store", default=None,
              help="A folder or fsspec URL every node reaches: images are saved there once and "
                   "loaded by nodes lacking them (default: a node builds them from the lock).")
@click.option("--image-registry", default=None,
              help="HOST:PORT/REPO: images are pushed there and pulled by nodes lacking them.")
@click.option("--max-retries", type=int, default=0,
              help="How often a step whose node died is started again on another node.")
@workspace_options
@output_option
def attach(name, address, resources, num_cpus, num_gpus, memory, service_address, image_store,
           image_registry, max_retries, selector, output) -> None:
    """Attach a Ray cluster as compute target NAME (ComputeTarget.attach); steps given it as
    compute_target run in their image through Ray tasks on the cluster's nodes."""
    from ..core.compute import ComputeTarget, RayCompute
    custom = {k: _number(v, k) for k, v in parse_pairs(resources, "--resources",
                                                      "node_a=1,gpu_box=1").items()}
    config = RayCompute.attach_configuration(
        address=address, resources=custom, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory,
        service_address=service_address, image_registry=image_registry, image_store=image_store,
        max_retries=max_retries)
    data = _summary(ComputeTarget.attach(selector.resolve(), name, config))
    if output == "json":
        echo_json(data)
        return
    click.echo(f"Attached Ray cluster {address} as compute target '{name}'.")


@compute.command("list")
@workspace_options
@output_option
def list_(selector, output) -> None:
    """List the workspace's compute targets."""
    from ..core.compute import ComputeTarget
    targets = [_summary(t) for t in ComputeTarget.list(selector.resolve())]
    if output == "json":
        echo_json(targets)
        return
    print_table(["NAME", "TYPE", "KIND", "ADDRESS", "CREATED"],
                [[t["name"], t["type"], t["kind"], t["address"] or "", show_time(t["createdTime"])]
                 for t in targets], empty="No compute targets.")


@compute.command("show")
@click.argument("name")
@workspace_options
@output_option
def show(name, selector, output) -> None:
    """Show a compute target."""
    from ..core.compute import ComputeTarget
    data = _summary(ComputeTarget(selector.resolve(), name))
    if output == "json":
        echo_json(data)
        return
    print_fields([(k, v if not isinstance(v, dict) else
                   ", ".join(f"{a}={b}" for a, b in v.items())) for k, v in data.items()])
