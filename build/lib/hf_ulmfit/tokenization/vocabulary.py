"""Extending a word-level vocabulary with a target domain's frequent words (fastai's LM fine-tuning step)."""

import json

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
