"""fastai 2.8's side of the benchmarks (runs in .fastai-venv; never imports hf_ulmfit).

Mirrors `ours.py` subcommand for subcommand, on the inputs `ours.py prepare` wrote (token ids, texts, long
documents), with the same model sizes, batch shape and precision. fastai is used the way its documentation shows:
`language_model_learner` / `text_classifier_learner` with `pretrained=False`, `fit`, `get_preds`, `predict`.
"""

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.bench_utils import (
    BATCH_SIZE,
    BPTT,
    DATA,
    MAX_LEN,
    PREPARED,
    Stopwatch,
    TrainingClock,
    articles_with_words,
    curve_point,
    held_out_summary,
    held_out_texts,
    imdb_tokenize_frame,
    matmul_gflops,
    peak_memory_result,
    run_subcommand,
    steady_step_seconds,
    training_articles,
    trec_questions,
    words_in,
    write_result,
)


warnings.filterwarnings("ignore")
VOCAB_FILE = PREPARED / "fastai_vocab.json"


def fastai_versions() -> dict:
    import fastai
    import spacy

    return {"fastai": fastai.__version__, "torch": torch.__version__, "spacy": spacy.__version__}


def fastai_vocab(size: int = 60_000) -> list[str]:
    """fastai's vocabulary of the prepared IMDb reviews, filled up to `size` entries so the embedding and decoder
    have exactly the shape of ours (the filler rows are never looked up; they only make the softmax as wide)."""
    vocab = json.loads(VOCAB_FILE.read_text())[:size]
    return vocab + [f"xxfake{i}" for i in range(size - len(vocab))]


def text_frame(texts, labels=None) -> pd.DataFrame:
    labels = labels if labels is not None else ["neg", "pos"] * (len(texts) // 2) + ["neg"] * (len(texts) % 2)
    return pd.DataFrame({"text": texts, "label": labels})


# ---------------------------------------------------------------------------------------------------------------------


def prepare(args):
    """fastai's own vocabulary (default tokenisation, min_freq 3) from 2,000 IMDb training reviews."""
    from fastai.text.all import make_vocab, tokenize_df

    train = pd.read_parquet(DATA / "imdb" / "train.parquet")
    frame = train.sample(n=2000, random_state=0)[["text"]].reset_index(drop=True)
    tokenized, counter = tokenize_df(frame, "text")
    vocab = list(make_vocab(counter, min_freq=3, max_vocab=60_000))
    VOCAB_FILE.write_text(json.dumps(vocab))
    write_result(
        args.out, {"side": "fastai", "bench": "prepare", "vocab_size": len(vocab), "versions": fastai_versions()}
    )


def lm_throughput(args):
    from fastai.text.all import (
        AWD_LSTM,
        Callback,
        CancelFitException,
        DataLoaders,
        LMDataLoader,
        language_model_learner,
    )

    tokens = np.load(PREPARED / "lm_tokens.npy").astype(np.int64)
    tokens[tokens >= args.vocab] = 0
    docs = [torch.from_numpy(d) for d in np.split(tokens, np.cumsum(np.load(PREPARED / "lm_lengths.npy"))[:-1])]
    torch.manual_seed(args.seed)
    train_dl = LMDataLoader(docs, bs=BATCH_SIZE, seq_len=BPTT, shuffle=True)
    valid_dl = LMDataLoader(docs[:100], bs=BATCH_SIZE, seq_len=BPTT)
    dls = DataLoaders(train_dl, valid_dl)
    dls.vocab = fastai_vocab(args.vocab)
    learn = language_model_learner(dls, AWD_LSTM, pretrained=False)  # emb 400, hidden 1152, 3 layers, drop_mult 1
    steps = args.warmup + args.steps
    timestamps = []

    class StepClock(Callback):
        order = 100  # after the optimizer step and fastai's own callbacks

        def before_fit(self):
            timestamps.append(time.perf_counter())

        def after_batch(self):
            if self.training:
                timestamps.append(time.perf_counter())
                if len(timestamps) > steps:
                    raise CancelFitException()

    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3, cbs=StepClock())
    seconds = steady_step_seconds(timestamps, args.warmup + 1)
    peak_here = matmul_gflops(torch)
    tokens_per_step = BATCH_SIZE * BPTT
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "lm_throughput",
            "vocab": args.vocab,
            "precision": "fp32",
            "step_seconds": seconds,
            "tokens_per_step": tokens_per_step,
            "tokens_per_second": [tokens_per_step / s for s in seconds],
            "matmul_fp32_gflops_here": peak_here,
            "how": "language_model_learner(pretrained=False).fit (fastai Adam, AR/TAR via RNNRegularizer), "
            "steps timed end to end",
            "versions": fastai_versions(),
        },
    )


