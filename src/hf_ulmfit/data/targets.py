"""Targets other than one class per document: several labels per document (multi-label) or a number (regression).

`load_text_dataset` encodes a single-label column as a `ClassLabel`; `encode_targets` turns the raw columns of a
dataset loaded without that encoding into a ``label`` column of floats, the form transformers' classification loss
takes for ``problem_type="multi_label_classification"`` (multi-hot rows, BCE) and ``"regression"`` (one value, MSE):

- multi-label from one column holding lists (JSON arrays, Parquet lists), from one string column split on a
  separator (``"sports|politics"``), or from several 0/1 columns (one per label, named by the column);
- regression from one numeric column.

The label names come from train; a label in another split that train never uses, a missing value, a list in a
string column, a 0/1 column holding 2, and a target without spread are each an error naming the split, the column and
the rows. No row is dropped.
"""

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .splits import TRAIN_SPLIT


SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
REGRESSION = "regression"
PROBLEM_TYPES = (SINGLE_LABEL, MULTI_LABEL, REGRESSION)


def _rows(mask) -> str:
    rows = pc.indices_nonzero(pc.fill_null(mask, True)).to_pylist()
    return ", ".join(map(str, rows[:10])) + (f" (and {len(rows) - 10} more)" if len(rows) > 10 else "")


def _require(split: datasets.Dataset, split_name: str, column: str, flag: str) -> pa.ChunkedArray:
    if column not in split.column_names:
        raise ValueError(
            f"{flag} {column!r} not found in split {split_name!r}; available columns: {split.column_names}."
        )
    values = split.data.column(column)
    if values.null_count:
        raise ValueError(
            f"Split {split_name!r}, column {column!r}: missing value at row(s) {_rows(pc.is_null(values))}."
        )
    return values


def _label_lists(split, split_name: str, column: str, separator: str | None) -> list[list[str]]:
    values = _require(split, split_name, column, "Label column")
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return [[str(label) for label in row] for row in values.to_pylist()]
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise ValueError(
            f"Label column {column!r} of split {split_name!r} holds {values.type}: multi-label targets need a list "
            "per row (JSON/Parquet), labels joined by --label_separator, or several 0/1 --label_columns."
        )
    if separator is None:
        raise ValueError(
            f"Label column {column!r} of split {split_name!r} holds strings: pass --label_separator (e.g. '|') to "
            "split them into labels, or give a list per row."
        )
    return [[part.strip() for part in text.split(separator) if part.strip()] for text in values.to_pylist()]


def _from_label_lists(dataset, column: str, separator: str | None) -> tuple[dict, list[str]]:
    lists = {name: _label_lists(split, name, column, separator) for name, split in dataset.items()}
    names = sorted({label for row in lists[TRAIN_SPLIT] for label in row})
    index = {label: i for i, label in enumerate(names)}
    rows = {}
    for split_name, split_lists in lists.items():
        unseen = {label for row in split_lists for label in row} - index.keys()
        if unseen:
            where = [i for i, row in enumerate(split_lists) if set(row) & unseen][:10]
            raise ValueError(
                f"Split {split_name!r} has label(s) {sorted(unseen)} that the train split never uses (rows {where}); "
                f"train's labels are {names}."
            )
        hot = np.zeros((len(split_lists), len(names)), dtype=np.float32)
        for row, labels in enumerate(split_lists):
            hot[row, [index[label] for label in labels]] = 1.0
        rows[split_name] = hot
    return rows, names


def _from_indicator_columns(dataset, columns: list[str]) -> tuple[dict, list[str]]:
    rows = {}
    for split_name, split in dataset.items():
        parts = []
        for column in columns:
            values = pc.cast(_require(split, split_name, column, "Label column (--label_columns)"), pa.float32())
            bad = pc.invert(pc.is_in(values, value_set=pa.array([0.0, 1.0], pa.float32())))
            if pc.any(bad).as_py():
                raise ValueError(
                    f"Split {split_name!r}, column {column!r}: --label_columns take 0/1 values, got other values at "
                    f"row(s) {_rows(bad)}."
                )
            parts.append(values.to_numpy())
        rows[split_name] = np.stack(parts, 1).astype(np.float32)
    return rows, list(columns)


def _numbers(split, split_name: str, column: str) -> np.ndarray:
    values = _require(split, split_name, column, "Label column")
    try:
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError(
            f"Label column {column!r} of split {split_name!r} holds {values.type} that is not numeric: regression "
            "needs a number per row."
        ) from None
    if not np.isfinite(numbers).all():
        rows = np.flatnonzero(~np.isfinite(numbers))[:10].tolist()
        raise ValueError(f"Split {split_name!r}, column {column!r}: NaN or infinite value at row(s) {rows}.")
    return numbers.astype(np.float32)


def encode_targets(
    dataset: datasets.DatasetDict,
    problem_type: str,
    label_column: str | None = None,
    label_columns: list[str] | None = None,
    label_separator: str | None = None,
) -> tuple[datasets.DatasetDict, list[str]]:
    """The dataset with a float ``label`` column for `problem_type` (multi-label: multi-hot rows; regression: one
    value), the source columns removed; and the label names (regression: the target column's name)."""
    if problem_type not in (MULTI_LABEL, REGRESSION):
        raise ValueError(f"encode_targets handles {MULTI_LABEL} and {REGRESSION}, not {problem_type!r}.")
    if TRAIN_SPLIT not in dataset:
        raise ValueError(f"Targets need a {TRAIN_SPLIT!r} split to define them; splits: {list(dataset)}.")
    label_column = label_column or "label"
    if problem_type == REGRESSION:
        if label_columns:
            raise ValueError("--label_columns are 0/1 columns of a multi-label target, not a regression target.")
        rows = {name: _numbers(split, name, label_column) for name, split in dataset.items()}
        if np.ptp(rows[TRAIN_SPLIT]) == 0:
            raise ValueError(
                f"Label column {label_column!r} of split {TRAIN_SPLIT!r} holds a single value "
                f"({rows[TRAIN_SPLIT][0]}): there is nothing to regress. Check --label_column."
            )
        feature, names, sources = datasets.Value("float32"), [label_column], [label_column]
    else:
        if label_columns:
            rows, names = _from_indicator_columns(dataset, label_columns)
            sources = list(label_columns)
        else:
            rows, names = _from_label_lists(dataset, label_column, label_separator)
            sources = [label_column]
        if len(names) < 2:
            raise ValueError(
                f"The multi-label target of split {TRAIN_SPLIT!r} has {len(names)} label(s) ({names}): a classifier "
                "needs at least two. Check --label_column / --label_columns."
            )
        feature = datasets.Sequence(datasets.Value("float32"), length=len(names))
    encoded = {}
    for split_name, split in dataset.items():
        split = split.remove_columns([c for c in sources + ["label"] if c in split.column_names])
        encoded[split_name] = split.add_column("label", rows[split_name].tolist(), feature=feature)
    return datasets.DatasetDict(encoded), names
