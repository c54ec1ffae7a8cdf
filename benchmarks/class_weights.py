"""Class weights on imbalanced data: SMS Spam with spam cut to 2% of train, trained with `--class_weights none` and
`--class_weights balanced` (same seeds), evaluated on SMS Spam's whole held-out test split (natural 13% spam).

The slice: `load_text_dataset("sms_spam")` train (its stratified 80%), the first 1,500 ham and the first 30 spam
messages in file order; the test split as it is. Each classifier starts from the shared pretrained language model
(`--model_name_or_path`, default ../shared/models/wiki-awd-lstm-192-576-u12k-fwd-v3) with train-classifier's
defaults except `--min_train_steps 0`, 4 epochs, batch 32 (the last, partial batch dropped: 1,377 rows leave a
batch of one, which BatchNorm cannot train on).

    python -m benchmarks.class_weights [--seeds 0 1 2] [--output benchmarks/RESULTS-class-weights.md]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from hf_ulmfit.cli.main import main as cli
from hf_ulmfit.data import load_text_dataset


REPO = Path(__file__).resolve().parents[1]


def imbalanced_slice(folder: Path, ham: int = 1500, spam: int = 30) -> dict:
    dataset = load_text_dataset("sms_spam")
    names = dataset["train"].features["label"].names
    train = dataset["train"].to_pandas()
    train["label"] = train["label"].map(names.__getitem__)
    kept = pd.concat([train[train.label == "ham"].head(ham), train[train.label == "spam"].head(spam)]).sort_index()
    test = dataset["test"].to_pandas()
    test["label"] = test["label"].map(names.__getitem__)
    folder.mkdir(parents=True, exist_ok=True)
    kept.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return {"train": kept.label.value_counts().to_dict(), "test": test.label.value_counts().to_dict()}


def run(folder: Path, work: Path, lm: str, weights: str, seed: int) -> dict:
    out = work / f"{weights}-{seed}"
    flags = ["--model_name_or_path", lm, "--dataset", str(folder), "--class_weights", weights, "--seed", str(seed)]
    flags += ["--min_train_steps", "0", "--num_train_epochs", "4", "--per_device_train_batch_size", "32"]
    flags += [
        "--save_strategy",
        "no",
        "--disable_tqdm",
        "true",
        "--dataloader_drop_last",
        "true",
        "--output_dir",
        str(out),
    ]
    start = time.perf_counter()
    assert cli(["train-classifier", *flags]) == 0
    seconds = time.perf_counter() - start
    assert cli(["evaluate", "--model_name_or_path", str(out), "--dataset", str(folder), "--split", "test"]) == 0
    results = json.loads((out / f"eval_results_{folder.name}_test.json").read_text())
    return {
        "weights": weights,
        "seed": seed,
        "seconds": round(seconds, 1),
        "macro_f1": results["f1"],
        "accuracy": results["accuracy"],
        "recall": {label: values["recall"] for label, values in results["per_class"].items()},
    }


def report(rows: list[dict], counts: dict) -> str:
    lines = [
        "# Class weights on imbalanced SMS Spam",
        "",
        f"Train: {counts['train']} (10% of it held out as validation, stratified), spam 2%; test: {counts['test']}.",
        "Machine: 2-core AMD EPYC with AVX512-BF16, no GPU, shared with other jobs. Produced by "
        "`python -m benchmarks.class_weights`.",
        "",
        "| --class_weights | seed | ham recall | spam recall | macro-F1 | accuracy |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['weights']} | {r['seed']} | {r['recall']['ham']:.3f} | {r['recall']['spam']:.3f} | "
        f"{r['macro_f1']:.3f} | {r['accuracy']:.3f} |"
        for r in rows
    ]
    lines += [
        "",
        "| --class_weights | median spam recall | median ham recall | median macro-F1 |",
        "|---|---|---|---|",
    ]
    for weights in dict.fromkeys(r["weights"] for r in rows):
        mine = [r for r in rows if r["weights"] == weights]
        lines.append(
            f"| {weights} | {statistics.median(r['recall']['spam'] for r in mine):.3f} | "
            f"{statistics.median(r['recall']['ham'] for r in mine):.3f} | "
            f"{statistics.median(r['macro_f1'] for r in mine):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lm", default=str(REPO.parent / "shared" / "models" / "wiki-awd-lstm-192-576-u12k-fwd-v3"))
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "RESULTS-class-weights.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        counts = imbalanced_slice(work / "sms-imbalanced")
        rows = [run(work / "sms-imbalanced", work, args.lm, w, s) for s in args.seeds for w in ("none", "balanced")]
    Path(args.output).write_text(report(rows, counts))
    Path(args.output).with_suffix(".json").write_text(json.dumps({"counts": counts, "runs": rows}, indent=2))
    print(report(rows, counts))


if __name__ == "__main__":
    main()
