"""ULMFiT's layer groups: the units that get their own learning rate and are unfrozen one at a time.

As fastai splits the AWD-LSTM, bottom to top:

- language model: ``[lstm 0] [lstm 1] ... [lstm n-1] [embedding + decoder]`` (the tied embedding and the decoder are
  one group, on top: a frozen language model trains only them);
- classifier: ``[embedding] [lstm 0] ... [lstm n-1] [head]``.
"""

from torch import nn

from ..models.awd_lstm import AwdLstmForCausalLM, AwdLstmForSequenceClassification


NamedParameters = dict[str, nn.Parameter]


def layer_group_prefixes(model: nn.Module) -> list[tuple[str, ...]]:
    """Parameter-name prefixes of each layer group, bottom to top (a bidirectional classifier's backward encoder,
    `awd_lstm_backward`, shares each group with the forward one at the same depth)."""
    encoders = ["awd_lstm"] + (["awd_lstm_backward"] if getattr(model, "awd_lstm_backward", None) is not None else [])
    lstm_layers = [
        tuple(f"{encoder}.layers.{index}." for encoder in encoders) for index in range(len(model.awd_lstm.layers))
    ]
    if isinstance(model, AwdLstmForCausalLM):
        return lstm_layers + [("awd_lstm.embeddings.", "decoder.")]
    if isinstance(model, AwdLstmForSequenceClassification):
        return [tuple(f"{encoder}.embeddings." for encoder in encoders)] + lstm_layers + [("head.",)]
    raise TypeError(
        f"No ULMFiT layer groups for {type(model).__name__}: expected an AWD-LSTM language model or classifier."
    )


def layer_groups(model: nn.Module) -> list[NamedParameters]:
    """The model's parameters split into layer groups, bottom to top; every parameter is in exactly one group
    (a tied decoder weight is the embedding's parameter, listed once)."""
    prefixes = layer_group_prefixes(model)
    groups: list[NamedParameters] = [{} for _ in prefixes]
    for name, parameter in model.named_parameters():
        owners = [index for index, group_prefixes in enumerate(prefixes) if name.startswith(group_prefixes)]
        if len(owners) != 1:
            raise ValueError(f"Parameter {name!r} belongs to {len(owners)} layer groups; expected exactly one.")
        groups[owners[0]][name] = parameter
    return groups


def discriminative_learning_rates(peak: float, num_groups: int, factor: float = 2.6) -> list[float]:
    """ULMFiT's discriminative fine-tuning: the top group gets `peak`, each group below it `factor` times less."""
    return [peak / factor ** (num_groups - 1 - index) for index in range(num_groups)]


def set_trainable_groups(groups: list[NamedParameters], num_trainable: int) -> None:
    """Train only the top `num_trainable` groups: the others get ``requires_grad=False``, hence no gradient, so
    the optimizer leaves them exactly as they are."""
    first_trainable = len(groups) - num_trainable
    for index, group in enumerate(groups):
        for parameter in group.values():
            parameter.requires_grad_(index >= first_trainable)
