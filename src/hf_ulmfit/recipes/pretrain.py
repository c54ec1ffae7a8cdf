"""Stage 1: pretrain tokenizer and AWD-LSTM language model on a general-domain corpus (Wikipedia here)."""

import logging

from ..data import tokenize_dataset
from ..evaluation import count_words
from ..models.awd_lstm import AwdLstmForCausalLM
from ..training import LanguageModelTrainer, UlmfitTrainingArguments
from .arguments import DataArguments, ModelArguments, TokenizerArguments
from .common import (
    STAGE_TRAINING_DEFAULTS,
    new_config,
    start_stage,
    tokenizer_for_every_process,
    train_and_finish_stage,
)
from .corpus import drop_blank_documents, load_splits
from .parsing import stage_entry_point


logger = logging.getLogger(__name__)

# Training defaults of this stage (fastai trains a language model from scratch with one-cycle, all layers at once).
TRAINING_DEFAULTS = dict(
    **STAGE_TRAINING_DEFAULTS,
    num_train_epochs=1,
    learning_rate=5e-3,
    lr_schedule="one_cycle",
    discriminative_lr_factor=1.0,
    logging_strategy="steps",
    logging_steps=50,
)
DATA_DEFAULTS = dict(dataset="wikipedia", validation_size=0.01)


ARGUMENT_CLASSES = (DataArguments, TokenizerArguments, ModelArguments, UlmfitTrainingArguments)
DEFAULTS = {**DATA_DEFAULTS, **TRAINING_DEFAULTS}


main = stage_entry_point(__name__, "hf-ulmfit pretrain")


def run(data_args: DataArguments, tokenizer_args: TokenizerArguments, model_args: ModelArguments, training_args):
    plan = start_stage("pretrain", training_args, data_args, tokenizer_args, model_args)
    dataset = drop_blank_documents(load_splits(data_args, labelled=False))
    tokenizer = tokenizer_for_every_process(tokenizer_args, dataset["train"], training_args)
    with training_args.main_process_first(desc="tokenising"):  # the other processes load the cached result
        tokenized = tokenize_dataset(dataset, tokenizer, num_proc=data_args.num_proc, keep_columns=())
    config = new_config(model_args, tokenizer)
    model = AwdLstmForCausalLM(config)
    # Per-word perplexity of the evaluated splits: the held-out test split (wikipedia's last 300 articles of wiki-07)
    # is evaluated once training ends.
    word_counts = {split: count_words(dataset[split]) for split in ("validation", "test") if split in dataset}
    record = train_and_finish_stage(
        "pretrain",
        LanguageModelTrainer,
        model,
        tokenizer,
        tokenized,
        data_args,
        training_args,
        plan,
        evaluate_test=True,
        word_counts=word_counts,
    )
    for split, results in record["results"].items():
        logger.info(
            "%s: %d words, perplexity %.2f, %.3f tokens per word, word perplexity %.2f",
            split,
            word_counts[split],
            results["perplexity"],
            results["tokens_per_word"],
            results["word_perplexity"],
        )
    return record
