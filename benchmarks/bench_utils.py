"""Helpers both benchmark sides share: the subcommands' arguments, the memory probe, timing and result files.
Standard library at import (torch inside the functions that need it; both venvs have it): the fastai side runs in its
own virtual environment and must not import hf_ulmfit, and our side must not import fastai."""

import argparse
import json
import os
import platform
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


def native_bf16(use_cpu: bool) -> bool:
    """The device the measurements run on computes bf16 in hardware (a bf16 GPU; a CPU with AVX512-BF16 or AMX)."""
    import torch

    if torch.cuda.is_available() and not use_cpu:
        return torch.cuda.is_bf16_supported()
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def write_result(path: str | os.PathLike, result: dict) -> None:
    result = {**result, "load_average": os.getloadavg(), "python": sys.version.split()[0]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1))


def steady_step_seconds(timestamps: list[float], warmup: int) -> list[float]:
    """Per-step durations from end-of-step timestamps, dropping the first `warmup` steps."""
    durations = [b - a for a, b in zip(timestamps, timestamps[1:])]
    return durations[max(warmup - 1, 0) :]


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


def matmul_gflops(torch, size: int = 2048, repeats: int = 3, dtype=None, clock=time.perf_counter) -> float:
    """Best matmul rate (fp32 unless `dtype`) of `repeats` products of `size`-square matrices, in this process, now:
    the reference peak for the share-of-peak figure (g), taken next to the measurement because other jobs change the
    load. `clock=time.process_time` gives GFLOP/s per CPU-second, for cores shared with other jobs."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.matmul(a, b)
    best = 0.0
    for _ in range(repeats):
        start = clock()
        torch.matmul(a, b)
        best = max(best, 2 * size**3 / (clock() - start) / 1e9)
    return best


# Memory either side may take beyond its baseline in the memory benchmark (d). A document that needs more fails
# cleanly with "out of memory" instead of pushing the machine into the kernel's OOM killer.
MEMORY_BUDGET_GIB = float(os.environ.get("BENCH_MEMORY_BUDGET_GIB", 16))


def peak_memory_result(side: str, mode: str, model, head, logits_of, loss_of, document) -> dict:
    """One side's memory benchmark, measured the same way for both libraries.

    `mode` "infer" runs `logits_of(input_ids)` under no_grad; "train" runs `loss_of(input_ids)` and its backward with
    `model` in training mode but `head` in eval mode (BatchNorm cannot train on a batch of one document; the encoder
    trains as usual), counting the bytes autograd saves for backward. After a warm-up on a short prefix, the whole
    `document` runs once; the result is the peak RSS over the baseline. The address space is capped at the baseline
    plus MEMORY_BUDGET_GIB; a run that needs more is reported as out of memory rather than measured."""
    import torch

    saved_bytes = 0

    def run(input_ids):
        nonlocal saved_bytes
        if mode == "infer":
            model.eval()
            with torch.no_grad():
                return logits_of(input_ids)
        model.train()
        head.eval()
        seen = set()

        def count_saved(tensor):
            nonlocal saved_bytes
            key = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
            if key not in seen:
                seen.add(key)
                saved_bytes += tensor.untyped_storage().nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(count_saved, lambda tensor: tensor):
            loss = loss_of(input_ids)
        loss.backward()
        model.zero_grad(set_to_none=False)
        return loss

    run(document[:, :200])  # warm-up: kernels, gradient buffers
    saved_bytes = 0
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
        "side": side,
        "bench": "memory",
        "mode": mode,
        "tokens": int(document.shape[1]),
        "baseline_kib": baseline,
        "peak_kib": peak,
        "peak_over_baseline_mib": None if out_of_memory else (peak - baseline) / 1024,
        "saved_for_backward_mib": saved_bytes / 2**20 if mode == "train" and not out_of_memory else None,
        "seconds": watch.seconds,
        "memory_budget_gib": MEMORY_BUDGET_GIB,
        "out_of_memory": out_of_memory,
    }


def imdb_tokenize_frame(n: int):
    """The first `n` IMDb train then unsupervised reviews as a one-column (`text`) DataFrame: the input of (e)."""
    import pandas as pd

    frame = pd.concat(
        [pd.read_parquet(DATA / "imdb" / f"{split}.parquet", columns=["text"]) for split in ("train", "unsupervised")]
    )
    return frame.iloc[:n].reset_index(drop=True)


def trec_questions(n: int) -> list[str]:
    """The first `n` TREC-6 test questions: the short texts of the one-at-a-time classification measurement."""
    import pandas as pd

    return list(pd.read_parquet(DATA / "trec" / "test.parquet", columns=["text"])["text"][:n])


# ---------------------------------------------------------------------------------------------------------------------
# The subcommands' arguments, one table for both sides. An argument marked `only` exists on that side alone (fastai
# picks its device and precision by itself, and has one tokenisation).
# ---------------------------------------------------------------------------------------------------------------------


def _argument(*flags, only: str | None = None, **options) -> tuple:
    return flags, options, only


USE_CPU = _argument("--use-cpu", action="store_true", only="ours", help="run on the CPU even when a GPU is present")
WIKI_TOKENS = _argument("--wiki-tokens", type=int, default=300_000)
QUICK = _argument("--quick", action="store_true")

ARGUMENTS = {
    "prepare": [],
    "matmul_peak": [_argument("--repeats", type=int, default=5)],
    "lstm_kernels": [_argument("--repeats", type=int, default=5)],
    "lm_throughput": [
        _argument("--vocab", type=int, default=60_000),
        _argument("--steps", type=int, default=3),
        _argument("--warmup", type=int, default=1),
        _argument("--bf16", action="store_true", only="ours"),
        USE_CPU,
    ],
    "classify": [
        _argument("--n", type=int, default=200),
        _argument("--n-single", type=int, default=20),
        _argument("--batch-size", type=int, default=BATCH_SIZE),
        USE_CPU,
    ],
    "generate": [
        _argument("--repeats", type=int, default=3),
        _argument("--new-tokens", type=int, default=200),
        _argument(
            "--no-mkldnn",
            action="store_true",
            help="torch.backends.mkldnn.enabled = False: PyTorch's native LSTM kernel instead of oneDNN's",
        ),
        USE_CPU,
    ],
    "memory": [
        _argument("--tokens", type=int, required=True),
        _argument("--mode", choices=["infer", "train"], required=True),
    ],
    "tokenize": [
        _argument("--n", type=int, default=5000),
        _argument("--kind", choices=["word", "unigram", "fastai_compat"], default="word", only="ours"),
    ],
    "prepare_accuracy": [WIKI_TOKENS, QUICK],
    "accuracy": [WIKI_TOKENS, QUICK, USE_CPU],
    "pretrain_curve": [
        _argument("--minutes", type=float, required=True, help="training wall-clock budget"),
        _argument("--points", type=int, default=4, help="snapshots along the run, the last at the budget"),
        _argument("--held-out-articles", type=int, default=60),
        _argument("--recipe", required=True, only="ours"),
        _argument("--save-model", type=Path, only="ours", help="folder for the trained LM (and its tokenizer)"),
        USE_CPU,
    ],
}


def run_subcommand(side: str, commands: dict, description: str, argv: list[str] | None = None) -> None:
    """Parse `argv` (default: the command line) into one of `commands` (name -> function of the parsed arguments)
    with the arguments `ARGUMENTS` gives it on `side`, and run it."""
    parser = argparse.ArgumentParser(description=description)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in commands:
        subparser = subparsers.add_parser(name)
        subparser.add_argument("--out", required=True)
        subparser.add_argument("--seed", type=int, default=0)
        for flags, options, only in ARGUMENTS[name]:
            if only in (None, side):
                subparser.add_argument(*flags, **options)
    args = parser.parse_args(argv)
    commands[args.command](args)


# ---------------------------------------------------------------------------------------------------------------------
# Time to quality (pretrain_quality.py): the corpus both sides pretrain on, the held-out text they are scored on.
# ---------------------------------------------------------------------------------------------------------------------

TRAIN_SHARD, HELD_OUT_FILE, HELD_OUT_ARTICLES = "wikipedia/wiki-00.parquet", "wikipedia/wiki-07.parquet", 300


def held_out_texts(articles: int = HELD_OUT_ARTICLES) -> list[str]:
    """The last `articles` articles of wiki-07 (of its last 300, which no run here trains on), in file order."""
    import pandas as pd

    if not 0 < articles <= HELD_OUT_ARTICLES:
        raise ValueError(f"held-out articles must be in 1..{HELD_OUT_ARTICLES}, got {articles}")
    return pd.read_parquet(DATA / HELD_OUT_FILE, columns=["text"])["text"].tolist()[-articles:]


def training_articles(seed: int) -> list[str]:
    """The articles of wiki-00 in a seeded random order. Each side builds its vocabulary on all of them (as a user
    does with a corpus) and trains on as many from the front as its budget reads."""
    import numpy as np
    import pandas as pd

    texts = [text for text in pd.read_parquet(DATA / TRAIN_SHARD, columns=["text"])["text"] if text.strip()]
    return [texts[i] for i in np.random.default_rng(seed).permutation(len(texts))]


def articles_with_words(articles: list[str], words: int) -> list[str]:
    """The first articles that hold at least `words` whitespace-separated words between them."""
    taken, count = [], 0
    for article in articles:
        if count >= words:
            break
        taken.append(article)
        count += len(article.split())
    if count < words:
        raise ValueError(f"the training shard holds {count} words, fewer than the {words} the budget needs")
    return taken


def words_in(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


def word_perplexity(mean_token_loss: float, tokens: int, words: int) -> float:
    """exp(total token NLL / words): the mean token loss spread over every token of the text, per whitespace word,
    so that tokenizers of any granularity compare. The same formula as `hf_ulmfit.evaluation.word_perplexity`, which
    fastai's side (its own venv, no hf_ulmfit) cannot import."""
    import math

    return math.exp(min(mean_token_loss * tokens / words, 700.0))


