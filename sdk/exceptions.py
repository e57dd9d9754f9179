"""``azureml.exceptions``: the exception classes v1 scripts catch, mapped onto amlocal's one
error tree (``amlocal.errors``). ``AzureMLException`` is amlocal's base error, so
``except AzureMLException`` catches everything amlocal raises on purpose. Exceptions about the
cloud's services (authentication, discovery, private endpoints) are never raised locally; they
exist so that ``except`` clauses naming them still import.
"""
from __future__ import annotations

from .errors import (ActivityFailedException, AmlocalError, AzureMLException,
                     ComputeTargetException, ExperimentExecutionException,
                     ModelNotFoundException, ModelPathNotFoundException, ParallelRunException,
                     ProjectSystemException, RunConfigurationException, RunEnvironmentException,
                     SnapshotException, TrainingException, UserErrorException,
                     WebserviceException, WorkspaceException)
from .core._version import VERSION


class AzureMLAggregatedException(UserErrorException):
    """Several errors at once (Azure aggregates validation errors this way)."""


class ServiceException(AmlocalError):
    """An Azure service answered with an error. amlocal calls no service: never raised."""


class AuthenticationException(AmlocalError):
    """Azure authentication failed. amlocal authenticates nobody: never raised."""


class DiscoveryUrlNotFoundException(AmlocalError):
    """Azure's service discovery failed. amlocal has none: never raised."""


class WorkspacePrivateEndpointException(AmlocalError):
    """A workspace private endpoint operation failed. Cloud only: never raised."""


class DatasetTimestampMissingError(UserErrorException):
    """A time-series operation on a dataset without a timestamp column."""


__all__ = ["ActivityFailedException", "AmlocalError", "AuthenticationException",
           "AzureMLAggregatedException", "AzureMLException", "ComputeTargetException",
           "DatasetTimestampMissingError", "DiscoveryUrlNotFoundException",
           "ExperimentExecutionException", "ModelNotFoundException", "ModelPathNotFoundException",
           "ParallelRunException", "ProjectSystemException", "RunConfigurationException",
           "RunEnvironmentException", "ServiceException", "SnapshotException", "TrainingException",
           "UserErrorException", "VERSION", "WebserviceException", "WorkspaceException",
           "WorkspacePrivateEndpointException"]
