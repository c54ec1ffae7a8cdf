"""One run at a time per output folder.

Two runs writing into one folder would each overwrite the other's weights and records (the last writer silently
wins), or delete each other's checkpoints mid-write. A stage therefore holds a lock file in its output folder from the
start to the end of the run, and a second run into that folder stops at once, naming it.

The lock is `filelock`'s: an OS lock on the file, which the OS releases when the holding process ends, however it
ends. A lock file left by a killed run is therefore stale by construction and is simply taken over.
"""

import contextlib
import functools
import logging
from pathlib import Path

from filelock import FileLock, Timeout


logger = logging.getLogger(__name__)

LOCK_FILE = ".hf-ulmfit.lock"


class OutputFolderInUseError(OSError):
    """Another run holds the output folder's lock."""


@contextlib.contextmanager
def output_folder_lock(output_dir: str, enabled: bool = True):
    """Hold ``output_dir``'s lock for the block (creating the folder if needed, and removing it again when the block
    leaves it empty); `OutputFolderInUseError` at once when another process holds it. Disabled (another process of
    the same multi-process run holds it), it does nothing."""
    if not enabled:
        yield
        return
    folder = Path(output_dir)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputFolderInUseError(
            f"output folder {folder} is in use by another hf-ulmfit run (it holds {folder / LOCK_FILE}): wait for "
            "that run to end, or pass another --output_dir."
        ) from None
    try:
        yield
    finally:
        # Removed while still held, so no other run can have taken it in between; then released.
        (folder / LOCK_FILE).unlink(missing_ok=True)
        lock.release()
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a run refused before it wrote anything leaves no trace


def holds_output_folder_lock(run):
    """Decorate a stage's ``run(*arguments)``: the run holds its ``--output_dir``'s lock throughout (the main process
    only: the others of a multi-process run write nothing there)."""

    @functools.wraps(run)
    def locked_run(*arguments):
        training_args = arguments[-1]  # every stage takes its training arguments last
        with output_folder_lock(training_args.output_dir, enabled=training_args.should_save):
            return run(*arguments)

    return locked_run
