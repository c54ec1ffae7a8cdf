"""Special tokens shared by every hf-ulmfit tokenizer, at fixed ids in fastai's order.

fastai puts ``xxunk xxpad xxbos xxeos`` first in every vocabulary, and the AWD-LSTM config defaults
(``pad_token_id=1``, ``bos_token_id=2``, ``eos_token_id=3``) rely on these ids, so all tokenizer kinds keep them.
Trained tokenizers also hold fastai's field marker ``xxfld`` at id 4: it starts each column of multi-column text
(an email's subject and body), so the model sees where one field ends and the next begins.
"""

UNK_TOKEN = "xxunk"
PAD_TOKEN = "xxpad"
BOS_TOKEN = "xxbos"
EOS_TOKEN = "xxeos"

#: Tokens at ids 0, 1, 2, 3 of every vocabulary.
SPECIAL_TOKENS = [UNK_TOKEN, PAD_TOKEN, BOS_TOKEN, EOS_TOKEN]
UNK_TOKEN_ID, PAD_TOKEN_ID, BOS_TOKEN_ID, EOS_TOKEN_ID = range(len(SPECIAL_TOKENS))

#: Starts each field of a text joined from several columns (fastai's ``xxfld``), at id 4 as in fastai's vocabularies.
FIELD_TOKEN = "xxfld"
FIELD_TOKEN_ID = len(SPECIAL_TOKENS)
#: Every special token a trained tokenizer holds, at ids 0-4.
TRAINED_SPECIAL_TOKENS = [*SPECIAL_TOKENS, FIELD_TOKEN]
