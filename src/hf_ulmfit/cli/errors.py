"""What the CLI prints for an error a user can fix: one line naming the cause and what to change.

Library errors (the config validator, the Hub client, torch's writer, `datasets`) come wrapped, multi-line or worded
for developers; `user_error_message` turns the ones a user's input or machine causes into one line, and returns None
for anything else (a bug, which keeps its traceback). Only the standard library here: the classes are recognised by
name, so this module imports nothing heavy.
"""

import errno


def _class_names(error: BaseException) -> set[str]:
    return {f"{cls.__module__.partition('.')[0]}.{cls.__name__}" for cls in type(error).__mro__}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _network_error(error: BaseException) -> bool:
    names = _class_names(error)
    clients = ("httpx", "httpx2", "requests", "urllib3", "huggingface_hub")
    return any(
        name.partition(".")[0] in clients
        and name.partition(".")[2] in ("TransportError", "TimeoutException", "ConnectError", "ConnectionError")
        for name in names
    ) or isinstance(error, (ConnectionError, TimeoutError))


def user_error_message(error: BaseException) -> str | None:
    """One line for an error the user can fix, None for one that is a bug."""
    names = _class_names(error)
    if "huggingface_hub.StrictDataclassClassValidationError" in names and error.__cause__ is not None:
        # The config validator's own message ("AwdLstmConfig.hidden_size must be a positive integer, got 0"),
        # without the wrapper's two lines.
        return _one_line(error.__cause__)
    if "huggingface_hub.LocalTokenNotFoundError" in names:
        return "no Hub token: log in with `hf auth login`, or pass --token (or set HF_TOKEN)."
    if "huggingface_hub.HfHubHTTPError" in names:
        return f"the Hub refused the request: {_one_line(str(error).splitlines()[0] if str(error) else error)}"
    if _network_error(error):
        from os import environ

        endpoint = environ.get("HF_ENDPOINT", "https://huggingface.co")
        return (
            f"could not reach {endpoint} ({type(error).__name__}: {_one_line(error) or 'no answer'}). Check the "
            "network or proxy; to stay offline, set HF_HUB_OFFLINE=1 and give local folders."
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" writing {error.filename}" if error.filename else ""
        return f"no space left on the device{where}: free some space or choose another --output_dir."
    if isinstance(error, RuntimeError) and ("unexpected pos" in str(error) or "PytorchStreamWriter" in str(error)):
        # torch.save's writer reports a short write (a full disk) this way
        return (
            "writing a file failed part-way (is the disk full?): free some space or choose another "
            f"--output_dir ({_one_line(error)})."
        )
    if isinstance(error, (ValueError, OSError)):
        return _one_line(error)
    return None
