#!/usr/bin/env python3
"""make_fixtures.py - PyTorch checkpoints for tests/check_torch.c, written by real PyTorch.

usage: make_fixtures.py OUTDIR            good + bad checkpoints and OUTDIR/manifest.json
       make_fixtures.py --bad DIR         the tiny committed malicious/malformed files + .expect
       make_fixtures.py --seeds DIR       fuzz seeds (DIR/pickle, DIR/zip)
       make_fixtures.py --placeholder F   a checkpoint with an unknown class outside its tensors
       make_fixtures.py --big FILE MB     a ~MB megabyte torch.save of random tensors (benchmark)

manifest.json: {"good": [{"path", "tensors": {name: {"dtype", "shape", "sha256"}}, "notes": [..]}],
                "bad": [{"path", "status", "substr"}], "canary": path}
Expected tensor bytes are what torch itself sees: sha256 of t.contiguous() as little-endian bytes.
Malicious payloads would create the canary file if anything ever ran them.
"""
import hashlib
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import torch

ST_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
            torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


# tc_status_name() of each status: line 1 of a .expect file
STATUS_NAMES = {"FORMAT": "format error", "UNSUPPORTED": "unsupported", "LIMIT": "limit exceeded",
                "UNSAFE": "unsafe input"}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def expect_of(sd):
    out = {}
    for k, t in sd.items():
        out[k] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
                  "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest()}
    return out


def gen(seed):
    g = torch.Generator().manual_seed(seed)
    return g


def all_dtypes():
    g = gen(1)
    f = torch.randn(5, 7, generator=g)
    sd = {
        "f64": torch.randn(3, 4, generator=g, dtype=torch.float64),
        "f32": f,
        "f16": torch.randn(4, 6, generator=g).half(),
        "bf16": torch.randn(2, 3, 4, generator=g).bfloat16(),
        "i64": torch.randint(-2**40, 2**40, (6,), generator=g, dtype=torch.int64),
        "i32": torch.randint(-2**30, 2**30, (3, 3), generator=g, dtype=torch.int32),
        "i16": torch.randint(-30000, 30000, (8,), generator=g, dtype=torch.int16),
        "i8": torch.randint(-128, 127, (4, 4), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (10,), generator=g, dtype=torch.uint8),
        "bool": torch.rand(3, 5, generator=g) > 0.5,
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
    }
    return sd


def views():
    g = gen(2)
    base = torch.randn(6, 8, generator=g)
    cube = torch.randn(3, 4, 5, generator=g)
    tied = torch.randn(4, 4, generator=g)
    h = torch.randn(5, 6, generator=g).half()
    return {
        "base": base,
        "transpose": base.t(),                 # non-contiguous
        "rows": base[2:5],                     # contiguous, storage offset 16
        "cols": base[:, 3:7],                  # non-contiguous, offset 3
        "step": base[::2, 1::3],               # strides (16, 3)
        "permute": cube.permute(2, 0, 1),      # 3-d permutation
        "expand": torch.randn(1, 5, generator=g).expand(4, 5),  # stride 0
        "embed.weight": tied,                  # tied weights: one storage, two names
        "lm_head.weight": tied,
        "half_t": h.t(),
        "row_vec": base[3],                    # 1-d view at offset 24
        "elem": base[1, 2],                    # 0-d view at offset 10
    }


def nested():
    g = gen(3)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(2, 4, generator=g)).sum().backward()
    opt.step()
    sd = model.state_dict()
    ck = {"epoch": 3, "state_dict": sd, "optimizer": opt.state_dict(), "lr": 0.1}
    return ck, dict(sd)


def module_prefixed():
    g = gen(4)
    inner = {"module.enc.w": torch.randn(3, 2, generator=g),
             "module.enc.b": torch.randn(3, generator=g),
             "module.head": {"w": torch.randn(2, 2, generator=g)}}
    ck = {"model": inner, "step": 100, "name": "run-1"}
    want = {"enc.w": inner["module.enc.w"], "enc.b": inner["module.enc.b"],
            "head.w": inner["module.head"]["w"]}
    return ck, want


def params():
    g = gen(5)
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(2, 3, generator=g))
    sd = {"weight": lin.weight, "bias": lin.bias, "buf": torch.arange(4)}
    return sd, {k: v.detach() for k, v in sd.items()}


