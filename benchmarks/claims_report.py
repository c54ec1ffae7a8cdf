"""The report of benchmarks/claims.py: CLAIMS.md and its plots, made from the run records alone
(`python -m benchmarks.claims report`)."""

import json
import statistics
from pathlib import Path

from benchmarks.claims_definitions import (
    LADDER_ROWS,
    LINEAR_BASELINE,
    LOWSHOT_METHODS,
    PAPER_FWDBWD,
    PAPER_TEST_ERROR,
    PAPER_TREC_VALIDATION_ERROR,
    variants_of,
)


def load_results(results: Path, experiment: str) -> list[dict]:
    folder = results / experiment
    return [json.loads(path.read_text()) for path in sorted(folder.rglob("seed*.json"))] if folder.is_dir() else []


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [value for value in values if value is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: list[float], digits: int = 2) -> str:
    """Mean ± standard deviation (number of runs); one run has no spread to show."""
    mean, std = mean_std(values)
    if mean != mean:
        return "–"
    if len(values) == 1:
        return f"{mean:.{digits}f} (1)"
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({len(values)})"


def grouped(results: list[dict], *keys: str) -> dict:
    groups = {}
    for result in results:
        groups.setdefault(tuple(result[key] for key in keys), []).append(result)
    return groups


def report(args) -> Path:
    results = Path(args.results)
    ladder, lowshot, lowshot_defaults, fwdbwd, baseline = (
        load_results(results, name) for name in ("ladder", "lowshot", "lowshot-defaults", "fwdbwd", "baseline")
    )
    everything = ladder + lowshot + lowshot_defaults + fwdbwd + baseline
    if not everything:
        raise SystemExit(f"no results under {results}: run ladder, lowshot or fwdbwd first")
    plots = Path(args.plots)
    plots.mkdir(parents=True, exist_ok=True)
    lines = [
        "# ULMFiT's claims, reproduced on this machine",
        "",
        "Made by `python -m benchmarks.claims report` from the run records in `benchmarks/claims_results/` that "
        "`ladder`, `lowshot` and `fwdbwd` wrote (each run a recipe of the stages' own arguments, see "
        "`benchmarks/claims.py`). Errors are in %, "
        "mean ± standard deviation over seeds (the number of seeds in brackets).",
        "",
    ]
    if any(result["quick"] for result in everything):
        lines += [
            "**Quick mode**: tiny slices and a few steps per stage. These numbers test the command, they say "
            "nothing about ULMFiT.",
            "",
        ]
    lines += setup_section(everything)
    if ladder:
        lines += ladder_section(ladder, baseline, plots / "claims_ladder.png")
    if lowshot_defaults:
        lines += lowshot_section(lowshot_defaults, baseline, plots / "claims_lowshot_defaults.png", defaults=True)
    if lowshot:
        lines += lowshot_section(lowshot, baseline, plots / "claims_lowshot.png")
    if fwdbwd:
        lines += fwdbwd_section(fwdbwd, baseline)
    discussion = Path(args.discussion)
    if not discussion.is_file():
        raise SystemExit(f"--discussion {discussion}: no such file (the hand-written reading of the results)")
    lines += [discussion.read_text().rstrip(), ""]
    markdown = Path(args.markdown)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text("\n".join(lines))
    print(f"wrote {markdown}")
    return markdown


def setup_section(results: list[dict]) -> list[str]:
    machines = sorted(
        {
            f"{r['machine']['cpu']}, {r['machine']['cores']} cores, "
            f"{'/'.join(r['machine'].get('isa', [])) or 'ISA unknown'}"
            for r in results
        }
    )
    loads = [load for r in results for load in r["machine"]["load_average"][:1]]
    versions_seen = sorted(
        {", ".join(f"{key} {value}" for key, value in r["versions"].items() if key != "scikit-learn") for r in results}
    )
    seeds = sorted({r["seed"] for r in results})
    hours = sum(value for r in results for value in r["seconds"].values() if value == value) / 3600
    return [
        "## Setup",
        "",
        f"- Machine: {'; '.join(machines)}; 1-minute load average while runs were recorded "
        f"{min(loads):.1f} to {max(loads):.1f}.",
        f"- Versions: {'; '.join(versions_seen)}.",
        f"- Seeds: {', '.join(map(str, seeds))} (the training seed of every stage; the validation split, 10% of "
        "train stratified, is the same for all: split seed 42).",
        f"- Budget: {hours:.2f} hours of stage time in all (a fine-tuned LM shared by several rows counts once "
        "per run that trained it). Each stage ran with its own defaults unless a row says otherwise.",
        "",
    ]


