"""Look-ups outside the daemon's back-ends: DNS lists, SPF, Berkeley DB files."""
