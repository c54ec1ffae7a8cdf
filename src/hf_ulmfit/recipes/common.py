"""Small steps every stage shares: seeding, the output folder (fresh, resumed or refused), getting a tokenizer, a
config, training, and the run record every stage writes at the end."""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from transformers import AutoTokenizer, enable_full_determinism, set_seed

from ..evaluation import word_level_metrics
from ..models.awd_lstm import AwdLstmConfig
from ..tokenization import default_train_lines, train_tokenizer
from ..training.checkpoints import checkpoint_folders
from .arguments import ModelArguments, TokenizerArguments
from .checks import require_model_folder
from .outputs import RUN_RECORD_FILE, json_text, run_progress, save_stage_output, take_hub_request, training_summary


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
# The training defaults the three stages share (each adds its own schedule, epochs and learning rate).
STAGE_TRAINING_DEFAULTS = dict(
    per_device_train_batch_size=64,
    per_device_eval_batch_size=64,
    max_grad_norm=0.4,
    eval_strategy="epoch",
    save_strategy="epoch",
    report_to="none",
    bf16=None,  # bf16 where it trains faster, fp32 elsewhere, logged (training/precision.py)
)


def seed_everything(training_args) -> None:
    """Seed Python, NumPy and torch as the Trainer does, but before the stage builds its model: `--seed` then fixes
    the initial weights (a new classifier head included), not only the training that follows."""
    if training_args.full_determinism:
        enable_full_determinism(training_args.seed)
    else:
        set_seed(training_args.seed)


@dataclasses.dataclass
class RunPlan:
    """What `start_stage` decided for the output folder; `train_and_evaluate` carries it out as training starts."""

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
    if training_args.resume_from_checkpoint:
        if not Path(training_args.resume_from_checkpoint).is_dir():
            raise ValueError(f"--resume_from_checkpoint {training_args.resume_from_checkpoint}: no such folder.")
        return RunPlan(record, training_args.resume_from_checkpoint)
    if training_args.overwrite_output_dir:
        return RunPlan(record, None, remove_previous_run=True)
    return RunPlan(record, resume_point(Path(training_args.output_dir), record))


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
        if getattr(training_args, name, None) != defaults.get(name):
            raise ValueError(f"--{name} {getattr(training_args, name)} has no effect in {stage}: {reason}. Drop it.")


def record_run_start(plan: RunPlan, training_args) -> None:
    """Carry out `plan` in the output folder (on the main process, before the others go on): remove the previous
    run if asked, and record this run's arguments for a later re-run to compare with."""
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


def tokenizer_for(tokenizer_args: TokenizerArguments, texts, seed: int = 42):
    """Load the tokenizer the user named, or train one of the requested kind on `texts` (streamed), or on a random
    sample of their lines drawn with `seed` (``--tokenizer_train_lines``; by default a sample for the unigram kind)."""
    if tokenizer_args.tokenizer_name_or_path:
        require_model_folder(tokenizer_args.tokenizer_name_or_path, "tokenizer")
        return AutoTokenizer.from_pretrained(tokenizer_args.tokenizer_name_or_path)
    kind = tokenizer_args.tokenizer_kind
    lines = tokenizer_args.tokenizer_train_lines
    lines = default_train_lines(kind) if lines is None else lines
    if lines:
        logger.info(
            "training a %s tokenizer on a random sample of (at most) %d lines of the %d texts (seed %d; "
            "--tokenizer_train_lines 0 trains on all)",
            kind,
            lines,
            len(texts),
            seed,
        )
    else:
        logger.info("training a %s tokenizer on all %d texts", kind, len(texts))
    return train_tokenizer(
        texts,
        kind=kind,
        vocab_size=tokenizer_args.vocab_size,
        lowercase=tokenizer_args.lowercase,
        max_lines=lines,
        seed=seed,
    )


def describe_tokenizer(tokenizer, **extra) -> dict:
    return {"kind": type(tokenizer.backend_tokenizer.model).__name__, "vocab_size": len(tokenizer), **extra}


