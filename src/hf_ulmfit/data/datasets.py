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
"""

import logging
import os
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from datasets.exceptions import DatasetGenerationError

from ..tokenization.special_tokens import FIELD_TOKEN
from .columns import text_columns


logger = logging.getLogger(__name__)

DATA_DIR_ENV = "HF_ULMFIT_DATA"
#: Split whose labels define the classes; every other split must use only these.
TRAIN_SPLIT = "train"
_FILE_BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".txt": "text",
}


@dataclass(frozen=True)
class HeldOutSplit:
    """A split made of the last `count` rows of one local file, which train never holds (rows matched by `id_column`).

    It is read from that file alone, so it is the same whatever ``max_files`` loads of train.
    """

    split: str
    file: str
    count: int
    id_column: str = "id"


@dataclass(frozen=True)
class NamedDataset:
    """Where a named dataset lives locally and on the Hub, and how its columns map to ``text``/``label``."""

    folder: str
    #: split name -> file names (glob patterns) inside ``folder``.
    split_files: dict[str, list[str]]
    label_column: str | None = "label"
    #: Splits that carry no labels (their label is -1, as on the Hub).
    unlabelled_splits: tuple[str, ...] = ()
    #: Line-based corpora have blank lines by design.
    allow_empty_text: bool = False
    hub_path: str | None = None
    hub_config: str | None = None
    #: Hub column name -> our name.
    hub_renames: dict[str, str] = field(default_factory=dict)
    hub_splits: dict[str, str] = field(default_factory=dict)
    #: Local files only: a split held out of one file (and removed from train).
    held_out: HeldOutSplit | None = None
    #: Local files only: rows of train whose `title_column` is one of these are removed, for `exclusion_reason`.
    excluded_titles: tuple[str, ...] = ()
    title_column: str = "title"
    exclusion_reason: str = ""


NAMED_DATASETS: dict[str, NamedDataset] = {
    "imdb": NamedDataset(
        folder="imdb",
        split_files={"train": ["train.parquet"], "test": ["test.parquet"], "unsupervised": ["unsupervised.parquet"]},
        unlabelled_splits=("unsupervised",),
        hub_path="stanfordnlp/imdb",
    ),
    "trec": NamedDataset(
        folder="trec",
        split_files={"train": ["train.parquet"], "test": ["test.parquet"]},
        label_column="coarse_label",  # the paper's 6-class task; "fine_label" gives the 50 classes
        hub_path="CogComp/trec",
    ),
    "sms_spam": NamedDataset(
        folder="sms_spam",
        split_files={"train": ["all.parquet"]},  # no official split: a stratified test split is made
        hub_path="ucirvine/sms_spam",
        hub_renames={"sms": "text"},
    ),
    "names": NamedDataset(folder="names", split_files={"train": ["all.parquet"]}),
    "wikipedia": NamedDataset(
        folder="wikipedia",
        split_files={"train": ["wiki-*.parquet"]},
        label_column=None,
        # The local 2015 dump stands in for WikiText-103's training articles; its last 300 articles (~519k words)
        # are the held-out test split, and WikiText-103's test articles found in it are left out of train.
        held_out=HeldOutSplit(split="test", file="wiki-07.parquet", count=300),
        excluded_titles=("Nero", "American Beauty (1999 film)"),
        exclusion_reason="they are articles of WikiText's test split",
        hub_path="Salesforce/wikitext",
        hub_config="wikitext-103-raw-v1",
        hub_splits={"train": "train", "test": "test"},
        allow_empty_text=True,
    ),
    "wikitext-2": NamedDataset(
        folder="wikitext",
        split_files={"validation": ["wikitext-2-valid.parquet"], "test": ["wikitext-2-test.parquet"]},
        label_column=None,
        allow_empty_text=True,
        hub_path="Salesforce/wikitext",
        hub_config="wikitext-2-v1",
        hub_splits={"validation": "validation", "test": "test"},
    ),
    "wikitext-103": NamedDataset(
        folder="wikitext",
        split_files={"validation": ["wikitext-103-valid.parquet"], "test": ["wikitext-103-test.parquet"]},
        label_column=None,
        allow_empty_text=True,
        hub_path="Salesforce/wikitext",
        hub_config="wikitext-103-v1",
        hub_splits={"validation": "validation", "test": "test"},
    ),
}


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
        dataset = _load_named(name, spec, data_dir, max_files)
        label_column = spec.label_column if label_column is None else label_column
        allow_empty_text = spec.allow_empty_text if allow_empty_text is None else allow_empty_text
        unlabelled_splits = spec.unlabelled_splits
    else:
        dataset = _load_files(Path(name_or_path), max_files)
        unlabelled_splits = ()
        if label_column is None:
            label_column = "label" if "label" in _all_column_names(dataset) else ""
        allow_empty_text = bool(allow_empty_text)

    dataset = _select_text_column(dataset, text_column)
    _check_texts(dataset, allow_empty_text)
    if label_column:
        dataset = _encode_labels(dataset, label_column, unlabelled_splits)
    if "test" not in dataset and set(dataset) == {TRAIN_SPLIT} and label_column:
        dataset = hold_out(dataset, "test", test_size, seed, remedy="add rows or give a test file (test.csv)")
    if validation_size:
        if "validation" in dataset:
            raise ValueError(f"{name!r} already has a validation split; leave validation_size unset.")
        dataset = hold_out(dataset, "validation", validation_size, seed, remedy="add rows or change validation_size")
    return dataset


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$HF_ULMFIT_DATA``, else None."""
    if data_dir is not None:
        return Path(data_dir)
    from_environment = os.environ.get(DATA_DIR_ENV)
    return Path(from_environment) if from_environment else None


