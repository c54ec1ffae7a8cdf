"""Arguments from flags, a JSON/YAML recipe file or a dict, with a stage's defaults, for the CLI and the stages'
Python entry points alike (`pretrain.main`, ...), so both resolve the same arguments.

Only the standard library and yaml at import time: `hf-ulmfit --help` must not pay for torch and transformers.
"""

import importlib.util
import json
import sys
from pathlib import Path


def argument_parser_class() -> type:
    """transformers' `HfArgumentParser`. Its module needs only the standard library and yaml, so while transformers
    is not imported yet it is loaded from its file alone: importing transformers costs seconds, a --help should not."""
    if "transformers" not in sys.modules:
        package = importlib.util.find_spec("transformers")
        if package is not None and package.origin:
            spec = importlib.util.spec_from_file_location(
                f"{__name__}._hf_argparser", Path(package.origin).with_name("hf_argparser.py")
            )
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
                return module.HfArgumentParser
            except (ImportError, OSError, AttributeError):  # a transformers release whose parser needs the package
                pass
    from transformers import HfArgumentParser

    return HfArgumentParser


def parse_arguments(
    argument_classes: tuple,
    defaults: dict,
    args: list[str] | dict | None = None,
    prog: str | None = None,
    description: str | None = None,
) -> tuple:
    """Fill `argument_classes` from `args` (command-line flags, a single JSON/YAML recipe file among them, or a
    dict of argument names to values; None reads ``sys.argv``), with `defaults` under all three."""
    import yaml

    parser = argument_parser_class()(argument_classes, prog=prog, description=description)
    parser.set_defaults(**defaults)
    if isinstance(args, dict):
        return parser.parse_dict({**defaults, **args})
    args = sys.argv[1:] if args is None else [str(arg) for arg in args]
    if len(args) == 1 and args[0].endswith((".json", ".yaml", ".yml")):
        path = Path(args[0])
        if not path.is_file():
            raise SystemExit(f"{prog}: recipe file {path} not found")
        recipe = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        if not isinstance(recipe, dict):
            raise SystemExit(f"{prog}: {path} must hold a mapping of argument names to values")
        return parser.parse_dict({**defaults, **recipe})
    return parser.parse_args_into_dataclasses(args)


def stage_entry_point(module_name: str, prog: str):
    """A stage's `main`: the arguments its module's `ARGUMENT_CLASSES` and `DEFAULTS` resolve (as `hf-ulmfit STAGE`
    does), passed to its `run`. The module's names are looked up at each call, so the three stay the CLI's."""

    def main(args: list[str] | dict | str | None = None) -> dict:
        stage = importlib.import_module(module_name)
        arguments = [args] if isinstance(args, str) else args
        return stage.run(*parse_arguments(stage.ARGUMENT_CLASSES, stage.DEFAULTS, arguments, prog=prog))

    main.__doc__ = (
        f"`{prog}` in Python: this stage's defaults, overridden by `args` (flags, a JSON/YAML recipe file, or a "
        "dict of argument names to values), then `run`."
    )
    main.__module__ = module_name
    return main
