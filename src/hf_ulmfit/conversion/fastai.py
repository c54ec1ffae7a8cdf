"""Convert fastai AWD-LSTM checkpoints (language model, encoder or classifier) into hf-ulmfit model folders.

fastai loads its own checkpoints by position; this converter maps every tensor by name and checks every shape
against the `AwdLstmConfig` it infers, so a checkpoint that does not fit fails with the key and both shapes named.

Checkpoints are read with `torch.load(weights_only=True)` and vocabularies (fastai's pickled `itos` lists) with an
unpickler that refuses every global, so neither can run code.

Supported layouts (fastai 2.x names; fastai 1.x files differ only by an extra `module.weight_hh_l0` copy per layer,
which is dropped in favour of `weight_hh_l0_raw`):
- language model (`language_model_learner` `save`, or fastai's wt103 downloads): `0.encoder.weight`,
  `0.encoder_dp.emb.weight`, `0.rnns.{i}.weight_hh_l0_raw`, `0.rnns.{i}.module.{weight_ih,bias_ih,bias_hh}_l0`,
  `1.decoder.weight`, `1.decoder.bias`;
- encoder (`save_encoder`): the same without the `0.` prefix and without the decoder;
- classifier (`text_classifier_learner` `save`): the encoder under `0.module.`, and the head `1.layers.{j}.0.*`
  (BatchNorm1d) and `1.layers.{j}.2.weight` (Linear without bias), fastai's `LinBnDrop` blocks.
Any of these may sit under a `"model"` key (`Learner.save` with the optimizer state).

fastai's `AWD_QRNN` (fastai 1.x and the 2.x releases that still had `text/models/qrnn.py`) converts to
`rnn_type="qrnn"`: each layer is `{prefix}rnns.{i}.layers.0.linear.weight_raw` and `...linear.module.bias` (fastai 1.x
also keeps a `...linear.module.weight` copy, dropped), gates in the same `[z, f, o]` order and the first layer's window
`[x_t, x_{t-1}]` in the same order as `WeightDroppedQrnn`, so the tensors copy unchanged. The current fastai (2.8) has
no QRNN, so these names are checked against fastai's source and synthetic checkpoints, not a file fastai wrote.
"""

import json
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ..models.awd_lstm import CLASSIFIER_DROPOUTS, AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification
from ..tokenization.fastai_compat import build_fastai_tokenizer


TASKS = ("auto", "causal-lm", "sequence-classification")


class FastaiConversionError(ValueError):
    """A fastai checkpoint or vocabulary that cannot be converted; the message says what is wrong and where."""


# ---------------------------------------------------------------------------------------------------------------------
# Reading files safely
# ---------------------------------------------------------------------------------------------------------------------


