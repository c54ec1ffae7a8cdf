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

from .conversion import convert_fastai_checkpoint  # noqa: E402  (after registration)
from .data import load_text_dataset  # noqa: E402
from .tokenization import train_tokenizer  # noqa: E402
from .training import UlmfitTrainer, UlmfitTrainingArguments, lr_find  # noqa: E402

__version__ = "0.1.0"
