"""Train a ULMFiT tokenizer with the `tokenizers` library and wrap it as a transformers fast tokenizer.

Three kinds, all with ``xxunk xxpad xxbos xxeos`` at ids 0-3 (and the field marker ``xxfld`` at 4) and a
post-processor that starts every encoded text with ``xxbos`` (fastai starts each document with it; no ``xxeos``
unless ``tokenizer.add_eos_token = True``):

- ``"unigram"`` (default): a subword unigram model, as MultiFiT (15,000 pieces). Words carry SentencePiece's
  ``▁`` marker for a preceding space, so decoding gives the normalised text back exactly.
- ``"word"``: one token per word or punctuation mark with fastai's vocabulary rules (at most 60,000 tokens, words
  seen at least 3 times). Words keep the ``▁`` marker too, so decoding restores the spacing; unknown words decode
  as `` xxunk``.
- ``"char"``: one token per character (names classification, char-RNN tasks); decoding joins the characters.

Everything (normaliser, splitting, decoder, post-processor) lives in ``tokenizer.json``: the result saves with
``save_pretrained`` and loads with ``AutoTokenizer.from_pretrained`` and ``pipeline`` without custom code.
Training streams batches of texts from an iterator (a `datasets` column is read ``batch_size`` rows at a time), so
a corpus far larger than memory as a Python list trains fine.

A subword vocabulary does not need every line of a large corpus: ``max_lines`` trains on a seeded random sample
of that many lines, as SentencePiece's ``input_sentence_size``. The unigram trainer's time grows with the text it
sees (about 0.27 CPU-seconds per Wikipedia article), so the recipes sample by default for that kind
(`default_train_lines`).
"""

import json
import math
import random
from collections.abc import Iterator
from itertools import islice

import datasets
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .normalization import build_normalizer
from .special_tokens import (
    BOS_TOKEN,
    BOS_TOKEN_ID,
    EOS_TOKEN,
    PAD_TOKEN,
    TRAINED_SPECIAL_TOKENS,
    UNK_TOKEN,
)


TOKENIZER_KINDS = ("unigram", "word", "char")

# transformers' own "no limit" value: the AWD-LSTM is recurrent and reads documents of any length.
UNLIMITED_LENGTH = int(1e30)

_DEFAULT_VOCAB_SIZE = {"unigram": 15_000, "word": 60_000, "char": 1_000}
_DEFAULT_MIN_FREQUENCY = {"unigram": None, "word": 3, "char": 1}
# Lines the recipes train each kind on by default (None: all). Measured on one Wikipedia shard (3,187 articles,
# 150k lines; benchmarks/tokenizer_sample.py, RESULTS.md): a 15k unigram trained on 28,000 lines splits held-out
# articles into 0.7% more tokens per word than one trained on everything, in 71 s on 2 cores (123 CPU-seconds;
# everything: ~860). Whole articles do worse: 600 of them (as much text) give +1.3%. Counting words and characters
# is cheap: those kinds see all.
_DEFAULT_TRAIN_LINES = {"unigram": 28_000, "word": None, "char": None}

# Unigram scores (log-probabilities) are kept to this many decimals: the trainer's sums vary in the last bits from run
# to run, which reorders pieces of equal score; rounded and ordered by (score, piece), the same text gives the same
# ids.
_UNIGRAM_SCORE_DECIMALS = 6
# The trainer gives the characters it must keep the lowest scores, this far apart (or equal), in a hash (random) order.
_REQUIRED_CHARACTER_SCORE_STEP = 1e-4

# SentencePiece's visible space: a token that starts with it was preceded by a space in the text.
SPACE_MARKER = "▁"
# A word (letters, marks, digits, underscore) or any other single character, each optionally preceded by the space
# marker; a lone marker covers a space before nothing (end of text). Every character of the text is matched.
_WORD_OR_SYMBOL = Regex(
    rf"{SPACE_MARKER}?[\p{{L}}\p{{M}}\p{{N}}_]+|{SPACE_MARKER}?[^\p{{L}}\p{{M}}\p{{N}}_{SPACE_MARKER}]|{SPACE_MARKER}"
)
_ANY_CHARACTER = Regex(r"[\s\S]")


