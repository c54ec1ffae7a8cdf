"""A training stage's end, shared by pretrain, finetune-lm and train-classifier: train (resuming as `start_stage`
planned), evaluate, and save the folder with its run record (`outputs.finish_stage`)."""

import dataclasses
import logging

from ..evaluation import word_level_metrics
from .outputs import finish_stage, take_hub_request
from .run_folder import RunPlan, record_run_start


logger = logging.getLogger(__name__)

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


def train_and_evaluate(plan: RunPlan, trainer_class, model, tokenizer, tokenized, **trainer_kwargs):
    """Train with `trainer_class` on ``tokenized["train"]`` as `start_stage` planned (resuming the interrupted run
    from its newest complete checkpoint, if any), then evaluate on ``tokenized["validation"]``."""
    training_args = plan.training_args
    trainer = trainer_class(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        **trainer_kwargs,
    )
    record_run_start(plan)
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


def train_and_finish_stage(
    plan: RunPlan,
    trainer_class,
    model,
    tokenizer,
    tokenized,
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
    hub_request, training_args = take_hub_request(plan.training_args)
    plan = dataclasses.replace(plan, training_args=training_args)
    trainer, metrics = train_and_evaluate(plan, trainer_class, model, tokenizer, tokenized, **(trainer_kwargs or {}))
    if after_training is not None:  # e.g. a decision threshold chosen on validation, which the metrics then use
        details.update(after_training(trainer, tokenized))
        metrics = trainer.evaluate()
    results = {"validation": metric_results(metrics)}
    if evaluate_test and "test" in tokenized:
        results["test"] = metric_results(trainer.evaluate(tokenized["test"], metric_key_prefix="test"), "test")
    if word_counts:
        results = add_word_level_metrics(results, tokenized, word_counts)
    return finish_stage(plan, trainer, tokenizer, tokenized, results, hub_request, tokenizer_details, **details)
