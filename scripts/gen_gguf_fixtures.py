#!/usr/bin/env python3
"""gen_gguf_fixtures.py - write the GGUF test fixtures (deterministic; outputs are committed).

fixtures/gguf/good/*.gguf   small valid files (v3, v2, alignment 64)
fixtures/gguf/bad/<case>.gguf + <case>.expect
                            malformed files; .expect = status name (tc_status_name) on line 1
                            and a substring of the error message on line 2. The expectations
                            come from the GGUF spec / ggml's reader rules, not from tensorcast.
fixtures/fuzz/gguf/*        seeds for tests/fuzz/fuzz_gguf.c (good files + a few bad ones)

Usage: python3 scripts/gen_gguf_fixtures.py [REPO_ROOT]
"""
import os
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
GOOD = os.path.join(ROOT, "fixtures", "gguf", "good")
BAD = os.path.join(ROOT, "fixtures", "gguf", "bad")
FUZZ = os.path.join(ROOT, "fixtures", "fuzz", "gguf")

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml types: id -> (block size, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2), 12: (256, 144)}


def gstr(s, e="<"):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(e + "Q", len(b)) + b


def value(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        for x in items:
            out += value(et, x)
        return out
    return struct.pack(SCALAR[t], v)


def kv(key, t, v):
    return gstr(key) + struct.pack("<I", t) + value(t, v)


def tinfo(name, ne, gtype, offset):
    return gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", x) for x in ne) \
        + struct.pack("<IQ", gtype, offset)


def nbytes(ne, gtype):
    blk, size = GGML[gtype]
    n = 1
    for x in ne:
        n *= x
    return n // blk * size


def pad(n, a):
    return (n + a - 1) // a * a


def build(kvs, tensors, version=3, align=32, n_kv=None, n_t=None, data=None, offsets=None,
          header_only=False):
    """kvs: list of encoded KV bytes; tensors: list of (name, ne, type)."""
    hdr = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_t is None else n_t,
                                len(kvs) if n_kv is None else n_kv)
    hdr += b"".join(kvs)
    off, offs = 0, []
    for name, ne, gt in tensors:
        offs.append(off)
        off += pad(nbytes(ne, gt), align)
    if offsets is not None:
        offs = offsets
    for (name, ne, gt), o in zip(tensors, offs):
        hdr += tinfo(name, ne, gt, o)
    if header_only:
        return hdr
    hdr += b"\0" * (pad(len(hdr), align) - len(hdr))
    if data is None:
        data = b""
        for i, (name, ne, gt) in enumerate(tensors):
            nb = nbytes(ne, gt)
            data += bytes((i * 31 + k * 7) & 0xFF for k in range(nb))
            data += b"\0" * (pad(nb, align) - nb)
    return hdr + data


def write(path, b):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b)


STD_KV = [kv("general.architecture", STR, "llama"), kv("general.license", STR, "mit"),
          kv("llama.block_count", U32, 1)]
STD_T = [("token_embd.weight", [8, 4], 0), ("blk.0.attn_norm.weight", [8], 0)]


