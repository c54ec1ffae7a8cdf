"""What benchmarks/claims.py runs and benchmarks/claims_report.py reports: the ladder's rows as recipes of the
stages' own arguments, the low-shot methods, sizes and from-scratch variants, the linear baseline's name, and the
paper's figures they are compared with."""

# LM fine-tuning without discriminative LRs or STLR (the paper's "Full"): every layer from the first step, one learning
# rate for all, held constant (a slanted triangle with ratio 1 is flat).
FULL_LM_FINETUNING = dict(
    discriminative_lr_factor=1.0, freeze_all_but_top_epochs=None, lr_schedule="slanted_triangular", stlr_ratio=1.0
)
# The ladder's classifiers train 5 epochs, train-classifier's default when their records were made (it is 12 since).
LADDER_EPOCHS = 5
# The paper's classifier recipe, pinned so that the ladder's "full ULMFiT" row stays the paper's method whatever the
# stage defaults become: gradual unfreezing (the stage's default from a pretrained encoder), discriminative LRs
# (each layer group 1/2.6 of the one above) and STLR (cut_frac 0.1, ratio 32).
PAPER_CLASSIFIER = dict(
    discriminative_lr_factor=2.6,
    lr_schedule="slanted_triangular",
    stlr_cut_frac=0.1,
    stlr_ratio=32.0,
    num_train_epochs=LADDER_EPOCHS,
)
# Classifier with gradual unfreezing but one constant learning rate for all groups (a triangle with ratio 1 is flat).
GRADUAL_UNFREEZING_ONLY = dict(
    discriminative_lr_factor=1.0, lr_schedule="slanted_triangular", stlr_ratio=1.0, num_train_epochs=LADDER_EPOCHS
)
# Not in the paper: gradual unfreezing and STLR, one peak LR for all groups (which of discr and STLR helps here).
GRADUAL_UNFREEZING_AND_STLR = dict(PAPER_CLASSIFIER, discriminative_lr_factor=1.0)


# The from-scratch row as recorded: the stage's pretrained-encoder defaults (lr 1e-2, 5 epochs, one direction) with
# the paper's factor 2.6, the pretrained LM's sizes and a unigram tokenizer trained on the task (same_size_as_lm).
LADDER_FROM_SCRATCH = dict(
    discriminative_lr_factor=2.6, learning_rate=1e-2, num_train_epochs=LADDER_EPOCHS, bidirectional=False
)


# "Last": a single stage that trains only the top layer group (the head) for the ladder's epochs.
HEAD_ONLY = dict(fit_schedule="per_stage", stage_epochs=[LADDER_EPOCHS], stage_trainable_groups=[1])


# name -> (the paper's label, the LM the classifier starts from, train-classifier arguments over its defaults).
# LMs: "finetuned" = finetune-lm from the pretrained LM with its defaults; "finetuned-full" = the same with
# FULL_LM_FINETUNING; "task-only" = pretrain on the task's text alone (no Wikipedia); "pretrained" = the pretrained LM
# itself; None = no LM (a classifier from scratch, with a tokenizer trained on the task).
LADDER_ROWS = {
    "ulmfit": ("full ULMFiT (Freez + discr + STLR)", "finetuned", PAPER_CLASSIFIER),
    "no-pretraining": (
        "no pretraining",
        "task-only",
        {"discriminative_lr_factor": 2.6, "num_train_epochs": LADDER_EPOCHS},
    ),
    "no-lm-finetuning": ("pretrained, no LM fine-tuning", "pretrained", PAPER_CLASSIFIER),
    "lm-full": ('LM fine-tuning without discr/STLR ("Full")', "finetuned-full", PAPER_CLASSIFIER),
    # Pinned to the recipe its records were made with (train-classifier's from-scratch defaults have changed since).
    "from-scratch": ("classifier from scratch", None, LADDER_FROM_SCRATCH),
    "last": ('classifier: only the head trained ("Last")', "finetuned", HEAD_ONLY),
    "freez": ('classifier: gradual unfreezing without discr/STLR ("Freez")', "finetuned", GRADUAL_UNFREEZING_ONLY),
    "freez-stlr": ("not in the paper: Freez + STLR, no discr", "finetuned", GRADUAL_UNFREEZING_AND_STLR),
}
# Howard & Ruder (2018), Tables 4, 6 and 7: validation error (%) on TREC-6, 10% of train held out.
PAPER_TREC_VALIDATION_ERROR = {
    "ulmfit": 5.69,
    "no-pretraining": 10.67,
    "no-lm-finetuning": 6.38,
    "lm-full": 6.54,
    "from-scratch": 13.36,
    "last": 16.09,
    "freez": 6.86,
}
PAPER_TEST_ERROR = {"trec": 3.6, "imdb": 4.6}
# Forward / backward / ensemble anchors: the paper's IMDb forward 5.30 and bidirectional 4.6 test error; fastai's book
# 94.3% forward and 95.1% forward+backward on IMDb.
PAPER_FWDBWD = {
    "imdb": "all 25k labels: paper 94.70 forward, 95.40 fwd+bwd (test error 5.30 / 4.6); fastai book 94.3 / 95.1",
    "trec": "paper: 96.4 (fwd+bwd, test error 3.6)",
}