def baseline_groups(baseline: list[dict]) -> dict:
    """The linear baseline's runs by (task, labels)."""
    return grouped(baseline, "task", "labels")


def linear_on_seeds(linear: dict, task: str, size: str, runs: list[dict]) -> list[float]:
    """The linear baseline's test errors on the seeds (labelled draws) that `runs` used."""
    seeds = {r["seed"] for r in runs}
    return [r["test_error"] for r in linear.get((task, size), []) if r["seed"] in seeds]


def against(ulmfit: list[float], baseline: list[float]) -> str:
    """How far a method's mean test error is below the linear baseline's on the same rows, in points: '+2.10' is
    2.10 points fewer errors than the baseline (the method wins), '-2.10' 2.10 more (it loses)."""
    ours, theirs = mean_std(ulmfit)[0], mean_std(baseline)[0]
    if ours != ours or theirs != theirs:
        return "–"
    return f"{theirs - ours:+.2f}"


def ladder_section(results: list[dict], baseline: list[dict], plot: Path) -> list[str]:
    groups = grouped(results, "row")
    linear = baseline_groups(baseline).get(("trec", "all"), [])
    linear_test = [r["test_error"] for r in linear]
    lines = [
        "## The ablation ladder on TREC-6",
        "",
        "Validation: 10% of train held out (545 questions); test: the 500 TREC test questions. Paper: validation "
        "error, Howard & Ruder (2018), Tables 4, 6, 7. Last column: the row's mean test error below the linear "
        "baseline's on the same rows (points; negative: the row loses to it).",
        "",
        "| row | paper (validation) | validation error | test error | minutes per run (LM + classifier) "
        "| against the linear baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name in LADDER_ROWS:
        if (name,) not in groups:
            continue
        runs = groups[(name,)]
        minutes = [sum(run["seconds"].values()) / 60 for run in runs]
        paper = PAPER_TREC_VALIDATION_ERROR.get(name)
        lines.append(
            f"| {LADDER_ROWS[name][0]} | {'–' if paper is None else f'{paper:.2f}'} | "
            f"{spread([r['validation_error'] for r in runs])} | {spread([r['test_error'] for r in runs])} | "
            f"{spread(minutes, 1)} | {against([r['test_error'] for r in runs], linear_test)} |"
        )
    if linear:
        lines.append(
            f"| {LINEAR_BASELINE} | – | {spread([r['validation_error'] for r in linear])} | {spread(linear_test)} | "
            f"{spread([sum(r['seconds'].values()) / 60 for r in linear], 1)} | 0 |"
        )
    lines += [
        "",
        f"Paper's test error of the full method: {PAPER_TEST_ERROR['trec']} (TREC-6).",
        "",
        f"![ladder](plots/{plot.name})",
        "",
    ]
    plot_ladder(groups, linear, plot)
    return lines


def lowshot_section(results: list[dict], baseline: list[dict], plot: Path, defaults: bool = False) -> list[str]:
    """The low-shot table: `lowshot` (each method's ladder recipe, pinned) or, with `defaults`, `lowshot --recipe
    defaults` (train-classifier's own defaults, from the LM its records name)."""
    groups = grouped(results, "task", "method", "labels")
    linear = baseline_groups(baseline)
    if defaults:
        models = ", ".join(sorted({f"`{Path(r['pretrained_lm']).name}`" for r in results}))
        heading = [
            "## Low-shot with the CLI's defaults (test error against the number of labelled examples)",
            "",
            f"`claims.py lowshot --recipe defaults`: every stage with its own defaults, as a user gets them, from the "
            f"pretrained LM {models}. ULMFiT: `finetune-lm` on the labelled texts (supervised) or on the task's "
            "text (semi-supervised), then `train-classifier` (12 epochs, STLR to 1e-2, one LR for all groups, "
            "gradual unfreezing, at least 200 steps, batch 64). From scratch: `train-classifier` without a language "
            "model, i.e. its from-scratch recipe (word-level tokenizer, bidirectional 128/256 2-layer LSTM, lr 3e-3, "
            "8 epochs, label smoothing 0.1 from 1,000 labels). Cells and seeds not run yet show –.",
            "",
        ]
    else:
        heading = ["## Low-shot: test error against the number of labelled examples", ""]
    lines = heading + [
        "Each run draws its labelled examples at random, stratified, with its seed; validation and test rows are "
        "the same for all runs (IMDb: a fixed stratified subset of the test reviews). TREC 'all' is its whole "
        "train split less the validation 10%. The linear baseline "
        f"({LINEAR_BASELINE}) trains on exactly the labelled rows of each seed's draw and is tested on the same "
        "rows. Last column: how many points of test error ULMFiT (supervised / semi-supervised) has below the "
        "baseline (negative: ULMFiT loses).",
        "",
        "| task | labels | "
        + " | ".join(LOWSHOT_METHODS.values())
        + " | TF-IDF + logistic regression | ULMFiT against the baseline (sup. / semi) |",
        "|---|---|" + "---|" * (len(LOWSHOT_METHODS) + 2),
    ]
    tasks = sorted({r["task"] for r in results})
    sizes = sizes_of(results)
    verdicts = []
    for task in tasks:
        for size in sizes:
            errors = {
                method: [r["test_error"] for r in groups.get((task, method, size), [])] for method in LOWSHOT_METHODS
            }
            # The baseline on the seeds (labelled draws) the row's runs used, so that a cell run on fewer seeds
            # is compared with the baseline on the same rows.
            seeds = {r["seed"] for method in LOWSHOT_METHODS for r in groups.get((task, method, size), [])}
            linear_errors = [r["test_error"] for r in linear.get((task, size), []) if r["seed"] in seeds]
            cells = [spread(errors[method]) for method in LOWSHOT_METHODS] + [spread(linear_errors)]
            # Each method against the baseline on its own seeds' rows (a method may have run on fewer seeds).
            margins = [
                against(errors[method], linear_on_seeds(linear, task, size, groups.get((task, method, size), [])))
                for method in ("supervised", "semi-supervised")
            ]
            if any(cell != "–" for cell in cells[:-1]):
                lines.append(f"| {task} | {size} | " + " | ".join(cells) + f" | {' / '.join(margins)} |")
                verdicts.append((task, size, margins))
    lines += baseline_verdicts(verdicts)
    if defaults:
        for method in VARIANT_TABLES:
            lines += variants_table(method, groups, linear, tasks, sizes)
    lines += [
        "",
        "Where ULMFiT with N labels matches training from scratch (the smallest size tried at which the "
        "from-scratch classifier's mean test error is as low):",
        "",
    ]
    for task in tasks:
        scratch = {
            size: mean_std([r["test_error"] for r in groups.get((task, "from-scratch", size), [])])[0]
            for size in sizes
        }
        for method in ("supervised", "semi-supervised"):
            for size in sizes:
                error = mean_std([r["test_error"] for r in groups.get((task, method, size), [])])[0]
                if error != error or size == "all":
                    continue
                match = next(
                    (other for other in sizes if scratch[other] == scratch[other] and scratch[other] <= error),
                    None,
                )
                if match == "all":
                    match = f"all {groups[(task, 'from-scratch', 'all')][0]['train_documents']:,}"
                lines.append(
                    f"- {task}, {method}, {size} labels ({error:.2f}%): from scratch needs "
                    f"{match + ' labels' if match else 'more labels than any size tried'}."
                )
    lines += [
        "",
        "Paper: with 100 labels ULMFiT matches training from scratch on 10x (supervised) to 100x "
        "(semi-supervised) the data.",
        "",
        f"![low-shot](plots/{plot.name})",
        "",
    ]
    plot_lowshot(groups, linear, tasks, sizes, plot)
    return lines


# A method with variants -> its table's heading, what its default is, and the target its last column is read against.
VARIANT_TABLES = {
    "from-scratch": (
        "From scratch: the default and its variants",
        "Test error of `train-classifier` without a language model, with its defaults (a bidirectional LSTM with "
        "concat pooling)",
        " the target is at least -3 points",
    ),
    "supervised": (
        "ULMFiT (supervised): the default and its variants",
        "Test error of `train-classifier` from the LM fine-tuned on the labelled texts, with its defaults",
        " the target is above 0",
    ),
    "semi-supervised": (
        "ULMFiT (semi-supervised): the default and its variants",
        "Test error of `train-classifier` from the LM fine-tuned on the task's text, with its defaults",
        " the target is above 0",
    ),
}


def variants_table(method: str, groups: dict, linear: dict, tasks: list[str], sizes: list[str]) -> list[str]:
    """`method`'s default and its variants (one setting changed each), a row each, on the cells (columns) where a
    variant ran: each run's mean test error and, in brackets, the baseline's on the same seeds minus it (as `against`
    says it); then the baseline's row, on every seed the cell's runs used."""
    variants = variants_of(method)
    settings = {method: ("default", ""), **{name: (label, f"`{flags}`") for name, (label, flags) in variants.items()}}
    cells = [
        (task, size)
        for task in tasks
        for size in sizes
        if any(groups.get((task, variant, size)) for variant in variants)
    ]
    if not cells:
        return []

    def cell(task: str, size: str, name: str) -> str:
        runs = groups.get((task, name, size), [])
        margin = against([r["test_error"] for r in runs], linear_on_seeds(linear, task, size, runs))
        return spread([r["test_error"] for r in runs]) + (f" [{margin}]" if runs else "")

    rows = [
        f"| {label} | {flags} | " + " | ".join(cell(task, size, name) for task, size in cells) + " |"
        for name, (label, flags) in settings.items()
    ]
    baseline = [
        spread(
            linear_on_seeds(linear, task, size, [r for name in settings for r in groups.get((task, name, size), [])])
        )
        for task, size in cells
    ]
    heading, description, target = VARIANT_TABLES[method]
    return [
        "",
        f"### {heading}",
        "",
        f"{description} (the first row), and its variants, each the default with one setting changed. Each cell: "
        "test error, and in brackets the baseline's test error minus it on the same seeds' rows (+: it wins;"
        + f"{target}).",
        "",
        "| setting | changed | " + " | ".join(f"{task} {size}" for task, size in cells) + " |",
        "|---|---|" + "---|" * len(cells),
        *rows,
        "| TF-IDF + logistic regression |  | " + " | ".join(baseline) + " |",
    ]


def baseline_verdicts(verdicts: list[tuple[str, str, list[str]]]) -> list[str]:
    """One line: in which cells ULMFiT (the better of its two methods) beats the linear baseline, and by how much."""
    wins, losses = [], []
    for task, size, margins in verdicts:
        known = [float(margin) for margin in margins if margin != "–"]
        if known:
            (wins if max(known) > 0 else losses).append(f"{task} {size} ({max(known):+.2f})")
    if not wins and not losses:
        return []
    return [
        "",
        f"ULMFiT (the better of supervised and semi-supervised) beats the linear baseline in {len(wins)} of "
        f"{len(wins) + len(losses)} cells: "
        + (", ".join(wins) or "none")
        + "; it loses in "
        + (", ".join(losses) or "none")
        + " (test error points below the baseline's).",
    ]


def fwdbwd_section(results: list[dict], baseline: list[dict]) -> list[str]:
    groups = grouped(results, "task")
    linear = baseline_groups(baseline)
    lines = [
        "## Forward, backward and the ensemble (test accuracy, %)",
        "",
        "Semi-supervised ULMFiT in each direction (LM fine-tuned from the forward or the backward pretrained "
        "LM), then the library's ensemble (`hf-ulmfit evaluate --backward_model_name_or_path`, probabilities "
        "averaged).",
        "",
        "| task | labels | forward | backward | ensemble | TF-IDF + logistic regression (same rows) | paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for (task,), runs in sorted(groups.items()):
        accuracy = {key: [100 * r[f"{key}_accuracy"] for r in runs] for key in ("forward", "backward", "ensemble")}
        cells = [spread(accuracy[key]) for key in ("forward", "backward", "ensemble")]
        seeds = {r["seed"] for r in runs}
        cells.append(
            spread([100 * r["test_accuracy"] for r in linear.get((task, runs[0]["labels"]), []) if r["seed"] in seeds])
        )
        lines.append(f"| {task} | {runs[0]['labels']} | {' | '.join(cells)} | {PAPER_FWDBWD.get(task, '')} |")
    return lines + [""]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ladder(groups: dict, linear: list[dict], path: Path) -> None:
    plt = pyplot()
    names = [name for name in LADDER_ROWS if (name,) in groups]
    means = [mean_std([r["validation_error"] for r in groups[(name,)]]) for name in names]
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(names) + 1.5))
    positions = range(len(names))
    axes.barh(
        positions,
        [m for m, _ in means],
        xerr=[s for _, s in means],
        color="tab:blue",
        alpha=0.7,
        label="this machine (mean ± std over seeds)",
    )
    axes.scatter(
        [PAPER_TREC_VALIDATION_ERROR.get(name, float("nan")) for name in names],
        positions,
        color="black",
        marker="D",
        zorder=3,
        label="paper",
    )
    if linear:
        axes.axvline(
            mean_std([r["validation_error"] for r in linear])[0],
            color="tab:red",
            linestyle="--",
            label="TF-IDF + logistic regression",
        )
    axes.set_yticks(list(positions), [LADDER_ROWS[name][0] for name in names])
    axes.invert_yaxis()
    axes.set_xlabel("TREC-6 validation error (%)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def sizes_of(results: list[dict]) -> list[str]:
    """The label counts the runs used, smallest first, 'all' last."""
    counts = {r["labels"] for r in results}
    return sorted(counts - {"all"}, key=int) + (["all"] if "all" in counts else [])


def plot_lowshot(groups: dict, linear: dict, tasks: list[str], sizes: list[str], path: Path) -> None:
    """Like the paper's Figure 3: error against the number of labelled examples (log scale), one line per method."""
    plt = pyplot()
    figure, all_axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axes, task in zip(all_axes[0], tasks):
        for method, label in LOWSHOT_METHODS.items():
            points = []
            for size in sizes:
                runs = groups.get((task, method, size), [])
                if runs:
                    mean, std = mean_std([r["test_error"] for r in runs])
                    points.append((runs[0]["train_documents"], mean, std))
            if not points:
                continue
            xs, ys, stds = zip(*sorted(points))
            axes.plot(xs, ys, marker="o", label=label)
            axes.fill_between(xs, [y - s for y, s in zip(ys, stds)], [y + s for y, s in zip(ys, stds)], alpha=0.2)
        points = [
            (runs[0]["train_documents"], mean_std([r["test_error"] for r in runs])[0])
            for size in sizes
            if (runs := linear.get((task, size)))
        ]
        if points:
            xs, ys = zip(*sorted(points))
            axes.plot(xs, ys, color="black", linestyle="--", marker="s", label="TF-IDF + logistic regression")
        axes.set_xscale("log")
        axes.xaxis.set_minor_formatter(plt.NullFormatter())  # major ticks only: the sizes span 100 to 5,000
        axes.set_xlabel("labelled training examples")
        axes.set_ylabel("test error (%)")
        axes.set_title(task)
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
