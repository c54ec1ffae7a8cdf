"""Dataclass arguments shared by the stages, in the shape of transformers' `run_*.py` examples."""

from dataclasses import dataclass, field

from ..argument_limits import check_limits
from ..data.columns import text_columns
from ..data.targets import MULTI_LABEL, PROBLEM_TYPES, SINGLE_LABEL


@dataclass
class DataArguments:
    dataset: str = field(
        default="trec",
        metadata={
            "help": "A named dataset (imdb, trec, sms_spam, names, wikipedia, wikitext-2, wikitext-103) or a "
            "CSV/JSON/Parquet/text file or folder."
        },
    )
    data_dir: str | None = field(default=None, metadata={"help": "Folder of the named datasets ($HF_ULMFIT_DATA)."})
    text_column: list[str] = field(
        default_factory=lambda: ["text"],
        metadata={
            "help": "Column(s) holding the text. Several (`--text_column subject body` or `subject,body`) are "
            "joined into one text, each field starting with the marker xxfld."
        },
    )
    label_column: str | None = field(
        default=None,
        metadata={
            "help": "Column holding the label (dataset default): a class, a list of labels or labels joined by "
            "--label_separator (multi-label), or a number (regression)."
        },
    )
    problem_type: str | None = field(
        default=None,
        metadata={
            "help": "What the classifier learns: one class per text, several labels per text (BCE, a decision "
            "threshold chosen on validation) or a number (MSE). Default: multi-label when --label_columns or "
            "--label_separator is given, else single-label; a saved classifier's own when evaluating.",
            "choices": list(PROBLEM_TYPES),
        },
    )
    label_columns: list[str] | None = field(
        default=None,
        metadata={"help": "Multi-label: several 0/1 columns, one per label (`--label_columns sports politics`)."},
    )
    label_separator: str | None = field(
        default=None, metadata={"help": "Multi-label: the separator of the labels in a string column ('|')."}
    )
    validation_size: float = field(
        default=0.1,
        metadata={"help": "Fraction of train held out for validation when the data has no validation split."},
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={"help": "Use N training rows drawn at random (seeded by --split_seed), kept in the data's order."},
    )
    max_eval_samples: int | None = field(
        default=None,
        metadata={"help": "Use N rows of each validation/test split, drawn alike (seeded by --split_seed)."},
    )
    max_files: int | None = field(default=None, metadata={"help": "Read only the first N files (Wikipedia shards)."})
    num_proc: int | None = field(default=None, metadata={"help": "Processes for tokenisation."})
    split_seed: int = field(default=42, metadata={"help": "Seed of the splits."})

    def __post_init__(self):
        check_limits(self)
        self.text_column = text_columns(self.text_column)
        if self.label_columns and self.label_column:
            raise ValueError("Give --label_column or --label_columns, not both.")
        if self.label_columns or self.label_separator:
            if self.problem_type not in (None, MULTI_LABEL):
                raise ValueError(
                    f"--label_columns and --label_separator are multi-label flags: drop them or "
                    f"--problem_type {self.problem_type}."
                )
            self.problem_type = MULTI_LABEL
        size = self.validation_size
        if not (0 < size < 1 or size >= 1 and float(size).is_integer()):
            raise ValueError(f"--validation_size must be a fraction in (0, 1) or a row count >= 1, got {size}.")

    @property
    def target_kind(self) -> str:
        """The problem type these arguments ask for (single-label unless told or implied otherwise)."""
        return self.problem_type or SINGLE_LABEL


@dataclass
class TokenizerArguments:
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "An existing tokenizer folder; otherwise one is trained on the training text."}
    )
    tokenizer_kind: str = field(
        default="unigram", metadata={"help": "Kind of tokenizer to train.", "choices": ["unigram", "word", "char"]}
    )
    vocab_size: int | None = field(default=None, metadata={"help": "Vocabulary size (default per kind)."})
    min_frequency: int | None = field(
        default=None,
        metadata={
            "help": "word and char tokenizers: keep tokens seen at least this many times in the training text "
            "(default: word 3, as fastai's min_freq; char 1). A unigram vocabulary is sized by --vocab_size."
        },
    )
    lowercase: bool = field(default=False, metadata={"help": "Lowercase all text."})
    tokenizer_train_lines: int | None = field(
        default=None,
        metadata={
            "help": "Train the tokenizer on a random sample of this many lines of the training text, seeded by "
            "--seed (default: 28,000 for unigram, whose training time grows with the text it sees; all "
            "text for word and char); 0 = all text."
        },
    )

    def __post_init__(self):
        check_limits(self)


@dataclass
class ModelArguments:
    embedding_size: int = field(default=400, metadata={"help": "Embedding width (and last LSTM width)."})
    hidden_size: int = field(default=1152, metadata={"help": "Inner LSTM width."})
    num_layers: int = field(default=3, metadata={"help": "Number of LSTM layers."})
    drop_mult: float = field(default=1.0, metadata={"help": "Multiplier of all AWD-LSTM dropouts."})
    backwards: bool = field(default=False, metadata={"help": "Train a backward model (reads text from its end)."})
    rnn_type: str = field(
        default="lstm",
        metadata={
            "choices": ["lstm", "qrnn", "gru"],
            "help": "Recurrent cell: lstm (AWD-LSTM), qrnn (AWD-QRNN, as fastai's AWD_QRNN and MultiFiT, which used "
            "--num_layers 4 --hidden_size 1550) or gru (a GRU with the same dropouts); see the README for which to "
            "pick.",
        },
    )
    bidirectional: bool = field(
        default=False,
        metadata={
            "help": "Classifier trained from scratch: a second encoder reads each document from its end, the head "
            "sees both directions."
        },
    )

    def __post_init__(self):
        check_limits(self)
