"""Classification pipelines over any saved form of a classifier (PyTorch fp32 or int8 folder, or ONNX), with the
documents of a list batched by length."""

import json
from pathlib import Path

from transformers import TextClassificationPipeline


class LengthSortedTextClassificationPipeline(TextClassificationPipeline):
    """`pipeline("text-classification")` that batches a list's documents in order of length and returns the results
    in the order given. Batches of similar lengths carry little padding, which an LSTM would otherwise run over;
    the AWD-LSTM's logits do not depend on padding, so the results are those of the unsorted call."""

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2 or not all(isinstance(t, str) for t in inputs):
            return super().__call__(inputs, *args, **kwargs)
        # Characters stand in for tokens: the order only needs to be roughly right, and costs no second tokenisation.
        order = sorted(range(len(inputs)), key=lambda index: len(inputs[index]))
        sorted_outputs = super().__call__([inputs[index] for index in order], *args, **kwargs)
        outputs = [None] * len(inputs)
        for position, index in enumerate(order):
            outputs[index] = sorted_outputs[position]
        return outputs

    def postprocess(self, model_outputs, function_to_apply=None, top_k=1, _legacy=True):
        """A multi-label classifier with a decision threshold (`config.multi_label_threshold`, chosen on validation
        by train-classifier) gives, by default, every label scored at or above it (best first; none may pass)."""
        config = self.model.config
        threshold = getattr(config, "multi_label_threshold", None)
        if (
            config.problem_type != "multi_label_classification"
            or threshold is None
            or function_to_apply
            or not _legacy
        ):
            return super().postprocess(model_outputs, function_to_apply, top_k, _legacy)
        scores = super().postprocess(model_outputs, None, None, False)
        return [score for score in scores if score["score"] >= threshold]


def _model_type(model_name_or_path: str) -> str | None:
    config = Path(model_name_or_path) / "config.json"
    return json.loads(config.read_text()).get("model_type") if config.is_file() else None


def text_classification_pipeline(model_name_or_path: str, device=None, **pipeline_kwargs):
    """A length-sorted text-classification pipeline for a saved classifier folder (fp32 or int8), or for an
    exported one (`model.onnx`, run by onnxruntime)."""
    from transformers import pipeline

    from .onnx import is_onnx_folder, onnx_text_classification_pipeline

    if Path(model_name_or_path).is_dir() and is_onnx_folder(model_name_or_path):
        return onnx_text_classification_pipeline(
            model_name_or_path, pipeline_class=LengthSortedTextClassificationPipeline, **pipeline_kwargs
        )
    if _model_type(model_name_or_path) == "awd_lstm_int8":
        device = "cpu"  # PyTorch's int8 LSTM kernels run on the CPU only
    return pipeline(
        "text-classification",
        model=model_name_or_path,
        device=device,
        pipeline_class=LengthSortedTextClassificationPipeline,
        **pipeline_kwargs,
    )
