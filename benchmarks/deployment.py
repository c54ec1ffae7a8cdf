"""fp32 vs int8 (PyTorch) vs ONNX fp32 and int8 (onnxruntime), and bf16, for a saved classifier on a test split:
accuracy, weight size, batched and one-at-a-time speed.

    python -m benchmarks.deployment CLASSIFIER_FOLDER WORKDIR [--threads 1] [--seconds 20] [--bf16]
        [--dataset imdb --max_test_samples 2000]

Writes the int8, ONNX and ONNX-int8 folders under WORKDIR, prints one JSON line per form. Every form runs the same
texts through the same `pipeline("text-classification")` call; timings are medians of repeated passes within one run.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import hf_ulmfit  # noqa: F401  (registers the Auto classes)
from hf_ulmfit.data import load_text_dataset
from hf_ulmfit.export.int8 import save_int8_classifier
from hf_ulmfit.export.onnx import export_to_onnx, export_to_onnx_int8
from hf_ulmfit.inference.pipelines import text_classification_pipeline


def weight_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.suffix in (".safetensors", ".onnx"))


def timed(function, seconds: float) -> float:
    """Median seconds per call over repeated calls for about `seconds` (at least 3 calls)."""
    durations, start = [], time.perf_counter()
    while len(durations) < 3 or time.perf_counter() - start < seconds:
        begin = time.perf_counter()
        function()
        durations.append(time.perf_counter() - begin)
    return statistics.median(durations)


PIPELINE_KWARGS = {
    "onnx": lambda threads: {"threads": threads},
    "onnx-int8": lambda threads: {"threads": threads},
    "bf16": lambda threads: {"dtype": torch.bfloat16},
}


def measure(name: str, folder: Path, texts: list[str], labels: list[str], threads: int, seconds: float) -> dict:
    extra = PIPELINE_KWARGS[name](threads) if name in PIPELINE_KWARGS else {}
    classify = text_classification_pipeline(str(folder), device="cpu", **extra)
    predictions = [output["label"] for output in classify(texts, batch_size=64)]
    accuracy = sum(p == t for p, t in zip(predictions, labels)) / len(labels)
    batched = timed(lambda: classify(texts, batch_size=64), seconds)
    single = timed(lambda: [classify(text) for text in texts[:50]], seconds) / len(texts[:50])
    return {
        "form": name,
        "accuracy": round(100 * accuracy, 2),
        "weights_MB": round(weight_bytes(folder) / 1e6, 2),
        "batched_docs_per_s": round(len(texts) / batched, 1),
        "one_at_a_time_ms": round(1000 * single, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("classifier")
    parser.add_argument("workdir")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--bf16", action="store_true", help="also the fp32 weights run in bf16 (CPUs with AVX512-BF16/AMX)"
    )
    parser.add_argument("--dataset", default="trec", help="a named dataset with a labelled test split (trec, imdb)")
    parser.add_argument("--max_test_samples", type=int, default=None, help="a seeded random subset of the test split")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    int8_folder, onnx_folder, onnx_int8_folder = workdir / "int8", workdir / "onnx", workdir / "onnx-int8"
    save_int8_classifier(args.classifier, str(int8_folder))
    export_to_onnx(args.classifier, str(onnx_folder))
    export_to_onnx_int8(args.classifier, str(onnx_int8_folder))
    test = load_text_dataset(args.dataset)["test"]
    if args.max_test_samples and args.max_test_samples < len(test):
        test = test.shuffle(seed=0).select(range(args.max_test_samples))
    names = test.features["label"].names
    texts, labels = list(test["text"]), [names[label] for label in test["label"]]
    forms = [
        ("fp32", Path(args.classifier)),
        ("int8", int8_folder),
        ("onnx", onnx_folder),
        ("onnx-int8", onnx_int8_folder),
    ]
    if args.bf16:
        forms.insert(1, ("bf16", Path(args.classifier)))
    for name, folder in forms:
        print(json.dumps(measure(name, folder, texts, labels, args.threads, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