def zip_rewrite(src, dst, fn, zip64=False):
    """Copy a zip through fn(name, data) -> list of (name, data, compress_type)."""
    old64, oldcount = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    if zip64:
        zipfile.ZIP64_LIMIT = 0
        zipfile.ZIP_FILECOUNT_LIMIT = 0
    try:
        with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
            for info in zi.infolist():
                for name, data, ct in fn(info.filename, zi.read(info.filename)):
                    zo.writestr(zipfile.ZipInfo(name), data, compress_type=ct)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = old64, oldcount


def root_of(path):
    with zipfile.ZipFile(path) as z:
        return z.namelist()[0].split("/")[0]


# ---- hand-written pickles (protocol 2 unless said) --------------------------------------------

def p_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def p_global(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def p_call(mod, name, arg):
    return b"\x80\x02" + p_global(mod, name) + p_str(arg) + b"\x85R."


def p_stack_call(mod, name, arg):
    return (b"\x80\x04" + b"\x8c" + bytes([len(mod)]) + mod.encode() + b"\x8c" +
            bytes([len(name)]) + name.encode() + b"\x93" + p_str(arg) + b"\x85R.")


def torch_zip(path, pkl, storages=None, root="archive", compress_pkl=False, extra=None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo(root + "/data.pkl"), pkl,
                   compress_type=zipfile.ZIP_DEFLATED if compress_pkl else zipfile.ZIP_STORED)
        for k, v in (storages or {}).items():
            z.writestr(zipfile.ZipInfo(root + "/data/" + k), v)
        for k, v in (extra or {}).items():
            z.writestr(zipfile.ZipInfo(root + "/" + k), v)
        z.writestr(zipfile.ZipInfo(root + "/version"), b"3\n")


def legacy_stream(main_pkl, keys=(), storages=b""):
    magic = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)
    proto = pickle.dumps(1001, protocol=2)
    sysinfo = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    return magic + proto + sysinfo + main_pkl + pickle.dumps(list(keys), protocol=2) + storages


class Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class Unknown:
    def __reduce__(self):
        return (Unknown, ())


