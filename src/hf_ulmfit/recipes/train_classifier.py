"""Stage 3: train the classifier on top of the fine-tuned language model, with gradual unfreezing."""

import logging
from dataclasses import dataclass, field

from transformers import AutoTokenizer

from ..data import prepare_classification_dataset
from ..models.awd_lstm import CLASSIFIER_DROPOUTS, AwdLstmForSequenceClassification
from .arguments import DataArguments, ModelArguments, TokenizerArguments
from .common import (
    describe_tokenizer, model_summary, new_config, start_stage, tokenizer_for_every_process, train_and_evaluate,
)
from .corpus import load_splits
from .outputs import save_stage_output, take_hub_request, training_summary

logger = logging.getLogger(__name__)

# The paper's recipe: slanted triangular LR over the run, one more layer group unfrozen each epoch (5 groups).
TRAINING_DEFAULTS = dict(
    num_train_epochs=5, learning_rate=1e-2, per_device_train_batch_size=64, per_device_eval_batch_size=64,
    lr_schedule="slanted_triangular", gradual_unfreezing=True, max_grad_norm=0.4, eval_strategy="epoch",
    logging_strategy="epoch", save_strategy="epoch", report_to="none",
)
DATA_DEFAULTS = dict(dataset="trec", validation_size=0.1)


@dataclass
class TrainClassifierArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "The fine-tuned language model folder. Without one, a classifier is trained from scratch "
                          "(the no-pretraining baseline), with a tokenizer trained on the task's text."},
    )
    classifier_drop_mult: float = field(
        default=0.5, metadata={"help": "Multiplier of fastai's classifier dropouts (fastai: 0.5)."}
    )
    classifier_bptt: int = field(default=72, metadata={"help": "Chunk length of the document encoder (BPT3C)."})
    classifier_max_len: int = field(
        default=1440, metadata={"help": "The classifier pools the chunks within this many tokens of a document's end."}
    )


def build_classifier(args: TrainClassifierArguments, model_args: ModelArguments, tokenizer, labels: list[str]):
    """The classifier: the LM's encoder with a new head, or a fresh model for the from-scratch baseline."""
    settings = dict(
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
        drop_mult=args.classifier_drop_mult, bptt=args.classifier_bptt, max_len=args.classifier_max_len, **CLASSIFIER_DROPOUTS,
    )
    if args.model_name_or_path:
        return AwdLstmForSequenceClassification.from_pretrained(args.model_name_or_path, **settings)
    return AwdLstmForSequenceClassification(new_config(model_args, tokenizer, **settings))


def run(args: TrainClassifierArguments, data_args: DataArguments, tokenizer_args: TokenizerArguments,
        model_args: ModelArguments, training_args):
    plan = start_stage("train-classifier", training_args, args, data_args, tokenizer_args, model_args)
    # The language model's tokenizer first: a wrong path fails before any data work.
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path) if args.model_name_or_path else None
    dataset = load_splits(data_args, labelled=True)
    if "unsupervised" in dataset:  # imdb's unlabelled reviews are language-model text
        del dataset["unsupervised"]
    labels = dataset["train"].features["label"].names
    tokenizer = tokenizer or tokenizer_for_every_process(tokenizer_args, dataset["train"], training_args)
    with training_args.main_process_first(desc="tokenising"):  # the other processes load the cached result
        tokenized = prepare_classification_dataset(dataset, tokenizer, num_proc=data_args.num_proc)
    model = build_classifier(args, model_args, tokenizer, labels)
    hub_request = take_hub_request(training_args)
    trainer, metrics = train_and_evaluate(model, tokenizer, tokenized, training_args, plan)
    results = {"validation": classifier_results(metrics)}
    if "test" in tokenized:
        results["test"] = classifier_results(trainer.evaluate(tokenized["test"], metric_key_prefix="test"), "test")
    record = {
        "stage": "train-classifier",
        "dataset": data_args.dataset,
        "labels": labels,
        "base_model": args.model_name_or_path,
        "output_dir": training_args.output_dir,
        "train_documents": len(tokenized["train"]),
        "tokenizer": describe_tokenizer(tokenizer),
        "model": model_summary(model.config),
        "training": training_summary(training_args),
        "results": results,
    }
    save_stage_output(trainer, tokenizer, training_args.output_dir, record, hub_request)
    return record


def classifier_results(metrics: dict, prefix: str = "eval") -> dict:
    return {name: metrics[f"{prefix}_{name}"] for name in ("loss", "accuracy", "f1") if f"{prefix}_{name}" in metrics}
