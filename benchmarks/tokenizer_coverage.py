"""How well a pretrained LM's tokenizer covers a task's text (issue 28, item 3): tokens per word over the task's
texts, the share of unknown tokens, and the pieces per word of the words that decide the task, the word unigrams a
linear model weighs most (TF-IDF + logistic regression on the task's training texts, scikit-learn).

    python -m benchmarks.tokenizer_coverage --tokenizer ../shared/models/NAME --task imdb --train-rows 3000

A word the tokenizer splits into many pieces (a sentiment word rare on Wikipedia: "dreadful" -> "▁ d read ful") has
no embedding of its own: the classifier must compose its meaning from pieces whose embeddings mean something else.
"""

import argparse
import json
import os
import statistics

import numpy as np


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", required=True, help="A saved tokenizer folder (a pretrained LM's).")
    parser.add_argument("--task", default="imdb", help="A named dataset with labels (imdb, trec, sms_spam).")
    parser.add_argument("--train-rows", type=int, default=3000, help="Training texts the linear model reads.")
    parser.add_argument("--top-words", type=int, default=200, help="Most weighted words measured.")
    parser.add_argument("--data-dir", default=os.environ.get("HF_ULMFIT_DATA"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from transformers import PreTrainedTokenizerFast

    from hf_ulmfit.data import load_text_dataset

    tokenizer = PreTrainedTokenizerFast.from_pretrained(args.tokenizer)
    train = load_text_dataset(args.task, data_dir=args.data_dir)["train"].shuffle(seed=args.seed)
    train = train.select(range(min(args.train_rows, len(train))))
    texts, labels = list(train["text"]), np.asarray(train["label"])

    pieces = tokenizer(texts, add_special_tokens=False)["input_ids"]
    tokens = sum(len(ids) for ids in pieces)
    words = sum(len(text.split()) for text in texts)
    unknown = sum(ids.count(tokenizer.unk_token_id) for ids in pieces) if tokenizer.unk_token_id is not None else 0

    vectorizer = TfidfVectorizer(ngram_range=(1, 1), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=10.0, max_iter=2000).fit(features, labels)
    weight = np.abs(model.coef_).max(axis=0)
    vocabulary = vectorizer.get_feature_names_out()
    top = [vocabulary[index] for index in np.argsort(-weight)[: args.top_words]]
    frequent = [vocabulary[index] for index in np.argsort(-np.asarray((features > 0).sum(0)).ravel())[:2000]]

    def pieces_per_word(chosen: list[str]) -> list[int]:
        # The word as it appears inside a text (after a space), which is how the tokenizer meets it.
        return [len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) for word in chosen]

    top_pieces, frequent_pieces = pieces_per_word(top), pieces_per_word(frequent)
    result = {
        "tokenizer": os.path.basename(os.path.normpath(args.tokenizer)),
        "task": args.task,
        "texts": len(texts),
        "tokens_per_word": round(tokens / words, 3),
        "unknown_token_share": round(unknown / max(tokens, 1), 5),
        "top_words": args.top_words,
        "top_words_pieces_mean": round(statistics.mean(top_pieces), 2),
        "top_words_split_share": round(sum(count > 1 for count in top_pieces) / len(top_pieces), 3),
        "frequent_words_pieces_mean": round(statistics.mean(frequent_pieces), 2),
        "frequent_words_split_share": round(sum(count > 1 for count in frequent_pieces) / len(frequent_pieces), 3),
        "examples": {
            word: tokenizer.convert_ids_to_tokens(tokenizer(" " + word, add_special_tokens=False)["input_ids"])
            for word in top[:12]
        },
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
