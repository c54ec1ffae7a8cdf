"""Pretrain a real Wikipedia language model in one short GPU call (issue 29), and bring it back small.

Two steps. Here, on the development machine, `prepare` copies as many Wikipedia shards as fit in the input budget
(64 MiB beside the code: four shards of ~13.8 MiB) into a data folder, with the held-out test articles (the last 300
of wiki-07, ~1.4 MiB) as its own small `wiki-07.parquet`. On the GPU machine, `train` runs the pretrain stage on that
folder with the README's GPU recipe (the standard AWD-LSTM widths 400/1152/3 with a 15k unigram vocabulary, bf16
autocast, batch 128, one-cycle), its wall-clock budget set so that everything (tokenizer, tokenising, training,
evaluation, saving) ends inside `--minutes` (9); it reports tokens/s, held-out per-word perplexity and MFU (6 FLOPs
per parameter per token against the device's bf16 matmul peak, measured in the same run), and writes the LM as
fp16 safetensors shards of at most 15 MiB, with its config and tokenizer, into one folder of at most 8 files.

    python scripts/gpu_pretrain_lm.py prepare --out benchmarks/.work/gpu_data            # here (CPU, seconds)
    python scripts/gpu_pretrain_lm.py train --data benchmarks/.work/gpu_data --out "$OUT/lm"   # on the GPU
    python scripts/gpu_pretrain_lm.py train --dry-run --data ... --out ...   # a tiny model on the CPU (the test)

The figures print as one JSON object on stdout (the last line); the folder loads with
`AutoModelForCausalLM.from_pretrained` after `import hf_ulmfit`.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
HELD_OUT_ARTICLES = 300
# The README's GPU recipe, sized so that its fp16 weights fit the 60 MiB the machine hands back (26.3M parameters).
GPU_RECIPE = dict(
    tokenizer_kind="unigram",
    vocab_size=15_000,
    embedding_size=400,
    hidden_size=1152,
    num_layers=3,
    drop_mult=0.1,
    per_device_train_batch_size=128,
    per_device_eval_batch_size=128,
    learning_rate=1e-2,
    bptt=72,
)
DRY_RUN_RECIPE = dict(
    GPU_RECIPE, tokenizer_kind="word", vocab_size=300, embedding_size=16, hidden_size=24, num_layers=2, bptt=16
)
KEPT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")
# Dense bf16 matmul peaks of the datasheets, for the record beside the measured one.
DATASHEET_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}


def prepare(
    source: Path, out: Path, input_mib: float, max_articles: int | None = None, max_shards: int | None = None
) -> dict:
    """Copy whole training shards (wiki-00, wiki-01, ...) into ``out/wikipedia`` while they fit in `input_mib` beside
    the held-out file, which holds the last 300 articles of wiki-07 only (the stage holds them out as its test)."""
    import pyarrow.parquet as pq

    target = out / "wikipedia"
    target.mkdir(parents=True, exist_ok=True)
    held_out = pq.read_table(source / "wiki-07.parquet")
    held_out = held_out.slice(held_out.num_rows - HELD_OUT_ARTICLES)
    pq.write_table(held_out, target / "wiki-07.parquet")
    used = (target / "wiki-07.parquet").stat().st_size
    shards = []
    for shard in sorted(source.glob("wiki-0[0-6].parquet"))[:max_shards]:
        if max_articles:  # a dry run: a slice of each shard
            pq.write_table(pq.read_table(shard).slice(0, max_articles), target / shard.name)
        elif used + shard.stat().st_size <= input_mib * MIB:
            shutil.copyfile(shard, target / shard.name)
        else:
            break
        used += (target / shard.name).stat().st_size
        shards.append(shard.name)
    if not shards:
        raise SystemExit(f"no training shard of {source} fits in {input_mib} MiB beside the held-out articles")
    summary = {"shards": shards, "held_out_articles": HELD_OUT_ARTICLES, "input_mib": round(used / MIB, 1)}
    print(json.dumps(summary))
    return summary


def matmul_peak_tflops(device, size: int, repeats: int = 5) -> float:
    """Best bf16 matmul rate on `device`, measured now."""
    import torch

    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    best = 0.0
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.matmul(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e12)
    return best


def save_fp16_shards(trained: Path, out: Path, max_shard_mib: float, max_files: int, max_total_mib: float) -> list:
    """The trained LM's weights as fp16 safetensors shards of at most `max_shard_mib`, with its config and
    tokenizer, in `out`; refused (SystemExit) when the folder would exceed `max_files` or `max_total_mib`."""
    from transformers import AutoModelForCausalLM

    import hf_ulmfit  # noqa: F401  (registers the Auto classes)

    model = AutoModelForCausalLM.from_pretrained(trained).half()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch, max_shard_size=int(max_shard_mib * MIB))
        weights = sorted(name for name in os.listdir(scratch) if name.endswith(".safetensors"))
        index = [name for name in os.listdir(scratch) if name.endswith(".safetensors.index.json")]
        for name in [*weights, *index]:
            shutil.copyfile(Path(scratch) / name, out / name)
    for name in KEPT_FILES:
        shutil.copyfile(trained / name, out / name)
    files = sorted(os.listdir(out))
    sizes = {name: (out / name).stat().st_size for name in files}
    too_big = [name for name in weights if sizes[name] > max_shard_mib * MIB]
    total = sum(sizes.values()) / MIB
    if len(files) > max_files or total > max_total_mib or too_big:
        raise SystemExit(
            f"{out}: {len(files)} files, {total:.1f} MiB, shards over {max_shard_mib} MiB: {too_big} (limits: "
            f"{max_files} files, {max_total_mib} MiB)"
        )
    return [{"file": name, "mib": round(sizes[name] / MIB, 2)} for name in files]


def train(args) -> dict:
    import torch

    from hf_ulmfit.recipes import pretrain

    started = time.perf_counter()
    on_gpu = torch.cuda.is_available() and not args.dry_run
    device = torch.device("cuda" if on_gpu else "cpu")
    recipe = DRY_RUN_RECIPE if args.dry_run else GPU_RECIPE
    peak = matmul_peak_tflops(device, 8192 if on_gpu else 512)
    work = Path(tempfile.mkdtemp(prefix="gpu_pretrain_"))
    elapsed_minutes = (time.perf_counter() - started) / 60
    # What the budget leaves to the training loop: tokenizer and tokenising come first, then the evaluation of the
    # validation and test splits and the saving (`--reserve_minutes` for those together).
    budget = max(args.minutes - elapsed_minutes - args.reserve_minutes, 0.05)
    arguments = dict(
        dataset="wikipedia",
        data_dir=str(args.data),
        validation_size=0.01,
        **recipe,
        time_budget_minutes=budget,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=100,
        num_proc=os.cpu_count() if on_gpu else None,
        dataloader_num_workers=0,
        use_cpu=not on_gpu,
        bf16=None if on_gpu else False,
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        output_dir=str(work / "lm"),
    )
    if args.dry_run:
        arguments.update(max_eval_samples=3, tokenizer_train_lines=2_000)
    record = pretrain.main(arguments)
    parameters = sum(p.numel() for p in _load(work / "lm").parameters())
    tokens = record["trained"]["steps"] * recipe["per_device_train_batch_size"] * recipe["bptt"]
    tokens_per_second = tokens / max(record["train_seconds"], 1e-9)
    achieved = 6 * parameters * tokens_per_second / 1e12
    files = save_fp16_shards(work / "lm", args.out, args.max_shard_mib, args.max_files, args.max_total_mib)
    name = torch.cuda.get_device_name(device) if on_gpu else "cpu"
    datasheet = next((value for key, value in DATASHEET_BF16_TFLOPS.items() if key in name), None)
    test = record["results"].get("test", {})
    report = {
        "bench": "gpu_pretrain_lm",
        "dry_run": args.dry_run,
        "device": name,
        "torch": torch.__version__,
        "recipe": recipe,
        "precision": "bf16" if record["training"]["bf16"] else "fp32",
        "parameters": parameters,
        "train_documents": record["train_documents"],
        "train_tokens_in_corpus": record["train_tokens"],
        "trained_steps": record["trained"]["steps"],
        "tokens_trained": tokens,
        "train_seconds": record["train_seconds"],
        "tokens_per_second": round(tokens_per_second, 1),
        "achieved_tflops": round(achieved, 4),
        "matmul_peak_bf16_tflops_measured": round(peak, 3),
        "mfu_of_measured_peak": round(achieved / peak, 4),
        "mfu_of_datasheet_peak": round(achieved / datasheet, 4) if datasheet else None,
        "held_out_test": test,  # the last 300 articles of wiki-07: perplexity per token and per word
        "validation": record["results"].get("validation", {}),
        "output_files": files,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    return report


def _load(folder: Path):
    from transformers import AutoModelForCausalLM

    import hf_ulmfit  # noqa: F401

    return AutoModelForCausalLM.from_pretrained(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="the data folder, here")
    prep.add_argument(
        "--source",
        type=Path,
        default=Path(os.environ.get("HF_ULMFIT_DATA", ROOT.parent / "shared" / "data")) / "wikipedia",
    )
    prep.add_argument("--out", type=Path, required=True)
    prep.add_argument("--input_mib", type=float, default=64.0, help="input beside the code the GPU call may carry")
    prep.add_argument("--max_articles", type=int, help="a slice of each shard (a dry run's data)")
    prep.add_argument("--max_shards", type=int, help="at most this many training shards")
    run = commands.add_parser("train", help="pretrain and save, on the GPU")
    run.add_argument("--data", type=Path, required=True, help="the folder `prepare` wrote")
    run.add_argument("--out", type=Path, required=True, help="the LM folder to write (fp16 shards, config, tokenizer)")
    run.add_argument("--minutes", type=float, default=9.0, help="the whole call's wall-clock budget")
    run.add_argument("--reserve_minutes", type=float, default=2.5, help="tokenising, evaluating and saving")
    run.add_argument("--max_shard_mib", type=float, default=15.0)
    run.add_argument("--max_files", type=int, default=8)
    run.add_argument("--max_total_mib", type=float, default=60.0)
    run.add_argument("--dry_run", "--dry-run", action="store_true", help="a tiny model on the CPU")
    run.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return prepare(args.source, args.out, args.input_mib, args.max_articles, args.max_shards)
    return train(args)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
