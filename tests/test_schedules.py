"""Learning-rate schedules, layer groups and discriminative learning rates, as ULMFiT and fastai define them."""

import math

import pytest
import torch
from tiny_models import tiny_config

from hf_ulmfit import AwdLstmForCausalLM, AwdLstmForSequenceClassification
from hf_ulmfit.training import (
    UlmfitTrainingArguments,
    discriminative_learning_rates,
    layer_groups,
    one_cycle_momentum,
    one_cycle_schedule,
    slanted_triangular_schedule,
)
from hf_ulmfit.training.stage_plan import RunSteps, compile_stage_plan


def trainable_groups_at(args, num_groups: int, steps: list[int], run: RunSteps) -> list[int]:
    plan = compile_stage_plan(args, num_groups, run)
    return [plan.trainable_groups(step) for step in steps]


def paper_stlr(t, T, cut_frac=0.1, ratio=32, lr_max=1.0):
    """Howard & Ruder (2018), eq. 3, written out independently."""
    cut = math.floor(T * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return lr_max * (1 + p * (ratio - 1)) / ratio


def optimizer_with_groups(peaks):
    return torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in peaks])


def lrs_over(scheduler, optimizer, steps):
    """Learning rate of every group at each optimizer step, stepped as the Trainer does (optimizer, then scheduler)."""
    history = []
    for _ in range(steps):
        history.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return history


def test_slanted_triangular_matches_the_paper_formula_in_every_group():
    peaks = discriminative_learning_rates(0.01, 4)
    optimizer = optimizer_with_groups(peaks)
    total = 200
    history = lrs_over(slanted_triangular_schedule(optimizer, total), optimizer, total)
    for t in (0, 1, 10, 19, 20, 21, 100, 150, 199):
        for group_lr, peak in zip(history[t], peaks):
            assert group_lr == pytest.approx(paper_stlr(t, total, lr_max=peak), rel=1e-12)
    # Shape: rises for the first 10% (cut = 20 steps), peaks there at the full rate, decays to 1/32 of it.
    top = [row[-1] for row in history]
    assert top[0] == pytest.approx(0.01 / 32)
    assert max(top) == top[20] == pytest.approx(0.01)
    assert all(a < b for a, b in zip(top[:20], top[1:21])) and all(a > b for a, b in zip(top[20:-1], top[21:]))


def test_discriminative_learning_rates_divide_by_2_6_per_group_down():
    assert discriminative_learning_rates(1e-2, 5) == pytest.approx(
        [1e-2 / 2.6**4, 1e-2 / 2.6**3, 1e-2 / 2.6**2, 1e-2 / 2.6, 1e-2]
    )
    assert discriminative_learning_rates(1e-3, 3, factor=1.0) == [1e-3] * 3


def test_one_cycle_follows_fastai_lr_and_momentum():
    optimizer = optimizer_with_groups([1e-3, 1e-2])
    total = 100
    scheduler = one_cycle_schedule(
        optimizer, total, pct_start=0.25, div_factor=25.0, final_div_factor=1e5, momentums=(0.8, 0.7, 0.8)
    )
    history, momentums = [], []
    for _ in range(total):
        history.append([group["lr"] for group in optimizer.param_groups])
        momentums.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        scheduler.step()
    top = [row[1] for row in history]
    assert top[0] == pytest.approx(1e-2 / 25)
    assert top[25] == pytest.approx(1e-2)  # peak at pct_start
    assert top[12] == pytest.approx(1e-2 / 25 + (1e-2 - 1e-2 / 25) * (1 - math.cos(math.pi * 12 / 25)) / 2)
    assert top[-1] == pytest.approx(1e-2 / 1e5 + (1e-2 - 1e-7) * (1 + math.cos(math.pi * 74 / 75)) / 2)
    assert all(row[0] / row[1] == pytest.approx(0.1) for row in history)  # groups keep their ratio
    # Adam's beta1 moves against the learning rate: 0.8 -> 0.7 at the peak -> back towards 0.8.
    assert momentums[0] == pytest.approx(0.8, abs=1e-12) and momentums[25] == pytest.approx(0.7)
    assert momentums[-1] == pytest.approx(one_cycle_momentum(99, total)) and momentums[-1] > 0.799


def test_one_cycle_scheduler_state_loads_with_weights_only(tmp_path):
    optimizer = optimizer_with_groups([1e-2])
    scheduler = one_cycle_schedule(optimizer, 10)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    torch.save(scheduler.state_dict(), tmp_path / "scheduler.pt")
    restored = one_cycle_schedule(optimizer_with_groups([1e-2]), 10)
    restored.load_state_dict(torch.load(tmp_path / "scheduler.pt", weights_only=True))
    assert restored.last_epoch == 3 and restored.get_last_lr() == scheduler.get_last_lr()


