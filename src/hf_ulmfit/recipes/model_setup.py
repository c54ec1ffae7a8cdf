"""A stage's tokenizer (trained on the task, on one process, the others loading it) and a new model's config,
checked against the tokenizer; both described for the run record."""

import logging
from pathlib import Path

from transformers import AutoTokenizer

from ..models.awd_lstm import AwdLstmConfig
from ..tokenization import default_train_lines, train_tokenizer
from .arguments import ModelArguments, TokenizerArguments
from .checks import require_model_folder


logger = logging.getLogger(__name__)


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
        min_frequency=tokenizer_args.min_frequency,
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
