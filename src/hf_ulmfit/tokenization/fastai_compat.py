"""A word tokenizer that reproduces fastai's default text pipeline, as a plain `tokenizer.json`.

fastai (2.x) turns text into ids in three stages: string rules (`defaults.text_proc_rules`: fix_html, replace_rep,
replace_wrep, spec_add_spaces, rm_useless_spaces, replace_all_caps, replace_maj, lowercase with `xxbos` in front),
spaCy's blank English tokenizer, and a vocabulary lookup (`itos`, unknown words → `xxunk`). A model converted from
fastai expects exactly those ids, so this module rebuilds the pipeline with `tokenizers` building blocks only; the
result loads with `AutoTokenizer.from_pretrained` and no custom code.

How each stage is expressed:
- fix_html: literal `Replace` normalizers in fastai's order, then the HTML entities that occur in practice (named
  `&lt; &gt; &amp; &quot; &apos; &nbsp;` and the numeric forms of common punctuation).
- replace_rep / replace_wrep (`cccc` → `xxrep 4 c`, `word word word` → `xxwrep 3 word`): a regex replacement cannot
  write a count, so there is one normalizer per count, longest runs first (characters: 3-100; words: 3-24).
- spec_add_spaces, replace_all_caps, replace_maj: zero-width matches (look-ahead / look-behind) that insert a space,
  `xxup ` or `xxmaj ` without consuming the word; `Lowercase` then lowercases everything once.
- spaCy's English tokenizer: a pre-tokenizer that keeps spaCy's whitespace tokens (`\\n`, `\\n\\n`, `\\n ` → `\\n▁`)
  and splits a word into spaCy's prefixes, suffixes, infixes and contractions with regexes.
- `xxbos` comes from the post-processor (so `add_special_tokens=False` leaves it out, as transformers users expect).

Where it can differ from fastai:
- spaCy's tokenizer exceptions are a hand-written table of ~1,000 entries (contractions without apostrophes such as
  `dont` → `do nt`, abbreviations, emoticons); only the regular patterns are reproduced here.
- `html.unescape` knows 2,000+ entities; only the common ones are reproduced.
- Runs longer than 100 equal characters or 24 equal words get a wrong count.
- fastai's single-pass `replace_wrep` consumes the character after a repeated word, which can stop a directly
  following repetition from being replaced; this tokenizer replaces both.

Measured agreement with fastai 2.8.12 + spaCy 3.8.18 (`benchmarks/fastai_tokenizer_agreement.py`, 5,000 random IMDb
test reviews, 1.46M reference tokens, vocabulary built by fastai's rule from the reference tokens, 17,488 ids):
- 89.8% of reviews get exactly fastai's id sequence;
- 99.84% of ids agree (1 - edit distance / length), 99.83% of token strings;
- the remaining differences, most frequent first: `''` kept whole by spaCy, `etc.`, `, and` / `40+` / `..i` glued
  forms that spaCy splits with rules not reproduced here, `bullsh*t.`, `i've` inside longer chunks.
Speed: about 12 ms per review on 2 CPU cores (the per-count repetition rules are ~170 regex passes).
"""

import re
from collections.abc import Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from .special_tokens import BOS_TOKEN, UNK_TOKEN
from .train import wrap_tokenizer


#: fastai's special tokens, in fastai 2.x's vocabulary order (fastai 1.x puts xxmaj xxup before xxrep xxwrep).
FASTAI_SPECIAL_TOKENS = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"]
TK_REP, TK_WREP, TK_UP, TK_MAJ = "xxrep", "xxwrep", "xxup", "xxmaj"
#: The longest character run and word repetition whose count is reproduced exactly.
MAX_CHARACTER_RUN = 100
MAX_WORD_REPETITION = 24
#: spaCy writes a space inside a whitespace token; fastai's replace_space turns it into this marker.
SPACE_MARKER = "▁"

# fastai's fix_html, in its order (the order matters: "&amp;" becomes "&&" because "amp;" goes first).
_FIX_HTML_LITERALS = [
    ("#39;", "'"),
    ("amp;", "&"),
    ("#146;", "'"),
    ("nbsp;", " "),
    ("#36;", "$"),
    ("\\n", "\n"),
    ("quot;", "'"),
    ("<br />", "\n"),
    ('\\"', '"'),
    ("<unk>", UNK_TOKEN),
    (" @.@ ", "."),
    (" @-@ ", "-"),
    ("...", " …"),
]
# What html.unescape still finds after those replacements, in reviews and web text.
_HTML_ENTITIES = [
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&apos;", "'"),
    ("&#34;", '"'),
    ("&#38;", "&"),
    ("&#60;", "<"),
    ("&#62;", ">"),
    ("&#150;", "–"),
    ("&#151;", "—"),
    ("&#8211;", "–"),
    ("&#8212;", "—"),
    ("&#8216;", "‘"),
    ("&#8217;", "’"),
    ("&#8220;", "“"),
    ("&#8221;", "”"),
    ("&#8230;", "…"),
    ("&#233;", "é"),
    ("&eacute;", "é"),
    ("&hellip;", "…"),
    ("&mdash;", "—"),
    ("&ndash;", "–"),
    ("&lt", "<"),
    ("&gt", ">"),
]

