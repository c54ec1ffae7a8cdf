"""The QRNN layer (Bradbury et al., 2017) of AWD-QRNN, as fastai's `AWD_QRNN` and MultiFiT (Eisenschlos et al., 2019)
use it: the AWD-LSTM family's second recurrent cell (`AwdLstmConfig.rnn_type = "qrnn"`).

A QRNN layer computes everything but one elementwise recurrence for all steps at once: a causal convolution of width
`window` (a linear map of the current input and the `window - 1` inputs before it) gives a candidate `z`, a forget
gate `f` and an output gate `o` per step; then `c_t = f_t * c_{t-1} + (1 - f_t) * z_t` ("forget-mult") and
`h_t = o_t * c_t`. The forget-mult runs as a chunked scan (`forget_mult`), never as a Python loop over time steps.

A layer's recurrent state is `(c, previous_input)`: `c` `(1, batch, hidden_size)`, the recurrence after the last step
read, and `previous_input` `(1, batch, (window - 1) * input_size)`, the last `window - 1` inputs, newest first, that
the convolution reads before the next call's first input (an empty width for `window = 1`). Two tensors per layer,
each `(1, batch, ...)`, as the LSTM's `(h, c)`, so code that carries, reorders or detaches a state handles both.

This file travels to the Hub as remote code with `modeling_awd_lstm.py`: it imports only torch.
"""

import torch
import torch.nn.functional as F
from torch import nn

# Steps each scan chunk runs one after the other (for all chunks at once); chunk ends then combine by doubling.
# Measured on CPU at batch 64 x 72 steps x 1152 units: 12-24 are alike, 8 is 30% slower.
SCAN_CHUNK = 16


