"""Tokenizers for ULMFiT: train with `tokenizers`, use and save as transformers fast tokenizers."""

from .fastai_compat import build_fastai_tokenizer
from .special_tokens import (
    BOS_TOKEN,
    EOS_TOKEN,
    FIELD_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    TRAINED_SPECIAL_TOKENS,
    UNK_TOKEN,
)
from .train import TOKENIZER_KINDS, default_train_lines, sample_lines, train_tokenizer, wrap_tokenizer


__all__ = [
    "BOS_TOKEN",
    "EOS_TOKEN",
    "FIELD_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "TRAINED_SPECIAL_TOKENS",
    "UNK_TOKEN",
    "default_train_lines",
    "sample_lines",
    "train_tokenizer",
    "wrap_tokenizer",
]
