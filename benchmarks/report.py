"""Turns benchmarks/.work/results/*.json into benchmarks/RESULTS.md and the plots in benchmarks/plots/.

Medians over repeats and rounds; every ratio is hf-ulmfit over fastai from the same run (the two sides alternated).
"""

import argparse
import glob
import json
import statistics
from collections import defaultdict
from pathlib import Path

from benchmarks.bench_utils import (
    BATCH_SIZE,
    BPTT,
    EMBEDDING_SIZE,
    HIDDEN_SIZE,
    NUM_LAYERS,
    RESULTS,
    ROOT,
    machine_facts,
    marked_sections,
)


OUT = ROOT / "benchmarks" / "RESULTS.md"
PLOTS = ROOT / "benchmarks" / "plots"


def load_results():
    """{bench name: {side: [result, ...]}} and the failures."""
    results, errors = defaultdict(lambda: defaultdict(list)), []
    for path in sorted(glob.glob(str(RESULTS / "*.json"))):
        name = Path(path).stem
        if name.endswith(".error"):
            errors.append(json.loads(Path(path).read_text()))
            continue
        if name.count("__") != 2:  # run.json and the prepare steps' records are not measurements
            continue
        bench, side, _ = name.split("__")
        results[bench][side].append(json.loads(Path(path).read_text()))
    return results, errors


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def flops_per_token(vocab: int) -> float:
    """Training FLOPs per token of the standard AWD-LSTM LM: LSTM gate matmuls and the decoder, forward x3."""
    sizes = [(EMBEDDING_SIZE, HIDDEN_SIZE), (HIDDEN_SIZE, HIDDEN_SIZE), (HIDDEN_SIZE, EMBEDDING_SIZE)][:NUM_LAYERS]
    lstm = sum(4 * (n_in + n_out) * n_out * 2 for n_in, n_out in sizes)
    decoder = 2 * EMBEDDING_SIZE * vocab
    return 3 * (lstm + decoder)


class Report:
    """The rows, details and plot data the per-benchmark sections add, over one run's results."""

    def __init__(self, results):
        self.results = results
        self.rows, self.details, self.plot_data = [], [], {}
        self.peaks = self.runs("matmul_peak", "machine")
        self.fp32_peak = max((p["float32_gflops"] for p in self.peaks), default=None)
        self.bf16_peak = max((p["bfloat16_gflops"] for p in self.peaks), default=None)

    def runs(self, bench: str, side: str) -> list[dict]:
        return self.results.get(bench, {}).get(side, [])

    def row(self, name, ours, theirs, ratio, target, met):
        self.rows.append((name, ours, theirs, ratio, target, met))


def run_command(run: dict) -> str:
    """The command that made the results: run.sh for every benchmark, run_all.py for a subset."""
    flags = (" --quick" if run.get("mode") == "quick" else "") + (" --use-cpu" if run.get("use_cpu") else "")
    if run.get("only"):
        return f"python -m benchmarks.run_all{flags} --only {' '.join(run['only'])}"
    return f"bash benchmarks/run.sh{flags}"


def lm_throughput_section(report: Report):
    """(a) language-model training tokens/s, fp32 on both sides and bf16 on ours where it ran."""
    names = [f"lm_throughput_{vocab}" for vocab in (60_000, 30_000)]
    if not any(report.runs(name, side) for name in names for side in ("ours", "fastai")):
        return
    throughput = {}
    for vocab in (60_000, 30_000):
        ours = med([t for r in report.runs(f"lm_throughput_{vocab}", "ours") for t in r["tokens_per_second"]])
        theirs = med([t for r in report.runs(f"lm_throughput_{vocab}", "fastai") for t in r["tokens_per_second"]])
        throughput[vocab] = (ours, theirs)
        ratio = ours / theirs if ours and theirs else None
        report.row(
            f"(a) LM training, vocab {vocab // 1000}k, fp32 (tokens/s)",
            fmt(ours),
            fmt(theirs),
            fmt(ratio),
            "≥ 3x",
            ratio is not None and ratio >= 3,
        )
    bf16 = med([t for r in report.runs("lm_throughput_60000_bf16", "ours") for t in r["tokens_per_second"]])
    if bf16:
        fp32 = throughput[60_000][0]
        report.row(
            "(a) LM training, vocab 60k, bf16 autocast, ours only (tokens/s)",
            fmt(bf16),
            "—",
            f"{bf16 / fp32:.2f}x of our fp32" if fp32 else "n/a",
            "—",
            None,
        )
    report.plot_data["throughput"] = throughput


