"""Runs every benchmark, alternating hf-ulmfit's side and fastai's side measurement by measurement.

Each measurement is a fresh process (`ours.py` in .venv, `fastai_side.py` in .fastai-venv) that writes one JSON
file under benchmarks/.work/results/. The two sides alternate (ours, fastai, ours, fastai, ...) so that load from
other jobs on a shared machine hits both alike; the report takes medians and ratios within this one run.

Both sides train and infer on a GPU when one is present (fastai by itself, ours as the Trainer and the stages do);
`--use-cpu` hides the GPUs from both (CUDA_VISIBLE_DEVICES="") so they compare on the CPU.
"""

import argparse
import json
import os
import shutil
import subprocess
import time

from benchmarks.bench_utils import PREPARED, RESULTS, ROOT, WORK, native_bf16


PYTHON = {"ours": ROOT / ".venv" / "bin" / "python", "fastai": ROOT / ".fastai-venv" / "bin" / "python"}
# Run as `python -m MODULE` from the repository root (the child's working directory).
MODULE = {"ours": "benchmarks.ours", "fastai": "benchmarks.fastai_side"}
LOGS = WORK / "logs"

# What each mode runs. --quick finishes in a few minutes of a quiet 2-core machine; the full mode takes longer.
SETTINGS = {
    "quick": {
        "lm_rounds": 1,
        "lm_steps": 1,
        "lm_warmup": 1,
        "lm_bf16": False,
        "classify_rounds": 1,
        "classify_n": 32,
        "ours_single": 5,
        "fastai_single": 5,
        "generate_rounds": 1,
        "generate_repeats": 1,
        "generate_new_tokens": 50,
        "memory_tokens": [1_000, 5_000],
        "tokenize_n": 2_000,
        "tokenize_rounds": 1,
        "accuracy_seeds": [0, 1],
        "accuracy_wiki_tokens": 100_000,
    },
    "full": {
        "lm_rounds": 3,
        "lm_steps": 4,
        "lm_warmup": 1,
        "lm_bf16": True,
        "classify_rounds": 2,
        "classify_n": 300,
        "ours_single": 50,
        "fastai_single": 30,
        "generate_rounds": 3,
        "generate_repeats": 2,
        "generate_new_tokens": 200,
        "memory_tokens": [1_000, 10_000, 100_000],
        "tokenize_n": 75_000,
        "tokenize_rounds": 1,
        "accuracy_seeds": [0, 1, 2],
        "accuracy_wiki_tokens": 2_000_000,
    },
}


# Set by --use-cpu: the environment of every measurement process hides the GPUs.
HIDE_GPUS = {"CUDA_VISIBLE_DEVICES": ""}
_extra_env: dict[str, str] = {}


