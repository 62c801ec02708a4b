#!/usr/bin/python3
"""Safetensors fixtures and an independent checker for tensorcast's tests.

Uses only json/struct/numpy (and PyTorch for the f16/bf16 casts when present); the `safetensors`
package is not needed. Deterministic: running it twice gives the same bytes.

  gen_safetensors_fixtures.py gen [ROOT]      write fixtures/safetensors/{good,bad} and
                                              fixtures/fuzz/safetensors under ROOT (default: repo)
  gen_safetensors_fixtures.py check FILE [REF] validate a safetensors file (or .index.json) the
                                              way the Rust crate does, check its header is padded
                                              to 8 bytes and its typed metadata is JSON; with REF,
                                              also compare every tensor (name, dtype, shape,
                                              bytes) with REF. Exit 0 when all is well.
"""
import json
import os
import struct
import sys

import numpy as np

try:
    import torch
except ImportError:  # the f16/bf16 values then come from numpy (f16) and bit shifts (bf16)
    torch = None

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8,
              "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def pack(entries, metadata=None, meta_pos=0, order=None, pad=True, trailing=b""):
    """entries: list of (name, dtype, shape, bytes) in data order. Header keys in `order`."""
    hdr = {}
    data = b""
    offs = {}
    for name, dt, shape, raw in entries:
        offs[name] = (dt, shape, len(data), len(data) + len(raw))
        data += raw
    names = order if order is not None else [e[0] for e in entries]
    items = []
    for name in names:
        dt, shape, b, e = offs[name]
        items.append((name, {"dtype": dt, "shape": list(shape), "data_offsets": [b, e]}))
    if metadata is not None:
        items.insert(meta_pos, ("__metadata__", metadata))
    text = "{" + ",".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"))
                          for k, v in items) + "}"
    h = text.encode("utf-8")
    if pad:
        h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data + trailing


def raw_header(text, data=b""):
    h = text if isinstance(text, bytes) else text.encode("utf-8")
    return struct.pack("<Q", len(h)) + h + data


def f8_decode(b, ebits, mbits, bias, e4m3):
    s = -1.0 if b & 0x80 else 1.0
    e = (b >> mbits) & ((1 << ebits) - 1)
    m = b & ((1 << mbits) - 1)
    if e4m3:
        if e == 15 and m == 7:
            return float("nan")
    elif e == 31:
        return s * float("inf") if m == 0 else float("nan")
    if e == 0:
        return s * m / (1 << mbits) * 2.0 ** (1 - bias)
    return s * (1 + m / (1 << mbits)) * 2.0 ** (e - bias)


def half_values(vals, bf16):
    """Bytes and exact float values of float32 `vals` rounded to f16/bf16 (nearest even)."""
    a = np.asarray(vals, dtype=np.float32)
    if torch is not None:
        t = torch.from_numpy(a).to(torch.bfloat16 if bf16 else torch.float16)
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        return raw, [float(x) for x in t.float().numpy()]
    if not bf16:
        h = a.astype("<f2")
        return h.tobytes(), [float(x) for x in h.astype(np.float64)]
    u = a.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    r = np.where(np.isnan(a), (u >> 16).astype(np.uint16) | 0x40, r)
    back = (r.astype(np.uint32) << 16).view(np.float32)
    return r.astype("<u2").tobytes(), [float(x) for x in back.astype(np.float64)]


