"""Time limits on every request to the Hub. huggingface_hub's shared HTTP client waits without limit by default, so
behind a proxy that accepts a connection and never answers, a model look-up, a named dataset's download or an upload
would hang without a word. The CLI sets these limits before any command runs; a request that hits one fails with the
one-line "could not reach" error (`cli/errors.py`).

`HF_ULMFIT_HUB_TIMEOUT` (seconds, default 60) bounds each wait for the Hub's answer; connecting gets at most 10 s.
Before a stage downloads a model or a named dataset that is not here, `look_up_on_hub` asks for it once, within
`HUB_LOOKUP_TIMEOUT_S`, so that a typo or a silent network fails at once instead of in a download's retries.
"""

import os


CONNECT_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_S = 60.0
HUB_LOOKUP_TIMEOUT_S = 10.0


def hub_timeout_seconds() -> float:
    value = os.environ.get("HF_ULMFIT_HUB_TIMEOUT", "")
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"HF_ULMFIT_HUB_TIMEOUT={value!r}: give a number of seconds.") from None
    if not seconds > 0:
        raise ValueError(f"HF_ULMFIT_HUB_TIMEOUT={value!r}: give a positive number of seconds.")
    return seconds


def limit_hub_waits() -> None:
    """Give huggingface_hub's shared client (which `transformers`, `datasets` and uploads all use) a timeout."""
    from huggingface_hub import get_session

    session = get_session()
    seconds = hub_timeout_seconds()
    session.timeout = type(session.timeout)(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))


def look_up_on_hub(repo_id: str, repo_type: str = "model") -> None:
    """One request for `repo_id`'s information, answered within `HUB_LOOKUP_TIMEOUT_S`; raises what the Hub client
    raises (`RepositoryNotFoundError` for a name that is not there, a network error otherwise)."""
    from huggingface_hub import HfApi

    HfApi().repo_info(repo_id, repo_type=repo_type, timeout=HUB_LOOKUP_TIMEOUT_S)


def failure_in_one_line(error: BaseException) -> str:
    """`ErrorClass: message` on one line, cut at 200 characters, for a message that names what was tried."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
