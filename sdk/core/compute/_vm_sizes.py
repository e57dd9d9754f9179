"""Azure VM sizes as what a step asks of a cluster: cores, memory and GPUs.

amlocal creates no VMs. On a Ray cluster a ``vm_size`` (of ``AmlCompute.provisioning_configuration``
or of ``run_config.amlcompute.vm_size``) stands for "a node this big": every step on it asks Ray
for the size's cores, memory and GPUs (``StepSpec.resources``), so a cluster of larger machines
runs several such steps per machine, and a cluster of smaller ones refuses the step at once,
naming what it asked for. The table holds the sizes Azure ML samples and users commonly name
(general purpose D/DS/Dv3-v5, memory-optimised E, compute-optimised F, GPU NC/ND/NV); the figures
are Azure's published vCPUs, memory (GiB) and GPUs per VM. Names are matched case-insensitively,
with or without the ``Standard_`` prefix. An unknown size raises
:class:`~amlocal.errors.ComputeTargetException` naming it and the known ones (only where the
size is used: on ``docker``/``local`` targets a size is recorded and ignored).
"""
from __future__ import annotations

from ...errors import ComputeTargetException

GIB = 1024 ** 3


def _table() -> dict[str, tuple[str, int, float, int]]:
    """``{lower-case name: (Azure's spelling, vCPUs, memory GiB, GPUs)}``."""
    sizes: dict[str, tuple[str, int, float, int]] = {}

    def add(name: str, cores: int, memory: float, gpus: int = 0) -> None:
        sizes[name.lower()] = (name, cores, memory, gpus)

    # v2 general purpose and memory optimised (D and DS are the same shape)
    for n, cores, memory in ((1, 1, 3.5), (2, 2, 7), (3, 4, 14), (4, 8, 28), (5, 16, 56),
                             (11, 2, 14), (12, 4, 28), (13, 8, 56), (14, 16, 112),
                             (15, 20, 140)):
        add(f"Standard_D{n}_v2", cores, memory)
        add(f"Standard_DS{n}_v2", cores, memory)
    # Dv3 .. Dv5 (4 GiB per vCPU) and Ev3 .. Ev5 (8 GiB per vCPU), every suffix variant
    for series, per_core, versions, counts in (
            ("D", 4, (3, 4, 5), (2, 4, 8, 16, 32, 48, 64)),
            ("E", 8, (3, 4, 5), (2, 4, 8, 16, 20, 32, 48, 64))):
        for version in versions:
            for suffix in ("", "s", "d", "ds", "a", "as", "ads"):
                if version == 3 and suffix not in ("", "s"):
                    continue
                for cores in counts:
                    add(f"Standard_{series}{cores}{suffix}_v{version}", cores, per_core * cores)
    for cores in (2, 4, 8, 16, 32, 48, 64, 72):                       # F-series v2: 2 GiB/vCPU
        add(f"Standard_F{cores}s_v2", cores, 2 * cores)
    for name, cores, memory, gpus in (
            # K80 / P100 / V100 / T4 / A100 NC-series
            ("NC6", 6, 56, 1), ("NC12", 12, 112, 2), ("NC24", 24, 224, 4), ("NC24r", 24, 224, 4),
            ("NC6s_v2", 6, 112, 1), ("NC12s_v2", 12, 224, 2), ("NC24s_v2", 24, 448, 4),
            ("NC6s_v3", 6, 112, 1), ("NC12s_v3", 12, 224, 2), ("NC24s_v3", 24, 448, 4),
            ("NC24rs_v3", 24, 448, 4), ("NC4as_T4_v3", 4, 28, 1), ("NC8as_T4_v3", 8, 56, 1),
            ("NC16as_T4_v3", 16, 110, 1), ("NC64as_T4_v3", 64, 440, 4),
            ("NC24ads_A100_v4", 24, 220, 1), ("NC48ads_A100_v4", 48, 440, 2),
            ("NC96ads_A100_v4", 96, 880, 4),
            # ND-series
            ("ND6s", 6, 112, 1), ("ND12s", 12, 224, 2), ("ND24s", 24, 448, 4),
            ("ND24rs", 24, 448, 4), ("ND40rs_v2", 40, 672, 8), ("ND96asr_v4", 96, 900, 8),
            ("ND96amsr_A100_v4", 96, 1900, 8),
            # NV-series
            ("NV6", 6, 56, 1), ("NV12", 12, 112, 2), ("NV24", 24, 224, 4),
            ("NV12s_v3", 12, 112, 1), ("NV24s_v3", 24, 224, 2), ("NV48s_v3", 48, 448, 4)):
        add(f"Standard_{name}", cores, memory, gpus)
    return sizes


_SIZES = _table()


def known_sizes() -> list[str]:
    """Every VM size in the table, in Azure's spelling, sorted."""
    return sorted((entry[0] for entry in _SIZES.values()), key=str.lower)


def lookup(vm_size: str) -> tuple[int, float, int] | None:
    """``(vCPUs, memory GiB, GPUs)`` of ``vm_size`` (any case, ``Standard_`` optional), or None."""
    key = str(vm_size or "").strip().lower()
    if key and not key.startswith("standard_"):
        key = "standard_" + key
    found = _SIZES.get(key)
    return found[1:] if found else None


def vm_size_request(vm_size: str, where: str) -> dict:
    """What a node of ``vm_size`` has, as ``StepSpec.resources`` keys (``num_cpus``, ``memory``
    in bytes, ``num_gpus`` when it has GPUs). Raises ComputeTargetException naming ``where`` the
    size was given and the known sizes when the table does not know it."""
    found = lookup(vm_size)
    if found is None:
        raise ComputeTargetException(
            f"{where}: vm_size {vm_size!r} is not an Azure VM size amlocal knows, so it cannot "
            "say what a step on a Ray cluster asks for. Use one of: " + ", ".join(known_sizes())
            + "; or leave vm_size empty and ask for what the step needs with "
            "run_config.docker.arguments (e.g. ['--cpus=2', '--memory=4g']).")
    cores, memory, gpus = found
    request: dict = {"num_cpus": cores, "memory": int(memory * GIB)}
    if gpus:
        request["num_gpus"] = gpus
    return request


def supported_sizes() -> list[dict]:
    """The table in the shape of Azure's ``AmlCompute.supported_vmsizes``: ``name``, ``vCPUs``,
    ``gpus``, ``memoryGB``, ``maxResourceVolumeMB`` (not known here: None)."""
    return [{"name": name, "vCPUs": cores, "gpus": gpus, "memoryGB": float(memory),
             "maxResourceVolumeMB": None}
            for _, (name, cores, memory, gpus) in sorted(_SIZES.items())]