def good_all_dtypes():
    """Every dtype, several ranks (0-d, empty), shuffled header order; expected values."""
    rng = np.random.default_rng(1234)
    ents = []
    expect = []
    fl = rng.standard_normal(15).astype(np.float32) * 3
    fl[:6] = [0.0, -0.0, 1e-40, 65504.0, float("inf"), float("nan")]

    def add(name, dt, shape, raw, vals):
        ents.append((name, dt, shape, raw))
        expect.append((name, dt, shape, vals))

    a64 = rng.standard_normal(6) * 1e3
    a64[0] = 5e-324
    add("f64.w", "F64", [2, 3], a64.astype("<f8").tobytes(), [float(x) for x in a64])
    add("f32.w", "F32", [3, 5], fl.astype("<f4").tobytes(), [float(x) for x in fl])
    raw, vals = half_values(fl, False)
    add("f16.w", "F16", [5, 3], raw, vals)
    raw, vals = half_values(fl, True)
    add("bf16.w", "BF16", [15], raw, vals)
    b = bytes(range(256))
    add("f8_e4m3.w", "F8_E4M3", [16, 16], b, [f8_decode(x, 4, 3, 7, True) for x in b])
    add("f8_e5m2.w", "F8_E5M2", [2, 8, 16], b, [f8_decode(x, 5, 2, 15, False) for x in b])
    for dt, npt in (("I64", "<i8"), ("I32", "<i4"), ("I16", "<i2"), ("I8", "i1"), ("U64", "<u8"),
                    ("U32", "<u4"), ("U16", "<u2"), ("U8", "u1")):
        info = np.iinfo(npt)
        v = rng.integers(info.min, info.max, size=7, dtype=npt, endpoint=True)
        v[0], v[1] = info.min, info.max
        add(dt.lower() + ".w", dt, [7], v.astype(npt).tobytes(), [int(x) for x in v])
    bl = np.array([True, False, False, True, True], dtype=np.bool_)
    add("bool.mask", "BOOL", [5], bl.tobytes(), [int(x) for x in bl])
    add("scalar", "F32", [], np.float32(2.5).tobytes(), [2.5])
    add("empty", "F16", [0, 4], b"", [])
    add("empty2", "I32", [3, 0], b"", [])
    order = [e[0] for e in ents]
    order = order[7::2] + order[::-3] + [n for n in order if n not in order[7::2] + order[::-3]]
    seen = []
    for n in order:
        if n not in seen:
            seen.append(n)
    meta = {"format": "pt", "license": "mit", "license_link": "https://opensource.org/license/mit",
            "note": "caf\u00e9 \u2603"}
    data = pack(ents, meta, meta_pos=3, order=seen)
    lines = []
    for name, dt, shape, vals in expect:
        lines.append(" ".join([name, dt, str(len(shape))] + [str(d) for d in shape] +
                              [str(len(vals))] + [repr(float(v)) if dt[0] in "FB" and dt != "BOOL"
                                                  else str(v) for v in vals]))
    return data, "\n".join(lines) + "\n"


def typed_meta_file():
    """A file whose __metadata__ holds typed values in tensorcast's encoding."""
    meta = {
        "general.architecture": "llama",
        "llama.block_count": "2",
        "llama.rope.freq_base": "10000",
        "llama.attention.layer_norm_rms_epsilon": "9.99999975e-06",
        "general.tags": '["a","b\\"c","\\u00e9"]',
        "tokenizer.ggml.scores": "[0,-1.5,NaN,-Infinity,3.40282347e+38]",
        "tokenizer.ggml.merges": '[["a b"],[],["c d","e f"]]',
        "big": "18446744073709551615",
        "neg": "-9223372036854775808",
        "flag": "true",
        "tensorcast.kv_types": json.dumps({
            "llama.block_count": "u32", "llama.rope.freq_base": "f32",
            "llama.attention.layer_norm_rms_epsilon": "f32", "general.tags": "arr[str]",
            "tokenizer.ggml.scores": "arr[f32]", "tokenizer.ggml.merges": "arr[arr[str]]",
            "big": "u64", "neg": "i64", "flag": "bool"}, separators=(",", ":")),
    }
    w = np.arange(8, dtype="<f4")
    return pack([("w", "F32", [2, 4], w.tobytes())], meta)


F32_4 = np.arange(4, dtype="<f4").tobytes()


