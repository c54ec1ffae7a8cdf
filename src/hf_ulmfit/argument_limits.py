"""The values every numeric flag accepts, checked as the arguments are parsed (flags, recipe files and dicts alike).

A value out of range would otherwise be accepted and end in a traceback deep in the run (a negative seed), or worse,
in a run that completes with a wrong result (a batch size of 0, an STLR warm-up fraction of 2). One table for every
argument dataclass, so that a new numeric flag without a range shows up in the flag-fuzzing test. Standard library
only: `--help` must stay light.
"""

import dataclasses
import math


# rule -> (check, what the message says the value must be)
RULES = {
    "at_least_1": (lambda value: value >= 1, "at least 1"),
    "positive": (lambda value: value > 0, "positive"),
    "non_negative": (lambda value: value >= 0, "0 or more"),
    "fraction": (lambda value: 0 <= value < 1, "in [0, 1)"),
    "open_fraction": (lambda value: 0 < value < 1, "in (0, 1)"),
    "at_least_1_or_unset": (lambda value: value >= 1 or value == -1, "at least 1 (or -1: unset)"),
    "ratio_or_steps": (
        lambda value: value > 0 and (value < 1 or float(value).is_integer()),
        "a fraction in (0, 1) or a whole number of steps",
    ),
    "any": (lambda value: True, "any number"),
}

# argument name -> rule; the same name means the same thing in every dataclass that has it.
LIMITS = {
    # data and tokenizer
    "validation_size": "ratio_or_steps",
    "max_train_samples": "at_least_1",
    "max_eval_samples": "at_least_1",
    "max_files": "at_least_1",
    "num_proc": "at_least_1",
    "split_seed": "non_negative",
    "seed": "non_negative",
    "data_seed": "non_negative",
    "vocab_size": "at_least_1",
    "min_frequency": "at_least_1",
    "tokenizer_train_lines": "non_negative",
    "wikipedia_articles": "at_least_1",
    "new_word_min_frequency": "at_least_1",
    "max_new_subword_words": "at_least_1",
    # model
    "embedding_size": "at_least_1",
    "hidden_size": "at_least_1",
    "num_layers": "at_least_1",
    "drop_mult": "non_negative",
    "classifier_drop_mult": "non_negative",
    "classifier_bptt": "at_least_1",
    "classifier_max_len": "at_least_1",
    "max_len": "at_least_1",
    "activation_budget_tokens": "non_negative",
    # inference and export
    "batch_size": "at_least_1",
    "max_batch_tokens": "at_least_1",
    "max_new_tokens": "at_least_1",
    "explain_top_k": "at_least_1",
    "temperature": "positive",
    "top_k": "non_negative",
    "num_beams": "at_least_1",
    "num_return_sequences": "at_least_1",
    "opset": "at_least_1",
    "prompt_lookup_num_tokens": "at_least_1",
    # training: the schedule
    "learning_rate": "positive",
    "num_train_epochs": "non_negative",  # 0 (without --max_steps) is refused with the run-length checks
    "pretrain_epochs": "positive",
    "finetune_epochs": "positive",
    "classifier_epochs": "positive",
    "max_steps": "any",  # -1 or 0: the epochs decide; the run-length checks refuse a run that trains nothing
    "stlr_cut_frac": "open_fraction",
    "average_weights_fraction": "fraction",
    "stlr_ratio": "at_least_1",
    "one_cycle_pct_start": "open_fraction",
    "one_cycle_div_factor": "positive",
    "one_cycle_final_div_factor": "positive",
    "one_cycle_momentums": "fraction",
    "discriminative_lr_factor": "positive",
    "group_learning_rates": "positive",
    "unfreeze_every_epochs": "positive",
    "unfreeze_at_steps": "at_least_1",
    "freeze_all_but_top_epochs": "positive",
    "stage_epochs": "positive",
    "stage_learning_rates": "positive",
    "stage_trainable_groups": "at_least_1",
    "min_train_steps": "non_negative",
    "time_budget_minutes": "non_negative",  # 0: off
    "warmup_steps": "non_negative",
    "warmup_ratio": "fraction",  # transformers releases before warmup_steps took ratios
    # training: batches, optimizer, regularisation
    "bptt": "at_least_1",
    "per_device_train_batch_size": "at_least_1",
    "per_device_eval_batch_size": "at_least_1",
    "gradient_accumulation_steps": "at_least_1",
    "eval_accumulation_steps": "at_least_1",
    "max_grad_norm": "non_negative",  # 0: no clipping
    "weight_decay": "non_negative",
    "adam_beta1": "fraction",
    "adam_beta2": "fraction",
    "adam_epsilon": "positive",
    "label_smoothing_factor": "fraction",
    "ar_alpha": "non_negative",
    "tar_beta": "non_negative",
    # training: logging, saving, workers
    "logging_steps": "ratio_or_steps",
    "eval_steps": "ratio_or_steps",
    "save_steps": "ratio_or_steps",
    "save_total_limit": "at_least_1",
    "dataloader_num_workers": "non_negative",
    "dataloader_prefetch_factor": "at_least_1",
    "eval_delay": "non_negative",
    "neftune_noise_alpha": "positive",
    "torch_empty_cache_steps": "at_least_1",
    "ddp_bucket_cap_mb": "at_least_1",
    "ddp_timeout": "at_least_1",
    "local_rank": "any",  # set by the launchers
}


def numeric_fields(argument_class) -> list[dataclasses.Field]:
    """The fields of an argument dataclass that hold numbers (or lists of numbers), by their declared type."""
    return [spec for spec in dataclasses.fields(argument_class) if _number_type(spec.type) is not None]


def _number_type(annotation) -> type | None:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = str(annotation) if "[" in str(annotation) or "|" in str(annotation) else text
    if "bool" in text:
        return None
    if "float" in text:
        return float
    if "int" in text and "Interval" not in text and "Strategy" not in text:
        return int
    return None


def check_limits(arguments, names: list[str] | None = None) -> None:
    """Every numeric argument of the dataclass instance `arguments` (or only `names`) finite and within its `LIMITS`
    rule (a flag without one, which another transformers release may add, only finite); a ValueError naming the flag
    otherwise. None (unset) passes."""
    for name in names if names is not None else [spec.name for spec in numeric_fields(type(arguments))]:
        value = getattr(arguments, name, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            check, wording = RULES[LIMITS.get(name, "any")]  # a flag of another transformers release: finite
            if not math.isfinite(item) or not check(item):
                raise ValueError(f"--{name} must be {wording}, got {item}.")
