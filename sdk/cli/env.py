"""``amlocal env list|show|build|bootstrap-base|base``: registered environments and their images.

``build`` locks an environment and builds its image only when missing (the image is named by
the environment's content digest). ``bootstrap-base`` builds the offline base image with
debootstrap when no registry is reachable; ``base`` says which base image builds would use.
"""
from __future__ import annotations

import os

import click

from ..errors import DockerUnavailableError, EnvironmentBuildError
from ._common import echo_json, note, output_option, print_fields, print_mapping, print_table, workspace_options


@click.group()
def env() -> None:
    """Registered environments and their Docker images."""


def _summary(e) -> dict:
    cd = e.python.conda_dependencies
    managed = bool(e.python.user_managed_dependencies)
    return {"name": e.name, "version": e.version,
            "python": None if managed or cd is None else cd.get_python_version(),
            "userManagedDependencies": managed, "baseImage": e.docker.base_image,
            "baseDockerfile": bool(e.docker.base_dockerfile),
            "condaChannels": [] if managed or cd is None else list(cd.conda_channels),
            "condaPackages": [] if managed or cd is None else list(cd.conda_packages),
            "pipPackages": [] if managed or cd is None else list(cd.pip_packages),
            "environmentVariables": dict(e.environment_variables or {})}


def _get(selector, name: str, version):
    from ..core.environment import Environment
    return Environment.get(selector.resolve(), name, version=version)


@env.command("list")
@workspace_options
@output_option
def list_(selector, output) -> None:
    """List registered environments (the latest version of each)."""
    from ..core.environment import Environment
    found = [_summary(e) for e in Environment.list(selector.resolve()).values()]
    if output == "json":
        echo_json(found)
        return
    print_table(["NAME", "VERSION", "PYTHON", "PACKAGES", "BASE IMAGE"],
                [[e["name"], e["version"], e["python"] or "(image's own)",
                  len(e["condaPackages"]) + len(e["pipPackages"]), e["baseImage"] or ""]
                 for e in found],
                empty="No registered environments: register one with Environment(name).register(ws).")


@env.command("show")
@click.argument("name")
@click.option("--version", default=None, metavar="V", help="Version (default: the latest).")
@workspace_options
@output_option
def show(name, version, selector, output) -> None:
    """Show a registered environment."""
    e = _get(selector, name, version)
    if output == "json":
        echo_json(e._serialize_to_dict())
        return
    s = _summary(e)
    fallback = _pypi_fallback(e)
    print_fields([("name", s["name"]), ("version", s["version"]),
                  ("python", s["python"] or "(the image's own: user-managed dependencies)"),
                  ("base image", s["baseImage"] or ("(Dockerfile)" if s["baseDockerfile"] else "")),
                  ("conda channels", ", ".join(s["condaChannels"]) or "(none)"),
                  ("conda packages", ", ".join(s["condaPackages"]) or "(none)"),
                  ("pip packages", ", ".join(s["pipPackages"]) or "(none)"),
                  *([("conda on PyPI", "; ".join(fallback))] if fallback else [])])
    print_mapping(s["environmentVariables"], "Environment variables")


def _pypi_fallback(e) -> list[str]:
    """What the environment's conda packages become where no conda answers
    (``amlocal.compute.conda_map``); a package that cannot come from PyPI says so."""
    from ..compute.conda_map import to_pypi
    from ..errors import UserErrorException
    try:
        spec = e._to_spec()
        return list(to_pypi(spec.conda_packages).lines()) if spec.conda_packages else []
    except (EnvironmentBuildError, UserErrorException) as exc:
        return [f"not installable from PyPI: {exc}"]


@env.command("build")
@click.argument("name")
@click.option("--version", default=None, metavar="V", help="Version (default: the latest).")
@workspace_options
@output_option
def build(name, version, selector, output) -> None:
    """Lock a registered environment and build its image unless it exists."""
    from ..compute.environments import resolve
    from ..compute.images import ensure_image
    e = _get(selector, name, version)
    resolved = resolve(e._to_spec(), log=note)
    built = ensure_image(resolved, log=note)
    from ..compute.environments import conda_substitutions
    data = {"name": e.name, "version": e.version, "digest": resolved.digest,
            "image": resolved.image, "baseImage": resolved.base_image,
            "installer": f"{resolved.installer} {resolved.installer_version}", "built": built,
            "condaSubstitutions": list(conda_substitutions(resolved.lock_text))}
    if output == "json":
        echo_json(data)
        return
    print_fields([("environment", f"{data['name']} (version {data['version']})"),
                  ("digest", data["digest"]), ("image", data["image"]),
                  ("base image", data["baseImage"]), ("installer", data["installer"]),
                  *([("conda on PyPI", "; ".join(data["condaSubstitutions"]))]
                    if data["condaSubstitutions"] else []),
                  ("built", "yes (new image)" if built else "no (the image existed)")])


@env.command("bootstrap-base")
@click.option("--name", default=None, metavar="IMAGE",
              help="Image name to create (default: amlocal/base:bookworm).")
@click.option("--force", is_flag=True, help="Build again even if the image exists.")
def bootstrap_base(name, force) -> None:
    """Build the offline base image with debootstrap (needs root; no registry needed)."""
    from ..compute import images
    from ..compute.bootstrap import bootstrap_base as build
    result = build(name=name or images.OFFLINE_BASE, log=note, force=force)
    click.echo(result)


@env.command("base")
@output_option
def base(output) -> None:
    """Show the base image environment builds would use."""
    from ..compute import images
    override = os.environ.get("AMLOCAL_BASE_IMAGE", "").strip()
    data = {"image": None, "source": None, "present": False, "python": None, "platform": None}
    try:
        data["image"] = images.choose_base_image(None, log=note, pull=False)
        data["source"] = "AMLOCAL_BASE_IMAGE" if override else "present locally"
    except EnvironmentBuildError:
        data["image"] = images.DEFAULT_BASE
        data["source"] = (f"none present locally: the first build pulls {images.DEFAULT_BASE}; "
                          f"without a registry run `amlocal env bootstrap-base` "
                          f"(builds {images.OFFLINE_BASE})")
    try:
        info = images.describe_base(data["image"], log=note, pull=False)
        data.update(present=True, python=info.python, platform=info.platform)
    except (EnvironmentBuildError, DockerUnavailableError):
        pass
    if output == "json":
        echo_json(data)
        return
    print_fields([("image", data["image"]), ("source", data["source"]),
                  ("present", "yes" if data["present"] else "no"),
                  ("python", data["python"] or ""), ("platform", data["platform"] or "")])
