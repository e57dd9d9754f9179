"""``azureml.core.diagnostic_log``: send the SDK's debug logs to a file for a while.

    with diagnostic_log("debug.log"):
        run = experiment.submit(config)

amlocal's loggers are named ``amlocal.*`` (also when a script imports ``azureml.*`` through the
compatibility alias), so the default namespaces are ``amlocal`` plus Azure's own list. Unlike
Azure, stopping the capture restores each logger's level and propagation as they were.
"""
from __future__ import annotations

import inspect
import logging
import os
import time

LOG_FILE_NAME = "azureml.log"
LOG_FORMAT = "%(asctime)s|%(name)s|%(levelname)s|%(message)s"
INTERESTING_NAMESPACES = ["amlocal", "azureml", "msrest.http_logger", "urllib2", "azure"]

module_logger = logging.getLogger(__name__)


class diagnostic_log:  # noqa: N801 - azureml's name
    """``diagnostic_log(log_path=None, namespaces=None, context_name=None)``: a context manager
    (or ``start_capture()`` / ``stop_capture()``) writing DEBUG records of ``namespaces`` to
    ``log_path`` (default ``./azureml.log``, appended to). The file is opened on start."""

    def __init__(self, log_path: str | os.PathLike | None = None,
                 namespaces: list[str] | None = None, context_name: str | None = None):
        self._namespaces = list(INTERESTING_NAMESPACES if namespaces is None else namespaces)
        self._filename = os.path.abspath(os.fspath(log_path) if log_path else LOG_FILE_NAME)
        if context_name is None:
            caller = inspect.currentframe().f_back
            context_name = caller.f_code.co_name if caller is not None else "<unknown>"
        self._context_name = context_name
        self._handler: logging.Handler | None = None
        self._saved: dict[str, tuple[int, bool]] = {}

    @property
    def log_path(self) -> str:
        return self._filename

    def start_capture(self) -> None:
        """Start writing the debug logs to the file (a second start only warns)."""
        if self._handler is not None:
            module_logger.warning("Debug logs are already enabled at %s", self._filename)
            return
        formatter = logging.Formatter(LOG_FORMAT)
        formatter.converter = time.gmtime
        handler = logging.FileHandler(self._filename, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(formatter)
        self._handler = handler
        print(f"Debug logs are being sent to {self._filename}")
        for namespace in self._namespaces:
            logger = logging.getLogger(namespace)
            self._saved[namespace] = (logger.level, logger.propagate)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(handler)
            logger.propagate = False
        module_logger.info("********** STARTING CAPTURE FOR [%s] **********", self._context_name)

    def stop_capture(self) -> None:
        """Stop writing, close the file and restore the loggers (a second stop only warns)."""
        if self._handler is None:
            module_logger.warning("Debug logs are already disabled.")
            return
        module_logger.info("********** STOPPING CAPTURE FOR [%s] **********", self._context_name)
        for namespace, (level, propagate) in self._saved.items():
            logger = logging.getLogger(namespace)
            logger.removeHandler(self._handler)
            logger.setLevel(level)
            logger.propagate = propagate
        self._handler.close()
        self._handler = None
        self._saved = {}
        print(f"Disabling log capture. Resulting file is at {self._filename}")

    def __enter__(self) -> None:
        self.start_capture()

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.stop_capture()
