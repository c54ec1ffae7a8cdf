"""Stage 3: train the classifier on top of the fine-tuned language model, with gradual unfreezing."""

import logging
from dataclasses import dataclass, field, fields, replace

from transformers import AutoConfig, AutoTokenizer

from ..argument_limits import check_limits
from ..data import prepare_classification_dataset
from ..data.targets import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from ..models.awd_lstm import CLASSIFIER_DROPOUTS, AwdLstmForSequenceClassification
from ..training import ClassifierTrainer, UlmfitTrainingArguments
from .arguments import DataArguments, ModelArguments, TokenizerArguments
from .checks import check_folder_kind, check_tokenizer_fits, load_pretrained, require_model_folder
from .corpus import load_targets
from .model_setup import check_model_settings, new_config, tokenizer_for_every_process
from .output_lock import holds_output_folder_lock
from .parsing import stage_entry_point
from .run_folder import start_stage
from .stage import STAGE_TRAINING_DEFAULTS, train_and_finish_stage
from .targets import choose_threshold, class_weights, target_scale


logger = logging.getLogger(__name__)

# The paper's recipe: slanted triangular LR over the run, one more layer group unfrozen each epoch (5 groups).
# 12 epochs, so that the whole model trains for 8 epochs once the unfreezing is over (5 epochs left it 1). From the
# newest shared LM, 3 seeds, test accuracy with 12 / 5 epochs: TREC-6 with 100 / 300 / 1,000 / 3,000 / all labels
# 62.6 / 77.3 / 88.3 / 94.3 / 95.8 against 57.6 / 78.2 / 86.8 / 92.9 / 95.0 (benchmarks/CLAIMS.md, where IMDb's cells
# are too); it costs 2.4 times the steps on data that needs no stretching.
# gradual_unfreezing=None lets the stage decide (`resolve_gradual_unfreezing`): on for a pretrained encoder, off for a
# classifier trained from scratch, whose random encoder must train from the first step. With fewer epochs than layer
# groups, the unfreezing is spread over the run's steps, so every group trains by the end (unfreeze_all_by_end).
# A small dataset is stretched to at least 200 optimizer steps (each epoch k passes over the data): on TREC-6 with
# 100 / 300 / 1,000 labels 5 epochs were 10 / 25 / 80 steps, and 200 steps cut test error from 49.8 / 36.6 / 15.2%
# to 34.6 / 22.4 / 13.0% (benchmarks/CLAIMS.md); 12 epochs of 300 questions are 60 steps, stretched to 240.
# One peak LR for every layer group (no discriminative factor): on TREC-6 from the shared LM, gradual unfreezing + STLR
# without discr had 10.4 ± 0.5% validation error (3 seeds) against the paper's factor 2.6 at 14.5 ± 1.4
# (benchmarks/CLAIMS.md). --discriminative_lr_factor 2.6 gives the paper's recipe.
TRAINING_DEFAULTS = dict(
    **STAGE_TRAINING_DEFAULTS,
    discriminative_lr_factor=1.0,
    min_train_steps=200,
    num_train_epochs=12,
    learning_rate=1e-2,
    lr_schedule="slanted_triangular",
    gradual_unfreezing=None,
    unfreeze_all_by_end=True,
    logging_strategy="epoch",
)
DATA_DEFAULTS = dict(dataset="trec", validation_size=0.1)
# Without --model_name_or_path (a classifier trained from scratch), these replace the defaults above; flags given
# keep their values. Measured on TREC-6 (all labels, seed 0, 1 thread, benchmarks/claims_discussion.md): the sizes of
# the shared LM with a unigram tokenizer and the factor 2.6 reached 72.0% test accuracy (3 seeds); 128/256, 2 layers,
# lr 3e-3 and 8 epochs 81.0% with the unigram tokenizer and 86.8% with a word-level one (the linear baseline: 87.4),
# and a bidirectional encoder 88.2%, in under 3 minutes.
FROM_SCRATCH_DEFAULTS = dict(
    tokenizer_kind="word",
    embedding_size=128,
    hidden_size=256,
    num_layers=2,
    bidirectional=True,
    learning_rate=3e-3,
    num_train_epochs=8,
)


