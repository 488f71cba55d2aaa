"""Session caches against real memcached, Redis, MariaDB and SQLite."""
