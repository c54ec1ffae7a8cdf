"""`hf-ulmfit export`: a saved classifier or language model as an ONNX graph for onnxruntime."""

from dataclasses import dataclass, field


@dataclass
class ExportArguments:
    model_name_or_path: str = field(metadata={"help": "A saved classifier or language model folder."})
    output_dir: str = field(metadata={"help": "Folder for model.onnx, the config and the tokenizer."})
    opset: int = field(default=17, metadata={"help": "ONNX opset version."})


def run(args: ExportArguments) -> str:
    from .onnx import export_to_onnx

    path = export_to_onnx(args.model_name_or_path, args.output_dir, opset=args.opset)
    print(f"exported {args.model_name_or_path} to {path}")
    return str(path)