def classifier_learner():
    from fastai.text.all import AWD_LSTM, TextDataLoaders, text_classifier_learner

    texts = json.loads((PREPARED / "classify_texts.json").read_text())
    dls = TextDataLoaders.from_df(
        text_frame(texts[-64:]), text_col="text", label_col="label", text_vocab=fastai_vocab(), bs=BATCH_SIZE, seed=0
    )
    torch.manual_seed(0)
    return text_classifier_learner(dls, AWD_LSTM, pretrained=False), texts


def classify(args):
    """(b) fastai's side: `get_preds` over a `test_dl` of the IMDb reviews (fastai sorts them by length), and
    `predict` on TREC-6 questions one at a time."""
    learn, texts = classifier_learner()
    texts = texts[: args.n]
    questions = trec_questions(args.n_single)
    with learn.no_bar():
        learn.get_preds(dl=learn.dls.test_dl(texts[:8]))  # warm-up
        result = {"side": "fastai", "bench": "classify", "n": len(texts), "batch_size": args.batch_size}
        with Stopwatch() as watch:
            predictions, _ = learn.get_preds(dl=learn.dls.test_dl(texts, bs=args.batch_size))
        assert len(predictions) == len(texts)
        result["get_preds_seconds"] = watch.seconds
        learn.predict(questions[0])
        durations = []
        for question in questions:
            with Stopwatch() as watch:
                learn.predict(question)
            durations.append(watch.seconds)
    result["predict_ms"] = 1000 * float(np.median(durations))
    result["n_single"] = len(questions)
    result["versions"] = fastai_versions()
    write_result(args.out, result)


def generate(args):
    from fastai.text.all import AWD_LSTM, TextDataLoaders, language_model_learner

    torch.backends.mkldnn.enabled = not args.no_mkldnn
    prompt = json.loads((PREPARED / "prompt.json").read_text())["text"]
    texts = json.loads((PREPARED / "classify_texts.json").read_text())[-64:]
    dls = TextDataLoaders.from_df(
        text_frame(texts), text_col="text", is_lm=True, text_vocab=fastai_vocab(), bs=BATCH_SIZE, seed=0
    )
    torch.manual_seed(0)
    learn = language_model_learner(dls, AWD_LSTM, pretrained=False)
    prompt_tokens = len(learn.dls.test_dl([prompt]).items[0])
    learn.predict(prompt, n_words=5, no_bar=True)  # warm-up
    seconds = []
    for _ in range(args.repeats):
        with Stopwatch() as watch:
            text = learn.predict(prompt, n_words=args.new_tokens, no_bar=True)
        seconds.append(watch.seconds)
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "generate",
            "prompt_tokens": prompt_tokens,
            "new_tokens": args.new_tokens,
            "seconds": seconds,
            "how": "LMLearner.predict(n_words=N) (samples; re-reads the whole prefix every word)",
            "output_words": len(text.split()),
            "mkldnn": not args.no_mkldnn,
        },
    )


