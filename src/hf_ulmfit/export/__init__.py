"""Deployment formats: ONNX graphs for onnxruntime (`onnx`) and the int8 PyTorch classifier (`int8`). What runs the
exported graphs is in `hf_ulmfit.inference`."""