def _load_named(name: str, spec: NamedDataset, data_dir, max_files: int | None) -> datasets.DatasetDict:
    root = resolve_data_dir(data_dir)
    folder = root / spec.folder if root is not None else None
    if folder is not None and folder.is_dir():
        split_files = {split: _expand(folder, patterns, max_files) for split, patterns in spec.split_files.items()}
        missing = [
            f"{split}: {folder}/{' '.join(spec.split_files[split])}"
            for split, files in split_files.items()
            if not files
        ]
        if missing:
            raise FileNotFoundError(f"Dataset {name!r}: no file for split(s) {'; '.join(missing)}.")
        dataset = _load_split_files("parquet", split_files)
        if spec.held_out is not None:
            dataset = _hold_out_file_rows(name, dataset, folder, spec.held_out, split_files.get(TRAIN_SPLIT, []))
        if spec.excluded_titles and TRAIN_SPLIT in dataset:
            dataset[TRAIN_SPLIT] = _exclude_titles(name, dataset[TRAIN_SPLIT], spec)
        return dataset
    where = (
        f"{folder} does not exist" if folder is not None else f"no data folder (pass data_dir= or set {DATA_DIR_ENV})"
    )
    if spec.hub_path is not None and not _offline():
        _require_hub_dataset(name, spec, where)
        return _load_from_hub(spec, max_files)
    hub = f" and the Hub ({spec.hub_path}) is offline" if spec.hub_path else " and it has no Hub counterpart"
    raise FileNotFoundError(f"Dataset {name!r} not found: {where}{hub}.")