def bad_cases():
    """(case, bytes or {file: bytes} for a directory, expected message substring).
    The .expect file: line 1 the status name (tc_status_name), line 2 the substring."""
    e4 = ("a", "F32", [4], F32_4)
    ok = pack([e4])
    cases = [
        ("truncated", ok[:5], "truncated"),
        ("header_over_cap", struct.pack("<Q", 200_000_000) + b'{"a":1}', "exceeds the cap"),
        ("header_past_end", struct.pack("<Q", 4096) + b'{"a":1}' + b" " * 40,
         "runs past the end"),
        ("not_json", raw_header('{"a": {"dtype": "F32",,}}    '), "not valid JSON"),
        ("not_object", raw_header("[1, 2, 3]      "), "not a JSON object"),
        ("header_leading_space", raw_header(
            ' {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}       ', F32_4),
         "header must start with '{'"),
        ("duplicate_name", raw_header(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', F32_4 + F32_4),
         "duplicate tensor name"),
        ("bad_dtype", pack([("a", "C64", [2], F32_4)]), "dtype 'C64' is not supported"),
        ("bad_dtype_f4", pack([("a", "F4", [2], b"\x12")]), "dtype 'F4' is not supported"),
        ("offsets_out_of_bounds", raw_header(
            '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
            '"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}} ', F32_4), "out of bounds"),
        ("overlap", raw_header(
            '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
            '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}   ', F32_4), "overlaps"),
        ("hole", raw_header(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}   ', F32_4), "hole of 4 bytes"),
        ("trailing_bytes", ok + b"\0\0\0\0", "4 trailing bytes"),
        ("shape_mismatch", pack([("a", "F32", [5], F32_4)]), "shape and dtype F32 need 20"),
        ("nine_dims", pack([("a", "F32", [1, 1, 1, 1, 1, 1, 1, 2, 2], F32_4)]), "9 dimensions"),
        ("negative_dim", raw_header(
            '{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}        ', F32_4),
         "is negative"),
        ("count_overflow", raw_header(
            '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]}}',
            F32_4), "element count overflows"),
        ("bytes_overflow", raw_header(
            '{"a":{"dtype":"F64","shape":[2305843009213693952,2],"data_offsets":[0,16]}}',
            F32_4), "byte size overflows"),
        ("non_utf8_name", raw_header(
            b'{"a\xff":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}  ', F32_4),
         "not valid UTF-8"),
        ("empty_name", raw_header(
            '{"":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}       ', F32_4), "empty name"),
        ("metadata_not_map", pack([e4], {"format": "pt", "n": 3}),
         "__metadata__ 'n' is not a string"),
        ("metadata_not_object", pack([e4], ["pt"]), "__metadata__ is not an object"),
        ("offsets_reversed", raw_header(
            '{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}        ', F32_4),
         "end before they begin"),
        ("offsets_not_int", raw_header(
            '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16.0]}}      ', F32_4),
         "data_offsets must be two integers"),
        ("missing_field", raw_header('{"a":{"dtype":"F32","shape":[4]}}       ', F32_4),
         "needs \"dtype\""),
        ("typed_meta_bad", pack([e4], {"n": "12x", "tensorcast.kv_types": '{"n":"u32"}'}),
         "'12x' is not a valid u32 value"),
        ("typed_meta_range", pack([e4], {"n": "256", "tensorcast.kv_types": '{"n":"u8"}'}),
         "'256' is not a valid u8 value"),
        ("typed_meta_bad_type", pack([e4], {"n": "1", "tensorcast.kv_types": '{"n":"arr[q7]"}'}),
         "bad type for 'n'"),
        ("index_missing_shard", {
            "model.safetensors.index.json": json.dumps(
                {"metadata": {"total_size": 16},
                 "weight_map": {"a": "model-00001-of-00002.safetensors",
                                "b": "model-00002-of-00002.safetensors"}}).encode(),
            "model-00001-of-00002.safetensors": ok}, "which is missing"),
        ("index_path_escape", {
            "model.safetensors.index.json": json.dumps(
                {"metadata": {}, "weight_map": {"a": "../model.safetensors"}}).encode(),
            "model.safetensors": ok}, "must name a file in the same directory"),
        ("index_unlisted_tensor", {
            "model.safetensors.index.json": json.dumps(
                {"weight_map": {"a": "model.safetensors"}}).encode(),
            "model.safetensors": pack([e4, ("b", "F32", [1], F32_4[:4])])},
         "tensor 'b' is not listed in the index"),
        ("index_absent_tensor", {
            "model.safetensors.index.json": json.dumps(
                {"weight_map": {"a": "model.safetensors", "zz": "model.safetensors"}}).encode(),
            "model.safetensors": ok}, "lists tensor 'zz' in 'model.safetensors'"),
        ("shards_duplicate", {
            "model-00001-of-00002.safetensors": ok,
            "model-00002-of-00002.safetensors": ok}, "tensor 'a' is also in another file"),
    ]
    return cases


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen(root):
    base = os.path.join(root, "fixtures", "safetensors")
    fuzz = os.path.join(root, "fixtures", "fuzz", "safetensors")
    data, expect = good_all_dtypes()
    write(os.path.join(base, "good", "all_dtypes.safetensors"), data)
    write(os.path.join(base, "good", "all_dtypes.values"), expect.encode())
    write(os.path.join(fuzz, "all_dtypes"), data)
    tm = typed_meta_file()
    write(os.path.join(base, "good", "typed_meta.safetensors"), tm)
    write(os.path.join(fuzz, "typed_meta"), tm)
    nm = raw_header('{"__metadata__":null,"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
                    b"x")
    write(os.path.join(base, "good", "null_metadata.safetensors"), nm)
    for case, content, sub in bad_cases():
        if isinstance(content, dict):
            for name, b in content.items():
                write(os.path.join(base, "bad", case, name), b)
                if name.endswith(".safetensors"):
                    write(os.path.join(fuzz, case + "-" + name.split(".")[0]), b)
        else:
            write(os.path.join(base, "bad", case + ".safetensors"), content)
            write(os.path.join(fuzz, case), content)
        status = ("limit exceeded" if case in ("header_over_cap", "nine_dims") else
                  "unsupported" if case.startswith("bad_dtype") else "format error")
        write(os.path.join(base, "bad", case + ".expect"), (status + "\n" + sub + "\n").encode())


# ---- the checker ----

def load(path):
    """{name: (dtype, shape, bytes)}, metadata, problems (list of strings)."""
    probs = []
    if path.endswith(".index.json"):
        with open(path, "rb") as f:
            idx = json.load(f)
        d = os.path.dirname(path)
        out, meta = {}, {}
        files = sorted(set(idx["weight_map"].values()))
        total = 0
        for fn in files:
            t, m, p = load(os.path.join(d, fn))
            probs += p
            meta.update(m)
            for k, v in t.items():
                if idx["weight_map"].get(k) != fn:
                    probs.append("%s: %s not in the weight_map under this file" % (fn, k))
                if k in out:
                    probs.append("duplicate %s" % k)
                out[k] = v
                total += len(v[2])
        if set(out) != set(idx["weight_map"]):
            probs.append("weight_map and shards disagree")
        if idx.get("metadata", {}).get("total_size") != total:
            probs.append("total_size %r != %d" % (idx.get("metadata", {}).get("total_size"), total))
        return out, meta, probs
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    if (8 + n) % 8:
        probs.append("data section does not start 8-byte aligned")
    hdr = json.loads(b[8:8 + n].decode("utf-8"),
                     object_pairs_hook=lambda kv: dict(kv) if len(set(k for k, _ in kv)) == len(kv)
                     else probs.append("duplicate keys") or dict(kv))
    data = b[8 + n:]
    meta = hdr.pop("__metadata__", {}) or {}
    for k, v in meta.items():
        if not isinstance(v, str):
            probs.append("metadata %s not a string" % k)
    types = json.loads(meta.get("tensorcast.kv_types", "{}"))
    for k in types:
        try:
            json.loads(meta[k])
        except (KeyError, ValueError) as ex:
            probs.append("typed metadata %s: %s" % (k, ex))
    out = {}
    spans = []
    for k, v in hdr.items():
        s, e = v["data_offsets"]
        count = 1
        for d in v["shape"]:
            count *= d
        if count * DTYPE_SIZE[v["dtype"]] != e - s:
            probs.append("%s: size mismatch" % k)
        spans.append((s, e, k))
        out[k] = (v["dtype"], list(v["shape"]), data[s:e])
    spans.sort()
    at = 0
    for s, e, k in spans:
        if s != at:
            probs.append("%s: not contiguous (%d != %d)" % (k, s, at))
        at = e
    if at != len(data):
        probs.append("data section %d bytes, tensors cover %d" % (len(data), at))
    return out, meta, probs


def check(path, ref=None):
    t, meta, probs = load(path)
    if ref is not None:
        r, _, p2 = load(ref)
        probs += ["ref: " + p for p in p2]
        if sorted(t) != sorted(r):
            probs.append("tensor names differ")
        for k in r:
            if k in t and t[k] != r[k]:
                probs.append("%s differs (dtype/shape/bytes)" % k)
    for p in probs:
        print(p)
    print("%s: %d tensors, %d metadata keys, %s" % (path, len(t), len(meta),
                                                   "OK" if not probs else "BAD"))
    return 0 if not probs else 1


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "gen":
        here = os.path.dirname(os.path.abspath(__file__))
        gen(sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(here))
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None))
    else:
        sys.exit(__doc__)
