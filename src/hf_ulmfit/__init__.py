"""hf-ulmfit: ULMFiT and the AWD-LSTM as native Hugging Face transformers models.

`import hf_ulmfit` is light (no torch, no transformers, so `hf-ulmfit --help` is instant): the public names load on
first use. The AWD-LSTM registers with transformers' Auto classes when `hf_ulmfit.models` is imported, which every
model, trainer and stage does: `import hf_ulmfit.models` before `AutoModel*.from_pretrained(folder)` or `pipeline`.
"""

from .lazy_exports import lazy_exports


__version__ = "0.1.0"

# Public name -> the submodule that defines it, loaded on first attribute access (PEP 562).
_LAZY_NAMES = {
    "CLASSIFIER_DROPOUTS": ".models.awd_lstm",
    "AwdLstmConfig": ".models.awd_lstm",
    "AwdLstmForCausalLM": ".models.awd_lstm",
    "AwdLstmForSequenceClassification": ".models.awd_lstm",
    "AwdLstmModel": ".models.awd_lstm",
    "register_auto_classes": ".models",
    "convert_fastai_checkpoint": ".conversion",
    "load_text_dataset": ".data",
    "train_tokenizer": ".tokenization",
    "ClassifierTrainer": ".training",
    "LanguageModelTrainer": ".training",
    "UlmfitTrainer": ".training",
    "UlmfitTrainingArguments": ".training",
    "lr_find": ".training",
    "explain": ".evaluation.explanations",
}

__all__ = ["__version__", *_LAZY_NAMES]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_NAMES)