class _ListOfStringsUnpickler(pickle.Unpickler):
    """Builds only pickle's primitive data (lists, strings, numbers): any class or function lookup is refused, so a
    malicious `__reduce__` payload fails before anything runs."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f"the vocabulary pickle refers to {module}.{name}; only a plain list of strings is accepted"
        )


def load_fastai_vocab(path: str | Path) -> list[str]:
    """fastai's `itos` list from a `.pkl` (as in fastai's downloads), a `.json` list, or a text file with one token
    per line (backslash escapes `\\n` and `\\\\` inside tokens, since spaCy makes newline tokens)."""
    path = Path(path)
    if not path.is_file():
        raise FastaiConversionError(f"vocabulary file {path} not found")
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        try:
            with open(path, "rb") as f:
                itos = _ListOfStringsUnpickler(f).load()
        except pickle.UnpicklingError as err:
            if "only a plain list of strings" in str(err):
                raise FastaiConversionError(f"vocabulary {path} refused: {err}") from err
            raise FastaiConversionError(f"vocabulary {path} is not a readable pickle (truncated or corrupt?): {err}")
        except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, MemoryError) as err:
            raise FastaiConversionError(f"vocabulary {path} is not a readable pickle (truncated or corrupt?): {err}")
    elif suffix == ".json":
        try:
            itos = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise FastaiConversionError(f"vocabulary {path} is not valid JSON: {err}") from err
    else:
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as err:
            raise FastaiConversionError(f"vocabulary {path} is not UTF-8 text: {err}") from err
        if lines and lines[-1] == "":
            lines.pop()
        itos = [_unescape_token(line) for line in lines]
    if not isinstance(itos, list):
        raise FastaiConversionError(f"vocabulary {path} holds a {type(itos).__name__}, expected a list of strings")
    for position, token in enumerate(itos):
        if not isinstance(token, str):
            raise FastaiConversionError(
                f"vocabulary {path}: entry {position} is a {type(token).__name__} ({token!r}), expected a string"
            )
    if not itos:
        raise FastaiConversionError(f"vocabulary {path} is empty")
    return itos


def _unescape_token(line: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), line)


class _FastaiOptimizerValue:
    """Stands in for fastcore's `L` list, which fastai writes into the optimizer state of `Learner.save` files. It
    only stores the pickled data (never used: the optimizer state is dropped), so allowing it runs no fastai code."""

    def __setstate__(self, state):
        self.state = state


def _optimizer_state_globals() -> list:
    """Data-only globals that `Learner.save` puts in the optimizer state: fastcore's `L` (replaced by a stand-in) and
    numpy scalars for hyper-parameters, as torch's documentation suggests allowing them."""
    allowed: list = [(_FastaiOptimizerValue, "fastcore.foundation.L")]
    try:
        import numpy as np
    except ImportError:
        return allowed
    multiarray = getattr(np, "_core", None) or np.core
    allowed += [
        (multiarray.multiarray.scalar, "numpy.core.multiarray.scalar"),
        (multiarray.multiarray.scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
    ]
    allowed += [getattr(np.dtypes, name) for name in ("Float64DType", "Float32DType", "Int64DType", "BoolDType")]
    return allowed


def _weights_only_reason(message: str) -> str:
    """The line of torch's weights-only refusal that says what it met, as " (that line)", or ""."""
    lines = [line.strip() for line in message.splitlines()]
    for marker in ("WeightsUnpickler error:", "Trying to load", "Unsupported"):
        for index, line in enumerate(lines):
            if marker in line:
                rest = line.split(marker, 1)[1].strip() if marker.endswith(":") else line
                rest = rest or next((later for later in lines[index + 1 :] if later), "")
                if rest:
                    return f" ({rest.rstrip('.')})"
    return ""


def load_fastai_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict of a fastai `.pth`: plain, or under `"model"` (as `Learner.save` writes it with the
    optimizer). Only tensors and plain containers load (`weights_only=True`)."""
    path = Path(path)
    if not path.is_file():
        raise FastaiConversionError(f"checkpoint file {path} not found")
    try:
        with torch.serialization.safe_globals(_optimizer_state_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch words the refusal differently across releases ("Unsupported global: GLOBAL x.y" up to 2.5, "unsupported
        # GLOBAL x.y whose module x is blocked" or "Unsupported operand 149" later), always after "Weights only load
        # failed"; its advice to retry with weights_only=False is not passed on: that would run the file's code.
        unsupported = re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", str(err))
        if unsupported or "Weights only load failed" in str(err):
            what = f"{unsupported.group(1)} objects" if unsupported else "objects other than tensors"
            reason = _weights_only_reason(str(err))
            raise FastaiConversionError(
                f"checkpoint {path} holds {what}, refused by torch.load(weights_only=True){reason}: only tensors "
                "and plain containers are loaded from a fastai checkpoint, since anything else could run code; "
                "save the model's state_dict alone, from a source you trust"
            ) from err
        if unsupported:
            raise FastaiConversionError(
                f"checkpoint {path} holds {unsupported.group(1)} objects, refused by torch.load(weights_only=True): "
                "only tensors and plain containers are loaded from a fastai checkpoint"
            ) from err
        raise FastaiConversionError(
            f"checkpoint {path} is not a readable PyTorch file (truncated or corrupt?): {str(err).splitlines()[0]}"
        ) from err
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        IndexError,
        KeyError,
        TypeError,
        AttributeError,
        UnicodeDecodeError,
        MemoryError,
    ) as err:
        raise FastaiConversionError(
            f"checkpoint {path} is not a readable PyTorch file (truncated or corrupt?): {str(err).splitlines()[0]}"
        ) from err
    if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    if not isinstance(state, Mapping):
        raise FastaiConversionError(f"checkpoint {path} holds a {type(state).__name__}, expected a state dict")
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise FastaiConversionError(f"checkpoint {path}: entries {not_tensors[:5]} are not tensors")
    return dict(state)


# ---------------------------------------------------------------------------------------------------------------------
# Mapping fastai names onto hf-ulmfit names
# ---------------------------------------------------------------------------------------------------------------------

# Per LSTM layer: fastai suffix → our suffix. fastai 1.x also stores "module.weight_hh_l0", a copy of the raw weight.
_LAYER_KEYS = {
    "weight_hh_l0_raw": "weight_hh",
    "module.weight_ih_l0": "weight_ih",
    "module.bias_ih_l0": "bias_ih",
    "module.bias_hh_l0": "bias_hh",
}
_LAYER_KEYS_DROPPED = ("module.weight_hh_l0",)
# The same for a QRNN layer of fastai's AWD_QRNN: WeightDropout wraps the layer's linear map.
_QRNN_LAYER_KEYS = {"layers.0.linear.weight_raw": "weight", "layers.0.linear.module.bias": "bias"}
_QRNN_LAYER_KEYS_DROPPED = ("layers.0.linear.module.weight",)


def detect_rnn_type(state: Mapping[str, torch.Tensor], prefix: str) -> str:
    """The checkpoint's recurrent cell: `qrnn` for fastai's AWD_QRNN (QRNN layers), else `lstm`."""
    return "qrnn" if f"{prefix}rnns.0.layers.0.linear.weight_raw" in state else "lstm"


def _layer_keys(rnn_type: str) -> tuple[dict[str, str], tuple[str, ...]]:
    return (_QRNN_LAYER_KEYS, _QRNN_LAYER_KEYS_DROPPED) if rnn_type == "qrnn" else (_LAYER_KEYS, _LAYER_KEYS_DROPPED)


_BATCH_NORM_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def detect_layout(state: Mapping[str, torch.Tensor]) -> tuple[str, str]:
    """(layout, encoder prefix): "language-model", "encoder" or "classifier"."""
    if "0.module.encoder.weight" in state:
        return "classifier", "0.module."
    if "0.encoder.weight" in state:
        return "language-model", "0."
    if "encoder.weight" in state:
        return "encoder", ""
    raise FastaiConversionError(
        "not a fastai AWD-LSTM checkpoint: none of 0.encoder.weight (language model), encoder.weight (encoder) or "
        f"0.module.encoder.weight (classifier) is present; its first keys are {sorted(state)[:8]}"
    )


def _count_layers(state, prefix: str) -> int:
    indices = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"rnns\.(\d+)\.", k))}
    if not indices:
        raise FastaiConversionError(f"no LSTM layers ({prefix}rnns.0.*) in the checkpoint")
    if indices != set(range(len(indices))):
        raise FastaiConversionError(f"LSTM layers {sorted(indices)} are not numbered 0..{len(indices) - 1}")
    return len(indices)


def _require(state, key: str) -> torch.Tensor:
    if key not in state:
        raise FastaiConversionError(f"not a complete fastai AWD-LSTM checkpoint: missing key {key}")
    return state[key]


def infer_config(state: Mapping[str, torch.Tensor], layout: str, prefix: str, **config_kwargs) -> AwdLstmConfig:
    """Sizes from the tensors: vocabulary and embedding width from the embedding, hidden width from layer 0
    (1150 in the oldest fastai models, 1152 since), head widths from the classifier's linear layers."""
    embedding = _require(state, f"{prefix}encoder.weight")
    if embedding.dim() != 2:
        raise FastaiConversionError(f"{prefix}encoder.weight has shape {tuple(embedding.shape)}, expected 2 dims")
    vocab_size, embedding_size = embedding.shape
    num_layers = _count_layers(state, prefix)
    rnn_type = detect_rnn_type(state, prefix)
    if rnn_type == "qrnn":
        first_key, gates = f"{prefix}rnns.0.layers.0.linear.weight_raw", 3
        first_ih = _require(state, first_key)
        if first_ih.dim() != 2 or first_ih.size(0) % 3 or first_ih.size(1) != 2 * embedding_size:
            raise FastaiConversionError(
                f"{first_key} has shape {tuple(first_ih.shape)}, expected (3 * hidden, 2 * {embedding_size}): "
                "an AWD_QRNN's first layer reads a window of two embeddings"
            )
    else:
        first_key, gates = f"{prefix}rnns.0.module.weight_ih_l0", 4
        first_ih = _require(state, first_key)
        if first_ih.dim() != 2 or first_ih.size(0) % 4:
            raise FastaiConversionError(f"{first_key} has shape {tuple(first_ih.shape)}, expected (4 * hidden, input)")
    hidden_size = first_ih.size(0) // gates if num_layers > 1 else config_kwargs.pop("hidden_size", 1152)
    config = dict(
        vocab_size=vocab_size,
        embedding_size=embedding_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        rnn_type=rnn_type,
    )
    if layout == "language-model":
        decoder_weight = state.get("1.decoder.weight")
        config["tie_word_embeddings"] = decoder_weight is None or (
            decoder_weight.shape == embedding.shape and torch.equal(decoder_weight, embedding)
        )
        config["decoder_bias"] = "1.decoder.bias" in state
    if layout == "classifier":
        sizes = _head_sizes(state)
        config["classifier_hidden_sizes"] = sizes[1:-1]
        config["num_labels"] = sizes[-1]
    config.update(config_kwargs)
    return AwdLstmConfig(**config)


def _head_sizes(state) -> list[int]:
    """[input, hidden..., labels] widths of a fastai PoolingLinearClassifier head (LinBnDrop blocks)."""
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"1\.layers\.(\d+)\.", k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise FastaiConversionError(f"classifier head blocks 1.layers.* are {blocks}, expected 0..n")
    sizes = []
    for j in blocks:
        linear = _require(state, f"1.layers.{j}.2.weight")
        if f"1.layers.{j}.2.bias" in state:
            raise FastaiConversionError(
                f"1.layers.{j}.2.bias: this head's linear layers have biases (fastai 1.x or lin_first heads); "
                "only fastai 2.x LinBnDrop heads (BatchNorm, Dropout, Linear without bias) are supported"
            )
        if not sizes:
            sizes.append(linear.size(1))
        elif linear.size(1) != sizes[-1]:
            raise FastaiConversionError(
                f"1.layers.{j}.2.weight has shape {tuple(linear.shape)}: its input width {linear.size(1)} does not "
                f"match the previous block's output width {sizes[-1]}"
            )
        sizes.append(linear.size(0))
    return sizes


def map_state_dict(
    state: Mapping[str, torch.Tensor], layout: str, prefix: str, num_layers: int, rnn_type: str = "lstm"
) -> dict:
    """fastai names → hf-ulmfit names. Every key must be used (or be a known duplicate); leftovers are an error."""
    mapped, used = {}, set()

    def take(fastai_key: str, our_key: str):
        mapped[our_key] = _require(state, fastai_key)
        used.add(fastai_key)

    take(f"{prefix}encoder.weight", "awd_lstm.embeddings.weight")
    duplicate = f"{prefix}encoder_dp.emb.weight"  # EmbeddingDropout wraps the same embedding: one tensor, two names
    if duplicate in state:
        if not torch.equal(state[duplicate], state[f"{prefix}encoder.weight"]):
            raise FastaiConversionError(f"{duplicate} differs from {prefix}encoder.weight; they should be one tensor")
        used.add(duplicate)
    layer_keys, dropped_keys = _layer_keys(rnn_type)
    for i in range(num_layers):
        for fastai_suffix, our_suffix in layer_keys.items():
            take(f"{prefix}rnns.{i}.{fastai_suffix}", f"awd_lstm.layers.{i}.{our_suffix}")
        for fastai_suffix in dropped_keys:
            used.add(f"{prefix}rnns.{i}.{fastai_suffix}")
    if layout == "language-model":
        take("1.decoder.weight", "decoder.weight")
        if "1.decoder.bias" in state:
            take("1.decoder.bias", "decoder.bias")
    if layout == "classifier":
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"1\.layers\.(\d+)\.", k))}
        for j in sorted(blocks):
            for name in _BATCH_NORM_KEYS:
                take(f"1.layers.{j}.0.{name}", f"head.blocks.{j}.batch_norm.{name}")
            take(f"1.layers.{j}.2.weight", f"head.blocks.{j}.linear.weight")
    unexpected = sorted(set(state) - used)
    if unexpected:
        raise FastaiConversionError(
            f"not a fastai AWD-LSTM {layout} checkpoint this converter understands: unexpected keys {unexpected[:10]}"
            + (f" (and {len(unexpected) - 10} more)" if len(unexpected) > 10 else "")
        )
    return mapped


