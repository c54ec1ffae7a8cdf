"""AWD-LSTM (Merity et al., 2017) as transformers models, with ULMFiT's classifier (Howard & Ruder, 2018).

Read top to bottom: the regularisation modules, the weight-dropped LSTM layer, how padded input is put in reading
order, the output classes, the pretrained base, the encoder (`AwdLstmModel`), the language model and the classifier.

The recurrent state travels explicitly: every forward takes `state` (per layer `(h, c)`, each `(1, batch, width)`)
and returns the new one; nothing is kept inside the modules. `generate()` carries the same state wrapped in an
`AwdLstmCache`, passed as `cache`, transformers' name for what a model carries from one decoding step to the next.
This file travels to the Hub as remote code: it imports only torch, transformers and its sibling configuration file.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import initialization as init
from transformers.generation import GenerationMixin
from transformers.generation import utils as generation_utils
from transformers.modeling_outputs import ModelOutput
from transformers.modeling_utils import PreTrainedModel

from .configuration_awd_lstm import AwdLstmConfig

LayerState = tuple[torch.Tensor, torch.Tensor]
State = tuple[LayerState, ...]


# ---------------------------------------------------------------------------------------------------------------------
# Regularisation: each trick is one small module.
# ---------------------------------------------------------------------------------------------------------------------


class EmbeddingDropout(nn.Module):
    """Drops whole vocabulary rows: a dropped token is zero at every position of the batch (Gal & Ghahramani)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, input_ids: torch.Tensor, embedding: nn.Embedding) -> torch.Tensor:
        embedded = embedding(input_ids)
        if not self.training or self.rate == 0.0:
            return embedded
        # Masking the looked-up vectors with the row mask equals embedding a row-masked matrix, without copying the
        # whole (vocab, width) matrix every step.
        keep = embedding.weight.new_empty(embedding.weight.size(0), 1).bernoulli_(1.0 - self.rate)
        return embedded * (keep / (1.0 - self.rate))[input_ids]


class LockedDropout(nn.Module):
    """Variational dropout: one mask per sequence, shared across all time steps."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """`hidden`: `(batch, length, width)`."""
        if not self.training or self.rate == 0.0:
            return hidden
        keep = hidden.new_empty(hidden.size(0), 1, hidden.size(2)).bernoulli_(1.0 - self.rate)
        return hidden * (keep / (1.0 - self.rate))


def _cpu_runs_bf16_lstm() -> bool:
    """Run the recurrence in bf16 under CPU autocast only where it is faster: with AMX. oneDNN's bf16 LSTM on
    AVX512-BF16 alone is slower than fp32, and without either it refuses under autocast."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


CPU_RUNS_BF16_LSTM = _cpu_runs_bf16_lstm()
# Calls this short run on PyTorch's native CPU LSTM kernel instead of oneDNN's (see WeightDroppedLstm._run).
SHORT_CALL_STEPS = 2


