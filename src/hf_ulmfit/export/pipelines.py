"""One entry point for classification pipelines over any saved form of a classifier (PyTorch folder or ONNX)."""

from pathlib import Path


def text_classification_pipeline(model_name_or_path: str, device=None, **pipeline_kwargs):
    """`pipeline("text-classification")` for a saved classifier folder, or for an exported one (`model.onnx`)."""
    from .onnx import is_onnx_folder, onnx_text_classification_pipeline

    if Path(model_name_or_path).is_dir() and is_onnx_folder(model_name_or_path):
        return onnx_text_classification_pipeline(model_name_or_path, **pipeline_kwargs)
    from transformers import pipeline

    return pipeline("text-classification", model=model_name_or_path, device=device, **pipeline_kwargs)
