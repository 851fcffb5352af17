"""(to be written: the robot_init effect)."""
