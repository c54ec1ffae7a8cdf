"""The tiny AWD-LSTM config the model tests build, and random token ids for it. Imported by the test files (tests/ is
on sys.path under pytest's default import mode).

Special-token ids stay at the config's defaults (pad 1, bos 2, eos 3): every tokenizer hf_ulmfit trains keeps
`xxunk xxpad xxbos xxeos` at ids 0-3."""

import torch

from hf_ulmfit import AwdLstmConfig


VOCAB = 97  # the vocabulary size when no tokenizer is given


def tiny_config(tokenizer=None, **overrides) -> AwdLstmConfig:
    """A 3-layer AWD-LSTM of widths 16 (embedding, last layer) and 24 (inner layers), whose classifier runs documents
    in chunks of 8 tokens and pools those within the last 24; the vocabulary is the tokenizer's, or `VOCAB` tokens.
    Keyword arguments set any other config field or replace these."""
    settings = dict(
        vocab_size=VOCAB if tokenizer is None else len(tokenizer),
        embedding_size=16,
        hidden_size=24,
        num_layers=3,
        bptt=8,
        max_len=24,
    )
    return AwdLstmConfig(**{**settings, **overrides})


def random_ids(*shape, seed=0, vocab_size=VOCAB) -> torch.Tensor:
    """Seeded random token ids of this shape, none of them a special token (ids 0-3)."""
    return torch.randint(4, vocab_size, shape, generator=torch.Generator().manual_seed(seed))
