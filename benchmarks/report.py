"""Turns benchmarks/.work/results/*.json into benchmarks/RESULTS.md and the plots in benchmarks/plots/.

Medians over repeats and rounds; every ratio is hf-ulmfit over fastai from the same run (the two sides alternated).
"""

import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_utils import BATCH_SIZE, BPTT, EMBEDDING_SIZE, HIDDEN_SIZE, NUM_LAYERS, RESULTS, ROOT, cpu_flags  # noqa: E402

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


def machine_facts() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.+)", lscpu)
    flags = cpu_flags()
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "memory_gib": int(memory.group(1)) / 2**20 if memory else None,
    }


def flops_per_token(vocab: int) -> float:
    """Training FLOPs per token of the standard AWD-LSTM LM: LSTM gate matmuls and the decoder, forward x3."""
    sizes = [(EMBEDDING_SIZE, HIDDEN_SIZE), (HIDDEN_SIZE, HIDDEN_SIZE), (HIDDEN_SIZE, EMBEDDING_SIZE)][:NUM_LAYERS]
    lstm = sum(4 * (n_in + n_out) * n_out * 2 for n_in, n_out in sizes)
    decoder = 2 * EMBEDDING_SIZE * vocab
    return 3 * (lstm + decoder)


def main():
    results, errors = load_results()
    run = json.loads((RESULTS / "run.json").read_text()) if (RESULTS / "run.json").exists() else {}
    machine = machine_facts()
    rows, details, notes = [], [], []
    plot_data = {}

    def side(bench, name):
        return results.get(bench, {}).get(name, [])

    # Machine peak --------------------------------------------------------------------------------------------------
    peaks = side("matmul_peak", "machine")
    fp32_peak = max((p["float32_gflops"] for p in peaks), default=None)
    bf16_peak = max((p["bfloat16_gflops"] for p in peaks), default=None)

    # (a) LM training throughput ------------------------------------------------------------------------------------
    throughput = {}
    for vocab in (60_000, 30_000):
        ours = med([t for r in side(f"lm_throughput_{vocab}", "ours") for t in r["tokens_per_second"]])
        theirs = med([t for r in side(f"lm_throughput_{vocab}", "fastai") for t in r["tokens_per_second"]])
        throughput[vocab] = (ours, theirs)
        ratio = ours / theirs if ours and theirs else None
        rows.append((f"(a) LM training, vocab {vocab // 1000}k, fp32 (tokens/s)", fmt(ours), fmt(theirs), fmt(ratio), "≥ 3x",
                     ratio is not None and ratio >= 3))
    bf16 = med([t for r in side("lm_throughput_60000_bf16", "ours") for t in r["tokens_per_second"]])
    if bf16:
        fp32 = throughput[60_000][0]
        rows.append(("(a) LM training, vocab 60k, bf16 autocast, ours only (tokens/s)", fmt(bf16), "—",
                     f"{bf16 / fp32:.2f}x of our fp32" if fp32 else "n/a", "—", None))
    plot_data["throughput"] = throughput

    # (g) fraction of the matmul peak -------------------------------------------------------------------------------
    def share_of_peak(runs, vocab):
        """Achieved GFLOP/s over the fp32 matmul peak measured in the same process (else the run's best peak)."""
        shares = []
        for r in runs:
            peak = r.get("matmul_fp32_gflops_here") or fp32_peak
            if peak:
                shares += [t * flops_per_token(vocab) / 1e9 / peak for t in r["tokens_per_second"]]
        return med(shares)

    for vocab in (60_000, 30_000):
        ours = share_of_peak(side(f"lm_throughput_{vocab}", "ours"), vocab)
        theirs = share_of_peak(side(f"lm_throughput_{vocab}", "fastai"), vocab)
        if ours is not None:
            flag = " (†)" if ours > 1 or (theirs or 0) > 1 else ""
            rows.append((f"(g) LM training, vocab {vocab // 1000}k: achieved FLOP/s as a share of the fp32 matmul peak measured in the same process{flag}",
                         f"{ours:.0%}", f"{theirs:.0%}" if theirs is not None else "n/a", "—", "report", None))

    # (b) classifier inference --------------------------------------------------------------------------------------
    ours_c, fastai_c = side("classify", "ours"), side("classify", "fastai")
    if ours_c and fastai_c:
        n = ours_c[0]["n"]
        pipe = med([n / r["pipeline_seconds"] for r in ours_c])
        pipe_sorted = med([n / r["pipeline_sorted_seconds"] for r in ours_c])
        get_preds = med([r["n"] / r["get_preds_seconds"] for r in fastai_c])
        single = med([1 / r["single_text_seconds_per_text"] for r in ours_c])
        predict = med([1 / r["predict_seconds_per_text"] for r in fastai_c])
        rows.append((f"(b) classify {n} IMDb test reviews, batched (reviews/s): pipeline vs get_preds", fmt(pipe), fmt(get_preds),
                     fmt(pipe / get_preds), "≥ 2x", pipe / get_preds >= 2))
        rows.append(("(b) same, reviews sorted by length before the pipeline (reviews/s)", fmt(pipe_sorted), fmt(get_preds),
                     fmt(pipe_sorted / get_preds), "≥ 2x", pipe_sorted / get_preds >= 2))
        rows.append(("(b) one review at a time (reviews/s): pipeline(text) vs predict(text)", fmt(single), fmt(predict),
                     fmt(single / predict), "≥ 20x", single / predict >= 20))
        plot_data["classify"] = {"pipeline": pipe, "pipeline sorted": pipe_sorted, "get_preds": get_preds,
                                 "pipeline 1 text": single, "predict": predict}
        details.append(f"- (b) {n} reviews (the same shuffled IMDb test reviews both sides), batch size {BATCH_SIZE}, "
                       f"standard-size classifier (random weights, vocab 60,000), text in and probabilities out "
                       f"(tokenisation included on both sides). One-at-a-time figures: ours over "
                       f"{ours_c[0]['n_single']} reviews, fastai's `predict` over {fastai_c[0]['n_single']} reviews "
                       f"(per-review time, extrapolated).")

    # (c) generation ------------------------------------------------------------------------------------------------
    for bench, label in (("generate", "default kernels (oneDNN LSTM)"), ("generate_native_lstm", "native LSTM kernel (mkldnn off)")):
        ours_g, fastai_g = side(bench, "ours"), side(bench, "fastai")
        if ours_g and fastai_g:
            ours_s = med([s for r in ours_g for s in r["seconds"]])
            fastai_s = med([s for r in fastai_g for s in r["seconds"]])
            rows.append((f"(c) generate {ours_g[0]['new_tokens']} tokens after a {ours_g[0]['prompt_tokens']}-token prompt, {label} "
                         "(seconds; ratio = speed-up)", fmt(ours_s), fmt(fastai_s), fmt(fastai_s / ours_s), "≥ 10x",
                         fastai_s / ours_s >= 10))
            plot_data.setdefault("generate", {})[label] = (ours_s, fastai_s)
            if bench == "generate":
                details.append(
                    f"- (c) prompt: {ours_g[0]['prompt_tokens']} tokens by our word tokenizer, "
                    f"{fastai_g[0]['prompt_tokens']} by fastai's; standard-size LM, vocab 60,000, random weights. Ours: "
                    "`model.generate(max_new_tokens=200, min_new_tokens=200, do_sample=False)` (state carried, one token "
                    "per step). fastai: `LMLearner.predict(prompt, n_words=200)` (samples; runs the whole prefix again "
                    "for every word). Measured with PyTorch's default CPU kernels and again with "
                    "`torch.backends.mkldnn.enabled = False`, on both sides.")

    # (d) memory ----------------------------------------------------------------------------------------------------
    memory, out_of_memory = {}, {}
    memory_lengths = sorted({int(b.split("_")[-1]) for b in results if b.startswith("memory_")}) or [1_000]
    for mode in ("infer", "train"):
        for tokens in memory_lengths:
            ours = side(f"memory_{mode}_{tokens}", "ours")
            theirs = side(f"memory_{mode}_{tokens}", "fastai")
            memory[(mode, tokens)] = (
                ours[0]["peak_over_baseline_mib"] if ours else None,
                theirs[0]["peak_over_baseline_mib"] if theirs else None,
                ours[0].get("saved_for_backward_mib") if ours else None,
                theirs[0].get("saved_for_backward_mib") if theirs else None,
            )
            # the memory budget (GiB) a side ran out of, or None
            out_of_memory[(mode, tokens)] = tuple(
                r[0]["memory_budget_gib"] if r and r[0].get("out_of_memory") else None for r in (ours, theirs))

    def memory_cell(value, budget_gib):
        return f"out of memory (> {budget_gib:g} GiB)" if budget_gib else fmt(value)

    for mode, label in (("infer", "inference (no_grad)"), ("train", "training forward+backward")):
        small, large = memory[(mode, memory_lengths[0])], memory[(mode, memory_lengths[-1])]
        for tokens in memory_lengths:
            o, f, _, _ = memory[(mode, tokens)]
            o_oom, f_oom = out_of_memory[(mode, tokens)]
            last = tokens == memory_lengths[-1]
            flat = None
            if last and len(memory_lengths) > 1:
                flat = False if o_oom else (large[0] <= max(1.5 * small[0], small[0] + 64)
                                            if small[0] is not None and large[0] is not None else None)
            ratio = fmt(f / o) if o and f else (f"> {fmt(f_oom * 1024 / o)}" if f_oom and o else "n/a")
            rows.append((f"(d) peak memory over baseline, {label}, {tokens // 1000}k-token document (MiB)",
                         memory_cell(o, o_oom), memory_cell(f, f_oom), ratio,
                         "flat (≤ +50% or +64 MiB)" if last else "—", flat))
        if mode == "train":
            for tokens in memory_lengths:
                _, _, o_saved, f_saved = memory[(mode, tokens)]
                o_oom, f_oom = out_of_memory[(mode, tokens)]
                rows.append((f"(d) tensors saved for backward, {tokens // 1000}k-token document (MiB)",
                             memory_cell(o_saved, o_oom), memory_cell(f_saved, f_oom), "—", "—", None))
    plot_data["memory"] = memory

    # (e) tokenisation ----------------------------------------------------------------------------------------------
    fastai_t = side("tokenize_fastai", "fastai")
    if fastai_t:
        n = fastai_t[0]["n"]
        fastai_rate = med([r["n"] / r["seconds"] for r in fastai_t])
        tokenize_rates = {"fastai (spaCy + rules)": fastai_rate}
        for kind, label in (("word", "word tokenizer"), ("unigram", "unigram tokenizer"),
                            ("fastai_compat", "fastai-compatible tokenizer.json")):
            ours = side(f"tokenize_{kind}", "ours")
            if ours:
                rate = med([r["n"] / r["seconds"] for r in ours])
                tokenize_rates[f"ours: {label}"] = rate
                interop = kind == "fastai_compat"  # reproduces fastai's tokens for converted models; not our default
                rows.append((f"(e) tokenise {n:,} IMDb train+unsup reviews (reviews/s), ours: {label}", fmt(rate),
                             fmt(fastai_rate), fmt(rate / fastai_rate), "— (interop)" if interop else "≥ 5x",
                             None if interop else rate / fastai_rate >= 5))
        plot_data["tokenize"] = tokenize_rates
        details.append(f"- (e) {n:,} reviews (IMDb train then unsup{'' if n >= 75_000 else ', a slice'}); ours: "
                       "`hf_ulmfit.data.tokenize_dataset` (one process; the Rust tokenizer batches on all cores) with "
                       "tokenizers trained beforehand (not timed); fastai: `tokenize_df` with its defaults "
                       f"(SpacyTokenizer, `defaults.text_proc_rules`, n_workers={fastai_t[0].get('n_workers')}).")

    # (f) accuracy --------------------------------------------------------------------------------------------------
    accuracy = {}
    for name in ("ours", "fastai"):
        runs = [r for bench, sides in results.items() if bench.startswith("accuracy_s") for r in sides.get(name, [])]
        accuracy[name] = runs
    if accuracy["ours"] or accuracy["fastai"]:
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
        rows.append(("(f) TREC-6 test accuracy at equal budget (mean ± std over seeds)", o_text, f_text,
                     f"{100 * (o_mean - f_mean):+.1f} pts" if met is not None else "n/a", "≥ fastai within noise", met))
        plot_data["accuracy"] = {k: [r["test_accuracy"] for r in v] for k, v in accuracy.items()}

    # Write -------------------------------------------------------------------------------------------------------
    PLOTS.mkdir(parents=True, exist_ok=True)
    plots = make_plots(plot_data)
    write_markdown(rows, details, errors, run, machine, fp32_peak, bf16_peak, peaks, results, plots)
    print(f"wrote {OUT}")


