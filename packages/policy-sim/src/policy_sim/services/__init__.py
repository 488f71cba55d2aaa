"""Start and stop real services on 127.0.0.1: memcached, Redis, MariaDB, rbldnsd and policy daemons.

Used by ``policy-sim --spawn`` and by the repository's integration fixtures. Services come from
testcontainers when a Docker engine answers (and testcontainers is installed), else from the local
Debian binaries on free ports with temporary data directories, stopped by PID. A missing binary
raises :class:`MissingBinary` naming the Debian package; nothing here imports pytest.
"""

from policy_sim.services.errors import MissingBinary, MissingPythonPackage, ServiceError, ServiceStartError

__all__ = ["MissingBinary", "MissingPythonPackage", "ServiceError", "ServiceStartError"]
