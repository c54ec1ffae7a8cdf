"""Helpers both benchmark sides share. Standard library and numpy only: the fastai side runs in its own virtual
environment and must not import hf_ulmfit, and our side must not import fastai."""

import json
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HF_ULMFIT_DATA", ROOT.parent / "shared" / "data"))
WORK = ROOT / "benchmarks" / ".work"
PREPARED = WORK / "prepared"  # inputs both sides read (token streams, texts), written once by `ours.py prepare`
RESULTS = WORK / "results"

# The standard AWD-LSTM language model of ULMFiT (fastai's awd_lstm_lm_config), and fastai's LM batch shape.
EMBEDDING_SIZE, HIDDEN_SIZE, NUM_LAYERS = 400, 1152, 3
BATCH_SIZE, BPTT = 64, 72
MAX_LEN = 72 * 20  # fastai's classifier keeps the outputs of the last 1440 tokens


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (/proc/cpuinfo), e.g. avx2, avx512_bf16, amx_bf16."""
    cpuinfo = Path("/proc/cpuinfo")
    match = re.search(r"^flags\s*:(.*)$", cpuinfo.read_text(), re.MULTILINE) if cpuinfo.exists() else None
    return set(match.group(1).split()) if match else set()


def write_result(path: str | os.PathLike, result: dict) -> None:
    result = {**result, "load_average": os.getloadavg(), "python": sys.version.split()[0]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1))


def steady_step_seconds(timestamps: list[float], warmup: int) -> list[float]:
    """Per-step durations from end-of-step timestamps, dropping the first `warmup` steps."""
    durations = [b - a for a, b in zip(timestamps, timestamps[1:])]
    return durations[max(warmup - 1, 0):]


def median(values):
    return statistics.median(values) if values else None


def reset_peak_rss() -> None:
    """Reset the kernel's resident-set high-water mark (VmHWM) of this process (Linux, /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_kib(field: str = "VmRSS") -> int:
    """Current (VmRSS) or peak since the last reset (VmHWM) resident memory of this process, in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1))


def lifetime_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def matmul_gflops(torch, size: int = 2048, repeats: int = 3) -> float:
    """Best fp32 matmul rate of `repeats` products of `size`-square matrices, in this process, now: the reference
    peak for the share-of-peak figure (g), taken next to the measurement because other jobs change the load."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


# Memory either side may take beyond its baseline in the memory benchmark (d). A document that needs more fails
# cleanly with "out of memory" instead of pushing the machine into the kernel's OOM killer.
MEMORY_BUDGET_GIB = float(os.environ.get("BENCH_MEMORY_BUDGET_GIB", 16))


def peak_memory_result(side: str, mode: str, run, document, saved: dict) -> dict:
    """Measure one side's memory benchmark the same way for both libraries: warm up on a short prefix, then run the
    whole document and report peak RSS over the baseline (and bytes saved for backward, which `run` adds to
    ``saved["bytes"]``, in training mode). The address space is capped at the baseline plus MEMORY_BUDGET_GIB; a run
    that needs more is reported as out of memory rather than measured."""
    run(document[:, :200])  # warm-up: kernels, gradient buffers
    saved["bytes"] = 0
    baseline = rss_kib("VmRSS")
    limit = rss_kib("VmSize") * 1024 + int(MEMORY_BUDGET_GIB * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    reset_peak_rss()
    out_of_memory = None
    with Stopwatch() as watch:
        try:
            run(document)
        except (MemoryError, RuntimeError) as error:
            if not isinstance(error, MemoryError) and "alloc" not in str(error).lower():
                raise
            out_of_memory = str(error).splitlines()[0][:300]
    peak = rss_kib("VmHWM")
    return {
        "side": side, "bench": "memory", "mode": mode, "tokens": int(document.shape[1]),
        "baseline_kib": baseline, "peak_kib": peak,
        "peak_over_baseline_mib": None if out_of_memory else (peak - baseline) / 1024,
        "saved_for_backward_mib": saved["bytes"] / 2**20 if mode == "train" and not out_of_memory else None,
        "seconds": watch.seconds, "memory_budget_gib": MEMORY_BUDGET_GIB, "out_of_memory": out_of_memory,
    }
