"""From `DataArguments` to the splits a stage trains and evaluates on."""

import logging

import datasets
import numpy as np

from ..data import load_text_dataset
from ..data.named_datasets import NAMED_DATASETS
from ..data.splits import TRAIN_SPLIT, hold_out
from ..data.targets import SINGLE_LABEL, encode_targets
from .arguments import DataArguments


logger = logging.getLogger(__name__)


def load_targets(data_args: DataArguments) -> tuple[datasets.DatasetDict, list[str], str]:
    """The splits of a classifier's data (`load_splits`) with the ``label`` its problem type needs, the label names
    and the problem type: a ClassLabel for one class per text, float multi-hot rows for several labels per text,
    a float for regression (`encode_targets`; a test split of 20% is held out when the data has none, as
    `load_text_dataset` does for classes)."""
    problem_type = data_args.target_kind
    if problem_type == SINGLE_LABEL:
        dataset = load_splits(data_args, labelled=True)
        return dataset, dataset["train"].features["label"].names, problem_type
    label_column = data_args.label_column
    if label_column is None and data_args.dataset in NAMED_DATASETS:
        label_column = NAMED_DATASETS[data_args.dataset].label_column
    dataset = load_text_dataset(
        data_args.dataset,
        data_dir=data_args.data_dir,
        text_column=data_args.text_column,
        label_column="",
        seed=data_args.split_seed,
        max_files=data_args.max_files,
    )
    if data_args.dataset in NAMED_DATASETS:  # imdb's unlabelled reviews have no target
        for split in NAMED_DATASETS[data_args.dataset].unlabelled_splits:
            dataset.pop(split, None)
    dataset, names = encode_targets(
        dataset,
        problem_type,
        label_column=label_column,
        label_columns=data_args.label_columns,
        label_separator=data_args.label_separator,
    )
    if set(dataset) == {TRAIN_SPLIT}:
        dataset = hold_out(dataset, "test", 0.2, data_args.split_seed, remedy="add rows or give a test file")
    return _with_validation_and_limits(dataset, data_args), names, problem_type


def load_splits(data_args: DataArguments, labelled: bool) -> datasets.DatasetDict:
    """Load the dataset with ``train``, ``validation`` and (when the data has one) ``test`` splits.

    A validation split is carved from train (stratified for labelled data) when the data has none. Row limits
    (`max_train_samples`, `max_eval_samples`) take a random subset seeded by `split_seed`, in the data's order: the
    first rows of a file sorted by label (IMDb's are) would hold one class. Unlabelled text (a language model's) may
    hold blank documents, from files as from the named corpora: the LM stages drop them with a count in the log
    (`drop_blank_documents`); a classifier's blank texts are refused.
    """
    dataset = load_text_dataset(
        data_args.dataset,
        data_dir=data_args.data_dir,
        text_column=data_args.text_column,
        label_column=data_args.label_column if labelled else "",
        seed=data_args.split_seed,
        max_files=data_args.max_files,
        allow_empty_text=None if labelled else True,
    )
    if "train" not in dataset:
        raise ValueError(f"{data_args.dataset!r} has no 'train' split (splits: {list(dataset)}).")
    if labelled and "label" not in dataset["train"].column_names:
        raise ValueError(
            f"{data_args.dataset!r} has no label column: 'label' not found in split 'train' (columns: "
            f"{dataset['train'].column_names}); name it with --label_column."
        )
    dataset = _with_validation_and_limits(dataset, data_args)
    if labelled:
        require_two_classes(dataset["train"], data_args)
        warn_of_multi_label_names(dataset["train"].features["label"].names, data_args)
    return dataset


def _with_validation_and_limits(dataset: datasets.DatasetDict, data_args: DataArguments) -> datasets.DatasetDict:
    """A validation split carved from train when there is none; then the row limits."""
    if "validation" not in dataset:
        size = data_args.validation_size
        dataset = hold_out(
            dataset,
            "validation",
            int(size) if size >= 1 else size,
            data_args.split_seed,
            remedy="add rows, give a validation file (validation.csv), or change --validation_size",
        )
    limits = {"train": data_args.max_train_samples}
    limits.update({split: data_args.max_eval_samples for split in dataset if split != "train"})
    for split, limit in limits.items():
        if limit is not None and split in dataset and limit < len(dataset[split]):
            dataset[split] = seeded_subset(dataset[split], limit, data_args.split_seed)
    return dataset


MULTI_LABEL_SEPARATORS = ("|", ";", ",")


def warn_of_multi_label_names(labels: list[str], data_args: DataArguments) -> str | None:
    """A label column whose class names look like sets of labels (``DESC|HUM``, ``DESC|LOC``) trains a
    single-label classifier with one class per combination: say so, once, as a warning (such names can be
    meant). Returns the separator it saw, if any."""
    for separator in MULTI_LABEL_SEPARATORS:
        joined = [label for label in labels if separator in label]
        parts = {part.strip() for label in joined for part in label.split(separator)}
        if len(joined) >= 2 and len(parts) < len(labels):
            logger.warning(
                "%s: %d of the %d class names of %r join several labels with %r (e.g. %r): each combination is "
                "trained as a class of its own (single-label). If a row may carry several labels, pass "
                "--label_separator %r (multi-label).",
                data_args.dataset,
                len(joined),
                len(labels),
                data_args.label_column or "label",
                separator,
                joined[0],
                separator,
            )
            return separator
    return None


def seeded_subset(split: datasets.Dataset, size: int, seed: int) -> datasets.Dataset:
    """`size` rows drawn at random (seeded), kept in the split's order."""
    rows = np.sort(np.random.default_rng(seed).choice(len(split), size=size, replace=False))
    return split.select(rows)


def require_two_classes(train: datasets.Dataset, data_args: DataArguments) -> None:
    """A classifier needs two classes among the rows it trains on (a row limit can leave only one)."""
    present = sorted(set(train["label"]))
    if len(present) < 2:
        names = [train.features["label"].int2str(label) for label in present]
        raise ValueError(
            f"The {len(train)} training rows of {data_args.dataset!r} hold a single class ({names}): a classifier "
            "needs "
            "at least two. Raise --max_train_samples or check --label_column."
        )


def drop_blank_documents(dataset: datasets.DatasetDict) -> datasets.DatasetDict:
    """Language-model corpora (Wikipedia, WikiText) contain blank lines and articles: they hold no tokens to learn
    from, so they are removed, and the count is logged rather than dropped silently."""
    kept = dataset.filter(lambda batch: [bool(text.strip()) for text in batch["text"]], batched=True)
    for split in dataset:
        removed = len(dataset[split]) - len(kept[split])
        if removed:
            logger.info("%s: removed %d blank documents of %d", split, removed, len(dataset[split]))
    return kept


def language_model_texts(dataset: datasets.DatasetDict, extra_splits: tuple[str, ...] = ()) -> datasets.Dataset:
    """The training text of a language model: ``train`` plus any `extra_splits` (e.g. IMDb's ``unsupervised``)."""
    missing = [split for split in extra_splits if split not in dataset]
    if missing:
        raise ValueError(f"splits {missing} not found; available: {list(dataset)}")
    parts = [dataset["train"]] + [dataset[split] for split in extra_splits]
    return datasets.concatenate_datasets([part.select_columns(["text"]) for part in parts])
