"""The ``label`` column as a `ClassLabel` whose sorted names come from train: missing labels, a single class and
labels an evaluation split has that train never saw are refused; unlabelled splits hold -1."""

import datasets
import pyarrow as pa
import pyarrow.compute as pc

from .splits import TRAIN_SPLIT
from .text_columns import require_column


def encode_labels(dataset: datasets.DatasetDict, label_column: str, unlabelled_splits) -> datasets.DatasetDict:
    """Rename the label column to ``label`` and make it a ClassLabel whose names come from train.

    Each label's class name is the value as the file writes it (`label_name`: ``"2.0"``, ``"0.5"``, ``"true"``,
    ``"spam"``), and every row is encoded through that same name, so whatever the column's type (ints, floats,
    booleans, or a JSON column mixing numbers and strings) a row's class is the label its file gives it."""
    labelled = [name for name in dataset if name not in unlabelled_splits]
    dataset = require_column(dataset, label_column, "label", "Label", splits=labelled)
    if TRAIN_SPLIT not in labelled:
        raise ValueError(f"Labels need a {TRAIN_SPLIT!r} split to define the classes; splits: {list(dataset)}.")

    existing = dataset[TRAIN_SPLIT].features["label"]
    train_type = dataset[TRAIN_SPLIT].data.column("label").type
    if isinstance(existing, datasets.ClassLabel):  # e.g. loaded from the Hub
        class_names = existing.names
    else:
        class_names = [label_name(value) for value in _sorted_labels(_label_values(dataset[TRAIN_SPLIT], TRAIN_SPLIT))]
    class_label = datasets.ClassLabel(names=class_names)
    class_ids = {name: index for index, name in enumerate(class_names)}

    encoded = {}
    for split_name, split in dataset.items():
        if split_name in unlabelled_splits:
            encoded[split_name] = _mark_unlabelled(split, class_label)
            continue
        if not isinstance(split.features["label"], datasets.ClassLabel):
            names = [label_name(value) for value in _label_values(split, split_name, like=train_type)]
            unseen = sorted(set(names) - class_ids.keys())
            if unseen:
                rows = [row for row, name in enumerate(names) if name not in class_ids][:10]
                raise ValueError(
                    f"Split {split_name!r} has label(s) {unseen} that the train split never uses "
                    f"(rows {rows}); train's labels are {class_names}."
                )
            ids = [class_ids[name] for name in names]
            split = split.remove_columns("label").add_column("label", ids, feature=class_label)
        elif split.features["label"].names != class_names:
            raise ValueError(
                f"Split {split_name!r} has classes {split.features['label'].names}, train has {class_names}."
            )
        encoded[split_name] = split
    if len(class_names) < 2:
        raise ValueError(
            f"Label column {label_column!r} of split {TRAIN_SPLIT!r} holds a single class ({class_names[0]!r}): a "
            "classifier needs at least two. Check --label_column, or give data with more classes."
        )
    return datasets.DatasetDict(encoded)


def label_name(value) -> str:
    """A label's class name: the value as a file writes it. Python's str, except booleans in JSON's spelling (``true``,
    as a CSV or JSON file has them); floats keep their decimal point (``2.0``: a float column of star ratings that
    pandas wrote as 1.0-5.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sorted_labels(values: list) -> list:
    """The distinct labels in order: numbers by value, then strings (a JSON column may mix both)."""
    distinct = {label_name(value): value for value in values}
    return sorted(distinct.values(), key=lambda value: (isinstance(value, str), value))


def _label_values(split: datasets.Dataset, split_name: str, like: pa.DataType | None = None) -> list:
    """The split's labels as Python values (a JSON column decoded); numbers are read as train's number type when it
    holds them exactly (a test file of 1, 2 against train's 1.0, 2.0). Missing labels are an error naming rows."""
    labels = split.data.column("label")
    missing = pc.indices_nonzero(pc.is_null(labels)).to_pylist()
    if missing:
        raise ValueError(f"Split {split_name!r}, column 'label': missing label at row(s) {missing[:10]}.")
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if like is not None and labels.type != like and any(test(like) for test in numeric):
        if any(test(labels.type) for test in numeric):
            try:
                return pc.cast(labels, like, safe=True).to_pylist()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    return list(split["label"])


def _mark_unlabelled(split: datasets.Dataset, class_label: datasets.ClassLabel) -> datasets.Dataset:
    """Labels of an unlabelled split become -1, the Hub's convention (imdb ``unsupervised``)."""
    if "label" in split.column_names:
        labels = split.data.column("label")
        is_hub_unlabelled = (
            isinstance(split.features["label"], datasets.ClassLabel) and pc.all(pc.equal(labels, -1)).as_py()
        )
        if labels.null_count != len(labels) and not is_hub_unlabelled:
            raise ValueError("An unlabelled split holds labels; load it as a labelled split instead.")
        split = split.remove_columns("label")
    return split.add_column("label", [-1] * len(split), feature=class_label)