def write_bad(d, canary, small_only=False):
    """Malicious and malformed checkpoints; returns [(file, status, substr)]."""
    os.makedirs(d, exist_ok=True)
    touch = "touch " + canary
    out = []

    def add(name, data, status, substr):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        out.append((name, status, substr))

    def add_zip(name, pkl, status, substr, **kw):
        torch_zip(os.path.join(d, name), pkl, **kw)
        out.append((name, status, substr))

    add_zip("os_system.pt", p_call("os", "system", touch), "UNSAFE",
            "pickle global 'os.system' is not allowed")
    add_zip("posix_system.pt", p_call("posix", "system", touch), "UNSAFE",
            "pickle global 'posix.system' is not allowed")
    add_zip("builtins_eval.pt", p_call("builtins", "eval", "__import__('os').system('%s')" % touch),
            "UNSAFE", "pickle global 'builtins.eval' is not allowed")
    add_zip("builtins_exec.pt", p_call("builtins", "exec", "import os; os.system('%s')" % touch),
            "UNSAFE", "pickle global 'builtins.exec' is not allowed")
    add_zip("subprocess_popen.pt", p_stack_call("subprocess", "Popen", touch), "UNSAFE",
            "pickle global 'subprocess.Popen' is not allowed")
    # a real torch.save whose dict holds an object reducing to os.system (posix.system on Linux)
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2), "payload": Evil(touch)}, buf)
    add("torch_save_reduce.pt", buf.getvalue(), "UNSAFE", "is not allowed (tensorcast never runs")
    # a checkpoint that is one object of an unknown class: nothing to read, refused
    add_zip("top_unknown.pt", b"\x80\x02cnumpy.core.multiarray\nscalar\n)R.", "UNSAFE",
            "built by pickle global 'numpy.core.multiarray.scalar'")
    # a tensor rebuilt from a storage made by a class tensorcast does not know
    add_zip("tensor_needs_unknown.pt",
            b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(cfoo\nBar\n)R"
            b"K\x00K\x02\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu.", "UNSAFE",
            "depends on pickle global 'foo.Bar'")
    add("legacy_os_system.pt", legacy_stream(p_call("os", "system", touch)), "UNSAFE",
        "pickle global 'os.system'")
    # memo bomb: one value stored at memo index 2^32-2
    add_zip("memo_bomb.pt", b"\x80\x02}r\xfe\xff\xff\xff.", "LIMIT", "memo index")
    # huge length: BINUNICODE8 of 2^62 bytes
    add_zip("huge_string.pt", b"\x80\x04\x8d" + struct.pack("<Q", 1 << 62) + b"ab.", "FORMAT",
            "truncated pickle")
    add_zip("huge_long.pt", b"\x80\x02\x8b" + struct.pack("<I", 1 << 30) + b"\x00.", "LIMIT",
            "pickle integer")
    # nesting: 200 dicts inside each other
    pk = b"\x80\x02" + b"}X\x01\x00\x00\x00a" * 200 + b"}" + b"s" * 200 + b"."
    add_zip("nesting_bomb.pt", pk, "LIMIT", "nested deeper")
    # sharing: d[i] = {a: d[i-1], b: d[i-1]}, 50 levels = 2^50 paths
    pk = sharing_bomb()
    add_zip("sharing_bomb.pt", pk, "LIMIT", "visits more than")
    add_zip("mark_bomb.pt", b"\x80\x02" + b"(" * 70000 + b".", "LIMIT", "open pickle MARKs",
            compress_pkl=True)
    add_zip("unknown_opcode.pt", b"\x80\x02P0\n.", "UNSUPPORTED", "opcode 0x50")
    # a real checkpoint, then broken in different ways
    src = os.path.join(d, "ck.pt")
    torch.save({"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)}, src)
    r = root_of(src)
    zip_rewrite(src, os.path.join(d, "missing_storage.pt"),
                lambda n, b: [(n.replace("/data/0", "/data/7"), b, zipfile.ZIP_STORED)])
    out.append(("missing_storage.pt", "FORMAT", "storage entry '%s/data/0' is missing" % r))
    zip_rewrite(src, os.path.join(d, "storage_too_small.pt"),
                lambda n, b: [(n, b[:40] if n.endswith("/data/0") else b, zipfile.ZIP_STORED)])
    out.append(("storage_too_small.pt", "FORMAT", "storage '0' holds 40 bytes"))
    zip_rewrite(src, os.path.join(d, "truncated_pickle.pt"),
                lambda n, b: [(n, b[:len(b) // 2] if n.endswith("data.pkl") else b,
                               zipfile.ZIP_STORED)])
    out.append(("truncated_pickle.pt", "FORMAT", "data.pkl"))
    zip_rewrite(src, os.path.join(d, "compressed_storage.pt"),
                lambda n, b: [(n, b, zipfile.ZIP_DEFLATED if "/data/" in n else
                               zipfile.ZIP_STORED)])
    out.append(("compressed_storage.pt", "UNSUPPORTED", "is compressed"))
    zip_rewrite(src, os.path.join(d, "bad_byteorder.pt"),
                lambda n, b: [(n, b, 0)] + ([(r + "/byteorder", b"middle", 0)]
                                            if n.endswith("data.pkl") else []))
    out.append(("bad_byteorder.pt", "FORMAT", "neither 'little' nor 'big'"))
    data = open(src, "rb").read()
    add("truncated_zip.pt", data[:len(data) - 30], "FORMAT", "end-of-central-directory")
    os.unlink(src)
    # a 16-byte storage expanded (stride 0) to 4 GiB of logical data
    buf = io.BytesIO()
    torch.save({"big": torch.ones(1, 4).expand(1 << 28, 4)}, buf)
    add("broadcast_bomb.pt", buf.getvalue(), "LIMIT", "broadcast view of a 16-byte storage")
    # legacy file cut inside its storage data
    buf = io.BytesIO()
    torch.save({"w": torch.arange(10, dtype=torch.float32)}, buf,
               _use_new_zipfile_serialization=False)
    add("legacy_truncated.pt", buf.getvalue()[:-8], "FORMAT", "runs past the end of the file")
    if not small_only:
        add_zip("stack_bomb.pt", b"\x80\x02" + b"N" * ((1 << 20) + 10) + b".", "LIMIT",
                "pickle stack deeper")
    return out


def sharing_bomb():
    """{'a': d, 'b': d} nested 50 times through the memo: tiny to store, 2^50 paths to walk."""
    pk = b"\x80\x02}q\x00"                  # d0 = {}, memo[0]
    for _ in range(50):
        pk += b"0"                          # pop the previous level (it stays in the memo)
        pk += b"}(X\x01\x00\x00\x00ah\x00X\x01\x00\x00\x00bh\x00uq\x00"
    return pk + b"."


# ---- good checkpoints ------------------------------------------------------------------------

def write_good(d):
    os.makedirs(d, exist_ok=True)
    out = []

    def save(name, obj, want, notes=(), **kw):
        p = os.path.join(d, name)
        torch.save(obj, p, **kw)
        out.append({"path": name, "tensors": expect_of(want), "notes": list(notes)})
        return p

    sd = all_dtypes()
    save("all_dtypes.pt", sd, sd)
    save("all_dtypes_proto4.pt", sd, sd, pickle_protocol=4)
    save("all_dtypes_proto5.pt", sd, sd, pickle_protocol=5)
    v = views()
    save("views.pt", v, v)
    save("views_legacy.pt", v, v, _use_new_zipfile_serialization=False)
    save("all_dtypes_legacy.pt", sd, sd, _use_new_zipfile_serialization=False)
    save("views_legacy_proto4.pt", v, v, _use_new_zipfile_serialization=False, pickle_protocol=4)
    ck, want = nested()
    save("nested_state_dict.pt", ck, want,
         notes=["tensors read from the 'state_dict' entry", "'epoch'", "'optimizer'"])
    ck, want = module_prefixed()
    save("module_prefix.pt", ck, want,
         notes=["stripped the 'module.' prefix", "tensors read from the 'model' entry"])
    p, want = params()
    save("parameters.pt", p, want)
    save("mixed_values.pt", {"w": v["base"], "n": 5, "s": "text", "lst": [1, 2]},
         {"w": v["base"]}, notes=["skipped 3 non-tensor entries"])
    nest = {"encoder": {"layer": {"w": v["base"], "b": v["row_vec"]}}, "head": v["cols"]}
    save("nested_dicts.pt", nest, {"encoder.layer.w": v["base"], "encoder.layer.b": v["row_vec"],
                                   "head": v["cols"]})
    # zip variants written by Python's zipfile from a real checkpoint
    src = os.path.join(d, "views.pt")
    zip_rewrite(src, os.path.join(d, "views_zip64.pt"), lambda n, b: [(n, b, 0)], zip64=True)
    out.append(dict(out[3], path="views_zip64.pt"))
    zip_rewrite(src, os.path.join(d, "views_deflated_pkl.pt"),
                lambda n, b: [(n, b, zipfile.ZIP_DEFLATED if n.endswith(".pkl") else 0)])
    out.append(dict(out[3], path="views_deflated_pkl.pt"))
    # big-endian: byteorder record "big" and every storage byte-swapped
    g = gen(6)
    be = {"f": torch.randn(3, 4, generator=g), "h": torch.randint(-999, 999, (5,), generator=g,
                                                                  dtype=torch.int16),
          "d": torch.randn(2, 2, generator=g, dtype=torch.float64)}
    be["ft"] = be["f"].t()
    bsrc = os.path.join(d, "be_src.pt")
    torch.save(be, bsrc)
    sizes = {"0": 4, "1": 2, "2": 8}  # storages are numbered in pickling order

    def swap(n, b):
        if "/data/" in n:
            es = sizes[n.rsplit("/", 1)[1]]
            b = b"".join(b[i:i + es][::-1] for i in range(0, len(b), es))
        res = [(n, b, 0)]
        if n.endswith("data.pkl"):
            res.append((n[:-len("data.pkl")] + "byteorder", b"big", 0))
        return res
    zip_rewrite(bsrc, os.path.join(d, "big_endian.pt"), swap)
    os.unlink(bsrc)
    out.append({"path": "big_endian.pt", "tensors": expect_of(be), "notes": []})
    # big-endian legacy stream: sys_info little_endian=False, sizes and elements byte-swapped
    f = torch.randn(3, 4, generator=g)
    bel = {"f": f, "ft": f.t(), "row": f[1]}
    buf = io.BytesIO()
    torch.save(bel, buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    ends, pos = [], 0
    for _ in range(5):  # magic, protocol, sys_info, main pickle, storage keys
        for op, _arg, at in pickletools.genops(raw[pos:]):
            if op.name == "STOP":
                pos += at + 1
                break
        ends.append(pos)
    sysinfo = pickle.dumps({"protocol_version": 1001, "little_endian": False,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    numel = struct.unpack("<Q", raw[ends[4]:ends[4] + 8])[0]
    data = raw[ends[4] + 8:]
    assert len(data) == numel * 4
    swapped = b"".join(data[i:i + 4][::-1] for i in range(0, len(data), 4))
    with open(os.path.join(d, "big_endian_legacy.pt"), "wb") as fo:
        fo.write(raw[:ends[1]] + sysinfo + raw[ends[2]:ends[4]] + struct.pack(">Q", numel) +
                 swapped)
    out.append({"path": "big_endian_legacy.pt", "tensors": expect_of(bel), "notes": []})
    # sharded: pytorch_model-0000k-of-00002.bin + index.json, and a directory of .pth shards
    sh = os.path.join(d, "sharded")
    os.makedirs(sh, exist_ok=True)
    s1 = {"a.w": v["base"], "a.b": v["row_vec"]}
    s2 = {"b.w": v["transpose"], "b.h": sd["bf16"]}
    wm = {}
    for i, s in enumerate((s1, s2)):
        fn = "pytorch_model-%05d-of-00002.bin" % (i + 1)
        torch.save(s, os.path.join(sh, fn))
        wm.update({k: fn for k in s})
    with open(os.path.join(sh, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    both = dict(s1, **s2)
    out.append({"path": "sharded", "tensors": expect_of(both), "notes": []})
    out.append({"path": "sharded/pytorch_model.bin.index.json", "tensors": expect_of(both),
                "notes": []})
    cons = os.path.join(d, "consolidated")
    os.makedirs(cons, exist_ok=True)
    torch.save(s1, os.path.join(cons, "consolidated.00.pth"))
    torch.save(s2, os.path.join(cons, "consolidated.01.pth"),
               _use_new_zipfile_serialization=False)
    # a training directory also holds optimizer / args files: not model shards, never read
    torch.save({"state": {0: {"exp_avg": torch.ones(3)}}}, os.path.join(cons, "optimizer.pt"))
    with open(os.path.join(cons, "training_args.bin"), "wb") as f:
        f.write(p_call("os", "system", "touch " + os.path.join(os.path.dirname(d), "canary")))
    out.append({"path": "consolidated", "tensors": expect_of(both), "notes": []})
    return out


def write_seeds(d):
    os.makedirs(os.path.join(d, "pickle"), exist_ok=True)
    os.makedirs(os.path.join(d, "zip"), exist_ok=True)
    g = gen(7)
    small = {"w": torch.randn(2, 3, generator=g), "t": torch.randn(3, 2, generator=g).t(),
             "n": 1}
    for proto in (2, 4):
        buf = io.BytesIO()
        torch.save(small, buf, pickle_protocol=proto)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
            pk = z.read([n for n in z.namelist() if n.endswith("data.pkl")][0])
        open(os.path.join(d, "pickle", "state_dict_p%d" % proto), "wb").write(pk)
        open(os.path.join(d, "zip", "torch_p%d.pt" % proto), "wb").write(buf.getvalue())
    buf = io.BytesIO()
    torch.save(small, buf, _use_new_zipfile_serialization=False)
    open(os.path.join(d, "zip", "legacy.pt"), "wb").write(buf.getvalue())
    open(os.path.join(d, "pickle", "os_system"), "wb").write(p_call("os", "system", "true"))
    open(os.path.join(d, "pickle", "sharing_bomb"), "wb").write(sharing_bomb())
    open(os.path.join(d, "pickle", "memo_bomb"), "wb").write(b"\x80\x02}r\xfe\xff\xff\xff.")
    open(os.path.join(d, "pickle", "containers"), "wb").write(pickle.dumps(
        [{1, 2}, frozenset([3]), bytearray(b"ab"), b"xy", (1.5, None, True), -12345678901234,
         2**70, "é"], protocol=2))


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "--bad":
        cases = write_bad(a[1], "/tmp/tc_canary_committed_fixture", small_only=True)
        for name, status, substr in cases:
            stem = name.rsplit(".", 1)[0]
            with open(os.path.join(a[1], stem + ".expect"), "w") as f:
                f.write("%s\n%s\n" % (STATUS_NAMES[status], substr))
        return
    if len(a) == 2 and a[0] == "--placeholder":
        # a real checkpoint whose non-tensor entry is an object of the training script's class
        torch.save({"w": torch.ones(2), "obj": Unknown(), "best_acc": 0.5}, a[1])
        return
    if len(a) == 2 and a[0] == "--seeds":
        write_seeds(a[1])
        return
    if len(a) == 3 and a[0] == "--big":
        g = gen(8)
        n = max(1, int(a[2]) // 4)  # 4 MiB f32 tensors, every other one saved transposed
        sd = {}
        for i in range(n):
            t = torch.randn(1024, 1024, generator=g)
            sd["layer.%d.weight" % i] = t.t() if i % 2 else t
        torch.save(sd, a[1])
        return
    if len(a) != 1:
        sys.exit(__doc__)
    d = a[0]
    os.makedirs(d, exist_ok=True)
    canary = os.path.join(os.path.abspath(d), "canary")
    good = write_good(os.path.join(d, "good"))
    for e in good:
        e["path"] = "good/" + e["path"]
    bad = [{"path": "bad/" + n, "status": s, "substr": sub}
           for n, s, sub in write_bad(os.path.join(d, "bad"), canary)]
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"good": good, "bad": bad, "canary": canary}, f, indent=1)


if __name__ == "__main__":
    main()