def memory(args):
    from fastai.text.all import AWD_LSTM, get_text_classifier

    torch.manual_seed(0)
    model = get_text_classifier(AWD_LSTM, 60_000, 2, seq_len=BPTT, drop_mult=0.5, max_len=MAX_LEN)
    document = torch.from_numpy(np.load(PREPARED / "long_document.npy")[: args.tokens])[None]
    labels = torch.tensor([1])
    result = peak_memory_result(
        "fastai",
        args.mode,
        model,
        model[1],
        lambda ids: model(ids)[0],
        lambda ids: torch.nn.functional.cross_entropy(model(ids)[0], labels),
        document,
    )
    write_result(args.out, result)


def tokenize(args):
    from fastai.text.all import defaults, tokenize_df

    frame = imdb_tokenize_frame(args.n)
    with Stopwatch() as watch:
        tokenized, counter = tokenize_df(frame, "text", n_workers=defaults.cpus)
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "tokenize",
            "kind": "fastai_default",
            "n": len(tokenized),
            "seconds": watch.seconds,
            "tokens": int(tokenized["text_length"].sum())
            if "text_length" in tokenized
            else int(sum(map(len, tokenized["text"]))),
            "n_workers": defaults.cpus,
            "how": "fastai.text tokenize_df (SpacyTokenizer + defaults.text_proc_rules, n_workers=defaults.cpus)",
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# (f) accuracy at an equal, small budget on TREC-6
# ---------------------------------------------------------------------------------------------------------------------

ACCURACY = PREPARED.parent / "accuracy"
SMALL_MODEL = {"emb_sz": 200, "n_hid": 400, "n_layers": 3}


def accuracy_data_path(wiki_tokens: int) -> Path:
    return ACCURACY / f"data_{wiki_tokens}.npz"


def prepare_accuracy(args):
    """The token ids both libraries train on: fastai's default tokenisation of a Wikipedia slice and of TREC-6, with
    one vocabulary (min_freq 3) over both. hf-ulmfit reads the same ids, so only the libraries differ."""
    from fastai.text.all import make_vocab, tokenize_df

    ACCURACY.mkdir(parents=True, exist_ok=True)
    wiki = pd.read_parquet(DATA / "wikipedia" / "wiki-00.parquet", columns=["text"])["text"]
    texts, words = [], 0
    for text in wiki:
        for paragraph in text.split("\n"):
            if paragraph.strip():
                texts.append(paragraph)
                words += len(paragraph.split())
        if words * 1.2 >= args.wiki_tokens:  # spaCy splits punctuation: about 1.2 tokens per word
            break
    wiki_tok, wiki_count = tokenize_df(pd.DataFrame({"text": texts}), "text")
    trec = {split: pd.read_parquet(DATA / "trec" / f"{split}.parquet") for split in ("train", "test")}
    trec_tok = {split: tokenize_df(frame[["text"]].reset_index(drop=True), "text") for split, frame in trec.items()}
    vocab = list(make_vocab(wiki_count + trec_tok["train"][1], min_freq=3, max_vocab=60_000))
    index = {token: i for i, token in enumerate(vocab) if token != "xxfake"}

    def ids(token_lists):
        docs = [np.array([index.get(t, 0) for t in tokens], dtype=np.int32) for tokens in token_lists]
        return np.concatenate(docs), np.array([len(d) for d in docs])

    arrays = {}
    for name, tokenized in (
        ("wiki", wiki_tok),
        ("trec_train", trec_tok["train"][0]),
        ("trec_test", trec_tok["test"][0]),
    ):
        arrays[f"{name}_tokens"], arrays[f"{name}_lengths"] = ids(tokenized["text"])
    classes = sorted(set(trec["train"]["coarse_label"]))  # ABBR DESC ENTY HUM LOC NUM
    for split, frame in trec.items():
        arrays[f"trec_{split}_labels"] = frame["coarse_label"].map(classes.index).to_numpy(dtype=np.int64)
    np.savez(accuracy_data_path(args.wiki_tokens), vocab=np.array(vocab), **arrays)
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "prepare_accuracy",
            "vocab_size": len(vocab),
            "wiki_tokens": int(arrays["wiki_tokens"].size),
            "wiki_paragraphs": len(texts),
        },
    )


