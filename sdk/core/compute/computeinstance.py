"""``ComputeInstance``: Azure's single-VM development workstation, which also runs submitted
jobs in Docker containers on that one VM. Locally that is exactly what a ``docker`` compute
target does, so a compute instance is a local Docker target (like AmlCompute): scripts that
create one, wait for it and submit to it run unchanged; nothing is provisioned.

Differences from Azure: there is no VM, Jupyter or SSH; ``start``/``restart`` return at once
(the target is always available) and ``stop`` raises (nothing can be stopped: no step runs when
none is submitted).
"""
from __future__ import annotations

from ...errors import ComputeTargetException
from .compute import ComputeTarget


class ComputeInstance(ComputeTarget):
    """``ComputeInstance(workspace, name)``: a registered compute instance; an unknown name
    raises ComputeTargetException, as on Azure (create it with
    ``ComputeTarget.create(ws, name, ComputeInstance.provisioning_configuration(...))``)."""

    _TYPE = "ComputeInstance"   # the stored type ComputeTarget(ws, name) returns this class for

    @staticmethod
    def provisioning_configuration(vm_size: str = "", ssh_public_access: bool = False,
                                   admin_user_ssh_public_key: str | None = None,
                                   vnet_resourcegroup_name: str | None = None,
                                   vnet_name: str | None = None, subnet_name: str | None = None,
                                   tags: dict | None = None, description: str | None = None,
                                   assigned_user_object_id: str | None = None,
                                   assigned_user_tenant_id: str | None = None) -> dict:
        """Accepted as on Azure and recorded with the target; the target runs steps in local
        Docker containers whatever the VM size, network or SSH settings say."""
        return {"type": "ComputeInstance", "vm_size": vm_size,
                "ssh_public_access": bool(ssh_public_access),
                "vnet_resourcegroup_name": vnet_resourcegroup_name, "vnet_name": vnet_name,
                "subnet_name": subnet_name, "tags": dict(tags or {}), "description": description,
                "assigned_user_object_id": assigned_user_object_id,
                "assigned_user_tenant_id": assigned_user_tenant_id, "kind": "docker"}

    def wait_for_completion(self, show_output: bool = False,
                            is_delete_operation: bool = False) -> None:
        """Wait until the instance is Running, as Azure's (which polls its state and never
        raises for an instance that was looked up): locally it always is, so this returns at
        once, printing the state ``Running`` with ``show_output``."""
        if is_delete_operation:
            super().wait_for_completion(show_output, is_delete_operation)
            return
        self._operation_pending = False
        if show_output:
            print("Running")

    def start(self, wait_for_completion: bool = False, show_output: bool = False) -> None:
        """The local target is always available: returns at once."""

    def restart(self, wait_for_completion: bool = False, show_output: bool = False) -> None:
        """The local target is always available: returns at once."""

    def stop(self, wait_for_completion: bool = False, show_output: bool = False) -> None:
        """Raises ComputeTargetException: a local target cannot be stopped."""
        raise ComputeTargetException(
            f"ComputeInstance '{self.name}' is a local Docker target and cannot be stopped: "
            "nothing runs on it unless a step is submitted")

    @staticmethod
    def supported_vmsizes(workspace, location: str | None = None) -> list:
        """No VM sizes exist locally: an empty list."""
        return []
