"""Compute targets (``azureml.core.compute``): where steps run."""
from .compute import AmlCompute, ComputeTarget

__all__ = ["AmlCompute", "ComputeTarget"]