class WeightDroppedLstm(nn.Module):
    """One LSTM layer with DropConnect on its hidden-to-hidden weights, run by PyTorch's fused LSTM kernel.

    `weight_hh` is the raw weight; training forwards drop from it afresh. The dropped matrix goes straight into
    `torch.lstm`, the op `nn.LSTM` itself calls (oneDNN on CPU, cuDNN on CUDA), so no step runs in Python.
    """

    def __init__(self, input_size: int, hidden_size: int, weight_dropout: float):
        super().__init__()
        self.input_size, self.hidden_size, self.weight_dropout = input_size, hidden_size, weight_dropout
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))

    def dropped_weights(self) -> list[torch.Tensor]:
        """The kernel's weights with a fresh DropConnect draw on the hidden-to-hidden matrix (none in eval mode)."""
        weight_hh = F.dropout(self.weight_hh, self.weight_dropout, self.training)
        return [self.weight_ih, weight_hh, self.bias_ih, self.bias_hh]

    def forward(
        self,
        hidden: torch.Tensor,
        state: LayerState,
        lengths: torch.Tensor | None = None,
        weights: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, LayerState]:
        """`hidden`: `(batch, length, input_size)`, valid steps first; with `lengths`, each row stops at its length,
        so the returned state is the state after that row's last valid step (padded outputs are zero). `weights`
        (from `dropped_weights`) reuses one DropConnect draw across calls; by default each call draws anew."""
        weights = weights if weights is not None else self.dropped_weights()
        if hidden.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not CPU_RUNS_BF16_LSTM:
            # No fast bf16 LSTM on this CPU: run the recurrence in the weights' precision; the rest stays autocast.
            with torch.autocast("cpu", enabled=False):
                dtype = self.weight_ih.dtype
                return self._run(hidden.to(dtype), tuple(s.to(dtype) for s in state), weights, lengths)
        return self._run(hidden, state, weights, lengths)

    def _run(self, hidden, state, weights, lengths):
        if hidden.device.type == "cpu" and hidden.size(1) <= SHORT_CALL_STEPS:
            # oneDNN lays the weights out anew on every call (measured: 8-10 ms for a 1152-wide layer), which dwarfs
            # a one-step call such as a generation step; PyTorch's native kernel has no such fixed cost.
            onednn_enabled = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
            try:
                return self._run_kernel(hidden, state, weights, lengths)
            finally:
                torch.backends.mkldnn.enabled = onednn_enabled
        return self._run_kernel(hidden, state, weights, lengths)

    def _run_kernel(self, hidden, state, weights, lengths):
        if lengths is None:
            output, h, c = torch.lstm(hidden, state, weights, True, 1, 0.0, self.training, False, True)
            return output, (h, c)
        packed = pack_padded_sequence(hidden, lengths.cpu(), batch_first=True, enforce_sorted=False)
        sorted_state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        data, h, c = torch.lstm(packed.data, packed.batch_sizes, sorted_state, weights, True, 1, 0.0, self.training, False)
        output, _ = pad_packed_sequence(
            packed._replace(data=data), batch_first=True, total_length=hidden.size(1)
        )
        return output, (h.index_select(1, packed.unsorted_indices), c.index_select(1, packed.unsorted_indices))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, weight_dropout={self.weight_dropout}"


# ---------------------------------------------------------------------------------------------------------------------
# Reading order: where padding is, and which way a backward model reads.
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class ReadingOrder:
    """How a `(batch, length)` input maps onto the steps the LSTM reads.

    The LSTM reads each row's valid tokens first (a backward model in reverse), padding after them. Outputs go back to
    the row's valid positions in reading order ("slots"): a forward model's output at position t belongs to token t;
    a backward model's outputs read from its first valid position onwards in its own reading order, so the last
    valid position always holds the state after the whole text, which is what generation and pooling read.
    """

    read_index: torch.Tensor | None  # (batch, length) position read at step k; None when it is step k itself
    slot_index: torch.Tensor | None  # (batch, length) position that receives step k's output; None: step k itself
    lengths: torch.Tensor | None  # (batch,) valid tokens per row; None when no row has padding
    flip: bool = False  # unpadded backward input: read the time axis reversed

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor | None, backwards: bool) -> "ReadingOrder":
        if attention_mask is None or bool(attention_mask.all()):
            return cls(None, None, None, flip=backwards)
        valid = attention_mask.bool()
        lengths = valid.sum(1)
        if not bool(lengths.all()):
            empty_rows = (lengths == 0).nonzero().flatten().tolist()
            raise ValueError(f"attention_mask rows {empty_rows} have no tokens: every sequence needs at least one")
        length = valid.size(1)
        positions = torch.arange(length, device=valid.device).expand_as(valid)
        # Sorting these keys puts valid positions first (ascending, or descending when backwards), padding after.
        natural_key = torch.where(valid, positions, positions + length)
        slot_index = torch.argsort(natural_key, dim=1, stable=True)
        if not backwards:
            return cls(slot_index, slot_index, lengths)
        read_index = torch.argsort(torch.where(valid, length - 1 - positions, positions + length), dim=1, stable=True)
        return cls(read_index, slot_index, lengths)

    def to_reading(self, per_token: torch.Tensor) -> torch.Tensor:
        """Put a per-token tensor `(batch, length, ...)` in reading order (valid first)."""
        if self.read_index is None:
            return per_token.flip(1) if self.flip else per_token
        return per_token.gather(1, _expand_like(self.read_index, per_token))

    def to_slots(self, read_ordered: torch.Tensor) -> torch.Tensor:
        """Write reading-order outputs `(batch, length, ...)` back to the valid positions."""
        if self.slot_index is None:
            return read_ordered
        index = _expand_like(self.slot_index, read_ordered)
        return torch.empty_like(read_ordered).scatter_(1, index, read_ordered)

    def slots_to_reading(self, slotted: torch.Tensor) -> torch.Tensor:
        """Inverse of `to_slots`."""
        if self.slot_index is None:
            return slotted
        return slotted.gather(1, _expand_like(self.slot_index, slotted))

    def reading_mask(self, length: int) -> torch.Tensor | None:
        """`(batch, length)` True at real reading steps, or None when every step is real."""
        if self.lengths is None:
            return None
        return torch.arange(length, device=self.lengths.device) < self.lengths[:, None]