def _check_shapes(mapped: Mapping[str, torch.Tensor], model: torch.nn.Module, config: AwdLstmConfig, to_fastai):
    expected = model.state_dict()
    for key, tensor in mapped.items():
        if key not in expected:
            raise FastaiConversionError(f"internal mapping error: {key} is not a parameter of {type(model).__name__}")
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise FastaiConversionError(
                f"shape mismatch: {to_fastai[key]} has shape {tuple(tensor.shape)}, but an AWD-LSTM with vocab "
                f"{config.vocab_size}, embedding {config.embedding_size}, hidden {config.hidden_size} and "
                f"{config.num_layers} layers needs {tuple(expected[key].shape)} for {key}"
            )


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def convert_fastai_checkpoint(
    checkpoint: str | Path,
    vocab: str | Path | Sequence[str],
    output_dir: str | Path | None = None,
    task: str = "auto",
    backwards: bool = False,
    id2label: Mapping[int, str] | Sequence[str] | None = None,
    bptt: int = 72,
    max_len: int = 1440,
    drop_mult: float | None = None,
    **config_kwargs,
):
    """Convert a fastai AWD-LSTM checkpoint and its vocabulary into an hf-ulmfit model (and save it with a
    fastai-compatible tokenizer when `output_dir` is given). Returns `(model, tokenizer)`.

    Args:
        checkpoint: fastai `.pth` file (language model, `save_encoder` output, or classifier).
        vocab: fastai's `itos` (a `.pkl` list, `.json` list, or text file, or the list itself).
        output_dir: where to save the model folder (safetensors + config + tokenizer.json); None: do not save.
        task: "causal-lm", "sequence-classification", or "auto" (from the checkpoint: language model → causal-lm,
            classifier → sequence-classification; an encoder becomes a classifier with a new head, which needs
            `id2label`).
        backwards: the checkpoint is a backward model (fastai's `backwards=True`, e.g. wt103-bwd). fastai does not
            record this in the file.
        id2label: class names in the order of the classifier's outputs (fastai's `dls.vocab[1]`).
        bptt, max_len: the classifier's chunk length and BPT3C window (fastai's `seq_len` and `max_len`).
        drop_mult: dropout multiplier for further fine-tuning (fastai's default: 1.0 for LMs, 0.5 for classifiers).
        config_kwargs: any other `AwdLstmConfig` field.
    """
    if task not in TASKS:
        raise FastaiConversionError(f"task must be one of {TASKS}, got {task!r}")
    state = load_fastai_state_dict(checkpoint)
    itos = list(vocab) if not isinstance(vocab, (str, Path)) else load_fastai_vocab(vocab)
    layout, prefix = detect_layout(state)

    if task == "auto":
        task = "causal-lm" if layout == "language-model" else "sequence-classification"
    if task == "causal-lm" and layout != "language-model":
        raise FastaiConversionError(
            f"a fastai {layout} checkpoint has no language-model decoder; convert it with "
            "task='sequence-classification' (or convert the full language model)"
        )
    if task == "sequence-classification" and layout == "language-model":
        raise FastaiConversionError(
            "this is a fastai language model: convert it with task='causal-lm'; "
            "AwdLstmForSequenceClassification.from_pretrained(<that folder>, num_labels=...) then starts a classifier "
            "from its encoder"
        )
    if layout == "encoder" and id2label is None:
        raise FastaiConversionError(
            "an encoder checkpoint (save_encoder) becomes a classifier with a new head: pass id2label (class names)"
        )

    config_kwargs.update(backwards=backwards, bptt=bptt, max_len=max_len)
    if task == "sequence-classification":
        for name, rate in CLASSIFIER_DROPOUTS.items():
            config_kwargs.setdefault(name, rate)
        config_kwargs["drop_mult"] = 0.5 if drop_mult is None else drop_mult
    elif drop_mult is not None:
        config_kwargs["drop_mult"] = drop_mult
    if id2label is not None:
        names = list(id2label.values()) if isinstance(id2label, Mapping) else list(id2label)
        config_kwargs["id2label"] = dict(enumerate(names))
        config_kwargs["label2id"] = {name: i for i, name in enumerate(names)}
        config_kwargs.setdefault("num_labels", len(names))
    head_layout = "classifier" if layout == "classifier" else "none"
    config = infer_config(state, head_layout if task == "sequence-classification" else layout, prefix, **config_kwargs)
    if layout == "classifier" and id2label is not None and len(config.id2label) != _head_sizes(state)[-1]:
        raise FastaiConversionError(
            f"id2label names {len(config.id2label)} classes but the classifier head 1.layers.*.2.weight has "
            f"{_head_sizes(state)[-1]} outputs"
        )
    _check_vocab(itos, config)
    config.pad_token_id, config.bos_token_id = itos.index("xxpad"), itos.index("xxbos")
    config.eos_token_id = itos.index("xxeos") if "xxeos" in itos else None

    model_class = AwdLstmForCausalLM if task == "causal-lm" else AwdLstmForSequenceClassification
    model = model_class(config)
    mapped = map_state_dict(state, layout, prefix, config.num_layers, config.rnn_type)
    to_fastai = _reverse_names(layout, prefix, config.num_layers, config.rnn_type)
    _check_shapes(mapped, model, config, to_fastai)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "decoder.weight")]
    if layout == "encoder":
        missing = [k for k in missing if not k.startswith("head.")]  # a new head, as fastai's load_encoder
    if missing or unexpected:
        raise FastaiConversionError(f"checkpoint does not fill the model: missing {missing}, unexpected {unexpected}")
    model.eval()

    tokenizer = build_fastai_tokenizer(itos)
    if output_dir is not None:
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
    return model, tokenizer