def share_of_peak_section(report: Report):
    """(g) achieved FLOP/s of LM training over the fp32 matmul peak."""

    def share_of_peak(runs, vocab):
        """Achieved GFLOP/s over the fp32 matmul peak measured in the same process (else the run's best peak)."""
        shares = []
        for r in runs:
            peak = r.get("matmul_fp32_gflops_here") or report.fp32_peak
            if peak:
                shares += [t * flops_per_token(vocab) / 1e9 / peak for t in r["tokens_per_second"]]
        return med(shares)

    for vocab in (60_000, 30_000):
        ours = share_of_peak(report.runs(f"lm_throughput_{vocab}", "ours"), vocab)
        theirs = share_of_peak(report.runs(f"lm_throughput_{vocab}", "fastai"), vocab)
        if ours is not None:
            flag = " (†)" if ours > 1 or (theirs or 0) > 1 else ""
            report.row(
                f"(g) LM training, vocab {vocab // 1000}k: achieved FLOP/s as a share of the fp32 matmul peak "
                f"measured in the same process{flag}",
                f"{ours:.0%}",
                f"{theirs:.0%}" if theirs is not None else "n/a",
                "—",
                "report",
                None,
            )


def classify_section(report: Report):
    """(b) classifier inference through `pipeline`, per deployable form: IMDb reviews batched, TREC-6 questions one
    at a time, against fastai's `get_preds` and `predict` (fp32, its defaults)."""
    ours_c, fastai_c = report.runs("classify", "ours"), report.runs("classify", "fastai")
    if not (ours_c and fastai_c):
        return
    n = ours_c[0]["n"]
    get_preds = med([r["n"] / r["get_preds_seconds"] for r in fastai_c])
    predict_ms = med([r["predict_ms"] for r in fastai_c])
    plain = med([n / r["plain_pipeline_seconds"] for r in ours_c])
    report.row(
        f"(b) classify {n} IMDb test reviews, batched (reviews/s): transformers' plain TextClassificationPipeline "
        "(order given) vs get_preds",
        fmt(plain),
        fmt(get_preds),
        fmt(plain / get_preds),
        "—",
        None,
    )
    plot = {"get_preds (fastai)": get_preds, "plain pipeline fp32": plain}
    breakdown = []
    for form in ours_c[0]["forms"]:
        batched = med([n / r["forms"][form]["batched_seconds"] for r in ours_c])
        single_ms = med([r["forms"][form]["single_ms"] for r in ours_c])
        report.row(
            f"(b) same, hf-ulmfit's length-sorted pipeline, {form} (reviews/s) vs get_preds",
            fmt(batched),
            fmt(get_preds),
            fmt(batched / get_preds),
            "≥ 2x",
            batched / get_preds >= 2,
        )
        report.row(
            f"(b) one TREC-6 question at a time, pipeline(text), {form} (ms; ratio = speed-up) vs predict(text)",
            fmt(single_ms),
            fmt(predict_ms),
            fmt(predict_ms / single_ms),
            "≥ 10x",
            predict_ms / single_ms >= 10,
        )
        plot[f"pipeline {form}"] = batched
        tokenizer_ms = med([r["forms"][form]["single_tokenizer_ms"] for r in ours_c])
        model_ms = med(
            [
                r["forms"][form].get("single_model_ms")
                for r in ours_c
                if r["forms"][form].get("single_model_ms") is not None
            ]
        )
        breakdown.append(
            f"{form}: {fmt(single_ms)} ms in all, tokenizer {fmt(tokenizer_ms)} ms"
            + (f", model forward {fmt(model_ms)} ms" if model_ms is not None else "")
        )
    report.plot_data["classify"] = plot
    report.details.append(
        f"- (b) {n} reviews (the same shuffled IMDb test reviews both sides, in that order; our length-sorted "
        "pipeline batches them by length inside and returns the results in the order given, fastai's `test_dl` sorts "
        f"them), batch size {ours_c[0].get('batch_size', BATCH_SIZE)}, standard-size classifier (random weights, "
        "vocab "
        "60,000), text in and probabilities out (tokenisation included on both sides). Forms: fp32; bf16 (where the "
        "device computes it natively); int8 (`hf-ulmfit export --format int8`); ONNX (`hf-ulmfit export`, run by "
        "onnxruntime with as many threads as torch). fastai runs fp32, its default. One at a time: the first "
        f"{ours_c[0]['n_single']} TREC-6 test questions (ours) and {fastai_c[0]['n_single']} (fastai), median "
        f"{ours_c[0].get('question_tokens_median', 'n/a')} tokens; medians per question. Where a question's time goes "
        "(ours, medians): " + "; ".join(breakdown) + "."
    )


