"""hf-ulmfit: ULMFiT and the AWD-LSTM as native Hugging Face transformers models."""
