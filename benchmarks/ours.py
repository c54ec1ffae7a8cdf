"""hf-ulmfit's side of the benchmarks (project venv; never imports fastai).

Each subcommand measures one thing in a fresh process and writes one JSON file; `run_all.py` alternates these runs
with `fastai_side.py`'s and `report.py` turns the JSON files into RESULTS.md. `prepare` writes the inputs both sides
share (token streams, texts, long documents) and is not timed.

Training and inference (lm_throughput, classify, generate, accuracy) run on CUDA when a GPU is present, as the
stages do, unless `--use-cpu` is given; the machine measurements (matmul_peak, lstm_kernels), memory (peak RSS of
the process) and tokenize (Rust, CPU) measure the CPU.
"""

import json
import time

import numpy as np
import torch

from benchmarks.bench_utils import (
    BATCH_SIZE,
    BPTT,
    DATA,
    EMBEDDING_SIZE,
    HIDDEN_SIZE,
    NUM_LAYERS,
    PREPARED,
    Stopwatch,
    TrainingClock,
    articles_with_words,
    curve_point,
    held_out_summary,
    held_out_texts,
    imdb_tokenize_frame,
    matmul_gflops,
    native_bf16,
    peak_memory_result,
    run_subcommand,
    steady_step_seconds,
    training_articles,
    trec_questions,
    words_in,
    write_result,
)


def benchmark_device(args) -> torch.device:
    """CUDA when present (as the Trainer and the stages choose), unless --use-cpu."""
    return torch.device("cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu")


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timestamp marks the end of the work it follows."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def imdb_texts(split: str) -> list[str]:
    import pandas as pd

    return pd.read_parquet(DATA / "imdb" / f"{split}.parquet")["text"].tolist()


def standard_config(vocab_size: int, **overrides):
    from hf_ulmfit import AwdLstmConfig

    sizes = dict(embedding_size=EMBEDDING_SIZE, hidden_size=HIDDEN_SIZE, num_layers=NUM_LAYERS, bptt=BPTT)
    return AwdLstmConfig(vocab_size=vocab_size, **{**sizes, **overrides})


# ---------------------------------------------------------------------------------------------------------------------
# prepare: shared inputs (not timed)
# ---------------------------------------------------------------------------------------------------------------------