LOWSHOT_METHODS = {
    "supervised": "ULMFiT, supervised (LM fine-tuned on the labelled texts only)",
    "semi-supervised": "ULMFiT, semi-supervised (LM fine-tuned on all the task's text)",
    "from-scratch": "classifier from scratch",
}
# A variant's settings that are not train-classifier's but the semi-supervised LM's: "texts", how many IMDb reviews it
# reads (--imdb-lm-texts), and finetune-lm's own arguments.
LM_SETTINGS = "language_model"


# What the from-scratch defaults were before they came to depend on the training size (2026-12-07): no label smoothing
# (now 0.1 from 1,000 examples) and fastai's dropouts (now twice them below 1,000).
BEFORE_SIZE_DEFAULTS = {"label_smoothing_factor": 0.0, "classifier_drop_mult": 0.5}


def as_first_run(settings: dict) -> dict:
    """A from-scratch variant measured before the size-dependent defaults: it pins what it ran with
    (`BEFORE_SIZE_DEFAULTS` where it set nothing else), so that its records keep meaning what they measured."""
    return {**settings, **{name: value for name, value in BEFORE_SIZE_DEFAULTS.items() if name not in settings}}


# Variants of a low-shot method (lowshot --recipe defaults only), measured on the same cells as the method itself:
# name -> (the method, its label, the train-classifier settings it changes from that method's defaults).
METHOD_VARIANTS = {
    # The from-scratch default before it depended on the size (2026-12-07): from 1,000 examples it differs from today's
    # by label smoothing, below by the dropout scale.
    "from-scratch-before-size-defaults": (
        "from-scratch",
        "no label smoothing, fastai's dropouts (the default before)",
        as_first_run({}),
    ),
    # The common variants of the from-scratch classifier, as a Keras/PyTorch tutorial user tries them.
    "from-scratch-gru": ("from-scratch", "GRU cells", as_first_run({"rnn_type": "gru"})),
    "from-scratch-unidirectional": ("from-scratch", "a forward-only encoder", as_first_run({"bidirectional": False})),
    "from-scratch-attention": ("from-scratch", "attention pooling", as_first_run({"pooling": "attention"})),
    # The forward-only encoder on today's default (its size rules included): with fastai's dropouts
    # (`from-scratch-unidirectional`) it was ahead of the bidirectional encoder at IMDb 100 on seeds 0 and 1.
    "from-scratch-forward-only": (
        "from-scratch",
        "a forward-only encoder, with the size rules",
        {"bidirectional": False},
    ),
    # Against overfitting 3,000 IMDb reviews: the classifier's dropouts x2 or x3 (fastai's x1 or x1.5, not x0.5), or
    # a vocabulary of the 10,000 most frequent words.
    "from-scratch-dropout-x2": ("from-scratch", "dropouts x2", as_first_run({"classifier_drop_mult": 1.0})),
    "from-scratch-dropout-x3": ("from-scratch", "dropouts x3", as_first_run({"classifier_drop_mult": 1.5})),
    "from-scratch-vocab-10k": ("from-scratch", "a 10,000-word vocabulary", as_first_run({"vocab_size": 10000})),
    # Fewer distinct words, and a stronger pull of the weights to zero (fastai's decay is 0.01).
    "from-scratch-lowercase": ("from-scratch", "lowercased text", as_first_run({"lowercase": True})),
    "from-scratch-weight-decay-0.1": ("from-scratch", "weight decay 0.1", as_first_run({"weight_decay": 0.1})),
    # A smaller step (the default is 3e-3; 1e-2 did worse on IMDb) and a smaller encoder, one layer instead of two.
    "from-scratch-lr-1e-3": ("from-scratch", "learning rate 1e-3", as_first_run({"learning_rate": 1e-3})),
    "from-scratch-one-layer": ("from-scratch", "one encoder layer", as_first_run({"num_layers": 1})),
    # A larger step, measured on IMDb 3,000 with the word-level recipe (3 seeds: 83.5 against the default's 83.8).
    "from-scratch-lr-1e-2": ("from-scratch", "learning rate 1e-2", as_first_run({"learning_rate": 1e-2})),
    # The embedding of the Keras and PyTorch tutorials' IMDb LSTMs (300 wide, as GloVe's) instead of 128.
    "from-scratch-embedding-300": ("from-scratch", "a 300-wide embedding", as_first_run({"embedding_size": 300})),
    # fp32 instead of the bf16 the stage's probe may choose: a review is up to 1,440 steps of one recurrent state.
    "from-scratch-fp32": ("from-scratch", "fp32", as_first_run({"bf16": False})),
    # Less confident targets (the trained models give logits of +-5 to most reviews), and batches drawn at random
    # instead of grouped by length (a batch of only long or only short reviews).
    "from-scratch-label-smoothing": (
        "from-scratch",
        "label smoothing 0.1",
        as_first_run({"label_smoothing_factor": 0.1}),
    ),
    # Both of seed 0's best single changes on IMDb 3,000: label smoothing, and rarer words kept (seen twice in the
    # training text instead of 3 times; 15,683 words at 3).
    "from-scratch-label-smoothing-min-frequency-2": (
        "from-scratch",
        "label smoothing 0.1 and words seen twice kept",
        as_first_run({"label_smoothing_factor": 0.1, "min_frequency": 2}),
    ),
    # Label smoothing and dropouts x2, each ahead on IMDb 3,000 (seed 0), together.
    "from-scratch-label-smoothing-dropout-x2": (
        "from-scratch",
        "label smoothing 0.1 and dropouts x2",
        as_first_run({"label_smoothing_factor": 0.1, "classifier_drop_mult": 1.0}),
    ),
    # One encoder layer (as good as two on IMDb 3,000, seed 0, in a third of the time) with label smoothing.
    "from-scratch-one-layer-label-smoothing": (
        "from-scratch",
        "one encoder layer and label smoothing 0.1",
        as_first_run({"num_layers": 1, "label_smoothing_factor": 0.1}),
    ),
    # The mean of the weights over the run's last quarter or half of the steps in place of the last step's (the
    # AWD-LSTM's own optimizer averaged): validation accuracy swings by up to 29 points between epochs on IMDb.
    "from-scratch-average-last-quarter": (
        "from-scratch",
        "weights averaged over the last quarter",
        as_first_run({"average_weights_fraction": 0.25}),
    ),
    "from-scratch-average-last-half": (
        "from-scratch",
        "weights averaged over the last half",
        as_first_run({"average_weights_fraction": 0.5}),
    ),
    # Half the batch: twice the optimizer steps and noisier gradients, against a model that memorises 3,000 reviews.
    "from-scratch-batch-32": ("from-scratch", "batch 32", as_first_run({"per_device_train_batch_size": 32})),
    "from-scratch-random-batches": (
        "from-scratch",
        "random batches",
        as_first_run({"train_sampling_strategy": "random"}),
    ),
    # Subword pieces (unigram, 15,000) instead of whole words: an unseen word is still read as its pieces.
    "from-scratch-unigram": ("from-scratch", "a unigram tokenizer", as_first_run({"tokenizer_kind": "unigram"})),
    # Cross-entropy weighted by inverse class frequency (`--class_weights balanced`), on TREC-6's uneven classes
    # (IMDb's cells are balanced, where it changes nothing).
    "from-scratch-balanced-classes": ("from-scratch", "class weights balanced", {"class_weights": "balanced"}),
    # Twice the default's label smoothing (0.1 from 1,000 examples): on IMDb 3,000, 0.1 gained 1.0 point over none
    # (3 seeds) and the smoothed default is still 3.3 points under the baseline.
    "from-scratch-label-smoothing-0.2": ("from-scratch", "label smoothing 0.2", {"label_smoothing_factor": 0.2}),
    # The epoch whose model scores best on validation, not the last (validation accuracy peaks and falls on IMDb).
    "from-scratch-best-epoch": (
        "from-scratch",
        "the best epoch on validation",
        as_first_run({"load_best_model_at_end": True, "metric_for_best_model": "accuracy", "save_strategy": "epoch"}),
    ),
    # ULMFiT's training length. The default is 12 epochs since 2026-12-07: the whole model trains for 8 epochs once
    # the unfreezing is over. 5 epochs (the default before) left it 1; so did at least 500 optimizer steps instead of
    # 200 on top of them (the stretch keeps the unfreezing in place).
    "supervised-5-epochs": ("supervised", "5 epochs (the default before)", {"num_train_epochs": 5}),
    "semi-supervised-5-epochs": ("semi-supervised", "5 epochs (the default before)", {"num_train_epochs": 5}),
    "supervised-5-epochs-500-steps": (
        "supervised",
        "5 epochs, at least 500 steps",
        {"num_train_epochs": 5, "min_train_steps": 500},
    ),
    "semi-supervised-5-epochs-500-steps": (
        "semi-supervised",
        "5 epochs, at least 500 steps",
        {"num_train_epochs": 5, "min_train_steps": 500},
    ),
    # The dropout scale of the classifier over a pretrained encoder: fastai's 0.5 was set for its 400/1150 LM, and the
    # shared LM is 192/576 (a smaller network usually wants less dropout).
    "semi-supervised-dropout-half": (
        "semi-supervised",
        "dropouts x0.5",
        {"classifier_drop_mult": 0.25},
    ),
    "semi-supervised-dropout-x2": ("semi-supervised", "dropouts x2", {"classifier_drop_mult": 1.0}),
    "supervised-dropout-x2": ("supervised", "dropouts x2", {"classifier_drop_mult": 1.0}),
    # The semi-supervised LM's text (IMDb): 5,000 reviews from train and the unlabelled 50k instead of
    # --imdb-lm-texts' 1,000 (the paper fine-tunes on all 100k texts; finetune-lm's 2 epochs over them, 27 minutes).
    "semi-supervised-lm-5000-reviews": (
        "semi-supervised",
        "LM fine-tuned on 5,000 reviews, not 1,000",
        {LM_SETTINGS: {"texts": 5000}},
    ),
    # The LM's tokenizer gains the reviews' frequent words it splits (32% of the words that decide IMDb) as whole-word
    # pieces, each starting from its pieces' mean embedding.
    "semi-supervised-whole-words": (
        "semi-supervised",
        "the reviews' frequent split words added as whole pieces",
        {LM_SETTINGS: {"extend_subword_vocabulary": True}},
    ),
}


