"""hf-ulmfit: ULMFiT and the AWD-LSTM as native Hugging Face transformers models.

Importing the package registers the AWD-LSTM with transformers' Auto classes.
"""

from .models.auto_registration import register_auto_classes
from .models.awd_lstm import (
    CLASSIFIER_DROPOUTS,
    AwdLstmConfig,
    AwdLstmForCausalLM,
    AwdLstmForSequenceClassification,
    AwdLstmModel,
)

register_auto_classes()

__version__ = "0.1.0"
