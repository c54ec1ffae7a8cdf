"""`hf-ulmfit evaluate`: metrics of a saved classifier (optionally a forward+backward ensemble) or language model."""

import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transformers import AutoConfig, AutoTokenizer

from ..argument_limits import check_limits
from ..data import tokenize_dataset
from ..data.targets import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from ..evaluation import (
    accuracy,
    confusion_matrix,
    count_words,
    macro_f1,
    multi_label_report,
    precision_recall,
    regression_metrics,
    word_level_metrics,
)
from ..models.awd_lstm import AwdLstmForCausalLM
from ..saved_folders import CLASSIFIER, INT8_CLASSIFIER, kind_of_config
from ..training import LanguageModelTrainer, UlmfitTrainingArguments
from .arguments import DataArguments
from .checks import check_tokenizer_fits, load_pretrained, require_model_folder
from .corpus import drop_blank_documents, load_splits, load_targets
from .inference import class_probabilities, ensemble_labels, ensemble_paths
from .outputs import json_text


logger = logging.getLogger(__name__)


@dataclass
class EvaluateArguments:
    model_name_or_path: str = field(metadata={"help": "A saved classifier or language model folder."})
    backward_model_name_or_path: str | None = field(
        default=None, metadata={"help": "A backward classifier to ensemble with (probabilities averaged)."}
    )
    split: str = field(default="test", metadata={"help": "The split to evaluate."})
    results_dir: str | None = field(
        default=None, metadata={"help": "Where to write results (default: the model folder)."}
    )
    batch_size: int = field(default=64, metadata={"help": "Documents per batch."})
    max_batch_tokens: int = field(
        default=65_536, metadata={"help": "Classifiers: padded tokens per batch at most (documents x longest)."}
    )

    def __post_init__(self):
        check_limits(self)


def _trainer(model, tokenizer, batch_size: int, workdir: str) -> LanguageModelTrainer:
    args = UlmfitTrainingArguments(output_dir=workdir, per_device_eval_batch_size=batch_size, report_to="none")
    return LanguageModelTrainer(model=model, args=args, processing_class=tokenizer)


