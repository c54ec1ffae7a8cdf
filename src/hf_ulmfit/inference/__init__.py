"""Classification and generation from saved folders: the length-sorted, token-budgeted pipeline (`pipelines`) that
`hf-ulmfit predict` and `hf-ulmfit evaluate` classify through, over PyTorch (fp32, int8) or ONNX folders, and the
onnxruntime models of exported graphs (`onnx_runtime`)."""
