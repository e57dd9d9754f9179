"""Authentication classes, accepted as Azure ML scripts pass them. Locally there is no cloud to
authenticate against: they keep what they are given and log in to nothing.
"""
from __future__ import annotations


class AbstractAuthentication:
    """Base of the authentication classes."""

    def get_authentication_header(self) -> dict:
        """Azure returns an AAD bearer token here; locally the token is a placeholder."""
        return {"Authorization": "Bearer amlocal"}

    def get_token(self, *scopes, **kwargs):
        return "amlocal"


class InteractiveLoginAuthentication(AbstractAuthentication):
    def __init__(self, force: bool = False, tenant_id: str | None = None, cloud: str | None = None):
        self.force = force
        self.tenant_id = tenant_id
        self.cloud = cloud


class ServicePrincipalAuthentication(AbstractAuthentication):
    def __init__(self, tenant_id: str, service_principal_id: str,
                 service_principal_password: str | None = None, cloud: str = "AzureCloud",
                 _enable_caching: bool = True):
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id
        self._password = service_principal_password  # never printed or stored
        self.cloud = cloud

    def __repr__(self) -> str:
        return (f"ServicePrincipalAuthentication(tenant_id={self.tenant_id!r}, "
                f"service_principal_id={self.service_principal_id!r})")


class AzureCliAuthentication(AbstractAuthentication):
    pass


class MsiAuthentication(AbstractAuthentication):
    def __init__(self, identity_config: dict | None = None, cloud: str | None = None):
        self.identity_config = identity_config


__all__ = ["AbstractAuthentication", "AzureCliAuthentication", "InteractiveLoginAuthentication",
           "MsiAuthentication", "ServicePrincipalAuthentication"]
