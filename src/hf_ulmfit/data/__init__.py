"""Data for ULMFiT: text datasets, tokenised corpora, language-model streams and classification batches.

The names are imported on first use: the argument dataclasses read `columns.text_columns` while the CLI parses
flags, and a `--help` should not pay for torch, `datasets` and pyarrow.
"""

from ..lazy_exports import lazy_exports


_LAZY_NAMES = {
    "NAMED_DATASETS": ".named_datasets",
    "ClassificationCollator": ".classification",
    "LanguageModelStream": ".language_modeling",
    "load_text_dataset": ".text_dataset",
    "prepare_classification_dataset": ".classification",
    "tokenize_dataset": ".tokenize",
}
__all__ = list(_LAZY_NAMES)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_NAMES)
