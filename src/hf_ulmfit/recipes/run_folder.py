"""A stage's output folder, fresh, resumed or refused: what `start_stage` decides before any data work, the
arguments a resumed run must share with the interrupted one, and the seeds."""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from transformers import enable_full_determinism, set_seed

from ..training.checkpoints import checkpoint_folders
from .arguments import DataArguments
from .outputs import RUN_RECORD_FILE, json_text


logger = logging.getLogger(__name__)

RUN_ARGUMENTS_FILE = "ulmfit_arguments.json"


# Arguments that change what a run reports, where it uploads or how many processes prepare data, not what it trains:
# a re-run may change them and still continue the interrupted run.
ARGUMENTS_A_RESUMED_RUN_MAY_CHANGE = {
    "output_dir",
    "overwrite_output_dir",
    "resume_from_checkpoint",
    "local_rank",
    "report_to",
    "run_name",
    "disable_tqdm",
    "push_to_hub",
    "save_total_limit",
    "num_proc",
    "dataloader_num_workers",
}


ARGUMENT_PREFIXES_A_RESUMED_RUN_MAY_CHANGE = ("logging_", "log_", "hub_")


def seed_everything(training_args) -> None:
    """Seed Python, NumPy and torch as the Trainer does, but before the stage builds its model: `--seed` then fixes
    the initial weights (a new classifier head included), not only the training that follows."""
    if training_args.full_determinism:
        enable_full_determinism(training_args.seed)
    else:
        set_seed(training_args.seed)


@dataclasses.dataclass
class RunPlan:
    """A training stage's run as `start_stage` planned it: the stage, its training arguments, the dataset it reads and
    what it does with the output folder; `stage.train_and_finish_stage` carries it out."""

    stage: str
    training_args: object  # UlmfitTrainingArguments
    dataset: str
    record: dict  # the run's arguments (`run_arguments`), written to the folder
    resume: str | bool | None  # a checkpoint path, True (the interrupted run's newest complete one) or None (afresh)
    remove_previous_run: bool = False  # --overwrite_output_dir


def start_stage(stage: str, training_args, *arguments) -> RunPlan:
    """Seed, then decide what this run does with its output folder; call it first, before any data work.

    The run resumes from ``--resume_from_checkpoint``; continues the interrupted run of this same command (from its
    newest complete checkpoint) when the folder holds one; or trains afresh in a new or empty folder, or with
    ``--overwrite_output_dir`` (which removes the previous run's checkpoints and records). A folder holding a finished
    run, or checkpoints of a run with other arguments, is refused here with a ValueError, before any work. Nothing is
    written until training starts (`train_and_evaluate`), so bad input leaves the folder as it was.
    """
    reject_settings_the_stage_ignores(stage, training_args)
    seed_everything(training_args)
    record = run_arguments(stage, training_args, *arguments)
    (data_args,) = [group for group in arguments if isinstance(group, DataArguments)]
    run = dict(stage=stage, training_args=training_args, dataset=data_args.dataset, record=record)
    if training_args.resume_from_checkpoint:
        if not Path(training_args.resume_from_checkpoint).is_dir():
            raise ValueError(f"--resume_from_checkpoint {training_args.resume_from_checkpoint}: no such folder.")
        return RunPlan(**run, resume=training_args.resume_from_checkpoint)
    if training_args.overwrite_output_dir:
        return RunPlan(**run, resume=None, remove_previous_run=True)
    return RunPlan(**run, resume=resume_point(Path(training_args.output_dir), record))


# Training flags a stage would accept and not use, with the way to say what was meant: training arguments are shared
# by the three stages, so each stage names the ones it has no use for instead of ignoring them.
LANGUAGE_MODEL_STAGES = ("pretrain", "finetune-lm")


IGNORED_TRAINING_SETTINGS = {
    "train-classifier": {
        "bptt": "the classifier reads documents in chunks of --classifier_bptt tokens",
        "ar_alpha": "activation regularisation applies to language-model training only",
        "tar_beta": "temporal activation regularisation applies to language-model training only",
    },
    **{
        stage: {
            "label_smoothing_factor": "a language model's loss is the plain next-token cross-entropy",
        }
        for stage in LANGUAGE_MODEL_STAGES
    },
}