def split_docs(data, name):
    return [
        torch.from_numpy(d.astype(np.int64))
        for d in np.split(data[f"{name}_tokens"], np.cumsum(data[f"{name}_lengths"])[:-1])
    ]


def accuracy(args):
    """Pretrain on the Wikipedia slice (once, seed 0, cached), fine-tune the LM on TREC text, then train the
    classifier with the gradual-unfreezing schedule of fastbook chapter 10; test accuracy on TREC-6's test set."""
    from fastai.text.all import (
        AWD_LSTM,
        DataLoaders,
        LMDataLoader,
        TextDataLoaders,
        awd_lstm_clas_config,
        awd_lstm_lm_config,
        language_model_learner,
        set_seed,
        text_classifier_learner,
    )

    data = np.load(accuracy_data_path(args.wiki_tokens))
    vocab = [str(v) for v in data["vocab"]]
    lm_config = dict(awd_lstm_lm_config, **SMALL_MODEL)
    clas_config = dict(awd_lstm_clas_config, **SMALL_MODEL)
    trec_valid = split_docs(data, "trec_test")
    timings = {}

    def lm_learner(docs):
        dls = DataLoaders(
            LMDataLoader(docs, bs=BATCH_SIZE, seq_len=BPTT, shuffle=True),
            LMDataLoader(trec_valid, bs=BATCH_SIZE, seq_len=BPTT),
        )
        dls.vocab = vocab
        return language_model_learner(dls, AWD_LSTM, config=lm_config, drop_mult=0.3, pretrained=False)

    pretrained = ACCURACY / f"fastai_pretrained_{args.wiki_tokens}.pth"
    if not pretrained.exists():
        set_seed(0)
        learn = lm_learner(split_docs(data, "wiki"))
        with learn.no_bar(), learn.no_logging(), Stopwatch() as watch:
            learn.fit_one_cycle(1, 1e-2)
        torch.save(learn.model.state_dict(), pretrained)
        timings["pretrain_seconds"] = watch.seconds

    set_seed(args.seed)
    learn = lm_learner(split_docs(data, "trec_train"))
    learn.model.load_state_dict(torch.load(pretrained, weights_only=True))
    with learn.no_bar(), learn.no_logging(), Stopwatch() as watch:
        learn.freeze()
        learn.fit_one_cycle(1, 1e-2)
        learn.unfreeze()
        learn.fit_one_cycle(1, 1e-3)
    timings["finetune_seconds"] = watch.seconds
    lm_valid_loss = float(learn.validate()[0])
    encoder = learn.model[0].state_dict()

    trec = {split: pd.read_parquet(DATA / "trec" / f"{split}.parquet") for split in ("train", "test")}
    frame = pd.concat([trec["train"].assign(is_valid=False), trec["test"].assign(is_valid=True)], ignore_index=True)
    dls = TextDataLoaders.from_df(
        frame,
        text_col="text",
        label_col="coarse_label",
        valid_col="is_valid",
        text_vocab=vocab,
        bs=BATCH_SIZE,
        seed=args.seed,
    )
    learn = text_classifier_learner(dls, AWD_LSTM, config=clas_config, drop_mult=0.5, pretrained=False)
    learn.model[0].module.load_state_dict(encoder)
    with learn.no_bar(), learn.no_logging(), Stopwatch() as watch:
        learn.freeze()
        learn.fit_one_cycle(1, 2e-2)
        learn.freeze_to(-2)
        learn.fit_one_cycle(1, slice(1e-2 / 2.6**4, 1e-2))
        learn.freeze_to(-3)
        learn.fit_one_cycle(1, slice(5e-3 / 2.6**4, 5e-3))
        learn.unfreeze()
        learn.fit_one_cycle(2, slice(1e-3 / 2.6**4, 1e-3))
    timings["classifier_seconds"] = watch.seconds
    with learn.no_bar():
        predictions, targets = learn.get_preds(ds_idx=1)
    predicted, actual = predictions.argmax(1), targets.flatten()  # both index fastai's category vocabulary
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "accuracy",
            "seed": args.seed,
            "wiki_tokens": args.wiki_tokens,
            "test_accuracy": float((predicted == actual).float().mean()),
            "n_test": len(actual),
            "lm_valid_loss": lm_valid_loss,
            **timings,
            "vocab_size": len(vocab),
            "versions": fastai_versions(),
        },
    )


