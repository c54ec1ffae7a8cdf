"""int8 classifier: dynamically quantised LSTMs and embedding, saved as plain int8 tensors and scales (safetensors).

Weights are quantised symmetrically per output row (`scale = max|row| / 127`); activations are quantised on the fly
at each call (dynamic quantisation). The embedding's int8 rows are scaled back on lookup. The head (BatchNorm and
two small Linears, under 2% of the weights) stays fp32.

Why not torchao: `torchao.quantization.quantize_` swaps `nn.Linear` weights for int8 tensor subclasses that implement
`F.linear`; an LSTM's recurrence is one fused `aten::lstm` call on its weight matrices, which those subclasses do not
implement, so torchao has no int8 LSTM. The LSTMs are where the time goes, so the fallback is PyTorch's own int8
LSTM kernel (`torch.quantized_lstm`, fbgemm/x86 dynamic quantisation) fed with our packed weights. PyTorch has
deprecated its quantized tensor types (they are still in 2.13): this module is the one place to change when they go.

A saved int8 model is its own model type (`awd_lstm_int8`), registered with the Auto classes like the fp32 one, so
`from_pretrained` and `pipeline("text-classification", model=folder)` load it once `hf_ulmfit.models` is imported.
`hf_ulmfit.export.int8` makes one from a trained fp32 classifier.
"""

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..awd_lstm import AwdLstmConfig, AwdLstmForSequenceClassification
from ..awd_lstm.modeling_awd_lstm import WeightDroppedLstm


# Activations use 7 bits: x86 kernels without VNNI sum pairs of u8*s8 products in saturating 16-bit lanes, and
# full 8-bit activations overflow them (measured here: 17% error on an LSTM layer's output against 1% with 7 bits).
REDUCE_RANGE = True


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: `weight ≈ int8 * scale[:, None]`."""
    scale = weight.detach().abs().amax(dim=1).clamp(min=1e-12) / 127.0
    return torch.round(weight.detach() / scale[:, None]).clamp(-127, 127).to(torch.int8), scale.float()


def _packed_linear(int8_weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor):
    zero_points = torch.zeros_like(scale, dtype=torch.long)
    with warnings.catch_warnings():  # PyTorch's quantized tensors are deprecated (see the module docstring)
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        weight = torch._make_per_channel_quantized_tensor(int8_weight, scale.double(), zero_points, 0)
    return torch.ops.quantized.linear_prepack(weight, bias)  # the int8 LSTM cell reads the bias from here


class Int8Lstm(nn.Module):
    """Inference-only stand-in for `WeightDroppedLstm` (same call) with int8 weights and PyTorch's int8 kernel."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        for name, width in (("weight_ih", input_size), ("weight_hh", hidden_size)):
            self.register_buffer(f"{name}_int8", torch.zeros(4 * hidden_size, width, dtype=torch.int8))
            self.register_buffer(f"{name}_scale", torch.ones(4 * hidden_size))
        self.register_buffer("bias_ih", torch.zeros(4 * hidden_size))
        self.register_buffer("bias_hh", torch.zeros(4 * hidden_size))
        self._cell_params = None

    @classmethod
    def from_float(cls, layer: WeightDroppedLstm) -> "Int8Lstm":
        quantized = cls(layer.input_size, layer.hidden_size)
        for name in ("weight_ih", "weight_hh"):
            int8_weight, scale = quantize_rows(getattr(layer, name))
            getattr(quantized, f"{name}_int8").copy_(int8_weight)
            getattr(quantized, f"{name}_scale").copy_(scale)
        quantized.bias_ih.copy_(layer.bias_ih.detach())
        quantized.bias_hh.copy_(layer.bias_hh.detach())
        return quantized

    def initial_state(self, batch_size: int, reference: torch.Tensor):
        """Zero `(h, c)` for `batch_size` sequences, as `WeightDroppedLstm.initial_state`."""
        return (reference.new_zeros(1, batch_size, self.hidden_size),) * 2

    def _load_from_state_dict(self, *args, **kwargs):
        self._cell_params = None  # packed from the buffers on the next call
        return super()._load_from_state_dict(*args, **kwargs)

    def cell_params(self):
        if self._cell_params is None:
            self._cell_params = torch.ops.quantized.make_quantized_cell_params_dynamic(
                _packed_linear(self.weight_ih_int8, self.weight_ih_scale, self.bias_ih),
                _packed_linear(self.weight_hh_int8, self.weight_hh_scale, self.bias_hh),
                self.bias_ih,
                self.bias_hh,
                REDUCE_RANGE,
            )
        return self._cell_params

    def forward(self, hidden, state, lengths=None, weights=None):
        if self.training:
            raise RuntimeError("an int8 AWD-LSTM is for inference only: call .eval() (train the fp32 model instead)")
        params = [self.cell_params()]
        hidden = hidden.float()
        if lengths is None:
            output, h, c = torch.quantized_lstm(
                hidden, state, params, True, 1, 0.0, False, False, True, dtype=torch.qint8, use_dynamic=True
            )
            return output, (h, c)
        packed = pack_padded_sequence(hidden, lengths.cpu(), batch_first=True, enforce_sorted=False)
        sorted_state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        data, h, c = torch.quantized_lstm(
            packed.data,
            packed.batch_sizes,
            sorted_state,
            params,
            True,
            1,
            0.0,
            False,
            False,
            dtype=torch.qint8,
            use_dynamic=True,
        )
        output, _ = pad_packed_sequence(packed._replace(data=data), batch_first=True, total_length=hidden.size(1))
        return output, (h.index_select(1, packed.unsorted_indices), c.index_select(1, packed.unsorted_indices))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, int8"


