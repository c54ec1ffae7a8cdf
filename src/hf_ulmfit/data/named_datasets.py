"""The named datasets (imdb, trec, sms_spam, names, wikipedia, wikitext-2, wikitext-103): where each lives in the
local data folder (``data_dir=``, else ``$HF_ULMFIT_DATA``) and on the Hub, and how it is read: a fixed test split
held out of one file (wikipedia: the last 300 articles of ``wiki-07.parquet``) and named articles left out of train
(the two that WikiText's test split also holds), both removed with `datasets` filters and logged. Where the folder
does not have a dataset and the Hub is reachable, its Hub counterpart is loaded instead."""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .files import load_split_files, naming_undecodable_files
from .splits import TRAIN_SPLIT


logger = logging.getLogger(__name__)

DATA_DIR_ENV = "HF_ULMFIT_DATA"


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


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$HF_ULMFIT_DATA``, else None."""
    if data_dir is not None:
        return Path(data_dir)
    from_environment = os.environ.get(DATA_DIR_ENV)
    return Path(from_environment) if from_environment else None


def load_named(name: str, spec: NamedDataset, data_dir, max_files: int | None) -> datasets.DatasetDict:
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
        dataset = load_split_files("parquet", split_files)
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
    with naming_undecodable_files([str(path)]):
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