FASTAI_LEARNING_RATE, FASTAI_DROP_MULT = 1e-2, 0.3  # fastbook's LM drop_mult; one-cycle to 1e-2, as ours
CALIBRATION_STEPS, CALIBRATION_WARMUP = 6, 2
HELD_OUT_BATCH_SIZE = 64  # rows the held-out text is read in, with the state carried (ours.py: the same)


def fastai_lm_learner(docs, vocab: list[str]):
    from fastai.text.all import AWD_LSTM, DataLoaders, LMDataLoader, language_model_learner

    dls = DataLoaders(
        LMDataLoader(docs, bs=BATCH_SIZE, seq_len=BPTT, shuffle=True),
        LMDataLoader(docs[:1], bs=1, seq_len=BPTT),  # fastai needs a validation loader; the curve scores held-out text
    )
    dls.vocab = vocab
    # The standard AWD-LSTM (emb 400, hidden 1152, 3 layers), fastai's defaults otherwise.
    return language_model_learner(dls, AWD_LSTM, drop_mult=FASTAI_DROP_MULT, pretrained=False)


def fastai_step_seconds(vocab_size: int) -> float:
    """Median seconds of one fastai LM training step at this vocabulary size, on random tokens."""
    from fastai.text.all import Callback, CancelFitException

    tokens = torch.randint(9, vocab_size, (BATCH_SIZE * BPTT * (CALIBRATION_STEPS + 2),))
    learn = fastai_lm_learner([tokens], [f"w{i}" for i in range(vocab_size)])
    timestamps = []

    class StepClock(Callback):
        order = 100

        def after_batch(self):
            if self.training:
                timestamps.append(time.perf_counter())
                if len(timestamps) >= CALIBRATION_STEPS:
                    raise CancelFitException()

    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3, cbs=StepClock())
    return float(np.median(np.diff(timestamps)[CALIBRATION_WARMUP - 1 :]))


def fastai_tokens(texts: list[str]):
    """fastai's default tokenisation (spaCy + its rules, one worker: this run has one core) and its token counts."""
    from fastai.text.all import tokenize_df

    tokenized, counter = tokenize_df(pd.DataFrame({"text": texts}), "text", n_workers=1)
    return list(tokenized["text"]), counter


def numericalized(token_lists, vocab: list[str]) -> list:
    index = {token: i for i, token in enumerate(vocab) if not token.startswith("xxfake")}
    return [torch.tensor([index.get(token, 0) for token in tokens]) for tokens in token_lists]  # 0 is xxunk


