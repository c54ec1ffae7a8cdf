"""Tokenise a text dataset with the Rust tokenizer's batch encoding, in several processes."""

import datasets
from datasets.fingerprint import Hasher


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
    tokenizer ``batch_size`` texts at a time; the Rust tokenizer already encodes a batch on all cores, so the default
    is one process (measured: two processes were no faster on 2 cores); ``num_proc`` splits the rows over processes
    where Python-side work dominates. Other columns are removed except ``keep_columns`` (the label). No truncation: the
    AWD-LSTM reads documents of any length. No attention mask either: padding is done per batch by the collator.
    ``length`` (tokens per row) lets samplers bucket by length without decoding every row.
    """
    splits = dataset.values() if isinstance(dataset, datasets.DatasetDict) else [dataset]
    for split in splits:
        if text_column not in split.column_names:
            raise ValueError(f"Text column {text_column!r} not found; available columns: {split.column_names}.")
    if num_proc is not None and num_proc <= 1:
        num_proc = None

    def encode(batch):
        encoded = tokenizer(batch[text_column], return_attention_mask=False, return_token_type_ids=False)
        if add_length:
            encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    def tokenize(split: datasets.Dataset) -> datasets.Dataset:
        return split.map(
            encode,
            batched=True,
            batch_size=batch_size,
            num_proc=num_proc,
            remove_columns=[column for column in split.column_names if column not in keep_columns],
            load_from_cache_file=load_from_cache_file,
            new_fingerprint=_tokenized_fingerprint(split, tokenizer, encode, text_column, add_length, keep_columns),
            desc="Tokenizing",
        )

    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict({name: tokenize(split) for name, split in dataset.items()})
    return tokenize(dataset)


def _tokenized_fingerprint(split: datasets.Dataset, tokenizer, encode, *settings) -> str:
    """The cache key of a tokenised split, from what decides its content: the split's own fingerprint, the
    tokenizer's saved form (`tokenizer.json`), the encoding code and its settings. ``datasets`` would hash the
    `encode` closure with the tokenizer object inside, whose pickled state can differ between processes that hold the
    same tokenizer; this key is the same in every process, so in a multi-process run the other ranks load the main
    process's cached result instead of tokenising again."""
    return Hasher.hash([split._fingerprint, tokenizer.backend_tokenizer.to_str(), encode.__code__.co_code, settings])
