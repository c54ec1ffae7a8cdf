"""training/run_length.py: a run too short to train is stretched, every epoch setting of its recipe kept in place."""


def test_stretching_keeps_every_epoch_setting_of_the_recipe_in_place():
    from transformers.trainer_utils import IntervalStrategy

    from hf_ulmfit.training import UlmfitTrainingArguments
    from hf_ulmfit.training.run_length import stretch_short_run

    def stretched(steps_per_epoch, **settings):
        args = UlmfitTrainingArguments(output_dir="unused", eval_strategy="epoch", save_strategy="epoch", **settings)
        return stretch_short_run(args, steps_per_epoch), args

    factor, args = stretched(2, num_train_epochs=5, min_train_steps=200, gradual_unfreezing=True)
    assert factor == 20 and args.num_train_epochs == 100 and args.unfreeze_every_epochs == 20
    assert args.eval_strategy == args.save_strategy == IntervalStrategy.STEPS and args.eval_steps == 40
    factor, args = stretched(3, num_train_epochs=2, min_train_steps=100, freeze_all_but_top_epochs=1.0)
    assert factor == 17 and args.num_train_epochs == 34 and args.freeze_all_but_top_epochs == 17
    factor, args = stretched(1, fit_schedule="per_stage", stage_epochs=[1, 2], min_train_steps=9)
    assert factor == 3 and args.stage_epochs == [3, 6] and args.num_train_epochs == 9
    # Long enough, ended by max_steps, or switched off: left as it is.
    for steps_per_epoch, settings in ((40, {}), (2, {"max_steps": 10}), (2, {"min_train_steps": 0})):
        factor, args = stretched(steps_per_epoch, **{"num_train_epochs": 5, "min_train_steps": 200, **settings})
        assert factor == 1 and args.num_train_epochs == 5 and args.eval_strategy == IntervalStrategy.EPOCH
