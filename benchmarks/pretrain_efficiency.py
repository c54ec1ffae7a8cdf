"""Pretraining efficiency on this CPU (issue 29): step time, tokens/s and achieved FLOP/s of the pretrain stage's
training step, against the machine's bf16 and fp32 matmul peak measured in the same run, for the levers a recipe
has: batch size, bf16/fp32, LSTM/QRNN, vocabulary size, model width and threads.

Every configuration trains `LanguageModelTrainer` (AdamW, AR/TAR, carried state, one-cycle) on random token ids for
`--warmup` + `--steps` steps; the step time is the median of the timed steps, in CPU seconds of the process (one
thread: `time.process_time`), so that other jobs sharing the cores do not change the figures: tokens per CPU-second
is what a CPU-hour buys. The wall-clock step time is recorded beside it. Achieved FLOP/s counts 6 FLOPs per
parameter per token (forward 2, backward 4; the tied embedding counted once, as the decoder's matmul), the usual
estimate; the share is of the matmul peak of the precision the step ran in, measured with large matmuls in this same
process at the start and at the end (the higher taken), because other jobs on a shared machine change the load.

    python -m benchmarks.pretrain_efficiency                 # the sweep, 1 thread (~10 minutes on 2 cores)
    python -m benchmarks.pretrain_efficiency --quick         # 2 configurations, 2 steps each (seconds)
    python -m benchmarks.pretrain_efficiency --report-only   # the table from the JSON file already there
"""

import argparse
import json
import time
from pathlib import Path

from benchmarks.bench_utils import ROOT, WORK, machine_description, matmul_gflops, replace_section


BPTT = 72
SMALL = dict(embedding_size=192, hidden_size=576, num_layers=3, drop_mult=0.1)
# name -> (model settings, vocabulary, batch size, bf16, threads). "shared" is the shared LM's recipe.
CONFIGS = {
    "shared (LSTM 192/576/3, 12k, bs 64, bf16)": (SMALL, 12_000, 64, True, 1),
    "bs 16": (SMALL, 12_000, 16, True, 1),
    "bs 32": (SMALL, 12_000, 32, True, 1),
    "bs 128": (SMALL, 12_000, 128, True, 1),
    "bs 256": (SMALL, 12_000, 256, True, 1),
    "fp32, bs 64": (SMALL, 12_000, 64, False, 1),
    "fp32, bs 256": (SMALL, 12_000, 256, False, 1),
    "QRNN, bs 16": ({**SMALL, "rnn_type": "qrnn"}, 12_000, 16, True, 1),
    "QRNN, bs 64": ({**SMALL, "rnn_type": "qrnn"}, 12_000, 64, True, 1),
    "QRNN, bs 256": ({**SMALL, "rnn_type": "qrnn"}, 12_000, 256, True, 1),
    "vocab 4k": (SMALL, 4_000, 64, True, 1),
    "vocab 30k": (SMALL, 30_000, 64, True, 1),
    "vocab 30k, bs 16": (SMALL, 30_000, 16, True, 1),
    "width 128/384/3": ({**SMALL, "embedding_size": 128, "hidden_size": 384}, 12_000, 64, True, 1),
    "width 400/1152/3 (fastai's)": ({**SMALL, "embedding_size": 400, "hidden_size": 1152}, 12_000, 64, True, 1),
    "2 threads": (SMALL, 12_000, 64, True, 2),
}
EFFICIENCY_START, EFFICIENCY_END = "<!-- efficiency: start -->", "<!-- efficiency: end -->"
QUICK_CONFIGS = ["shared (LSTM 192/576/3, 12k, bs 64, bf16)", "QRNN, bs 16"]


def matmul_peaks(torch, repeats: int = 3) -> dict:
    """Best GFLOP/s per CPU-second of large square matmuls in fp32 and bf16, in this process (one thread)."""
    return {
        name: matmul_gflops(torch, repeats=repeats, dtype=dtype, clock=time.process_time)
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
    }


