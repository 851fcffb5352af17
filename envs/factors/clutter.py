"""(to be written: the clutter effect)."""