def train_tokenizer(
    texts,
    kind: str = "unigram",
    vocab_size: int | None = None,
    *,
    min_frequency: int | None = None,
    text_column: str = "text",
    lowercase: bool = False,
    fix_html: bool = True,
    collapse_repeats: bool | None = None,
    batch_size: int = 1000,
    show_progress: bool = False,
    max_lines: int | None = None,
    seed: int = 42,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer of the given kind on streamed texts.

    Args:
        texts: a `datasets.Dataset` or `datasets.IterableDataset` (its ``text_column`` is read in batches), or any
            iterable of strings (a generator is fine: nothing is materialised).
        kind: ``"unigram"`` (subword, default), ``"word"`` or ``"char"``.
        vocab_size: total vocabulary size including the 4 special tokens. Defaults: unigram 15,000, word 60,000,
            char 1,000 (an upper bound: the alphabet is usually far smaller).
        min_frequency: word and char kinds only: drop tokens seen fewer times (default word 3, char 1).
        lowercase: lowercase all text (fastai does; decoded text then comes back lowercased).
        fix_html: turn ``<br />`` tags into newlines (IMDb).
        collapse_repeats: shorten runs of a repeated character or word to three (default: on, off for ``"char"``).
        batch_size: how many texts the trainer receives at a time.
        show_progress: show the `tokenizers` progress bar.
        max_lines: train on a uniform random sample of this many non-blank lines (`sample_lines`; all of the text if
            it has no more); None or 0: every text as given.
        seed: seed of that sample (the same seed and texts give the same sample).

    Returns:
        A `PreTrainedTokenizerFast` with ``unk/pad/bos/eos`` set to ``xxunk/xxpad/xxbos/xxeos`` (ids 0-3), padding
        on the right and no length limit.
    """
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"Unknown tokenizer kind {kind!r}; choose one of {', '.join(TOKENIZER_KINDS)}.")
    if min_frequency is not None and kind == "unigram":
        raise ValueError("min_frequency applies to the 'word' and 'char' kinds; a unigram model sizes by vocab_size.")
    vocab_size = _DEFAULT_VOCAB_SIZE[kind] if vocab_size is None else vocab_size
    if vocab_size <= len(TRAINED_SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(TRAINED_SPECIAL_TOKENS)} special tokens, got {vocab_size}.")
    min_frequency = _DEFAULT_MIN_FREQUENCY[kind] if min_frequency is None else min_frequency
    collapse_repeats = (kind != "char") if collapse_repeats is None else collapse_repeats
    if max_lines is not None and max_lines < 0:
        raise ValueError(f"max_lines must be a positive number of lines, or 0/None for all text; got {max_lines}.")
    if max_lines:
        texts = sample_lines(texts, max_lines, seed=seed, text_column=text_column, batch_size=batch_size)

    tokenizer, trainer = _build_untrained(kind, vocab_size, min_frequency, show_progress)
    tokenizer.normalizer = build_normalizer(fix_html=fix_html, collapse_repeats=collapse_repeats, lowercase=lowercase)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN}:0 $A:0",
        pair=f"{BOS_TOKEN}:0 $A:0 {BOS_TOKEN}:1 $B:1",
        special_tokens=[(BOS_TOKEN, BOS_TOKEN_ID)],
    )
    tokenizer.train_from_iterator(
        iter_text_batches(texts, text_column=text_column, batch_size=batch_size),
        trainer=trainer,
        length=_number_of_batches(texts, batch_size),
    )
    if kind == "unigram":
        tokenizer.model = _reproducible_unigram(tokenizer)
    _check_special_token_ids(tokenizer)
    return wrap_tokenizer(tokenizer)


def default_train_lines(kind: str) -> int | None:
    """How many lines the recipes train a tokenizer of this kind on by default (None: all of them)."""
    return _DEFAULT_TRAIN_LINES[kind]


def sample_lines(texts, max_lines: int, seed: int = 42, text_column: str = "text", batch_size: int = 1000):
    """A seeded uniform random sample of ``max_lines`` non-blank lines of the texts (paragraphs, for Wikipedia), as
    SentencePiece's ``input_sentence_size``: a sample of lines spans many more documents than the same amount of text
    taken as whole documents. Reads the texts once, keeping a reservoir of lines.

    Newlines are part of the text the tokenizer learns (a piece may hold one), so a sampled line that a newline
    followed in its text is joined by one to the next sampled line. A corpus of no more than ``max_lines`` lines comes
    back whole, in its order (blank lines aside).
    """
    lines = (
        (line, index < len(parts) - 1)
        for batch in iter_text_batches(texts, text_column=text_column, batch_size=batch_size)
        for text in batch
        for parts in (text.split("\n"),)
        for index, line in enumerate(parts)
        if line.strip()
    )
    rng = random.Random(seed)
    reservoir, seen = [], 0
    for seen, line in enumerate(lines, start=1):
        if seen <= max_lines:
            reservoir.append(line)
        else:
            slot = rng.randrange(seen)
            if slot < max_lines:
                reservoir[slot] = line
    if seen > max_lines:
        rng.shuffle(reservoir)  # the reservoir keeps early lines in place: draw the joins at random too
    return _join_continued_lines(reservoir)


def _join_continued_lines(lines: list[tuple[str, bool]], max_lines_per_text: int = 50) -> list[str]:
    texts, current = [], []
    for line, newline_follows in lines:
        current.append(line)
        if not newline_follows or len(current) == max_lines_per_text:
            texts.append("\n".join(current) + ("\n" if newline_follows else ""))
            current = []
    if current:
        texts.append("\n".join(current) + "\n")
    return texts


def wrap_tokenizer(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    """Wrap a `tokenizers.Tokenizer` with the hf-ulmfit special tokens as a transformers fast tokenizer."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=UNK_TOKEN,
        pad_token=PAD_TOKEN,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        # Explicit, so transformers rebuilds the same "xxbos $A" template on load and users can toggle EOS.
        add_bos_token=True,
        add_eos_token=False,
        model_max_length=UNLIMITED_LENGTH,
        padding_side="right",
        # Decoding is exact through the tokenizer's decoder; transformers' English clean-up would alter text.
        clean_up_tokenization_spaces=False,
    )


