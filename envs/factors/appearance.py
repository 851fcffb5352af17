"""(to be written: the appearance effect)."""
