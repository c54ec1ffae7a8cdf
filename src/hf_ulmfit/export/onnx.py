"""ONNX export of the AWD-LSTM classifier and language model (the onnxruntime models that run the graphs are in
`hf_ulmfit.inference.onnx_runtime`).

Graphs (all axes named below are dynamic):

- classifier: `input_ids`, `attention_mask` `(batch, length)` -> `logits` `(batch, num_labels)`.
- language model: `input_ids` `(batch, length)` and, per layer i, `h_i`, `c_i` `(1, batch, width_i)` -> `logits`
  `(batch, length, vocab)` and `next_h_i`, `next_c_i`. Feeding the returned state back with the next tokens streams a
  text or generates step by step; zeros start a text. `input_ids` are in the model's reading order (natural order
  for a forward model) and carry no padding: the state is exact when every row has the same length.

The exporter: from torch 2.15 the dynamo exporter (`dynamo=True`), whose graph keeps the LSTM's length dynamic; with
torch 2.13 and 2.14 (onnxscript 0.7) it baked the example length into a Reshape after the LSTM, so those versions, and
an opset below 18 (the dynamo graph's reductions take their axes as inputs, which no earlier opset can express), use
torch's TorchScript exporter (`dynamo=False`, deprecated since torch 2.13), whose `aten::lstm` becomes ONNX `LSTM`
with dynamic length. Both give one `LSTM` node per layer, which onnxruntime's int8 quantization needs.

The classifier's BPT3C chunk loop (`encode_documents`) is data-dependent Python. The graph runs the LSTM over the
whole padded sequence instead: outputs up to a row's last token never see its padding (the LSTM reads valid tokens
first and is causal), and carrying the state across chunks is the same recurrence as one long run. The pooling mask
keeps exactly the chunks BPT3C keeps (those starting at or after `length - max_len`), so logits match PyTorch for any
length; memory grows with the padded length rather than staying bounded by `max_len`.
"""

import contextlib
import inspect
import logging
import warnings
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from ..inference.onnx_runtime import ONNX_FILE
from ..models.awd_lstm import AwdLstmForCausalLM, AwdLstmForSequenceClassification
from ..models.awd_lstm.modeling_awd_lstm import masked_concat_pool
from ..quiet_logging import quiet_loggers


logger = logging.getLogger(__name__)

OPSET = 18
# The first torch whose dynamo exporter keeps the LSTM's length dynamic (tests/test_onnx_export.py checks both sides).
DYNAMO_TORCH = (2, 15)
DYNAMO_MIN_OPSET = 18


def uses_dynamo_exporter(opset: int) -> bool:
    """Whether `torch.onnx.export` runs its dynamo exporter here: torch 2.15 or newer and opset 18 or above."""
    return torch_release() >= DYNAMO_TORCH and opset >= DYNAMO_MIN_OPSET


def torch_release() -> tuple[int, int]:
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int(minor)


class ClassifierForOnnx(nn.Module):
    """The classifier as one traceable graph: reading order by sorting, one LSTM run, BPT3C's pooling window."""

    def __init__(self, model: AwdLstmForSequenceClassification):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        config = self.model.config
        valid = attention_mask.bool()
        length = input_ids.size(1)
        positions = torch.arange(length, device=input_ids.device).expand_as(input_ids)
        # Unique keys: valid positions first (in reading order), padding after; argsort needs no stable sort here.
        reading_position = length - 1 - positions if config.backwards else positions
        read_index = torch.argsort(torch.where(valid, reading_position, positions + length), dim=1)
        hidden = self.model.awd_lstm.encode(input_ids.gather(1, read_index)).last_hidden_state
        lengths = valid.sum(1, keepdim=True)
        # BPT3C pools the chunks that start at or after `length - max_len`: the first is the next multiple of bptt.
        skipped = (lengths - config.max_len).clamp(min=0)
        first_pooled = torch.div(skipped + config.bptt - 1, config.bptt, rounding_mode="floor") * config.bptt
        pooled_steps = (positions < lengths) & (positions >= first_pooled)
        return self.model.head(masked_concat_pool(hidden, pooled_steps))