def variant_settings(name: str) -> tuple[str, dict, dict]:
    """A low-shot method or variant by name: its method, the train-classifier settings it changes and the
    semi-supervised LM's (`LM_SETTINGS`: "texts" and finetune-lm arguments)."""
    method, _, changes = METHOD_VARIANTS.get(name, (name, "", {}))
    classifier = {setting: value for setting, value in changes.items() if setting != LM_SETTINGS}
    return method, classifier, dict(changes.get(LM_SETTINGS, {}))


def variants_of(method: str) -> dict[str, tuple[str, dict]]:
    """The variants of `method`: name -> (label, the settings it changes)."""
    return {name: (label, flags) for name, (base, label, flags) in METHOD_VARIANTS.items() if base == method}


FROM_SCRATCH_VARIANTS = variants_of("from-scratch")
LOWSHOT_SIZES = ["100", "300", "1000", "3000", "all"]
# lowshot --recipe: "paper" pins each method to its ladder row's recipe (the paper's classifier, the old from-scratch
# recipe); "defaults" runs train-classifier with its own defaults, as a user of the CLI gets them. The records of
# each go to their own experiment (folder) so that the report shows them side by side.
LOWSHOT_EXPERIMENT = {"paper": "lowshot", "defaults": "lowshot-defaults"}
# IMDb classifiers on a CPU budget: the final evaluation only (a review is ~400 tokens), and batches of 16, so that the
# stage's 200 optimizer steps at least (--min_train_steps) read 3,200 reviews, not 12,800 (21 minutes at 1 thread).
IMDB_CLASSIFIER = {"eval_strategy": "no", "per_device_train_batch_size": 16}

# --quick: every stage on a tiny slice for a few optimizer steps (a smoke test of the whole command, not a result).
QUICK_SETTINGS = dict(
    max_train_samples=160,
    max_eval_samples=48,
    max_steps=3,
    eval_strategy="no",
    per_device_train_batch_size=8,
    per_device_eval_batch_size=32,
)
QUICK_TEST_ROWS = 48  # test rows of the materialised low-shot folders in --quick

LINEAR_BASELINE = "TF-IDF (word 1-2-grams + char 2-5-grams) + logistic regression, C chosen on validation"
