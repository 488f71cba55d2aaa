"""The private directory where every process of the daemon keeps its metric files.

It must exist, and ``PROMETHEUS_MULTIPROC_DIR`` name it, before prometheus-client is first
imported: the library picks its multi-process value class at import.
"""

from __future__ import annotations

import os
import shutil
import tempfile

#: the environment variable prometheus-client reads at import to choose multi-process values
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MultiprocessDirectory:
    """A fresh directory of the master's, named in the environment; removed when the master exits."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="mtpolicyd-metrics-")
        os.environ[MULTIPROC_ENV] = self.path

    def remove(self) -> None:
        """Delete the directory and its files."""
        shutil.rmtree(self.path, ignore_errors=True)
        if os.environ.get(MULTIPROC_ENV) == self.path:
            del os.environ[MULTIPROC_ENV]