def new_config(model_args: ModelArguments, tokenizer, **overrides) -> AwdLstmConfig:
    """An AWD-LSTM config sized by `model_args`, with the tokenizer's vocabulary and special token ids."""
    settings = dict(
        vocab_size=len(tokenizer),
        embedding_size=model_args.embedding_size,
        hidden_size=model_args.hidden_size,
        num_layers=model_args.num_layers,
        drop_mult=model_args.drop_mult,
        backwards=model_args.backwards,
        rnn_type=model_args.rnn_type,
        bidirectional=model_args.bidirectional,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return AwdLstmConfig(**{**settings, **overrides})


def check_model_settings(
    model_args: ModelArguments | None = None, drop_mult_flag: str = "drop_mult", **settings
) -> None:
    """The config validator's checks on the flags (sizes, dropouts, cell), run before any data work, and worded as
    the flags: ``--hidden_size must be a positive integer, got 0``; a dropout scaled out of range names
    `drop_mult_flag`."""
    from huggingface_hub.errors import StrictDataclassClassValidationError

    if model_args is not None:
        names = ("embedding_size", "hidden_size", "num_layers", "drop_mult", "rnn_type")
        settings = {**{name: getattr(model_args, name) for name in names}, **settings}
    try:
        AwdLstmConfig(vocab_size=16, **settings)
    except StrictDataclassClassValidationError as error:
        message = str(error.__cause__)
        if "* drop_mult" in message:
            raise ValueError(
                f"--{drop_mult_flag} {settings['drop_mult']} is too large: {message.replace('AwdLstmConfig.', '')}"
            ) from None
        raise ValueError(message.replace("AwdLstmConfig.", "--")) from None


def model_summary(config: AwdLstmConfig) -> dict:
    names = [
        "vocab_size",
        "rnn_type",
        "embedding_size",
        "hidden_size",
        "num_layers",
        "drop_mult",
        "backwards",
        "bptt",
        "max_len",
    ]
    summary = {name: getattr(config, name) for name in names}
    if config.bidirectional:
        summary["bidirectional"] = True
    return summary


def tokenizer_for_every_process(tokenizer_args: TokenizerArguments, texts, training_args):
    """`tokenizer_for`, trained once per machine: the main process trains it and saves it in the output folder, the
    other processes (torchrun, accelerate launch) load that copy. Every process then holds the same saved tokenizer,
    so they tokenise alike and ``datasets`` finds the main process's cached tokenisation."""
    if training_args.world_size == 1 or tokenizer_args.tokenizer_name_or_path:
        return tokenizer_for(tokenizer_args, texts, seed=training_args.seed)
    folder = Path(training_args.output_dir)
    with training_args.main_process_first(desc="training the tokenizer"):
        if training_args.local_process_index == 0:
            tokenizer_for(tokenizer_args, texts, seed=training_args.seed).save_pretrained(folder)
        return AutoTokenizer.from_pretrained(folder)


def train_and_evaluate(
    trainer_class, model, tokenizer, tokenized, training_args, plan: RunPlan | None = None, **trainer_kwargs
):
    """Train with `trainer_class` on ``tokenized["train"]`` as `start_stage` planned (resuming the interrupted run
    from its newest complete checkpoint, if any), then evaluate on ``tokenized["validation"]``."""
    trainer = trainer_class(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        **trainer_kwargs,
    )
    resume = None
    if plan is not None:
        record_run_start(plan, training_args)
        resume = trainer.last_complete_checkpoint() if plan.resume is True else plan.resume
        if plan.resume is True and resume is None:
            logger.info("the interrupted run left no complete checkpoint: training from the start")
    if resume:
        logger.info("resuming from %s", resume)
    logger.info(
        "process %d of %d: training on %s", training_args.process_index, training_args.world_size, training_args.device
    )
    trainer.train_metrics = trainer.train(resume_from_checkpoint=resume).metrics  # train_runtime: this process's
    trainer.require_finite_weights()  # the last step's update, which no loss has seen yet, must not be saved
    return trainer, final_evaluation(trainer)


def final_evaluation(trainer) -> dict:
    """Validation metrics of the trained model. When the Trainer already evaluated at its last step (the epoch-end
    evaluation of ``--eval_strategy epoch``) and kept that model, those are its metrics: evaluating again would read
    the whole validation split a second time for the same numbers (minutes on a large corpus)."""
    if not trainer.args.load_best_model_at_end:
        for entry in reversed(trainer.state.log_history):
            if "eval_loss" in entry:
                if entry.get("step") == trainer.state.global_step:
                    return {
                        name: value for name, value in entry.items() if name.startswith("eval_") or name == "epoch"
                    }
                break
    return trainer.evaluate()


RESULT_METRICS = (
    "loss",
    "perplexity",
    "accuracy",
    "f1",
    "micro_f1",
    "subset_accuracy",
    "mae",
    "rmse",
    "pearson",
    "spearman",
)


def metric_results(metrics: dict, prefix: str = "eval") -> dict:
    """The metrics a run record keeps, without the Trainer's prefix (``eval_loss`` -> ``loss``)."""
    return {name: metrics[f"{prefix}_{name}"] for name in RESULT_METRICS if f"{prefix}_{name}" in metrics}


def add_word_level_metrics(results: dict, tokenized, word_counts: dict[str, int]) -> dict:
    """A language model's ``tokens_per_word`` and ``word_perplexity`` (`word_level_metrics`) added to each split of
    `results` that `word_counts` gives the words of; tokens are those of the tokenised split (``length``)."""
    for split, words in word_counts.items():
        if split in results:
            tokens = int(sum(tokenized[split]["length"]))
            results[split].update(word_level_metrics(results[split]["loss"], tokens, words))
    return results


def finish_stage(
    stage: str,
    trainer,
    tokenizer,
    tokenized,
    data_args,
    training_args,
    results: dict,
    hub_request: dict | None,
    tokenizer_details: dict | None = None,
    **details,
) -> dict:
    """Build the stage's run record (``ulmfit_run.json``: what was trained on what, and its `results`), then save
    the folder with it (`save_stage_output`). `details` are the stage's own entries (labels, base model, ...)."""
    train = tokenized["train"]
    record = {
        "stage": stage,
        "dataset": data_args.dataset,
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


def train_and_finish_stage(
    stage: str,
    trainer_class,
    model,
    tokenizer,
    tokenized,
    data_args,
    training_args,
    plan: RunPlan,
    evaluate_test: bool = False,
    tokenizer_details: dict | None = None,
    word_counts: dict[str, int] | None = None,
    trainer_kwargs: dict | None = None,
    after_training=None,
    **details,
) -> dict:
    """A stage's end: train and evaluate (`train_and_evaluate`; with `evaluate_test`, on the test split too when there
    is one), then save the folder with its run record (`finish_stage`), uploaded where --push_to_hub asks.

    `word_counts` (split -> whitespace-separated words of its texts; language models) adds each of those splits'
    tokens per word and per-word perplexity to its results. `trainer_kwargs` go to the trainer; `after_training`
    (trainer, tokenized) -> dict may change the model before it is evaluated again and saved, and returns entries
    for the run record."""
    hub_request = take_hub_request(training_args)
    trainer, metrics = train_and_evaluate(
        trainer_class, model, tokenizer, tokenized, training_args, plan, **(trainer_kwargs or {})
    )
    if after_training is not None:  # e.g. a decision threshold chosen on validation, which the metrics then use
        details.update(after_training(trainer, tokenized))
        metrics = trainer.evaluate()
    results = {"validation": metric_results(metrics)}
    if evaluate_test and "test" in tokenized:
        results["test"] = metric_results(trainer.evaluate(tokenized["test"], metric_key_prefix="test"), "test")
    if word_counts:
        results = add_word_level_metrics(results, tokenized, word_counts)
    return finish_stage(
        stage,
        trainer,
        tokenizer,
        tokenized,
        data_args,
        training_args,
        results,
        hub_request,
        tokenizer_details,
        **details,
    )
