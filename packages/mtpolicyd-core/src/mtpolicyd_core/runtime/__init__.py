"""What the engine needs from the process it runs in: a thread pool for blocking libraries, imports
made only when a config names them, optional extras, file checks, the log context and metric hooks."""
