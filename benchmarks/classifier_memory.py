"""Peak memory of classifier training (issue 33, item 11): `hf-ulmfit train-classifier` with its defaults, from the
newest shared language model, on IMDb reviews, against the number of documents, the epochs (validation after each)
and the longest document (a few reviews of one label joined into one long document).

Each run is one fresh process, timed and measured by its parent (peak resident set from `wait4`, as `/usr/bin/time`
reports it). `--before SRC` also runs another checkout's `src/` (the code before a change) on the same inputs, in
the same run, so that the report compares like with like. Results go to RESULTS-classifier-memory.md.

    python -m benchmarks.classifier_memory --before /path/to/old/checkout/src     # the grid (~40 min on 2 cores)
    python -m benchmarks.classifier_memory --quick                                # two small runs
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench_utils import DATA, ROOT, WORK, machine_description, replace_section


RESULTS = ROOT / "benchmarks" / "RESULTS-classifier-memory.md"
START, END = "<!-- classifier-memory: start -->", "<!-- classifier-memory: end -->"
VALIDATION_DOCUMENTS = 64

# name -> (training documents, epochs, documents replaced by long ones, words in each long one)
GRID = {
    "128 docs, 1 epoch": (128, 1, 0, 0),
    "512 docs, 1 epoch": (512, 1, 0, 0),
    "128 docs, 3 epochs": (128, 3, 0, 0),
    "128 docs, 4 of 5,000 words": (128, 1, 4, 5_000),
    "128 docs, 4 of 20,000 words": (128, 1, 4, 20_000),
    "128 docs, 12 from 2,000 to 20,000 words": (128, 1, 12, -20_000),  # negative: lengths spread up to it
}
QUICK_GRID = {"64 docs, 1 epoch": (64, 1, 0, 0), "64 docs, 2 of 3,000 words": (64, 1, 2, 3_000)}


def prepared_folder(name: str, documents: int, long_documents: int, long_words: int, seed: int = 0) -> Path:
    """A dataset folder (train.csv, validation.csv) of IMDb training reviews: `documents` drawn with a seed, of which
    `long_documents` are replaced by documents of about `long_words` words made by joining reviews of one label
    (a negative `long_words`: lengths spread evenly from a tenth of it up to it)."""
    import pandas

    folder = WORK / "classifier_memory" / name.replace(" ", "_").replace(",", "")
    if (folder / "train.csv").exists():
        return folder
    reviews = pandas.read_parquet(DATA / "imdb" / "train.parquet").sample(frac=1.0, random_state=seed)
    train = reviews.iloc[:documents].reset_index(drop=True)
    validation = reviews.iloc[documents : documents + VALIDATION_DOCUMENTS]
    pool = reviews.iloc[documents + VALIDATION_DOCUMENTS :]
    targets = (
        [abs(long_words) * (i + 1) // long_documents for i in range(long_documents)]
        if long_words < 0
        else [long_words] * long_documents
    )
    targets = [max(target, abs(long_words) // 10) for target in targets]
    taken = 0
    for row, target in enumerate(targets):
        label, parts, words = train.loc[row, "label"], [], 0
        for text in pool[pool["label"] == label]["text"].iloc[taken:]:
            parts.append(text)
            words += len(text.split())
            taken += 1
            if words >= target:
                break
        train.loc[row, "text"] = " ".join(parts)
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    validation.to_csv(folder / "validation.csv", index=False)
    return folder


def run_one(name: str, variant: str, src: Path | None, settings: tuple, lm: Path) -> dict:
    """One `train-classifier` run in a fresh single-threaded process: its peak resident set and wall-clock."""
    documents, epochs, long_documents, long_words = settings
    folder = prepared_folder(name, documents, long_documents, long_words)
    output = WORK / "classifier_memory" / "runs" / f"{variant}-{folder.name}"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "0"}
    environment.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", USE_HUB_KERNELS="NO")
    if src is not None:
        environment["PYTHONPATH"] = str(src)
    extra = ["--activation_budget_tokens", "0"] if variant == "no activation budget" else []
    command = [
        sys.executable,
        "-c",
        "import sys; from hf_ulmfit.cli.main import main; sys.exit(main())",
        "train-classifier",
        "--model_name_or_path",
        str(lm),
        "--dataset",
        str(folder),
        "--num_train_epochs",
        str(epochs),
        "--output_dir",
        str(output),
        "--overwrite_output_dir",
        "true",
        "--save_strategy",
        "no",
        "--seed",
        "0",
        "--min_train_steps",
        "0",
        *extra,
    ]
    log = output.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    lengths = [len(text.split()) for text in _texts(folder / "train.csv")]
    return {
        "grid": name,
        "variant": variant,
        "documents": documents,
        "epochs": epochs,
        "longest_words": max(lengths),
        "mean_words": round(sum(lengths) / len(lengths)),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "seconds": round(seconds, 1),
        "exit_code": os.waitstatus_to_exitcode(status),
        "log": str(log),
    }


def _texts(path: Path) -> list[str]:
    import pandas

    return pandas.read_csv(path)["text"].tolist()


def report(results: list[dict], command: str, lm: Path) -> str:
    variants = list(dict.fromkeys(result["variant"] for result in results))
    by_key = {(result["grid"], result["variant"]): result for result in results}
    header = "| run | longest document (words) | mean (words) | " + " | ".join(
        f"{variant}: peak RSS (MiB), time (s)" for variant in variants
    )
    lines = [
        "## Peak memory of classifier training",
        "",
        f"Made by `{command}` ({time.strftime('%Y-%m-%d')}); every figure below comes from that one run.",
        "",
        f"- Machine: {machine_description()}; each run one process with one OpenMP thread, two runs at a time.",
        f"- `hf-ulmfit train-classifier --model_name_or_path {lm.name} --dataset FOLDER --num_train_epochs N"
        " --min_train_steps 0` (the short run as given) and otherwise the CLI's defaults (batches of 64,"
        " validation after each epoch, bf16 where the stage picks it),"
        f" on IMDb training reviews drawn with a seed, {VALIDATION_DOCUMENTS} of them for validation. Long documents"
        " are reviews of one label joined. Peak RSS is the process's peak resident set (`wait4`, as `/usr/bin/time`"
        " gives it); time is the whole command's wall-clock, on a machine shared with other jobs.",
        "",
        header + " |",
        "|---" * (3 + len(variants)) + "|",
    ]
    for grid in dict.fromkeys(result["grid"] for result in results):
        first = next(result for result in results if result["grid"] == grid)
        cells = []
        for variant in variants:
            result = by_key.get((grid, variant))
            if result is None:
                cells.append("–")
            elif result["exit_code"] != 0:
                cells.append(f"failed (exit {result['exit_code']})")
            else:
                cells.append(f"{result['peak_rss_mib']:,}, {result['seconds']:.0f}")
        lines.append(f"| {grid} | {first['longest_words']:,} | {first['mean_words']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small runs")
    parser.add_argument("--before", type=Path, help="another checkout's src/ to run beside this one")
    parser.add_argument("--before-name", default="before", help="its column's name in the report")
    parser.add_argument("--no-budget", action="store_true", help="also run with --activation_budget_tokens 0")
    parser.add_argument("--lm", type=Path, help="the language model (default: the newest forward LM in ../shared)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    from hf_ulmfit.recipes.quickstart import find_pretrained_lm

    lm = args.lm or Path(find_pretrained_lm(str(DATA)))
    grid = QUICK_GRID if args.quick else GRID
    variants = [("this commit", None)]
    if args.no_budget:
        variants.append(("no activation budget", None))
    if args.before:
        variants.append((args.before_name, args.before))
    jobs = [(name, variant, src, settings, lm) for name, settings in grid.items() for variant, src in variants]
    for name, settings in grid.items():  # prepared once, before the runs that share it start
        prepared_folder(name, settings[0], settings[2], settings[3])
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda job: run_one(*job), jobs))
    (WORK / "classifier_memory" / "results.json").write_text(json.dumps(results, indent=2))
    for result in results:
        print(json.dumps(result))
    command = "python -m benchmarks.classifier_memory " + " ".join(sys.argv[1:])
    replace_section(args.results, START, END, report(results, command.strip(), lm))
    print(f"[classifier_memory] wrote {args.results}")


if __name__ == "__main__":
    main()
