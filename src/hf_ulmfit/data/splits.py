"""Splits held out of train: stratified when labelled, reproducible, and refused with the numbers when train is
too small."""

from collections import Counter

import datasets


#: Split whose labels define the classes; every other split must use only these.
TRAIN_SPLIT = "train"


def hold_out(
    dataset: datasets.DatasetDict, new_split: str, size: float | int, seed: int, remedy: str = "add rows"
) -> datasets.DatasetDict:
    """Move a stratified (when labelled) share of train to ``new_split``, reproducibly.

    Too few rows (or classes too small to stratify) is a ValueError naming the split, its size and `remedy`.
    """
    train = dataset[TRAIN_SPLIT]
    stratify = (
        "label" if "label" in train.column_names and isinstance(train.features["label"], datasets.ClassLabel) else None
    )
    rows = len(train)
    held = -(-size * rows // 1) if isinstance(size, float) else size  # the count `datasets` rounds a fraction up to
    if not (isinstance(size, float) and 0 < size < 1 or isinstance(size, int) and size >= 1):
        raise ValueError(f"The {new_split} share must be a fraction in (0, 1) or a row count >= 1, got {size!r}.")
    if held < 1 or rows - held < 1:
        raise ValueError(
            f"Split {TRAIN_SPLIT!r} has {rows} row(s): too few to hold out a {new_split!r} split of {size} and keep "
            f"rows to train on; {remedy}."
        )
    try:
        parts = train.train_test_split(test_size=size, seed=seed, stratify_by_column=stratify)
    except ValueError as error:
        counts = Counter(train.features["label"].int2str(label) for label in train["label"]) if stratify else {}
        raise ValueError(
            f"Cannot hold out a stratified {new_split!r} split of {size} from {TRAIN_SPLIT!r} ({rows} rows"
            f"{', per class ' + str(dict(counts)) if counts else ''}): {str(error).rstrip('.')}. "
            f"{remedy[0].upper() + remedy[1:]}."
        ) from None
    dataset = datasets.DatasetDict(dict(dataset))
    dataset[TRAIN_SPLIT] = parts["train"]
    dataset[new_split] = parts["test"]
    return dataset
