"""A user's CSV and no flags: `hf-ulmfit train-classifier --dataset mails.csv` on 1,300 SMS Spam messages (a
classifier from scratch, which the command trains without a language model), beside the linear baseline on the same
rows.

The CSV: 1,300 messages drawn from `sms_spam/all.parquet` in `$HF_ULMFIT_DATA` (pandas `sample(random_state=0)`:
1,116 ham, 184 spam). Each seed S runs the command with `--seed S --split_seed S` (the stage holds out 20% for test,
then 10% of the rest for validation: 936 / 104 / 260 rows), plus each variant's flags; the baseline (claims.py's
TF-IDF + logistic regression) trains on the same 936 rows, its C chosen on the same 104. Reports test accuracy and
macro-F1 per seed, their mean and the lowest.

    python -m benchmarks.user_csv [--seeds 0 1 2 3 4] [--output benchmarks/RESULTS-user-csv.md]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.bench_utils import machine_description
from benchmarks.claims import linear_baseline, versions
from hf_ulmfit.cli.main import main as cli
from hf_ulmfit.data.named_datasets import resolve_data_dir
from hf_ulmfit.recipes.arguments import DataArguments
from hf_ulmfit.recipes.corpus import load_splits


REPO = Path(__file__).resolve().parents[1]
ROWS = 1300
BASELINE = "TF-IDF + logistic regression"
# name -> the flags it adds to the command; "default" is the command as a user types it.
VARIANTS = {"default": [], "fastai's dropouts (the default before)": ["--classifier_drop_mult", "0.5"]}


def write_user_csv(path: Path) -> dict:
    data_dir = resolve_data_dir()
    if data_dir is None:
        raise SystemExit("Set HF_ULMFIT_DATA to the folder that holds sms_spam/ (../shared/data).")
    sample = pd.read_parquet(data_dir / "sms_spam" / "all.parquet").sample(n=ROWS, random_state=0)
    sample.to_csv(path, index=False)
    return sample["label"].value_counts().to_dict()


def train(csv: Path, work: Path, variant: str, seed: int) -> dict:
    out = work / f"{list(VARIANTS).index(variant)}-{seed}"
    flags = ["--dataset", str(csv), "--seed", str(seed), "--split_seed", str(seed), *VARIANTS[variant]]
    start = time.perf_counter()
    assert cli(["train-classifier", *flags, "--disable_tqdm", "true", "--output_dir", str(out)]) == 0
    record = json.loads((out / "ulmfit_run.json").read_text())
    return {
        "variant": variant,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 1),
        "drop_mult": record["model"]["drop_mult"],
        "accuracy": record["results"]["test"]["accuracy"],
        "macro_f1": record["results"]["test"]["f1"],
    }


def baseline(csv: Path, seed: int) -> dict:
    splits = load_splits(DataArguments(dataset=str(csv), split_seed=seed), labelled=True)
    result = linear_baseline(splits["train"], splits["validation"], splits["test"])
    return {
        "variant": BASELINE,
        "seed": seed,
        "rows": {split: len(rows) for split, rows in splits.items()},
        "accuracy": result["test_accuracy"],
        "macro_f1": result["test_f1"],
    }


def report(runs: list[dict], counts: dict, about: dict) -> str:
    seeds = sorted({run["seed"] for run in runs})
    lines = [
        "# A user's CSV and no flags",
        "",
        "`hf-ulmfit train-classifier --dataset mails.csv --seed S --split_seed S`, "
        f"{ROWS} SMS Spam messages ({counts}),",
        f"seeds {seeds}; rows per split {about['rows']}. Produced by `python -m benchmarks.user_csv` "
        f"({about['seconds']:.0f} s), hf-ulmfit at {about['versions'].get('commit', '?')}, torch "
        f"{about['versions'].get('torch')}, transformers {about['versions'].get('transformers')}, on "
        f"{about['machine']}.",
        "",
        "| classifier | " + " | ".join(f"seed {seed}" for seed in seeds) + " | mean | lowest | mean macro-F1 |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]
    for variant in [*VARIANTS, BASELINE]:
        mine = {run["seed"]: run for run in runs if run["variant"] == variant}
        accuracy = [100 * mine[seed]["accuracy"] for seed in seeds]
        lines.append(
            f"| {variant} | "
            + " | ".join(f"{value:.1f}" for value in accuracy)
            + f" | {statistics.mean(accuracy):.1f} | {min(accuracy):.1f} | "
            f"{statistics.mean(mine[seed]['macro_f1'] for seed in seeds):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "RESULTS-user-csv.md"))
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        csv = work / "mails.csv"
        counts = write_user_csv(csv)
        runs = [train(csv, work, variant, seed) for seed in args.seeds for variant in VARIANTS]
        runs += [baseline(csv, seed) for seed in args.seeds]
    about = {
        "rows": runs[-1]["rows"],
        "seconds": time.perf_counter() - start,
        "versions": versions(),
        "machine": machine_description(),
    }
    text = report(runs, counts, about)
    Path(args.output).write_text(text)
    Path(args.output).with_suffix(".json").write_text(json.dumps({"counts": counts, **about, "runs": runs}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
