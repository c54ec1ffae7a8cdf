"""`hf-ulmfit export`: a saved classifier or language model as an ONNX graph for onnxruntime, or an int8 classifier."""

from dataclasses import dataclass, field


@dataclass
class ExportArguments:
    model_name_or_path: str = field(metadata={"help": "A saved classifier or language model folder."})
    output_dir: str = field(metadata={"help": "Folder for model.onnx, the config and the tokenizer."})
    format: str = field(
        default="onnx",
        metadata={
            "help": "onnx (classifier or LM, for onnxruntime), onnx-int8 (the same graph quantized by onnxruntime: "
            "int8 LSTMs, head and embedding) or int8 (a PyTorch classifier with int8 LSTMs and embedding, loaded by "
            "from_pretrained and pipeline)."
        },
    )
    opset: int = field(default=17, metadata={"help": "ONNX opset version."})


FORMATS = ("onnx", "onnx-int8", "int8")


def run(args: ExportArguments) -> str:
    if args.format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    if args.format == "int8":
        from .int8 import save_int8_classifier

        save_int8_classifier(args.model_name_or_path, args.output_dir)
        path = args.output_dir
    elif args.format == "onnx-int8":
        from .onnx import export_to_onnx_int8

        path = export_to_onnx_int8(args.model_name_or_path, args.output_dir, opset=args.opset)
    else:
        from .onnx import export_to_onnx

        path = export_to_onnx(args.model_name_or_path, args.output_dir, opset=args.opset)
    print(f"exported {args.model_name_or_path} to {path} ({args.format})")
    return str(path)
