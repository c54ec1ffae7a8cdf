"""What every stage writes at the end: model, tokenizer, run record, model card, and optionally a Hub upload."""

import json
import logging
from pathlib import Path

from ..hub import push_folder, write_model_card


logger = logging.getLogger(__name__)

RUN_RECORD_FILE = "ulmfit_run.json"


def training_summary(training_args) -> dict:
    """The hyperparameters a model card reports."""
    names = [
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
        "seed",
        "bf16",
    ]
    return {name: getattr(training_args, name) for name in names if hasattr(training_args, name)}


def take_hub_request(training_args) -> dict | None:
    """Take `--push_to_hub` away from the Trainer (which would upload checkpoints and its own card) and return what
    `save_stage_output` needs to upload the finished folder instead."""
    if not training_args.push_to_hub:
        return None
    training_args.push_to_hub = False
    return {
        "repo_id": training_args.hub_model_id or Path(training_args.output_dir).name,
        "token": training_args.hub_token,
        "private": bool(training_args.hub_private_repo),
    }


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
    if hub_request:
        record["model_name"] = hub_request["repo_id"]  # the card's usage snippet names the repository
    (folder / RUN_RECORD_FILE).write_text(json.dumps(record, indent=2, default=str))
    write_model_card(folder, record)
    logger.info("saved %s to %s", record.get("stage"), folder)
    if hub_request:
        push_folder(folder, **hub_request)
    return folder


def _parent_record(base_model: str | None) -> dict | None:
    if base_model and (Path(base_model) / RUN_RECORD_FILE).is_file():
        return json.loads((Path(base_model) / RUN_RECORD_FILE).read_text())
    return None


def _without_history(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "previous_stages"}
