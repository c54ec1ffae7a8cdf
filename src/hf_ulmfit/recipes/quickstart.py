"""`hf-ulmfit quickstart`: ULMFiT end to end on TREC-6 on CPU, then a comparison with the same classifier trained
without pretraining (the README's main job).

It starts from a pretrained language model, as a user starts from a Hub model: the one given by `--pretrained_lm`,
else the best forward AWD-LSTM LM in the models folder (`$HF_ULMFIT_MODELS`, else `models/` beside the data
folder, i.e. `../shared/models`): the one its README marks newest, else the one with the most training behind it.
`--pretrained_lm none`, or no LM found, runs all three stages from scratch with a small model pretrained on a slice
of Wikipedia."""

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from transformers import pipeline

from ..argument_limits import check_limits
from ..data import load_text_dataset
from ..data.named_datasets import resolve_data_dir
from ..training import UlmfitTrainingArguments
from . import finetune_lm, pretrain, train_classifier
from .arguments import DataArguments, ModelArguments, TokenizerArguments
from .outputs import json_text


logger = logging.getLogger(__name__)


@dataclass
class QuickstartArguments:
    output_dir: str = field(default="outputs/quickstart", metadata={"help": "Where the three stages write."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder of the named datasets ($HF_ULMFIT_DATA)."})
    wikipedia_articles: int = field(
        default=150, metadata={"help": "Wikipedia articles to pretrain on (from scratch only)."}
    )
    vocab_size: int = field(default=4000, metadata={"help": "Unigram vocabulary size (from scratch only)."})
    embedding_size: int = field(default=64, metadata={"help": "Embedding width (from scratch only)."})
    hidden_size: int = field(default=192, metadata={"help": "Inner LSTM width (from scratch only)."})
    pretrain_epochs: float = field(default=1, metadata={"help": "Pretraining epochs (from scratch only)."})
    finetune_epochs: float = field(
        default=3, metadata={"help": "LM fine-tuning epochs on the TREC questions (from scratch only)."}
    )
    classifier_epochs: float = field(
        default=8, metadata={"help": "Classifier epochs, gradual unfreezing (from scratch only)."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only N TREC training questions."})
    seed: int = field(default=42, metadata={"help": "Seed of every stage."})
    pretrained_lm: str = field(
        default="auto",
        metadata={
            "help": "A pretrained LM folder (or Hub id) to start from; 'auto': the best one found in "
            "$HF_ULMFIT_MODELS or the models/ folder beside the data folder (the one its README marks newest, "
            "else the one with the most training behind it); 'none': pretrain a small "
            "LM on Wikipedia first (all three stages from scratch)."
        },
    )

    def __post_init__(self):
        check_limits(self)


MODELS_DIR_ENV = "HF_ULMFIT_MODELS"


def find_pretrained_lm(data_dir: str | None) -> str | None:
    """The best forward AWD-LSTM language model in `$HF_ULMFIT_MODELS`, else in `models/` beside the data folder;
    None when there is none. Best: the one the folder's README marks newest (a heading `## NAME (newest)`), else the
    one with the most training behind it (see `training_behind`), then the first by name."""
    data_root = resolve_data_dir(data_dir)
    models = os.environ.get(MODELS_DIR_ENV) or (str(data_root.parent / "models") if data_root is not None else None)
    if not models or not Path(models).is_dir():
        return None
    candidates = [folder for folder in sorted(Path(models).iterdir()) if is_forward_language_model(folder)]
    if not candidates:
        return None
    newest = marked_newest(Path(models) / "README.md")
    for folder in candidates:
        if folder.name == newest:
            return str(folder)
    return str(max(candidates, key=training_behind))  # the first by name among equals


def is_forward_language_model(folder: Path) -> bool:
    from ..saved_folders import LANGUAGE_MODEL, kind_of_config, read_config

    config = read_config(folder) if (folder / "model.safetensors").is_file() else None
    return bool(
        config
        and config.get("model_type") == "awd_lstm"
        and not config.get("backwards")
        and kind_of_config(config) == LANGUAGE_MODEL
    )


def marked_newest(readme: Path) -> str | None:
    """The folder name of a `## NAME (newest)` heading in the models folder's README, if any."""
    if not readme.is_file():
        return None
    match = re.search(r"^##+\s+`?([^\s`(]+)`?\s+\(newest\)", readme.read_text(), flags=re.MULTILINE)
    return match.group(1) if match else None


def training_behind(folder: Path) -> tuple[int, int]:
    """What a language model's run record (`ulmfit_run.json`) says it was trained on: the number of stages that
    made it (an LM trained on from another has one more than that one) and the tokens of the texts they read.
    (0, 0) without a record."""
    record = folder / "ulmfit_run.json"
    if not record.is_file():
        return (0, 0)
    run = json.loads(record.read_text())
    stages = [*run.get("previous_stages", []), run]
    return (len(stages), sum(int(stage.get("train_tokens") or 0) for stage in stages))


def resolve_pretrained_lm(args: "QuickstartArguments") -> str | None:
    if args.pretrained_lm == "none":
        return None
    if args.pretrained_lm == "auto":
        return find_pretrained_lm(args.data_dir)
    return args.pretrained_lm


def _training_args(output_dir: Path, seed: int, **settings) -> UlmfitTrainingArguments:
    # A re-run of the demo trains every stage afresh (nothing is checkpointed to resume from).
    base = dict(
        output_dir=str(output_dir),
        overwrite_output_dir=True,
        seed=seed,
        report_to="none",
        save_strategy="no",
        eval_strategy="epoch",
        logging_strategy="epoch",
        disable_tqdm=False,
    )
    return UlmfitTrainingArguments(**{**base, **settings})


def run(args: QuickstartArguments) -> dict:
    out = Path(args.output_dir)
    trec = DataArguments(
        dataset="trec", data_dir=args.data_dir, max_train_samples=args.max_train_samples, split_seed=args.seed
    )
    pretrained = resolve_pretrained_lm(args)
    if pretrained is None:
        ulmfit, baseline = _from_scratch(args, out, trec)
    else:
        ulmfit, baseline = _from_pretrained(args, pretrained, out, trec)
    summary = {
        "ulmfit_test_accuracy": ulmfit["results"]["test"]["accuracy"],
        "baseline_test_accuracy": baseline["results"]["test"]["accuracy"],
        "ulmfit_test_f1": ulmfit["results"]["test"]["f1"],
        "baseline_test_f1": baseline["results"]["test"]["f1"],
        "pretrained_lm": pretrained or str(out / "pretrained-lm"),
    }
    (out / "quickstart_results.json").write_text(json_text(summary, indent=2))
    print()
    print("TREC-6 test            accuracy   macro-F1")
    print(f"ULMFiT (3 stages)      {summary['ulmfit_test_accuracy']:.4f}     {summary['ulmfit_test_f1']:.4f}")
    print(f"without pretraining    {summary['baseline_test_accuracy']:.4f}     {summary['baseline_test_f1']:.4f}")
    print()
    show_predictions(out / "classifier", args.data_dir)
    return summary


def _from_scratch(args: QuickstartArguments, out: Path, trec: DataArguments) -> tuple[dict, dict]:
    """All three stages with a small model pretrained here on a slice of Wikipedia, then the baseline."""
    model_args = ModelArguments(embedding_size=args.embedding_size, hidden_size=args.hidden_size)
    print("== 1/4 pretraining the language model on Wikipedia", flush=True)
    pretrain.run(
        DataArguments(
            dataset="wikipedia",
            data_dir=args.data_dir,
            max_files=1,
            max_train_samples=args.wikipedia_articles,
            validation_size=0.05,
            max_eval_samples=20,
            split_seed=args.seed,
        ),
        TokenizerArguments(tokenizer_kind="unigram", vocab_size=args.vocab_size),
        model_args,
        pretrain.ContinuedPretrainingArguments(),  # a new model
        _training_args(
            out / "pretrained-lm",
            args.seed,
            num_train_epochs=args.pretrain_epochs,
            learning_rate=1e-2,
            per_device_train_batch_size=32,
            per_device_eval_batch_size=32,
            lr_schedule="one_cycle",
            discriminative_lr_factor=1.0,
            bptt=72,
            max_grad_norm=0.4,
        ),
    )
    print("== 2/4 fine-tuning the language model on TREC-6 questions", flush=True)
    finetune_lm.run(
        finetune_lm.FinetuneLmArguments(model_name_or_path=str(out / "pretrained-lm")),
        trec,
        _training_args(
            out / "finetuned-lm",
            args.seed,
            num_train_epochs=args.finetune_epochs,
            learning_rate=1e-2,
            per_device_train_batch_size=16,
            per_device_eval_batch_size=16,
            lr_schedule="one_cycle",
            freeze_all_but_top_epochs=min(1.0, args.finetune_epochs / 2),
            bptt=36,
            max_grad_norm=0.4,
        ),
    )
    classifier_settings = dict(
        num_train_epochs=args.classifier_epochs,
        learning_rate=1e-2,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        lr_schedule="slanted_triangular",
        max_grad_norm=0.4,
    )
    print("== 3/4 training the classifier with gradual unfreezing", flush=True)
    ulmfit = train_classifier.run(
        train_classifier.TrainClassifierArguments(model_name_or_path=str(out / "finetuned-lm")),
        trec,
        TokenizerArguments(),
        ModelArguments(),  # the language model brings its tokenizer and sizes
        _training_args(out / "classifier", args.seed, gradual_unfreezing=True, **classifier_settings),
    )
    print("== 4/4 the same classifier without pretraining (baseline)", flush=True)
    baseline = train_classifier.run(
        train_classifier.TrainClassifierArguments(model_name_or_path=None),
        trec,
        TokenizerArguments(tokenizer_name_or_path=str(out / "pretrained-lm")),
        model_args,
        _training_args(out / "baseline-classifier", args.seed, gradual_unfreezing=False, **classifier_settings),
    )
    return ulmfit, baseline


def _from_pretrained(args: QuickstartArguments, pretrained: str, out: Path, trec: DataArguments) -> tuple[dict, dict]:
    """Stages 2 and 3 from a pretrained LM with the stages' own defaults (what `hf-ulmfit finetune-lm` and
    `train-classifier` do without flags), then the same classifier (architecture, tokenizer) from random weights."""
    common = {
        "dataset": "trec",
        "data_dir": args.data_dir,
        "max_train_samples": args.max_train_samples,
        "split_seed": args.seed,
        "seed": args.seed,
        "overwrite_output_dir": True,
        "save_strategy": "no",
        "disable_tqdm": False,
    }
    print(f"== 1/3 fine-tuning the pretrained language model {pretrained} on TREC-6 questions", flush=True)
    finetune_lm.main({**common, "model_name_or_path": pretrained, "output_dir": str(out / "finetuned-lm")})
    print("== 2/3 training the classifier (the train-classifier defaults: gradual unfreezing, STLR)", flush=True)
    ulmfit = train_classifier.main(
        {**common, "model_name_or_path": str(out / "finetuned-lm"), "output_dir": str(out / "classifier")}
    )
    print("== 3/3 the same classifier without pretraining (baseline)", flush=True)
    config = json.loads((Path(pretrained) / "config.json").read_text()) if Path(pretrained).is_dir() else {}
    sizes = {key: config[key] for key in ("embedding_size", "hidden_size", "num_layers", "rnn_type") if key in config}
    # The same architecture: one direction (the from-scratch recipe's other defaults, rate and epochs, apply).
    sizes["bidirectional"] = False
    baseline = train_classifier.main(
        {**common, **sizes, "tokenizer_name_or_path": pretrained, "output_dir": str(out / "baseline-classifier")}
    )
    return ulmfit, baseline


def show_predictions(classifier_dir: Path, data_dir: str | None, count: int = 5) -> None:
    test = load_text_dataset("trec", data_dir=data_dir)["test"].shuffle(seed=0).select(range(count))
    names = test.features["label"].names
    classify = pipeline("text-classification", model=str(classifier_dir), device="cpu")
    print(f'pipeline("text-classification", model="{classifier_dir}"):')
    for example, prediction in zip(test, classify(list(test["text"]))):
        print(
            f"  {prediction['label']:>5} ({prediction['score']:.2f})  true {names[example['label']]:>5}  "
            f"{example['text']}"
        )