def generate_section(report: Report):
    """(c) generation with the default LSTM kernels and with PyTorch's native one."""
    for bench, label in (
        ("generate", "default kernels (oneDNN LSTM)"),
        ("generate_native_lstm", "native LSTM kernel (mkldnn off)"),
    ):
        ours_g, fastai_g = report.runs(bench, "ours"), report.runs(bench, "fastai")
        if not (ours_g and fastai_g):
            continue
        ours_s = med([s for r in ours_g for s in r["seconds"]])
        fastai_s = med([s for r in fastai_g for s in r["seconds"]])
        report.row(
            f"(c) generate {ours_g[0]['new_tokens']} tokens after a {ours_g[0]['prompt_tokens']}-token prompt, "
            f"{label} (seconds; ratio = speed-up)",
            fmt(ours_s),
            fmt(fastai_s),
            fmt(fastai_s / ours_s),
            "≥ 10x",
            fastai_s / ours_s >= 10,
        )
        report.plot_data.setdefault("generate", {})[label] = (ours_s, fastai_s)
        if bench == "generate":
            new_tokens = ours_g[0]["new_tokens"]
            report.details.append(
                f"- (c) prompt: {ours_g[0]['prompt_tokens']} tokens by our word tokenizer, "
                f"{fastai_g[0]['prompt_tokens']} by fastai's; standard-size LM, vocab 60,000, random weights. Ours: "
                f"`model.generate(max_new_tokens={new_tokens}, min_new_tokens={new_tokens}, do_sample=False)` (state "
                f"carried, one token per step). fastai: `LMLearner.predict(prompt, n_words={new_tokens})` (samples; "
                "runs the whole prefix again for every word). Measured with PyTorch's default CPU kernels and again "
                "with `torch.backends.mkldnn.enabled = False`, on both sides."
            )