def scan_chunk_length(length: int) -> int:
    """The divisor of `length` nearest `SCAN_CHUNK` (between half and twice it) when there is one, so the scan's
    working copies have the input's size: on CPU a buffer of a new size pays its page faults on every call (measured:
    11 ms to fill 24 MB, against 2.6 ms to copy into a reused 21 MB one). Otherwise `SCAN_CHUNK`, with padding."""
    if length <= SCAN_CHUNK:
        return length
    divisors = [size for size in range(SCAN_CHUNK // 2, 2 * SCAN_CHUNK + 1) if length % size == 0]
    return min(divisors, key=lambda size: abs(size - SCAN_CHUNK)) if divisors else SCAN_CHUNK


def linear_scan_(decay: torch.Tensor, update: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """`h_t = decay_t * h_{t-1} + update_t` along dim 1, from `h_{-1} = initial`; no autograd (see `forget_mult`).
    Works in `update`'s memory when it is contiguous and needs no padding: callers pass a tensor of their own.

    `decay`, `update`: `(batch, length, width)`; `initial`: `(batch, width)`; returns `h`, `(batch, length, width)`.
    The sequence is cut into chunks of about `SCAN_CHUNK` steps: step k of every chunk runs at once (a loop of at
    most `2 * SCAN_CHUNK` steps whatever the length), then the chunk ends combine by recursive doubling
    (log2(chunks) passes), then one pass adds each chunk's incoming state. Work stays linear in the length, and every
    operation is the sequential loop's own multiply-add regrouped, in linear space: with decays in [0, 1] nothing
    overflows, and decays at exactly 0 or 1 are exact, however long the sequence.
    """
    batch, length, width = update.shape
    chunk = scan_chunk_length(length)
    chunks = -(-length // chunk)
    # Viewed as (batch, chunks, chunk, width) and updated in place; padded steps carry the state unchanged.
    if chunks * chunk == length:
        decays, states = decay.clone(memory_format=torch.contiguous_format), update.contiguous()
    else:
        decays, states = decay.new_empty(batch, chunks * chunk, width), update.new_empty(batch, chunks * chunk, width)
        decays[:, :length], states[:, :length] = decay, update
        decays[:, length:], states[:, length:] = 1.0, 0.0
    decays, states = decays.view(batch, chunks, chunk, width), states.view(batch, chunks, chunk, width)
    for step in range(1, chunk):  # within each chunk, from a zero start: the state and the product of decays
        states[:, :, step].addcmul_(decays[:, :, step], states[:, :, step - 1])
        decays[:, :, step].mul_(decays[:, :, step - 1])

    # The same recurrence over the chunk ends, by doubling (Hillis & Steele): end_states[:, j] becomes the true
    # state after chunk j.
    end_decays, end_states = decays[:, :, -1].clone(), states[:, :, -1].clone()
    end_states[:, 0].addcmul_(end_decays[:, 0], initial)
    span = 1
    while span < chunks:
        end_states[:, span:] = torch.addcmul(end_states[:, span:], end_decays[:, span:], end_states[:, :-span])
        end_decays[:, span:] = end_decays[:, span:] * end_decays[:, :-span]
        span *= 2
    incoming = torch.cat([initial[:, None], end_states[:, :-1]], dim=1)  # (batch, chunks, width)
    states.addcmul_(decays, incoming[:, :, None])
    return states.view(batch, chunks * chunk, width)[:, :length]


class ForgetMult(torch.autograd.Function):
    """`c_t = f_t * c_{t-1} + (1 - f_t) * z_t` by `linear_scan_`, with its gradient, itself a scan run backwards in
    time: the inputs and the output are kept for back-propagation, not one graph node per step."""

    @staticmethod
    def forward(ctx, forget, candidate, initial):
        output = linear_scan_(forget, torch.addcmul(candidate, forget, candidate, value=-1.0), initial)
        ctx.save_for_backward(forget, candidate, output, initial)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        forget, candidate, output, initial = ctx.saved_tensors
        # dL/dc_t = grad_t + f_{t+1} * dL/dc_{t+1}: the same recurrence, from the last step back.
        next_forget = F.pad(forget[:, 1:], (0, 0, 0, 1)).flip(1)
        grad_state = linear_scan_(next_forget, grad_output.flip(1), torch.zeros_like(initial)).flip(1)
        previous = torch.cat([initial[:, None], output[:, :-1]], dim=1)
        grad_forget = grad_state * (previous - candidate)
        grad_candidate = grad_state - grad_state * forget
        return grad_forget, grad_candidate, forget[:, 0] * grad_state[:, 0]


def forget_mult(forget: torch.Tensor, candidate: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """QRNN's recurrence `c_t = forget_t * c_{t-1} + (1 - forget_t) * candidate_t`, from `c_{-1} = initial`.

    `forget`, `candidate`: `(batch, length, width)`; `initial`: `(batch, width)`. Runs in at least fp32 (products of
    bf16 gates would lose the state within a few dozen steps) and returns the candidate's dtype.
    """
    output_dtype = candidate.dtype
    dtype = torch.promote_types(output_dtype, torch.float32)
    forget, candidate, initial = forget.to(dtype), candidate.to(dtype), initial.to(dtype)
    return ForgetMult.apply(forget, candidate, initial).to(output_dtype)


class WeightDroppedQrnn(nn.Module):
    """One QRNN layer (fo-pooling) with DropConnect on its convolution weight, fastai's AWD_QRNN regularisation.

    `weight` `(3 * hidden_size, window * input_size)` maps `[x_t, x_{t-1}, ...]` to `[z, 1 - f, o]`: the middle third
    is the gate on the candidate (fastai's `f`), so fastai's QRNN weights load unchanged. `zoneout` keeps, in
    training, a random fraction of the state's units unchanged for a step (their forget gate set to 1; an unscaled
    mask as in Bradbury et al., where fastai's QRNN also divides the kept gates by `1 - zoneout`).
    """

    def __init__(
        self, input_size: int, hidden_size: int, weight_dropout: float, window: int = 1, zoneout: float = 0.0
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.weight_dropout = input_size, hidden_size, weight_dropout
        self.window, self.zoneout = window, zoneout
        self.weight = nn.Parameter(torch.empty(3 * hidden_size, window * input_size))
        self.bias = nn.Parameter(torch.empty(3 * hidden_size))

    def dropped_weights(self) -> list[torch.Tensor]:
        """The convolution's weights with a fresh DropConnect draw (none in eval mode)."""
        return [F.dropout(self.weight, self.weight_dropout, self.training), self.bias]

    def initial_state(self, batch_size: int, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero state: no recurrence yet, and zero inputs before the first one (the convolution's zero padding)."""
        return (
            reference.new_zeros(1, batch_size, self.hidden_size),
            reference.new_zeros(1, batch_size, (self.window - 1) * self.input_size),
        )

    def forward(
        self,
        hidden: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        lengths: torch.Tensor | None = None,
        weights: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """`hidden`: `(batch, length, input_size)`, valid steps first; with `lengths`, the returned state is the state
        after each row's last valid step and padded outputs are zero. `weights` (from `dropped_weights`) reuses one
        DropConnect draw across calls; by default each call draws anew."""
        weight, bias = weights if weights is not None else self.dropped_weights()
        cell, previous_input = state
        length = hidden.size(1)
        # Each step's window, newest first: [x_t, x_{t-1}, ..., x_{t-window+1}], earlier steps from the state.
        history, window_inputs = hidden, hidden
        if self.window > 1:
            earlier = previous_input[0].view(hidden.size(0), self.window - 1, self.input_size).flip(1)
            history = torch.cat([earlier.to(hidden.dtype), hidden], dim=1)
            starts = [self.window - 1 - back for back in range(self.window)]
            window_inputs = torch.cat([history[:, start : start + length] for start in starts], dim=2)
        candidate, gate, output_gate = F.linear(window_inputs, weight, bias).chunk(3, dim=2)
        gate = torch.sigmoid(gate)
        if self.training and self.zoneout > 0.0:
            gate = gate * gate.new_empty(gate.shape).bernoulli_(1.0 - self.zoneout)
        cells = forget_mult(1.0 - gate, torch.tanh(candidate), cell[0])
        output = torch.sigmoid(output_gate) * cells

        if lengths is None:
            last_step = torch.full((hidden.size(0),), length - 1, device=hidden.device)
        else:
            last_step = lengths.to(hidden.device) - 1
            valid = torch.arange(length, device=hidden.device) < lengths.to(hidden.device)[:, None]
            output = output * valid[..., None].to(output.dtype)
        rows = torch.arange(hidden.size(0), device=hidden.device)
        new_cell = cells[rows, last_step][None]
        # The last window - 1 inputs up to each row's last valid step, newest first, for the next call.
        recent = [history[rows, last_step + self.window - 1 - back] for back in range(self.window - 1)]
        new_previous_input = torch.cat(recent, dim=1)[None] if recent else previous_input
        return output, (new_cell, new_previous_input)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, window={self.window}, weight_dropout={self.weight_dropout}, "
            f"zoneout={self.zoneout}"
        )