def _check_vocab(itos: Sequence[str], config: AwdLstmConfig):
    if len(itos) != config.vocab_size:
        raise FastaiConversionError(
            f"vocabulary has {len(itos)} tokens but the checkpoint's embedding (encoder.weight) has "
            f"{config.vocab_size} rows: is this the vocabulary the model was trained with?"
        )
    missing = [t for t in ("xxunk", "xxpad", "xxbos") if t not in itos]
    if missing:
        raise FastaiConversionError(f"vocabulary lacks fastai's special tokens {missing}: not a fastai itos list")


def _reverse_names(layout: str, prefix: str, num_layers: int, rnn_type: str = "lstm") -> dict[str, str]:
    names = {
        "awd_lstm.embeddings.weight": f"{prefix}encoder.weight",
        "decoder.weight": "1.decoder.weight",
        "decoder.bias": "1.decoder.bias",
    }
    for i in range(num_layers):
        for fastai_suffix, our_suffix in _layer_keys(rnn_type)[0].items():
            names[f"awd_lstm.layers.{i}.{our_suffix}"] = f"{prefix}rnns.{i}.{fastai_suffix}"
    for j in range(16):
        for name in _BATCH_NORM_KEYS:
            names[f"head.blocks.{j}.batch_norm.{name}"] = f"1.layers.{j}.0.{name}"
        names[f"head.blocks.{j}.linear.weight"] = f"1.layers.{j}.2.weight"
    return names


__all__ = [
    "FastaiConversionError",
    "convert_fastai_checkpoint",
    "detect_layout",
    "detect_rnn_type",
    "infer_config",
    "load_fastai_state_dict",
    "load_fastai_vocab",
    "map_state_dict",
]
