"""Exported ONNX graphs (`hf_ulmfit.export.onnx`) run by onnxruntime, behind the interfaces the PyTorch models have:
`OnnxAwdLstmForSequenceClassification` (tensors in, `logits` out, so `pipeline("text-classification")` takes it) and
`OnnxAwdLstmForCausalLM` (`step(input_ids, state)`)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoConfig
from transformers.modeling_outputs import SequenceClassifierOutput


ONNX_FILE = "model.onnx"  # the graph's file in an exported folder


def is_onnx_folder(path: str | Path) -> bool:
    return (Path(path) / ONNX_FILE).is_file()


def _session(path: Path, threads: int | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
        first_line = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise OSError(
            f"{path} is not a readable ONNX model ({first_line[:200]}): it is truncated or corrupt; export the "
            "model again (hf-ulmfit export)."
        ) from None


class OnnxAwdLstmForSequenceClassification(nn.Module):
    """An exported classifier run by onnxruntime, called like `AwdLstmForSequenceClassification` (tensors in,
    `logits` out), so `pipeline("text-classification", model=...)` and `hf-ulmfit predict` take it as they are."""

    main_input_name = "input_ids"

    def __init__(self, folder: str | Path, threads: int | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.config = AutoConfig.from_pretrained(self.folder)
        self.session = _session(self.folder / ONNX_FILE, threads)

    @classmethod
    def from_pretrained(cls, folder: str | Path, threads: int | None = None) -> "OnnxAwdLstmForSequenceClassification":
        if not is_onnx_folder(folder):
            raise FileNotFoundError(f"{folder} has no {ONNX_FILE}: export one with `hf-ulmfit export`")
        return cls(folder, threads)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def can_generate(self) -> bool:
        return False

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        feed = {
            "input_ids": input_ids.cpu().numpy().astype(np.int64),
            "attention_mask": attention_mask.cpu().numpy().astype(np.int64),
        }
        (logits,) = self.session.run(["logits"], feed)
        return SequenceClassifierOutput(logits=torch.from_numpy(logits))


class OnnxAwdLstmForCausalLM:
    """An exported language model run by onnxruntime: `step(input_ids, state)` returns logits and the next state."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        self.folder = Path(folder)
        self.config = AutoConfig.from_pretrained(self.folder)
        self.session = _session(self.folder / ONNX_FILE, threads)
        self.input_names = [value.name for value in self.session.get_inputs()]

    def initial_state(self, batch_size: int) -> list[np.ndarray]:
        shapes = {value.name: value.shape for value in self.session.get_inputs()}
        return [np.zeros((1, batch_size, shapes[name][2]), dtype=np.float32) for name in self.input_names[1:]]

    def step(self, input_ids: np.ndarray, state: list[np.ndarray] | None = None):
        state = self.initial_state(input_ids.shape[0]) if state is None else state
        logits, *next_state = self.session.run(None, dict(zip(self.input_names, [input_ids.astype(np.int64), *state])))
        return logits, next_state
