"""Model cards and Hub uploads."""

from .model_card import build_model_card, write_model_card
from .upload import push_folder


__all__ = ["build_model_card", "push_folder", "write_model_card"]
