"""benchmarks/tokenizer_coverage.py: how a tokenizer covers a task's text and the words a linear model weighs most."""

from benchmarks import tokenizer_coverage


def test_coverage_counts_the_pieces_of_the_words_a_linear_model_weighs_most(tokenizer, data_dir, tmp_path):
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    result = tokenizer_coverage.main(
        ["--tokenizer", str(tmp_path / "tokenizer"), "--task", "trec", "--train-rows", "400", "--top-words", "30"]
        + ["--data-dir", str(data_dir)]
    )
    assert result["texts"] == 400 and result["top_words"] == 30
    # 400 unigram pieces cannot hold TREC's words whole: words split into more than one piece on average.
    assert result["tokens_per_word"] > 1.2 and 0 < result["top_words_split_share"] <= 1
    assert result["top_words_pieces_mean"] >= 1 and result["frequent_words_pieces_mean"] >= 1
    # Each example is the tokenizer's own pieces of a top-weighted word: joined, they spell the word again.
    assert len(result["examples"]) == 12
    for word, pieces in result["examples"].items():
        assert "".join(pieces).replace("▁", "").lower() == word
    assert sum(len(pieces) > 1 for pieces in result["examples"].values()) >= 1
