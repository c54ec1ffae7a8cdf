"""Cost and quality of training the unigram tokenizer on a sample of the corpus's lines (`--tokenizer_train_lines`).

Trains the tokenizer the pretrain stage would (`hf-ulmfit pretrain --dataset wikipedia --max_files 1`: the same
splits, `tokenizer_for` with the stage's arguments) once per sample size, and prints one JSON line each: training
seconds (wall-clock, and the CPU time of all threads: on shared cores the wall-clock stretches) and held-out tokens
per word (tokens without ``xxbos`` over whitespace-separated words, on the last 300 articles of wiki-07, which no
shard-0 run trains on). With a 0 (everything) among the sizes, or a saved `--reference` line from an earlier 0 run,
it also prints each sample's tokens per word relative to everything.

    python -m benchmarks.tokenizer_sample --lines 0 > full.json        # ~15 CPU-minutes
    python -m benchmarks.tokenizer_sample --lines 28000 --reference full.json
"""

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.bench_utils import DATA, HELD_OUT_ARTICLES, HELD_OUT_FILE, held_out_texts, words_in


def tokens_per_word(tokenizer, texts: list[str]) -> float:
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return sum(map(len, encoded)) / words_in(texts)


def measure(lines: int, args, train_texts, held_out) -> dict:
    from hf_ulmfit.recipes.arguments import TokenizerArguments
    from hf_ulmfit.recipes.model_setup import tokenizer_for

    tokenizer_args = TokenizerArguments(
        tokenizer_kind="unigram", vocab_size=args.vocab_size, tokenizer_train_lines=lines
    )
    start, start_cpu = time.perf_counter(), time.process_time()
    tokenizer = tokenizer_for(tokenizer_args, train_texts, seed=args.seed)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "bench": "tokenizer_sample",
        "lines": lines,
        "everything": lines == 0,
        "corpus_texts": len(train_texts),
        "vocab_size": len(tokenizer),
        "seed": args.seed,
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "held_out_tokens_per_word": round(tokens_per_word(tokenizer, held_out), 5),
        "held_out": f"last {HELD_OUT_ARTICLES} articles of {HELD_OUT_FILE}",
        "load_average": os.getloadavg(),
        "threads": os.environ.get("RAYON_NUM_THREADS") or os.cpu_count(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, nargs="+", default=[28_000], help="Sample sizes in lines; 0 = all.")
    parser.add_argument("--vocab_size", type=int, default=15_000)
    parser.add_argument("--max_files", type=int, default=1, help="Wikipedia shards to train on.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reference", help="A JSON line printed by an earlier run with --lines 0.")
    args = parser.parse_args()

    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import drop_blank_documents, load_splits
    from hf_ulmfit.recipes.pretrain import DATA_DEFAULTS

    data_args = DataArguments(**{**DATA_DEFAULTS, "max_files": args.max_files, "data_dir": str(DATA)})
    train_texts = drop_blank_documents(load_splits(data_args, labelled=False))["train"]
    held_out = held_out_texts()
    results = []
    if args.reference:
        results.append(json.loads(Path(args.reference).read_text().strip().splitlines()[-1]))
    for lines in args.lines:
        results.append(measure(lines, args, train_texts, held_out))
        print(json.dumps(results[-1]), flush=True)
    everything = next((r for r in results if r.get("everything")), None)
    if everything:
        for result in results:
            if result is not everything and "held_out_tokens_per_word" in result:
                print(
                    json.dumps(
                        {
                            "lines": result.get("lines"),
                            "train_seconds": result["train_seconds"],
                            "everything_train_seconds": everything["train_seconds"],
                            "tokens_per_word_vs_everything": round(
                                result["held_out_tokens_per_word"] / everything["held_out_tokens_per_word"] - 1, 5
                            ),
                        }
                    )
                )


if __name__ == "__main__":
    main()