# Word boundaries as fastai's regexes see them; Oniguruma's ^ and $ match at every line, Python's only at the ends.
_START = r"(?<=\A|\s)"
_END = r"(?:\s|\z)"


def _fix_html() -> list:
    return [normalizers.Replace(old, new) for old, new in _FIX_HTML_LITERALS + _HTML_ENTITIES]


def _replace_rep() -> list:
    """`cccc` → ` xxrep 4 c `. Longest runs first, so at count n every longer run is already collapsed and a match of
    n-1 characters followed by one more is a whole run; the last character stays and gets its trailing space after."""
    steps = [
        normalizers.Replace(Regex(rf"(\S)\1{{{n - 2}}}(?=\1)"), f" {TK_REP} {n} ")
        for n in range(MAX_CHARACTER_RUN, 2, -1)
    ]
    steps.append(normalizers.Replace(Regex(rf"(?<={TK_REP} \d \S|{TK_REP} \d\d \S|{TK_REP} \d\d\d \S)"), " "))
    return steps


def _replace_wrep() -> list:
    """`w w w` → ` xxwrep 3 w `: per count, first a space after the last copy, then the other copies become the
    marker (the last copy stays, so no group reference is needed)."""
    steps = []
    for n in range(MAX_WORD_REPETITION, 2, -1):
        copies = rf"(\w+)\s+(?:\1\s+){{{n - 2}}}"
        steps.append(normalizers.Replace(Regex(rf"(?:\s|\A){copies}\1\K(?=\s|\W|\z)"), " "))
        steps.append(normalizers.Replace(Regex(rf"(?:\s|\A){copies}(?=\1(?:\s|\W|\z))"), f" {TK_WREP} {n} "))
    return steps


def _case_markers() -> list:
    """replace_all_caps then replace_maj, as zero-width insertions before the word.

    fastai lowercases an all-caps word before replace_maj runs; here nothing is lowercased until the end, so a word
    both rules match (a capital followed by no letters, e.g. "A1") is excluded from replace_maj explicitly.
    """
    all_caps = rf"{_START}(?=[A-Z]+[^a-z\s]*{_END})(?=\S\S)"
    sentence_case = rf"{_START}(?=[A-Z][^A-Z\s]+{_END})(?![A-Z][^A-Za-z\s]*{_END})"
    return [normalizers.Replace(Regex(all_caps), f"{TK_UP} "), normalizers.Replace(Regex(sentence_case), f"{TK_MAJ} ")]


