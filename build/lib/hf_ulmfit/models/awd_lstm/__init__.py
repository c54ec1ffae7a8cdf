from .configuration_awd_lstm import CLASSIFIER_DROPOUTS, AwdLstmConfig
from .modeling_awd_lstm import (
    AwdLstmCache,
    AwdLstmCausalLMOutput,
    AwdLstmForCausalLM,
    AwdLstmForSequenceClassification,
    AwdLstmModel,
    AwdLstmModelOutput,
    AwdLstmPreTrainedModel,
    AwdLstmSequenceClassifierOutput,
)
