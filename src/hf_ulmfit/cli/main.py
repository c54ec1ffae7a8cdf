"""`hf-ulmfit SUBCOMMAND [--flags | recipe.json | recipe.yaml]`.

Every subcommand's arguments are dataclasses parsed by transformers' `HfArgumentParser`, as in transformers'
`run_*.py` examples: pass flags, or a single JSON/YAML file whose keys are the flag names.
"""

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml
from transformers import HfArgumentParser
from transformers.utils import logging as transformers_logging

from ..recipes import evaluate_model, finetune_lm, inference, pretrain, quickstart, train_classifier
from ..recipes.arguments import DataArguments, ModelArguments, TokenizerArguments
from ..recipes.common import tokenizer_for
from ..recipes.corpus import load_splits
from ..training import UlmfitTrainingArguments


@dataclass
class TokenizerCommandArguments:
    output_dir: str = field(metadata={"help": "Folder to save the tokenizer in."})
    seed: int = field(default=42, metadata={"help": "Seed of the training sample (--tokenizer_train_lines)."})


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


def run_tokenizer(args: TokenizerCommandArguments, data_args: DataArguments, tokenizer_args: TokenizerArguments):
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
    model, _ = convert_fastai_checkpoint(args.checkpoint, args.vocab, args.output_dir, task=args.task,
                                         backwards=args.backwards, id2label=id2label, bptt=args.bptt,
                                         max_len=args.max_len)
    print(f"converted {args.checkpoint} to a {type(model).__name__} in {args.output_dir}")


@dataclass
class Command:
    help: str
    argument_classes: tuple
    run: Callable
    defaults: dict = field(default_factory=dict)


COMMANDS = {
    "tokenizer": Command("train a tokenizer on a dataset's text", (TokenizerCommandArguments, DataArguments,
                         TokenizerArguments), run_tokenizer),
    "pretrain": Command("stage 1: pretrain a language model on a general corpus",
                        (DataArguments, TokenizerArguments, ModelArguments, UlmfitTrainingArguments), pretrain.run,
                        {**pretrain.DATA_DEFAULTS, **pretrain.TRAINING_DEFAULTS}),
    "finetune-lm": Command("stage 2: fine-tune the language model on the target text",
                           (finetune_lm.FinetuneLmArguments, DataArguments, UlmfitTrainingArguments), finetune_lm.run,
                           {**finetune_lm.DATA_DEFAULTS, **finetune_lm.TRAINING_DEFAULTS}),
    "train-classifier": Command("stage 3: train the classifier with gradual unfreezing",
                                (train_classifier.TrainClassifierArguments, DataArguments, TokenizerArguments,
                                 ModelArguments, UlmfitTrainingArguments), train_classifier.run,
                                {**train_classifier.DATA_DEFAULTS, **train_classifier.TRAINING_DEFAULTS}),
    "evaluate": Command("metrics of a classifier (or ensemble) or a language model on a split",
                        (evaluate_model.EvaluateArguments, DataArguments), evaluate_model.run),
    "predict": Command("classify texts with a saved classifier (or ensemble)", (inference.PredictArguments,),
                       inference.predict),
    "generate": Command("continue a prompt with a saved language model", (inference.GenerateArguments,),
                        inference.generate),
    "push": Command("upload a saved model folder to the Hub", (PushArguments,), run_push),
    "convert-fastai": Command("convert a fastai AWD-LSTM checkpoint", (ConvertFastaiArguments,), run_convert),
    "quickstart": Command("all three stages on TREC-6 with a small model, vs. no pretraining",
                          (quickstart.QuickstartArguments,), quickstart.run),
}


def usage() -> str:
    lines = ["usage: hf-ulmfit SUBCOMMAND [--flags | recipe.json | recipe.yaml]", "", "subcommands:"]
    lines += [f"  {name:<18}{command.help}" for name, command in COMMANDS.items()]
    lines += ["", "hf-ulmfit SUBCOMMAND --help lists a subcommand's flags."]
    return "\n".join(lines)


def parse(command_name: str, argv: list[str]) -> tuple:
    """Parse flags or a recipe file into the subcommand's dataclasses; stage defaults apply under both."""
    command = COMMANDS[command_name]
    parser = HfArgumentParser(command.argument_classes, prog=f"hf-ulmfit {command_name}", description=command.help)
    parser.set_defaults(**command.defaults)
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        path = Path(argv[0])
        if not path.is_file():
            raise SystemExit(f"hf-ulmfit {command_name}: recipe file {path} not found")
        recipe = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        if not isinstance(recipe, dict):
            raise SystemExit(f"hf-ulmfit {command_name}: {path} must hold a mapping of argument names to values")
        return parser.parse_dict({**command.defaults, **recipe})
    return parser.parse_args_into_dataclasses(argv)


def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"hf-ulmfit: unknown subcommand {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    transformers_logging.set_verbosity_warning()
    try:
        parsed = parse(argv[0], argv[1:])
    except ValueError as error:  # HfArgumentParser's word for flags it does not know
        print(f"hf-ulmfit {argv[0]}: error: {error}", file=sys.stderr)
        return 2
    for arguments in parsed:
        if isinstance(arguments, UlmfitTrainingArguments) and arguments.output_dir in (None, "trainer_output"):
            raise SystemExit(f"hf-ulmfit {argv[0]}: --output_dir is required")
    try:
        COMMANDS[argv[0]].run(*parsed)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"hf-ulmfit {argv[0]}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
