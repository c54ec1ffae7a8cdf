"""Tokenise a text dataset with the Rust tokenizer's batch encoding, in several processes."""

import os

import datasets


def tokenize_dataset(
    dataset: datasets.Dataset | datasets.DatasetDict,
    tokenizer,
    *,
    text_column: str = "text",
    num_proc: int | None = None,
    batch_size: int = 1000,
    keep_columns: tuple[str, ...] = ("label",),
    add_length: bool = True,
    load_from_cache_file: bool | None = None,
):
    """Add ``input_ids`` (each starting with ``xxbos``) and ``length`` to a Dataset or every split of a DatasetDict.

    Used for classification data and language-model corpora alike. ``datasets.map(batched=True)`` hands the fast
    tokenizer ``batch_size`` texts at a time; ``num_proc`` processes (default: the CPU count, at most 8, one for
    small data) split the rows. Other columns are removed except ``keep_columns`` (the label). No truncation: the
    AWD-LSTM reads documents of any length. No attention mask either: padding is done per batch by the collator.
    ``length`` (tokens per row) lets samplers bucket by length without decoding every row.
    """
    splits = dataset.values() if isinstance(dataset, datasets.DatasetDict) else [dataset]
    for split in splits:
        if text_column not in split.column_names:
            raise ValueError(f"Text column {text_column!r} not found; available columns: {split.column_names}.")
    rows = sum(len(split) for split in splits)
    if num_proc is None:
        num_proc = min(os.cpu_count() or 1, 8) if rows >= 20_000 else None
    elif num_proc <= 1:
        num_proc = None

    def encode(batch):
        encoded = tokenizer(batch[text_column], return_attention_mask=False, return_token_type_ids=False)
        if add_length:
            encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    columns = dataset.column_names
    if isinstance(columns, dict):  # DatasetDict: one list per split
        columns = sorted({column for split_columns in columns.values() for column in split_columns})
    return dataset.map(
        encode,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=[column for column in columns if column not in keep_columns],
        load_from_cache_file=load_from_cache_file,
        desc="Tokenizing",
    )
