"""Tokens/s of language-model training (what `hf-ulmfit pretrain` runs) for the standard AWD-LSTM and the small
recipe, in fp32 and bf16, on the GPU when one is present. Prints one JSON object.

    python -m benchmarks.gpu_pretrain            # a CUDA machine: 2 models x 2 precisions x 2 batch sizes, < 5 min
    python -m benchmarks.gpu_pretrain --quick    # tiny models and a few steps: checks the script, CPU is fine
    python -m benchmarks.gpu_pretrain --use_cpu  # the same measurement on the CPU (slow at full size)

Each configuration trains with `LanguageModelTrainer` (AdamW, AR/TAR, carried state, one-cycle), as the pretrain stage
does, on random token ids (the time of a step does not depend on which ids it reads); the first `--warmup` steps (cuDNN
and allocator warm-up) are not timed, and every timed step ends with a device synchronisation. Models: standard =
ULMFiT's AWD-LSTM (embedding 400, hidden 1152, 3 layers, 60k vocabulary); small = the widths of the shared
Wikipedia LM (192/576/3) with MultiFiT's 15k subword vocabulary. Batch 64 x bptt 72 is fastai's LM batch; a GPU is
far from busy at that size, so a larger batch is measured too.
"""

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import time

import torch


MODELS = {
    "standard": dict(vocab_size=60_000, embedding_size=400, hidden_size=1152, num_layers=3),
    "small": dict(vocab_size=15_000, embedding_size=192, hidden_size=576, num_layers=3),
}
QUICK_MODELS = {
    "standard": dict(vocab_size=300, embedding_size=16, hidden_size=24, num_layers=3),
    "small": dict(vocab_size=200, embedding_size=8, hidden_size=12, num_layers=2),
}
BPTT = 72


def random_documents(vocab_size: int, tokens: int, seed: int, document_length: int = 5_000):
    """Documents of random ids (never the 4 special ids) holding at least `tokens` tokens."""
    import datasets

    generator = torch.Generator().manual_seed(seed)
    count = -(-tokens // document_length)
    ids = torch.randint(4, vocab_size, (count, document_length), generator=generator)
    return datasets.Dataset.from_dict({"input_ids": ids.tolist()})


def measure(name: str, model_settings: dict, bf16: bool, batch_size: int, args, device: torch.device) -> dict:
    from transformers import TrainerCallback

    from hf_ulmfit import AwdLstmConfig, AwdLstmForCausalLM
    from hf_ulmfit.training import LanguageModelTrainer, UlmfitTrainingArguments

    torch.manual_seed(args.seed)
    config = AwdLstmConfig(**model_settings, bptt=args.bptt, **json.loads(args.config_overrides))
    model = AwdLstmForCausalLM(config)
    steps = args.warmup + args.steps
    # The trainer cuts the stream into batch_size rows; leave room so no row runs out before the last step.
    train_dataset = random_documents(config.vocab_size, int(1.2 * steps * batch_size * args.bptt) + 10_000, args.seed)
    timestamps = []

    class StepClock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            timestamps.append(time.perf_counter())

        def on_step_end(self, *_, **__):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            timestamps.append(time.perf_counter())

    training_args = UlmfitTrainingArguments(
        output_dir=os.path.join(args.scratch, f"{name}_{batch_size}_{'bf16' if bf16 else 'fp32'}"),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        bptt=args.bptt,
        learning_rate=5e-3,
        lr_schedule="one_cycle",
        discriminative_lr_factor=1.0,
        max_grad_norm=0.4,
        bf16=bf16,
        use_cpu=device.type == "cpu",
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=args.seed,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer = LanguageModelTrainer(
        model=model, args=training_args, train_dataset=train_dataset, callbacks=[StepClock()]
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its train summary; stdout is for the JSON
        trainer.train()
    durations = [b - a for a, b in zip(timestamps, timestamps[1:])][args.warmup :]
    step_seconds = statistics.median(durations)
    result = {
        "model": name,
        **model_settings,
        "precision": "bf16" if bf16 else "fp32",
        "batch_size": batch_size,
        "bptt": args.bptt,
        "tokens_per_second": round(batch_size * args.bptt / step_seconds, 1),
        "step_seconds_median": float(f"{step_seconds:.6g}"),  # 6 significant digits, also for fast GPU steps
        "timed_steps": len(durations),
        "parameters": sum(p.numel() for p in model.parameters()),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "device": str(trainer.args.device),
    }
    if device.type == "cuda":
        result["peak_memory_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    del trainer, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny models, 2 timed steps: a check that it runs")
    parser.add_argument("--use_cpu", action="store_true", help="measure on the CPU even when a GPU is present")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--batch_sizes", nargs="+", type=int, default=None, help="default: 64 256 (quick: 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default 20; quick 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 5; quick 1)")
    parser.add_argument("--bptt", type=int, default=None, help=f"default {BPTT} (quick 8)")
    parser.add_argument(
        "--config_overrides", default="{}", help="JSON merged into every config, e.g. '{\"drop_mult\": 0.3}'"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scratch", default=os.path.join("benchmarks", ".work", "gpu_pretrain"))
    args = parser.parse_args(argv)
    args.batch_sizes = args.batch_sizes or ([4] if args.quick else [64, 256])
    args.steps = args.steps or (2 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    args.bptt = args.bptt or (8 if args.quick else BPTT)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    device = torch.device("cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu")
    models = QUICK_MODELS if args.quick else MODELS
    report = {
        "bench": "gpu_pretrain",
        "quick": args.quick,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "results": [],
        "skipped": [],
    }
    started = time.perf_counter()
    for name in args.models:
        for precision in args.precisions:
            if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
                report["skipped"].append(f"{name} bf16: this GPU has no bf16")
                continue
            for batch_size in args.batch_sizes:
                result = measure(name, models[name], precision == "bf16", batch_size, args, device)
                print(json.dumps(result), file=sys.stderr, flush=True)
                report["results"].append(result)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
