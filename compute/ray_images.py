"""Every Ray node gets the same environment image from the same lock.

The image is tagged by the environment's digest (``amlocal-env:<digest[:32]>``). The host builds
it as the docker backend does (:meth:`RayBackend.prepare`); the step's task, on its node, looks the
tag up in the node's Docker engine and, when it is missing, gets it in one of three ways
(:class:`ImageSource`, from the target's options):

* ``image_registry="HOST:PORT/REPO"``: the host pushes ``HOST:PORT/REPO:<digest[:32]>`` after
  the build (:func:`publish`, once per digest and process), the node pulls it and tags it with
  the environment's tag. (Written plainly; not tested here: no registry runs in the tests.)
* ``image_store=`` a folder or fsspec URL every node reaches: the host ``docker save``s the image
  there once per digest (``<store>/<digest>.tar``, written under a temporary name and moved into
  place), the node ``docker load``s it.
* neither (the default): the node builds the image itself from the ResolvedEnvironment (its lock
  text and base image: the build the host does). The lock decides the content; before building,
  the node checks that its base image has the layers the digest was computed over (and that its
  amlocal has the same Dockerfile template), else it refuses, naming the difference, instead of
  building an image that would only carry the tag.

Only one task per node fetches or builds a digest at a time (a file lock in the node's folder).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

from amlocal.errors import ComputeError, EnvironmentBuildError

from .base import ResolvedEnvironment

_published: set = set()       # (digest, source) this process published


@dataclass(frozen=True)
class ImageSource:
    """Where a node gets an environment image it lacks (None, None: it builds it)."""

    registry: str | None = None
    store: str | None = None

    def describe(self) -> str:
        if self.registry:
            return f"the registry {self.registry}"
        if self.store:
            return f"the image store {self.store}"
        return "a build on the node"


def registry_name(source: ImageSource, env: ResolvedEnvironment) -> tuple[str, str]:
    """(repository, tag) of ``env``'s image in ``source.registry``."""
    return source.registry.rstrip("/"), env.digest[:32]


def _store_path(source: ImageSource, env: ResolvedEnvironment):
    import fsspec
    fs, root = fsspec.core.url_to_fs(source.store)
    return fs, f"{root.rstrip('/')}/{env.digest}.tar"


def publish(env: ResolvedEnvironment, source: ImageSource, log: Callable[[str], None]) -> None:
    """(the host, after building) Push the image to the registry or save it to the store,
    unless this process did already or the store has it. Raises ComputeError."""
    if not (source.registry or source.store) or (env.digest, source) in _published:
        return
    from .docker_errors import docker_errors, translate
    from .images import docker_client
    client = docker_client()
    if source.registry:
        repository, tag = registry_name(source, env)
        with docker_errors(f"pushing image {env.image} to {repository}"):
            client.images.get(env.image).tag(repository, tag=tag)
            for chunk in client.images.push(repository, tag=tag, stream=True, decode=True):
                if chunk.get("error"):
                    raise ComputeError(f"pushing image {env.image} to {repository}:{tag}: "
                                       f"{chunk['error']}: check that the registry answers and "
                                       "that `docker login` was done for it")
        log(f"pushed image {env.image} to {repository}:{tag}")
    else:
        fs, path = _store_path(source, env)
        if not fs.exists(path):
            try:
                parent = path.rsplit("/", 1)[0]
                fs.makedirs(parent, exist_ok=True)     # a no-op on blob stores, whose
                if not fs.exists(parent):               # container mkdir creates
                    fs.mkdir(parent, create_parents=True)
            except FileExistsError:
                pass
            except OSError as exc:
                raise ComputeError(f"cannot create the image store {source.store}: {exc}") \
                    from None
            partial = f"{path}.part-{os.getpid()}-{int(time.time() * 1000)}"
            with docker_errors(f"saving image {env.image} to {source.store}"):
                image = client.images.get(env.image)
                try:
                    with fs.open(partial, "wb") as out:
                        for chunk in image.save(named=True):
                            out.write(chunk)
                    fs.mv(partial, path)
                except Exception as exc:  # noqa: BLE001 - the engine's, or the store's
                    if isinstance(exc, ComputeError) or translate(exc, "") is not None:
                        raise
                    raise ComputeError(f"saving image {env.image} to {path}: "
                                       f"{type(exc).__name__}: {exc}"[:600] + ": check that the "
                                       "image store is writable from this host") from None
                finally:
                    if fs.exists(partial):
                        fs.rm(partial)
            log(f"saved image {env.image} to {path}")
    _published.add((env.digest, source))