class LanguageModelForOnnx(nn.Module):
    """The language model with its recurrent state as flat inputs and outputs (`h_0, c_0, h_1, c_1, ...`)."""

    def __init__(self, model: AwdLstmForCausalLM):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, *flat_state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = tuple(zip(flat_state[0::2], flat_state[1::2]))
        outputs = self.model.awd_lstm.encode(input_ids, state)
        logits = self.model.decoder(outputs.last_hidden_state)
        return (logits, *(tensor for layer_state in outputs.state for tensor in layer_state))


def state_names(num_layers: int, prefix: str = "") -> list[str]:
    return [f"{prefix}{kind}_{layer}" for layer in range(num_layers) for kind in ("h", "c")]


def example_state(model: AwdLstmForCausalLM, batch_size: int, random: bool = False) -> list[torch.Tensor]:
    make = torch.randn if random else torch.zeros
    return [make(1, batch_size, layer.hidden_size) for layer in model.awd_lstm.layers for _ in range(2)]


def export_classifier(model: AwdLstmForSequenceClassification, path: Path, opset: int = OPSET) -> None:
    wrapper = ClassifierForOnnx(model).eval()
    input_ids = torch.randint(4, model.config.vocab_size, (2, 8))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    text_axes = {0: "batch", 1: "length"}
    _export(
        wrapper,
        (input_ids, attention_mask),
        path,
        ["input_ids", "attention_mask"],
        ["logits"],
        {"input_ids": text_axes, "attention_mask": text_axes, "logits": {0: "batch"}},
        opset,
    )