def evaluate_classifier(
    args: EvaluateArguments, data_args: DataArguments, results_dir: Path, name: str, config=None
) -> dict:
    problem_type = getattr(config, "problem_type", None) or SINGLE_LABEL
    if data_args.problem_type not in (None, problem_type):
        raise ValueError(
            f"--problem_type {data_args.problem_type}: {args.model_name_or_path} is a {problem_type} model."
        )
    data_args.problem_type = problem_type
    dataset, data_labels, _ = load_targets(data_args)
    if args.split not in dataset:
        raise ValueError(f"split {args.split!r} not found; available: {list(dataset)}")
    split = dataset[args.split]
    paths = ensemble_paths(args)
    labels = ensemble_labels(paths)
    if labels != data_labels and problem_type != REGRESSION:
        raise ValueError(f"{args.model_name_or_path} was trained on labels {labels}, the data has {data_labels}")
    probabilities, labels = class_probabilities(paths, split["text"], args.batch_size, args.max_batch_tokens)
    if problem_type == REGRESSION:
        results = {**regression_metrics(probabilities[:, 0], split["label"]), "ensemble": len(paths) > 1}
        print("   ".join(f"{name} {value:.4f}" for name, value in results.items() if name != "ensemble"))
        return results
    if problem_type == MULTI_LABEL:
        threshold = config.multi_label_threshold or 0.5
        report = multi_label_report(probabilities >= threshold, np.asarray(split["label"]))
        results = {
            "micro_f1": report["micro_f1"],
            "f1": report["f1"],
            "subset_accuracy": report["subset_accuracy"],
            "threshold": threshold,
            "per_class": {
                label: {"precision": float(report["precision"][i]), "recall": float(report["recall"][i])}
                for i, label in enumerate(labels)
            },
            "labels": labels,
            "ensemble": len(paths) > 1,
        }
        print(format_report(results))
        return results
    predictions, references = probabilities.argmax(-1), np.asarray(split["label"])
    matrix = confusion_matrix(predictions, references, num_labels=len(labels))
    per_class = precision_recall(predictions, references, num_labels=len(labels))
    results = {
        "accuracy": accuracy(predictions, references),
        "f1": macro_f1(predictions, references),
        "per_class": {
            label: {"precision": float(per_class["precision"][i]), "recall": float(per_class["recall"][i])}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": matrix.tolist(),
        "labels": labels,
        "ensemble": bool(args.backward_model_name_or_path),
    }
    if len(labels) > MAX_PLOTTED_LABELS:
        # A matrix of a thousand labels takes minutes to draw and cannot be read: the most frequent confusions
        # are what a reader needs (printed, and kept in the results file).
        results["top_confusions"] = top_confusions(matrix, labels)
        print(format_large_report(results))
        logger.info("%d labels: no confusion-matrix plot (at most %d are drawn)", len(labels), MAX_PLOTTED_LABELS)
    else:
        print(format_report(results))
        plot_confusion_matrix(matrix, labels, results_dir / f"confusion_matrix_{name}.png")
    return results


MAX_PLOTTED_LABELS = 30
TOP_CONFUSIONS = 20


def top_confusions(matrix: np.ndarray, labels: list[str], k: int = TOP_CONFUSIONS) -> list[dict]:
    """The `k` most frequent mistakes, (true label, predicted label, count), most frequent first."""
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    flat = np.argsort(errors, axis=None, kind="stable")[::-1][:k]
    rows, columns = np.unravel_index(flat, errors.shape)
    return [
        {"true": labels[row], "predicted": labels[column], "count": int(errors[row, column])}
        for row, column in zip(rows, columns)
        if errors[row, column] > 0
    ]


def format_large_report(results: dict) -> str:
    lines = [
        f"accuracy {results['accuracy']:.4f}   macro-F1 {results['f1']:.4f}   ({len(results['labels'])} labels)",
        "",
        f"the {len(results['top_confusions'])} most frequent confusions (true -> predicted: count)",
    ]
    lines += [f"  {item['true']} -> {item['predicted']}: {item['count']}" for item in results["top_confusions"]]
    return "\n".join(lines)


def evaluate_language_model(args: EvaluateArguments, data_args: DataArguments) -> dict:
    dataset = drop_blank_documents(load_splits(data_args, labelled=False))
    if args.split not in dataset:
        raise ValueError(f"split {args.split!r} not found; available: {list(dataset)}")
    model = load_pretrained(
        AwdLstmForCausalLM, args.model_name_or_path, "language model", kinds=("language model",)
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    check_tokenizer_fits(tokenizer, model.config, args.model_name_or_path)
    tokenized = tokenize_dataset(dataset[args.split], tokenizer, keep_columns=())
    with tempfile.TemporaryDirectory() as workdir:
        metrics = _trainer(model, tokenizer, args.batch_size, workdir).evaluate(tokenized)
    results = {name: metrics[f"eval_{name}"] for name in ("loss", "perplexity", "accuracy")}
    tokens = int(sum(tokenized["length"]))
    results.update(word_level_metrics(results["loss"], tokens, count_words(dataset[args.split])))
    print(
        f"perplexity {results['perplexity']:.2f}  next-token accuracy {results['accuracy']:.4f}  "
        f"tokens per word {results['tokens_per_word']:.3f}  word perplexity {results['word_perplexity']:.2f}"
    )
    return results


def run(args: EvaluateArguments, data_args: DataArguments) -> dict:
    # The models first (without creating anything): a wrong path fails before any data work.
    require_model_folder(args.model_name_or_path)
    config = AutoConfig.from_pretrained(args.model_name_or_path)
    is_classifier = kind_of_config(config.to_dict()) in (CLASSIFIER, INT8_CLASSIFIER)
    if args.backward_model_name_or_path:
        require_model_folder(args.backward_model_name_or_path, "backward model")
        if is_classifier:
            ensemble_labels(ensemble_paths(args))
    results_dir = Path(args.results_dir or args.model_name_or_path)
    results_dir.mkdir(parents=True, exist_ok=True)
    name = unused_results_name(results_dir, data_args.dataset, args.split)
    if is_classifier:
        results = evaluate_classifier(args, data_args, results_dir, name, config)
    else:
        results = evaluate_language_model(args, data_args)
    results_file = results_dir / f"eval_results_{name}.json"
    results_file.write_text(json_text({"dataset": data_args.dataset, "split": args.split, **results}, indent=2))
    logger.info("wrote %s", results_file)
    return results


def results_name(dataset: str, split: str, attempt: int = 1) -> str:
    """A file-name part for a dataset given by name or path: ``trec_test``, ``folder_test`` for ``some/folder``
    (``folder-2_test`` for the second dataset of that name in one results folder)."""
    name = (Path(str(dataset)).stem or "dataset") + (f"-{attempt}" if attempt > 1 else "")
    return re.sub(r"[^\w.-]+", "_", f"{name}_{split}")


def unused_results_name(results_dir: Path, dataset: str, split: str) -> str:
    """`results_name`, unless the results file of that name holds another dataset that shares the name (``a/mails``
    and ``b/mails``): then ``mails-2_test``, ``mails-3_test``... so that no evaluation overwrites another's results.
    The same dataset evaluated again replaces its own file."""
    base = results_name(dataset, split)
    for attempt in range(1, 1000):
        name = base if attempt == 1 else results_name(dataset, split, attempt)
        existing = results_dir / f"eval_results_{name}.json"
        if not existing.is_file() or _same_dataset(json.loads(existing.read_text()).get("dataset"), dataset):
            if attempt > 1:
                logger.info("%s holds results of another dataset named alike: writing %s", base, name)
            return name
    raise ValueError(f"{results_dir} holds too many results named {base}: pass another --results_dir.")


def _same_dataset(recorded, dataset: str) -> bool:
    if recorded is None or str(recorded) == str(dataset):
        return True
    recorded_path, path = Path(str(recorded)), Path(str(dataset))
    return recorded_path.exists() and path.exists() and recorded_path.resolve() == path.resolve()


def format_report(results: dict) -> str:
    labels = results["labels"]
    width = max(len(label) for label in labels) + 2
    if "subset_accuracy" in results:
        head = (
            f"micro-F1 {results['micro_f1']:.4f}   macro-F1 {results['f1']:.4f}   subset accuracy "
            f"{results['subset_accuracy']:.4f}   (threshold {results['threshold']:.2f})"
        )
    else:
        head = f"accuracy {results['accuracy']:.4f}   macro-F1 {results['f1']:.4f}"
    lines = [head, "", f"{'label':<{width}}precision  recall"]
    lines += [
        f"{label:<{width}}{results['per_class'][label]['precision']:9.4f}  "
        f"{results['per_class'][label]['recall']:6.4f}"
        for label in labels
    ]
    if "confusion_matrix" not in results:
        return "\n".join(lines)
    lines += [
        "",
        "confusion matrix (rows: true label, columns: predicted)",
        " " * width + "".join(f"{label[:7]:>8}" for label in labels),
    ]
    lines += [
        f"{label:<{width}}" + "".join(f"{count:8d}" for count in row)
        for label, row in zip(labels, results["confusion_matrix"])
    ]
    return "\n".join(lines)


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.2 + 0.7 * len(labels), 1.0 + 0.7 * len(labels)))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(
            column, row, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black"
        )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
