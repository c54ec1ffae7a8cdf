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


def test_a_per_stage_fit_takes_its_length_from_its_stages_from_flags_a_recipe_file_and_a_dict(tmp_path):
    """A stage's default epochs (train-classifier: 5; from scratch: 8) do not apply to a per-stage fit: its length is
    the sum of stage_epochs, from the CLI's flags, a recipe file and a dict alike; a different num_train_epochs given
    is refused, not overwritten."""
    import json

    import pytest

    from hf_ulmfit.recipes import train_classifier
    from hf_ulmfit.recipes.parsing import ArgumentsError, parse_arguments

    def epochs(args):
        parsed = parse_arguments(
            train_classifier.ARGUMENT_CLASSES,
            train_classifier.DEFAULTS,
            args,
            defaults_for=train_classifier.defaults_for,
        )
        return parsed[-1].num_train_epochs

    per_stage = {"output_dir": str(tmp_path), "fit_schedule": "per_stage", "stage_epochs": [1, 2]}
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(per_stage))
    flags = ["--output_dir", str(tmp_path), "--fit_schedule=per_stage", "--stage_epochs", "1", "2"]
    assert epochs(flags) == epochs([str(recipe)]) == epochs(per_stage) == 3
    assert epochs({**per_stage, "model_name_or_path": str(tmp_path)}) == 3
    assert epochs({**per_stage, "num_train_epochs": 3}) == 3
    with pytest.raises(ArgumentsError, match="num_train_epochs is 5: leave num_train_epochs unset or make it 3"):
        epochs({**per_stage, "num_train_epochs": 5})
    assert epochs({"output_dir": str(tmp_path)}) == 8  # the whole-run recipe keeps its default


def test_a_recipe_file_is_read_once(tmp_path, monkeypatch):
    """The fit-schedule peek and both parses (the from-scratch defaults parse twice) use one reading of the file."""
    from hf_ulmfit.recipes import parsing, train_classifier

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"output_dir: {tmp_path}\nfit_schedule: per_stage\nstage_epochs: [1, 2]\n")
    readings = []
    read = parsing.read_recipe_file
    monkeypatch.setattr(parsing, "read_recipe_file", lambda path, prog: readings.append(path) or read(path, prog))
    parsed = parsing.parse_arguments(
        train_classifier.ARGUMENT_CLASSES,
        train_classifier.DEFAULTS,
        [str(recipe)],
        defaults_for=train_classifier.defaults_for,
    )
    assert readings == [recipe]
    assert parsed[-1].num_train_epochs == 3
    assert parsed[2].tokenizer_kind == "word"  # the from-scratch defaults were applied by the second parse


def test_taking_the_hub_request_leaves_the_given_arguments_as_they_are(tmp_path):
    from hf_ulmfit.recipes.outputs import take_hub_request
    from hf_ulmfit.training import UlmfitTrainingArguments

    args = UlmfitTrainingArguments(output_dir=str(tmp_path / "trec-clf"), push_to_hub=True, report_to=[])
    request, for_trainer = take_hub_request(args)
    assert request == {"repo_id": "trec-clf", "token": None, "private": False}
    assert for_trainer.push_to_hub is False and args.push_to_hub is True
    assert take_hub_request(for_trainer) == (None, for_trainer)