@dataclass
class TrainClassifierArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "The fine-tuned language model folder. Without one, a classifier is trained from scratch "
            "(the no-pretraining baseline), with a tokenizer trained on the task's text and the from-scratch "
            "recipe's defaults (a word-level tokenizer, a bidirectional 128/256 2-layer encoder, lr 3e-3, 8 "
            "epochs; label smoothing 0.1 from 1,000 training examples, twice the dropout below) where the flags "
            "leave them unset."
        },
    )
    classifier_drop_mult: float | None = field(
        default=None,
        metadata={
            "help": "Multiplier of fastai's classifier dropouts. Unset: fastai's 0.5, or 1.0 (twice the dropout) for "
            "a single-label classifier trained from scratch on fewer than 1,000 examples."
        },
    )
    classifier_bptt: int = field(default=72, metadata={"help": "Chunk length of the document encoder (BPT3C)."})
    classifier_max_len: int = field(
        default=1440, metadata={"help": "The classifier pools the chunks within this many tokens of a document's end."}
    )
    activation_budget_tokens: int = field(
        default=32768,
        metadata={
            "help": "Training memory: a batch whose kept windows hold more tokens than this (documents x up to "
            "--classifier_max_len) recomputes its activations in the backward pass, one chunk at a time (the same "
            "gradients, a second forward pass over them). 0: never."
        },
    )
    pooling: str = field(
        default="concat",
        metadata={
            "choices": ["concat", "attention"],
            "help": "concat: ULMFiT's [last, max, mean] pooling; attention: a learned attention over the tokens in "
            "place of the mean, whose weights `hf-ulmfit predict --explain` shows.",
        },
    )
    class_weights: str = field(
        default="none",
        metadata={
            "help": "Weigh the loss per class: none, balanced (n / (classes x count); multi-label: each label's "
            "negatives / positives) or a JSON file of label -> weight."
        },
    )
    normalize_target: bool = field(
        default=False,
        metadata={"help": "Regression: learn the standardised target (the model still returns the target's units)."},
    )

    def __post_init__(self):
        check_limits(self)


def build_classifier(
    args: TrainClassifierArguments,
    model_args: ModelArguments,
    tokenizer,
    labels: list[str],
    problem_type: str = SINGLE_LABEL,
    **target_settings,
):
    """The classifier: the LM's encoder with a new head, or a fresh model for the from-scratch baseline. A
    regression target has one output, named by its column."""
    settings = dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        problem_type=problem_type,
        pooling=args.pooling,
        **target_settings,
        drop_mult=args.classifier_drop_mult,
        bptt=args.classifier_bptt,
        max_len=args.classifier_max_len,
        activation_budget_tokens=args.activation_budget_tokens,
        **CLASSIFIER_DROPOUTS,
    )
    if args.model_name_or_path:
        return load_pretrained(
            AwdLstmForSequenceClassification,
            args.model_name_or_path,
            "language model",
            kinds=("language model",),
            new_head=True,
            **settings,
        )
    return AwdLstmForSequenceClassification(new_config(model_args, tokenizer, **settings))


def resolve_gradual_unfreezing(args: TrainClassifierArguments, training_args):
    """The training arguments with the stage's unfreezing default (``gradual_unfreezing=None``) decided: on with a
    pretrained encoder, off from scratch; a new object, whose ``__post_init__`` derives what follows from it (DDP's
    unused parameters). Freezing a random encoder trains only the head on random features: warn when asked for."""
    if training_args.gradual_unfreezing is None:
        gradual = (
            bool(args.model_name_or_path)
            and training_args.fit_schedule == "whole_run"
            and training_args.freeze_all_but_top_epochs is None
        )
        return replace(training_args, gradual_unfreezing=gradual, unfreeze_all_by_end=True)
    if not args.model_name_or_path and training_args.uses_freezing:
        logger.warning(
            "gradual unfreezing of a classifier trained from scratch: its encoder is random, so while it is "
            "frozen only the head trains on random features. Pass --gradual_unfreezing false to train all "
            "layers from the start."
        )
    return training_args