def _hold_out_file_rows(
    name: str, dataset: datasets.DatasetDict, folder: Path, held_out: HeldOutSplit, train_files: list[str]
) -> datasets.DatasetDict:
    """Add the `held_out` split (the last rows of its file) and remove its rows from train when train read that
    file. Both are views of the memory-mapped Arrow files: a slice, and a batched filter over the id column."""
    path = folder / held_out.file
    if not path.is_file():
        raise FileNotFoundError(f"Dataset {name!r}: the {held_out.split!r} split is held out of {path}, not found.")
    if held_out.split in dataset:
        raise ValueError(f"Dataset {name!r} has a {held_out.split!r} split already; it cannot hold one out.")
    with _naming_undecodable_files([str(path)]):
        rows = datasets.load_dataset("parquet", data_files=[str(path)], split="train")
    if len(rows) < held_out.count:
        raise ValueError(
            f"Dataset {name!r}: {path} has {len(rows)} rows, fewer than the {held_out.count} held out as "
            f"{held_out.split!r}."
        )
    split = rows.select(range(len(rows) - held_out.count, len(rows)))
    dataset = datasets.DatasetDict({**dataset, held_out.split: split})
    if TRAIN_SPLIT in dataset and any(Path(file).resolve() == path.resolve() for file in train_files):
        held_ids = split.data.column(held_out.id_column).to_pylist()
        before = len(dataset[TRAIN_SPLIT])
        dataset[TRAIN_SPLIT] = _without_values(
            dataset[TRAIN_SPLIT],
            held_out.id_column,
            held_ids,
            f"Removing the held-out {held_out.split} rows from train",
        )
        logger.info(
            "%s: excluded %d articles from train: the %s split (the last %d of %s)",
            name,
            before - len(dataset[TRAIN_SPLIT]),
            held_out.split,
            held_out.count,
            held_out.file,
        )
    return dataset


def _exclude_titles(name: str, train: datasets.Dataset, spec: NamedDataset) -> datasets.Dataset:
    """Train without the rows whose title is in ``spec.excluded_titles`` (a batched filter over the title column)."""
    kept = _without_values(train, spec.title_column, spec.excluded_titles, "Removing excluded titles from train")
    if len(kept) != len(train):
        logger.info(
            "%s: excluded %d articles from train (titles among %s): %s",
            name,
            len(train) - len(kept),
            list(spec.excluded_titles),
            spec.exclusion_reason or "excluded by the dataset's definition",
        )
    return kept


def _without_values(split: datasets.Dataset, column: str, values, description: str) -> datasets.Dataset:
    """`split` without the rows whose `column` holds one of `values`: a batched filter that reads that column alone,
    so the memory-mapped text is never loaded."""
    dropped = set(values)
    return split.filter(
        lambda cells: [cell not in dropped for cell in cells], batched=True, input_columns=[column], desc=description
    )


def _expand(folder: Path, patterns: list[str], max_files: int | None) -> list[str]:
    files = sorted(str(path) for pattern in patterns for path in folder.glob(pattern))
    return files[:max_files] if max_files else files


