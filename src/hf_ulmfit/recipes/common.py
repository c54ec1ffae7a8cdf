"""Small steps every stage shares: getting a tokenizer, a config, resuming, describing the tokenizer."""

import logging
from pathlib import Path

from transformers import AutoTokenizer
from transformers.trainer_utils import get_last_checkpoint

from ..models.awd_lstm import AwdLstmConfig
from ..tokenization import default_train_lines, train_tokenizer
from ..training import UlmfitTrainer
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
        logger.info("training a %s tokenizer on a random sample of (at most) %d lines of the %d texts (seed %d; "
                    "--tokenizer_train_lines 0 trains on all)", kind, lines, len(texts), seed)
    else:
        logger.info("training a %s tokenizer on all %d texts", kind, len(texts))
    return train_tokenizer(
        texts, kind=kind, vocab_size=tokenizer_args.vocab_size, lowercase=tokenizer_args.lowercase,
        max_lines=lines, seed=seed,
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
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return AwdLstmConfig(**{**settings, **overrides})


def checkpoint_to_resume(training_args) -> str | None:
    """`--resume_from_checkpoint`, or the newest checkpoint an interrupted run left in the output folder."""
    if training_args.resume_from_checkpoint:
        return training_args.resume_from_checkpoint
    output_dir = Path(training_args.output_dir)
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last:
        logger.info("resuming the interrupted run from %s", last)
    return last


def model_summary(config: AwdLstmConfig) -> dict:
    names = ["vocab_size", "embedding_size", "hidden_size", "num_layers", "drop_mult", "backwards", "bptt", "max_len"]
    return {name: getattr(config, name) for name in names}


def train_and_evaluate(model, tokenizer, tokenized, training_args) -> tuple[UlmfitTrainer, dict]:
    """Train on ``tokenized["train"]`` (resuming an interrupted run), then evaluate on ``tokenized["validation"]``."""
    trainer = UlmfitTrainer(model=model, args=training_args, train_dataset=tokenized["train"],
                            eval_dataset=tokenized["validation"], processing_class=tokenizer)
    logger.info("process %d of %d: training on %s", training_args.process_index, training_args.world_size,
                training_args.device)
    trainer.train(resume_from_checkpoint=checkpoint_to_resume(training_args))
    return trainer, trainer.evaluate()