def versions(results) -> dict:
    found = {}
    for sides in results.values():
        for runs in sides.values():
            for r in runs:
                found.update(r.get("versions", {}))
    return found


def make_plots(data) -> list[str]:
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
        ax.bar([i + 0.2 for i in x], theirs, 0.4, label="fastai 2.8.12")
        ax.set_xticks(list(x), [f"vocab {v // 1000}k" for v in vocabs])
        ax.set_ylabel("training tokens/s (fp32)")
        ax.set_title("(a) AWD-LSTM LM training, batch 64 x bptt 72")
        ax.legend()
        fig.tight_layout()
        fig.savefig(PLOTS / "lm_throughput.png", dpi=110)
        plt.close(fig)
        written.append("lm_throughput.png")
    if data.get("memory") and any(v[0] is not None or v[1] is not None for v in data["memory"].values()):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, mode, title in zip(axes, ("infer", "train"), ("inference (no_grad)", "training forward+backward")):
            lengths = sorted({n for m, n in data["memory"] if m == mode})
            for index, label in ((0, "hf-ulmfit"), (1, "fastai 2.8.12")):
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
        fig.savefig(PLOTS / "memory.png", dpi=110)
        plt.close(fig)
        written.append("memory.png")
    bars = {}
    if data.get("classify"):
        bars.update({f"(b) {k}": v for k, v in data["classify"].items()})
    if data.get("tokenize"):
        bars.update({f"(e) {k}": v for k, v in data["tokenize"].items()})
    if bars:
        fig, ax = plt.subplots(figsize=(8, 4))
        labels = list(bars)
        colors = ["tab:orange" if ("fastai" in k or "get_preds" in k or "predict" in k) and "ours" not in k else "tab:blue"
                  for k in labels]
        ax.barh(labels, [bars[k] for k in labels], color=colors)
        ax.set_xscale("log")
        ax.set_xlabel("reviews/s, log scale (blue: hf-ulmfit, orange: fastai)")
        ax.set_title("(b) classification and (e) tokenisation")
        fig.tight_layout()
        fig.savefig(PLOTS / "reviews_per_second.png", dpi=110)
        plt.close(fig)
        written.append("reviews_per_second.png")
    return written


