"""Other libraries' loggers, quieted for the length of one call."""

import contextlib
import logging


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR):
    """Inside the block the named loggers log only at `level` or above (one already set higher stays so); afterwards
    each is back at the level it had."""
    loggers = [logging.getLogger(name) for name in names]
    before = [each.level for each in loggers]
    for each, was in zip(loggers, before):
        each.setLevel(max(was, level))
    try:
        yield
    finally:
        for each, was in zip(loggers, before):
            each.setLevel(was)
