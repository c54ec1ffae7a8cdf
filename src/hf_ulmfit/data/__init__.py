"""Data for ULMFiT: text datasets, tokenised corpora, language-model streams and classification batches.

The names are imported on first use: the argument dataclasses read `columns.text_columns` while the CLI parses
flags, and a `--help` should not pay for torch, `datasets` and pyarrow.
"""

import importlib


_LAZY_NAMES = {
    "NAMED_DATASETS": ".datasets",
    "ClassificationCollator": ".classification",
    "LanguageModelStream": ".language_modeling",
    "load_text_dataset": ".datasets",
    "prepare_classification_dataset": ".classification",
    "tokenize_dataset": ".tokenize",
}
__all__ = list(_LAZY_NAMES)


def __getattr__(name: str):
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY_NAMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))