def ensure_on_node(client, env: ResolvedEnvironment, source: ImageSource, node: str) -> str | None:
    """(the node) Make ``env.image`` exist in this node's engine; a line saying how it got
    there, or None when it was there. Raises ComputeError, EnvironmentBuildError."""
    from filelock import FileLock
    from .images import _get_image
    from .ray_files import node_root
    if _get_image(client, env.image) is not None:
        return None
    locks = node_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"image-{env.digest[:32]}.lock")):
        if _get_image(client, env.image) is not None:
            return None
        started = time.monotonic()
        if source.registry:
            _pull(client, env, source, node)
            how = f"pulled from {source.registry}"
        elif source.store:
            _load(client, env, source, node)
            how = f"loaded from the image store {source.store}"
        else:
            _build(env, node)
            how = "built on the node from the environment's lock"
        if _get_image(client, env.image) is None:
            raise ComputeError(f"Ray node {node}: the image {env.image} of environment "
                               f"'{env.spec.name}' is still missing after it was {how}")
    return (f"amlocal: image {env.image} was not on Ray node {node}: {how} "
            f"({time.monotonic() - started:.1f} s)")


def _pull(client, env: ResolvedEnvironment, source: ImageSource, node: str) -> None:
    from .docker_errors import docker_errors
    repository, tag = registry_name(source, env)
    with docker_errors(f"Ray node {node}: pulling {repository}:{tag}",
                       "check that this node reaches the registry and is logged in to it"):
        image = client.images.pull(repository, tag=tag)
        image.tag(env.image.split(":")[0], tag=env.image.split(":")[1])


def _load(client, env: ResolvedEnvironment, source: ImageSource, node: str) -> None:
    from .docker_errors import docker_errors, translate
    path = f"{source.store}/{env.digest}.tar"
    with docker_errors(f"Ray node {node}: loading image {env.image} from {path}"):
        try:
            fs, path = _store_path(source, env)
            if not fs.exists(path):
                raise ComputeError(
                    f"Ray node {node}: the image store has no {path} for environment "
                    f"'{env.spec.name}' (the host saves it there when it prepares the "
                    "environment: check that host and node name the same store)")
            with fs.open(path, "rb") as data:
                client.images.load(data)
        except Exception as exc:  # noqa: BLE001 - the engine's (translated above), the store's
            if isinstance(exc, ComputeError) or translate(exc, "") is not None:
                raise
            raise ComputeError(f"Ray node {node}: reading {path}: {type(exc).__name__}: "
                               f"{exc}"[:600] + ": check that this node reaches the image store "
                               "(its credentials are in the node's environment)") from None


def _build(env: ResolvedEnvironment, node: str) -> None:
    """Build ``env``'s image here, after checking the digest would be the same."""
    from . import images
    from .build_inputs import template_bytes
    from .environments import compute_digest
    from .ray_files import node_root
    if not env.base_image:
        raise ComputeError(f"Ray node {node}: environment '{env.spec.name}' has no base image "
                           "to build from")
    home = node_root() / "home"
    previous = os.environ.get("AMLOCAL_HOME")
    os.environ["AMLOCAL_HOME"] = str(home)       # the build's logs and locks: the node's own
    try:
        base = images.describe_base(env.base_image, log=lambda line: None)
        digest = compute_digest(env.lock_text, env.installer, env.installer_version,
                                template_bytes(env.installer), base.layers,
                                env.spec.environment_variables)
        if digest != env.digest:
            raise ComputeError(
                f"Ray node {node} cannot build the image of environment '{env.spec.name}': its "
                f"base image {env.base_image} (or its amlocal's Dockerfile template) differs "
                "from the host's, so the image would not be the lock's. Give every node the "
                "same base image and amlocal version, or attach the target with image_store= "
                "or image_registry= so nodes get the host's image")
        lines: list[str] = []
        try:
            images.ensure_image(env, log=lines.append)
        except EnvironmentBuildError as exc:
            raise EnvironmentBuildError(f"Ray node {node}: {exc}") from None
    finally:
        if previous is None:
            os.environ.pop("AMLOCAL_HOME", None)
        else:
            os.environ["AMLOCAL_HOME"] = previous
