"""Classification batches: tokenised documents bucketed by length and padded on the right, with ``labels``.

fastai sorts documents by length inside large random chunks so that a batch holds documents of similar length
(little padding) while the batches still come in random order. transformers does the same thing: its
`LengthGroupedSampler` draws megabatches of 50 batches, sorts each by length (longest batch first, as fastai)
and shuffles the rest. `ClassifierTrainer` trains with it (seeded per epoch), reading the ``length`` column that
``tokenize_dataset`` adds, without decoding every row.

Padding is transformers' `DataCollatorWithPadding` (pads with ``xxpad`` on the right, adds ``attention_mask`` and
renames ``label`` to ``labels``); ``ClassificationCollator`` only drops the ``length`` bookkeeping column first.
"""

from dataclasses import dataclass

import datasets
from transformers import DataCollatorWithPadding

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
        return super().__call__(
            [{key: value for key, value in feature.items() if key != "length"} for feature in features]
        )
