from .modeling_awd_lstm_int8 import (
    AwdLstmInt8Config,
    AwdLstmInt8ForSequenceClassification,
    Int8Embedding,
    Int8Lstm,
)
