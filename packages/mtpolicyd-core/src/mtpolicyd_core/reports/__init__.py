"""What the core tells about itself: the generated plugin and connection reference, and the start-up
report the daemon logs."""
