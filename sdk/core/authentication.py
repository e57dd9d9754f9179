"""Authentication classes, accepted as Azure ML scripts pass them. Locally there is no cloud to
authenticate against: they keep what they are given and log in to nothing. Their
``get_authentication_header()`` answers a bearer header with this home's client key, which the
studio server (``amlocal studio``) accepts.

The token classes (:class:`ArmTokenAuthentication`, :class:`AzureMLTokenAuthentication`,
:class:`TokenAuthentication`) hand back the token they were given, as Azure does, in
``get_authentication_header()``; amlocal itself never sends it anywhere.
"""
from __future__ import annotations

from enum import Enum
from typing import Callable

from ..errors import UserErrorException

# The AAD resources Azure asks tokens for, per cloud: (ARM, Azure ML).
_RESOURCES = {
    "AzureCloud": ("https://management.core.windows.net/", "https://ml.azure.com"),
    "AzureChinaCloud": ("https://management.core.chinacloudapi.cn/", "https://ml.azure.cn"),
    "AzureUSGovernment": ("https://management.core.usgovcloudapi.net/", "https://ml.azure.us"),
}


class Audience(Enum):
    """The audience a :class:`TokenAuthentication` token is asked for."""

    ARM = "ARM"
    AZUREML = "AZUREML"


class AbstractAuthentication:
    """Base of the authentication classes."""

    def get_authentication_header(self) -> dict:
        """Azure returns an AAD bearer token here; locally the header carries this home's
        client key for the studio server (made and stored hashed the first time, kept for the
        local user in ``<home>/studio/client.key``), so unchanged sample code that posts to a
        published pipeline's ``endpoint`` is let in."""
        return {"Authorization": f"Bearer {self.get_token()}"}

    def get_token(self, *scopes, **kwargs):
        """The home's client key (see ``get_authentication_header``)."""
        from .. import _context
        from .._engine.studio import client_key
        return client_key(_context.current_store())

    def signed_session(self, session=None):
        """``session`` (a ``requests.Session``; a new one when None) with this authentication's
        header persisted on it, as Azure does. Local endpoints ignore the placeholder token."""
        if session is None:
            import requests
            session = requests.Session()
        session.headers.update(self.get_authentication_header())
        return session


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


class ArmTokenAuthentication(AbstractAuthentication):
    """``ArmTokenAuthentication(arm_access_token, cloud=None)``: an ARM token obtained elsewhere;
    the header carries it."""

    def __init__(self, arm_access_token: str, cloud: str | None = None):
        self._arm_access_token = arm_access_token
        self.cloud = cloud

    def update_arm_access_token(self, new_arm_access_token: str) -> None:
        self._arm_access_token = new_arm_access_token

    def get_authentication_header(self) -> dict:
        return {"Authorization": f"Bearer {self._arm_access_token}"}

    def get_token(self, *scopes, **kwargs):
        return self._arm_access_token

    def __repr__(self) -> str:
        return "ArmTokenAuthentication(<token>)"


class AzureMLTokenAuthentication(AbstractAuthentication):
    """``AzureMLTokenAuthentication(azureml_access_token, expiry_time=None, host=None,
    subscription_id=None, resource_group_name=None, workspace_name=None, experiment_name=None,
    run_id=None, user_email=None, experiment_id=None, cloud='AzureCloud')``: the run-scoped token
    Azure gives a submitted run. Kept as given; nothing refreshes it (Azure's refresh daemon
    talks to its service)."""

    EXPIRATION_THRESHOLD_IN_SECONDS = 95
    REFRESH_INTERVAL_IN_SECONDS = 30

    def __init__(self, azureml_access_token: str, expiry_time=None, host: str | None = None,
                 subscription_id: str | None = None, resource_group_name: str | None = None,
                 workspace_name: str | None = None, experiment_name: str | None = None,
                 run_id: str | None = None, user_email: str | None = None,
                 experiment_id: str | None = None, cloud: str = "AzureCloud"):
        self._aml_access_token = azureml_access_token
        self._expiry_time = expiry_time
        self._host = host
        self._subscription_id = subscription_id
        self._resource_group_name = resource_group_name
        self._workspace_name = workspace_name
        self._experiment_name = experiment_name
        self._experiment_id = experiment_id
        self._run_id = run_id
        self._user_email = user_email
        self.cloud = cloud

    @classmethod
    def create(cls, azureml_access_token: str, expiry_time, host, subscription_id,
               resource_group_name, workspace_name, experiment_name, run_id, user_email=None,
               experiment_id=None) -> "AzureMLTokenAuthentication":
        return cls(azureml_access_token, expiry_time, host, subscription_id, resource_group_name,
                   workspace_name, experiment_name, run_id, user_email, experiment_id)

    @property
    def expiry_time(self):
        return self._expiry_time

    def set_token(self, token: str, expiry_time) -> None:
        self._aml_access_token = token
        self._expiry_time = expiry_time

    def get_authentication_header(self) -> dict:
        return {"Authorization": f"Bearer {self._aml_access_token}"}

    def get_token(self, *scopes, **kwargs):
        return self._aml_access_token

    def __repr__(self) -> str:
        return f"AzureMLTokenAuthentication(run_id={self._run_id!r})"


class TokenAuthentication(AbstractAuthentication):
    """``TokenAuthentication(get_token_for_audience, cloud=None)``: tokens come from your
    function, called with the audience's AAD resource (ARM's for the header). Raises
    UserErrorException without a function (Azure: AuthenticationException)."""

    def __init__(self, get_token_for_audience: Callable[[str], str], cloud: str | None = None):
        if get_token_for_audience is None:
            raise UserErrorException("get_token_for_audience cannot be null: pass a function "
                                     "that returns a token for an audience")
        self._get_token_for_audience = get_token_for_audience
        self.cloud = cloud

    def _resource(self, audience: "Audience") -> str:
        if audience not in (Audience.ARM, Audience.AZUREML):
            raise ValueError(f"Unsupported audience {audience}. Supported values are : "
                             f"{Audience.ARM} and {Audience.AZUREML}")
        cloud = self.cloud if self.cloud in _RESOURCES else "AzureCloud"
        return _RESOURCES[cloud][0 if audience is Audience.ARM else 1]

    def get_token(self, audience: "Audience" = Audience.ARM):
        """Your function's token for ``audience`` (Audience.ARM or Audience.AZUREML)."""
        return self._get_token_for_audience(self._resource(audience))

    def get_authentication_header(self) -> dict:
        return {"Authorization": f"Bearer {self.get_token(Audience.ARM)}"}


__all__ = ["AbstractAuthentication", "ArmTokenAuthentication", "Audience",
           "AzureCliAuthentication", "AzureMLTokenAuthentication", "InteractiveLoginAuthentication",
           "MsiAuthentication", "ServicePrincipalAuthentication", "TokenAuthentication"]
