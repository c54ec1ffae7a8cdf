"""Where a low-shot IMDb classifier's validation accuracy overstates its test accuracy (issue 28, item 3): each saved
classifier, and the linear baseline fitted on the same draw, scored on four sets of reviews, two from each of
IMDb's splits, whose movies are disjoint (Maas et al., 2011):

- the draw's validation reviews (held out from the train split; what train-classifier reports),
- other held-out train-split reviews, never trained on (the same movies as the training reviews),
- the draw's test reviews (what CLAIMS.md reports),
- other test-split reviews.

If the two train-split sets agree with each other and the two test-split sets with each other, the gap between
validation and test is the split's (the movies), not the chance of a 500-review draw.

    python -m benchmarks.imdb_split_gap --data OUT/data/lowshot/imdb/n3000/seed0 \\
        --classifiers OUT/classifiers/lowshot-defaults/imdb/from-scratch/n3000/seed0 ...
"""

import argparse
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.bench_utils import ROOT, machine_facts
from benchmarks.claims import fit_linear_baseline, stratified_sample


if TYPE_CHECKING:
    import pandas as pd


def review_sets(data: Path, data_dir: str | None, rows: int) -> tuple["pd.DataFrame", dict]:
    """The draw's training reviews and the four sets, each a pandas frame of text and label (the label's name),
    `rows` at most in the new two."""
    import pandas as pd

    from hf_ulmfit.recipes.arguments import DataArguments
    from hf_ulmfit.recipes.corpus import load_splits

    drawn = {split: pd.read_parquet(data / f"{split}.parquet") for split in ("train", "validation", "test")}
    splits = load_splits(DataArguments(dataset="imdb", data_dir=data_dir), labelled=True)
    names = splits["train"].features["label"].names

    def unseen(split: str, exclude: set[str]) -> "pd.DataFrame":
        rows_left = splits[split].filter(lambda text: text not in exclude, input_columns="text")
        table = stratified_sample(rows_left, rows, 1).select_columns(["text", "label"]).to_pandas()
        table["label"] = [names[label] for label in table["label"]]
        return table

    return drawn["train"], {
        "validation (train split)": drawn["validation"],
        "unseen train-split reviews": unseen("validation", set(drawn["validation"]["text"])),
        "test (test split)": drawn["test"],
        "unseen test-split reviews": unseen("test", set(drawn["test"]["text"])),
    }


def accuracy(predicted, table) -> float:
    return float((table["label"].to_numpy() == predicted).mean())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="A low-shot draw (train/validation/test Parquet).")
    parser.add_argument("--classifiers", nargs="*", default=[], help="Saved classifier folders trained on --data.")
    parser.add_argument("--rows", type=int, default=2000, help="Reviews in each of the two new sets.")
    parser.add_argument("--data-dir", default=os.environ.get("HF_ULMFIT_DATA"))
    parser.add_argument("--out", type=Path, help="Where the JSON record goes (default: print only).")
    args = parser.parse_args(argv)

    import numpy as np

    import hf_ulmfit.models  # noqa: F401  (registers the AWD-LSTM with the Auto classes)
    from hf_ulmfit.recipes.inference import class_probabilities

    train, sets = review_sets(args.data, args.data_dir, args.rows)
    scores, seconds = {}, {}
    start = time.perf_counter()
    baseline, C, _, _ = fit_linear_baseline(train, sets["validation (train split)"])
    scores[f"linear baseline (C={C:g})"] = {
        name: accuracy(baseline.predict(table["text"]), table) for name, table in sets.items()
    }
    seconds["linear baseline"] = time.perf_counter() - start
    texts = [text for table in sets.values() for text in table["text"]]
    ends = np.cumsum([len(table) for table in sets.values()])
    for folder in args.classifiers:
        start = time.perf_counter()
        probabilities, labels = class_probabilities(folder, texts, 64, 32768)  # the model loads once, for all sets
        predicted = np.split(np.asarray(labels)[probabilities.argmax(-1)], ends[:-1])
        scores[folder] = {name: accuracy(part, table) for (name, table), part in zip(sets.items(), predicted)}
        seconds[folder] = time.perf_counter() - start
    record = {
        "data": str(args.data),
        "rows": {name: len(table) for name, table in sets.items()},
        "accuracy": scores,
        "seconds": seconds,
        "machine": machine_facts(),
    }
    width = max(len(name) for name in scores)
    print(f"{'':{width}}  " + "  ".join(f"{name:>26}" for name in sets))
    for name, row in scores.items():
        print(f"{name:{width}}  " + "  ".join(f"{100 * row[set_name]:26.1f}" for set_name in sets))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return record


if __name__ == "__main__":
    main()
