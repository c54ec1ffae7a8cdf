"""The one classification path: `pipeline("text-classification")` over any saved form of a classifier (PyTorch fp32
or int8 folder, or ONNX), with the documents of a list batched by length. `hf-ulmfit predict`, `hf-ulmfit evaluate`
and a user's `text_classification_pipeline(folder)` all classify through `LengthSortedTextClassificationPipeline`,
so they give the same scores for the same texts."""

import logging
import math
from pathlib import Path

from transformers import TextClassificationPipeline

from ..quiet_logging import quiet_loggers
from ..saved_folders import INT8_CLASSIFIER, folder_kind


def length_batches(lengths: list[int], batch_size: int, max_batch_tokens: float = math.inf) -> list[list[int]]:
    """Row indices in batches of similar length, longest first: at most `batch_size` rows and `max_batch_tokens`
    padded tokens (rows x longest) per batch; a row longer than the budget gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches, batch = [], []
    for index in order:
        if batch and (len(batch) == batch_size or (len(batch) + 1) * lengths[batch[0]] > max_batch_tokens):
            batches.append(batch)
            batch = []
        batch.append(index)
    return batches + [batch] if batch else batches


class LengthSortedTextClassificationPipeline(TextClassificationPipeline):
    """`pipeline("text-classification")` that batches a list's documents in order of length and returns the results
    in the order given. Batches of similar lengths carry little padding, which an LSTM would otherwise run over;
    the AWD-LSTM's logits do not depend on padding, so the results are those of the unsorted call.

    ``max_batch_tokens`` (a call argument) also caps each batch's padded tokens (documents x the longest), so one
    very long document runs alone instead of making every row of its batch as long."""

    def __call__(self, inputs, *args, max_batch_tokens: int | None = None, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2 or not all(isinstance(t, str) for t in inputs):
            return super().__call__(inputs, *args, **kwargs)
        batch_size = kwargs.pop("batch_size", None) or self._batch_size or 1
        if max_batch_tokens:
            lengths = [len(ids) for ids in self.tokenizer(list(inputs), return_attention_mask=False)["input_ids"]]
        else:  # characters stand in for tokens: the order only needs to be roughly right, and costs no tokenising
            lengths = [len(text) for text in inputs]
        outputs = [None] * len(inputs)
        for batch in length_batches(lengths, batch_size, max_batch_tokens or math.inf):
            results = super().__call__([inputs[index] for index in batch], *args, batch_size=len(batch), **kwargs)
            for index, result in zip(batch, results):
                outputs[index] = result
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


def text_classification_pipeline(model_name_or_path: str, device=None, **pipeline_kwargs):
    """A length-sorted text-classification pipeline for a saved classifier folder (fp32 or int8), or for an
    exported one (`model.onnx`, run by onnxruntime)."""
    from transformers import AutoTokenizer, pipeline

    from .onnx_runtime import OnnxAwdLstmForSequenceClassification, is_onnx_folder

    if Path(model_name_or_path).is_dir() and is_onnx_folder(model_name_or_path):
        model = OnnxAwdLstmForSequenceClassification.from_pretrained(model_name_or_path)
        return pipeline_over(model, AutoTokenizer.from_pretrained(model_name_or_path), **pipeline_kwargs)
    if folder_kind(model_name_or_path)[0] == INT8_CLASSIFIER:
        device = "cpu"  # PyTorch's int8 LSTM kernels run on the CPU only
    return pipeline(
        "text-classification",
        model=model_name_or_path,
        device=device,
        pipeline_class=LengthSortedTextClassificationPipeline,
        **pipeline_kwargs,
    )


def pipeline_over(model, tokenizer, **pipeline_kwargs) -> LengthSortedTextClassificationPipeline:
    """The length-sorted pipeline over a classifier already loaded (and checked), on the model's device."""
    from transformers import pipeline

    # The pipeline logs an error for a model class it does not know by name (the onnxruntime classifier); the
    # classifiers given here all have the interface it needs.
    with quiet_loggers("transformers.pipelines.base", level=logging.CRITICAL):
        return pipeline(
            "text-classification",
            model=model,
            tokenizer=tokenizer,
            device=model.device,
            pipeline_class=LengthSortedTextClassificationPipeline,
            **pipeline_kwargs,
        )
