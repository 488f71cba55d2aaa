"""Benchmarks: our daemon against the Perl original, side by side (``tox -e bench``)."""
