"""Per-word perplexity of a language model: its mean token loss spread over whitespace-separated words, so models
with different tokenizers (word, unigram, char) compare on the same text."""

import math


# exp() of more overflows a float; the Trainer caps token perplexity the same way.
MAX_EXPONENT = 700.0


def count_words(dataset, text_column: str = "text", batch_size: int = 1000) -> int:
    """Whitespace-separated words (``len(text.split())``) of a `datasets.Dataset`'s texts, read a batch at a time."""
    return sum(
        len(text.split())
        for batch in dataset.select_columns([text_column]).iter(batch_size)
        for text in batch[text_column]
    )


def word_perplexity(mean_token_loss: float, num_tokens: int, num_words: int) -> float:
    """``exp(mean_token_loss * num_tokens / num_words)``: e to the text's negative log-likelihood (nats) per word.

    Args:
        mean_token_loss: mean cross-entropy per token (nats), as the Trainer's ``eval_loss``.
        num_tokens: tokens of the text as tokenised, special tokens included.
        num_words: whitespace-separated words of the same text.
    """
    if num_tokens <= 0 or num_words <= 0:
        raise ValueError(f"word_perplexity needs tokens and words, got {num_tokens} tokens and {num_words} words.")
    return math.exp(min(mean_token_loss * num_tokens / num_words, MAX_EXPONENT))


def word_level_metrics(mean_token_loss: float, num_tokens: int, num_words: int) -> dict[str, float]:
    """``tokens_per_word`` and ``word_perplexity`` (see `word_perplexity`) for a run record or a results file."""
    perplexity = word_perplexity(mean_token_loss, num_tokens, num_words)  # checks the counts first
    return {"tokens_per_word": num_tokens / num_words, "word_perplexity": perplexity}
