"""Reading CSV, TSV, JSON/JSONL, Parquet and text files, or a folder of them, into a `datasets.DatasetDict`: splits
from file names as `datasets` infers them, and every file it would leave unread, empty or undecodable named."""

from contextlib import contextmanager
from pathlib import Path

import datasets
from datasets.exceptions import DatasetGenerationError

from .splits import TRAIN_SPLIT


_FILE_BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".txt": "text",
}


def load_files(path: Path, max_files: int | None) -> datasets.DatasetDict:
    if path.is_file():
        return load_split_files(_builder_for(path), {TRAIN_SPLIT: [str(path)]})
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _FILE_BUILDERS)
    if not files:
        raise FileNotFoundError(f"No {'/'.join(sorted(_FILE_BUILDERS))} files in folder {path}.")
    builders = {_builder_for(p) for p in files}
    if len(builders) > 1:
        raise ValueError(f"Folder {path} mixes file types ({', '.join(sorted(builders))}); keep one type per folder.")
    # `datasets` infers the splits from file names (train/test/validation/valid/dev), like the Hub does. A file whose
    # name is no split's would be left unread without a word: refuse it instead.
    _refuse_unread_files(path, files)
    with naming_undecodable_files([str(p) for p in files]), _naming_empty_files([str(p) for p in files]):
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


def load_split_files(builder: str, split_files: dict[str, list[str]]) -> datasets.DatasetDict:
    extra = (
        {"delimiter": "\t"}
        if builder == "csv" and all(f.endswith(".tsv") for fs in split_files.values() for f in fs)
        else {}
    )
    # One call per split: splits may differ in schema (imdb's unsupervised labels are all null).
    every_file = [file for files in split_files.values() for file in files]
    with naming_undecodable_files(every_file), _naming_empty_files(every_file):
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
def naming_undecodable_files(files: list[str]):
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
