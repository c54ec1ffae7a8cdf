"""The learning-rate range test (Smith 2015; fastai's `lr_find`): train briefly while the learning rate grows
exponentially, watch the loss, and pick a learning rate where it falls fastest."""

import copy
import itertools
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .layer_groups import set_trainable_groups
from .stage_plan import RunSteps, compile_stage_plan


@dataclass
class LrFinderResult:
    lrs: list[float]  # peak (top group) learning rate at each step
    losses: list[float]  # smoothed training loss at each step
    suggested_lr: float  # steepest descent of the smoothed loss
    plot_path: str | None


def lr_find(
    trainer,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    plot_path: str | None = "lr_find.png",
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
) -> LrFinderResult:
    """Run the range test on `trainer`'s model and training data, then put the model and optimizer back as they were.

    Every layer group keeps its discriminative share of the learning rate (the reported one is the top group's), and
    groups the trainer would freeze at its first step stay frozen. The test stops early once the smoothed loss is
    `stop_factor` times its minimum. One process only: it is a quick look before a run, not part of one.
    """
    if trainer.args.world_size > 1:
        raise ValueError("lr_find runs in a single process; launch it without torchrun/accelerate.")
    if not 0 < start_lr < end_lr:
        raise ValueError(f"Need 0 < start_lr < end_lr, got {start_lr} and {end_lr}.")
    model = trainer.model
    saved_weights = copy.deepcopy(model.state_dict())
    saved_trainable = [p.requires_grad for p in model.parameters()]
    had_optimizer = trainer.optimizer is not None
    optimizer = trainer.create_optimizer()
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    relative_lrs = [group["lr"] / max(trainer.group_learning_rates()) for group in optimizer.param_groups]

    groups = trainer.layer_groups
    loader = trainer.get_train_dataloader()
    # The groups the run's first stage trains: the learning rate is found for them.
    plan = compile_stage_plan(trainer.args, len(groups), RunSteps.planned(trainer.args, len(loader)))
    set_trainable_groups(groups, plan.trainable_groups(0))
    lrs, losses = [], []
    average, best = 0.0, float("inf")
    try:
        batches = itertools.cycle(loader)  # short tests may wrap around small data
        trainer.begin_epoch(0.0)  # the first epoch's order; a language model starts from zero state
        model.train()
        for step in range(num_steps):
            lr = start_lr * (end_lr / start_lr) ** (step / max(1, num_steps - 1))
            for group, relative in zip(optimizer.param_groups, relative_lrs):
                group["lr"] = lr * relative
            inputs = trainer._prepare_inputs(next(batches))
            with trainer.accelerator.autocast():
                loss = trainer.compute_loss(model, inputs)
            loss.backward()
            if trainer.args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.args.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            value = loss.item()
            average = smoothing * average + (1 - smoothing) * value
            smoothed = average / (1 - smoothing ** (step + 1))  # bias correction, as Adam's
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if not np.isfinite(value) or smoothed > stop_factor * best:
                break
    finally:
        model.load_state_dict(saved_weights)
        for parameter, trainable in zip(model.parameters(), saved_trainable):
            parameter.requires_grad_(trainable)
        optimizer.load_state_dict(saved_optimizer)
        if not had_optimizer:
            trainer.optimizer = None

    suggested = suggest_learning_rate(lrs, losses)
    if plot_path is not None:
        plot_lr_find(lrs, losses, suggested, plot_path)
    return LrFinderResult(lrs=lrs, losses=losses, suggested_lr=suggested, plot_path=plot_path)


def suggest_learning_rate(lrs: list[float], losses: list[float]) -> float:
    """The learning rate where the smoothed loss falls fastest against log(lr), before the loss reaches its minimum."""
    if len(lrs) < 3:
        raise ValueError(f"The range test stopped after {len(lrs)} steps; too few to suggest a learning rate.")
    losses_array = np.asarray(losses)
    end = int(np.nanargmin(losses_array)) + 1
    if end < 3:
        return float(lrs[0])
    slopes = np.gradient(losses_array[:end], np.log10(lrs[:end]))
    return float(lrs[int(np.nanargmin(slopes))])


def plot_lr_find(lrs: list[float], losses: list[float], suggested_lr: float, path: str) -> None:
    """Loss against learning rate (log scale), with the suggestion marked; written as PNG without touching pyplot."""
    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(lrs, losses)
    axes.axvline(suggested_lr, color="tab:red", linestyle="--", label=f"suggested {suggested_lr:.2e}")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (top layer group)")
    axes.set_ylabel("smoothed training loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
