"""Deployment formats: ONNX graphs run by onnxruntime (`onnx`)."""