def reject_settings_the_stage_ignores(stage: str, training_args) -> None:
    """A flag set away from its default that `stage` does not use is refused, naming it and why, before any work."""
    defaults = {spec.name: spec.default for spec in dataclasses.fields(training_args)}
    for name, reason in IGNORED_TRAINING_SETTINGS.get(stage, {}).items():
        value, default = getattr(training_args, name, None), defaults.get(name)
        if value != default and not (default is None and value == 0):  # 0: what an unset None means there
            raise ValueError(f"--{name} {value} has no effect in {stage}: {reason}. Drop it.")


def record_run_start(plan: RunPlan) -> None:
    """Carry out `plan` in the output folder (on the main process, before the others go on): remove the previous
    run if asked, and record this run's arguments for a later re-run to compare with."""
    training_args = plan.training_args
    folder = Path(training_args.output_dir)
    with training_args.main_process_first(desc="recording the run's arguments"):
        if training_args.should_save:
            if plan.remove_previous_run:
                remove_previous_run(folder)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / RUN_ARGUMENTS_FILE).write_text(json_text(plan.record, indent=2))


def run_arguments(stage: str, training_args, *arguments) -> dict:
    """What defines a run: the stage, the number of processes and every argument, as JSON values."""
    values = {}
    for group in arguments:
        values.update(dataclasses.asdict(group))
    values.update(training_args.to_dict())
    record = {"stage": stage, "world_size": training_args.world_size, "arguments": values}
    return json.loads(json_text(record))


def resume_point(folder: Path, record: dict) -> bool | None:
    """True to continue the interrupted run of the same command in `folder`, None when there is nothing a new run
    could lose; a ValueError naming the way out otherwise (see `start_stage`)."""
    checkpoints = checkpoint_folders(folder)
    finished = (folder / RUN_RECORD_FILE).is_file()
    if not checkpoints and not finished:
        return None  # nothing a new run could lose
    arguments_file = folder / RUN_ARGUMENTS_FILE
    previous = json.loads(arguments_file.read_text()) if arguments_file.is_file() else None
    if finished:
        problem = f"holds a finished {previous['stage'] if previous else 'hf-ulmfit'} run ({RUN_RECORD_FILE})"
    elif previous is None:
        problem = f"holds checkpoints of a run whose arguments were not recorded ({RUN_ARGUMENTS_FILE})"
    else:
        changes = changed_arguments(previous, record)
        problem = f"holds an interrupted run with other arguments ({'; '.join(changes)})" if changes else None
    if problem:
        raise ValueError(
            f"output folder {folder} {problem}. Pass --overwrite_output_dir to train afresh there (its checkpoints "
            "are removed), --resume_from_checkpoint PATH to continue from a checkpoint, or another --output_dir."
        )
    logger.info("continuing the interrupted run in %s (same arguments)", folder)
    return True


def changed_arguments(previous: dict, current: dict) -> list[str]:
    """``name: old -> new`` for each argument that differs between two `run_arguments` records (the ones a resumed
    run may change aside)."""
    old = {"stage": previous.get("stage"), "world_size": previous.get("world_size"), **previous.get("arguments", {})}
    new = {"stage": current["stage"], "world_size": current["world_size"], **current["arguments"]}
    return [
        f"{name}: {old.get(name)!r} -> {new.get(name)!r}"
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name) and not _may_change_on_resume(name)
    ]


def _may_change_on_resume(name: str) -> bool:
    return name in ARGUMENTS_A_RESUMED_RUN_MAY_CHANGE or name.startswith(ARGUMENT_PREFIXES_A_RESUMED_RUN_MAY_CHANGE)


def remove_previous_run(folder: Path) -> None:
    """What a previous run left that would decide a later re-run: its checkpoints, run record and arguments."""
    for checkpoint in checkpoint_folders(folder):
        shutil.rmtree(checkpoint)
    for name in (RUN_RECORD_FILE, RUN_ARGUMENTS_FILE):
        (folder / name).unlink(missing_ok=True)
    logger.info("--overwrite_output_dir: removed the previous run's checkpoints and records from %s", folder)
