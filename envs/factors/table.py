"""(to be written: the table effect)."""
