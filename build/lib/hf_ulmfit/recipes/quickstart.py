"""`hf-ulmfit quickstart`: the three ULMFiT stages end to end on CPU with a small model, then a comparison with the
same classifier trained without pretraining, on TREC-6 (the README's main job)."""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from transformers import pipeline

from ..data import load_text_dataset
from ..training import UlmfitTrainingArguments
from . import finetune_lm, pretrain, train_classifier
from .arguments import DataArguments, ModelArguments, TokenizerArguments

logger = logging.getLogger(__name__)


@dataclass
class QuickstartArguments:
    output_dir: str = field(default="outputs/quickstart", metadata={"help": "Where the three stages write."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder of the named datasets ($HF_ULMFIT_DATA)."})
    wikipedia_articles: int = field(default=150, metadata={"help": "Wikipedia articles to pretrain on."})
    vocab_size: int = field(default=4000, metadata={"help": "Unigram vocabulary size."})
    embedding_size: int = field(default=64, metadata={"help": "Embedding width."})
    hidden_size: int = field(default=192, metadata={"help": "Inner LSTM width."})
    pretrain_epochs: float = field(default=1, metadata={"help": "Pretraining epochs."})
    finetune_epochs: float = field(default=3, metadata={"help": "LM fine-tuning epochs on the TREC questions."})
    classifier_epochs: float = field(default=8, metadata={"help": "Classifier epochs (gradual unfreezing)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only N TREC training questions."})
    seed: int = field(default=42, metadata={"help": "Seed of every stage."})


def _training_args(output_dir: Path, seed: int, **settings) -> UlmfitTrainingArguments:
    # A re-run of the demo trains every stage afresh (nothing is checkpointed to resume from).
    base = dict(output_dir=str(output_dir), overwrite_output_dir=True, seed=seed, report_to="none", save_strategy="no",
                eval_strategy="epoch", logging_strategy="epoch", disable_tqdm=False)
    return UlmfitTrainingArguments(**{**base, **settings})


def run(args: QuickstartArguments) -> dict:
    out = Path(args.output_dir)
    model_args = ModelArguments(embedding_size=args.embedding_size, hidden_size=args.hidden_size)
    trec = DataArguments(dataset="trec", data_dir=args.data_dir, max_train_samples=args.max_train_samples,
                         split_seed=args.seed)

    print("== 1/4 pretraining the language model on Wikipedia", flush=True)
    pretrain.run(
        DataArguments(dataset="wikipedia", data_dir=args.data_dir, max_files=1, max_train_samples=args.wikipedia_articles,
                      validation_size=0.05, max_eval_samples=20, split_seed=args.seed),
        TokenizerArguments(tokenizer_kind="unigram", vocab_size=args.vocab_size),
        model_args,
        _training_args(out / "pretrained-lm", args.seed, num_train_epochs=args.pretrain_epochs, learning_rate=1e-2,
                       per_device_train_batch_size=32, per_device_eval_batch_size=32, lr_schedule="one_cycle",
                       discriminative_lr_factor=1.0, bptt=72, max_grad_norm=0.4),
    )
    print("== 2/4 fine-tuning the language model on TREC-6 questions", flush=True)
    finetune_lm.run(
        finetune_lm.FinetuneLmArguments(model_name_or_path=str(out / "pretrained-lm")),
        trec,
        _training_args(out / "finetuned-lm", args.seed, num_train_epochs=args.finetune_epochs, learning_rate=1e-2,
                       per_device_train_batch_size=16, per_device_eval_batch_size=16, lr_schedule="one_cycle",
                       freeze_all_but_top_epochs=min(1.0, args.finetune_epochs / 2), bptt=36, max_grad_norm=0.4),
    )
    classifier_settings = dict(num_train_epochs=args.classifier_epochs, learning_rate=1e-2,
                               per_device_train_batch_size=32, per_device_eval_batch_size=64,
                               lr_schedule="slanted_triangular", max_grad_norm=0.4)
    print("== 3/4 training the classifier with gradual unfreezing", flush=True)
    ulmfit = train_classifier.run(
        train_classifier.TrainClassifierArguments(model_name_or_path=str(out / "finetuned-lm")),
        trec, TokenizerArguments(), ModelArguments(),  # the language model brings its tokenizer and sizes
        _training_args(out / "classifier", args.seed, gradual_unfreezing=True, **classifier_settings),
    )
    print("== 4/4 the same classifier without pretraining (baseline)", flush=True)
    baseline = train_classifier.run(
        train_classifier.TrainClassifierArguments(model_name_or_path=None),
        trec, TokenizerArguments(tokenizer_name_or_path=str(out / "pretrained-lm")), model_args,
        _training_args(out / "baseline-classifier", args.seed, gradual_unfreezing=False, **classifier_settings),
    )
    summary = {
        "ulmfit_test_accuracy": ulmfit["results"]["test"]["accuracy"],
        "baseline_test_accuracy": baseline["results"]["test"]["accuracy"],
        "ulmfit_test_f1": ulmfit["results"]["test"]["f1"],
        "baseline_test_f1": baseline["results"]["test"]["f1"],
    }
    (out / "quickstart_results.json").write_text(json.dumps(summary, indent=2))
    print()
    print("TREC-6 test            accuracy   macro-F1")
    print(f"ULMFiT (3 stages)      {summary['ulmfit_test_accuracy']:.4f}     {summary['ulmfit_test_f1']:.4f}")
    print(f"without pretraining    {summary['baseline_test_accuracy']:.4f}     {summary['baseline_test_f1']:.4f}")
    print()
    show_predictions(out / "classifier", args.data_dir)
    return summary


def show_predictions(classifier_dir: Path, data_dir: str | None, count: int = 5) -> None:
    test = load_text_dataset("trec", data_dir=data_dir)["test"].shuffle(seed=0).select(range(count))
    names = test.features["label"].names
    classify = pipeline("text-classification", model=str(classifier_dir), device="cpu")
    print(f'pipeline("text-classification", model="{classifier_dir}"):')
    for example, prediction in zip(test, classify(list(test["text"]))):
        print(f"  {prediction['label']:>5} ({prediction['score']:.2f})  true {names[example['label']]:>5}  {example['text']}")
