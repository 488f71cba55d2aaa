"""Exit statuses of ``policy-sim`` and the error that means bad input."""

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input or files; printed without a traceback, exit status 2."""