# From scratch (single-label targets, `follows_size_rules`), two defaults depend on the training split's size: label
# smoothing from SIZE_RULE_EXAMPLES examples on, twice fastai's dropouts below.
SIZE_RULE_EXAMPLES = 1000
# Label smoothing 0.1 (`resolve_label_smoothing`). Measured (benchmarks/claims_discussion.md, test accuracy with /
# without): TREC-6 with 1,000 / 3,000 / all labels 78.7 / 78.1, 85.9 / 85.6, 88.3 / 88.3 (3 seeds); IMDb with 1,000
# labels 77.3 / 75.5 (seed 0), with 3,000 84.8 / 83.8 (3 seeds), and on 4,000 IMDb reviews no run had seen 84.8 / 83.6
# (3 seeds; the linear baseline 87.1); below, it cost 1.1 to 2.2 points (TREC-6 100 and 300 labels, IMDb 100).
LABEL_SMOOTHING = 0.1
# The classifier's dropout scale (`resolve_classifier_drop_mult`): fastai's 0.5, and twice that from scratch on fewer
# than SIZE_RULE_EXAMPLES examples, where label smoothing is off. Measured (benchmarks/claims_discussion.md,
# test accuracy with 1.0 / 0.5, 3 seeds, ahead on each): IMDb with 100 labels 61.2 / 58.6, TREC-6 with 100 55.7 / 54.1
# and with 300 69.5 / 68.7; three times the dropout was behind twice (TREC-6 300: 67.6). From 1,000 on, with label
# smoothing, it did not help (IMDb 3,000: 84.3 / 84.8).
CLASSIFIER_DROP_MULT = 0.5
SMALL_DATA_DROP_MULT = 1.0


def follows_size_rules(args: TrainClassifierArguments, problem_type: str) -> bool:
    """Whether the size-dependent defaults hold: a single-label classifier trained from scratch, what they were
    measured on (not a pretrained encoder, multi-label or regression targets)."""
    return not args.model_name_or_path and problem_type == SINGLE_LABEL


def resolve_label_smoothing(args: TrainClassifierArguments, training_args, train_examples: int, problem_type: str):
    """The training arguments with the stage's label smoothing default (``label_smoothing_factor=None``) decided:
    `LABEL_SMOOTHING` where `follows_size_rules` on `SIZE_RULE_EXAMPLES` examples or more, none otherwise (a small
    training split, a pretrained encoder, multi-label or regression targets)."""
    if training_args.label_smoothing_factor is not None:
        return training_args
    smooth = follows_size_rules(args, problem_type) and train_examples >= SIZE_RULE_EXAMPLES
    factor = LABEL_SMOOTHING if smooth else 0.0
    if smooth:
        logger.info(
            "label smoothing %s: a classifier trained from scratch on %d examples (the default from %d; "
            "--label_smoothing_factor 0 turns it off)",
            factor,
            train_examples,
            SIZE_RULE_EXAMPLES,
        )
    return replace(training_args, label_smoothing_factor=factor)


def resolve_classifier_drop_mult(
    args: TrainClassifierArguments, train_examples: int, problem_type: str
) -> TrainClassifierArguments:
    """The stage's arguments with the dropout scale (``classifier_drop_mult=None``) decided: `SMALL_DATA_DROP_MULT`
    where `follows_size_rules` on fewer than `SIZE_RULE_EXAMPLES` examples, fastai's `CLASSIFIER_DROP_MULT` otherwise
    (enough examples, a pretrained encoder, multi-label or regression targets)."""
    if args.classifier_drop_mult is not None:
        return args
    small = follows_size_rules(args, problem_type) and train_examples < SIZE_RULE_EXAMPLES
    if small:
        logger.info(
            "classifier dropouts x%s (--classifier_drop_mult %s): a classifier trained from scratch on %d examples "
            "(the default below %d; --classifier_drop_mult %s gives fastai's)",
            SMALL_DATA_DROP_MULT / CLASSIFIER_DROP_MULT,
            SMALL_DATA_DROP_MULT,
            train_examples,
            SIZE_RULE_EXAMPLES,
            CLASSIFIER_DROP_MULT,
        )
    return replace(args, classifier_drop_mult=SMALL_DATA_DROP_MULT if small else CLASSIFIER_DROP_MULT)


