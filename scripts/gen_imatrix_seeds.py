#!/usr/bin/env python3
"""Deterministic seed inputs for tests/fuzz/fuzz_imatrix.c (fixtures/fuzz/imatrix/):
a legacy llama-imatrix .dat file and a GGUF imatrix (<name>.in_sum2 + <name>.counts)."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "fixtures/fuzz/imatrix"
os.makedirs(out, exist_ok=True)

entries = [("blk.0.attn_q.weight", 3, [float(i % 5) + 0.5 for i in range(32)]),
           ("blk.0.ffn_down_exps.weight", 1, [1.0 + i / 8 for i in range(64)])]

# legacy .dat
b = struct.pack("<i", len(entries))
for name, ncall, vals in entries:
    nb = name.encode()
    b += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", ncall, len(vals))
    b += struct.pack("<%df" % len(vals), *vals)
b += struct.pack("<ii", 10, 4) + b"wiki"
open(os.path.join(out, "legacy.dat"), "wb").write(b)


# GGUF v3
def gstr(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


kv = [("general.type", 8, gstr("imatrix")),
      ("imatrix.chunk_count", 4, struct.pack("<I", 10)),
      ("imatrix.datasets", 9, struct.pack("<IQ", 8, 1) + gstr("wiki"))]
tensors = []  # (name, ne, data)
for name, ncall, vals in entries:
    nmat = 2 if "exps" in name else 1
    ne0 = len(vals) // nmat
    tensors.append((name + ".in_sum2", [ne0, nmat], struct.pack("<%df" % len(vals), *vals)))
    counts = [float(ncall)] * nmat
    if nmat > 1:
        counts[1] = 0.0
    tensors.append((name + ".counts", [1, nmat], struct.pack("<%df" % nmat, *counts)))
hdr = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
for k, t, v in kv:
    hdr += gstr(k) + struct.pack("<I", t) + v
off = 0
data = b""
for name, ne, d in tensors:
    hdr += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
    hdr += struct.pack("<IQ", 0, off)
    pad = (-len(d)) % 32
    data += d + b"\0" * pad
    off += len(d) + pad
hdr += b"\0" * ((-len(hdr)) % 32)
open(os.path.join(out, "imatrix.gguf"), "wb").write(hdr + data)
