"""(to be written: the sensor effect)."""
