"""Arguments from flags, a JSON/YAML recipe file or a dict, with a stage's defaults, for the CLI and the stages'
Python entry points alike (`pretrain.main`, ...), so both resolve the same arguments.

Only the standard library at import time; the parser is transformers' `HfArgumentParser`, whose module needs neither
torch nor the rest of transformers, so `hf-ulmfit --help` stays light.
"""

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path


BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def strict_bool(value) -> bool:
    """A boolean flag's value: true/false, yes/no or 1/0 (any case), and nothing else (transformers' parser also
    takes t/f/y/n, which a recipe file's typo can hit)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in BOOLEAN_WORDS:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"expected true/false, yes/no or 1/0, got {value!r}")
    return BOOLEAN_WORDS[word]


strict_bool.__name__ = "boolean"  # argparse names the type in its message: "invalid boolean value: 'maybe'"


class ArgumentsError(ValueError):
    """A value or name that the arguments' source (flags, a recipe file or a dict) gets wrong; one line."""


def build_parser(argument_classes: tuple, defaults: dict, prog: str | None, description: str | None):
    from transformers import HfArgumentParser

    parser = HfArgumentParser(argument_classes, prog=prog, description=description)
    parser.set_defaults(**defaults)
    for action in parser._actions:
        if getattr(action.type, "__name__", "") == "string_to_bool":
            action.type = strict_bool
    return parser


def read_recipe_file(path: Path, prog: str | None) -> dict:
    """The mapping a JSON/YAML recipe file holds; a missing or unreadable file is one line naming it."""
    import yaml

    if not path.is_file():
        raise SystemExit(f"{prog}: recipe file {path} not found")
    try:
        recipe = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except json.JSONDecodeError as error:
        raise ArgumentsError(f"{path} is not valid JSON: {error}") from None
    except yaml.YAMLError as error:
        raise ArgumentsError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    except UnicodeDecodeError as error:
        raise ArgumentsError(f"{path} is not UTF-8 text: {error}") from None
    if not isinstance(recipe, dict):
        raise ArgumentsError(f"{path} must hold a mapping of argument names to values")
    return recipe


def recipe_as_flags(parser, recipe: dict, source: str) -> tuple[list[str], dict]:
    """The command-line flags that say what `recipe` says, so that its values are converted and checked exactly as
    flags are (a string "false" for a boolean is False, YAML's string "1e-3" a float, "ten" an error naming the
    key), plus the None/empty-list values, which have no flag form and are set as defaults."""
    options = parser._option_string_actions
    flags, unset = [], {}
    for key, value in recipe.items():
        action = options.get(f"--{key}") if isinstance(key, str) else None
        if action is None:
            raise ArgumentsError(f"{source}: unknown argument {key!r} (see --help for the argument names)")
        if value is None or value == []:
            unset[action.dest] = value
            continue
        if isinstance(value, list) and action.nargs not in ("+", "*"):
            raise ArgumentsError(f"{source}: {key} takes one value, got a list {value}")
        if isinstance(value, list):
            flags += [f"--{key}", *(_flag_text(item) for item in value)]
        else:  # "--name=value": a value starting with "-" ("-1e-3") is not read as a flag
            flags.append(f"--{key}={_flag_text(value)}")
    return flags, unset


def _flag_text(value) -> str:
    # str(True) is "True", which the boolean words match in any case; a dict is the JSON text a flag would give.
    return json.dumps(value) if isinstance(value, dict) else str(value)


