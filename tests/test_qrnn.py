"""The QRNN cell of AWD-QRNN: the forget-mult scan against a plain loop over time, and the layer against fastai's QRNN
equations (`rnn_type="qrnn"` models run the AWD-LSTM model tests in test_modeling_awd_lstm.py)."""

import pytest
import torch

from hf_ulmfit.models.awd_lstm.qrnn import WeightDroppedQrnn, forget_mult


def reference_forget_mult(forget, candidate, initial):
    """The recurrence one step at a time, as it is defined."""
    state, states = initial, []
    for step in range(forget.size(1)):
        state = forget[:, step] * state + (1 - forget[:, step]) * candidate[:, step]
        states.append(state)
    return torch.stack(states, 1)


def extreme_forget_gates(batch, length, width, generator):
    """Forget gates spread from exactly 0 to exactly 1, most of them saturated near either end."""
    forget = torch.sigmoid(torch.randn(batch, length, width, generator=generator) * 12)
    forget[:, ::7, 0] = 0.0
    forget[:, ::5, 1] = 1.0
    forget[:, :, 2] = 1.0 - 1e-7  # a unit that almost never forgets, over the whole sequence
    return forget


@pytest.mark.parametrize("length", [1, 7, 16, 17, 72, 97, 2000])
def test_forget_mult_matches_the_loop_in_fp32_for_long_sequences_and_extreme_gates(length):
    generator = torch.Generator().manual_seed(length)
    forget = extreme_forget_gates(3, length, 6, generator)
    candidate = torch.randn(3, length, 6, generator=generator)
    initial = torch.randn(3, 6, generator=generator) * 3
    inputs = [t.clone().requires_grad_() for t in (forget, candidate, initial)]
    # The loop in float64 is the ground truth: in fp32 the loop itself drifts by ~1e-4 over 2,000 steps.
    exact_inputs = [t.double().requires_grad_() for t in (forget, candidate, initial)]
    output = forget_mult(*inputs)
    exact = reference_forget_mult(*exact_inputs)
    assert output.dtype == torch.float32
    torch.testing.assert_close(output, exact.float(), rtol=1e-5, atol=1e-5)
    loop_error = (reference_forget_mult(forget, candidate, initial).double() - exact).abs().max()
    assert (output.double() - exact).abs().max() <= max(loop_error, 1e-6), "no less accurate than the fp32 loop"
    # The unit that almost never forgets still holds its initial state at the end of 2,000 steps.
    torch.testing.assert_close(output[:, -1, 2], initial[:, 2], rtol=1e-3, atol=1e-3)

    grad = torch.randn(output.shape, generator=generator)
    (output * grad).sum().backward()
    (exact * grad.double()).sum().backward()
    for mine, theirs in zip(inputs, exact_inputs):
        torch.testing.assert_close(mine.grad, theirs.grad.float(), rtol=1e-4, atol=1e-4)


def test_forget_mult_gradient_is_exact_in_float64():
    generator = torch.Generator().manual_seed(3)
    inputs = (
        torch.rand(2, 19, 3, dtype=torch.float64, generator=generator).requires_grad_(),
        torch.randn(2, 19, 3, dtype=torch.float64, generator=generator).requires_grad_(),
        torch.randn(2, 3, dtype=torch.float64, generator=generator).requires_grad_(),
    )
    assert torch.autograd.gradcheck(forget_mult, inputs)


def test_forget_mult_runs_bf16_gates_in_fp32():
    generator = torch.Generator().manual_seed(4)
    forget = torch.rand(2, 300, 5, generator=generator)
    candidate = torch.randn(2, 300, 5, generator=generator)
    initial = torch.zeros(2, 5)
    output = forget_mult(forget.bfloat16(), candidate.bfloat16(), initial.bfloat16())
    assert output.dtype == torch.bfloat16
    expected = reference_forget_mult(forget.bfloat16().float(), candidate.bfloat16().float(), initial)
    torch.testing.assert_close(output.float(), expected, rtol=1e-2, atol=1e-2)