def memory_section(report: Report):
    """(d) peak memory over the baseline (and tensors saved for backward) on long documents."""
    memory, out_of_memory = {}, {}
    lengths = sorted({int(b.split("_")[-1]) for b in report.results if b.startswith("memory_")}) or [1_000]
    for mode in ("infer", "train"):
        for tokens in lengths:
            ours = report.runs(f"memory_{mode}_{tokens}", "ours")
            theirs = report.runs(f"memory_{mode}_{tokens}", "fastai")
            memory[(mode, tokens)] = (
                ours[0]["peak_over_baseline_mib"] if ours else None,
                theirs[0]["peak_over_baseline_mib"] if theirs else None,
                ours[0].get("saved_for_backward_mib") if ours else None,
                theirs[0].get("saved_for_backward_mib") if theirs else None,
            )
            # the memory budget (GiB) a side ran out of, or None
            out_of_memory[(mode, tokens)] = tuple(
                r[0]["memory_budget_gib"] if r and r[0].get("out_of_memory") else None for r in (ours, theirs)
            )

    def memory_cell(value, budget_gib):
        return f"out of memory (> {budget_gib:g} GiB)" if budget_gib else fmt(value)

    for mode, label in (("infer", "inference (no_grad)"), ("train", "training forward+backward")):
        small, large = memory[(mode, lengths[0])], memory[(mode, lengths[-1])]
        for tokens in lengths:
            o, f, _, _ = memory[(mode, tokens)]
            o_oom, f_oom = out_of_memory[(mode, tokens)]
            last = tokens == lengths[-1]
            flat = None
            if last and len(lengths) > 1:
                flat = (
                    False
                    if o_oom
                    else (
                        large[0] <= max(1.5 * small[0], small[0] + 64)
                        if small[0] is not None and large[0] is not None
                        else None
                    )
                )
            ratio = fmt(f / o) if o and f else (f"> {fmt(f_oom * 1024 / o)}" if f_oom and o else "n/a")
            report.row(
                f"(d) peak memory over baseline, {label}, {tokens // 1000}k-token document (MiB)",
                memory_cell(o, o_oom),
                memory_cell(f, f_oom),
                ratio,
                "flat (≤ +50% or +64 MiB)" if last else "—",
                flat,
            )
        if mode == "train":
            for tokens in lengths:
                _, _, o_saved, f_saved = memory[(mode, tokens)]
                o_oom, f_oom = out_of_memory[(mode, tokens)]
                report.row(
                    f"(d) tensors saved for backward, {tokens // 1000}k-token document (MiB)",
                    memory_cell(o_saved, o_oom),
                    memory_cell(f_saved, f_oom),
                    "—",
                    "—",
                    None,
                )
    report.plot_data["memory"] = memory


def tokenize_section(report: Report):
    """(e) tokenisation rate: our tokenizers against fastai's default tokenisation."""
    fastai_t = report.runs("tokenize_fastai", "fastai")
    if not fastai_t:
        return
    n = fastai_t[0]["n"]
    fastai_rate = med([r["n"] / r["seconds"] for r in fastai_t])
    tokenize_rates = {"fastai (spaCy + rules)": fastai_rate}
    for kind, label in (
        ("word", "word tokenizer"),
        ("unigram", "unigram tokenizer"),
        ("fastai_compat", "fastai-compatible tokenizer.json"),
    ):
        ours = report.runs(f"tokenize_{kind}", "ours")
        if ours:
            rate = med([r["n"] / r["seconds"] for r in ours])
            tokenize_rates[f"ours: {label}"] = rate
            interop = kind == "fastai_compat"  # reproduces fastai's tokens for converted models; not our default
            report.row(
                f"(e) tokenise {n:,} IMDb train+unsup reviews (reviews/s), ours: {label}",
                fmt(rate),
                fmt(fastai_rate),
                fmt(rate / fastai_rate),
                "— (interop)" if interop else "≥ 5x",
                None if interop else rate / fastai_rate >= 5,
            )
    report.plot_data["tokenize"] = tokenize_rates
    report.details.append(
        f"- (e) {n:,} reviews (IMDb train then unsup{'' if n >= 75_000 else ', a slice'}); ours: "
        "`hf_ulmfit.data.tokenize_dataset` (one process; the Rust tokenizer batches on all cores) with "
        "tokenizers trained beforehand (not timed); fastai: `tokenize_df` with its defaults "
        f"(SpacyTokenizer, `defaults.text_proc_rules`, n_workers={fastai_t[0].get('n_workers')})."
    )


