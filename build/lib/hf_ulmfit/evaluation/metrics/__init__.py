"""`evaluate` metric modules: each folder holds `<name>/<name>.py`, loaded with `evaluate.load(folder)`."""
