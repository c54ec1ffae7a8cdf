"""Flag fuzzing: every numeric and boolean flag of every subcommand, fed values a user might type by mistake, must be
refused while the arguments are parsed (no traceback, nothing run), with a message that names the flag.

The values go through the CLI's own parser and checks in-process (`hf_ulmfit.cli.main.parse`), so the table of a few
hundred cases stays fast; `main` turns the same refusals into one line and exit status 2.
"""

import dataclasses

import pytest

from hf_ulmfit.argument_limits import LIMITS, RULES, numeric_fields
from hf_ulmfit.cli.main import COMMANDS, main, parse


# What each subcommand needs to parse at all; the fuzzed flag comes on top.
REQUIRED = {
    "tokenizer": ["--output_dir", "out"],
    "pretrain": ["--output_dir", "out"],
    "finetune-lm": ["--output_dir", "out", "--model_name_or_path", "lm"],
    "train-classifier": ["--output_dir", "out"],
    "evaluate": ["--model_name_or_path", "clas"],
    "predict": ["--model_name_or_path", "clas"],
    "generate": ["--model_name_or_path", "lm"],
    "export": ["--model_name_or_path", "clas", "--output_dir", "out"],
    "push": ["--folder", "clas", "--repo_id", "me/clas"],
    "convert-fastai": ["--checkpoint", "a.pth", "--vocab", "itos.pkl", "--output_dir", "out"],
    "quickstart": [],
}
# The training arguments (transformers' TrainingArguments and ours) are one class shared by the three stages: their
# inherited flags are fuzzed once, through train-classifier; each stage's own flags are fuzzed in every stage.
TRAINING_CLASS_FUZZED_IN = "train-classifier"


def argument_classes(command: str) -> list:
    return list(COMMANDS[command].resolved_argument_classes())


def is_training_class(argument_class) -> bool:
    return any(base.__name__ == "TrainingArguments" for base in argument_class.__mro__)


def fuzzed_fields(command: str) -> list[tuple[type, dataclasses.Field]]:
    fields = []
    for argument_class in argument_classes(command):
        if is_training_class(argument_class) and command != TRAINING_CLASS_FUZZED_IN:
            continue
        fields += [(argument_class, spec) for spec in dataclasses.fields(argument_class) if spec.init]
    return fields


def number_type(spec) -> type | None:
    from hf_ulmfit.argument_limits import _number_type

    return _number_type(spec.type)


def is_bool(spec) -> bool:
    text = str(spec.type)
    return "bool" in text and "dict" not in text and "str" not in text


def is_list(spec) -> bool:
    return str(spec.type).startswith("list")


def out_of_range(rule: str, kind: type) -> list[str]:
    """Values the rule refuses (some of them), as a user would type them."""
    examples = {
        "at_least_1": ["0", "-1"],
        "positive": ["0", "-1"],
        "non_negative": ["-1"],
        "fraction": ["1", "-0.5"] if kind is float else ["1", "-1"],
        "open_fraction": ["0", "1", "1.5"],
        "at_least_1_or_unset": ["0", "-2"],
        "ratio_or_steps": ["0", "-1", "2.5"],
        "any": [],
    }
    return examples[rule]


def bad_values(spec) -> list[str]:
    if is_bool(spec):
        return ["maybe", "2", ""]
    kind = number_type(spec)
    if kind is None:
        return []
    values = ["ten", ""] + (["1.5"] if kind is int else ["nan", "inf", "-inf"])
    return values + out_of_range(LIMITS.get(spec.name, "any"), kind)


CASES = [
    pytest.param(command, spec.name, value, id=f"{command}-{spec.name}={value!r}")
    for command in COMMANDS
    for _, spec in fuzzed_fields(command)
    for value in bad_values(spec)
]


def declared_by_hf_ulmfit(argument_class, spec) -> bool:
    """A field of an hf-ulmfit dataclass, not one inherited from transformers' `TrainingArguments` (whose numeric
    flags change between releases: those are checked finite, and ranged where `LIMITS` names them)."""
    return not is_training_class(argument_class) or spec.name in argument_class.__annotations__


def test_every_numeric_flag_has_a_range():
    """A numeric flag added without a range in `argument_limits.LIMITS` would escape the fuzzing: refuse that."""
    missing = sorted(
        {
            f"{command}: --{spec.name}"
            for command in COMMANDS
            for argument_class in argument_classes(command)
            for spec in numeric_fields(argument_class)
            if spec.init and spec.name not in LIMITS and declared_by_hf_ulmfit(argument_class, spec)
        }
    )
    assert missing == []
    assert set(LIMITS.values()) <= set(RULES)
    assert len(CASES) > 400  # the table is what it claims to be