def main():
    # ---- good ----
    small = [
        kv("general.architecture", STR, "llama"),
        kv("general.name", STR, "tiny"),
        kv("general.license", STR, "apache-2.0"),
        kv("general.license.link", STR, "https://www.apache.org/licenses/LICENSE-2.0"),
        kv("llama.block_count", U32, 1),
        kv("llama.rope.freq_base", F32, 10000.0),
        kv("llama.use_parallel_residual", BOOL, 1),
        kv("t.i8", I8, -5), kv("t.u16", U16, 65535), kv("t.i16", I16, -2),
        kv("t.i32", I32, -7), kv("t.u64", U64, 2**64 - 1), kv("t.i64", I64, -(2**63)),
        kv("t.f64", F64, 2.5), kv("t.u8", U8, 200),
        kv("tokenizer.ggml.tokens", ARR, (STR, ["<unk>", "<s>", "</s>", "a"])),
        kv("tokenizer.ggml.scores", ARR, (F32, [0.0, -1.0, -2.0, -3.5])),
        kv("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3, 1])),
        kv("t.empty", ARR, (U8, [])),
    ]
    tens = [("token_embd.weight", [32, 4], 1), ("blk.0.attn_q.weight", [32, 2], 8),
            ("blk.0.attn_norm.weight", [32], 0), ("output.weight", [256, 1], 12),
            ("bf.weight", [4, 2, 2], 30)]
    write(os.path.join(GOOD, "small_v3.gguf"), build(small, tens))
    write(os.path.join(GOOD, "small_v2.gguf"), build(small, tens, version=2))
    a64 = small + [kv("general.alignment", U32, 64)]
    write(os.path.join(GOOD, "align64.gguf"), build(a64, tens, align=64))
    write(os.path.join(GOOD, "no_tensors.gguf"), build(small, []))

    # ---- bad ----
    cases = {}
    good = build(STD_KV, STD_T)
    hdr_len = len(build(STD_KV, STD_T, header_only=True))

    cases["truncated_magic"] = (b"GG", "format error", "bad magic")
    cases["bad_magic"] = (b"GGUX" + good[4:], "format error", "bad magic")
    cases["empty"] = (b"", "format error", "empty file")
    be = b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + struct.pack(">Q", 1) + b"k" + \
        struct.pack(">I", U32) + struct.pack(">I", 1)
    cases["big_endian"] = (be, "unsupported", "big-endian")
    cases["version1"] = (b"GGUF" + struct.pack("<III", 1, 0, 0), "unsupported", "version 1")
    cases["version4"] = (b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "unsupported", "version 4")
    cases["truncated_counts"] = (good[:12], "format error", "truncated")
    # cut inside the value of llama.block_count (a u32): two of its bytes are missing
    kv_end = 24 + sum(len(k) for k in STD_KV)
    cases["truncated_kv"] = (build(STD_KV, [], header_only=True)[:kv_end - 2], "format error",
                             "truncated")
    # cut inside the last tensor info (its u64 offset)
    cases["truncated_tensor_info"] = (good[:hdr_len - 3], "format error", "truncated")
    # header complete, data section shorter than the tensors
    cases["truncated_data"] = (good[:len(good) - 40], "format error",
                               "outside the data section")
    # file ends inside the padding before the data section
    assert pad(hdr_len, 32) > hdr_len + 1, "the header must end unaligned for this case"
    cases["truncated_padding"] = (good[:hdr_len + 1], "format error", "truncated")
    cases["huge_string"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) +
                            b"abc" * 10, "limit exceeded", "over the cap")
    cases["string_past_end"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                                struct.pack("<IQ", STR, 1000) + b"x" * 20, "format error",
                                "runs past the end")
    cases["huge_array"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                           struct.pack("<IIQ", ARR, U8, 2**40) + b"\0" * 16, "limit exceeded",
                           "over the cap")
    cases["array_past_end"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                               struct.pack("<IIQ", ARR, U32, 1000000) + b"\0" * 64,
                               "format error", "needs more than")
    bomb = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("bomb") + struct.pack("<I", ARR)
    for _ in range(200):
        bomb += struct.pack("<IQ", ARR, 1)
    bomb += struct.pack("<IQ", U8, 0)
    cases["nested_array_bomb"] = (bomb, "limit exceeded", "nested deeper")
    cases["n_dims_9"] = (build(STD_KV, [("t", [1] * 9, 0)], data=b"\0" * 32), "format error",
                         "9 dimensions")
    cases["n_dims_5"] = (build(STD_KV, [("t", [1] * 5, 0)], data=b"\0" * 32), "format error",
                         "5 dimensions")
    t_unknown = build(STD_KV, [("t", [8], 0)])
    i = len(build(STD_KV, [("t", [8], 0)], header_only=True)) - 12
    cases["unknown_type"] = (t_unknown[:i] + struct.pack("<I", 200) + t_unknown[i + 4:],
                             "unsupported", "type id 200")
    cases["retired_type"] = (t_unknown[:i] + struct.pack("<I", 4) + t_unknown[i + 4:],
                             "unsupported", "type id 4")
    cases["element_overflow"] = (build(STD_KV, [("t", [2**32, 2**32, 2**32], 0)], data=b""),
                                 "format error", "element count overflows")
    cases["negative_dim"] = (build(STD_KV, [("t", [8, -3], 0)], data=b""), "format error",
                             "< 0")
    cases["offset_out_of_bounds"] = (build(STD_KV, STD_T, offsets=[0, 4096]), "format error",
                                     "outside the data section")
    cases["misaligned_offset"] = (build(STD_KV, STD_T, offsets=[0, 136]), "format error",
                                  "not a multiple of the alignment")
    cases["overlapping_tensors"] = (build(STD_KV, STD_T, offsets=[0, 64]), "format error",
                                    "overlaps")
    cases["alignment_not_pow2"] = (build(STD_KV + [kv("general.alignment", U32, 48)], STD_T,
                                         align=48), "format error", "power of two")
    cases["alignment_zero"] = (build(STD_KV + [kv("general.alignment", U32, 0)], STD_T),
                               "format error", "power of two")
    cases["alignment_wrong_type"] = (build(STD_KV + [kv("general.alignment", U64, 32)], STD_T),
                                     "format error", "general.alignment must be a u32")
    cases["alignment_huge"] = (build(STD_KV + [kv("general.alignment", U32, 1 << 30)], [],
                                     align=32), "limit exceeded", "general.alignment")
    cases["duplicate_key"] = (build(STD_KV + [kv("general.architecture", STR, "x")], STD_T),
                              "format error", "duplicate key 'general.architecture'")
    cases["duplicate_tensor"] = (build(STD_KV, [("w", [8], 0), ("w", [8], 0)]), "format error",
                                 "duplicate tensor name 'w'")
    cases["name_not_utf8"] = (build(STD_KV, [(b"bad\xff\xfename", [8], 0)]), "format error",
                              "not valid UTF-8")
    cases["empty_key"] = (build([kv("", U32, 1)], STD_T), "format error", "is empty")
    cases["block_mismatch"] = (build(STD_KV, [("q", [33], 8)], data=b"\0" * 64),
                               "format error", "not a multiple of the q8_0 block size")
    cases["bad_value_type"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                               struct.pack("<I", 13) + b"\0" * 8, "format error",
                               "unknown value type 13")
    cases["bad_array_type"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") +
                               struct.pack("<IIQ", ARR, 99, 1) + b"\0" * 8, "format error",
                               "unknown array element type 99")
    cases["bad_bool"] = (build([kv("k", BOOL, 2)], []), "format error", "must be 0 or 1")
    cases["kv_count_huge"] = (b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62) + b"\0" * 32,
                              "limit exceeded", "over the cap")
    cases["tensor_count_vs_size"] = (b"GGUF" + struct.pack("<IQQ", 3, 1000, 0) + b"\0" * 64,
                                     "format error", "cannot fit")
    cases["lone_split_part"] = (build([kv("split.no", U16, 1), kv("split.count", U16, 3),
                                       kv("split.tensors.count", I32, 6)] + STD_KV, STD_T),
                                "format error", "split set of 3 files")

    os.makedirs(BAD, exist_ok=True)
    for name, (data, status, msg) in sorted(cases.items()):
        write(os.path.join(BAD, name + ".gguf"), data)
        with open(os.path.join(BAD, name + ".expect"), "w") as f:
            f.write(status + "\n" + msg + "\n")

    # ---- fuzz seeds ----
    os.makedirs(FUZZ, exist_ok=True)
    for n in ("small_v3", "small_v2", "align64", "no_tensors"):
        with open(os.path.join(GOOD, n + ".gguf"), "rb") as f:
            write(os.path.join(FUZZ, n + ".gguf"), f.read())
    for n in ("nested_array_bomb", "overlapping_tensors", "big_endian", "huge_array",
              "element_overflow", "lone_split_part"):
        write(os.path.join(FUZZ, "bad_" + n + ".gguf"), cases[n][0])


if __name__ == "__main__":
    main()