def prepare(args):
    from hf_ulmfit import AwdLstmForCausalLM, AwdLstmForSequenceClassification
    from hf_ulmfit.tokenization import train_tokenizer

    PREPARED.mkdir(parents=True, exist_ok=True)
    train = imdb_texts("train")
    timings = {}
    word_dir = PREPARED / "tokenizer_word"
    if not (word_dir / "tokenizer.json").exists():
        with Stopwatch() as watch:
            tokenizer = train_tokenizer(train, kind="word", vocab_size=60_000)
        tokenizer.save_pretrained(word_dir)
        timings["train_word_tokenizer_s"] = watch.seconds
    unigram_dir = PREPARED / "tokenizer_unigram"
    if not (unigram_dir / "tokenizer.json").exists():
        with Stopwatch() as watch:
            unigram = train_tokenizer(train[:10_000], kind="unigram", vocab_size=15_000)
        unigram.save_pretrained(unigram_dir)
        timings["train_unigram_tokenizer_s"] = watch.seconds

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(word_dir)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train))
    # LM batches: 3,000 shuffled training reviews (about 0.9M tokens), tokenised once; both sides read these ids.
    lm_docs = tokenizer([train[i] for i in order[:3000]])["input_ids"]
    lengths = np.array([len(d) for d in lm_docs])
    np.save(PREPARED / "lm_tokens.npy", np.concatenate([np.asarray(d, dtype=np.int32) for d in lm_docs]))
    np.save(PREPARED / "lm_lengths.npy", lengths)

    test = imdb_texts("test")
    test_order = rng.permutation(len(test))
    (PREPARED / "classify_texts.json").write_text(json.dumps([test[i] for i in test_order[:2000]]))

    # One long stream of real ids for the memory benchmark (documents up to 100k tokens).
    stream, total = [], 0
    for i in test_order[2000:]:
        ids = tokenizer(test[i])["input_ids"]
        stream.append(np.asarray(ids, dtype=np.int64))
        total += len(ids)
        if total >= 100_000:
            break
    np.save(PREPARED / "long_document.npy", np.concatenate(stream)[:100_000])

    # A 50-token prompt (by our word tokenizer, xxbos included) from a test review.
    words = test[test_order[-1]].split()
    for n_words in range(10, len(words)):
        prompt = " ".join(words[:n_words])
        if len(tokenizer(prompt)["input_ids"]) >= 50:
            break
    (PREPARED / "prompt.json").write_text(
        json.dumps({"text": prompt, "ours_tokens": len(tokenizer(prompt)["input_ids"])})
    )

    torch.manual_seed(0)
    classifier = AwdLstmForSequenceClassification(
        standard_config(60_000, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    )
    classifier.save_pretrained(PREPARED / "ours_classifier")
    tokenizer.save_pretrained(PREPARED / "ours_classifier")
    lm = AwdLstmForCausalLM(standard_config(60_000))
    lm.save_pretrained(PREPARED / "ours_lm")
    tokenizer.save_pretrained(PREPARED / "ours_lm")
    write_result(args.out, {"side": "ours", "bench": "prepare", **timings, "lm_tokens": int(lengths.sum())})


def lm_documents(vocab_size: int) -> list[np.ndarray]:
    """The shared LM token stream split into its documents; ids outside the vocabulary become xxunk (0)."""
    tokens = np.load(PREPARED / "lm_tokens.npy").astype(np.int64)
    tokens[tokens >= vocab_size] = 0
    return np.split(tokens, np.cumsum(np.load(PREPARED / "lm_lengths.npy"))[:-1])


# ---------------------------------------------------------------------------------------------------------------------
# (g) matmul peak
# ---------------------------------------------------------------------------------------------------------------------


def matmul_peak(args):
    result = {"side": "machine", "bench": "matmul_peak", "threads": torch.get_num_threads()}
    for dtype, n in ((torch.float32, 2048), (torch.bfloat16, 1024)):  # bf16 is emulated (slow) without AVX512-BF16
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.matmul(a, b)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
        result[f"{str(dtype).split('.')[-1]}_gflops"] = max(rates)
        result[f"{str(dtype).split('.')[-1]}_gflops_all"] = rates
    result["avx512_bf16"] = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    result["amx_tile"] = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    result["torch"] = torch.__version__
    write_result(args.out, result)


def lstm_kernels(args):
    """PyTorch's CPU LSTM kernels (both libraries call the same `torch.lstm`): oneDNN (default) vs native, per call."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(HIDDEN_SIZE, HIDDEN_SIZE, batch_first=True).eval()
    result = {"side": "machine", "bench": "lstm_kernels", "hidden": HIDDEN_SIZE, "ms_per_call": {}}
    with torch.no_grad():
        for batch, steps in ((1, 1), (1, BPTT), (BATCH_SIZE, BPTT)):
            x = torch.randn(batch, steps, HIDDEN_SIZE)
            for enabled in (True, False):
                with torch.backends.mkldnn.flags(enabled=enabled, allow_tf32=None):  # None: leave TF32 as it is
                    lstm(x)
                    times = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        lstm(x)
                        times.append(time.perf_counter() - start)
                key = f"batch {batch} x {steps} steps, {'oneDNN' if enabled else 'native'}"
                result["ms_per_call"][key] = 1000 * sorted(times)[len(times) // 2]
    write_result(args.out, result)


# ---------------------------------------------------------------------------------------------------------------------
# (a) language-model training throughput
# ---------------------------------------------------------------------------------------------------------------------


def lm_throughput(args):
    import datasets
    import transformers
    from transformers import TrainerCallback

    import hf_ulmfit
    from hf_ulmfit import AwdLstmForCausalLM
    from hf_ulmfit.training import LanguageModelTrainer, UlmfitTrainingArguments

    docs = lm_documents(args.vocab)
    torch.manual_seed(args.seed)
    model = AwdLstmForCausalLM(standard_config(args.vocab))
    steps = args.warmup + args.steps
    timestamps = []
    device = benchmark_device(args)

    class StepClock(TrainerCallback):
        def on_step_end(self, *_, **__):
            synchronize(device)
            timestamps.append(time.perf_counter())

        def on_train_begin(self, *_, **__):
            timestamps.append(time.perf_counter())

    training_args = UlmfitTrainingArguments(
        output_dir=str(PREPARED.parent / "trainer_scratch"),
        max_steps=steps,
        per_device_train_batch_size=BATCH_SIZE,
        bptt=BPTT,
        learning_rate=1e-3,
        lr_schedule="one_cycle",
        use_cpu=device.type == "cpu",
        bf16=args.bf16,
        max_grad_norm=0.0,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=args.seed,
    )
    train_dataset = datasets.Dataset.from_dict({"input_ids": [d.tolist() for d in docs]})
    trainer = LanguageModelTrainer(
        model=model, args=training_args, train_dataset=train_dataset, callbacks=[StepClock()]
    )
    trainer.train()
    seconds = steady_step_seconds(timestamps, args.warmup + 1)  # the first timestamp is train begin
    peak_here = matmul_gflops(torch) if device.type == "cpu" else None  # the CPU's peak; no share on a GPU
    tokens_per_step = BATCH_SIZE * BPTT
    write_result(
        args.out,
        {
            "side": "ours",
            "bench": "lm_throughput",
            "vocab": args.vocab,
            "precision": "bf16" if args.bf16 else "fp32",
            "device": str(trainer.args.device),
            "step_seconds": seconds,
            "tokens_per_step": tokens_per_step,
            "tokens_per_second": [tokens_per_step / s for s in seconds],
            "matmul_fp32_gflops_here": peak_here,
            "how": "LanguageModelTrainer (AdamW, AR/TAR, carried state), steps timed end to end incl. batching",
            "versions": {
                "hf_ulmfit": hf_ulmfit.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# (b) classifier inference
# ---------------------------------------------------------------------------------------------------------------------


def classifier_forms(device: torch.device) -> dict[str, tuple[str, dict]]:
    """The saved forms of the prepared classifier a user can deploy through `pipeline`, with the keyword arguments
    the pipeline takes for each: fp32; bf16 where the device computes it natively; int8 and ONNX on the CPU."""
    from hf_ulmfit.export.int8 import save_int8_classifier
    from hf_ulmfit.export.onnx import export_to_onnx

    folder = PREPARED / "ours_classifier"
    forms = {"fp32": (str(folder), {})}
    if native_bf16(use_cpu=device.type == "cpu"):
        forms["bf16"] = (str(folder), {"dtype": torch.bfloat16})
    if device.type == "cpu":
        for name, export in (("int8", save_int8_classifier), ("onnx", export_to_onnx)):
            target = PREPARED / f"ours_classifier_{name}"
            if not target.exists():
                export(str(folder), str(target))
            forms[name] = (str(target), {"threads": torch.get_num_threads()} if name == "onnx" else {})
    return forms


def classify(args):
    """(b) Text in, probabilities out, through `pipeline("text-classification")` for every deployable form:
    IMDb test reviews batched in the order given (the pipeline batches them by length inside), and TREC-6 questions
    one at a time, with where a question's time goes (tokenizer, model forward, the rest of the pipeline)."""
    import transformers
    from transformers import pipeline

    import hf_ulmfit  # also registers the Auto classes the pipeline needs
    from hf_ulmfit.inference.pipelines import text_classification_pipeline

    texts = json.loads((PREPARED / "classify_texts.json").read_text())[: args.n]
    questions = trec_questions(args.n_single)
    device = benchmark_device(args)
    result = {
        "side": "ours",
        "bench": "classify",
        "n": len(texts),
        "batch_size": args.batch_size,
        "device": str(device),
        "n_single": len(questions),
        "forms": {},
    }
    plain = pipeline("text-classification", model=str(PREPARED / "ours_classifier"), device=device)
    plain(texts[:8], batch_size=args.batch_size)  # warm-up: oneDNN primitives, lazy imports
    with Stopwatch() as watch:
        assert len(plain(texts, batch_size=args.batch_size)) == len(texts)
    result["plain_pipeline_seconds"] = watch.seconds  # transformers' own pipeline class: batches in the order given
    for name, (folder, pipeline_kwargs) in classifier_forms(device).items():
        classify_ = text_classification_pipeline(folder, device=device, **pipeline_kwargs)
        classify_(texts[:8], batch_size=args.batch_size)
        with Stopwatch() as watch:
            assert len(classify_(texts, batch_size=args.batch_size)) == len(texts)
        form = {"batched_seconds": watch.seconds}
        classify_(questions[0])
        form["single_ms"] = 1000 * median_seconds(classify_, questions)
        form["single_tokenizer_ms"] = 1000 * median_seconds(classify_.tokenizer, questions)
        if hasattr(classify_.model, "parameters"):  # a torch model (ONNX runs in onnxruntime inside the pipeline)
            encoded = [classify_.tokenizer(question, return_tensors="pt").to(device) for question in questions]
            with torch.inference_mode():
                form["single_model_ms"] = 1000 * median_seconds(lambda batch: classify_.model(**batch), encoded)
        result["forms"][name] = form
    result["question_tokens_median"] = float(np.median([len(plain.tokenizer(q)["input_ids"]) for q in questions]))
    result["versions"] = {
        "hf_ulmfit": hf_ulmfit.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    write_result(args.out, result)


def median_seconds(function, inputs) -> float:
    """Median seconds of `function(item)` over the items, each call timed on its own."""
    durations = []
    for item in inputs:
        start = time.perf_counter()
        function(item)
        durations.append(time.perf_counter() - start)
    return float(np.median(durations))


# ---------------------------------------------------------------------------------------------------------------------
# (c) generation
# ---------------------------------------------------------------------------------------------------------------------


def generate(args):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import hf_ulmfit  # noqa: F401

    torch.backends.mkldnn.enabled = not args.no_mkldnn
    prompt = json.loads((PREPARED / "prompt.json").read_text())["text"]
    tokenizer = AutoTokenizer.from_pretrained(PREPARED / "ours_lm")
    device = benchmark_device(args)
    model = AutoModelForCausalLM.from_pretrained(PREPARED / "ours_lm").eval().to(device)
    inputs = tokenizer(prompt, return_tensors="pt").to(device)
    model.generate(**inputs, max_new_tokens=5, do_sample=False)  # warm-up
    seconds = []
    for _ in range(args.repeats):
        with Stopwatch() as watch:
            output = model.generate(
                **inputs, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False
            )
            synchronize(device)
        seconds.append(watch.seconds)
    new_tokens = output.shape[1] - inputs["input_ids"].shape[1]
    assert new_tokens == args.new_tokens, new_tokens
    write_result(
        args.out,
        {
            "side": "ours",
            "bench": "generate",
            "prompt_tokens": inputs["input_ids"].shape[1],
            "new_tokens": new_tokens,
            "seconds": seconds,
            "how": "model.generate(max_new_tokens=N, min_new_tokens=N, do_sample=False), carried state",
            "mkldnn": not args.no_mkldnn,
            "device": str(device),
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# (d) peak memory on long documents
# ---------------------------------------------------------------------------------------------------------------------


def memory(args):
    from hf_ulmfit import AwdLstmForSequenceClassification

    torch.manual_seed(0)
    model = AwdLstmForSequenceClassification(standard_config(60_000, num_labels=2))
    document = torch.from_numpy(np.load(PREPARED / "long_document.npy")[: args.tokens])[None]
    labels = torch.tensor([1])
    result = peak_memory_result(
        "ours",
        args.mode,
        model,
        model.head,
        lambda ids: model(ids).logits,
        lambda ids: model(ids, labels=labels).loss,
        document,
    )
    write_result(args.out, result)


# ---------------------------------------------------------------------------------------------------------------------
# (e) tokenisation
# ---------------------------------------------------------------------------------------------------------------------


def tokenize(args):
    import datasets
    from transformers import AutoTokenizer

    from hf_ulmfit.data import tokenize_dataset

    frame = imdb_tokenize_frame(args.n)
    dataset = datasets.Dataset.from_pandas(frame, preserve_index=False)
    if args.kind == "fastai_compat":
        from hf_ulmfit.tokenization.fastai_compat import build_fastai_tokenizer

        tokenizer = build_fastai_tokenizer(json.loads((PREPARED / "fastai_vocab.json").read_text()))
    else:
        tokenizer = AutoTokenizer.from_pretrained(PREPARED / f"tokenizer_{args.kind}")
    with Stopwatch() as watch:
        tokenized = tokenize_dataset(dataset, tokenizer, keep_columns=(), load_from_cache_file=False)
    write_result(
        args.out,
        {
            "side": "ours",
            "bench": "tokenize",
            "kind": args.kind,
            "n": len(tokenized),
            "seconds": watch.seconds,
            "tokens": int(sum(tokenized["length"])),
            "how": "hf_ulmfit.data.tokenize_dataset (datasets.map, batched Rust tokenizer)",
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# (f) accuracy at an equal, small budget on TREC-6
# ---------------------------------------------------------------------------------------------------------------------

ACCURACY = PREPARED.parent / "accuracy"
SMALL_MODEL = {"embedding_size": 200, "hidden_size": 400, "num_layers": 3}


def training_arguments(output_dir, learning_rate, epochs, seed, use_cpu, **overrides):
    from hf_ulmfit.training import UlmfitTrainingArguments

    settings = dict(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        lr_schedule="one_cycle",
        per_device_train_batch_size=BATCH_SIZE,
        per_device_eval_batch_size=BATCH_SIZE,
        bptt=BPTT,
        use_cpu=use_cpu,
        max_grad_norm=0.0,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        seed=seed,
        dataloader_num_workers=0,
    )
    settings.update(overrides)
    return UlmfitTrainingArguments(**settings)


def accuracy(args):
    """The same recipe as fastai_side.py's, with the library's trainers, on the same token ids (fastai's tokenisation,
    made by `fastai_side.py prepare_accuracy`): fastai's `fit_one_cycle` per unfreezing stage is one `train()` with
    ``fit_schedule="per_stage"``, with the same epochs, learning rates (discriminative, factor 2.6) and trainable
    groups per stage, one-cycle schedule and Adam settings."""
    import datasets

    from hf_ulmfit import CLASSIFIER_DROPOUTS, AwdLstmConfig, AwdLstmForCausalLM, AwdLstmForSequenceClassification
    from hf_ulmfit.tokenization.fastai_compat import build_fastai_tokenizer
    from hf_ulmfit.training import ClassifierTrainer, LanguageModelTrainer

    data = np.load(ACCURACY / f"data_{args.wiki_tokens}.npz")
    vocab = [str(v) for v in data["vocab"]]
    tokenizer = build_fastai_tokenizer(vocab)  # only pads the classifier batches; the ids come from `data`

    def documents(name):
        return [d.tolist() for d in np.split(data[f"{name}_tokens"], np.cumsum(data[f"{name}_lengths"])[:-1])]

    scratch = ACCURACY / "ours_scratch"
    timings = {}
    pretrained = ACCURACY / f"ours_pretrained_{args.wiki_tokens}"
    if not (pretrained / "config.json").exists():
        torch.manual_seed(0)
        model = AwdLstmForCausalLM(AwdLstmConfig(vocab_size=len(vocab), drop_mult=0.3, **SMALL_MODEL))
        pretrain_args = training_arguments(scratch, 1e-2, 1, 0, args.use_cpu, discriminative_lr_factor=1.0)
        trainer = LanguageModelTrainer(
            model=model, args=pretrain_args, train_dataset=datasets.Dataset.from_dict({"input_ids": documents("wiki")})
        )
        with Stopwatch() as watch:
            trainer.train()
        model.save_pretrained(pretrained)
        timings["pretrain_seconds"] = watch.seconds

    # Fine-tune the LM on TREC text: top group (embedding + decoder) for an epoch, then everything (fastai's recipe).
    torch.manual_seed(args.seed)
    model = AwdLstmForCausalLM.from_pretrained(pretrained)
    trec_text = datasets.Dataset.from_dict({"input_ids": documents("trec_train")})
    finetune_args = training_arguments(
        scratch,
        1e-2,
        2,
        args.seed,
        args.use_cpu,
        discriminative_lr_factor=1.0,
        fit_schedule="per_stage",
        stage_epochs=[1, 1],
        stage_learning_rates=[1e-2, 1e-3],
    )
    with Stopwatch() as watch:
        LanguageModelTrainer(model=model, args=finetune_args, train_dataset=trec_text).train()
    timings["finetune_seconds"] = watch.seconds
    lm_eval = LanguageModelTrainer(
        model=model,
        args=training_arguments(scratch, 1e-3, 1, args.seed, args.use_cpu),
        eval_dataset=datasets.Dataset.from_dict({"input_ids": documents("trec_test")}),
    ).evaluate()
    finetuned = scratch / f"finetuned_{args.seed}"
    model.save_pretrained(finetuned)

    def labelled(split):
        ids = documents(f"trec_{split}")
        return datasets.Dataset.from_dict(
            {"input_ids": ids, "label": data[f"trec_{split}_labels"].tolist(), "length": [len(d) for d in ids]}
        )

    train, test = labelled("train"), labelled("test")
    classifier = AwdLstmForSequenceClassification.from_pretrained(
        finetuned, num_labels=6, drop_mult=0.5, **CLASSIFIER_DROPOUTS
    )
    # fastai's freeze_to(-1), (-2), (-3), unfreeze(): 1, 2, 3 and then all layer groups trained.
    classifier_args = training_arguments(
        scratch,
        2e-2,
        5,
        args.seed,
        args.use_cpu,
        fit_schedule="per_stage",
        stage_epochs=[1, 1, 1, 2],
        stage_learning_rates=[2e-2, 1e-2, 5e-3, 1e-3],
    )
    trainer = ClassifierTrainer(
        model=classifier, args=classifier_args, train_dataset=train, processing_class=tokenizer
    )
    with Stopwatch() as watch:
        trainer.train()
    timings["classifier_seconds"] = watch.seconds
    predictions = trainer.predict(test).predictions
    logits = predictions[0] if isinstance(predictions, tuple) else predictions  # (logits, pooled_features)
    accuracy_ = float((logits.argmax(-1) == np.array(test["label"])).mean())
    write_result(
        args.out,
        {
            "side": "ours",
            "bench": "accuracy",
            "seed": args.seed,
            "wiki_tokens": args.wiki_tokens,
            "test_accuracy": accuracy_,
            "n_test": len(test),
            "lm_valid_loss": lm_eval.get("eval_loss"),
            **timings,
            "vocab_size": len(vocab),
            "device": str(benchmark_device(args)),
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# Time to quality: held-out perplexity per word against training wall-clock (pretrain_quality.py drives it)
# ---------------------------------------------------------------------------------------------------------------------

# Our pretraining recipes: tokenizer, model and schedule. "standard" is fastai_side.py's run (the standard
# AWD-LSTM, a 60k word vocabulary, drop_mult 0.3, one-cycle to 1e-2) with our precision choice; the others are the
# levers of issue 12: a smaller model, a subword vocabulary (the shared LM's recipe), the QRNN cell.
SMALL = dict(embedding_size=192, hidden_size=576, num_layers=3, drop_mult=0.1)
UNIGRAM_12K, WORD_30K = dict(kind="unigram", vocab_size=12_000), dict(kind="word", vocab_size=30_000)
PRETRAIN_RECIPES = {
    "standard": dict(
        tokenizer=dict(kind="word", vocab_size=60_000),
        model=dict(embedding_size=400, hidden_size=1152, num_layers=3, drop_mult=0.3),
        learning_rate=1e-2,
        batch_size=BATCH_SIZE,
    ),
    "small-unigram": dict(tokenizer=UNIGRAM_12K, model=SMALL, learning_rate=1e-2, batch_size=BATCH_SIZE),
    "small-unigram-bs16": dict(tokenizer=UNIGRAM_12K, model=SMALL, learning_rate=5e-3, batch_size=16),
    "small-unigram-qrnn-bs16": dict(
        tokenizer=UNIGRAM_12K, model={**SMALL, "rnn_type": "qrnn"}, learning_rate=5e-3, batch_size=16
    ),
    "small-word-bs16": dict(tokenizer=WORD_30K, model=SMALL, learning_rate=5e-3, batch_size=16),
    "small-word-qrnn-bs16": dict(
        tokenizer=WORD_30K, model={**SMALL, "rnn_type": "qrnn"}, learning_rate=5e-3, batch_size=16
    ),
}
HELD_OUT_BATCH_SIZE = 64  # rows the held-out text is read in, with the state carried (fastai_side.py: the same)
CALIBRATION_STEPS, CALIBRATION_WARMUP = 6, 2


def pretrain_arguments(output_dir, learning_rate: float, max_steps: int, use_cpu: bool, seed: int, batch_size: int):
    """The pretrain stage's schedule for a fixed number of steps, with its precision choice (bf16=None)."""
    return training_arguments(
        output_dir,
        learning_rate,
        1,
        seed,
        use_cpu,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=HELD_OUT_BATCH_SIZE,
        bf16=None,
        logging_strategy="steps",
        logging_steps=10,
    )


def calibrated_step_seconds(model_settings: dict, vocab_size: int, batch_size: int, args) -> float:
    """Median seconds of a training step of this model and vocabulary, measured on random tokens."""
    from transformers import TrainerCallback

    from hf_ulmfit import AwdLstmForCausalLM
    from hf_ulmfit.training import LanguageModelTrainer

    timestamps = []

    class StepClock(TrainerCallback):
        def on_step_end(self, *_, **__):
            timestamps.append(time.perf_counter())

    import datasets

    tokens = np.random.default_rng(0).integers(5, vocab_size, batch_size * BPTT * (CALIBRATION_STEPS + 1) + 1)
    model = AwdLstmForCausalLM(standard_config(vocab_size, **model_settings))
    trainer = LanguageModelTrainer(
        model=model,
        args=pretrain_arguments(
            PREPARED.parent / "trainer_scratch", 1e-3, CALIBRATION_STEPS, args.use_cpu, args.seed, batch_size
        ),
        train_dataset=datasets.Dataset.from_dict({"input_ids": [tokens.tolist()]}),
        callbacks=[StepClock()],
    )
    trainer.train()
    return float(np.median(np.diff(timestamps)[CALIBRATION_WARMUP - 1 :]))


def unknown_strings(tokenizer, texts: list[str]) -> list[str]:
    """The pieces of `texts` the tokenizer maps to its unknown token."""
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    return [
        text[start:end]
        for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"])
        for token, (start, end) in zip(ids, offsets)
        if token == tokenizer.unk_token_id
    ]


def pretrain_curve(args):
    """Train one recipe for `--minutes` of wall-clock on wiki-00 articles (as many as the budget needs), copying the
    weights at `--points` times along the way; then score each copy on the held-out articles (per word)."""
    import datasets
    import transformers
    from transformers import TrainerCallback

    import hf_ulmfit
    from hf_ulmfit import AwdLstmForCausalLM
    from hf_ulmfit.data import tokenize_dataset
    from hf_ulmfit.tokenization import default_train_lines, train_tokenizer
    from hf_ulmfit.training import LanguageModelTrainer

    recipe = PRETRAIN_RECIPES[args.recipe]
    budget = args.minutes * 60
    scratch = PREPARED.parent / f"pretrain_curve_{args.recipe}"
    with Stopwatch() as preparation:
        # As the pretrain stage does: the tokenizer trains on the whole corpus (unigram: on a sample of its lines),
        # and the budget decides how much of it one run reads (the front of the shuffled articles).
        articles = training_articles(args.seed)
        kind = recipe["tokenizer"]["kind"]
        tokenizer = train_tokenizer(
            articles, **recipe["tokenizer"], max_lines=default_train_lines(kind), seed=args.seed
        )
        batch_size = recipe["batch_size"]
        step_seconds = calibrated_step_seconds(recipe["model"], len(tokenizer), batch_size, args)
        max_steps = int(budget / step_seconds)
        texts = articles_with_words(articles, (max_steps + 1) * batch_size * BPTT)  # >= 1 token per word
        corpus = tokenize_dataset(datasets.Dataset.from_dict({"text": texts}), tokenizer, keep_columns=())
    torch.manual_seed(args.seed)
    config = standard_config(
        len(tokenizer),
        **recipe["model"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = AwdLstmForCausalLM(config)
    snapshots, losses = [], []

    class Snapshots(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.clock = TrainingClock(budget, args.points)

        def on_log(self, _args, state, control, logs=None, **__):
            if logs and "loss" in logs:
                losses.append((state.global_step, logs["loss"]))

        def on_step_end(self, _args, state, control, model=None, **__):
            last = state.global_step >= state.max_steps or self.clock.over_budget()
            if self.clock.snapshot_due() or last:
                at, weights = self.clock.take(lambda: {k: v.detach().clone() for k, v in model.state_dict().items()})
                snapshots.append(
                    {"seconds": at, "cpu_seconds": time.process_time(), "step": state.global_step, "weights": weights}
                )
            control.should_training_stop = last

    training_args = pretrain_arguments(
        scratch, recipe["learning_rate"], max_steps, args.use_cpu, args.seed, batch_size
    )
    trainer = LanguageModelTrainer(model=model, args=training_args, train_dataset=corpus, callbacks=[Snapshots()])
    train_start_cpu = time.process_time()
    trainer.train()
    if args.save_model:  # the trained LM, for downstream runs and `hf-ulmfit evaluate` (before snapshots are scored)
        trainer.save_model(args.save_model)
        tokenizer.save_pretrained(args.save_model)
    for snapshot in snapshots:
        snapshot["cpu_seconds"] -= train_start_cpu

    held_out = held_out_texts(args.held_out_articles)
    held_out_ids = tokenize_dataset(datasets.Dataset.from_dict({"text": held_out}), tokenizer, keep_columns=())
    tokens, words = int(sum(held_out_ids["length"])), words_in(held_out)
    unknown = unknown_strings(tokenizer, held_out)
    curve = []
    for snapshot in snapshots:
        model.load_state_dict(snapshot.pop("weights"))
        loss = trainer.evaluate(held_out_ids)["eval_loss"]
        seen = [train_loss for step, train_loss in losses if step <= snapshot["step"]]
        curve.append(curve_point(snapshot, batch_size, seen[-1] if seen else None, loss, tokens, words, unknown))
    write_result(
        args.out,
        {
            "side": "ours",
            "bench": "pretrain_curve",
            "recipe": args.recipe,
            "settings": recipe,
            "precision": "bf16" if trainer.args.bf16 else "fp32",
            "device": str(trainer.args.device),
            "budget_seconds": budget,
            "preparation_seconds": preparation.seconds,
            "calibrated_step_seconds": step_seconds,
            "planned_steps": max_steps,
            "corpus_articles": len(texts),
            "corpus_tokens": int(sum(corpus["length"])),
            "vocab_size": len(tokenizer),
            "parameters": sum(p.numel() for p in model.parameters()),
            "held_out": held_out_summary(len(held_out), words, tokens, unknown),
            "curve": curve,
            "threads": torch.get_num_threads(),
            "versions": {
                "hf_ulmfit": hf_ulmfit.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
        },
    )


COMMANDS = {
    "prepare": prepare,
    "matmul_peak": matmul_peak,
    "lstm_kernels": lstm_kernels,
    "lm_throughput": lm_throughput,
    "classify": classify,
    "generate": generate,
    "memory": memory,
    "tokenize": tokenize,
    "accuracy": accuracy,
    "pretrain_curve": pretrain_curve,
}


if __name__ == "__main__":
    run_subcommand("ours", COMMANDS, __doc__)
