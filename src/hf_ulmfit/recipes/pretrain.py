"""Stage 1: pretrain tokenizer and AWD-LSTM language model on a general-domain corpus (Wikipedia here)."""

import dataclasses
import logging
from dataclasses import dataclass, field

from transformers import AutoTokenizer

from ..data import tokenize_dataset
from ..evaluation import count_words
from ..models.awd_lstm import AwdLstmForCausalLM
from ..training import LanguageModelTrainer, UlmfitTrainingArguments
from .arguments import DataArguments, ModelArguments, TokenizerArguments
from .checks import check_tokenizer_fits, load_pretrained, require_model_folder
from .corpus import drop_blank_documents, load_splits
from .model_setup import check_model_settings, new_config, tokenizer_for_every_process
from .output_lock import holds_output_folder_lock
from .parsing import stage_entry_point
from .run_folder import start_stage
from .stage import STAGE_TRAINING_DEFAULTS, train_and_finish_stage


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


@dataclass
class ContinuedPretrainingArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Continue pretraining this language model on the text: its own tokenizer, sizes and direction, "
            "a fresh schedule. Default: a new model (and tokenizer) of the sizes given."
        },
    )


ARGUMENT_CLASSES = (
    DataArguments,
    TokenizerArguments,
    ModelArguments,
    ContinuedPretrainingArguments,
    UlmfitTrainingArguments,
)
DEFAULTS = {**DATA_DEFAULTS, **TRAINING_DEFAULTS}


main = stage_entry_point(__name__, "hf-ulmfit pretrain")


@holds_output_folder_lock
def run(
    data_args: DataArguments,
    tokenizer_args: TokenizerArguments,
    model_args: ModelArguments,
    continued: ContinuedPretrainingArguments,
    training_args,
):
    check_model_settings(model_args)
    plan = start_stage("pretrain", training_args, data_args, tokenizer_args, model_args, continued)
    dataset = drop_blank_documents(load_splits(data_args, labelled=False))
    if continued.model_name_or_path:
        model, tokenizer = continued_model(continued.model_name_or_path, model_args, tokenizer_args)
    else:
        tokenizer = tokenizer_for_every_process(tokenizer_args, dataset["train"], training_args)
        model = AwdLstmForCausalLM(new_config(model_args, tokenizer))
    with training_args.main_process_first(desc="tokenising"):  # the other processes load the cached result
        tokenized = tokenize_dataset(dataset, tokenizer, num_proc=data_args.num_proc, keep_columns=())
    # Per-word perplexity of the evaluated splits: the held-out test split (wikipedia's last 300 articles of wiki-07)
    # is evaluated once training ends.
    word_counts = {split: count_words(dataset[split]) for split in ("validation", "test") if split in dataset}
    record = train_and_finish_stage(
        plan,
        LanguageModelTrainer,
        model,
        tokenizer,
        tokenized,
        evaluate_test=True,
        word_counts=word_counts,
        **({"base_model": continued.model_name_or_path} if continued.model_name_or_path else {}),
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


def continued_model(path: str, model_args: ModelArguments, tokenizer_args: TokenizerArguments):
    """The language model `--model_name_or_path` names and its own tokenizer, for continued pretraining. Flags that
    would make another model or tokenizer (a size, a direction, a tokenizer) are refused, naming the flag, unless
    they agree with the model."""
    require_model_folder(path, "language model")
    if tokenizer_args.tokenizer_name_or_path:
        raise ValueError(
            f"--tokenizer_name_or_path: continued pretraining keeps the tokenizer of --model_name_or_path {path}."
        )
    model = load_pretrained(AwdLstmForCausalLM, path, "language model", kinds=("language model",))
    defaults = ModelArguments()
    for model_field in dataclasses.fields(ModelArguments):
        name = model_field.name
        given = getattr(model_args, name)
        if given != getattr(defaults, name) and given != getattr(model.config, name):
            raise ValueError(
                f"--{name} {given}: the model in {path} has {name}={getattr(model.config, name)!r}; continued "
                "pretraining keeps the model as it is (leave the flag out)."
            )
    tokenizer = AutoTokenizer.from_pretrained(path)
    check_tokenizer_fits(tokenizer, model.config, path)
    logger.info(
        "continuing the pretraining of %s (%d parameters, %d-token vocabulary) with a fresh schedule",
        path,
        model.num_parameters(),
        len(tokenizer),
    )
    return model, tokenizer
