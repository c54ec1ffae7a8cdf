"""Contiguous language-model batches (fastai's LMDataLoader layout), for a model that carries its state.

All documents (each already starting with ``xxbos``) are concatenated, in an order reshuffled every epoch, into one
stream. The stream is cut into ``batch_size * world_size`` rows of equal length; batch ``k`` gives every row its next
``seq_len`` tokens. Row ``r`` of batch ``k`` therefore continues row ``r`` of batch ``k - 1`` exactly, so the hidden
state a recurrent model carries from one batch to the next belongs to the text it is reading (truncated BPTT).

::

    stream  = doc_7 doc_2 doc_9 ...             (one epoch's order; tokens left over after cutting are not used)
    row 0   = stream[0         : R]             batch 0 = row[:, 0:L]   targets row[:, 1:L+1]
    row 1   = stream[R         : 2R]            batch 1 = row[:, L:2L]  targets row[:, L+1:2L+1]
    ...                                          (the last batch of an epoch may be shorter than L)

Several processes: every rank builds the same stream (same seed and epoch, no communication) and takes its own
rows ``[rank * batch_size, (rank + 1) * batch_size)``; all ranks yield the same number of equally shaped batches.

Backward models: batches are given in natural text order, as the AWD-LSTM with ``backwards=True`` reverses each
sequence itself. Chunks are taken from the end of every row towards its start (batch ``k`` is the text just before
batch ``k - 1``), and ``shift_labels[t]`` is the token before ``input_ids[t]``.

The stream is built with numpy once per epoch; batches are views of it turned into tensors without a copy.
"""

import math
from collections.abc import Iterator, Sequence

import datasets
import numpy as np
import pyarrow as pa
import torch


class LanguageModelStream(torch.utils.data.IterableDataset):
    """Yields ``{"input_ids": LongTensor(batch_size, L), "shift_labels": LongTensor(batch_size, L)}`` batches.

    Args:
        documents: tokenised documents: a `datasets.Dataset` with an ``input_ids`` column, or a sequence of token id
            sequences (lists, numpy arrays, tensors).
        batch_size: rows per process.
        seq_len: tokens per row per batch (BPTT length; fastai's 72).
        shuffle: reshuffle the document order every epoch (``set_epoch``); otherwise keep the given order.
        seed: with the epoch, fixes the order, identically on every rank.
        backwards: batches for a backward language model (see the module docstring).
        rank, world_size: this process's index and the number of processes.

    Use it directly (``for batch in stream``) or in ``DataLoader(stream, batch_size=None)``; it yields whole
    batches, so the DataLoader must not batch again, and worker processes would only duplicate it (num_workers=0).
    Call ``set_epoch(epoch)`` before each epoch, as with a `DistributedSampler`.
    """

    def __init__(
        self,
        documents,
        batch_size: int,
        seq_len: int = 72,
        *,
        shuffle: bool = True,
        seed: int = 0,
        backwards: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}.")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}.")
        self.tokens, self.offsets = _flatten_documents(documents)
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.shuffle = shuffle
        self.seed = seed
        self.backwards = backwards
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._rows_cache: tuple[int, np.ndarray] | None = None

        self.num_rows = batch_size * world_size
        self.row_length = len(self.tokens) // self.num_rows
        if self.row_length < 2:
            raise ValueError(
                f"{len(self.tokens)} tokens cannot fill {self.num_rows} rows (batch_size {batch_size} x world_size "
                f"{world_size}) with at least one input and one target each; use a smaller batch_size or more text."
            )

    @property
    def num_documents(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose document order the next iteration uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        # Each row has row_length tokens; one of them is only ever a target.
        return math.ceil((self.row_length - 1) / self.seq_len)

    def document_order(self, epoch: int | None = None) -> np.ndarray:
        """Indices of the documents in the order the stream of ``epoch`` (default: the current one) reads them."""
        epoch = self.epoch if epoch is None else epoch
        if not self.shuffle:
            return np.arange(self.num_documents)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_documents)

    def rows(self) -> np.ndarray:
        """This epoch's stream cut into rows: an int64 array (batch_size * world_size, row_length), all ranks."""
        if self._rows_cache is None or self._rows_cache[0] != self.epoch:
            order = self.document_order()
            starts, ends = self.offsets[:-1][order], self.offsets[1:][order]
            # A Python loop over documents, not tokens: numpy copies each document's slice once.
            stream = np.concatenate([self.tokens[start:end] for start, end in zip(starts, ends)], dtype=np.int64)
            used = self.num_rows * self.row_length
            self._rows_cache = (self.epoch, stream[:used].reshape(self.num_rows, self.row_length))
        return self._rows_cache[1]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker = torch.utils.data.get_worker_info()
        if worker is not None and worker.num_workers > 1:
            raise RuntimeError("LanguageModelStream yields whole batches: use it with DataLoader(num_workers=0).")
        my_rows = self.rows()[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        for batch_index in range(len(self)):
            if self.backwards:
                end = self.row_length - batch_index * self.seq_len
                start = max(1, end - self.seq_len)
                inputs, labels = my_rows[:, start:end], my_rows[:, start - 1 : end - 1]
            else:
                start = batch_index * self.seq_len
                end = min(start + self.seq_len, self.row_length - 1)
                inputs, labels = my_rows[:, start:end], my_rows[:, start + 1 : end + 1]
            yield {"input_ids": torch.from_numpy(inputs), "shift_labels": torch.from_numpy(labels)}


def _flatten_documents(documents) -> tuple[np.ndarray, np.ndarray]:
    """All tokens in one array (int32 when the ids fit) and document offsets (n_documents + 1)."""
    if isinstance(documents, datasets.DatasetDict):
        raise TypeError(f"Got a DatasetDict with splits {list(documents)}: pass one split, e.g. dataset['train'].")
    if isinstance(documents, datasets.Dataset):
        if "input_ids" not in documents.column_names:
            raise ValueError(
                f"The dataset has no 'input_ids' column (columns: {documents.column_names}); tokenise it first "
                "with hf_ulmfit.data.tokenize_dataset."
            )
        # Arrow gives the flat values and offsets of the list column directly, without a Python loop.
        column = documents.with_format("arrow")[:]["input_ids"]
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if column.null_count:
            raise ValueError("The 'input_ids' column has missing rows.")
        lengths = column.value_lengths().to_numpy(zero_copy_only=False)
        tokens = column.flatten().to_numpy(zero_copy_only=False)
    elif isinstance(documents, Sequence) or isinstance(documents, np.ndarray):
        arrays = [np.asarray(document) for document in documents]
        for index, array in enumerate(arrays):
            if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
                raise ValueError(
                    f"Document {index} is not a 1-D sequence of token ids (got {array.dtype}, shape {array.shape})."
                )
        lengths = np.array([len(array) for array in arrays], dtype=np.int64)
        tokens = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    else:
        raise TypeError(
            "documents must be a datasets.Dataset or a sequence of token id sequences, got "
            f"{type(documents).__name__}."
        )
    if tokens.size and tokens.min() < 0:
        raise ValueError("Token ids must be non-negative.")
    dtype = np.int32 if not tokens.size or tokens.max() < 2**31 else np.int64
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return tokens.astype(dtype, copy=False), offsets