def test_layer_groups_split_as_fastai():
    lm_groups = layer_groups(AwdLstmForCausalLM(tiny_config()))
    assert [sorted(group) for group in lm_groups] == [
        [f"awd_lstm.layers.{i}.{name}" for name in ("bias_hh", "bias_ih", "weight_hh", "weight_ih")] for i in range(3)
    ] + [["awd_lstm.embeddings.weight", "decoder.bias"]]  # the tied decoder weight is the embedding

    classifier = AwdLstmForSequenceClassification(tiny_config())
    groups = layer_groups(classifier)
    assert len(groups) == 5
    assert list(groups[0]) == ["awd_lstm.embeddings.weight"]
    assert all(name.startswith("head.") for name in groups[4])
    assert sum(len(group) for group in groups) == len(list(classifier.parameters()))


def test_qrnn_layer_groups_split_as_fastai_and_freeze_bottom_up():
    from hf_ulmfit.training import set_trainable_groups

    lm_groups = layer_groups(AwdLstmForCausalLM(tiny_config(rnn_type="qrnn", num_layers=4)))
    assert [sorted(group) for group in lm_groups] == [
        [f"awd_lstm.layers.{i}.bias", f"awd_lstm.layers.{i}.weight"] for i in range(4)
    ] + [["awd_lstm.embeddings.weight", "decoder.bias"]]

    classifier = AwdLstmForSequenceClassification(tiny_config(rnn_type="qrnn", num_layers=4, num_labels=3))
    groups = layer_groups(classifier)
    assert len(groups) == 6
    assert sum(len(group) for group in groups) == len(list(classifier.parameters()))
    set_trainable_groups(groups, 2)  # the head and the top QRNN layer
    trainable = {name for name, parameter in classifier.named_parameters() if parameter.requires_grad}
    assert trainable == set(groups[4]) | set(groups[5])
    ids = torch.randint(4, 50, (2, 9))
    classifier.train()(ids, labels=torch.tensor([0, 2])).loss.backward()
    assert classifier.awd_lstm.layers[3].weight.grad is not None and classifier.awd_lstm.layers[2].weight.grad is None


def test_gradual_unfreezing_stages():
    by_epoch = UlmfitTrainingArguments(output_dir="unused", gradual_unfreezing=True, num_train_epochs=7, report_to=[])
    # 100 steps an epoch: epochs 0, 0.5, 1, 2.99, 3 and 7 are these steps.
    epochs = RunSteps(max_steps=700, batches_per_epoch=100)
    assert trainable_groups_at(by_epoch, 5, [0, 50, 100, 299, 300, 700], epochs) == [1, 1, 2, 3, 4, 5]
    assert by_epoch.ddp_find_unused_parameters is True  # frozen groups have no gradient under DDP
    by_step = UlmfitTrainingArguments(
        output_dir="unused", gradual_unfreezing=True, unfreeze_at_steps=[10, 20], report_to=[]
    )
    run = RunSteps(max_steps=100, batches_per_epoch=10)
    assert trainable_groups_at(by_step, 4, [0, 9, 10, 19, 20, 100], run) == [1, 1, 2, 2, 3, 3]
    recipe = UlmfitTrainingArguments(output_dir="unused", freeze_all_but_top_epochs=1, report_to=[])
    assert trainable_groups_at(recipe, 4, [0, 9, 10], run) == [1, 1, 4]  # epochs 0, 0.9, 1
    everything = UlmfitTrainingArguments(output_dir="unused", report_to=[])
    assert trainable_groups_at(everything, 4, [0], run) == [4]


def test_stages_begin_where_the_trainers_epoch_reaches_them():
    # 10 batches an epoch, 3 per optimizer step: steps end after 3, 6, 9 and 10 batches (4 steps an epoch), so the
    # Trainer's epoch after step 2 is 0.6, after step 4 is 1.0.
    run = RunSteps(max_steps=40, batches_per_epoch=10, accumulation=3)
    assert [run.first_step_at_epoch(epoch) for epoch in (0, 0.3, 0.5, 0.6, 1.0, 1.5, 2.0)] == [0, 1, 2, 2, 4, 6, 8]
    assert run.first_step_at_epoch(0.1 + 0.2) == 1  # a float a hair off still lands on its step
    args = UlmfitTrainingArguments(output_dir="unused", freeze_all_but_top_epochs=0.5, report_to=[])
    assert trainable_groups_at(args, 4, [0, 1, 2, 40], run) == [1, 1, 4, 4]