def _expand_like(index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)


# ---------------------------------------------------------------------------------------------------------------------
# The generation cache: the recurrent state, carried by `generate()` from one step to the next.
# ---------------------------------------------------------------------------------------------------------------------


def select_rows(state: State, rows: torch.Tensor) -> State:
    """The state of the sequences `rows` (indices into the batch), in that order."""
    return tuple(tuple(s.index_select(1, rows.to(s.device)) for s in layer_state) for layer_state in state)


class AwdLstmCache:
    """What `generate()` carries between decoding steps: the LSTM state after the text read so far.

    A recurrent model's cache has a fixed size: per layer `(h, c)`, each `(1, batch, width)`, however long the text.
    `generate()` passes it to the forward as `cache` and reorders it for beam search (`reorder_cache`); a forward that
    reads more tokens returns a new cache. To continue from a state of your own, pass `AwdLstmCache(state)`.
    """

    is_compileable = False

    def __init__(self, state: State, seen_tokens: int = 0):
        self.state = state
        self.seen_tokens = seen_tokens

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Tokens read so far (transformers' `Cache` interface)."""
        return self.seen_tokens

    @property
    def is_linear(self) -> list[bool]:
        """Every layer's state has a fixed size, as a linear-attention layer's (transformers' `Cache` interface)."""
        return [True] * len(self.state)

    def reorder_cache(self, beam_idx: torch.LongTensor):
        """Beam search: keep the states of the chosen beams, in place (as transformers' caches do)."""
        self.state = select_rows(self.state, beam_idx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layers={len(self.state)}, seen_tokens={self.seen_tokens})"


# transformers 5.24 carries `model_kwargs["cache"]` between steps and reorders it for beam search; 5.0-5.23 reorder
# only `model_kwargs["past_key_values"]`. The cache travels under the name the installed generation loop handles.
GENERATION_CACHE_KEY = "cache" if "cache" in getattr(generation_utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


# ---------------------------------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class AwdLstmModelOutput(ModelOutput):
    """
    last_hidden_state (`(batch, length, embedding_size)`): the last LSTM layer's output, before output dropout.
    state (tuple over layers of `(h, c)`, each `(1, batch, width)`): the recurrent state after the input; pass it
        to the next call to continue the text.
    hidden_states (tuple over layers of `(batch, length, width)`, optional): every layer's output.
    """

    last_hidden_state: torch.Tensor | None = None
    state: State | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class AwdLstmCausalLMOutput(ModelOutput):
    """
    loss (scalar, optional): next-token cross-entropy, when `labels` or `shift_labels` are given.
    logits (`(batch, length, vocab_size)`): next-token scores; for a backward model, in its reading order.
    state: as in `AwdLstmModelOutput`.
    cache (`AwdLstmCache`, optional): the same state for `generate()`, returned when `use_cache` is set or a `cache`
        was passed in.
    last_hidden_state (`(batch, length, embedding_size)`): last layer output before output dropout (for TAR).
    dropped_hidden_state (`(batch, length, embedding_size)`): the same after output dropout (for AR).
    hidden_states: as in `AwdLstmModelOutput`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    state: State | None = None
    cache: AwdLstmCache | None = None
    last_hidden_state: torch.Tensor | None = None
    dropped_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class AwdLstmSequenceClassifierOutput(ModelOutput):
    """
    loss (scalar, optional): classification or regression loss, when `labels` are given.
    logits (`(batch, num_labels)`): class scores.
    pooled_features (`(batch, 3 * embedding_size)`): concat pooling [last, max, mean] of the kept outputs.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    pooled_features: torch.Tensor | None = None


# ---------------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------------


class AwdLstmPreTrainedModel(PreTrainedModel):
    config: AwdLstmConfig
    config_class = AwdLstmConfig
    base_model_prefix = "awd_lstm"
    main_input_name = "input_ids"
    _is_stateful = True
    # Losses are means over the batch; Trainer must not treat them as sums normalised by num_items_in_batch.
    accepts_loss_kwargs = False
    _no_split_modules = ["WeightDroppedLstm"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        """fastai's initialisation: U(-init_range, init_range) embeddings and decoder, PyTorch's defaults elsewhere."""
        if isinstance(module, nn.Embedding):
            init.uniform_(module.weight, -self.config.init_range, self.config.init_range)
        elif isinstance(module, WeightDroppedLstm):
            bound = module.hidden_size**-0.5
            for weight in (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh):
                init.uniform_(weight, -bound, bound)
        elif isinstance(module, AwdLstmLanguageModelDecoder):
            init.uniform_(module.weight, -self.config.init_range, self.config.init_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=5**0.5)
        elif isinstance(module, nn.BatchNorm1d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class AwdLstmModel(AwdLstmPreTrainedModel):
    """The AWD-LSTM encoder: embedding (with embedding and input dropout) and weight-dropped LSTMs."""

    def __init__(self, config: AwdLstmConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.embedding_dropout = EmbeddingDropout(config.dropout("embedding"))
        self.input_dropout = LockedDropout(config.dropout("input"))
        self.layers = nn.ModuleList(
            WeightDroppedLstm(n_in, n_out, config.dropout("weight")) for n_in, n_out in config.layer_sizes
        )
        self.hidden_dropouts = nn.ModuleList(
            LockedDropout(config.dropout("hidden")) for _ in range(config.num_layers - 1)
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, embeddings: nn.Embedding):
        self.embeddings = embeddings

    def initial_state(self, batch_size: int, reference: torch.Tensor) -> State:
        """Zero state for `batch_size` sequences, on `reference`'s device."""
        return tuple(
            (reference.new_zeros(1, batch_size, layer.hidden_size),) * 2 for layer in self.layers
        )

    def dropped_layer_weights(self) -> list[list[torch.Tensor]]:
        """One DropConnect draw for every layer, to share across the chunks of one document."""
        return [layer.dropped_weights() for layer in self.layers]

    def encode(
        self,
        input_ids: torch.Tensor,
        state: State | None = None,
        lengths: torch.Tensor | None = None,
        output_hidden_states: bool = False,
        layer_weights: list[list[torch.Tensor]] | None = None,
    ) -> AwdLstmModelOutput:
        """Run input that is already in reading order (valid tokens first, `lengths` per row when padded).
        `layer_weights` (from `dropped_layer_weights`) reuses one DropConnect draw across calls."""
        if state is None:
            state = self.initial_state(input_ids.size(0), self.embeddings.weight)
        elif len(state) != len(self.layers):
            raise ValueError(f"state has {len(state)} layers, this model has {len(self.layers)}")
        hidden = self.input_dropout(self.embedding_dropout(input_ids, self.embeddings))
        new_state, layer_outputs = [], []
        for index, layer in enumerate(self.layers):
            weights = layer_weights[index] if layer_weights is not None else None
            hidden, layer_state = layer(hidden, state[index], lengths, weights)
            new_state.append(layer_state)
            layer_outputs.append(hidden)
            if index < len(self.hidden_dropouts):
                hidden = self.hidden_dropouts[index](hidden)
        return AwdLstmModelOutput(
            last_hidden_state=layer_outputs[-1],
            state=tuple(new_state),
            hidden_states=tuple(layer_outputs) if output_hidden_states else None,
        )

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        state: State | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> AwdLstmModelOutput:
        r"""
        input_ids (`(batch, length)`): token ids in natural text order, for backward models too.
        attention_mask (`(batch, length)`, optional): 1 for tokens, 0 for padding (left, right or anywhere). Each row
            stops at its last token, so the returned state is exact for every row.
        state (optional): the state returned by the previous call, to continue those texts.
        """
        order = ReadingOrder.from_mask(attention_mask, self.config.backwards)
        outputs = self.encode(order.to_reading(input_ids), state, order.lengths, bool(output_hidden_states))
        outputs.last_hidden_state = order.to_slots(outputs.last_hidden_state)
        if outputs.hidden_states is not None:
            outputs.hidden_states = tuple(order.to_slots(h) for h in outputs.hidden_states)
        return outputs


class AwdLstmLanguageModelDecoder(nn.Linear):
    """The LM decoder: a linear map to the vocabulary whose weight is tied to the embedding."""


class AwdLstmForCausalLM(AwdLstmPreTrainedModel, GenerationMixin):
    """AWD-LSTM language model: encoder, output (locked) dropout, tied decoder."""

    _tied_weights_keys = {"decoder.weight": "awd_lstm.embeddings.weight"}

    def __init__(self, config: AwdLstmConfig):
        super().__init__(config)
        self.awd_lstm = AwdLstmModel(config)
        self.output_dropout = LockedDropout(config.dropout("output"))
        self.decoder = AwdLstmLanguageModelDecoder(config.embedding_size, config.vocab_size, bias=config.decoder_bias)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.awd_lstm.embeddings

    def set_input_embeddings(self, embeddings: nn.Embedding):
        self.awd_lstm.embeddings = embeddings

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def set_output_embeddings(self, decoder: nn.Linear):
        self.decoder = decoder

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        state: State | None = None,
        cache: AwdLstmCache | None = None,
        use_cache: bool | None = None,
        labels: torch.LongTensor | None = None,
        shift_labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> AwdLstmCausalLMOutput:
        r"""
        state (optional): the `state` a previous call returned, to continue those texts (truncated BPTT uses this).
        cache (`AwdLstmCache`, optional): the same, as `generate()` carries it; give `state` or `cache`, not both.
        use_cache (`bool`, optional): also return the new state as an `AwdLstmCache` (`generate()` sets it).
        labels (`(batch, length)`, optional): targets shifted inside, as in every transformers causal LM (`labels =
            input_ids` works); -100 is ignored.
        shift_labels (`(batch, length)`, optional): targets already aligned with the inputs, the next token of each
            position. Contiguous LM streams use these, so no position of a chunk goes unpredicted.
        logits_to_keep (`int`): if non-zero, compute logits for the last `logits_to_keep` positions only.

        Per-token tensors are given in natural order; a backward model puts them in its reading order itself.
        """
        if cache is not None:
            if state is not None:
                raise ValueError("Pass the recurrent state either as `state` or as `cache`, not both.")
            state = cache.state
        order = ReadingOrder.from_mask(attention_mask, self.config.backwards)
        outputs = self.awd_lstm.encode(order.to_reading(input_ids), state, order.lengths, bool(output_hidden_states))
        new_cache = None
        if use_cache or cache is not None:
            seen_tokens = cache.seen_tokens if cache is not None else 0
            new_cache = AwdLstmCache(outputs.state, seen_tokens + input_ids.size(1))
        dropped = self.output_dropout(outputs.last_hidden_state)
        kept = order.to_slots(dropped)
        logits = self.decoder(kept[:, -logits_to_keep:] if logits_to_keep else kept)

        loss = None
        if labels is not None or shift_labels is not None:
            loss = self._next_token_loss(order, logits, labels, shift_labels, kwargs.get("num_items_in_batch"))
        return AwdLstmCausalLMOutput(
            loss=loss,
            logits=logits,
            state=outputs.state,
            cache=new_cache,
            last_hidden_state=order.to_slots(outputs.last_hidden_state),
            dropped_hidden_state=kept,
            hidden_states=(
                tuple(order.to_slots(h) for h in outputs.hidden_states) if outputs.hidden_states is not None else None
            ),
        )

    def _next_token_loss(self, order, logits, labels, shift_labels, num_items_in_batch):
        """Cross-entropy in reading order, with padded steps ignored."""
        targets = shift_labels if shift_labels is not None else labels
        if logits.size(1) != targets.size(1):
            raise ValueError("logits_to_keep cannot be combined with labels: the loss needs every position's logits")
        logits = order.slots_to_reading(logits)
        # Contiguous: the loss flattens targets with view(), and stream batches are strided views of their rows.
        targets = order.to_reading(targets).contiguous()
        reading_mask = order.reading_mask(targets.size(1))
        if reading_mask is not None:
            targets = targets.masked_fill(~reading_mask, -100)
        if shift_labels is not None:
            return self.loss_function(
                logits, None, self.config.vocab_size, shift_labels=targets, num_items_in_batch=num_items_in_batch
            )
        return self.loss_function(logits, targets, self.config.vocab_size, num_items_in_batch=num_items_in_batch)

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, use_cache=None, **kwargs):
        """Feed only the tokens the cache has not read (one per step once generation runs); without a cache, read
        the whole prefix. A cache given by the user holds `seen_tokens` leading columns of `input_ids`."""
        cache = kwargs.get(GENERATION_CACHE_KEY, kwargs.get("cache"))  # before 5.24, the user's cache comes as `cache`
        if cache is None:
            return {"input_ids": input_ids, "attention_mask": attention_mask, "use_cache": use_cache}
        if cache.seen_tokens >= input_ids.size(1):
            raise ValueError(
                f"The cache has read {cache.seen_tokens} tokens and input_ids has {input_ids.size(1)}: nothing to read."
            )
        unread = slice(cache.seen_tokens, None)
        mask = attention_mask[:, unread] if attention_mask is not None else None
        return {"input_ids": input_ids[:, unread], "attention_mask": mask, "cache": cache, "use_cache": use_cache}

    def _update_model_kwargs_for_generation(self, outputs, model_kwargs, is_encoder_decoder=False, num_new_tokens=1):
        """Carry the new cache under the name the installed generation loop reorders for beam search."""
        model_kwargs = super()._update_model_kwargs_for_generation(
            outputs, model_kwargs, is_encoder_decoder=is_encoder_decoder, num_new_tokens=num_new_tokens
        )
        # 5.0-5.23 copy every output named like a cache (our `state` too); a cache the user passed is now stale.
        for replaced in ("state", "cache"):
            model_kwargs.pop(replaced, None)
        if outputs.cache is not None:
            model_kwargs[GENERATION_CACHE_KEY] = outputs.cache
        return model_kwargs

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # the recurrent state is the cache


class AwdLstmHeadBlock(nn.Module):
    """BatchNorm → Dropout → Linear (no bias: BatchNorm has one) → optional ReLU, as fastai's LinBnDrop."""

    def __init__(self, n_in: int, n_out: int, dropout: float, activation: bool):
        super().__init__()
        self.batch_norm = nn.BatchNorm1d(n_in)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(n_in, n_out, bias=False)
        self.activation = nn.ReLU() if activation else nn.Identity()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(self.dropout(self.batch_norm(features))))


class AwdLstmClassificationHead(nn.Module):
    """fastai's PoolingLinearClassifier head on top of concat pooling."""

    def __init__(self, config: AwdLstmConfig):
        super().__init__()
        sizes = [3 * config.embedding_size, *config.classifier_hidden_sizes, config.num_labels]
        dropouts = [config.dropout("output")] + [config.classifier_dropout] * len(config.classifier_hidden_sizes)
        self.blocks = nn.ModuleList(
            AwdLstmHeadBlock(n_in, n_out, rate, activation=index < len(dropouts) - 1)
            for index, (n_in, n_out, rate) in enumerate(zip(sizes[:-1], sizes[1:], dropouts))
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            pooled = block(pooled)
        return pooled


def masked_concat_pool(outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[last, max, mean] over the True steps of `mask`; `outputs` `(batch, steps, width)`, `mask` `(batch, steps)`."""
    steps = torch.arange(mask.size(1), device=mask.device)
    last_step = torch.where(mask, steps, -1).max(1).values
    last = outputs[torch.arange(outputs.size(0), device=outputs.device), last_step]
    expanded = mask.unsqueeze(-1)
    maximum = outputs.masked_fill(~expanded, float("-inf")).max(1).values
    mean = outputs.masked_fill(~expanded, 0.0).sum(1) / mask.sum(1, keepdim=True).to(outputs.dtype)
    return torch.cat([last, maximum, mean], dim=1)


class AwdLstmForSequenceClassification(AwdLstmPreTrainedModel):
    """ULMFiT's classifier: the AWD-LSTM encoder run over the document in `bptt` chunks (BPT3C), concat pooling and
    fastai's head. Loading a language-model checkpoint keeps its encoder (`awd_lstm.*`) and starts a new head."""

    def __init__(self, config: AwdLstmConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.awd_lstm = AwdLstmModel(config)
        self.head = AwdLstmClassificationHead(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.awd_lstm.embeddings

    def set_input_embeddings(self, embeddings: nn.Embedding):
        self.awd_lstm.embeddings = embeddings

    def encode_documents(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Concat-pooled features `(batch, 3 * embedding_size)` of each document.

        The document runs in `bptt`-token chunks, carrying the (detached) state from chunk to chunk. A chunk is kept
        for pooling, and keeps its activations for back-propagation, when it starts at or after `length - max_len`
        (fastai's rule), so memory stays bounded however long the document is. Each row is read from its own first
        token, so padding never changes a document's features.
        """
        order = ReadingOrder.from_mask(attention_mask, self.config.backwards)
        tokens = order.to_reading(input_ids)
        batch_size, length = tokens.shape
        lengths = order.lengths if order.lengths is not None else tokens.new_full((batch_size,), length)
        # Longest first, so the rows still running at any chunk are a prefix of the batch.
        lengths, by_length = lengths.sort(descending=True)
        tokens = tokens[by_length]
        lengths_list = lengths.tolist()
        bptt, max_len = self.config.bptt, self.config.max_len

        # One DropConnect draw for the whole document (AWD-LSTM's per-sequence mask): the kept chunks then share a
        # single dropped copy of each hidden-to-hidden matrix for back-propagation instead of one copy per chunk.
        weights = self.awd_lstm.dropped_layer_weights() if self.training else None
        state, kept_outputs, kept_masks = None, [], []
        for start in range(0, lengths_list[0], bptt):
            running = sum(1 for n in lengths_list if n > start)
            keep_rows = lengths[:running] - max_len <= start
            if state is not None:
                state = tuple(tuple(s[:, :running].detach() for s in layer) for layer in state)
            with torch.set_grad_enabled(torch.is_grad_enabled() and bool(keep_rows.any())):
                outputs = self.awd_lstm.encode(tokens[:running, start : start + bptt], state, layer_weights=weights)
            state = outputs.state
            if not bool(keep_rows.any()):
                continue
            chunk = outputs.last_hidden_state
            steps = torch.arange(start, start + chunk.size(1), device=tokens.device)
            chunk_mask = keep_rows[:, None] & (steps[None, :] < lengths[:running, None])
            kept_outputs.append(F.pad(chunk, (0, 0, 0, 0, 0, batch_size - running)))
            kept_masks.append(F.pad(chunk_mask, (0, 0, 0, batch_size - running)))

        pooled = masked_concat_pool(torch.cat(kept_outputs, 1), torch.cat(kept_masks, 1))
        return pooled[torch.argsort(by_length)]

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> AwdLstmSequenceClassifierOutput:
        r"""
        labels (`(batch,)` class ids, `(batch, num_labels)` multi-hot floats, or `(batch,)` floats for regression):
            the loss follows `config.problem_type`, inferred from the labels as in every transformers classifier.
        """
        pooled = self.encode_documents(input_ids, attention_mask)
        # Pooled LSTM outputs are bf16 under autocast; BatchNorm runs in the head's own precision.
        logits = self.head(pooled.to(self.head.blocks[0].batch_norm.weight.dtype))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels, logits, self.config)
        return AwdLstmSequenceClassifierOutput(loss=loss, logits=logits, pooled_features=pooled)


__all__ = [
    "AwdLstmCache",
    "AwdLstmPreTrainedModel",
    "AwdLstmModel",
    "AwdLstmForCausalLM",
    "AwdLstmForSequenceClassification",
    "AwdLstmModelOutput",
    "AwdLstmCausalLMOutput",
    "AwdLstmSequenceClassifierOutput",
]
