"""Text clean-up for ULMFiT, expressed with `tokenizers` components so it travels inside ``tokenizer.json``.

fastai applies Python rules before spaCy (``fix_html``, ``replace_rep``, ``replace_wrep``, ``rm_useless_spaces``,
``replace_maj``...). Here every rule must be a `tokenizers` normalizer, so a saved tokenizer loads with
``AutoTokenizer`` and needs no custom code. What that allows, and what it does not:

- ``<br />`` (IMDb keeps the HTML line breaks) becomes a newline, as fastai's ``fix_html`` does.
- NFKC unicode normalisation; runs of spaces collapse to one (``rm_useless_spaces``).
- Repetitions: `tokenizers`' ``Replace`` normalizer accepts regex back-references in the *pattern* but writes its
  replacement literally (``$1`` is not substituted; checked on tokenizers 0.23). fastai's markers need the repeated
  character and the run length in the output ("cccc" -> "xxrep 4 c"), so they cannot be expressed. Instead, runs of
  more than three identical non-digit characters are shortened to three ("soooooo" -> "sooo", "!!!!!!" -> "!!!")
  and a word repeated more than three times in a row is kept three times. That bounds the vocabulary the same way
  and keeps the emphasis, but the exact count is lost. Digits are left alone (numbers must survive).
- Case: fastai lowercases and inserts ``xxmaj``/``xxup``; no `tokenizers` decoder can re-capitalise, so decoded
  text would read "xxmaj the movie". Tokenizers here keep case (``lowercase=True`` is available, losing it).
"""

from tokenizers import Regex, normalizers


# A character (not whitespace, not a digit) followed by three more copies of itself: delete it. Applied left to
# right this leaves exactly three copies of any longer run; lookahead + back-reference work in tokenizers' Oniguruma.
_CHARACTER_REPEAT = Regex(r"([^\s\d])(?=\1{3})")
# A word followed by three more copies of itself (separated by spaces): delete it and its trailing spaces.
_WORD_REPEAT = Regex(r"\b(\w+) +(?=\1 +\1 +\1\b)")


def build_normalizer(*, fix_html: bool = True, collapse_repeats: bool = True, lowercase: bool = False):
    """The `tokenizers` normalizer for ULMFiT text (see the module docstring for each rule)."""
    steps = []
    if fix_html:
        steps.append(normalizers.Replace(Regex(r"<br\s*/?>"), "\n"))
    steps.append(normalizers.NFKC())
    if collapse_repeats:
        steps += [normalizers.Replace(_CHARACTER_REPEAT, ""), normalizers.Replace(_WORD_REPEAT, "")]
    # After the repeat rules: deleting a repeated word can leave two spaces behind.
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps)