def step_seconds(model_settings: dict, vocab: int, batch: int, bf16: bool, warmup: int, steps: int) -> tuple:
    """Median CPU seconds and wall-clock seconds of a training step, and the model's parameter count."""
    import datasets
    import numpy as np
    from transformers import TrainerCallback

    from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
    from hf_ulmfit.training import LanguageModelTrainer, UlmfitTrainingArguments

    stamps = []

    class Clock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            stamps.append((time.process_time(), time.perf_counter()))

        def on_step_end(self, *_, **__):
            stamps.append((time.process_time(), time.perf_counter()))

    total = warmup + steps
    tokens = np.random.default_rng(0).integers(5, vocab, batch * BPTT * (total + 1) + 1)
    model = AwdLstmForCausalLM(AwdLstmConfig(vocab_size=vocab, bptt=BPTT, **model_settings))
    args = UlmfitTrainingArguments(
        output_dir=str(WORK / "efficiency_scratch"),
        max_steps=total,
        per_device_train_batch_size=batch,
        bptt=BPTT,
        learning_rate=5e-3,
        lr_schedule="one_cycle",
        use_cpu=True,
        bf16=bf16,
        max_grad_norm=0.4,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = LanguageModelTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_dict({"input_ids": [tokens.tolist()]}),
        callbacks=[Clock()],
    )
    trainer.train()
    pairs = list(zip(stamps[warmup:], stamps[warmup + 1 :]))
    cpu = sorted(b[0] - a[0] for a, b in pairs)
    wall = sorted(b[1] - a[1] for a, b in pairs)
    return cpu[len(cpu) // 2], wall[len(wall) // 2], sum(p.numel() for p in model.parameters())


def run_sweep(names: list[str], warmup: int, steps: int, out: Path) -> dict:
    import torch
    import transformers

    torch.set_num_threads(1)
    start_peaks = matmul_peaks(torch)
    rows = []
    for name in names:
        model_settings, vocab, batch, bf16, threads = CONFIGS[name]
        torch.set_num_threads(threads)
        seconds, wall_seconds, parameters = step_seconds(model_settings, vocab, batch, bf16, warmup, steps)
        torch.set_num_threads(1)
        tokens_per_second = batch * BPTT / seconds
        rows.append(
            dict(
                name=name,
                rnn_type=model_settings.get("rnn_type", "lstm"),
                sizes=f"{model_settings['embedding_size']}/{model_settings['hidden_size']}/"
                f"{model_settings['num_layers']}",
                vocab=vocab,
                batch=batch,
                precision="bf16" if bf16 else "fp32",
                threads=threads,
                parameters=parameters,
                step_seconds=seconds,
                wall_step_seconds=wall_seconds,
                tokens_per_second=tokens_per_second,
                gflops=6 * parameters * tokens_per_second / 1e9,
            )
        )
        print(
            f"[pretrain_efficiency] {name}: {seconds:.3f} CPU s/step ({wall_seconds:.3f} s wall), "
            f"{tokens_per_second:,.0f} tokens per CPU-second",
            flush=True,
        )
    end_peaks = matmul_peaks(torch)
    peaks = {kind: max(start_peaks[kind], end_peaks[kind]) for kind in start_peaks}
    for row in rows:
        row["share_of_peak"] = row["gflops"] / (peaks[row["precision"]] * row["threads"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine_description(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "matmul_peak_gflops_1_thread": peaks,
        "matmul_peak_start_end": [start_peaks, end_peaks],
        "avx512_bf16": bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()),
        "amx_tile": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
        "warmup_steps": warmup,
        "timed_steps": steps,
        "rows": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def table(result: dict) -> str:
    """The Markdown table of a sweep, with each row's tokens/s relative to the shared LM's recipe (the first row)."""
    rows = result["rows"]
    base = rows[0]["tokens_per_second"]
    lines = [
        "| configuration | cell | sizes | vocab | batch | precision | threads | parameters | CPU s/step | wall s/step "
        "| tokens per CPU-s | vs shared | GFLOP per CPU-s | share of matmul peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['rnn_type'].upper()} | {row['sizes']} | {row['vocab']:,} | {row['batch']} "
            f"| {row['precision']} | {row['threads']} | {row['parameters'] / 1e6:.1f}M | {row['step_seconds']:.3f} "
            f"| {row['wall_step_seconds']:.3f} "
            f"| {row['tokens_per_second']:,.0f} | {row['tokens_per_second'] / base:.2f}x | {row['gflops']:.1f} "
            f"| {100 * row['share_of_peak']:.1f}% |"
        )
    peaks = result["matmul_peak_gflops_1_thread"]
    lines += [
        "",
        "CPU seconds are the process's (`time.process_time`); with 2 threads they count both threads, so the "
        "2-thread row's tokens per CPU-second show the cost of the second thread, and its wall-clock the gain. "
        f"Matmul peak of one thread per CPU-second, measured in the same run (2048-square, best of 3, the higher of "
        "start and end): "
        f"**fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s** (AVX512-BF16 "
        f"{'yes' if result['avx512_bf16'] else 'no'}, AMX {'yes' if result['amx_tile'] else 'no'}). Machine: "
        f"{result['machine']}; torch {result['torch']}, transformers {result['transformers']}; {result['date']}; "
        f"{result['warmup_steps']} warm-up steps, median of {result['timed_steps']}.",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two configurations, two timed steps")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), help="a subset (the first is the reference)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=WORK / "pretrain_efficiency.json")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS-pretraining.md")
    args = parser.parse_args(argv)
    if args.report_only:
        result = json.loads(args.out.read_text())
    else:
        names = args.configs or (QUICK_CONFIGS if args.quick else list(CONFIGS))
        steps, warmup = (2, 1) if args.quick else (args.steps, args.warmup)
        result = run_sweep(names, warmup, steps, args.out)
    print(table(result))
    if not args.quick:
        made = "Made by `python -m benchmarks.pretrain_efficiency`."
        section = f"## Pretraining efficiency on this CPU\n\n{made}\n\n{table(result)}"
        replace_section(args.results, EFFICIENCY_START, EFFICIENCY_END, section)
    return result


if __name__ == "__main__":
    main()
