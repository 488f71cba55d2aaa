"""Integration tests: real services and real daemons (ours and the Perl original)."""
