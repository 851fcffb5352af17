"""(to be written: the calibration_noise effect)."""
