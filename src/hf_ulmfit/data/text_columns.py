"""The ``text`` column: a named column renamed, or several joined (each field after the ``xxfld`` marker, fastai's
``text_cols``), and blank texts refused with the split, row and column named."""

from collections.abc import Sequence

import datasets
import pyarrow as pa
import pyarrow.compute as pc

from ..tokenization.special_tokens import FIELD_TOKEN
from .columns import text_columns


def all_column_names(dataset: datasets.DatasetDict) -> set[str]:
    return {column for split in dataset.values() for column in split.column_names}


def require_column(
    dataset: datasets.DatasetDict, column: str, standard_name: str, role: str, splits=None
) -> datasets.DatasetDict:
    """Check that `column` is in every split of `splits` (default: all) and rename it to `standard_name`."""
    for split_name in splits if splits is not None else dataset:
        split = dataset[split_name]
        if column not in split.column_names:
            raise ValueError(
                f"{role} column {column!r} not found in split {split_name!r}; available columns: {split.column_names}."
            )
    if column != standard_name:
        if standard_name in all_column_names(dataset):
            raise ValueError(
                f"Cannot rename {column!r} to {standard_name!r}: a {standard_name!r} column already exists."
            )
        dataset = dataset.rename_column(column, standard_name)
    return dataset


def select_text_column(dataset: datasets.DatasetDict, text_column: str | Sequence[str]) -> datasets.DatasetDict:
    columns = text_columns(text_column)
    if len(columns) == 1:
        return require_column(dataset, columns[0], "text", "Text")
    return _join_text_columns(dataset, columns)


def _join_text_columns(dataset: datasets.DatasetDict, columns: list[str]) -> datasets.DatasetDict:
    """One ``text`` per row: each column's value preceded by the field marker, "xxfld subject xxfld body".

    No space goes before a marker: the tokenizers would read it as a token of its own.
    """
    for split_name, split in dataset.items():
        for column in columns:
            if column not in split.column_names:
                raise ValueError(
                    f"Text column {column!r} not found in split {split_name!r}; available columns: "
                    f"{split.column_names}."
                )
            values = split.data.column(column)
            if not (values.type in ("string", "large_string") or pa.types.is_null(values.type)):
                raise ValueError(f"Column {column!r} of split {split_name!r} holds {values.type}, not strings.")
    if "text" in all_column_names(dataset) and "text" not in columns:
        raise ValueError(f"Cannot join {columns} into 'text': a 'text' column already exists.")

    def join(batch):
        return {
            "text": [
                "".join(f"{FIELD_TOKEN} {'' if value is None else value}" for value in values)
                for values in zip(*(batch[column] for column in columns))
            ]
        }

    for split_name, split in dataset.items():
        blank = None
        for column in columns:
            # A field that is empty (or missing: CSV readers give an empty field as null) is joined as it is; a row
            # is empty only when all its fields are.
            values = split.data.column(column)
            if pa.types.is_null(values.type):
                column_blank = pa.chunked_array([pa.array([True] * len(values))])
            else:
                column_blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
            blank = column_blank if blank is None else pc.and_(blank, column_blank)
        _raise_for_rows(split_name, "/".join(columns), blank, "empty text (every field blank or missing)")
    return dataset.map(
        join,
        batched=True,
        remove_columns=[column for column in columns if column != "text"],
        desc="Joining text columns",
    )


def _raise_for_rows(split_name: str, column: str, bad, what: str) -> None:
    bad_rows = pc.indices_nonzero(pc.fill_null(bad, True)).to_pylist()
    if bad_rows:
        shown = ", ".join(map(str, bad_rows[:10])) + (
            f" (and {len(bad_rows) - 10} more)" if len(bad_rows) > 10 else ""
        )
        raise ValueError(f"Split {split_name!r}, column {column!r}: {what} at row(s) {shown}.")


def check_texts(dataset: datasets.DatasetDict, allow_empty_text: bool) -> None:
    """Missing texts are always an error; blank ones unless allowed. Vectorised with pyarrow (100k+ rows)."""
    for split_name, split in dataset.items():
        texts = split.data.column("text")
        if not (texts.type == "string" or texts.type == "large_string"):
            raise ValueError(f"Column 'text' of split {split_name!r} holds {texts.type}, not strings.")
        bad = pc.is_null(texts)
        if not allow_empty_text:
            bad = pc.or_(bad, pc.equal(pc.utf8_trim_whitespace(texts), ""))
        _raise_for_rows(split_name, "text", bad, "missing text" if allow_empty_text else "missing or empty text")
