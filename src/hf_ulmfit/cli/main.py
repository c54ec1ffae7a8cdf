"""`hf-ulmfit SUBCOMMAND [--flags | recipe.json | recipe.yaml]`.

Every subcommand's arguments are dataclasses parsed by transformers' `HfArgumentParser`, as in transformers'
`run_*.py` examples: pass flags, or a single JSON/YAML file whose keys are the flag names.
"""

import importlib
import logging
import sys
from dataclasses import dataclass, field

from ..argument_limits import check_limits
from ..recipes.parsing import parse_arguments
from .errors import user_error_message


# Only the standard library at import time: `hf-ulmfit --help` must not pay for torch and transformers. The table
# below names each subcommand's dataclasses, function and defaults as "module:attribute" strings, imported on use.


@dataclass
class TokenizerCommandArguments:
    output_dir: str = field(metadata={"help": "Folder to save the tokenizer in."})
    seed: int = field(default=42, metadata={"help": "Seed of the training sample (--tokenizer_train_lines)."})

    def __post_init__(self):
        check_limits(self)


@dataclass
class PushArguments:
    folder: str = field(metadata={"help": "A saved model folder."})
    repo_id: str = field(metadata={"help": "The Hub repository, e.g. 'you/ulmfit-trec'."})
    token: str | None = field(default=None, metadata={"help": "Hub token (default: the logged-in one)."})
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})


@dataclass
class ConvertFastaiArguments:
    checkpoint: str = field(metadata={"help": "fastai .pth file (language model, encoder or classifier)."})
    vocab: str = field(metadata={"help": "Its vocabulary: itos .pkl (a list of strings) or a text file."})
    output_dir: str = field(metadata={"help": "Folder for the converted model and tokenizer."})
    task: str = field(default="auto", metadata={"help": "auto, causal-lm or sequence-classification."})
    backwards: bool = field(default=False, metadata={"help": "The checkpoint is a backward model."})
    labels: list[str] = field(default_factory=list, metadata={"help": "Classifier label names, in class-id order."})
    bptt: int = field(default=72, metadata={"help": "Classifier: chunk length of the document encoder."})
    max_len: int = field(default=1440, metadata={"help": "Classifier: tokens at the end of a document it pools."})

    def __post_init__(self):
        check_limits(self)


def run_tokenizer(args: TokenizerCommandArguments, data_args, tokenizer_args):
    from ..recipes.corpus import load_splits
    from ..recipes.model_setup import tokenizer_for

    dataset = load_splits(data_args, labelled=False)
    tokenizer = tokenizer_for(tokenizer_args, dataset["train"], seed=args.seed)
    tokenizer.save_pretrained(args.output_dir)
    print(f"saved a {len(tokenizer)}-token {tokenizer_args.tokenizer_kind} tokenizer to {args.output_dir}")


def run_push(args: PushArguments):
    from ..hub import push_folder

    print(push_folder(args.folder, args.repo_id, token=args.token, private=args.private))


def run_convert(args: ConvertFastaiArguments):
    from ..conversion import convert_fastai_checkpoint

    id2label = dict(enumerate(args.labels)) if args.labels else None
    model, _ = convert_fastai_checkpoint(
        args.checkpoint,
        args.vocab,
        args.output_dir,
        task=args.task,
        backwards=args.backwards,
        id2label=id2label,
        bptt=args.bptt,
        max_len=args.max_len,
    )
    print(f"converted {args.checkpoint} to a {type(model).__name__} in {args.output_dir}")


RECIPES = "hf_ulmfit.recipes"
ARGUMENTS = f"{RECIPES}.arguments"


def resolve(reference):
    """A "module:attribute" string imported now (anything else is returned as it is)."""
    if not isinstance(reference, str):
        return reference
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass
class Command:
    help: str
    # dataclasses, or "module:Class" references imported only when the command runs; a stage's is one reference to
    # its module's ARGUMENT_CLASSES
    argument_classes: tuple | str
    run: object  # a function or a "module:function" reference
    defaults: str | dict = ""  # a stage's "module:DEFAULTS" reference (or a dict)
    # a stage's "module:defaults_for" reference: defaults that depend on the parsed arguments (see parse_arguments);
    # a stage module without that function has none
    defaults_for: str = ""

    def resolved_argument_classes(self) -> tuple:
        if isinstance(self.argument_classes, str):
            return resolve(self.argument_classes)
        return tuple(resolve(reference) for reference in self.argument_classes)

    def resolved_defaults(self) -> dict:
        return resolve(self.defaults) if self.defaults else {}

    def resolved_defaults_for(self):
        if not self.defaults_for:
            return None
        module_name, _, attribute = self.defaults_for.partition(":")
        return getattr(importlib.import_module(module_name), attribute, None)


