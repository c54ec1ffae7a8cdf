"""Registers the AWD-LSTM (fp32 and int8) with transformers' Auto classes; saved configs name its remote code."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
)

from .awd_lstm import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification, AwdLstmModel
from .awd_lstm_int8 import AwdLstmInt8Config, AwdLstmInt8ForSequenceClassification


def register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel*` resolve `model_type="awd_lstm"` (and "awd_lstm_int8") to this package's
    classes. Importing `hf_ulmfit.models` calls it; calling it again changes nothing."""
    AutoConfig.register(AwdLstmConfig.model_type, AwdLstmConfig, exist_ok=True)
    AutoModel.register(AwdLstmConfig, AwdLstmModel, exist_ok=True)
    AutoModelForCausalLM.register(AwdLstmConfig, AwdLstmForCausalLM, exist_ok=True)
    AutoModelForSequenceClassification.register(AwdLstmConfig, AwdLstmForSequenceClassification, exist_ok=True)
    # Saving copies the model files next to the weights; the config names all four classes (its AUTO_MAP).
    AwdLstmConfig.register_for_auto_class("AutoConfig")
    AwdLstmModel.register_for_auto_class("AutoModel")
    AwdLstmForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    AwdLstmForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
    # int8 folders carry no remote code (the fp32 files cannot read int8 weights): registration is how they load.
    AutoConfig.register(AwdLstmInt8Config.model_type, AwdLstmInt8Config, exist_ok=True)
    AutoModelForSequenceClassification.register(AwdLstmInt8Config, AwdLstmInt8ForSequenceClassification, exist_ok=True)