def accuracy_section(report: Report):
    """(f) TREC-6 test accuracy at an equal budget, mean and spread over seeds."""
    seeds = [sides for bench, sides in report.results.items() if bench.startswith("accuracy_s")]
    accuracy = {name: [r for sides in seeds for r in sides.get(name, [])] for name in ("ours", "fastai")}
    if not (accuracy["ours"] or accuracy["fastai"]):
        return

    def summary(runs):
        values = [r["test_accuracy"] for r in runs]
        if not values:
            return "n/a", None
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):.1f} ± {100 * std:.1f}% (n={len(values)})", statistics.mean(values)

    (o_text, o_mean), (f_text, f_mean) = summary(accuracy["ours"]), summary(accuracy["fastai"])
    values = [r["test_accuracy"] for runs in accuracy.values() for r in runs]
    noise = statistics.stdev(values) if len(values) > 2 else 0.01
    met = None if o_mean is None or f_mean is None else o_mean >= f_mean - max(2 * noise, 0.01)
    report.row(
        "(f) TREC-6 test accuracy at equal budget (mean ± std over seeds)",
        o_text,
        f_text,
        f"{100 * (o_mean - f_mean):+.1f} pts" if met is not None else "n/a",
        "≥ fastai within noise",
        met,
    )
    report.plot_data["accuracy"] = {k: [r["test_accuracy"] for r in v] for k, v in accuracy.items()}


SECTIONS = (
    lm_throughput_section,
    share_of_peak_section,
    classify_section,
    generate_section,
    memory_section,
    tokenize_section,
    accuracy_section,
)


def main():
    parser = argparse.ArgumentParser(description="Write the benchmark report from benchmarks/.work/results.")
    parser.add_argument("--out", type=Path, default=OUT, help="the markdown file (default: benchmarks/RESULTS.md)")
    parser.add_argument("--plot-prefix", default="", help="prefix of the plot file names (a report of a subset)")
    args = parser.parse_args()
    results, errors = load_results()
    run = json.loads((RESULTS / "run.json").read_text()) if (RESULTS / "run.json").exists() else {}
    report = Report(results)
    for section in SECTIONS:
        section(report)
    fastai_label = f"fastai {versions(results).get('fastai', '2.8')}"
    PLOTS.mkdir(parents=True, exist_ok=True)
    plots = make_plots(report.plot_data, fastai_label, args.plot_prefix)
    write_markdown(report, errors, run, machine_facts(), plots, fastai_label, args.out)
    print(f"wrote {args.out}")


def versions(results) -> dict:
    found = {}
    for sides in results.values():
        for runs in sides.values():
            for r in runs:
                found.update(r.get("versions", {}))
    return found


