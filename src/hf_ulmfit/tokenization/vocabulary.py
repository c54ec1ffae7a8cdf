"""Extending a pretrained tokenizer with a target domain's frequent words (fastai's LM fine-tuning step): new words
for a word-level vocabulary, whole-word pieces for a unigram one."""

import json
import math
import re
from collections import Counter

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from .train import iter_text_batches, wrap_tokenizer


def extend_word_vocabulary(
    tokenizer: PreTrainedTokenizerFast, texts, *, min_frequency: int = 3, max_vocab_size: int = 60_000
) -> tuple[PreTrainedTokenizerFast, list[str]]:
    """Append the target text's words seen at least `min_frequency` times that the vocabulary lacks.

    Existing ids keep their meaning (new words get ids after the old ones), so a pretrained model's embedding rows
    stay valid and only new rows need initialising. Only word-level tokenizers are extended: a subword or character
    tokenizer already spells any new word from pieces it knows. Returns the new tokenizer and the added words.
    """
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "WordLevel":
        return tokenizer, []
    vocab = state["model"]["vocab"]
    room = max_vocab_size - len(vocab)
    if room <= 0:
        return tokenizer, []
    target = tokenizer.train_new_from_iterator(
        iter_text_batches(texts), vocab_size=max_vocab_size, min_frequency=min_frequency
    )
    # train_new_from_iterator orders the new vocabulary by frequency: keep the most frequent unknown words.
    target_vocab = sorted(target.backend_tokenizer.get_vocab().items(), key=lambda item: item[1])
    added = [word for word, _ in target_vocab if word not in vocab][:room]
    first_new_id = len(vocab)
    for offset, word in enumerate(added):
        vocab[word] = first_new_id + offset
    return wrap_tokenizer(Tokenizer.from_str(json.dumps(state))), added


# A target-domain word's letters after the word-start marker of a Metaspace pre-tokenizer ("▁awful" in "▁awful,").
_WORD_START = re.compile(r"▁[^\W\d_]{2,}")


def extend_unigram_vocabulary(
    tokenizer: PreTrainedTokenizerFast, texts, *, min_frequency: int = 3, max_new_words: int = 4_000
) -> tuple[PreTrainedTokenizerFast, list[str], list[list[int]]]:
    """Add the target text's frequent words that a unigram tokenizer splits as whole-word pieces.

    A word rare in the pretraining text is read as pieces ("awful" as `▁a w ful`), so it has no embedding of its
    own. Each word seen at least `min_frequency` times (the `max_new_words` most frequent) becomes one piece,
    scored by its log frequency in the target text and at least 1 above the summed scores of the pieces it was split
    into, so the tokenizer now reads it whole. Existing ids keep their meaning. Returns the new tokenizer, the added
    pieces and, for each, the ids of the pieces it was read as before (to start its embedding from theirs).
    Tokenizers that are not unigram with a Metaspace pre-tokenizer are returned unchanged.
    """
    backend = tokenizer.backend_tokenizer
    state = json.loads(backend.to_str())
    pre_tokenizer = state.get("pre_tokenizer") or {}
    if state["model"]["type"] != "Unigram" or pre_tokenizer.get("type") != "Metaspace":
        return tokenizer, [], []
    vocab = state["model"]["vocab"]
    known = {piece for piece, _ in vocab}
    counts = Counter()
    for batch in iter_text_batches(texts):
        for text in batch:
            normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
            for piece, _ in backend.pre_tokenizer.pre_tokenize_str(normalized):
                word = _WORD_START.match(piece)
                if word:
                    counts[word.group()] += 1
    total = sum(counts.values())
    new_words = [
        (word, count) for word, count in counts.most_common() if count >= min_frequency and word not in known
    ][:max_new_words]
    # A character the vocabulary lacks is read as the unknown piece, scored as the unigram model scores it.
    unknown_id, unknown_score = state["model"]["unk_id"], min(score for _, score in vocab) - 10.0
    added, old_pieces = [], []
    for word, count in new_words:
        split = backend.model.tokenize(word)
        if len(split) < 2:
            continue
        split_score = sum(unknown_score if piece.id == unknown_id else vocab[piece.id][1] for piece in split)
        vocab.append([word, max(math.log(count / total), split_score + 1.0)])
        added.append(word)
        old_pieces.append([piece.id for piece in split])
    if not added:
        return tokenizer, [], []
    return wrap_tokenizer(Tokenizer.from_str(json.dumps(state))), added, old_pieces
