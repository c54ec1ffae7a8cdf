"""AWD-LSTM configuration.

This file travels to the Hub as remote code: it imports only from transformers and the standard library.
"""

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig

# Saved configs name all four Auto classes, so a folder loads with trust_remote_code=True where hf_ulmfit is not
# installed (the model files are copied next to the weights on save).
AUTO_MAP = {
    "AutoConfig": "configuration_awd_lstm.AwdLstmConfig",
    "AutoModel": "modeling_awd_lstm.AwdLstmModel",
    "AutoModelForCausalLM": "modeling_awd_lstm.AwdLstmForCausalLM",
    "AutoModelForSequenceClassification": "modeling_awd_lstm.AwdLstmForSequenceClassification",
}

# fastai's classifier dropouts (awd_lstm_clas_config); the language-model defaults are the dataclass fields below.
CLASSIFIER_DROPOUTS = {
    "input_dropout": 0.4,
    "embedding_dropout": 0.05,
    "weight_dropout": 0.5,
    "hidden_dropout": 0.3,
    "output_dropout": 0.4,
}


@strict
class AwdLstmConfig(PreTrainedConfig):
    r"""
    Configuration of an AWD-LSTM (Merity et al., 2017) as used by ULMFiT (Howard & Ruder, 2018). The defaults are
    fastai's language-model defaults.

    Args:
        vocab_size (`int`): number of tokens in the vocabulary.
        embedding_size (`int`, defaults to 400): embedding width, also the last LSTM layer's width (weights are tied).
        hidden_size (`int`, defaults to 1152): width of the inner LSTM layers.
        num_layers (`int`, defaults to 3): number of stacked single-layer LSTMs.
        input_dropout (`float`, defaults to 0.25): locked dropout on the embedding output.
        embedding_dropout (`float`, defaults to 0.02): probability of dropping a whole vocabulary row.
        weight_dropout (`float`, defaults to 0.2): DropConnect on each LSTM's hidden-to-hidden weights.
        hidden_dropout (`float`, defaults to 0.15): locked dropout between LSTM layers.
        output_dropout (`float`, defaults to 0.1): locked dropout before the LM decoder; for a classifier, the
            dropout before the first head layer.
        drop_mult (`float`, defaults to 1.0): multiplies the five dropouts above (fastai's `drop_mult`).
        tie_word_embeddings (`bool`, defaults to True): share the decoder weight with the embedding.
        decoder_bias (`bool`, defaults to True): the LM decoder has a bias.
        backwards (`bool`, defaults to False): a backward model; it reverses each sequence's tokens itself (padding
            stays where it is), so callers always pass text in natural order.
        bptt (`int`, defaults to 72): chunk length the classifier encoder runs documents in.
        max_len (`int`, defaults to 1440): the classifier pools (and back-propagates through) only the chunks that
            start within the last `max_len` tokens of a document (fastai's BPT3C).
        classifier_hidden_sizes (`list[int]`, defaults to `[50]`): widths of the head's hidden layers.
        classifier_dropout (`float`, defaults to 0.1): dropout before each head layer after the first.
        init_range (`float`, defaults to 0.1): embeddings and decoder start as U(-init_range, init_range).
    """

    model_type = "awd_lstm"
    # The recurrent state and activations are not predictions: keep them out of Trainer's evaluation gathering.
    keys_to_ignore_at_inference = ["state", "last_hidden_state", "dropped_hidden_state"]

    vocab_size: int = 60000
    embedding_size: int = 400
    hidden_size: int = 1152
    num_layers: int = 3
    input_dropout: float = 0.25
    embedding_dropout: float = 0.02
    weight_dropout: float = 0.2
    hidden_dropout: float = 0.15
    output_dropout: float = 0.1
    drop_mult: float = 1.0
    tie_word_embeddings: bool = True
    decoder_bias: bool = True
    backwards: bool = False
    bptt: int = 72
    max_len: int = 1440
    classifier_hidden_sizes: list[int] | tuple[int, ...] = (50,)
    classifier_dropout: float = 0.1
    init_range: float = 0.1
    pad_token_id: int | None = 1
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3
    use_cache: bool = True

    def __post_init__(self, **kwargs):
        self.classifier_hidden_sizes = list(self.classifier_hidden_sizes)
        kwargs.setdefault("auto_map", dict(AUTO_MAP))
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Refuse settings that cannot build a model, with the offending field named."""
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers", "bptt", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"AwdLstmConfig.{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("input_dropout", "embedding_dropout", "weight_dropout", "hidden_dropout", "output_dropout"):
            rate = getattr(self, name) * self.drop_mult
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"AwdLstmConfig.{name} * drop_mult must lie in [0, 1), got {rate}")

    def dropout(self, name: str) -> float:
        """The effective rate of one of the five AWD-LSTM dropouts (field times `drop_mult`)."""
        return getattr(self, f"{name}_dropout") * self.drop_mult

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        """(input, output) width of each LSTM layer: emb → hidden → … → hidden → emb."""
        widths = [self.embedding_size] + [self.hidden_size] * (self.num_layers - 1) + [self.embedding_size]
        return list(zip(widths[:-1], widths[1:]))


__all__ = ["AwdLstmConfig", "CLASSIFIER_DROPOUTS"]
