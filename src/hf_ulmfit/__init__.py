"""hf-ulmfit: ULMFiT and the AWD-LSTM as native Hugging Face transformers models.

Importing the package registers the AWD-LSTM with transformers' Auto classes. The import itself is light (no torch,
no transformers, so `hf-ulmfit --help` is instant): the public names load on first use, and the registration runs
the moment transformers' Auto classes are imported (or at once, when they already are).
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .lazy_exports import lazy_exports


__version__ = "0.1.0"

# Public name -> the submodule that defines it, loaded on first attribute access (PEP 562).
_LAZY_NAMES = {
    "CLASSIFIER_DROPOUTS": ".models.awd_lstm",
    "AwdLstmConfig": ".models.awd_lstm",
    "AwdLstmForCausalLM": ".models.awd_lstm",
    "AwdLstmForSequenceClassification": ".models.awd_lstm",
    "AwdLstmModel": ".models.awd_lstm",
    "register_auto_classes": ".models.auto_registration",
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

# Registration needs transformers' Auto mappings, which live in this module.
_AUTO_MODULE = "transformers.models.auto.configuration_auto"


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_NAMES)


def _register_auto_classes() -> None:
    importlib.import_module(".models.auto_registration", __name__).register_auto_classes()
    importlib.import_module(".export.int8", __name__).register_int8_auto_classes()


# Packages whose modules the registration imports: it must wait until none of them is half-initialised.
_WATCHED_PACKAGES = ("transformers", __name__)


def _is_watched(module_name: str) -> bool:
    return module_name.partition(".")[0] in _WATCHED_PACKAGES and module_name != __name__


def _watched_import_in_progress() -> bool:
    """True while a transformers or hf_ulmfit module is still executing (registering would import it circularly)."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if _is_watched(name)
    )


class _RegisterWhenAutoClassesLoad(importlib.abc.MetaPathFinder):
    """Registers the AWD-LSTM as soon as an import that loaded transformers' Auto mappings has finished.

    It watches transformers' and this package's modules only: each one's loader gets a wrapper that, once the
    outermost such import of the moment has run (none is half-initialised), registers and retires this finder.
    """

    def find_spec(self, fullname, path, target=None):
        if not _is_watched(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            run_module = spec.loader.exec_module

            def run_and_maybe_register(module):
                run_module(module)
                module.__spec__._initializing = False  # importlib clears it right after; the check below needs it now
                self.register_if_ready()

            spec.loader.exec_module = run_and_maybe_register
        return spec

    def register_if_ready(self):
        if self not in sys.meta_path or _AUTO_MODULE not in sys.modules or _watched_import_in_progress():
            return
        sys.meta_path.remove(self)
        _register_auto_classes()


if _AUTO_MODULE in sys.modules:
    _register_auto_classes()
else:
    sys.meta_path.insert(0, _RegisterWhenAutoClassesLoad())
