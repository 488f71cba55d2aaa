"""Session caches: one session per mail, shared by all workers, with the original's lock protocol."""
