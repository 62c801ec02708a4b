#!/usr/bin/env python3
"""Write a large synthetic safetensors model for benchmarks, quickly and deterministically.
usage: make_synthetic.py OUT.safetensors SIZE_GIB [DTYPE=F16|F32|BF16] [ROW=4096]
Tensors are ROW x ROW matrices (the last one shorter) named like a Llama model's; the payload is
a repeated block of pseudo-random finite values (no NaN/Inf), so any cast is meaningful."""
import json, os, random, struct, sys

out, gib = sys.argv[1], float(sys.argv[2])
dtype = sys.argv[3] if len(sys.argv) > 3 else "F16"
row = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
esz = {"F16": 2, "BF16": 2, "F32": 4}[dtype]
total = int(gib * (1 << 30))
per = row * row * esz
rng = random.Random(7)
if dtype == "F32":
    block = b"".join(struct.pack("<f", rng.gauss(0, 0.02)) for _ in range(1 << 16))
elif dtype == "F16":
    block = b"".join(struct.pack("<e", rng.gauss(0, 0.02)) for _ in range(1 << 17))
else:
    block = b"".join(struct.pack("<f", rng.gauss(0, 0.02))[2:] for _ in range(1 << 17))
header, off, i = {"__metadata__": {"format": "pt", "license": "mit"}}, 0, 0
while off < total:
    rows = min(row, (total - off) // (row * esz))
    if rows == 0:
        break
    n = rows * row * esz
    header[f"model.layers.{i // 7}.w{i % 7}.weight"] = {"dtype": dtype, "shape": [rows, row],
                                                      "data_offsets": [off, off + n]}
    off += n
    i += 1
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    left = off
    while left > 0:
        k = min(left, len(block))
        f.write(block[:k])
        left -= k
print(f"{out}: {i} tensors, {off / (1 << 30):.2f} GiB of {dtype}")
