"""Stage 2: fine-tune a pretrained language model on the target task's text (labelled and unlabelled)."""

import logging
from dataclasses import dataclass, field

import torch
from datasets import DatasetDict
from transformers import AutoTokenizer

from ..argument_limits import check_limits
from ..data import tokenize_dataset
from ..models.awd_lstm import AwdLstmForCausalLM
from ..tokenization.vocabulary import extend_unigram_vocabulary, extend_word_vocabulary
from ..training import LanguageModelTrainer, UlmfitTrainingArguments
from .arguments import DataArguments
from .checks import check_tokenizer_fits, load_pretrained
from .corpus import drop_blank_documents, language_model_texts, load_splits
from .output_lock import holds_output_folder_lock
from .parsing import stage_entry_point
from .run_folder import start_stage
from .stage import STAGE_TRAINING_DEFAULTS, train_and_finish_stage


logger = logging.getLogger(__name__)

# fastai's recipe: train the embedding and decoder alone first, then everything with discriminative learning rates.
TRAINING_DEFAULTS = dict(
    **STAGE_TRAINING_DEFAULTS,
    num_train_epochs=2,
    learning_rate=4e-3,
    lr_schedule="one_cycle",
    freeze_all_but_top_epochs=1.0,
    logging_strategy="epoch",
)
DATA_DEFAULTS = dict(dataset="imdb", validation_size=0.1)


@dataclass
class FinetuneLmArguments:
    model_name_or_path: str = field(metadata={"help": "The pretrained language model folder (or Hub id)."})
    extra_text_splits: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More splits whose text the LM reads. Default: the dataset's 'unsupervised' split when it "
            "has one (imdb's 50k unlabelled reviews); 'none' reads the training split only."
        },
    )
    extend_vocabulary: bool = field(
        default=True, metadata={"help": "Add the target text's frequent unknown words (word-level tokenizers)."}
    )
    new_word_min_frequency: int = field(default=3, metadata={"help": "Occurrences a new word needs."})
    extend_subword_vocabulary: bool = field(
        default=False,
        metadata={
            "help": "Unigram tokenizers: add the target text's frequent words that the tokenizer splits into pieces "
            "as whole-word pieces (at most --max_new_subword_words), each embedding starting from the mean of its "
            "pieces'."
        },
    )
    max_new_subword_words: int = field(default=4000, metadata={"help": "Whole-word pieces added at most."})

    def __post_init__(self):
        check_limits(self)


ARGUMENT_CLASSES = (FinetuneLmArguments, DataArguments, UlmfitTrainingArguments)
DEFAULTS = {**DATA_DEFAULTS, **TRAINING_DEFAULTS}


main = stage_entry_point(__name__, "hf-ulmfit finetune-lm")


@holds_output_folder_lock
def run(args: FinetuneLmArguments, data_args: DataArguments, training_args):
    plan = start_stage("finetune-lm", training_args, args, data_args)
    model = load_pretrained(AwdLstmForCausalLM, args.model_name_or_path, "language model", kinds=("language model",))
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    check_tokenizer_fits(tokenizer, model.config, args.model_name_or_path)
    dataset = load_splits(data_args, labelled=False)
    extra_splits = extra_text_splits(args.extra_text_splits, dataset)
    dataset["train"] = language_model_texts(dataset, tuple(extra_splits))
    # The LM trains on train (+ extra splits) and reports validation; the other splits are not tokenised.
    dataset = drop_blank_documents(
        DatasetDict({name: dataset[name] for name in ("train", "validation") if name in dataset}).select_columns(
            ["text"]
        )
    )
    added_words, old_pieces = [], None
    if args.extend_vocabulary:
        tokenizer, added_words = extend_word_vocabulary(
            tokenizer, dataset["train"], min_frequency=args.new_word_min_frequency
        )
    if args.extend_subword_vocabulary and not added_words:
        tokenizer, added_words, old_pieces = extend_unigram_vocabulary(
            tokenizer,
            dataset["train"],
            min_frequency=args.new_word_min_frequency,
            max_new_words=args.max_new_subword_words,
        )
    if added_words:
        resize_embeddings_from_mean(model, len(tokenizer), old_pieces)
        logger.info("added %d target-domain words to the vocabulary", len(added_words))
    with training_args.main_process_first(desc="tokenising"):  # the other processes load the cached result
        tokenized = tokenize_dataset(dataset, tokenizer, num_proc=data_args.num_proc, keep_columns=())
    return train_and_finish_stage(
        plan,
        LanguageModelTrainer,
        model,
        tokenizer,
        tokenized,
        tokenizer_details={"added_tokens": len(added_words)},
        text_splits=["train", *extra_splits],
        base_model=args.model_name_or_path,
    )


def extra_text_splits(requested: list[str], dataset) -> list[str]:
    """The splits the LM reads besides train: those requested ('none': no other), else the unlabelled split."""
    if requested == ["none"]:
        return []
    if requested:
        return list(requested)  # language_model_texts names any the dataset lacks
    return ["unsupervised"] if "unsupervised" in dataset else []


@torch.no_grad()
def resize_embeddings_from_mean(
    model: AwdLstmForCausalLM, new_vocab_size: int, old_pieces: list[list[int]] | None = None
) -> None:
    """Grow the (tied) embedding and the decoder bias. New rows start from the mean of the old ones, as fastai, or,
    given `old_pieces` (for each new row, the ids of the pieces its word was read as), from the mean of those rows."""
    weight = model.get_input_embeddings().weight
    old_size = weight.shape[0]
    bias = model.decoder.bias
    if old_pieces is None:
        new_rows = weight.mean(0).expand(new_vocab_size - old_size, -1).clone()
        new_bias = bias.mean().expand(new_vocab_size - old_size).clone() if bias is not None else None
    else:
        if len(old_pieces) != new_vocab_size - old_size:
            raise ValueError(f"{len(old_pieces)} piece lists for {new_vocab_size - old_size} new rows")
        new_rows = torch.stack([weight[ids].mean(0) for ids in old_pieces])
        new_bias = torch.stack([bias[ids].mean() for ids in old_pieces]) if bias is not None else None
    model.resize_token_embeddings(new_vocab_size, mean_resizing=False)
    model.get_input_embeddings().weight[old_size:] = new_rows
    if new_bias is not None:
        model.decoder.bias[old_size:] = new_bias
