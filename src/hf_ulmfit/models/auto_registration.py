"""Registers the AWD-LSTM with transformers' Auto classes and makes saved configs load as remote code."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
)

from .awd_lstm import AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification, AwdLstmModel


def register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel*` resolve `model_type="awd_lstm"` to this package's classes."""
    AutoConfig.register(AwdLstmConfig.model_type, AwdLstmConfig, exist_ok=True)
    AutoModel.register(AwdLstmConfig, AwdLstmModel, exist_ok=True)
    AutoModelForCausalLM.register(AwdLstmConfig, AwdLstmForCausalLM, exist_ok=True)
    AutoModelForSequenceClassification.register(AwdLstmConfig, AwdLstmForSequenceClassification, exist_ok=True)
    # Saving copies the model files next to the weights; the config names all four classes (its AUTO_MAP).
    AwdLstmConfig.register_for_auto_class("AutoConfig")
    AwdLstmModel.register_for_auto_class("AutoModel")
    AwdLstmForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    AwdLstmForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
