"""Calibrate a scenario from a real work-order log, and check the model against it."""
