"""Checks the stages run on their inputs before any work: model folders, weights files, tokenizer/model fit.

Each failure is an error naming the file or folder, so a typo or a broken download reads as what it is instead of a
Hub connection error or a traceback from deep inside the model.
"""

import logging
from pathlib import Path

import torch
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import SafetensorError, safe_open

from ..quiet_logging import quiet_loggers
from ..saved_folders import folder_kind


logger = logging.getLogger(__name__)


def looks_local(name_or_path: str) -> bool:
    """A path rather than a Hub id: it exists, is not a valid repository id (``./x``, ``/x``, ``a/b/c``, ``~``), or
    its parent folder exists here (``runs/clas`` next to a ``runs`` folder)."""
    path = Path(name_or_path)
    if path.exists():
        return True
    try:
        validate_repo_id(str(name_or_path))
    except HFValidationError:
        return True
    return str(path.parent) not in ("", ".") and path.parent.is_dir()


def require_model_folder(name_or_path: str, what: str = "model") -> None:
    """A local-looking path that does not exist fails at once, naming it (instead of a Hub lookup that says it could
    not connect, or hangs without a network)."""
    if looks_local(name_or_path) and not Path(name_or_path).is_dir():
        kind = "is a file, not a folder" if Path(name_or_path).is_file() else "does not exist"
        raise FileNotFoundError(f"{what} folder {str(name_or_path)!r} {kind}.")
    if not Path(name_or_path).is_dir():
        require_hub_model(str(name_or_path), what)


def require_hub_model(repo_id: str, what: str = "model") -> None:
    """A bare name that is no folder here is a Hub id: found in the local cache, or looked up once on the Hub
    (`hub.network.look_up_on_hub`), so that a typo or a machine without network fails at once in one line naming the
    name and the address tried, instead of after transformers' retries (tens of seconds) with a message that names
    neither."""
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    from ..hub.network import failure_in_one_line, look_up_on_hub

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise FileNotFoundError(
            f"{what} {repo_id!r} is no folder here and is not in the Hub cache, and HF_HUB_OFFLINE=1 keeps the Hub "
            "out: give the path of a saved model folder."
        )
    try:
        look_up_on_hub(repo_id)
    except RepositoryNotFoundError:
        raise FileNotFoundError(
            f"{what} {repo_id!r} is neither a folder here nor a Hub repository ({constants.ENDPOINT}): check the "
            "name or path."
        ) from None
    except Exception as error:  # noqa: BLE001 - DNS, proxy, timeout: whatever stops the look-up, said in one line
        raise OSError(
            f"{what} {repo_id!r} is no folder here, and looking it up on {constants.ENDPOINT} failed "
            f"({failure_in_one_line(error)}). Give the path of a saved model folder, or set HF_HUB_OFFLINE=1 to stay "
            "offline."
        ) from None