def write_markdown(rows, details, errors, run, machine, fp32_peak, bf16_peak, peaks, results, plots):
    mode = run.get("mode", "?")
    v = versions(results)
    peak_load = max((r["load_average"][0] for by_side in results.values() for rs in by_side.values() for r in rs
                     if r.get("load_average")), default=None)
    devices = sorted({r["device"] for by_side in results.values() for r in by_side.get("ours", []) if r.get("device")})
    lines = [
        "# Benchmarks: hf-ulmfit vs fastai 2.8 (reference ULMFiT)",
        "",
        f"Produced by `bash benchmarks/run.sh{' --quick' if mode == 'quick' else ''}` ({mode} mode), "
        f"{run.get('started', '?')} to {run.get('finished', '?')}. Reproduce with `bash benchmarks/run.sh` (full) or "
        "`bash benchmarks/run.sh --quick` (minutes). Both libraries ran in the same run on the same machine, on the "
        "same data, alternating measurement by measurement; figures are medians, ratios are hf-ulmfit / fastai "
        "(higher is better for hf-ulmfit; for memory, fastai / hf-ulmfit).",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB RAM. "
        f"AVX2: {'yes' if machine['avx2'] else 'no'}; AVX-512: {'yes' if machine['avx512f'] else 'no'}; "
        f"AVX512-BF16: {'yes' if machine['avx512_bf16'] else 'no'}; AMX-BF16: {'yes' if machine['amx_bf16'] else 'no'}.",
        f"- Measured matmul rate (fp32 2048x2048, bf16 1024x1024, {peaks[0]['threads'] if peaks else '?'} threads, best of "
        f"5, {len(peaks)} measurement(s) in the run): "
        f"fp32 {fmt(fp32_peak)} GFLOP/s, bf16 {fmt(bf16_peak)} GFLOP/s"
        + (" — bf16 is emulated on this CPU (no AVX512-BF16/AMX), so fp32 is each library's best setting here and the"
           " headline comparison is fp32 vs fp32." if not machine["amx_bf16"] and not machine["avx512_bf16"] else "."),
        f"- Load average (1/5/15 min) at start {', '.join(f'{x:.1f}' for x in run.get('load_average_start', []))}, at end "
        f"{', '.join(f'{x:.1f}' for x in run.get('load_average_end', []))}; highest 1-minute load at the end of a "
        f"measurement {fmt(peak_load)}"
        + (f" on {machine['cores']} cores: the benchmark's own threads, so the machine was otherwise quiet."
           if peak_load is not None and peak_load <= machine["cores"] + 1 else
           ": the machine was shared with other jobs, so absolute numbers are noisy; the ratios come from interleaved "
           "measurements."),
        f"- Device of our training and inference runs: {', '.join(devices) or 'cpu (runs older than the device field)'}"
        ". Both sides take a GPU when one is present (`run_all.py --use-cpu` hides it from both); memory, tokenize and "
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
        "- (a) times whole training steps as users run them (ours: `UlmfitTrainer`; fastai: `language_model_learner(...)"
        ".fit`), batching, forward, backward and optimizer step included; warm-up steps excluded.",
        "- (g) counts the LSTM gate matmuls (4·(in+hidden)·hidden·2 per layer per token) and the decoder "
        "(2·emb·vocab), x3 for forward+backward, against the fp32 matmul rate (2048x2048) measured in the same process just before the timed steps.",
        *details,
        "",
        "## Results",
        "",
        "| Measurement | hf-ulmfit | fastai 2.8.12 | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, ours, theirs, ratio, target, met in rows:
        lines.append(f"| {name} | {ours} | {theirs} | {ratio} | {target} | {'' if met is None else ('yes' if met else '**no**')} |")
    if any("(†)" in row[0] for row in rows):
        lines += ["", "(†) Above 100%: the matmul rate used as the peak was measured under a heavier load from other "
                  "jobs than the training steps it is compared with (the machine was shared), so this share is not "
                  "meaningful in this run; rerun on a quiet machine."]
    lines += ["", *[f"![{p}](plots/{p})" for p in plots], ""]
    kernels = results.get("lstm_kernels", {}).get("machine", [])
    if kernels:
        lines += ["## PyTorch's CPU LSTM kernels on this machine", "",
                  f"Both libraries run `torch.lstm`. One {kernels[0]['hidden']}-wide LSTM layer, median ms per call:", "",
                  "| call | ms |", "|---|---|"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in kernels[0]["ms_per_call"].items()]
        lines.append("")
    notes_file = ROOT / "benchmarks" / "NOTES.md"
    if notes_file.exists():
        lines += [notes_file.read_text().strip(), ""]
    if errors:
        lines += ["## Failed measurements", ""]
        for e in errors:
            tail = e["log_tail"].strip().splitlines()[-1] if e["log_tail"].strip() else ""
            lines.append(f"- {e['name']} ({e['side']}): exit {e['code']}: `{tail[:200]}`")
        lines.append("")
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