def test_short_runs_spread_the_unfreezing_so_every_group_trains(caplog):
    from hf_ulmfit.training.stage_plan import spread_unfreezing_steps

    assert spread_unfreezing_steps(5, 100) == [20, 40, 60, 80]  # all 5 groups train for the last fifth
    assert spread_unfreezing_steps(5, 2) == [0, 0, 1, 1]  # shorter than the group count: still all by the last step

    def unfreezing_steps(epochs, **flags):
        args = UlmfitTrainingArguments(
            output_dir="unused", gradual_unfreezing=True, num_train_epochs=epochs, report_to=[], **flags
        )
        plan = compile_stage_plan(args, 5, RunSteps(max_steps=10 * epochs, batches_per_epoch=10))
        assert [stage.trainable_groups for stage in plan.stages] == [1, 2, 3, 4, 5]
        return list(plan.start_steps[1:])

    assert unfreezing_steps(2, unfreeze_all_by_end=True) == [4, 8, 12, 16]
    assert unfreezing_steps(5, unfreeze_all_by_end=True) == [10, 20, 30, 40]  # one group per epoch reaches all five
    with caplog.at_level("WARNING"):
        assert unfreezing_steps(2) == [10, 20, 30, 40]  # the paper's epoch schedule, as asked, but not silently
    assert "the bottom 3 of 5 groups never train" in caplog.text


def test_arguments_reject_bad_values():
    with pytest.raises(ValueError, match="lr_schedule"):
        UlmfitTrainingArguments(output_dir="unused", lr_schedule="cosine", report_to=[])
    with pytest.raises(ValueError, match="one_cycle_momentums"):
        UlmfitTrainingArguments(output_dir="unused", one_cycle_momentums=[0.9, 0.8], report_to=[])


def test_per_stage_slanted_triangular_restarts_at_each_stage_at_its_share_of_the_peak():
    from hf_ulmfit.training import stage_start_steps

    assert stage_start_steps([1, 1, 1, 2], 50) == [0, 10, 20, 30]
    assert stage_start_steps([0.5, 1.5], 7) == [0, 2]  # rounded to whole steps
    optimizer = optimizer_with_groups([1e-2])
    scheduler = slanted_triangular_schedule(optimizer, 30, stage_starts=(0, 10), stage_scales=(1.0, 0.1))
    top = [row[0] for row in lrs_over(scheduler, optimizer, 30)]
    assert top[:10] == pytest.approx([paper_stlr(t, 10, lr_max=1e-2) for t in range(10)])
    assert top[10:] == pytest.approx([paper_stlr(t, 20, lr_max=1e-3) for t in range(20)])


def test_per_stage_groups_default_to_one_more_each_stage_and_all_in_the_last():
    from hf_ulmfit.training.stage_plan import stage_trainable_groups

    args = UlmfitTrainingArguments(
        output_dir="unused", fit_schedule="per_stage", stage_epochs=[1, 1, 1, 2], report_to=[]
    )
    assert args.num_train_epochs == 5
    assert stage_trainable_groups(args, 5) == [1, 2, 3, 5]
    plan = compile_stage_plan(args, 5, RunSteps(max_steps=50, batches_per_epoch=10))
    assert plan.restarts_schedule and plan.start_steps == (0, 10, 20, 30) and plan.lr_scales == (1.0,) * 4
    assert trainable_groups_at(args, 5, [0, 9, 10, 20, 29, 30], RunSteps(50, 10)) == [1, 1, 2, 3, 3, 5]
    explicit = UlmfitTrainingArguments(
        output_dir="unused", fit_schedule="per_stage", stage_epochs=[1, 1], stage_trainable_groups=[1, 1], report_to=[]
    )  # the ladder's "Last" row
    assert stage_trainable_groups(explicit, 5) == [1, 1]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(), "needs positive stage_epochs"),
        (dict(stage_epochs=[1, 0]), "needs positive stage_epochs"),
        (dict(stage_epochs=[1, 1], stage_learning_rates=[1e-2]), "stage_learning_rates has 1 values for 2"),
        (dict(stage_epochs=[1, 1], gradual_unfreezing=True), "drop gradual_unfreezing"),
        (
            dict(stage_epochs=[1, 1], num_train_epochs=5),
            "num_train_epochs is 5: leave num_train_epochs unset or make it 2",
        ),
        (dict(fit_schedule="cyclic"), "fit_schedule must be one of"),
    ],
)
def test_per_stage_arguments_reject_inconsistent_stages(settings, message):
    settings = {"fit_schedule": "per_stage", **settings}
    with pytest.raises(ValueError, match=message):
        UlmfitTrainingArguments(output_dir="unused", report_to=[], **settings)
