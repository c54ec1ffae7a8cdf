"""AWD-LSTM's activation regularisation (Merity et al., 2017), added to the language-model loss in training only."""

import torch


def activation_regularization(dropped_hidden_state: torch.Tensor, alpha: float) -> torch.Tensor:
    """AR: ``alpha * mean(h^2)`` over the last layer's outputs after output dropout (keeps activations small)."""
    return alpha * dropped_hidden_state.float().pow(2).mean()


def temporal_activation_regularization(last_hidden_state: torch.Tensor, beta: float) -> torch.Tensor:
    """TAR: ``beta * mean((h_t+1 - h_t)^2)`` over the last layer's raw outputs (keeps them changing slowly)."""
    if last_hidden_state.size(1) < 2:
        return last_hidden_state.new_zeros((), dtype=torch.float32)
    hidden = last_hidden_state.float()
    return beta * (hidden[:, 1:] - hidden[:, :-1]).pow(2).mean()
