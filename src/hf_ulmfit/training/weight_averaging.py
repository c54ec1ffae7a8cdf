"""Tail weight averaging: a run ends with the mean of its weights over its last steps, not the last step's weights.

The AWD-LSTM was trained with averaged SGD (NT-ASGD, Merity et al. 2017); the same idea with AdamW and ULMFiT's
schedules is Polyak / stochastic weight averaging over the tail of the run. ``average_weights_fraction`` sets the
tail: the weights after each of the last ``ceil(fraction x max_steps)`` optimizer steps enter a running mean
(`torch.optim.swa_utils.AveragedModel`), which replaces the model's weights when training ends, so the model evaluated
and saved is the average. Evaluations during the run see the live weights.

A checkpoint holds the mean so far (`AVERAGED_WEIGHTS_FILE`), so a resumed run goes on averaging where it stopped.
"""

import math
import os

import torch
from safetensors.torch import load_file, save_file
from torch.optim.swa_utils import AveragedModel
from transformers import TrainerCallback


AVERAGED_WEIGHTS_FILE = "averaged_weights.safetensors"
COUNT = "__steps_averaged__"


class TailWeightAverage(TrainerCallback):
    """The running mean of `model`'s weights over the last `fraction` of the run's optimizer steps."""

    def __init__(self, model: torch.nn.Module, fraction: float):
        if not 0 < fraction <= 1:
            raise ValueError(f"average_weights_fraction must be in (0, 1], got {fraction}.")
        self.model = model
        self.fraction = fraction
        self.average: AveragedModel | None = None

    def first_step(self, max_steps: int) -> int:
        """The first optimizer step (1-based) whose weights enter the mean."""
        return max_steps - math.ceil(self.fraction * max_steps) + 1

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step < self.first_step(state.max_steps):
            return
        if self.average is None:
            self.average = AveragedModel(self.model)
        self.average.update_parameters(self.model)

    def on_train_end(self, args, state, control, **kwargs):
        """The model takes the mean's weights (a run stopped before the tail began keeps its own)."""
        if self.average is None:
            return
        with torch.no_grad():
            for averaged, weight in zip(self.average.module.parameters(), self.model.parameters(), strict=True):
                weight.copy_(averaged)

    @property
    def steps_averaged(self) -> int:
        return 0 if self.average is None else int(self.average.n_averaged.item())

    def save(self, checkpoint: str) -> None:
        """Write the mean so far into `checkpoint` (a count of 0 before the tail begins)."""
        os.makedirs(checkpoint, exist_ok=True)
        tensors = {COUNT: torch.tensor(self.steps_averaged)}
        if self.average is not None:
            tensors.update(
                {name: weight.detach().contiguous().cpu() for name, weight in self.average.module.named_parameters()}
            )
        save_file(tensors, os.path.join(checkpoint, AVERAGED_WEIGHTS_FILE))

    def load(self, checkpoint: str) -> None:
        """Take up the mean `save` wrote into `checkpoint`."""
        tensors = load_file(os.path.join(checkpoint, AVERAGED_WEIGHTS_FILE))
        count = int(tensors.pop(COUNT).item())
        if count == 0:
            self.average = None
            return
        self.average = AveragedModel(self.model)
        names = dict(self.average.module.named_parameters())
        if set(names) != set(tensors):
            raise ValueError(
                f"{os.path.join(checkpoint, AVERAGED_WEIGHTS_FILE)} does not hold this model's weights (missing: "
                f"{sorted(set(names) - set(tensors))[:3]}, unexpected: {sorted(set(tensors) - set(names))[:3]})."
            )
        with torch.no_grad():
            for name, weight in names.items():
                weight.copy_(tensors[name])
        self.average.n_averaged.fill_(count)
