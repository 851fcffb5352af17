"""(to be written: the disturbance effect)."""