def export_language_model(model: AwdLstmForCausalLM, path: Path, opset: int = OPSET) -> None:
    wrapper = LanguageModelForOnnx(model).eval()
    input_ids = torch.randint(4, model.config.vocab_size, (2, 8))
    inputs, outputs = state_names(len(model.awd_lstm.layers)), state_names(len(model.awd_lstm.layers), "next_")
    axes = {"input_ids": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"}}
    axes.update({name: {1: "batch"} for name in inputs + outputs})
    _export(
        wrapper, (input_ids, *example_state(model, 2)), path, ["input_ids", *inputs], ["logits", *outputs], axes, opset
    )


def _export(wrapper, example_inputs, path, input_names, output_names, dynamic_axes, opset):
    """`dynamic_axes` name each input's and output's dynamic axes (input -> {axis: name}); the dynamo exporter takes
    them as `dynamic_shapes`, one per forward argument (the state, passed as `*flat_state`, as one tuple)."""
    # Export restores the wrapper's training flag on every submodule afterwards: keep it in eval mode throughout.
    with torch.no_grad(), warnings.catch_warnings(), contextlib.ExitStack() as stack:
        if uses_dynamo_exporter(opset):
            # The dynamo exporter writes large weights to a side file unless told not to; onnxruntime's quantizer
            # and the ONNX folder expect one file.
            settings = dict(
                dynamo=True,
                dynamic_shapes=_dynamic_shapes(wrapper, input_names, dynamic_axes),
                external_data=False,
                verbose=False,  # no progress lines on stdout
            )
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*_check_is_size.*")
            # The output axes' names repeat the inputs' (the graph keeps the inputs' names for them).
            warnings.filterwarnings("ignore", message=".*shares the same shape constraints with another axis.*")
            # onnxscript's optimizer and onnx_ir's passes log every rewrite and merged initializer at INFO.
            stack.enter_context(quiet_loggers("onnxscript", "onnx_ir", level=logging.WARNING))
            # torch warns once per torchvision operator it cannot register when torchvision is not installed.
            stack.enter_context(quiet_loggers("torch.onnx._internal.exporter._registration"))
        else:
            settings = dict(dynamo=False, dynamic_axes=dynamic_axes)
            # The tracer warns about every Python branch on a shape; the ones in this model do not change the graph.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*(batch_size other than 1|advanced indexing).*")
        torch.onnx.export(
            wrapper,
            example_inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            **settings,
        )
    wrapper.eval()


def _dynamic_shapes(wrapper, input_names: list[str], dynamic_axes: dict[str, dict[int, str]]) -> tuple:
    """One shape spec per parameter of `wrapper.forward`; a `*args` parameter takes the remaining inputs as a tuple."""
    dims = {}
    shapes = [
        {axis: dims.setdefault(name, torch.export.Dim(name)) for axis, name in dynamic_axes.get(input, {}).items()}
        for input in input_names
    ]
    parameters = list(inspect.signature(wrapper.forward).parameters.values())
    if parameters[-1].kind is inspect.Parameter.VAR_POSITIONAL:
        named = len(parameters) - 1
        return (*shapes[:named], tuple(shapes[named:]))
    return tuple(shapes)


def load_for_export(model_name_or_path: str):
    """The saved model in eval mode: a classifier when its config says so, else the language model."""
    config = AutoConfig.from_pretrained(model_name_or_path)
    architectures = config.architectures or []
    auto_class = (
        AutoModelForSequenceClassification
        if any("SequenceClassification" in name for name in architectures)
        else AutoModelForCausalLM
    )
    from ..recipes.checks import load_pretrained

    kinds = ("classifier", "language model")  # an int8 folder holds no fp32 weights to export
    model = load_pretrained(auto_class, model_name_or_path, "fp32 model", kinds=kinds).eval()
    if not isinstance(model, (AwdLstmForSequenceClassification, AwdLstmForCausalLM)):
        raise ValueError(f"{model_name_or_path} holds a {type(model).__name__}, not an AWD-LSTM classifier or LM")
    return model


def export_to_onnx(model_name_or_path: str, output_dir: str, opset: int = OPSET) -> Path:
    """Write `model.onnx`, the config and the tokenizer to `output_dir`; returns the ONNX file's path."""
    model = load_for_export(model_name_or_path)
    if model.config.rnn_type != "lstm":
        # The graph maps the LSTM onto ONNX's LSTM op; the QRNN's scan has a length-dependent number of steps,
        # which the tracing exporter would bake into the graph.
        raise ValueError(
            f"ONNX export supports rnn_type='lstm' only; {model_name_or_path} has rnn_type={model.config.rnn_type!r}. "
            "Run AWD-QRNN models in PyTorch."
        )
    if getattr(model.config, "pooling", "concat") != "concat" and isinstance(model, AwdLstmForSequenceClassification):
        raise ValueError(
            f"ONNX export builds concat pooling into the graph; {model_name_or_path} pools by "
            f"{model.config.pooling!r}. Run it in PyTorch or as int8 (--format int8)."
        )
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    path = output / ONNX_FILE
    if isinstance(model, AwdLstmForSequenceClassification):
        export_classifier(model, path, opset)
    else:
        export_language_model(model, path, opset)
    model.config.save_pretrained(output)
    tokenizer_files = [
        name for name in ("tokenizer.json", "tokenizer_config.json") if (Path(model_name_or_path) / name).is_file()
    ]
    if tokenizer_files:
        AutoTokenizer.from_pretrained(model_name_or_path).save_pretrained(output)
    return path


def export_to_onnx_int8(model_name_or_path: str, output_dir: str, opset: int = OPSET) -> Path:
    """`export_to_onnx`, then onnxruntime's dynamic quantization of the graph: each ONNX `LSTM` becomes onnxruntime's
    `DynamicQuantizeLSTM` (int8 weights, activations quantized on the fly), the head's `MatMul`s `MatMulInteger`,
    and the embedding is stored in int8. No PyTorch quantized dtype is involved. The folder loads like any ONNX
    export (`predict`, `pipeline`, `OnnxAwdLstmFor*`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path = export_to_onnx(model_name_or_path, output_dir, opset)
    fp32, prepared = path.with_name("model-fp32.onnx"), path.with_name("model-prepared.onnx")
    path.rename(fp32)
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)  # the optimisation onnxruntime advises
        quantize_dynamic(str(prepared), str(path), weight_type=QuantType.QInt8)
    finally:
        fp32.unlink()
        prepared.unlink(missing_ok=True)
    return path
