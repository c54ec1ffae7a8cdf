"""Time to quality of pretraining, side by side with fastai (issue 12): held-out perplexity per word against
training wall-clock.

fastai's standard AWD-LSTM language model with its defaults trains for `--fastai-minutes` on one core while, on the
other core at the same time, each of our recipes (`ours.py PRETRAIN_RECIPES`) trains for `--ours-minutes`, one after
the other. Both sides read the same shuffled wiki-00 articles and are scored on the same held-out articles of wiki-07
(which no run trains on), per whitespace word, so that word and subword vocabularies compare. Each run is one fresh
process (`ours.py` / `fastai_side.py pretrain_curve`) that writes one JSON file; a run whose file exists is not run
again, so an interrupted benchmark resumes. The report (RESULTS-pretraining.md and a PNG plot) gives, for each of
ours, the training time it needed to reach fastai's perplexity at the end of fastai's budget.

    python -m benchmarks.pretrain_quality                # full mode: fastai 30 min, ours 10 min each (~70 min)
    python -m benchmarks.pretrain_quality --quick        # a few minutes
    python -m benchmarks.pretrain_quality --report-only  # the report from the JSON files already there

Side by side (issue 29): two of our recipes, no fastai, started together on one core each for the same budget, so
that both see the same machine; the first is the reference, and the report gives the training time the second
needed to reach the first one's final perplexity (RESULTS-pretraining.md, section "one hour side by side"):

    python -m benchmarks.pretrain_quality --side-by-side small-unigram small-word-bs16 --hour
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from benchmarks.bench_utils import ROOT, WORK, machine_description, replace_section


PYTHON = {"ours": ROOT / ".venv" / "bin" / "python", "fastai": ROOT / ".fastai-venv" / "bin" / "python"}
# Run as `python -m MODULE` from the repository root (the child's working directory).
MODULE = {"ours": "benchmarks.ours", "fastai": "benchmarks.fastai_side"}
# In the order they run (the levers); "standard" (fastai's own recipe, our code and precision) runs on request.
RECIPES = [
    "small-unigram-bs16",
    "small-unigram-qrnn-bs16",
    "small-word-bs16",
    "small-word-qrnn-bs16",
    "small-unigram",
    "standard",
]
DEFAULT_RECIPES = RECIPES[:5]
MODES = {
    "full": dict(fastai_minutes=30.0, ours_minutes=10.0, fastai_points=4, ours_points=5, held_out_articles=30),
    "quick": dict(fastai_minutes=1.5, ours_minutes=0.5, fastai_points=2, ours_points=2, held_out_articles=5),
    "hour": dict(ours_minutes=60.0, ours_points=6, held_out_articles=30),
}
HEADLINE = "word_perplexity_unknown_spread"


def one_core_environment(core: int | None) -> tuple[list[str], dict]:
    """The command prefix and environment of a run that has one core: one OpenMP and one Rust thread, pinned to
    `core` where `taskset` exists, so the two sides running at once do not take each other's core."""
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "RAYON_NUM_THREADS": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    prefix = ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []
    return prefix, environment