def reject_new_model_settings(
    args: TrainClassifierArguments, tokenizer_args: TokenizerArguments, model_args: ModelArguments
) -> None:
    """With a language model, its tokenizer and sizes are used: settings of a new model would be ignored silently."""
    if not args.model_name_or_path:
        return
    given = [
        f"--{spec.name}"
        for arguments in (tokenizer_args, model_args)
        for spec in fields(arguments)
        if getattr(arguments, spec.name) != spec.default
    ]
    if given:
        raise ValueError(
            f"{', '.join(given)} set(s) up a new model, but --model_name_or_path {args.model_name_or_path} brings its "
            "own tokenizer and sizes: drop them (or drop --model_name_or_path to train from scratch)."
        )


ARGUMENT_CLASSES = (
    TrainClassifierArguments,
    DataArguments,
    TokenizerArguments,
    ModelArguments,
    UlmfitTrainingArguments,
)
DEFAULTS = {**DATA_DEFAULTS, **TRAINING_DEFAULTS}


def defaults_for(args: TrainClassifierArguments, *other_arguments) -> dict:
    """The from-scratch recipe's defaults when no language model is given (see `parsing.parse_arguments`)."""
    return {} if args.model_name_or_path else FROM_SCRATCH_DEFAULTS


main = stage_entry_point(__name__, "hf-ulmfit train-classifier")


@holds_output_folder_lock
def run(
    args: TrainClassifierArguments,
    data_args: DataArguments,
    tokenizer_args: TokenizerArguments,
    model_args: ModelArguments,
    training_args,
):
    reject_new_model_settings(args, tokenizer_args, model_args)
    if model_args.drop_mult != ModelArguments.drop_mult:
        raise ValueError(
            f"--drop_mult {model_args.drop_mult} has no effect in train-classifier: the classifier's dropouts are "
            "scaled by --classifier_drop_mult. Use that."
        )
    check_model_settings(
        None if args.model_name_or_path else model_args,
        drop_mult_flag="classifier_drop_mult",
        # unset: checked at the larger scale the stage may choose (resolve_classifier_drop_mult, once the data is in)
        drop_mult=SMALL_DATA_DROP_MULT if args.classifier_drop_mult is None else args.classifier_drop_mult,
        bptt=args.classifier_bptt,
        max_len=args.classifier_max_len,
        **CLASSIFIER_DROPOUTS,
    )
    training_args = resolve_gradual_unfreezing(args, training_args)
    plan = start_stage("train-classifier", training_args, args, data_args, tokenizer_args, model_args)
    # The language model and its tokenizer first: a wrong path fails before any data work.
    tokenizer = None
    if args.model_name_or_path:
        require_model_folder(args.model_name_or_path, "language model")
        check_folder_kind(args.model_name_or_path, ("language model",), "language model")
        tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
        check_tokenizer_fits(tokenizer, AutoConfig.from_pretrained(args.model_name_or_path), args.model_name_or_path)
    elif tokenizer_args.tokenizer_name_or_path:
        require_model_folder(tokenizer_args.tokenizer_name_or_path, "tokenizer")
    if args.normalize_target and data_args.target_kind != REGRESSION:
        raise ValueError("--normalize_target standardises a regression target: add --problem_type regression.")
    dataset, labels, problem_type = load_targets(data_args)
    if "unsupervised" in dataset:  # imdb's unlabelled reviews are language-model text
        del dataset["unsupervised"]
    training_args = resolve_label_smoothing(args, training_args, len(dataset["train"]), problem_type)
    args = resolve_classifier_drop_mult(args, len(dataset["train"]), problem_type)
    plan = replace(plan, training_args=training_args)
    weights = class_weights(args.class_weights, dataset["train"], labels, problem_type)
    scale = target_scale(dataset["train"]) if args.normalize_target else {}
    tokenizer = tokenizer or tokenizer_for_every_process(tokenizer_args, dataset["train"], training_args)
    with training_args.main_process_first(desc="tokenising"):  # the other processes load the cached result
        tokenized = prepare_classification_dataset(dataset, tokenizer, num_proc=data_args.num_proc)
    model = build_classifier(args, model_args, tokenizer, labels, problem_type, **scale)
    return train_and_finish_stage(
        plan,
        ClassifierTrainer,
        model,
        tokenizer,
        tokenized,
        evaluate_test=True,
        labels=labels,
        problem_type=problem_type,
        base_model=args.model_name_or_path,
        trainer_kwargs={"class_weights": weights},
        after_training=choose_threshold if problem_type == MULTI_LABEL else None,
    )
