"""Converters from other libraries' checkpoints into hf-ulmfit model folders."""

from .fastai import FastaiConversionError, convert_fastai_checkpoint, load_fastai_state_dict, load_fastai_vocab


__all__ = ["FastaiConversionError", "convert_fastai_checkpoint", "load_fastai_state_dict", "load_fastai_vocab"]