def parse_arguments(
    argument_classes: tuple,
    defaults: dict,
    args: list[str] | dict | None = None,
    prog: str | None = None,
    description: str | None = None,
    defaults_for=None,
) -> tuple:
    """Fill `argument_classes` from `args` (command-line flags, a single JSON/YAML recipe file among them, or a
    dict of argument names to values; None reads ``sys.argv``), with `defaults` under all three.

    A recipe file's or dict's values are turned into the flags that say the same and parsed as flags are, so every
    source is converted and checked alike; a bad value is an `ArgumentsError` (a ValueError) naming the file (or
    dict) and the argument.

    `defaults_for(*parsed)`, when given, returns defaults that depend on what was parsed (train-classifier's
    from-scratch recipe when no model is given): the arguments are then parsed again with those defaults under the
    same `args`, so whatever `args` set keeps its value.

    A stage's default `num_train_epochs` does not apply to a per-stage fit, whose length is its `stage_epochs` (the
    training arguments refuse a different num_train_epochs given in `args`)."""
    source = ArgumentSource.read(args, prog)
    per_stage = source.fit_schedule() == "per_stage"
    defaults = without_run_length(defaults) if per_stage else defaults
    parsed = _parse_once(argument_classes, defaults, source, prog, description)
    more = defaults_for(*parsed) if defaults_for is not None else None
    more = without_run_length(more) if per_stage and more else more
    return _parse_once(argument_classes, {**defaults, **more}, source, prog, description) if more else parsed


def without_run_length(defaults: dict) -> dict:
    return {name: value for name, value in defaults.items() if name != "num_train_epochs"}


@dataclass(frozen=True)
class ArgumentSource:
    """Where the arguments come from, read once: command-line flags, or a mapping (a recipe file's or a dict) with
    the name that error messages give it."""

    flags: list[str] | None = None
    mapping: dict | None = None
    name: str | None = None

    @classmethod
    def read(cls, args: list[str] | dict | None, prog: str | None) -> "ArgumentSource":
        if isinstance(args, dict):
            return cls(mapping=args, name="the arguments dict")
        args = sys.argv[1:] if args is None else [str(arg) for arg in args]
        if len(args) == 1 and args[0].endswith((".json", ".yaml", ".yml")):
            return cls(mapping=read_recipe_file(Path(args[0]), prog), name=args[0])
        return cls(flags=args)

    def fit_schedule(self) -> str | None:
        """The --fit_schedule asked for, before parsing."""
        if self.mapping is not None:
            return self.mapping.get("fit_schedule")
        from argparse import ArgumentParser

        peek = ArgumentParser(add_help=False)
        peek.add_argument("--fit_schedule")
        return peek.parse_known_args(self.flags)[0].fit_schedule


def _parse_once(
    argument_classes: tuple, defaults: dict, source: ArgumentSource, prog: str | None, description: str | None
) -> tuple:
    parser = build_parser(argument_classes, defaults, prog, description)

    def error(message: str):  # argparse would print its whole usage before the one line that matters
        raise ArgumentsError(f"{source.name}: {message}" if source.name else message)

    parser.error = error
    if source.mapping is None:
        return parser.parse_args_into_dataclasses(source.flags)
    flags, unset = recipe_as_flags(parser, source.mapping, source.name)
    parser.set_defaults(**unset)
    try:
        return parser.parse_args_into_dataclasses(flags)
    except ArgumentsError:
        raise
    except (ValueError, TypeError) as problem:  # a dataclass's own check (__post_init__) of the values
        raise ArgumentsError(f"{source.name}: {problem}") from None


def stage_entry_point(module_name: str, prog: str):
    """A stage's `main`: the arguments its module's `ARGUMENT_CLASSES` and `DEFAULTS` resolve (as `hf-ulmfit STAGE`
    does), passed to its `run`. The module's names are looked up at each call, so the three stay the CLI's."""

    def main(args: list[str] | dict | str | None = None) -> dict:
        stage = importlib.import_module(module_name)
        arguments = [args] if isinstance(args, str) else args
        defaults_for = getattr(stage, "defaults_for", None)
        parsed = parse_arguments(
            stage.ARGUMENT_CLASSES, stage.DEFAULTS, arguments, prog=prog, defaults_for=defaults_for
        )
        return stage.run(*parsed)

    main.__doc__ = (
        f"`{prog}` in Python: this stage's defaults, overridden by `args` (flags, a JSON/YAML recipe file, or a "
        "dict of argument names to values), then `run`."
    )
    main.__module__ = module_name
    return main
