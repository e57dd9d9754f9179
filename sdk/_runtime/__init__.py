"""What runs inside a step: the entry command every compute target launches (``entry``), the
Studio module, the scoring server and the ParallelRunStep driver. It sits on top of the azureml
facades (a step uses them); the host mounts the package into every step (see
``amlocal._engine.runtime_tree``)."""
