"""Model architectures, one folder each in transformers' layout (configuration_*.py, modeling_*.py)."""
