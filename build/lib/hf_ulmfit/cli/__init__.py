"""The `hf-ulmfit` command line."""
