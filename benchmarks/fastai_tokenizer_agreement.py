"""How often the fastai-compatible tokenizer (tokenizer.json, no custom code) differs from fastai's spaCy tokenisation.

Two steps, two environments:

    # 1. fastai's reference tokens for IMDb reviews (fastai venv, see scripts/setup_fastai_env.sh)
    .fastai-venv/bin/python -m benchmarks.fastai_tokenizer_agreement reference --n 5000
    # 2. compare (project venv)
    .venv/bin/python -m benchmarks.fastai_tokenizer_agreement compare

The reference is fastai's default text pipeline exactly as `TextDataLoaders` runs it (`defaults.text_proc_rules`,
`SpacyTokenizer`, `replace_space`). The comparison reports, over the same reviews:
- documents whose token sequence is identical,
- token-level agreement (1 - edit distance / reference length, summed over documents),
- the same two at the id level, with the vocabulary fastai would build from the reference tokens (`min_freq=3`,
  `max_vocab=60000`): two different rare tokens that both map to xxunk count as agreeing, as they do for a model,
- the most frequent disagreements, to show where the approximations are.
"""

import argparse
import collections
import difflib
import json
import os
import random
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HF_ULMFIT_DATA", ROOT.parent / "shared" / "data"))
WORK = ROOT / "benchmarks" / ".work"
REFERENCE = WORK / "fastai_imdb_tokens.jsonl"


def sample_reviews(n: int, seed: int = 0) -> list[str]:
    import pandas as pd

    texts = pd.read_parquet(DATA / "imdb" / "test.parquet")["text"].tolist()
    random.Random(seed).shuffle(texts)
    return texts[:n]


def make_reference(n: int):
    from fastai.text.all import SpacyTokenizer, TokenizeWithRules

    texts = sample_reviews(n)
    tokenize = TokenizeWithRules(SpacyTokenizer())
    WORK.mkdir(parents=True, exist_ok=True)
    with open(REFERENCE, "w", encoding="utf-8") as f:
        for text, tokens in zip(texts, tokenize(texts)):
            f.write(json.dumps({"text": text, "tokens": list(tokens)}, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} reviews to {REFERENCE}")


def fastai_vocab(token_lists, min_freq=3, max_vocab=60000):
    """The vocabulary fastai's `make_vocab` builds: specials first, then frequent tokens, padded to a multiple of 8."""
    specials = "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj".split()
    counts = collections.Counter(t for tokens in token_lists for t in tokens)
    vocab = [t for t, c in counts.most_common(max_vocab) if c >= min_freq]
    vocab = specials + [t for t in vocab if t not in specials]
    while len(vocab) % 8:
        vocab.append("xxfake")
    return vocab[: max_vocab + 8]


def matching_tokens(reference, candidate) -> int:
    return sum(
        block.size for block in difflib.SequenceMatcher(a=reference, b=candidate, autojunk=False).get_matching_blocks()
    )


def compare():
    from hf_ulmfit.tokenization.fastai_compat import build_fastai_tokenizer

    records = [json.loads(line) for line in REFERENCE.read_text(encoding="utf-8").split("\n") if line]
    reference = [r["tokens"] for r in records]
    vocab = fastai_vocab(reference)
    tokenizer = build_fastai_tokenizer(vocab)
    import time

    start = time.perf_counter()
    encoded = tokenizer([r["text"] for r in records])["input_ids"]
    elapsed = time.perf_counter() - start
    index = {}
    for i, t in enumerate(vocab):
        index.setdefault(t, i)

    same_tokens = same_ids = 0
    matched_tokens = matched_ids = total = 0
    differences = collections.Counter()
    examples = []
    for record, ref_tokens, ids in zip(records, reference, encoded):
        ours = tokenizer.convert_ids_to_tokens(ids)
        # Our tokens as strings: ids lose out-of-vocabulary words, so re-tokenise to strings for the string metric.
        our_tokens = [t.value if hasattr(t, "value") else t for t in _pre_tokens(tokenizer, record["text"])]
        ref_ids = [index.get(t, 0) for t in ref_tokens]
        total += len(ref_tokens)
        same_tokens += our_tokens == ref_tokens
        same_ids += ids == ref_ids
        matched_tokens += matching_tokens(ref_tokens, our_tokens)
        matched_ids += matching_tokens(ref_ids, ids)
        if our_tokens != ref_tokens:
            matcher = difflib.SequenceMatcher(a=ref_tokens, b=our_tokens, autojunk=False)
            for op, a0, a1, b0, b1 in matcher.get_opcodes():
                if op != "equal":
                    differences[(" ".join(ref_tokens[a0:a1]), " ".join(our_tokens[b0:b1]))] += 1
            if len(examples) < 5:
                examples.append(record["text"][:200])
        del ours
    n = len(records)
    result = {
        "reviews": n,
        "reference_tokens": total,
        "documents_identical_tokens": same_tokens / n,
        "documents_identical_ids": same_ids / n,
        "token_agreement": matched_tokens / total,
        "id_agreement": matched_ids / total,
        "vocab_size": len(vocab),
        "tokenizer_seconds": elapsed,
    }
    print(json.dumps(result, indent=1))
    print("most frequent differences (fastai -> ours, count):")
    for (ref, ours), count in differences.most_common(40):
        print(f"  {ref!r:40} -> {ours!r:40} {count}")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "fastai_tokenizer_agreement.json").write_text(json.dumps(result, indent=1))


def _pre_tokens(tokenizer, text):
    """The token strings our tokenizer.json produces (before the vocabulary lookup), with its BOS."""
    backend = tokenizer.backend_tokenizer
    normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
    pieces = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
    return [tokenizer.bos_token] + pieces


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    ref = sub.add_parser("reference", help="tokenise IMDb reviews with fastai (run in the fastai venv)")
    ref.add_argument("--n", type=int, default=5000)
    sub.add_parser("compare", help="compare with the fastai-compatible tokenizer (project venv)")
    args = parser.parse_args(argv)
    if args.step == "reference":
        make_reference(args.n)
    else:
        compare()


if __name__ == "__main__":
    sys.exit(main())
