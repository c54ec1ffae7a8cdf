"""Data for ULMFiT: text datasets, tokenised corpora, language-model streams and classification batches."""

from .classification import ClassificationCollator, prepare_classification_dataset
from .datasets import NAMED_DATASETS, load_text_dataset
from .language_modeling import LanguageModelStream
from .tokenize import tokenize_dataset


__all__ = [
    "NAMED_DATASETS",
    "ClassificationCollator",
    "LanguageModelStream",
    "load_text_dataset",
    "prepare_classification_dataset",
    "tokenize_dataset",
]