def stage(module: str, help: str) -> Command:
    """A training stage: its arguments, defaults and `run` are its module's (the module's `main` parses alike)."""
    path = f"{RECIPES}.{module}"
    return Command(help, f"{path}:ARGUMENT_CLASSES", f"{path}:run", f"{path}:DEFAULTS", f"{path}:defaults_for")


COMMANDS = {
    "tokenizer": Command(
        "train a tokenizer on a dataset's text",
        (TokenizerCommandArguments, f"{ARGUMENTS}:DataArguments", f"{ARGUMENTS}:TokenizerArguments"),
        run_tokenizer,
    ),
    "pretrain": stage("pretrain", "stage 1: pretrain a language model on a general corpus"),
    "finetune-lm": stage("finetune_lm", "stage 2: fine-tune the language model on the target text"),
    "train-classifier": stage("train_classifier", "stage 3: train the classifier with gradual unfreezing"),
    "evaluate": Command(
        "metrics of a classifier (or ensemble) or a language model on a split",
        (f"{RECIPES}.evaluate_model:EvaluateArguments", f"{ARGUMENTS}:DataArguments"),
        f"{RECIPES}.evaluate_model:run",
    ),
    "predict": Command(
        "classify texts with a saved classifier (or ensemble)",
        (f"{RECIPES}.inference:PredictArguments",),
        f"{RECIPES}.inference:predict",
    ),
    "generate": Command(
        "continue a prompt with a saved language model",
        (f"{RECIPES}.inference:GenerateArguments",),
        f"{RECIPES}.inference:generate",
    ),
    "export": Command(
        "export a classifier or language model to ONNX, or a classifier to int8",
        ("hf_ulmfit.cli.export:ExportArguments",),
        "hf_ulmfit.cli.export:run",
    ),
    "push": Command("upload a saved model folder to the Hub", (PushArguments,), run_push),
    "convert-fastai": Command("convert a fastai AWD-LSTM checkpoint", (ConvertFastaiArguments,), run_convert),
    "quickstart": Command(
        "all three stages on TREC-6 with a small model, vs. no pretraining",
        (f"{RECIPES}.quickstart:QuickstartArguments",),
        f"{RECIPES}.quickstart:run",
    ),
}


def usage() -> str:
    lines = ["usage: hf-ulmfit SUBCOMMAND [--flags | recipe.json | recipe.yaml]", "", "subcommands:"]
    lines += [f"  {name:<18}{command.help}" for name, command in COMMANDS.items()]
    lines += ["", "hf-ulmfit SUBCOMMAND --help lists a subcommand's flags."]
    return "\n".join(lines)


def parse(command_name: str, argv: list[str]) -> tuple:
    """Parse flags or a recipe file into the subcommand's dataclasses; stage defaults apply under both."""
    command = COMMANDS[command_name]
    return parse_arguments(
        command.resolved_argument_classes(),
        command.resolved_defaults(),
        argv,
        prog=f"hf-ulmfit {command_name}",
        description=command.help,
        defaults_for=command.resolved_defaults_for(),
    )


def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"hf-ulmfit: unknown subcommand {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    try:
        parsed = parse(argv[0], argv[1:])  # exits after printing the help for --help, before transformers loads
    except ValueError as error:  # HfArgumentParser's word for flags it does not know, and the arguments' own checks
        print(f"hf-ulmfit {argv[0]}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_warning()
    command = COMMANDS[argv[0]]
    for arguments in parsed:
        if hasattr(arguments, "output_dir") and arguments.output_dir in (None, "trainer_output"):
            raise SystemExit(f"hf-ulmfit {argv[0]}: --output_dir is required")
    from ..hub.network import limit_hub_waits

    try:
        limit_hub_waits()
        resolve(command.run)(*parsed)
    except Exception as error:
        message = user_error_message(error)
        if message is None:
            raise
        print(f"hf-ulmfit {argv[0]}: error: {message}", file=sys.stderr)
        return 1
    finally:
        end_process_group()
    return 0


def end_process_group():
    """Close the process group a distributed run opened, while the interpreter is whole: a gloo group left to the
    interpreter's exit can abort the process ("terminate called without an active exception") after training ended."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