def check_weights_files(name_or_path: str) -> None:
    """Every ``*.safetensors`` file of a local model folder must be complete: a truncated download names its file."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        return
    for file in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt"):  # the header must cover the whole file
                pass
        except SafetensorError as error:
            raise OSError(
                f"{file} is not a readable safetensors file ({error}): it is truncated or corrupt; save or "
                "download the model again."
            ) from None


def check_finite_weights(model: torch.nn.Module, name_or_path: str) -> None:
    """Weights holding NaN or infinity (a diverged run) would give NaN scores: refuse them, naming the tensors."""
    broken = [
        name
        for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and not torch.isfinite(tensor).all()
    ]
    if broken:
        shown = ", ".join(broken[:5]) + (f" (and {len(broken) - 5} more)" if len(broken) > 5 else "")
        raise ValueError(
            f"The weights of {name_or_path} hold NaN or infinite values in {shown}: the model is broken "
            "(a diverged training run?); train or download it again."
        )


KIND_HINTS = {
    "int8 classifier": "an int8 folder is for inference only (predict, evaluate): use the fp32 classifier it was "
    "exported from",
    "classifier": "a classifier holds no language-model decoder: pass the language model it was trained from",
    "language model": "train a classifier on it first (hf-ulmfit train-classifier --model_name_or_path FOLDER)",
}


def check_folder_kind(name_or_path: str, kinds: tuple[str, ...], what: str) -> None:
    """A folder that says it holds another kind of model than `kinds` (a language model given to `predict`, an int8
    folder to a training stage) is refused, naming both, instead of running on weights it does not have."""
    kind, architectures = folder_kind(name_or_path)
    if kind is not None and kind not in kinds:
        raise ValueError(
            f"{name_or_path} holds {_article(kind)} {kind} ({architectures}), not {_article(what)} {what}: "
            f"{KIND_HINTS[kind]}."
        )


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


# The loggers quieted while a model loads: the load report's, and the tensor-parallel plan check's, which transformers
# (5.25) runs whenever the load report's logger is at WARNING or above, and which then warns that every weight of a
# model without a tensor-parallel plan (the AWD-LSTM has none) "was not sharded" (its module moved in 5.x).
QUIET_WHILE_LOADING = (
    "transformers.modeling_utils",
    "transformers.distributed.tensor_parallel",
    "transformers.integrations.tensor_parallel",
)


def load_pretrained(
    model_class, name_or_path: str, what: str = "model", kinds: tuple[str, ...] | None = None, new_head=False, **kwargs
):
    """`model_class.from_pretrained` after the folder and weights checks, refusing a folder of another kind (`kinds`,
    see `check_folder_kind`) and any weight the model needs that the folder lacks, except a new classifier head
    (`new_head`: the weights this stage creates); then the finite-weights check."""
    require_model_folder(name_or_path, what)
    check_weights_files(name_or_path)
    if kinds:
        check_folder_kind(name_or_path, kinds, what)
    try:
        # transformers' LOAD REPORT (its table of missing and unexpected weights) stays quiet: the lists are checked
        # below and what is wrong is refused in one line, so the expected case (a new head) says nothing.
        with quiet_loggers(*QUIET_WHILE_LOADING):
            model, loading = model_class.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    except RuntimeError as error:  # transformers refuses weights whose shapes differ from the config's
        if "mismatch" not in str(error):
            raise
        raise ValueError(
            f"the weights of {name_or_path} do not fit its config.json: tensor shapes differ from the sizes it gives "
            "(was config.json edited, or copied from another model?). Use the config saved with the weights."
        ) from None
    missing = sorted(key for key in loading["missing_keys"] if not (new_head and key.startswith("head.")))
    if missing:
        shown = ", ".join(missing[:3]) + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else "")
        raise ValueError(
            f"{name_or_path} lacks weights {_article(what)} {what} needs ({shown}); its config.json "
            f"(rnn_type {model.config.rnn_type!r}) and weights do not belong together, or it holds another kind of "
            "model. Pass the folder a stage saved for this, or save it again."
        )
    if loading["unexpected_keys"]:
        logger.warning(
            "%s holds %d weight(s) that the %s does not use (%s); they are ignored",
            name_or_path,
            len(loading["unexpected_keys"]),
            type(model).__name__,
            ", ".join(sorted(loading["unexpected_keys"])[:3]),
        )
    check_finite_weights(model, name_or_path)
    return model


def check_tokenizer_fits(tokenizer, config, where: str) -> None:
    """Every token id the tokenizer can produce must have an embedding row (else `IndexError` mid-run)."""
    if len(tokenizer) > config.vocab_size:
        raise ValueError(
            f"The tokenizer of {where} has {len(tokenizer)} tokens but the model's embedding holds "
            f"{config.vocab_size}: "
            "they do not belong together. Use the tokenizer saved with the model."
        )


def check_finite_weights_files(name_or_path: str) -> None:
    """`check_finite_weights` read from a local folder's ``*.safetensors`` files, tensor by tensor, without building
    the model (`export` checks its input this way before writing anything)."""
    folder = Path(name_or_path)
    broken = []
    for file in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        with safe_open(str(file), framework="pt") as weights:
            for name in weights.keys():
                tensor = weights.get_tensor(name)
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    broken.append(name)
    if broken:
        shown = ", ".join(broken[:5]) + (f" (and {len(broken) - 5} more)" if len(broken) > 5 else "")
        raise ValueError(
            f"The weights of {name_or_path} hold NaN or infinite values in {shown}: the model is broken "
            "(a diverged training run?); train or download it again."
        )