class Int8Embedding(nn.Module):
    """An embedding with int8 rows and one fp32 scale per row."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.register_buffer("weight_int8", torch.zeros(num_embeddings, embedding_dim, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(num_embeddings))

    @classmethod
    def from_float(cls, embedding: nn.Embedding) -> "Int8Embedding":
        quantized = cls(embedding.num_embeddings, embedding.embedding_dim, embedding.padding_idx)
        int8_weight, scale = quantize_rows(embedding.weight)
        quantized.weight_int8.copy_(int8_weight)
        quantized.weight_scale.copy_(scale)
        return quantized

    @property
    def weight(self) -> torch.Tensor:
        """An empty fp32 tensor on the weights' device. The encoder reads only the dtype and device (for its zero
        state), and dequantising every row at each call would cost more than the lookup itself. The rows are
        `dequantized_weight()`."""
        return self.weight_scale[:0]

    def dequantized_weight(self) -> torch.Tensor:
        return self.weight_int8.float() * self.weight_scale[:, None]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(input_ids, self.weight_int8).float() * self.weight_scale[input_ids].unsqueeze(-1)


class AwdLstmInt8Config(AwdLstmConfig):
    """An `AwdLstmConfig` whose model keeps int8 LSTM and embedding weights."""

    model_type = "awd_lstm_int8"
    _auto_class = None  # saving copies no remote code

    def __post_init__(self, **kwargs):
        kwargs["auto_map"] = {}  # no remote code: the fp32 model files cannot read int8 weights
        super().__post_init__(**kwargs)


class AwdLstmInt8ForSequenceClassification(AwdLstmForSequenceClassification):
    """ULMFiT's classifier with int8 LSTMs and embedding, for CPU inference."""

    config_class = AwdLstmInt8Config
    config: AwdLstmInt8Config
    _auto_class = None  # saving copies no remote code (see AwdLstmInt8Config)

    def __init__(self, config: AwdLstmInt8Config):
        super().__init__(config)
        encoder = self.awd_lstm
        encoder.layers = nn.ModuleList(Int8Lstm(layer.input_size, layer.hidden_size) for layer in encoder.layers)
        encoder.embeddings = Int8Embedding(config.vocab_size, config.embedding_size, config.pad_token_id)
        self.eval()

    def train(self, mode: bool = True):
        if mode:
            raise RuntimeError("an int8 AWD-LSTM is for inference only: train the fp32 model and quantise it again")
        return super().train(False)