def make_plots(data, fastai_label: str, prefix: str = "") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if data.get("throughput"):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        vocabs = list(data["throughput"])
        x = range(len(vocabs))
        ours = [data["throughput"][v][0] or 0 for v in vocabs]
        theirs = [data["throughput"][v][1] or 0 for v in vocabs]
        ax.bar([i - 0.2 for i in x], ours, 0.4, label="hf-ulmfit")
        ax.bar([i + 0.2 for i in x], theirs, 0.4, label=fastai_label)
        ax.set_xticks(list(x), [f"vocab {v // 1000}k" for v in vocabs])
        ax.set_ylabel("training tokens/s (fp32)")
        ax.set_title("(a) AWD-LSTM LM training, batch 64 x bptt 72")
        ax.legend()
        fig.tight_layout()
        fig.savefig(PLOTS / f"{prefix}lm_throughput.png", dpi=110)
        plt.close(fig)
        written.append(f"{prefix}lm_throughput.png")
    if data.get("memory") and any(v[0] is not None or v[1] is not None for v in data["memory"].values()):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, mode, title in zip(axes, ("infer", "train"), ("inference (no_grad)", "training forward+backward")):
            lengths = sorted({n for m, n in data["memory"] if m == mode})
            for index, label in ((0, "hf-ulmfit"), (1, fastai_label)):
                values = [data["memory"][(mode, n)][index] for n in lengths]
                if any(v is not None for v in values):
                    ax.plot(lengths, [v if v is not None else float("nan") for v in values], marker="o", label=label)
            ax.set_xscale("log")
            ax.set_xlabel("document length (tokens)")
            ax.set_ylabel("peak RSS over baseline (MiB)")
            ax.set_title(f"(d) {title}")
            ax.set_ylim(bottom=0)
            ax.legend()
        fig.tight_layout()
        fig.savefig(PLOTS / f"{prefix}memory.png", dpi=110)
        plt.close(fig)
        written.append(f"{prefix}memory.png")
    bars = {}
    if data.get("classify"):
        bars.update({f"(b) {k}": v for k, v in data["classify"].items()})
    if data.get("tokenize"):
        bars.update({f"(e) {k}": v for k, v in data["tokenize"].items()})
    if bars:
        fig, ax = plt.subplots(figsize=(8, 4))
        labels = list(bars)
        colors = [
            "tab:orange" if ("fastai" in k or "get_preds" in k or "predict" in k) and "ours" not in k else "tab:blue"
            for k in labels
        ]
        ax.barh(labels, [bars[k] for k in labels], color=colors)
        ax.set_xscale("log")
        ax.set_xlabel("reviews/s, log scale (blue: hf-ulmfit, orange: fastai)")
        ax.set_title("(b) classification and (e) tokenisation")
        fig.tight_layout()
        fig.savefig(PLOTS / f"{prefix}reviews_per_second.png", dpi=110)
        plt.close(fig)
        written.append(f"{prefix}reviews_per_second.png")
    return written