@pytest.mark.parametrize(("command", "name", "value"), CASES)
def test_a_bad_flag_value_is_refused_while_parsing(command, name, value, capsys):
    spec = next(spec for _, spec in fuzzed_fields(command) if spec.name == name)
    # "--name=value", as argparse would otherwise read "-inf" as a flag; a list flag gets a good value first
    given = [f"--{name}={value}"] if not is_list(spec) else [f"--{name}", "1", value]
    with pytest.raises((SystemExit, ValueError)) as refusal:
        parse(command, REQUIRED[command] + given)
    if refusal.type is SystemExit:  # argparse: the usage, then one line naming the flag and the value
        assert refusal.value.code == 2
        message = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"--{name}" in message and "error" in message, message
    else:  # the dataclass's own check: one line naming the flag (or a list's value argparse could not place)
        message = str(refusal.value)
        assert "\n" not in message and (name in message or repr(value) in message), message


@pytest.mark.parametrize(
    ("command", "argv", "flag"),
    [
        ("predict", ["--batch_size", "0"], "--batch_size"),
        ("train-classifier", ["--per_device_train_batch_size", "0"], "--per_device_train_batch_size"),
        ("generate", ["--temperature", "nan"], "--temperature"),
        ("pretrain", ["--stlr_cut_frac", "2"], "--stlr_cut_frac"),
    ],
)
def test_the_command_line_prints_one_line_and_exits_2(command, argv, flag, capsys):
    assert main([command, *REQUIRED[command], *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and flag in err


# --- Recipe files: JSON and YAML value types for the boolean and numeric flags --------------------------------------

# A file may hold what no flag can (a number where a word is meant, a list, a mapping, a YAML 1.1 string such as
# 1e-3): each must give the value the same text gives as a flag, or be refused in one line.
RECIPE_VALUES = {
    "bool": ["no", "maybe", 2, [True]],
    "int": ["ten", 1.5, True, [1]],
    "float": ["1e-3", "nan", True, {"a": 1}],
}
# train-classifier's own arguments, and the training arguments every recipe sets.
RECIPE_TRAINING_FIELDS = {"learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "use_cpu"}


def recipe_cases() -> list:
    cases = []
    for argument_class, spec in fuzzed_fields("train-classifier"):
        own = spec.name in getattr(argument_class, "__annotations__", {})  # declared by hf-ulmfit's class itself
        if is_training_class(argument_class) and not own and spec.name not in RECIPE_TRAINING_FIELDS:
            continue
        kind = "bool" if is_bool(spec) else {int: "int", float: "float"}.get(number_type(spec))
        if kind is None or is_list(spec):
            continue
        values = RECIPE_VALUES[kind]
        cases += [pytest.param(spec.name, value, ".json", id=f"{spec.name}={value!r}.json") for value in values]
        cases.append(pytest.param(spec.name, values[0], ".yaml", id=f"{spec.name}={values[0]!r}.yaml"))
    return cases


def outcome(command: str, argv: list[str]) -> tuple:
    """("refused", message) or ("parsed", the parsed values)."""
    try:
        parsed = parse(command, argv)
    except SystemExit as error:
        return ("refused", str(error.code))
    except ValueError as error:
        assert "\n" not in str(error), str(error)
        return ("refused", str(error))
    return (
        "parsed",
        [group.to_dict() if hasattr(group, "to_dict") else dataclasses.asdict(group) for group in parsed],
    )


@pytest.mark.parametrize(("name", "value", "suffix"), recipe_cases())
def test_a_recipe_file_value_is_read_as_the_flag_would_be_or_refused(name, value, suffix, tmp_path, capsys):
    import json

    import yaml

    recipe = {"output_dir": "out", name: value}
    path = tmp_path / f"recipe{suffix}"
    path.write_text(json.dumps(recipe) if suffix == ".json" else yaml.safe_dump(recipe))
    from_file = outcome("train-classifier", [str(path)])
    if isinstance(value, (list, dict)):  # a list or a mapping for a one-value flag
        assert from_file[0] == "refused", from_file
        return
    flag_text = str(value).lower() if isinstance(value, bool) else str(value)
    from_flags = outcome("train-classifier", ["--output_dir", "out", f"--{name}={flag_text}"])
    assert from_file[0] == from_flags[0], (from_file, from_flags)
    if from_file[0] == "parsed":
        assert from_file[1] == from_flags[1]  # the value the flag gives, not the file's raw text
    assert "Traceback" not in capsys.readouterr().err
