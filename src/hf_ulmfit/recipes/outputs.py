"""What every stage writes at the end: the run record (built here, `finish_stage`), model, tokenizer, model card,
and optionally a Hub upload."""

import dataclasses
import json
import logging
import math
from pathlib import Path

from ..hub import push_folder, write_model_card
from .model_setup import describe_tokenizer, model_summary


logger = logging.getLogger(__name__)

RUN_RECORD_FILE = "ulmfit_run.json"


def public_name(name_or_path: str | None) -> str | None:
    """How a card or run record names a dataset or model: a local folder or file by its own name (``mails``, not
    ``/home/me/data/mails``: a pushed card would publish the user's file layout), a Hub id or named dataset as
    it is."""
    if not name_or_path:
        return name_or_path
    path = Path(str(name_or_path))
    if path.exists():
        return path.resolve().name
    return path.name if path.is_absolute() or str(name_or_path).startswith((".", "~")) else str(name_or_path)


def public_record(record: dict) -> dict:
    """`record` as written to the folder: datasets and models by `public_name` (earlier stages' records too), and
    no output folder path."""
    public = {key: value for key, value in record.items() if key != "output_dir"}
    for key in ("dataset", "base_model"):
        if key in public:
            public[key] = public_name(public[key])
    if "previous_stages" in public:
        public["previous_stages"] = [public_record(stage) for stage in public["previous_stages"]]
    return public


def model_name(record: dict, training_args) -> str:
    """The name a card gives the model: the Hub repository it goes to, else ``--run_name``, else what it is
    (``trec-awd-lstm-classifier``); the output folder's last part (often ``run`` or ``out``) says nothing."""
    if record.get("model_name"):
        return record["model_name"]
    run_name = getattr(training_args, "run_name", None)
    if run_name and run_name != training_args.output_dir:
        return run_name
    kind = "classifier" if record["stage"] == "train-classifier" else "language-model"
    direction = "-backward" if record.get("model", {}).get("backwards") else ""
    return f"{Path(str(public_name(record.get('dataset')) or 'text')).stem}-awd-lstm{direction}-{kind}"


def run_progress(trainer, train_tokens: int) -> dict:
    """What the run actually did, whatever the flags asked: optimizer steps, passes over the training data, tokens
    read, and what ended it (``max_steps`` or the epochs)."""
    state, args = trainer.state, trainer.args
    epochs = float(state.epoch or 0.0)
    seen = getattr(state, "num_input_tokens_seen", 0) or 0
    return {
        "steps": int(state.global_step),
        "epochs": round(epochs, 4),
        "tokens_seen": int(seen) if seen else int(round(train_tokens * epochs)),
        "ended_by": "max_steps" if args.max_steps and args.max_steps > 0 else "num_train_epochs",
    }


def json_text(value, **kwargs) -> str:
    """`value` as valid JSON: NaN and infinity, which JSON cannot hold (Python would write the bare word NaN, which
    other readers refuse), become null; other objects their `str`."""
    return json.dumps(_finite(value), allow_nan=False, default=str, **kwargs)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def training_summary(training_args) -> dict:
    """The hyperparameters a model card reports (``max_steps`` when it, not the epochs, set the run's length)."""
    names = [
        "max_steps",
        "num_train_epochs",
        "max_steps",
        "time_budget_minutes",
        "learning_rate",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "lr_schedule",
        "discriminative_lr_factor",
        "gradual_unfreezing",
        "freeze_all_but_top_epochs",
        "ar_alpha",
        "tar_beta",
        "bptt",
        "weight_decay",
        "max_grad_norm",
        "label_smoothing_factor",
        "seed",
        "bf16",
    ]
    summary = {name: getattr(training_args, name) for name in names if hasattr(training_args, name)}
    if summary.get("max_steps", 0) <= 0:
        summary.pop("max_steps", None)
    else:
        summary.pop("num_train_epochs", None)  # max_steps overrides the epochs (TrainingArguments)
    return summary


