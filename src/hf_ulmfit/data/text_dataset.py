"""Load text datasets as a `datasets.DatasetDict` with a ``text`` column and, when labelled, a ``label`` ClassLabel.

Two sources:

- Named datasets (``NAMED_DATASETS``: imdb, trec, sms_spam, names, wikipedia, wikitext-2, wikitext-103) are read
  from Parquet files in a local data folder (``data_dir=``, else the ``HF_ULMFIT_DATA`` environment variable).
  Where the folder does not have them and the Hub is reachable, their Hub counterparts are loaded instead.
- Any CSV, JSON/JSONL, Parquet or text file, or a folder of them (splits from file names, as `datasets` infers:
  ``train.csv``, ``test.csv``, ``validation.csv``...), with configurable text and label columns.

A named dataset may hold out a fixed ``test`` split from one of its files (wikipedia: the last 300 articles of
``wiki-07.parquet``) and leave named articles out of train (wikipedia: the two that WikiText's test split also holds);
both are removed from train with `datasets` filters over the id and title columns, and the counts are logged.

Datasets without a test split (sms_spam, names, a single file) get a stratified one, made with a fixed seed;
``validation_size`` carves a validation split out of train the same way. Text kept in several columns (an email's
subject and body) is joined into one ``text``, each field starting with the field marker ``xxfld`` (fastai's
``text_cols``). Bad inputs fail loudly: missing files, files that are not UTF-8 (file, line and byte named), missing
columns (the message lists the available ones), empty texts (split, row and column named), missing labels, a single
class, labels in an evaluation split that train never saw, and too few rows to hold out a split. No row is ever
dropped silently.

The parts, one module each: `named_datasets` (the registry and its loading), `files`, `text_columns`, `labels`
and `splits`; this module puts them in order.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import datasets

from .files import load_files
from .labels import encode_labels
from .named_datasets import NAMED_DATASETS, load_named
from .splits import TRAIN_SPLIT, hold_out
from .text_columns import all_column_names, check_texts, select_text_column


def load_text_dataset(
    name_or_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    text_column: str | Sequence[str] = "text",
    label_column: str | None = None,
    test_size: float | int = 0.2,
    validation_size: float | int | None = None,
    seed: int = 42,
    max_files: int | None = None,
    allow_empty_text: bool | None = None,
) -> datasets.DatasetDict:
    """Load a named dataset or a file/folder as a DatasetDict with ``text`` (and ``label``) columns.

    Args:
        name_or_path: a name in ``NAMED_DATASETS`` or a path to a CSV/TSV/JSON/JSONL/Parquet/TXT file or a folder.
        data_dir: folder holding the named datasets (default: ``$HF_ULMFIT_DATA``).
        text_column: column with the text, renamed to ``text`` (named datasets: ``text``); several columns (a list,
            or names separated by commas) are joined into ``text``, each field preceded by ``xxfld``.
        label_column: column with the labels, renamed to ``label`` and encoded as a `ClassLabel` with sorted names.
            Default: the dataset's label column (``label``; trec ``coarse_label``, or pass ``"fine_label"``);
            for files ``label`` if present, else the data is treated as unlabelled. ``""`` ignores labels.
        test_size: fraction (or row count) for the stratified test split of data that has none.
        validation_size: if set, fraction (or row count) of train moved to a stratified ``validation`` split.
        seed: seed of the splits, so they are the same on every run.
        max_files: read only the first N files of multi-file splits (wikipedia has 8 shards, ~65M words).
        allow_empty_text: accept blank texts (default: only for line-based corpora, wikipedia and wikitext).

    Returns:
        `datasets.DatasetDict`; label columns are `ClassLabel` whose names come from train, so ``label`` ids
        agree across splits (rows without a label in an unlabelled split, e.g. imdb ``unsupervised``, hold -1).
    """
    name = str(name_or_path)
    if name in NAMED_DATASETS and not Path(name).exists():
        spec = NAMED_DATASETS[name]
        dataset = load_named(name, spec, data_dir, max_files)
        label_column = spec.label_column if label_column is None else label_column
        allow_empty_text = spec.allow_empty_text if allow_empty_text is None else allow_empty_text
        unlabelled_splits = spec.unlabelled_splits
    else:
        path = Path(name_or_path)
        if not path.exists():
            known = ", ".join(NAMED_DATASETS)
            raise FileNotFoundError(f"{str(path)!r} is neither a file, a folder, nor a named dataset ({known}).")
        dataset = load_files(path, max_files)
        unlabelled_splits = ()
        if label_column is None:
            label_column = "label" if "label" in all_column_names(dataset) else ""
        allow_empty_text = bool(allow_empty_text)

    dataset = select_text_column(dataset, text_column)
    check_texts(dataset, allow_empty_text)
    if label_column:
        dataset = encode_labels(dataset, label_column, unlabelled_splits)
    if "test" not in dataset and set(dataset) == {TRAIN_SPLIT} and label_column:
        dataset = hold_out(dataset, "test", test_size, seed, remedy="add rows or give a test file (test.csv)")
    if validation_size:
        if "validation" in dataset:
            raise ValueError(f"{name!r} already has a validation split; leave validation_size unset.")
        dataset = hold_out(dataset, "validation", validation_size, seed, remedy="add rows or change validation_size")
    return dataset
