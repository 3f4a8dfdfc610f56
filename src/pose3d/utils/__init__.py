"""Small utilities: device and precision, checkpoints, logging, meters, errors."""
