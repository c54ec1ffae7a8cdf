"""`hf-ulmfit export`: a saved classifier or language model as an ONNX graph for onnxruntime, or an int8 classifier."""

from dataclasses import dataclass, field

from ..argument_limits import check_limits


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
    opset: int = field(
        default=18,
        metadata={
            "help": "ONNX opset version. From torch 2.15, 18 or above exports with torch's dynamo exporter; below "
            "18 (or an older torch), with its TorchScript exporter."
        },
    )

    def __post_init__(self):
        check_limits(self)


FORMATS = ("onnx", "onnx-int8", "int8")


def check_export_paths(args: ExportArguments) -> None:
    """The source must be a readable, finite model folder, and the export must not land in it: writing the int8 or
    ONNX files over the source would replace its fp32 weights while its README and run record still describe them."""
    from pathlib import Path

    from ..recipes.checks import check_finite_weights_files, check_weights_files, require_model_folder

    require_model_folder(args.model_name_or_path, "model")
    source, output = Path(args.model_name_or_path), Path(args.output_dir)
    if source.is_dir() and output.exists() and output.resolve() == source.resolve():
        raise ValueError(
            f"--output_dir {args.output_dir} is the model folder itself: the export would overwrite its weights. "
            "Pass another --output_dir."
        )
    check_weights_files(args.model_name_or_path)
    check_finite_weights_files(args.model_name_or_path)


def run(args: ExportArguments) -> str:
    if args.format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    if args.opset < 1:
        raise ValueError(f"--opset must be a positive ONNX opset version, got {args.opset}.")
    check_export_paths(args)
    if args.format == "int8":
        from ..export.int8 import save_int8_classifier

        save_int8_classifier(args.model_name_or_path, args.output_dir)
        path = args.output_dir
    elif args.format == "onnx-int8":
        from ..export.onnx import export_to_onnx_int8

        path = export_to_onnx_int8(args.model_name_or_path, args.output_dir, opset=args.opset)
    else:
        from ..export.onnx import export_to_onnx

        path = export_to_onnx(args.model_name_or_path, args.output_dir, opset=args.opset)
    print(f"exported {args.model_name_or_path} to {path} ({args.format})")
    return str(path)