def run_one(side: str, out: Path, core: int | None, *arguments: str) -> None:
    if out.exists():
        print(f"[pretrain_quality] {out.name} exists, not run again", flush=True)
        return
    prefix, environment = one_core_environment(core)
    command = [*prefix, str(PYTHON[side]), "-m", MODULE[side], "pretrain_curve", "--out", str(out), *arguments]
    log = out.with_suffix(".log")
    print(f"[pretrain_quality] {' '.join(command)}  (log: {log})", flush=True)
    start = time.perf_counter()
    with open(log, "w") as handle:
        finished = subprocess.run(command, cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    state = "done" if finished.returncode == 0 else f"FAILED (exit {finished.returncode}; see {log})"
    print(f"[pretrain_quality] {out.name}: {state} in {seconds:.0f} s", flush=True)


def ours_arguments(recipe: str, settings: dict, seed: int) -> list:
    """ours.py's command-line arguments for one recipe at this size's budget."""
    return [
        "--recipe",
        recipe,
        "--minutes",
        str(settings["ours_minutes"]),
        "--points",
        str(settings["ours_points"]),
        "--held-out-articles",
        str(settings["held_out_articles"]),
        "--seed",
        str(seed),
    ]


def run_side_by_side(args, settings: dict) -> None:
    """The recipes of `args.side_by_side` started together, one core each, each for the same budget; each run also
    saves its trained LM (``<out>/lm-<recipe>``)."""
    two_cores = (os.cpu_count() or 1) >= 2
    threads = []
    for core, recipe in enumerate(args.side_by_side):
        arguments = [*ours_arguments(recipe, settings, args.seed), "--save-model", str(args.out / f"lm-{recipe}")]
        where = core % 2 if two_cores else None
        threads.append(
            threading.Thread(target=run_one, args=("ours", args.out / f"ours-{recipe}.json", where, *arguments))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_benchmark(args, settings: dict) -> None:
    two_cores = (os.cpu_count() or 1) >= 2
    common = ["--held-out-articles", str(settings["held_out_articles"]), "--seed", str(args.seed)]
    fastai = threading.Thread(
        target=run_one,
        args=(
            "fastai",
            args.out / "fastai.json",
            0 if two_cores else None,
            "--minutes",
            str(settings["fastai_minutes"]),
            "--points",
            str(settings["fastai_points"]),
            *common,
        ),
    )
    fastai.start()
    for recipe in args.recipes:
        run_one(
            "ours",
            args.out / f"ours-{recipe}.json",
            1 if two_cores else None,
            *ours_arguments(recipe, settings, args.seed),
        )
    fastai.join()


# ---------------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------------


def seconds_to_reach(curve: list[dict], target: float, metric: str) -> tuple[float | None, bool]:
    """Training seconds at which the curve first reaches `target` (interpolated in log perplexity between the two
    snapshots around it), and whether that is an upper bound (the first snapshot was already below it)."""
    previous = None
    for point in curve:
        if point[metric] <= target:
            if previous is None:
                return point["seconds"], True
            span = math.log(previous[metric]) - math.log(point[metric])
            share = (math.log(previous[metric]) - math.log(target)) / span if span > 0 else 1.0
            return previous["seconds"] + share * (point["seconds"] - previous["seconds"]), False
        previous = point
    return None, False


def minutes(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds / 60:.1f}"


def load_runs(folder: Path) -> list[dict]:
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return sorted(runs, key=lambda run: -1 if run["side"] == "fastai" else RECIPES.index(run["recipe"]))


def run_label(run: dict) -> str:
    return "fastai" if run["side"] == "fastai" else f"ours: {run['recipe']}"


def plot(runs: list[dict], path: Path, target: float, target_label: str = "fastai at the end of its budget") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for run in runs:
        curve = run["curve"]
        axes.plot(
            [p["seconds"] / 60 for p in curve],
            [p[HEADLINE] for p in curve],
            marker="o",
            linestyle="--" if run["side"] == "fastai" else "-",
            label=f"{run_label(run)} ({run['parameters'] / 1e6:.1f}M params, {run['precision']})",
        )
    axes.axhline(target, color="grey", linewidth=0.8, linestyle=":", label=target_label)
    axes.set_yscale("log")
    axes.set_xlabel("training wall-clock (minutes, one core each)")
    axes.set_ylabel("held-out perplexity per word (log scale)")
    axes.set_title("Pretraining on Wikipedia: time to quality")
    axes.legend(fontsize=8)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def report(args, settings: dict) -> None:
    runs = load_runs(args.out)
    fastai = next((run for run in runs if run["side"] == "fastai"), None)
    if fastai is None or not any(run["side"] == "ours" for run in runs):
        raise SystemExit(f"no fastai run or no run of ours in {args.out}: run the benchmark first")
    target = fastai["curve"][-1][HEADLINE]
    target_raw = fastai["curve"][-1]["word_perplexity"]
    budget = fastai["curve"][-1]["seconds"]
    held = fastai["held_out"]
    lines = [
        "## Pretraining time to quality: hf-ulmfit and fastai side by side",
        "",
        f"Made by `python -m benchmarks.pretrain_quality{' --quick' if args.quick else ''}` "
        f"({time.strftime('%Y-%m-%d')}); every figure below comes from that one run.",
        "",
        f"- Machine: {machine_description()}. The two sides ran at the same time, one core each (`taskset`, one "
        "OpenMP and one Rust thread): fastai on core 0 for its whole budget, ours on core 1, one recipe after the "
        "other.",
        f"- Versions: fastai {fastai['versions'].get('fastai')}, torch {fastai['versions'].get('torch')} (fastai's "
        f"venv); hf-ulmfit {runs[-1]['versions'].get('hf_ulmfit')}, transformers "
        f"{runs[-1]['versions'].get('transformers')}, torch {runs[-1]['versions'].get('torch')} (ours).",
        "- Training text: the articles of `wikipedia/wiki-00` in one seeded random order; each side builds its "
        "vocabulary on all of them (fastai: spaCy and its rules, `make_vocab(min_freq=3, max_vocab=60000)`; ours: "
        "the recipe's tokenizer, unigram on a 28,000-line sample) and trains one one-cycle epoch over as many "
        "articles from the front as its budget reads (the step time is measured first, so the schedule ends at the "
        "budget). fastai's batches are 64 x 72 tokens; ours are the recipe's (64 or 16 rows of 72).",
        f"- Held-out text: the last {held['articles']} articles of `wikipedia/wiki-07` ({held['words']:,} words), "
        "which no run trains on. Perplexity per word = exp(mean token NLL x tokens / whitespace words), every "
        "token of the text counted (xxbos, xxmaj, pieces), from a zero state carried across 72-token windows.",
        "- Unknown tokens. A closed vocabulary scores the one frequent `xxunk` instead of the rare words it stands "
        "for, which flatters it. The headline figure spreads the unknown token's probability evenly over the "
        "distinct strings it stands for in the held-out text (a lower bound on the true cost); the raw figure "
        "is in the table too.",
        "- fastai: `language_model_learner(AWD_LSTM, drop_mult=0.3, pretrained=False)` (400/1152/3), "
        "`fit_one_cycle(1, 1e-2)`, fp32 (fastai has no CPU bf16). Snapshots of the weights are copied off the "
        "clock during training and scored after it.",
        "",
        "### Results",
        "",
        f"fastai's perplexity per word at the end of its {budget / 60:.1f}-minute budget: **{target:,.0f}** "
        f"(raw, with `xxunk` as a word: {target_raw:,.0f}). Target: one of ours reaches it in at most a third of "
        f"fastai's training time ({budget / 180:.1f} min).",
        "",
        "| run | parameters | vocabulary | precision | tokens/s | tokens seen | final per-word perplexity | raw | "
        "unknown share | minutes to reach fastai's final | share of fastai's time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    best = None
    for run in runs:
        last = run["curve"][-1]
        reached, bound = seconds_to_reach(run["curve"], target, HEADLINE)
        if run["side"] == "ours" and reached is not None and (best is None or reached < best[0]):
            best = (reached, run_label(run), bound)
        share = "—" if run is fastai or reached is None else f"{'≤ ' if bound else ''}{reached / budget:.2f}"
        rate = last["tokens_seen"] / last["seconds"]
        when = "—" if run is fastai else ("≤ " if bound else "") + minutes(reached)
        lines.append(
            f"| {run_label(run)} | {run['parameters'] / 1e6:.1f}M | {run['vocab_size']:,} | {run['precision']} | "
            f"{rate:,.0f} | {last['tokens_seen'] / 1e6:.2f}M | {last[HEADLINE]:,.0f} | "
            f"{last['word_perplexity']:,.0f} | {run['held_out']['unknown_token_share']:.1%} | {when} | {share} |"
        )
    met = best is not None and best[0] <= budget / 3
    lines += [
        "",
        f"**Target {'met' if met else 'missed'}**: "
        + (
            f"{best[1]} reached fastai's final perplexity {'by its first snapshot, at' if best[2] else 'after'} "
            f"{best[0] / 60:.1f} minutes, {'at most ' if best[2] else ''}{best[0] / budget:.2f} of fastai's "
            f"{budget / 60:.1f}."
            if best
            else "none of ours reached fastai's final perplexity within its budget."
        ),
    ]
    if budget < 0.95 * fastai["budget_seconds"]:
        lines += [
            "",
            f"fastai's schedule ended at {budget / 60:.1f} minutes, before its {fastai['budget_seconds'] / 60:.0f}-"
            f"minute budget: its step time measured before training ({fastai['calibrated_step_seconds']:.1f} s) was "
            f"longer than in training ({budget / fastai['curve'][-1]['step']:.1f} s), so the planned "
            f"{fastai['planned_steps']} steps took less. Its final perplexity is the target all the same, and the "
            "share is of the time it actually trained.",
        ]
    lines += [
        "",
        "![pretrain_quality.png](plots/pretrain_quality.png)",
        "",
        "### Curves",
        "",
        "| run | minutes | step | tokens seen | training loss | held-out token loss | per-word perplexity | raw |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for point in run["curve"]:
            train_loss = "—" if point["train_loss"] is None else f"{point['train_loss']:.2f}"
            lines.append(
                f"| {run_label(run)} | {point['seconds'] / 60:.1f} | {point['step']} | "
                f"{point['tokens_seen'] / 1e6:.2f}M | {train_loss} | {point['held_out_token_loss']:.3f} | "
                f"{point[HEADLINE]:,.0f} | {point['word_perplexity']:,.0f} |"
            )
    lines += ["", "### Runs", ""]
    for run in runs:
        lines.append(
            f"- {run_label(run)}: preparation (tokenizer or vocabulary, tokenisation, step-time measurement) "
            f"{run['preparation_seconds']:.0f} s, not on the training clock; step "
            f"{run['calibrated_step_seconds']:.2f} s measured, {run['planned_steps']} steps planned, "
            f"{run['corpus_articles']} articles read; held-out {run['held_out']['tokens_per_word']:.3f} tokens per "
            f"word, {run['held_out']['unknown_types']:,} distinct unknown strings; settings "
            f"`{json.dumps(run['settings'])}`."
        )
    path = args.results
    plot(runs, path.parent / "plots" / "pretrain_quality.png", target)
    replace_section(path, FASTAI_START, FASTAI_END, "\n".join(lines))
    print(f"[pretrain_quality] wrote {path}")


FASTAI_START, FASTAI_END = "<!-- fastai: start -->", "<!-- fastai: end -->"
SIDE_BY_SIDE_START, SIDE_BY_SIDE_END = "<!-- side-by-side: start -->", "<!-- side-by-side: end -->"


def core_shares(runs: list[dict]) -> str:
    """Each run's average share of a core over its training ("62% and 58%"), from its last snapshot."""
    shares = []
    for run in runs:
        last = run["curve"][-1]
        cpu = last.get("cpu_seconds")
        shares.append(f"{cpu / last['seconds']:.0%}" if cpu and last["seconds"] else "an unmeasured share")
    return " and ".join(shares)


def side_by_side_report(args, settings: dict) -> str:
    """The side-by-side section: the reference (first recipe) and the other, their curves, and when the other
    reached the reference's final perplexity (headline: unknown token spread; raw beside it)."""
    runs = [json.loads((args.out / f"ours-{recipe}.json").read_text()) for recipe in args.side_by_side]
    reference, other = runs[0], runs[1]
    budget = reference["curve"][-1]["seconds"]
    target = reference["curve"][-1][HEADLINE]
    held = reference["held_out"]
    lines = [
        f"## {settings['ours_minutes']:g} minutes side by side: the shared LM's recipe and the best found",
        "",
        f"Made by `python -m benchmarks.pretrain_quality --side-by-side {' '.join(args.side_by_side)}"
        f"{' --hour' if args.hour else ''}{f' --minutes {args.minutes:g}' if args.minutes else ''}"
        f"{f' --points {args.points}' if args.points else ''}"
        f"{f' --held-out-articles {args.held_out_articles}' if args.held_out_articles else ''}` "
        f"({time.strftime('%Y-%m-%d')}).",
        "",
        f"- Machine: {machine_description()}, shared with other jobs: the runs had {core_shares(runs)} of a core "
        "on average (CPU seconds over wall-clock seconds of training). Both runs were started together, one OpenMP "
        "thread each, pinned one to each core (`taskset`), so they saw the same machine; a run with a fraction of a "
        "core reads fewer tokens per wall-clock second than the efficiency table's CPU-second rates. CPU seconds of "
        "each run are in the curve table.",
        f"- Budget: {settings['ours_minutes']:g} minutes of training wall-clock each. Each run measured its step "
        "time first and planned its one-cycle schedule to end at the budget (as `--time_budget_minutes` does); "
        "a run whose steps slowed down with the load stops at the budget, before its schedule's end.",
        "- Training text: the articles of `wikipedia/wiki-00` in one seeded random order; each recipe trains its "
        "tokenizer on all of them (unigram: on a 28,000-line sample) and reads as many from the front as its budget "
        "needs. Gradient clipping off (`max_grad_norm 0`) in both, as in the benchmark above.",
        f"- Held-out text: the last {held['articles']} articles of `wikipedia/wiki-07` ({held['words']:,} words), "
        "scored at each snapshot (taken off the clock). Per-word perplexity as above; the headline spreads the "
        "unknown token over the strings it stands for, the raw figure (`hf-ulmfit evaluate`'s `word_perplexity`) "
        "is beside it.",
        "",
        f"Reference: **{run_label(reference)}** (the shared LM's recipe) at the end of its {budget / 60:.1f} "
        f"minutes: **{target:,.0f}** per word. Target: the other recipe reaches it in at most half that time "
        f"({budget / 120:.1f} minutes; the issue's 30 of 60).",
        "",
        "| run | parameters | vocabulary | batch | lr | precision | tokens seen | tokens per wall-s "
        "| tokens per CPU-s | final per-word perplexity | raw | unknown share "
        "| minutes to reach the reference's final |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reached, bound = seconds_to_reach(other["curve"], target, HEADLINE)
    for run in runs:
        last = run["curve"][-1]
        when = "—" if run is reference else ("≤ " if bound else "") + minutes(reached)
        cpu = last.get("cpu_seconds")
        lines.append(
            f"| {run_label(run)} | {run['parameters'] / 1e6:.1f}M | {run['vocab_size']:,} "
            f"| {run['settings']['batch_size']} | {run['settings']['learning_rate']:g} | {run['precision']} "
            f"| {last['tokens_seen'] / 1e6:.2f}M | {last['tokens_seen'] / last['seconds']:,.0f} "
            f"| {'—' if not cpu else format(last['tokens_seen'] / cpu, ',.0f')} "
            f"| {last[HEADLINE]:,.0f} | {last['word_perplexity']:,.0f} "
            f"| {run['held_out']['unknown_token_share']:.1%} | {when} |"
        )
    met = reached is not None and reached <= budget / 2
    lines += [
        "",
        f"**Target {'met' if met else 'missed'}**: {run_label(other)} "
        + (
            f"reached the reference's final perplexity {'by its first snapshot, at' if bound else 'after'} "
            f"{reached / 60:.1f} minutes."
            if reached is not None
            else f"did not reach the reference's final perplexity ({target:,.0f}) in its budget."
        ),
        "",
        "![pretrain_side_by_side.png](plots/pretrain_side_by_side.png)",
        "",
        "| run | minutes | CPU minutes | step | tokens seen | training loss | held-out token loss "
        "| per-word perplexity | raw |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for point in run["curve"]:
            train_loss = "—" if point["train_loss"] is None else f"{point['train_loss']:.2f}"
            cpu = point.get("cpu_seconds")
            lines.append(
                f"| {run_label(run)} | {point['seconds'] / 60:.1f} | {'—' if cpu is None else f'{cpu / 60:.1f}'} "
                f"| {point['step']} | {point['tokens_seen'] / 1e6:.2f}M | {train_loss} "
                f"| {point['held_out_token_loss']:.3f} | {point[HEADLINE]:,.0f} | {point['word_perplexity']:,.0f} |"
            )
    lines.append("")
    for run in runs:
        lines.append(
            f"- {run_label(run)}: preparation {run['preparation_seconds']:.0f} s (not on the clock); step "
            f"{run['calibrated_step_seconds']:.2f} s measured, {run['planned_steps']} steps planned, "
            f"{run['curve'][-1]['step']} trained; {run['corpus_articles']} articles; settings "
            f"`{json.dumps(run['settings'])}`."
        )
    plot(runs, args.results.parent / "plots" / "pretrain_side_by_side.png", target, "the reference's final")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="minutes instead of the full budgets")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=DEFAULT_RECIPES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder of the runs' JSON files (default benchmarks/.work/...)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS-pretraining.md")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--side-by-side", nargs=2, choices=RECIPES, metavar="RECIPE", help="two of ours at once (reference first)"
    )
    parser.add_argument("--hour", action="store_true", help="side by side: 60 minutes each")
    parser.add_argument("--minutes", type=float, help="side by side: this budget each instead of the mode's")
    parser.add_argument("--points", type=int, help="side by side: this many snapshots instead of the mode's")
    parser.add_argument("--held-out-articles", type=int, help="side by side: held-out articles scored")
    args = parser.parse_args()
    mode = "hour" if args.hour else "quick" if args.quick else "full"
    if args.minutes:
        MODES[mode] = {**MODES[mode], "ours_minutes": args.minutes}
    if args.points:
        MODES[mode] = {**MODES[mode], "ours_points": args.points}
    if args.held_out_articles:
        MODES[mode] = {**MODES[mode], "held_out_articles": args.held_out_articles}
    if args.side_by_side:
        args.out = args.out or WORK / f"pretrain_side_by_side_{mode}"
        args.out.mkdir(parents=True, exist_ok=True)
        if not args.report_only:
            run_side_by_side(args, MODES[mode])
        replace_section(
            args.results,
            SIDE_BY_SIDE_START,
            SIDE_BY_SIDE_END,
            side_by_side_report(args, {**MODES["full"], **MODES[mode]}),
        )
        print(f"[pretrain_quality] wrote the side-by-side section of {args.results}")
        return
    args.out = args.out or WORK / f"pretrain_quality_{mode}"
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run_benchmark(args, MODES[mode])
    report(args, MODES[mode])


if __name__ == "__main__":
    main()
