"""Classification batches: tokenised documents bucketed by length and padded on the right, with ``labels``.

fastai sorts documents by length inside large random chunks so that a batch holds documents of similar length
(little padding) while the batches still come in random order. transformers does the same thing:

- with `Trainer`, set ``TrainingArguments(group_by_length=True)``: its `LengthGroupedSampler` draws megabatches of
  50 batches, sorts each by length (longest batch first, as fastai) and shuffles the rest;
- with a custom loop, ``length_grouped_sampler`` builds that sampler (distributed too) from the ``length`` column
  that ``tokenize_dataset`` adds, without decoding every row.

Padding is transformers' `DataCollatorWithPadding` (pads with ``xxpad`` on the right, adds ``attention_mask`` and
renames ``label`` to ``labels``); ``ClassificationCollator`` only drops the ``length`` bookkeeping column first.
"""

from dataclasses import dataclass

import datasets
import torch
from transformers import DataCollatorWithPadding
from transformers.trainer_pt_utils import DistributedLengthGroupedSampler, LengthGroupedSampler

from .tokenize import tokenize_dataset


def prepare_classification_dataset(dataset, tokenizer, *, num_proc: int | None = None, text_column: str = "text"):
    """Tokenise a labelled Dataset/DatasetDict: columns ``label``, ``input_ids``, ``length``."""
    splits = dataset.items() if isinstance(dataset, datasets.DatasetDict) else [("dataset", dataset)]
    for name, split in splits:
        if "label" not in split.column_names:
            raise ValueError(f"Split {name!r} has no 'label' column (columns: {split.column_names}).")
    return tokenize_dataset(dataset, tokenizer, text_column=text_column, num_proc=num_proc, keep_columns=("label",))


@dataclass
class ClassificationCollator(DataCollatorWithPadding):
    """`DataCollatorWithPadding` that ignores the ``length`` column (it is for the sampler, not the model)."""

    def __call__(self, features):
        return super().__call__([{key: value for key, value in feature.items() if key != "length"} for feature in features])


def length_grouped_sampler(
    dataset: datasets.Dataset, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1
) -> torch.utils.data.Sampler:
    """transformers' length-grouped sampler over ``dataset['length']``; per-rank when ``world_size > 1``.

    ``batch_size`` is the per-process batch size. With several processes call ``sampler.set_epoch(epoch)``; the
    single-process sampler draws a new order every time it is iterated.
    """
    if "length" not in dataset.column_names:
        raise ValueError(f"No 'length' column (columns: {dataset.column_names}); tokenise with tokenize_dataset first.")
    lengths = dataset["length"]
    lengths = lengths.to_pylist() if hasattr(lengths, "to_pylist") else list(lengths)
    if world_size > 1:
        return DistributedLengthGroupedSampler(
            batch_size, lengths=lengths, num_replicas=world_size, rank=rank, seed=seed
        )
    return LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))
