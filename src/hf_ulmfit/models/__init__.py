"""Model architectures, one folder each in transformers' layout (configuration_*.py, modeling_*.py).

Importing this package registers them with transformers' Auto classes (`auto_registration.py`), so every hf_ulmfit
module that uses a model, and any user who imports one, finds `model_type="awd_lstm"` in `AutoConfig` and `AutoModel*`.
"""

from .auto_registration import register_auto_classes


register_auto_classes()