def take_hub_request(training_args) -> tuple[dict | None, object]:
    """What `save_stage_output` needs to upload the finished folder when `--push_to_hub` asks, and the training
    arguments for the Trainer without it (it would upload checkpoints and its own card); the given ones stay as they
    are."""
    if not training_args.push_to_hub:
        return None, training_args
    request = {
        "repo_id": training_args.hub_model_id or Path(training_args.output_dir).name,
        "token": training_args.hub_token,
        "private": bool(training_args.hub_private_repo),
    }
    return request, dataclasses.replace(training_args, push_to_hub=False)


def save_stage_output(trainer, tokenizer, output_dir: str, record: dict, hub_request: dict | None = None) -> Path:
    """Save the trained model as a loadable folder (safetensors weights, model code, tokenizer), `ulmfit_run.json`
    and a model card; upload it when `hub_request` (from `take_hub_request`) says so. In a multi-process run only the
    main process writes and uploads."""
    folder = Path(output_dir)
    if not trainer.is_world_process_zero():
        return folder
    trainer.model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    parent_record = _parent_record(record.get("base_model"))
    if parent_record:
        record["previous_stages"] = parent_record.get("previous_stages", []) + [_without_history(parent_record)]
    base_model_id = hub_id_of_base_model(record.get("base_model"), parent_record)
    if base_model_id:
        record["base_model_id"] = base_model_id  # the card's `base_model:` metadata
    if hub_request:
        record["model_name"] = hub_request["repo_id"]  # the card's usage snippet names the repository
        record["hub_repo_id"] = hub_request["repo_id"]  # a later stage's card links here (`base_model:`)
    record["model_name"] = model_name(record, trainer.args)
    written = public_record(record)
    (folder / RUN_RECORD_FILE).write_text(json_text(written, indent=2))
    write_model_card(folder, written)
    logger.info("saved %s to %s", record.get("stage"), folder)
    if hub_request:
        push_folder(folder, **hub_request)
    return folder


def hub_id_of_base_model(base_model: str | None, parent_record: dict | None) -> str | None:
    """The Hub repository of the model this one was trained from: the one its folder was uploaded to (its run
    record's ``hub_repo_id``), or `base_model` itself when that names a Hub repository rather than a local folder."""
    if not base_model:
        return None
    if parent_record and parent_record.get("hub_repo_id"):
        return parent_record["hub_repo_id"]
    if not Path(base_model).exists() and base_model.count("/") <= 1 and not base_model.startswith((".", "/", "~")):
        return base_model
    return None


def _parent_record(base_model: str | None) -> dict | None:
    if base_model and (Path(base_model) / RUN_RECORD_FILE).is_file():
        return json.loads((Path(base_model) / RUN_RECORD_FILE).read_text())
    return None


def _without_history(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "previous_stages"}


def finish_stage(
    plan,
    trainer,
    tokenizer,
    tokenized,
    results: dict,
    hub_request: dict | None,
    tokenizer_details: dict | None = None,
    **details,
) -> dict:
    """Build the stage's run record (``ulmfit_run.json``: what was trained on what, and its `results`), then save
    the folder with it (`save_stage_output`). `details` are the stage's own entries (labels, base model, ...). The
    training settings recorded are the trainer's, those the run had (a short run stretched, a time budget's steps)."""
    train, training_args = tokenized["train"], trainer.args
    record = {
        "stage": plan.stage,
        "dataset": plan.dataset,
        **details,
        "output_dir": training_args.output_dir,
        "train_documents": len(train),
        "train_tokens": int(sum(train["length"])),
        "tokenizer": describe_tokenizer(tokenizer, **(tokenizer_details or {})),
        "model": model_summary(trainer.model.config),
        "training": training_summary(training_args),
        "trained": run_progress(trainer, int(sum(train["length"]))),
        "train_seconds": round(getattr(trainer, "train_metrics", {}).get("train_runtime", 0.0), 1),
        "results": results,
    }
    save_stage_output(trainer, tokenizer, training_args.output_dir, record, hub_request)
    return record
