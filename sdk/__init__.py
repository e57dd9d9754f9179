"""amlocal: the Azure Machine Learning SDK v1 workspace and pipeline API on your own machine.

Module paths mirror azureml v1 (``amlocal.core``, ``amlocal.pipeline.core`` ...), so porting a
script is a change of imports. Importing this package has no side effects and needs only the
standard library: the same package is mounted into every step container as its runtime.
"""

__version__ = "0.1.0"