def _reproducible_unigram(tokenizer: Tokenizer) -> models.Unigram:
    """The trained unigram model in a canonical form, so training on the same text twice gives the same tokenizer:
    rounded scores, pieces (after the special tokens) ordered by score then text, and the trainer's trailing required
    characters in text order (see `_UNIGRAM_SCORE_DECIMALS`, `_REQUIRED_CHARACTER_SCORE_STEP`)."""
    model = json.loads(tokenizer.to_str())["model"]
    special, pieces = model["vocab"][: len(TRAINED_SPECIAL_TOKENS)], model["vocab"][len(TRAINED_SPECIAL_TOKENS) :]
    pieces = sorted(
        ((piece, round(score, _UNIGRAM_SCORE_DECIMALS)) for piece, score in pieces),
        key=lambda entry: (-entry[1], entry[0]),
    )
    start = len(pieces) - 1
    while (
        start > 0
        and len(pieces[start - 1][0]) == len(pieces[start][0]) == 1
        and _is_required_character_step(pieces[start - 1][1] - pieces[start][1])
    ):
        start -= 1
    ladder = pieces[start:]
    pieces[start:] = zip(sorted(piece for piece, _ in ladder), [score for _, score in ladder])
    vocab = [tuple(entry) for entry in special] + pieces
    return models.Unigram(vocab, unk_id=model["unk_id"], byte_fallback=model.get("byte_fallback", False))


def _is_required_character_step(difference: float) -> bool:
    return any(math.isclose(difference, step, abs_tol=5e-6) for step in (0.0, _REQUIRED_CHARACTER_SCORE_STEP))


def _build_untrained(kind: str, vocab_size: int, min_frequency: int, show_progress: bool):
    """Model, splitting and decoder of each kind, and its trainer; special tokens first, so they get ids 0-3."""
    if kind == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE_MARKER, prepend_scheme="always")
        tokenizer.decoder = decoders.Metaspace(replacement=SPACE_MARKER, prepend_scheme="always")
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size,
            special_tokens=TRAINED_SPECIAL_TOKENS,
            unk_token=UNK_TOKEN,
            show_progress=show_progress,
        )
    elif kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Metaspace(replacement=SPACE_MARKER, prepend_scheme="always", split=False),
                pre_tokenizers.Split(_WORD_OR_SYMBOL, behavior="isolated"),
            ]
        )
        tokenizer.decoder = decoders.Sequence(
            [
                # An unknown word lost its space marker with its text: give it one, so it reads as a word.
                decoders.Replace(UNK_TOKEN, SPACE_MARKER + UNK_TOKEN),
                decoders.Metaspace(replacement=SPACE_MARKER, prepend_scheme="always"),
            ]
        )
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=TRAINED_SPECIAL_TOKENS,
            show_progress=show_progress,
        )
    else:  # char
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(_ANY_CHARACTER, behavior="isolated")
        tokenizer.decoder = decoders.Fuse()
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=TRAINED_SPECIAL_TOKENS,
            show_progress=show_progress,
        )
    return tokenizer, trainer


def iter_text_batches(texts, text_column: str = "text", batch_size: int = 1000) -> Iterator[list[str]]:
    """Yield lists of at most ``batch_size`` strings from a dataset column or an iterable of strings.

    Raises a ValueError naming the row for a missing text, so nothing is silently skipped.
    """
    if isinstance(texts, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise TypeError(
            f"Got a DatasetDict with splits {list(texts)}: pass the split(s) to train on, e.g. "
            "datasets.concatenate_datasets([dataset['train'], dataset['unsupervised']])."
        )
    if isinstance(texts, str):
        raise TypeError("Got a single string: pass an iterable of texts (e.g. a list with one element).")
    if isinstance(texts, (datasets.Dataset, datasets.IterableDataset)):
        if texts.column_names is not None and text_column not in texts.column_names:
            raise ValueError(f"Column {text_column!r} not found; the dataset has columns {texts.column_names}.")
        batches = (batch[text_column] for batch in texts.select_columns([text_column]).iter(batch_size=batch_size))
    else:
        iterator = iter(texts)
        batches = iter(lambda: list(islice(iterator, batch_size)), [])
    first_row = 0
    for batch in batches:
        for offset, text in enumerate(batch):
            if not isinstance(text, str):
                raise ValueError(f"Text at row {first_row + offset} is {type(text).__name__}, not a string.")
        first_row += len(batch)
        yield batch


def _number_of_batches(texts, batch_size: int) -> int | None:
    """For the progress bar only; None for iterables of unknown length."""
    try:
        return -(-len(texts) // batch_size)
    except TypeError:
        return None


def _check_special_token_ids(tokenizer: Tokenizer) -> None:
    for expected_id, token in enumerate(TRAINED_SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != expected_id:
            raise RuntimeError(
                f"Special token {token!r} got id {tokenizer.token_to_id(token)}, expected {expected_id}."
            )
