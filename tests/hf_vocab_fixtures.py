#!/usr/bin/env python3
"""hf_vocab_fixtures.py OUTDIR - tiny SentencePiece models trained at test time with
python3-sentencepiece, for tests/check_hf_vocab.c.

For each model NAME (bpe, unigram) writes OUTDIR/NAME/tokenizer.model and OUTDIR/NAME/expect.tsv:
one line per piece id: id TAB piece TAB score (repr of the float) TAB type, where type is what
convert_hf_to_gguf.py's _create_vocab_sentencepiece derives (UNKNOWN 2, CONTROL 3, UNUSED 5,
BYTE 6, everything else NORMAL 1), from SentencePieceProcessor's own answers.
Exit 77 when sentencepiece is missing.
"""
import os
import random
import sys

try:
    import sentencepiece as spm
except ImportError:
    print("python3-sentencepiece not installed", file=sys.stderr)
    sys.exit(77)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)
words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "tensor", "cast",
         "model", "vocab", "piece", "token", "llama", "gguf", "über", "naïve", "日本語", "🙂"]
corpus = os.path.join(out, "corpus.txt")
with open(corpus, "w", encoding="utf-8") as f:
    for _ in range(2000):
        f.write(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n")

cases = {
    "bpe": dict(model_type="bpe", vocab_size=400, byte_fallback=True,
                user_defined_symbols=["<start_of_turn>", "<end_of_turn>"],
                control_symbols=["<ctrl1>"]),
    "unigram": dict(model_type="unigram", vocab_size=120, byte_fallback=False,
                    user_defined_symbols=["<|im_start|>"]),
}
for name, kw in cases.items():
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(d, "tokenizer"),
                                   character_coverage=1.0, minloglevel=2,
                                   hard_vocab_limit=False, **kw)
    sp = spm.SentencePieceProcessor()
    sp.Load(os.path.join(d, "tokenizer.model"))
    with open(os.path.join(d, "expect.tsv"), "w", encoding="utf-8") as f:
        for i in range(sp.GetPieceSize()):
            t = 1
            if sp.IsUnknown(i):
                t = 2
            if sp.IsControl(i):
                t = 3
            if sp.IsUnused(i):
                t = 5
            if sp.IsByte(i):
                t = 6
            f.write(f"{i}\t{sp.IdToPiece(i)}\t{sp.GetScore(i)!r}\t{t}\n")
