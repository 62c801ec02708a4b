#!/usr/bin/env python3
"""hf_vocab_fixtures.py OUTDIR - tiny SentencePiece models trained at test time with
python3-sentencepiece, for tests/check_hf_vocab.c.

For each model NAME (bpe, unigram) writes OUTDIR/NAME/tokenizer.model and OUTDIR/NAME/expect.tsv:
one line per piece id: id TAB piece TAB score (repr of the float) TAB type, where type is what
convert_hf_to_gguf.py's _create_vocab_sentencepiece derives (UNKNOWN 2, CONTROL 3, UNUSED 5,
BYTE 6, everything else NORMAL 1), from SentencePieceProcessor's own answers.
Exit 77 when sentencepiece is missing.

hf_vocab_fixtures.py --seeds DIR also writes the fuzz_spm seed corpus (fixtures/fuzz/spm/): the
two models cut down to 16 pieces and their trainer_spec (no normalizer charsmap, to stay small),
a hand-made model with unknown fields of every wire type, and a few broken ones.
"""
import os
import random
import sys

try:
    import sentencepiece as spm
except ImportError:
    print("python3-sentencepiece not installed", file=sys.stderr)
    sys.exit(77)

import struct

seeds = None
if sys.argv[1] == "--seeds":
    seeds = sys.argv[2]
    out = os.path.join(seeds, ".work")
else:
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


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def enc(v):
    o = bytearray()
    while v >= 0x80:
        o.append(v & 0x7F | 0x80)
        v >>= 7
    o.append(v)
    return bytes(o)


def fields(b):
    i, out_ = 0, []
    while i < len(b):
        s0 = i
        k, i = varint(b, i)
        w = k & 7
        if w == 0:
            _, i = varint(b, i)
        elif w == 1:
            i += 8
        elif w == 5:
            i += 4
        elif w == 2:
            n, i = varint(b, i)
            i += n
        out_.append((k >> 3, b[s0:i]))
    return out_


def piece(s, score, t):
    p = s.encode()
    body = b"\x0a" + enc(len(p)) + p + b"\x15" + struct.pack("<f", score) + b"\x18" + enc(t)
    return b"\x0a" + enc(len(body)) + body


if seeds:
    import shutil
    for name in cases:
        with open(os.path.join(out, name, "tokenizer.model"), "rb") as f:
            fs = fields(f.read())
        pcs = [x for n, x in fs if n == 1]
        small = b"".join(pcs[:12] + pcs[-4:]) + b"".join(x for n, x in fs if n == 2)
        with open(os.path.join(seeds, "good_" + name), "wb") as f:
            f.write(small)
    g = (b"\x38" + enc(300) + b"\x41" + b"\xab" * 8 + b"\x4d" + b"\xcd" * 4 + b"\x53\x08\x05\x54"
         + piece("<unk>", 0, 2) + piece("\u2581a", -1.5, 1) + piece("<0x0A>", 0, 6))
    files = {"good_wiretypes": g, "bad_truncated": g[:-3], "bad_wiretype": b"\x0e\x00",
             "bad_huge_len": b"\x0a\xff\xff\xff\xff\x0f", "bad_deep_groups": b"\x13" * 100,
             "bad_utf8": piece("x", 0, 1).replace(b"x", b"\xff")}
    for n, b in files.items():
        with open(os.path.join(seeds, n), "wb") as f:
            f.write(b)
    shutil.rmtree(out)
