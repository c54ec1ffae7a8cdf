"""Command-line flags the CLI tests share: a tiny model, and training that saves nothing, logs nothing, runs on the
CPU and takes its epochs as given (tiny slices would otherwise be stretched to the stages' --min_train_steps).
Imported by the test files (tests/ is on sys.path under pytest's default import mode)."""

TINY_MODEL = ["--embedding_size", "16", "--hidden_size", "32"]
QUICK_TRAINING = [
    "--per_device_train_batch_size",
    "16",
    "--per_device_eval_batch_size",
    "32",
    "--save_strategy",
    "no",
    "--disable_tqdm",
    "true",
    "--report_to",
    "none",
    "--use_cpu",
    "true",
    "--min_train_steps",
    "0",
]
