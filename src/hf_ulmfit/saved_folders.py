"""What a saved model folder holds, read from its ``config.json`` without loading anything: the one answer the
stages' checks, `evaluate`, the classification pipeline and the main job's choice of pretrained LM all use."""

import json
from pathlib import Path


INT8_MODEL_TYPE = "awd_lstm_int8"  # `hf-ulmfit export --format int8`
LANGUAGE_MODEL, CLASSIFIER, INT8_CLASSIFIER = "language model", "classifier", "int8 classifier"


def read_config(folder: str | Path) -> dict | None:
    """The folder's ``config.json`` as a dict (None without one); an unreadable one is an `OSError` naming it."""
    config_file = Path(folder) / "config.json"
    if not config_file.is_file():
        return None
    try:
        return json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise OSError(f"{config_file} is not a readable config ({error}): save or download the model again.") from None


def kind_of_config(config: dict) -> str | None:
    """LANGUAGE_MODEL, CLASSIFIER or INT8_CLASSIFIER by the config's model type and architectures (None when it does
    not say)."""
    architectures = config.get("architectures") or []
    if config.get("model_type") == INT8_MODEL_TYPE:
        return INT8_CLASSIFIER
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        return CLASSIFIER
    if any(name.endswith("ForCausalLM") for name in architectures):
        return LANGUAGE_MODEL
    return None


def folder_kind(folder: str | Path) -> tuple[str | None, str]:
    """What a local model folder holds (`kind_of_config`, None without a config) and the architectures it names."""
    config = read_config(folder)
    if config is None:
        return None, ""
    return kind_of_config(config), ", ".join(config.get("architectures") or [])
