"""Model cards filled from a stage's run record, with evaluation results as `model-index` metadata."""

from importlib.resources import files
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData


# Jinja templates shipped inside the package (package data), so wheel and editable installs read the same files.
TEMPLATE_DIR = files("hf_ulmfit") / "model_cards"
TEMPLATES = {"language-model": "language_model.md", "classifier": "classifier.md"}
DATASET_IDS = {
    "imdb": "stanfordnlp/imdb",
    "trec": "CogComp/trec",
    "sms_spam": "ucirvine/sms_spam",
    "wikitext-2": "Salesforce/wikitext",
    "wikitext-103": "Salesforce/wikitext",
    "wikipedia": "wikipedia",
}
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "f1": "Macro F1",
    "perplexity": "Perplexity",
    "word_perplexity": "Word perplexity",
    "loss": "Loss",
    "micro_f1": "Micro F1",
    "subset_accuracy": "Subset accuracy",
    "mae": "MAE",
    "rmse": "RMSE",
    "pearson": "Pearson",
    "spearman": "Spearman",
}


def _template_text(kind: str) -> str:
    return (TEMPLATE_DIR / TEMPLATES[kind]).read_text(encoding="utf-8")


def build_model_card(record: dict) -> ModelCard:
    """A card for the folder a stage wrote: what was trained on what, the hyperparameters, and the results."""
    kind = "classifier" if record["stage"] == "train-classifier" else "language-model"
    dataset = record.get("dataset", "")
    dataset_id = DATASET_IDS.get(dataset, dataset)
    task_type = "text-classification" if kind == "classifier" else "text-generation"
    model_name = record.get("model_name") or "model"
    eval_results = [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset_id,
            dataset_name=dataset,
            dataset_split=split,
            metric_type=metric,
            metric_name=METRIC_NAMES.get(metric, metric),
            metric_value=float(value),
        )
        for split, metrics in record.get("results", {}).items()
        for metric, value in metrics.items()
        if metric in METRIC_NAMES
    ]
    card_data = ModelCardData(
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag=task_type,
        tags=["ulmfit", "awd-lstm", "hf-ulmfit", "custom_code"],
        datasets=[dataset_id] if dataset_id else None,
        base_model=record.get("base_model_id"),
        model_name=model_name,
        eval_results=eval_results or None,
    )
    return ModelCard.from_template(card_data, template_str=_template_text(kind), record=record, model_name=model_name)


def write_model_card(folder, record: dict) -> Path:
    path = Path(folder) / "README.md"
    build_model_card(record).save(path)
    return path
