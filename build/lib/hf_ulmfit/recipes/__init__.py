"""The three ULMFiT stages and the commands around them, as library functions the CLI calls.

Each stage takes dataclass arguments (parsed by `HfArgumentParser` in the CLI) and writes a folder that
`from_pretrained` and `pipeline` load: model (safetensors + remote code), tokenizer, model card, run record.
"""
