"""Benchmarks of hf-ulmfit (not part of the package): run from the repository root as `python -m benchmarks.NAME`."""