def run(side: str, command: str, name: str, *args, timeout: int = 3600) -> dict | None:
    """One measurement in a fresh process; returns its JSON result (None, and the error logged, on failure)."""
    out = RESULTS / f"{name}.json"
    log = LOGS / f"{name}.log"
    cmd = [str(PYTHON[side]), "-m", MODULE[side], command, "--out", str(out), *map(str, args)]
    started = time.time()
    print(f"[{time.strftime('%H:%M:%S')}] {side:6s} {name} ...", end=" ", flush=True)
    env = {
        **os.environ,
        "TOKENIZERS_PARALLELISM": "true",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONWARNINGS": "ignore",
        **_extra_env,
    }
    with open(log, "w") as log_file:
        try:
            code = subprocess.run(
                cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT, env=env, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    elapsed = time.time() - started
    if code != 0 or not out.exists():
        tail = log.read_text()[-1500:]
        print(f"FAILED ({code}) after {elapsed:.0f}s; see {log}")
        (RESULTS / f"{name}.error.json").write_text(
            json.dumps({"side": side, "name": name, "code": str(code), "log_tail": tail})
        )
        return None
    print(f"{elapsed:.0f}s")
    return json.loads(out.read_text())


def alternate(rounds: int, command: str, name: str, ours_args=(), fastai_args=(), sides=("ours", "fastai")):
    for r in range(rounds):
        for side in sides if r % 2 == 0 else tuple(reversed(sides)):
            args = ours_args if side == "ours" else fastai_args
            run(side, command, f"{name}__{side}__r{r}", *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few steps and small slices: a few minutes")
    parser.add_argument("--only", nargs="*", help="run only these benchmarks (names as in the plan)")
    parser.add_argument("--keep", action="store_true", help="keep earlier results (default: start afresh)")
    parser.add_argument("--use-cpu", action="store_true", help="measure on the CPU even when a GPU is present")
    args = parser.parse_args()
    if args.use_cpu:
        _extra_env.update(HIDE_GPUS)
    mode = "quick" if args.quick else "full"
    s = SETTINGS[mode]
    if not args.keep and RESULTS.exists():
        shutil.rmtree(RESULTS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    wanted = lambda bench: not args.only or bench in args.only  # noqa: E731
    if not (args.keep and (RESULTS / "run.json").exists()):
        (RESULTS / "run.json").write_text(
            json.dumps(
                {
                    "mode": mode,
                    "only": args.only or [],
                    "use_cpu": args.use_cpu,
                    "settings": s,
                    "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "load_average_start": os.getloadavg(),
                }
            )
        )

    if not (PREPARED / "ours_lm").exists():
        run("ours", "prepare", "prepare__ours")
    if not (PREPARED / "fastai_vocab.json").exists():
        run("fastai", "prepare", "prepare__fastai")

    if wanted("matmul_peak"):
        run("ours", "matmul_peak", "matmul_peak__machine__r0")
    if wanted("lm_throughput"):
        for vocab in (60_000, 30_000):
            common = ["--vocab", vocab, "--steps", s["lm_steps"], "--warmup", s["lm_warmup"]]
            alternate(s["lm_rounds"], "lm_throughput", f"lm_throughput_{vocab}", common, common)
        # One bf16 row for ours where the device computes bf16 natively. Without AVX512-BF16/AMX bf16 matmuls are
        # emulated at well under 1 GFLOP/s (matmul_peak shows it), and one standard-size step would take an hour.
        if s["lm_bf16"] and native_bf16(args.use_cpu):
            run(
                "ours",
                "lm_throughput",
                "lm_throughput_60000_bf16__ours__r0",
                "--vocab",
                60_000,
                "--steps",
                s["lm_steps"],
                "--warmup",
                s["lm_warmup"],
                "--bf16",
            )
    if wanted("classify"):
        alternate(
            s["classify_rounds"],
            "classify",
            "classify",
            ["--n", s["classify_n"], "--n-single", s["ours_single"]],
            ["--n", s["classify_n"], "--n-single", s["fastai_single"]],
        )
    if wanted("generate"):
        # Default kernels (oneDNN LSTM on CPU), then PyTorch's native LSTM kernel, which is far faster for the
        # one-sequence, short-input calls generation makes (see RESULTS.md).
        for variant, extra in (("", []), ("_native_lstm", ["--no-mkldnn"])):
            extra = [*extra, "--new-tokens", s["generate_new_tokens"]]
            alternate(
                s["generate_rounds"],
                "generate",
                f"generate{variant}",
                ["--repeats", s["generate_repeats"], *extra],
                ["--repeats", s["generate_repeats"], *extra],
            )
    if wanted("memory"):
        for tokens in s["memory_tokens"]:
            for mode_ in ("infer", "train"):
                alternate(
                    1,
                    "memory",
                    f"memory_{mode_}_{tokens}",
                    ["--tokens", tokens, "--mode", mode_],
                    ["--tokens", tokens, "--mode", mode_],
                )
    if wanted("tokenize"):
        for r in range(s["tokenize_rounds"]):
            for kind in ("word", "unigram", "fastai_compat"):
                run("ours", "tokenize", f"tokenize_{kind}__ours__r{r}", "--n", s["tokenize_n"], "--kind", kind)
            run("fastai", "tokenize", f"tokenize_fastai__fastai__r{r}", "--n", s["tokenize_n"])
    if wanted("accuracy"):
        if not (WORK / "accuracy" / f"data_{s['accuracy_wiki_tokens']}.npz").exists():
            run("fastai", "prepare_accuracy", "prepare_accuracy__fastai", "--wiki-tokens", s["accuracy_wiki_tokens"])
        for seed in s["accuracy_seeds"]:
            common = ["--seed", seed, "--wiki-tokens", s["accuracy_wiki_tokens"]] + (["--quick"] if args.quick else [])
            alternate(
                1,
                "accuracy",
                f"accuracy_s{seed}",
                common,
                common,
                sides=("ours", "fastai") if seed % 2 == 0 else ("fastai", "ours"),
            )
    if wanted("matmul_peak"):
        run("ours", "matmul_peak", "matmul_peak__machine__r1")
    if wanted("lstm_kernels"):
        run("ours", "lstm_kernels", "lstm_kernels__machine__r0", "--repeats", 3)
    run_info = json.loads((RESULTS / "run.json").read_text())
    run_info.update(finished=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), load_average_end=os.getloadavg())
    (RESULTS / "run.json").write_text(json.dumps(run_info))


if __name__ == "__main__":
    main()