def fastai_normalizer() -> normalizers.Normalizer:
    """fastai's `defaults.text_proc_rules`, less the `xxbos` that lowercase() prepends (the post-processor adds it)."""
    return normalizers.Sequence(
        _fix_html()
        # A leading space, stripped at the end: tokenizers cannot insert text at offset 0 with a zero-width match,
        # and to fastai's regexes the start of the text acts like whitespace anyway.
        + [normalizers.Prepend(" ")]
        + _replace_rep()
        + _replace_wrep()
        + [
            # spec_add_spaces: a space on each side of / # and backslash.
            normalizers.Replace(Regex(r"(?=[/#\\])"), " "),
            normalizers.Replace(Regex(r"(?<=[/#\\])"), " "),
            # rm_useless_spaces
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
        + _case_markers()
        + [normalizers.Lowercase(), normalizers.Strip()]
    )


# spaCy's English tokenizer, as it behaves on fastai-preprocessed (lowercased) text: a whitespace-separated chunk
# loses prefixes from its start and suffixes from its end one at a time, then infixes split what is left; a table of
# exceptions overrides this for listed chunks. The character classes below are the prefixes and suffixes that occur
# in practice; the exceptions are the regular families (n't / 's contractions, their apostrophe-less forms).
_QUOTES = "'\"”“`‘´’‚„»«"
_PREFIXES = re.escape(_QUOTES + "([{<*&#$£€¥~¿¡§=…")
_SUFFIXES = re.escape(_QUOTES + ")]}>,:;!?…*&%$£€¥")
_CONTRACTION_SUFFIXES = r"n't|n’t|'s|’s|'m|’m|'re|’re|'ve|’ve|'ll|’ll|'d|’d"
# Whole chunks spaCy keeps as they are although the rules above would split them.
_WHOLE_CHUNKS = r"'em|'cause|ol'|[a-z]\.|e\.g\.|i\.e\.|a\.m\.|p\.m\.|vs\.|co\."
# Emoticons and doubled quotes: spaCy finds these special cases inside a chunk's suffixes too (word): → word ):).
_EMOTICONS = r"''|\):|:\)|:-\)|;\)|;-\)|:\(|:-\(|=\)|<3|:p|\^_\^"

_AFFIXES = "|".join(
    [
        rf"(?:\A|(?<=[{_PREFIXES}]))(?:{_WHOLE_CHUNKS})(?=[{_SUFFIXES}]*\z)",
        rf"(?:{_EMOTICONS})(?=[{_SUFFIXES}]*\z)",
        rf"\G[{_PREFIXES}]",
        rf"(?:{_CONTRACTION_SUFFIXES})(?=[{_SUFFIXES}.]*\z)",
        rf"\.\.+(?=[{_SUFFIXES}]*\z)",
        rf"[{_SUFFIXES}](?=[{_SUFFIXES}.]*\z)",
        # A final period is a suffix after a letter or digit (u.s. → u.s .), not inside an abbreviation.
        rf"(?<=[^\s.])\.(?=[{_SUFFIXES}]*\z)",
    ]
)
# Infixes: hyphens between letters (well-known → well - known), arithmetic between digits, a comma between letters.
_INFIXES = r"(?<=[\p{L}0-9])-(?=\p{L})|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=\p{L}),(?=\p{L})|(?<=[\p{L}0-9])[:<>=](?=\p{L})"
# Apostrophe-less contractions and other exceptions spaCy splits: dont → do nt, cannot → can not, whats → what s.
_NT_STEMS = "ca|wo|do|does|did|is|was|are|were|have|has|had|would|could|should|ai|must|need|might"
_EXCEPTION_STEMS = "|".join(
    [
        rf"\A(?:{_NT_STEMS})(?=nt\z)",
        r"\Acan(?=not\z)",
        r"\A(?:what|that|there|he|she|who|where|how)(?=s\z)",
        r"\Ai(?=(?:m|ve|d)\z)",
        r"\Ac'm(?=on\z)",
        r"\A(?:you|they)(?=(?:re|ve)\z)",
        r"\Agon(?=na\z)",
        r"\Agot(?=ta\z)",
        r"\A\d+(?=(?:am|pm|a\.m\.|p\.m\.)\z)",
        # Units after a number are suffixes: 16mm → 16 mm.
        r"\A\d+(?:[.,]\d+)?(?=(?:km|m|dm|cm|mm|nm|yd|in|ft|kg|g|mg|lb|lbs|oz|mph|kmh|mb|kb|gb|tb)\z)",
    ]
)


def spacy_like_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Split like spaCy's blank English tokenizer on fastai-preprocessed text, and write the spaces inside
    whitespace tokens as `▁` (fastai's replace_space)."""
    return pre_tokenizers.Sequence(
        [
            # The single space after a token is a separator; other whitespace is a token of its own (spaCy keeps
            # "\n", "\n\n" and "\n " as tokens).
            pre_tokenizers.Split(Regex(r"(?<=\S) "), behavior="removed"),
            pre_tokenizers.Split(Regex(r"\s+"), behavior="isolated"),
            pre_tokenizers.Split(Regex(_AFFIXES), behavior="isolated"),
            pre_tokenizers.Split(Regex(_INFIXES), behavior="isolated"),
            pre_tokenizers.Split(Regex(_EXCEPTION_STEMS), behavior="isolated"),
            pre_tokenizers.Metaspace(replacement=SPACE_MARKER, prepend_scheme="never", split=False),
        ]
    )


def vocabulary_index(itos: Sequence[str]) -> dict[str, int]:
    """token → id for a fastai `itos` list. fastai pads vocabularies to a multiple of 8 with repeated `xxfake`
    tokens; a repeat keeps its id under a unique placeholder name (`xxfake@1001`), so every id stays decodable."""
    index: dict[str, int] = {}
    for position, token in enumerate(itos):
        if not isinstance(token, str):
            raise TypeError(f"vocabulary entry {position} is a {type(token).__name__}, expected a string")
        index[token if token not in index else f"{token}@{position}"] = position
    return index


def build_fastai_tokenizer(itos: Sequence[str]) -> PreTrainedTokenizerFast:
    """A fast tokenizer that maps text to the ids a fastai model with vocabulary `itos` was trained on."""
    missing = [t for t in (UNK_TOKEN, BOS_TOKEN) if t not in itos]
    if missing:
        raise ValueError(f"the vocabulary lacks fastai's special tokens {missing}; is it a fastai itos list?")
    tokenizer = Tokenizer(models.WordLevel(vocabulary_index(itos), unk_token=UNK_TOKEN))
    tokenizer.normalizer = fastai_normalizer()
    tokenizer.pre_tokenizer = spacy_like_pre_tokenizer()
    # Decoding gives fastai's token text joined by spaces (fastai's own `decode` does the same).
    tokenizer.decoder = decoders.WordPiece(prefix="\0never\0", cleanup=False)
    return wrap_tokenizer(tokenizer)


__all__ = ["FASTAI_SPECIAL_TOKENS", "build_fastai_tokenizer", "fastai_normalizer", "spacy_like_pre_tokenizer"]