def pretrain_curve(args):
    """fastai's side of pretrain_quality.py: the standard AWD-LSTM language model with fastai's defaults (spaCy
    tokenisation, its vocabulary: min_freq 3, at most 60k), `fit_one_cycle` over as many steps as fit `--minutes`,
    copying the weights at `--points` times; then each copy is scored on the held-out articles, per word."""
    import torch.nn.functional as F
    from fastai.text.all import Callback, CancelFitException, LMDataLoader, make_vocab

    budget = args.minutes * 60
    with Stopwatch() as preparation:
        # As a fastai user pretrains on a corpus: tokenise all of it and build the vocabulary from it; the budget
        # then decides how much of it one one-cycle epoch reads (the front of the shuffled articles).
        articles = training_articles(args.seed)
        token_lists, counter = fastai_tokens(articles)
        vocab = list(make_vocab(counter, min_freq=3, max_vocab=60_000))
        step_seconds = fastai_step_seconds(len(vocab))
        wanted = int(budget / step_seconds) * BATCH_SIZE * BPTT + BATCH_SIZE
        texts = articles_with_words(articles, wanted)  # at least one token per word: enough tokens
        docs = numericalized(token_lists[: len(texts)], vocab)
        stream = torch.cat(docs)[:wanted]
        steps = (stream.numel() - BATCH_SIZE) // (BATCH_SIZE * BPTT)
    torch.manual_seed(args.seed)
    learn = fastai_lm_learner([stream], vocab)
    clock, snapshots, losses = None, [], []

    class Snapshots(Callback):
        order = 100  # after the optimizer step

        def before_fit(self):
            nonlocal clock
            clock = TrainingClock(budget, args.points)

        def after_batch(self):
            if not self.training:
                return
            losses.append(float(self.smooth_loss))
            last = self.iter + 1 >= self.n_iter or clock.over_budget()
            if clock.snapshot_due() or last:
                at, weights = clock.take(lambda: {k: v.detach().clone() for k, v in self.model.state_dict().items()})
                snapshots.append({"seconds": at, "step": len(losses), "weights": weights})
            if last:
                raise CancelFitException()

    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, FASTAI_LEARNING_RATE, cbs=Snapshots())

    held_out = held_out_texts(args.held_out_articles)
    held_out_tokens = fastai_tokens(held_out)[0]
    held_out_docs = numericalized(held_out_tokens, vocab)
    tokens, words = sum(map(len, held_out_docs)), words_in(held_out)
    known = set(vocab)
    unknown = [token for doc in held_out_tokens for token in doc if token not in known]
    model = learn.model.eval()
    curve = []
    for snapshot in snapshots:
        model.load_state_dict(snapshot.pop("weights"))
        model.reset()
        total, count = 0.0, 0
        with torch.no_grad():
            for inputs, targets in LMDataLoader(held_out_docs, bs=HELD_OUT_BATCH_SIZE, seq_len=BPTT, shuffle=False):
                logits = model(inputs)[0]
                total += float(F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum"))
                count += targets.numel()
        loss = total / count
        train_loss = losses[snapshot["step"] - 1]
        curve.append(curve_point(snapshot, BATCH_SIZE, train_loss, loss, tokens, words, unknown))
    write_result(
        args.out,
        {
            "side": "fastai",
            "bench": "pretrain_curve",
            "recipe": "fastai",
            "settings": {
                "tokenizer": "fastai default (spaCy + rules), make_vocab(min_freq=3, max_vocab=60000)",
                "model": "language_model_learner(AWD_LSTM, drop_mult=0.3, pretrained=False): 400/1152/3",
                "learning_rate": FASTAI_LEARNING_RATE,
            },
            "precision": "fp32",
            "device": "cpu",
            "budget_seconds": budget,
            "preparation_seconds": preparation.seconds,
            "calibrated_step_seconds": step_seconds,
            "planned_steps": steps,
            "corpus_articles": len(texts),
            "corpus_tokens": int(stream.numel()),
            "vocab_size": len(vocab),
            "parameters": sum(p.numel() for p in learn.model.parameters()),
            "held_out": held_out_summary(len(held_out), words, tokens, unknown),
            "curve": curve,
            "threads": torch.get_num_threads(),
            "versions": fastai_versions(),
        },
    )


COMMANDS = {
    "prepare": prepare,
    "lm_throughput": lm_throughput,
    "classify": classify,
    "generate": generate,
    "memory": memory,
    "tokenize": tokenize,
    "prepare_accuracy": prepare_accuracy,
    "accuracy": accuracy,
    "pretrain_curve": pretrain_curve,
}


if __name__ == "__main__":
    run_subcommand("fastai", COMMANDS, __doc__)
