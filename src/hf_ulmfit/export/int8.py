"""int8 export: the int8 counterpart of a trained fp32 classifier (`models/awd_lstm_int8` holds the int8 model)."""

from torch import nn

from ..models.awd_lstm import AwdLstmForSequenceClassification
from ..models.awd_lstm_int8 import AwdLstmInt8Config, AwdLstmInt8ForSequenceClassification, Int8Embedding, Int8Lstm


def quantize_classifier(model: AwdLstmForSequenceClassification) -> AwdLstmInt8ForSequenceClassification:
    """The int8 counterpart of a trained fp32 classifier (the fp32 model is left as it is)."""
    if model.config.rnn_type != "lstm":
        raise ValueError(
            f"int8 export quantises LSTM layers and supports rnn_type='lstm' only; this classifier has "
            f"rnn_type={model.config.rnn_type!r}. Run AWD-QRNN models in PyTorch."
        )
    config = AwdLstmInt8Config(
        **{
            key: value
            for key, value in model.config.to_dict().items()
            if key not in ("model_type", "auto_map", "transformers_version", "architectures")
        }
    )
    quantized = AwdLstmInt8ForSequenceClassification(config)
    encoder, source = quantized.awd_lstm, model.awd_lstm
    encoder.layers = nn.ModuleList(Int8Lstm.from_float(layer) for layer in source.layers)
    encoder.embeddings = Int8Embedding.from_float(source.embeddings)
    quantized.head.load_state_dict(model.head.state_dict())
    return quantized.eval()


def save_int8_classifier(model_name_or_path: str, output_dir: str) -> AwdLstmInt8ForSequenceClassification:
    """Quantise a saved classifier folder and write the int8 one (safetensors, config, tokenizer)."""
    from transformers import AutoTokenizer

    from ..recipes.checks import load_pretrained

    model = load_pretrained(
        AwdLstmForSequenceClassification, model_name_or_path, "classifier", kinds=("classifier",)
    ).eval()
    quantized = quantize_classifier(model)
    quantized.save_pretrained(output_dir)
    AutoTokenizer.from_pretrained(model_name_or_path).save_pretrained(output_dir)
    return quantized
