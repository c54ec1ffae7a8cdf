"""Special tokens shared by every hf-ulmfit tokenizer, at fixed ids in fastai's order.

fastai puts ``xxunk xxpad xxbos xxeos`` first in every vocabulary, and the AWD-LSTM config defaults
(``pad_token_id=1``, ``bos_token_id=2``, ``eos_token_id=3``) rely on these ids, so all tokenizer kinds keep them.
"""

UNK_TOKEN = "xxunk"
PAD_TOKEN = "xxpad"
BOS_TOKEN = "xxbos"
EOS_TOKEN = "xxeos"

#: Tokens at ids 0, 1, 2, 3 of every vocabulary.
SPECIAL_TOKENS = [UNK_TOKEN, PAD_TOKEN, BOS_TOKEN, EOS_TOKEN]
UNK_TOKEN_ID, PAD_TOKEN_ID, BOS_TOKEN_ID, EOS_TOKEN_ID = range(len(SPECIAL_TOKENS))