def _offline() -> bool:
    return any(
        os.environ.get(flag, "").upper() in ("1", "ON", "YES", "TRUE")
        for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _require_hub_dataset(name: str, spec: NamedDataset, folder_note: str) -> None:
    """One look-up of the named dataset's Hub repository with a short timeout, so that a machine whose network or
    proxy never answers fails at once, in one line, instead of in the download's retries."""
    from huggingface_hub import constants

    from ..hub.network import failure_in_one_line, look_up_on_hub

    try:
        look_up_on_hub(spec.hub_path, repo_type="dataset")
    except Exception as error:  # noqa: BLE001 - DNS, proxy, timeout, a missing repository: said in one line
        raise OSError(
            f"Dataset {name!r} is not here ({folder_note}), and looking up its Hub counterpart {spec.hub_path} "
            f"on {constants.ENDPOINT} failed ({failure_in_one_line(error)}). Put the data in {DATA_DIR_ENV} (or "
            "pass a folder), or set HF_HUB_OFFLINE=1 to stay offline."
        ) from None


def _load_from_hub(spec: NamedDataset, max_files: int | None) -> datasets.DatasetDict:
    loaded = datasets.load_dataset(spec.hub_path, spec.hub_config)
    wanted = spec.hub_splits or {split: split for split in loaded}
    dataset = datasets.DatasetDict({ours: loaded[theirs] for ours, theirs in wanted.items()})
    if spec.hub_renames:
        dataset = dataset.rename_columns(spec.hub_renames)
    if max_files and "train" in dataset and spec.folder == "wikipedia":
        # The Hub corpus is one table: take the same share of it as max_files of the 8 local shards would.
        dataset["train"] = dataset["train"].select(range(len(dataset["train"]) * max_files // 8))
    return dataset


def _load_files(path: Path, max_files: int | None) -> datasets.DatasetDict:
    if not path.exists():
        known = ", ".join(NAMED_DATASETS)
        raise FileNotFoundError(f"{str(path)!r} is neither a file, a folder, nor a named dataset ({known}).")
    if path.is_file():
        return _load_split_files(_builder_for(path), {TRAIN_SPLIT: [str(path)]})
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _FILE_BUILDERS)
    if not files:
        raise FileNotFoundError(f"No {'/'.join(sorted(_FILE_BUILDERS))} files in folder {path}.")
    builders = {_builder_for(p) for p in files}
    if len(builders) > 1:
        raise ValueError(f"Folder {path} mixes file types ({', '.join(sorted(builders))}); keep one type per folder.")
    # `datasets` infers the splits from file names (train/test/validation/valid/dev), like the Hub does. A file whose
    # name is no split's would be left unread without a word: refuse it instead.
    _refuse_unread_files(path, files)
    with _naming_undecodable_files([str(p) for p in files]), _naming_empty_files([str(p) for p in files]):
        dataset = datasets.load_dataset(str(path))
    if max_files:
        raise ValueError("max_files applies to named multi-shard datasets; point at the files you want instead.")
    return dataset


def _builder_for(path: Path) -> str:
    try:
        return _FILE_BUILDERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"Unsupported file type {path.suffix!r} for {path}; use one of {sorted(_FILE_BUILDERS)}."
        ) from None


def _load_split_files(builder: str, split_files: dict[str, list[str]]) -> datasets.DatasetDict:
    extra = (
        {"delimiter": "\t"}
        if builder == "csv" and all(f.endswith(".tsv") for fs in split_files.values() for f in fs)
        else {}
    )
    # One call per split: splits may differ in schema (imdb's unsupervised labels are all null).
    every_file = [file for files in split_files.values() for file in files]
    with _naming_undecodable_files(every_file), _naming_empty_files(every_file):
        return datasets.DatasetDict(
            {
                split: datasets.load_dataset(builder, data_files=files, split="train", **extra)
                for split, files in split_files.items()
            }
        )


def _refuse_unread_files(folder: Path, files: list[Path]) -> None:
    """Every data file of `folder` must belong to a split by its name, as `datasets` infers them (train, test,
    validation/valid/dev, ...); a folder without any split name is all train. Others would be skipped silently."""
    from datasets.data_files import DataFilesDict, get_data_patterns

    try:
        split_files = DataFilesDict.from_patterns(get_data_patterns(str(folder)), base_path=str(folder))
    except Exception:  # noqa: BLE001 - `datasets` reads the folder itself next, and names what is wrong there
        return
    read = {Path(file).resolve() for files in split_files.values() for file in files}
    unread = [file for file in files if file.resolve() not in read]
    if unread:
        shown = ", ".join(str(file.relative_to(folder)) for file in unread[:5])
        raise ValueError(
            f"Folder {folder} holds file(s) that belong to no split: {shown} (splits found: "
            f"{', '.join(map(str, split_files))}). Name each file after its split (train, validation, test), or "
            "move it out."
        )


@contextmanager
def _naming_empty_files(files: list[str]):
    """`datasets`' 'Instruction "train" corresponds to no data!' for a file holding only a header, as one line
    naming the files."""
    try:
        yield
    except ValueError as error:
        if "corresponds to no data" not in str(error):
            raise
        empty = [file for file in files if _data_rows(file) == 0] or files
        raise ValueError(
            f"{', '.join(empty)}: no rows (a header only, or an empty file); add data rows or point at another file."
        ) from None


def _data_rows(file: str) -> int | None:
    """Lines after a CSV/TSV header or non-blank lines of a text/JSON Lines file; None for other kinds."""
    suffix = Path(file).suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", ".jsonl"):
        return None
    lines = [line for line in Path(file).read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return max(len(lines) - (1 if suffix in (".csv", ".tsv") else 0), 0)


@contextmanager
def _naming_undecodable_files(files: list[str]):
    """Turn `datasets`' long DatasetGenerationError for a file that is not UTF-8 into one line naming the file, the
    line and the byte."""
    try:
        yield
    except DatasetGenerationError as error:
        if not _caused_by(error, UnicodeDecodeError):
            raise
        for file in files:
            position = first_undecodable_byte(file)
            if position is not None:
                line, offset = position
                raise ValueError(
                    f"{file} is not valid UTF-8 (line {line}, byte {offset}); convert it, e.g. "
                    f"`iconv -f latin1 -t utf-8 {Path(file).name}`."
                ) from None
        raise


def _caused_by(error: BaseException, kind: type) -> bool:
    while error is not None:
        if isinstance(error, kind):
            return True
        error = error.__cause__ or error.__context__
    return False


def first_undecodable_byte(file: str) -> tuple[int, int] | None:
    """(1-based line, 0-based byte offset) of the first byte that is not UTF-8, or None when the file decodes."""
    if Path(file).suffix.lower() == ".parquet":
        return None
    data = Path(file).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return data.count(b"\n", 0, error.start) + 1, error.start
    return None


def _all_column_names(dataset: datasets.DatasetDict) -> set[str]:
    return {column for split in dataset.values() for column in split.column_names}


def _require_column(
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
        if standard_name in _all_column_names(dataset):
            raise ValueError(
                f"Cannot rename {column!r} to {standard_name!r}: a {standard_name!r} column already exists."
            )
        dataset = dataset.rename_column(column, standard_name)
    return dataset


def _select_text_column(dataset: datasets.DatasetDict, text_column: str | Sequence[str]) -> datasets.DatasetDict:
    columns = text_columns(text_column)
    if len(columns) == 1:
        return _require_column(dataset, columns[0], "text", "Text")
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
    if "text" in _all_column_names(dataset) and "text" not in columns:
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


def _check_texts(dataset: datasets.DatasetDict, allow_empty_text: bool) -> None:
    """Missing texts are always an error; blank ones unless allowed. Vectorised with pyarrow (100k+ rows)."""
    for split_name, split in dataset.items():
        texts = split.data.column("text")
        if not (texts.type == "string" or texts.type == "large_string"):
            raise ValueError(f"Column 'text' of split {split_name!r} holds {texts.type}, not strings.")
        bad = pc.is_null(texts)
        if not allow_empty_text:
            bad = pc.or_(bad, pc.equal(pc.utf8_trim_whitespace(texts), ""))
        _raise_for_rows(split_name, "text", bad, "missing text" if allow_empty_text else "missing or empty text")


def _encode_labels(dataset: datasets.DatasetDict, label_column: str, unlabelled_splits) -> datasets.DatasetDict:
    """Rename the label column to ``label`` and make it a ClassLabel whose names come from train.

    Each label's class name is the value as the file writes it (`label_name`: ``"2.0"``, ``"0.5"``, ``"true"``,
    ``"spam"``), and every row is encoded through that same name, so whatever the column's type (ints, floats,
    booleans, or a JSON column mixing numbers and strings) a row's class is the label its file gives it."""
    labelled = [name for name in dataset if name not in unlabelled_splits]
    dataset = _require_column(dataset, label_column, "label", "Label", splits=labelled)
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