def write_markdown(report: Report, errors, run, machine, plots, fastai_label: str, out: Path = OUT):
    results, peaks = report.results, report.peaks
    mode = run.get("mode", "?")
    v = versions(results)
    peak_load = max(
        (
            r["load_average"][0]
            for by_side in results.values()
            for rs in by_side.values()
            for r in rs
            if r.get("load_average")
        ),
        default=None,
    )
    devices = sorted({r["device"] for by_side in results.values() for r in by_side.get("ours", []) if r.get("device")})
    lines = [
        "# Benchmarks: hf-ulmfit vs fastai 2.8 (reference ULMFiT)",
        "",
        f"Produced by `{run_command(run)}` ({mode} mode), "
        f"{run.get('started', '?')} to {run.get('finished', '?')}. Reproduce with that command; "
        "`bash benchmarks/run.sh` runs every benchmark (`--quick`: minutes). Both libraries ran in the same run on "
        "the same machine, on the same data, alternating measurement by measurement; figures are medians, ratios are "
        "hf-ulmfit / fastai "
        "(higher is better for hf-ulmfit; for memory, fastai / hf-ulmfit).",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB RAM. ; ".join(
            f"{name}: {'yes' if flag in machine['isa'] else 'no'}"
            for name, flag in [
                ("AVX2", "avx2"),
                ("AVX-512", "avx512f"),
                ("AVX512-BF16", "avx512_bf16"),
                ("AMX-BF16", "amx_bf16"),
            ]
        )
        + ".",
        f"- Measured matmul rate (fp32 2048x2048, bf16 1024x1024, {peaks[0]['threads'] if peaks else '?'} threads, "
        "best of "
        f"5, {len(peaks)} measurement(s) in the run): "
        f"fp32 {fmt(report.fp32_peak)} GFLOP/s, bf16 {fmt(report.bf16_peak)} GFLOP/s.",
        f"- Load average (1/5/15 min) at start {', '.join(f'{x:.1f}' for x in run.get('load_average_start', []))}, "
        "at end "
        f"{', '.join(f'{x:.1f}' for x in run.get('load_average_end', []))}; highest 1-minute load at the end of a "
        f"measurement {fmt(peak_load)} on {machine['cores']} cores.",
        "- Device of our training and inference runs: "
        f"{', '.join(devices) or 'cpu (runs older than the device field)'}"
        ". Both sides take a GPU when one is present (`run_all.py --use-cpu` hides it from both); memory, tokenize "
        "and "
        "the matmul/LSTM-kernel rows always measure the CPU.",
        f"- Versions: torch {v.get('torch', '?')}, transformers {v.get('transformers', '?')}, hf-ulmfit "
        f"{v.get('hf_ulmfit', '?')}, fastai {v.get('fastai', '?')}, spaCy {v.get('spacy', '?')}.",
        "",
        "## Settings (both libraries)",
        "",
        f"- Standard AWD-LSTM: embedding {EMBEDDING_SIZE}, hidden {HIDDEN_SIZE}, {NUM_LAYERS} layers, tied decoder, "
        f"fastai's dropouts; LM batches {BATCH_SIZE} x bptt {BPTT}, fp32, Adam(W) with weight decay 0.01, AR/TAR on, "
        "no gradient clipping. The LM token stream is the same ids on both sides (3,000 IMDb training reviews "
        "tokenised once with our 60k word tokenizer; ids beyond a 30k vocabulary map to xxunk for the 30k runs).",
        "- (a) times whole training steps as users run them (ours: `UlmfitTrainer`; fastai: "
        "`language_model_learner(...)"
        ".fit`), batching, forward, backward and optimizer step included; warm-up steps excluded.",
        "- (g) counts the LSTM gate matmuls (4·(in+hidden)·hidden·2 per layer per token) and the decoder "
        "(2·emb·vocab), x3 for forward+backward, against the fp32 matmul rate (2048x2048) measured in the same "
        "process just before the timed steps.",
        *report.details,
        "",
        "## Results",
        "",
        f"| Measurement | hf-ulmfit | {fastai_label} | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, ours, theirs, ratio, target, met in report.rows:
        lines.append(
            f"| {name} | {ours} | {theirs} | {ratio} | {target} | "
            f"{'' if met is None else ('yes' if met else '**no**')} |"
        )
    if any("(†)" in row[0] for row in report.rows):
        lines += [
            "",
            "(†) Above 100%: the matmul rate used as the peak was measured under another load than the "
            "training steps it is compared with, so this share does not measure the steps' efficiency.",
        ]
    lines += ["", *[f"![{p}](plots/{p})" for p in plots], ""]
    if (ROOT / "benchmarks" / "NOTES.md").exists():
        lines += [
            "Notes written by hand on a committed run (what limits each target, what would close the gap): "
            "[NOTES.md](NOTES.md). They describe the run they name, not necessarily this one.",
            "",
        ]
    kernels = results.get("lstm_kernels", {}).get("machine", [])
    if kernels:
        lines += [
            "## PyTorch's CPU LSTM kernels",
            "",
            f"Both libraries run `torch.lstm`. One {kernels[0]['hidden']}-wide LSTM layer, median ms per call:",
            "",
            "| call | ms |",
            "|---|---|",
        ]
        lines += [f"| {k} | {fmt(v)} |" for k, v in kernels[0]["ms_per_call"].items()]
        lines.append("")
    if errors:
        lines += ["## Failed measurements", ""]
        for e in errors:
            tail = e["log_tail"].strip().splitlines()[-1] if e["log_tail"].strip() else ""
            lines.append(f"- {e['name']} ({e['side']}): exit {e['code']}: `{tail[:200]}`")
        lines.append("")
    # Sections that standalone benchmarks wrote into this file (bench_utils.write_marked_section) stay.
    for section in marked_sections(out.read_text() if out.exists() else ""):
        lines += [section, ""]
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