def fastai_qrnn_reference(layer, inputs, cell, previous_input):
    """fastai's QRNN layer equations, one step at a time: source [x_t, x_{t-1}], gates z, f, o from one linear map,
    c_t = f_t * z_t + (1 - f_t) * c_{t-1}, h_t = o_t * c_t."""
    outputs = []
    for step in range(inputs.size(1)):
        current = inputs[:, step]
        source = torch.cat([current, previous_input], 1) if layer.window == 2 else current
        z, f, o = torch.nn.functional.linear(source, layer.weight, layer.bias).chunk(3, dim=1)
        z, f, o = z.tanh(), f.sigmoid(), o.sigmoid()
        cell = f * z + (1 - f) * cell
        outputs.append(o * cell)
        previous_input = current
    return torch.stack(outputs, 1), cell, previous_input


@pytest.mark.parametrize("window", [1, 2])
def test_layer_follows_fastai_qrnn_equations_and_carries_its_state(window):
    layer = WeightDroppedQrnn(5, 4, weight_dropout=0.5, window=window).eval()
    for parameter in layer.parameters():
        torch.nn.init.uniform_(parameter, -0.8, 0.8)
    inputs, cell = torch.randn(2, 11, 5), torch.randn(2, 4)
    previous = torch.randn(2, 5)
    state = (cell[None], previous[None] if window == 2 else torch.zeros(1, 2, 0))
    output, (new_cell, new_previous) = layer(inputs, state)
    expected, expected_cell, expected_previous = fastai_qrnn_reference(layer, inputs, cell, previous)
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(new_cell[0], expected_cell, rtol=1e-5, atol=1e-5)
    if window == 2:
        torch.testing.assert_close(new_previous[0], expected_previous)
    else:
        assert new_previous.shape == (1, 2, 0)
    # Eval is deterministic; training drops weights afresh on every call and leaves the raw weight alone.
    raw = layer.weight.detach().clone()
    layer.train()
    assert not torch.allclose(layer(inputs, state)[0], layer(inputs, state)[0])
    assert torch.equal(layer.weight, raw)


def test_padded_rows_return_the_state_after_their_last_valid_step():
    layer = WeightDroppedQrnn(5, 4, weight_dropout=0.0, window=2).eval()
    for parameter in layer.parameters():
        torch.nn.init.uniform_(parameter, -0.5, 0.5)
    inputs = torch.randn(2, 9, 5)
    state = layer.initial_state(2, inputs)
    output, (cell, previous) = layer(inputs, state, lengths=torch.tensor([9, 4]))
    alone, (cell_alone, previous_alone) = layer(inputs[1:, :4], tuple(s[:, 1:] for s in state))
    torch.testing.assert_close(output[1, :4], alone[0])
    assert torch.equal(output[1, 4:], torch.zeros(5, 4))
    torch.testing.assert_close(cell[:, 1], cell_alone[:, 0])
    torch.testing.assert_close(previous[:, 1], inputs[1, 3][None])


def test_zoneout_keeps_state_units_in_training_only():
    layer = WeightDroppedQrnn(5, 64, weight_dropout=0.0, zoneout=0.5)
    for parameter in layer.parameters():
        torch.nn.init.uniform_(parameter, -0.5, 0.5)
    inputs = torch.randn(3, 1, 5)
    state = (torch.randn(1, 3, 64), torch.zeros(1, 3, 0))
    kept = layer.train()(inputs, state)[1][0] == state[0]
    assert 0.3 < kept.float().mean() < 0.7, "about half the units keep their state for the step"
    assert not (layer.eval()(inputs, state)[1][0] == state[0]).any()


def test_a_qrnn_state_survives_a_checkpoint_of_the_carried_state(tmp_path):
    """Truncated BPTT saves the carried state with each checkpoint: the QRNN's (c, previous_input) pairs, including
    the empty previous input of width-1 layers, come back as they were."""
    from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
    from hf_ulmfit.training.checkpoints import load_carried_state, save_carried_state

    config = AwdLstmConfig(vocab_size=50, embedding_size=8, hidden_size=12, num_layers=3, rnn_type="qrnn")
    state = AwdLstmForCausalLM(config).eval()(torch.randint(4, 50, (2, 5))).state
    save_carried_state(state, str(tmp_path), rank=0)
    restored = load_carried_state(str(tmp_path), rank=0, device="cpu")
    shapes = [[tuple(t.shape) for t in layer] for layer in restored]
    assert shapes == [[(1, 2, 12), (1, 2, 8)], [(1, 2, 12), (1, 2, 0)], [(1, 2, 8), (1, 2, 0)]]
    assert all(torch.equal(a, b) for layer, back in zip(state, restored) for a, b in zip(layer, back))
