"""What can go wrong when starting a service, with what an admin needs to fix it."""

from __future__ import annotations


class ServiceError(Exception):
    """A service could not be started or reached."""


class MissingBinary(ServiceError):
    """A program is not installed; names the Debian package (or other remedy) that provides it."""

    def __init__(self, binary: str, debian_package: str | None = None, remedy: str | None = None) -> None:
        self.binary = binary
        self.debian_package = debian_package
        self.remedy = remedy or f"install the Debian package {debian_package}"
        super().__init__(f"{binary} not found: {self.remedy}")


class MissingPythonPackage(ServiceError):
    """A Python package a service needs is not installed; names the pip requirement."""

    def __init__(self, module: str, requirement: str) -> None:
        self.module = module
        self.requirement = requirement
        super().__init__(f"the Python module {module} is missing: pip install '{requirement}'")


class ServiceStartError(ServiceError):
    """A service died or did not become ready; carries the end of its log."""

    def __init__(self, what: str, reason: str, log_path: object = None, log_tail: str = "") -> None:
        self.what = what
        self.reason = reason
        self.log_tail = log_tail
        where = f"\n--- {log_path} ---\n" if log_path else "\n"
        super().__init__(f"{what}: {reason}" + (where + log_tail if log_tail else ""))