def unknown_spread_penalty(unknown_strings: list[str], tokens: int) -> float:
    """What scoring the unknown token as a word costs once its probability is spread evenly over the distinct
    strings it stands for in the held-out text (fewer than the language holds, so a lower bound), as a mean over all
    `tokens`. A closed vocabulary otherwise gains from predicting the one frequent ``xxunk``."""
    import math

    types = len(set(unknown_strings))
    return len(unknown_strings) * math.log(types) / tokens if types > 1 else 0.0


def held_out_summary(articles: int, words: int, tokens: int, unknown_strings: list[str]) -> dict:
    """What a side's tokenisation made of the held-out text, for its result file."""
    return {
        "articles": articles,
        "words": words,
        "tokens": tokens,
        "tokens_per_word": tokens / words,
        "unknown_token_share": len(unknown_strings) / tokens,
        "unknown_types": len(set(unknown_strings)),
    }


def curve_point(
    snapshot: dict, rows: int, train_loss: float | None, loss: float, tokens: int, words: int, unknown: list[str]
) -> dict:
    """One point of a time-to-quality curve: the snapshot's time and step, the tokens read by then (`rows` x BPTT a
    step), the training loss and the held-out loss per token and per word (raw, and with the unknown token spread)."""
    return {
        **snapshot,
        "tokens_seen": snapshot["step"] * rows * BPTT,
        "train_loss": train_loss,
        "held_out_token_loss": loss,
        "word_perplexity": word_perplexity(loss, tokens, words),
        "word_perplexity_unknown_spread": word_perplexity(
            loss + unknown_spread_penalty(unknown, tokens), tokens, words
        ),
    }


def snapshot_seconds(budget_seconds: float, points: int) -> list[float]:
    """Training wall-clock times at which the curve is sampled: `points` evenly spaced, the last at the budget."""
    return [budget_seconds * (k + 1) / points for k in range(points)]


class TrainingClock:
    """Training wall-clock that excludes the pauses taken to copy snapshots, and knows when the next one is due."""

    def __init__(self, budget_seconds: float, points: int):
        self.due = snapshot_seconds(budget_seconds, points)
        self.budget = budget_seconds
        self.start = time.perf_counter()
        self.paused = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def snapshot_due(self) -> bool:
        return bool(self.due) and self.elapsed() >= self.due[0]

    def over_budget(self) -> bool:
        return self.elapsed() >= self.budget

    def take(self, copy):
        """Run `copy()` (the snapshot) off the clock; return (training seconds at the snapshot, copy's result)."""
        at = self.elapsed()
        pause = time.perf_counter()
        result = copy()
        self.paused += time.perf_counter() - pause
        while self.due and self.due[0] <= at:
            self.due.pop(0)
        return at, result


# ---------------------------------------------------------------------------------------------------------------------
# Sections of a results file written by a standalone benchmark (report.py keeps them when it rewrites the file)
# ---------------------------------------------------------------------------------------------------------------------

SECTION_START, SECTION_END = "<!-- section: {} -->", "<!-- end of section: {} -->"


def marked_sections(text: str) -> list[str]:
    """Every marked section in `text`, markers included, in order."""
    pattern = (
        re.escape(SECTION_START).replace(r"\{\}", r"([\w-]+)")
        + r".*?"
        + re.escape(SECTION_END).replace(r"\{\}", r"\1")
    )
    return [match.group(0) for match in re.finditer(pattern, text, re.DOTALL)]


def write_marked_section(path: Path, name: str, body: str) -> None:
    """Put `body` into `path` as the section `name`: in place of the old one, or appended."""
    text = path.read_text() if path.exists() else ""
    section = f"{SECTION_START.format(name)}\n{body.rstrip()}\n{SECTION_END.format(name)}"
    old = [s for s in marked_sections(text) if s.startswith(SECTION_START.format(name))]
    text = text.replace(old[0], section) if old else text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


# The instruction sets that decide bf16 and int8 speed on a CPU (see the README's machine notes).
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine_facts() -> dict:
    """The machine a measurement ran on, the one description every benchmark records: the CPU model, the cores Python
    may use, the instruction sets of `ISA_FLAGS` it has, its memory and the load average at the time."""
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.MULTILINE)
    memory = re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()) if meminfo.exists() else None
    flags = cpu_flags()
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
        "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def machine_description() -> str:
    """`machine_facts` in a line: the CPU model, the cores and the instruction sets that decide bf16 speed, e.g.
    "AMD EPYC, 2 cores (avx2, avx512_bf16)"."""
    facts = machine_facts()
    features = [flag for flag in facts["isa"] if flag != "avx512f"]
    return f"{facts['cpu']}, {facts['cores']} cores ({', '.join(features) or 'no AVX2'})"


def replace_section(path: Path, start: str, end: str, text: str) -> None:
    """Put `text` between the `start` and `end` markers of `path` (appended, with them, when absent)."""
    current = path.read_text() if path.exists() else ""
    block = f"{start}\n{text}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        current = before + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current)
