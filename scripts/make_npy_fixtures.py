#!/usr/bin/env python3
"""NumPy and archive test data for tensorcast (tests/check_npy.c, tests/check_archive.c).

  make_npy_fixtures.py oracle OUTDIR   files written by real NumPy (every dtype, byte orders,
                                       C/Fortran order, .npy v1/v2/v3, scalars, empty arrays,
                                       np.savez / np.savez_compressed) and archives of them
                                       (tar, tar.gz, tar.zst, tar.xz, zip; a model directory with
                                       a safetensors file written by hand here), plus
                                       OUTDIR/manifest_npy.tsv and OUTDIR/manifest_archive.tsv:
                                         file  tensor  dtype  shape  ref
                                       where ref holds the expected C-order little-endian bytes
                                       (from numpy's own tobytes), and OUTDIR/skipped.txt.
  make_npy_fixtures.py bad REPO        the committed malformed fixtures (fixtures/npy/bad,
                                       fixtures/archive/bad, with .expect files) and the fuzz
                                       seeds (fixtures/fuzz/npy); deterministic.
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile

import numpy as np

DTYPES = ["f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"]
TC_NAME = {"f8": "f64", "f4": "f32", "f2": "f16", "i8": "i64", "i4": "i32", "i2": "i16",
           "i1": "i8", "u8": "u64", "u4": "u32", "u2": "u16", "u1": "u8", "b1": "bool"}


def values(code, shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if len(shape) else 1
    if code[0] == "f":
        v = rng.standard_normal(n) * 10
        if n >= 4:
            v[:4] = [0.0, -0.0, np.inf, np.nan]
    elif code == "b1":
        v = rng.integers(0, 2, n).astype(bool)
    else:
        info = np.iinfo(np.dtype(code))
        v = rng.integers(info.min, info.max, n, dtype=np.dtype(code), endpoint=True)
    return np.asarray(v).astype(code).reshape(shape)


class Manifest:
    def __init__(self, path):
        self.f = open(path, "w")

    def add(self, file, tensor, arr, outdir):
        le = arr.astype(arr.dtype.newbyteorder("<")) if arr.dtype.itemsize > 1 else arr
        ref = "%s__%s.ref" % (file.replace("/", "_"), tensor.replace("/", "_"))
        with open(os.path.join(outdir, ref), "wb") as f:
            f.write(np.ascontiguousarray(le).tobytes(order="C"))
        code = arr.dtype.str[1:]
        shape = ",".join(str(d) for d in arr.shape) if arr.ndim else "-"
        self.f.write("%s\t%s\t%s\t%s\t%s\n" % (file, tensor, TC_NAME[code], shape, ref))


def save_version(path, arr, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)


def st_file(tensors):
    """A safetensors file written here from its spec (8-byte LE header length, JSON, data)."""
    hdr, blob = {}, b""
    names = {"<f4": "F32", "<f2": "F16", "<i8": "I64"}
    for name, arr in tensors:
        b = np.ascontiguousarray(arr).tobytes()
        hdr[name] = {"dtype": names[arr.dtype.str], "shape": list(arr.shape),
                     "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def oracle(out):
    os.makedirs(out, exist_ok=True)
    skipped = []
    mn = Manifest(os.path.join(out, "manifest_npy.tsv"))
    seed = 1
    # every dtype, little and big endian, C and Fortran order, a 3-d shape
    for code in DTYPES:
        orders = ["<", ">"] if np.dtype(code).itemsize > 1 else ["|"]
        for bo in orders:
            for fortran in (False, True):
                seed += 1
                a = values(code, (3, 4, 5), seed)
                a = a.astype(np.dtype(code).newbyteorder(bo) if bo != "|" else code)
                if fortran:
                    a = np.asfortranarray(a)
                stem = "%s_%s_%s" % (code, {"<": "le", ">": "be", "|": "na"}[bo],
                                     "F" if fortran else "C")
                np.save(os.path.join(out, stem + ".npy"), a)
                mn.add(stem + ".npy", stem, a, out)
    # versions 2.0 and 3.0, a 2-d Fortran matrix, a row vector
    for ver in ((1, 0), (2, 0), (3, 0)):
        a = values("f4", (7, 9), 100 + ver[0])
        save_version(os.path.join(out, "v%d.npy" % ver[0]), a, ver)
        mn.add("v%d.npy" % ver[0], "v%d" % ver[0], a, out)
    a = np.asfortranarray(values("f2", (6, 10), 7))
    np.save(os.path.join(out, "mat_F.npy"), a)
    mn.add("mat_F.npy", "mat_F", a, out)
    # Fortran arrays with many outer slices (the run-by-run gather path)
    for stem, a in [("tall_F", np.asfortranarray(values("f4", (40, 24), 8))),
                    ("cube_be_F", np.asfortranarray(values("i4", (17, 3, 5), 9).astype(">i4"))),
                    ("d4_F", np.asfortranarray(values("u2", (9, 2, 3, 4), 10)))]:
        np.save(os.path.join(out, stem + ".npy"), a)
        mn.add(stem + ".npy", stem, a, out)
    # scalars, empty arrays, one element per dim
    for stem, a in [("scalar_f8", np.float64(-2.5)), ("scalar_i4", np.int32(-7)),
                    ("scalar_b1", np.bool_(True)),
                    ("empty_0", np.zeros((0,), "f4")), ("empty_0x3", np.zeros((0, 3), "<i2")),
                    ("empty_3x0_F", np.asfortranarray(np.zeros((3, 0), ">f4"))),
                    ("ones_1x1x5_F", np.asfortranarray(values("i2", (1, 1, 5), 3)))]:
        a = np.asarray(a)
        np.save(os.path.join(out, stem + ".npy"), a)
        mn.add(stem + ".npy", stem, a, out)
    # npz: stored and deflated
    arrs = {"w": values("f4", (4, 8), 11), "b": values("i8", (5,), 12).astype(">i8"),
            "mask": values("b1", (2, 3), 13), "F": np.asfortranarray(values("f8", (3, 2), 14)),
            "s": np.asarray(np.float32(1.5)), "sub/x": values("u2", (6,), 15)}
    np.savez(os.path.join(out, "stored.npz"), **arrs)
    np.savez_compressed(os.path.join(out, "deflated.npz"), **arrs)
    for f in ("stored.npz", "deflated.npz"):
        for k, a in arrs.items():
            mn.add(f, k, a, out)
    mn.f.close()

    # ---- archives ----
    ma = Manifest(os.path.join(out, "manifest_archive.tsv"))
    w = values("f4", (3, 4), 21)
    bw = values("i2", (2, 5), 22).astype(">i2")
    src = os.path.join(out, "arcsrc")
    os.makedirs(src, exist_ok=True)
    np.save(os.path.join(src, "w.npy"), w)
    np.save(os.path.join(src, "bw.npy"), bw)
    np.savez_compressed(os.path.join(src, "m.npz"), w=w, bw=bw)
    # a model directory: safetensors + config.json + README.md with a licence
    md = os.path.join(src, "model")
    os.makedirs(md, exist_ok=True)
    e1 = values("f4", (4, 6), 23)
    e2 = values("f2", (6,), 24)
    with open(os.path.join(md, "model.safetensors"), "wb") as f:
        f.write(st_file([("embed.weight", e1), ("norm.weight", e2)]))
    with open(os.path.join(md, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}, f)
    with open(os.path.join(md, "README.md"), "w") as f:
        f.write("---\nlicense: mit\n---\n# tiny\n")
    with open(os.path.join(src, "LICENSE"), "w") as f:
        f.write("Some licence\n")

    def tar(name, mode, members):
        with tarfile.open(os.path.join(out, name), mode) as t:
            for arc, real in members:
                t.add(os.path.join(src, real), arcname=arc)

    def zipf(name, members, method=zipfile.ZIP_DEFLATED):
        with zipfile.ZipFile(os.path.join(out, name), "w", method) as z:
            for arc, real in members:
                z.write(os.path.join(src, real), arc)

    one = [("pkg/w.npy", "w.npy"), ("pkg/LICENSE", "LICENSE")]
    for name, mode in (("npy.tar", "w"), ("npy.tar.gz", "w:gz"), ("npy.tar.xz", "w:xz")):
        tar(name, mode, one)
        ma.add(name, "w", w, out)
    tar("be.tar", "w", [("bw.npy", "bw.npy")])
    ma.add("be.tar", "bw", bw, out)
    zipf("npy.zip", [("w.npy", "w.npy"), ("README.md", "LICENSE")])
    ma.add("npy.zip", "w", w, out)
    zipf("npy0.zip", [("w.npy", "w.npy"), ("LICENSE", "LICENSE")], zipfile.ZIP_STORED)
    ma.add("npy0.zip", "w", w, out)
    tar("npz.tar", "w", [("m.npz", "m.npz")])
    tar("npz.tgz", "w:gz", [("m.npz", "m.npz")])
    for name in ("npz.tar", "npz.tgz"):
        ma.add(name, "w", w, out)
        ma.add(name, "bw", bw, out)
    tar("dir.tar.gz", "w:gz", [("model", "model")])
    tar("dir.tar", "w", [("model", "model")])
    zipf("dir.zip", [("model/model.safetensors", "model/model.safetensors"),
                     ("model/config.json", "model/config.json"),
                     ("model/README.md", "model/README.md")])
    # a Hugging Face cache snapshot: the snapshot's files are symlinks into ../../blobs
    hf = "models--t--tiny"
    with tarfile.open(os.path.join(out, "dir_hf.tar.gz"), "w:gz") as t:
        for blob, real in (("b1", "model/model.safetensors"), ("b2", "model/config.json"),
                           ("b3", "model/README.md")):
            t.add(os.path.join(src, real), arcname="%s/blobs/%s" % (hf, blob))
            ti = tarfile.TarInfo("%s/snapshots/abc/%s" % (hf, os.path.basename(real)))
            ti.type = tarfile.SYMTYPE
            ti.linkname = "../../blobs/" + blob
            t.addfile(ti)
        ti = tarfile.TarInfo("%s/refs/main" % hf)
        ti.size = 3
        t.addfile(ti, io.BytesIO(b"abc"))
    for name in ("dir.tar.gz", "dir.tar", "dir.zip", "dir_hf.tar.gz"):
        ma.add(name, "embed.weight", e1, out)
        ma.add(name, "norm.weight", e2, out)
    if shutil.which("zstd"):
        for base in ("npy.tar", "dir.tar"):
            subprocess.run(["zstd", "-q", "-f", os.path.join(out, base), "-o",
                            os.path.join(out, base + ".zst")], check=True)
        ma.add("npy.tar.zst", "w", w, out)
        ma.add("dir.tar.zst", "embed.weight", e1, out)
        ma.add("dir.tar.zst", "norm.weight", e2, out)
    else:
        skipped.append("tar.zst cases: the zstd command is not installed")
    ma.f.close()
    with open(os.path.join(out, "skipped.txt"), "w") as f:
        f.write("".join(s + "\n" for s in skipped))


# ===== malformed fixtures =====

def npy_bytes(header, payload=b"", version=1, hlen=None):
    h = header.encode("latin1") if isinstance(header, str) else header
    pre = 10 if version == 1 else 12
    pad = -(pre + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    n = len(h) if hlen is None else hlen
    lenb = struct.pack("<H", n) if version == 1 else struct.pack("<I", n)
    return b"\x93NUMPY" + bytes([version, 0]) + lenb + h + payload


def hd(descr="'<f4'", fortran="False", shape="(2, 3)"):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def tar_bytes(members, mode="w"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tinfo(name, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 0
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


# .expect line 1: the tc_status name each malformed case must fail with (line 2: a message
# substring). Everything not listed is malformed input.
STATUS = {
    "object_dtype": "unsafe input", "traversal": "unsafe input", "absolute": "unsafe input",
    "symlink_escape": "unsafe input", "hardlink_escape": "unsafe input",
    "unknown_descr": "unsupported", "bfloat16_void": "unsupported", "version_9": "unsupported",
    "structured": "unsupported", "unknown_member": "unsupported",
    "too_many_dims": "limit exceeded", "bomb_gz": "limit exceeded", "bomb_member": "limit exceeded",
}


def status(case):
    return STATUS.get(case, "format error")


def bad(repo):
    good = np.arange(6, dtype="<f4").reshape(2, 3)
    payload = good.tobytes()
    buf = io.BytesIO()
    np.save(buf, good)
    good_npy = buf.getvalue()

    npy_cases = [
        ("bad_magic", b"\x93NUMPZ\x01\x00" + good_npy[8:], "bad magic"),
        ("header_too_long", npy_bytes(hd(), payload, hlen=60000), "runs past the end"),
        ("truncated_data", npy_bytes(hd(), payload[:-5]), "truncated"),
        ("trailing_data", npy_bytes(hd(), payload + b"xx"), "trailing bytes"),
        ("shape_mismatch", npy_bytes(hd(shape="(3, 3)"), payload), "need 36 payload bytes"),
        ("object_dtype", npy_bytes(hd(descr="'|O'", shape="(2,)"), b"\x80\x02N." * 2),
         "object arrays"),
        ("unknown_descr", npy_bytes(hd(descr="'<q7'"), payload), "descr '<q7' is not supported"),
        ("bfloat16_void", npy_bytes(hd(descr="'|V2'"), payload[:12]), "ml_dtypes"),
        ("nested_tuple", npy_bytes(hd(shape="((2, 3), 1)"), payload), "nested tuple"),
        ("not_a_tuple", npy_bytes(hd(shape="(6)"), payload), "is not a tuple"),
        ("negative_dim", npy_bytes(hd(shape="(-2, 3)"), payload), "negative dimension"),
        ("missing_key", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", payload),
         "lacks 'fortran_order'"),
        ("duplicate_key", npy_bytes(hd()[:-1] + "'shape': (2, 3), }", payload),
         "unexpected or repeated key"),
        ("eval_garbage", npy_bytes(hd(shape="__import__('os').system('true')"), payload),
         "expected '('"),
        ("too_many_dims", npy_bytes(hd(shape="(1,1,1,1,1,1,1,1,1,6)"), payload),
         "more than 8 dimensions"),
        ("count_overflow", npy_bytes(hd(shape="(4294967296, 4294967296, 16)"), payload),
         "overflows"),
        ("version_9", good_npy[:6] + b"\x09\x00" + good_npy[8:], "version 9.0"),
        ("structured", npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                 "'shape': (2,), }", payload[:8]), "structured"),
        ("v3_bad_utf8", npy_bytes(hd(descr="'<f4\xff'"), payload, version=3), "not UTF-8"),
    ]
    # an npz whose deflated member lies about its CRC, and one with a truncated member
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("a.npy", (2020, 1, 1, 0, 0, 0)), good_npy,
                   compress_type=zipfile.ZIP_DEFLATED)
    zdata = bytearray(zb.getvalue())
    crc_at = zdata.rfind(b"PK\x01\x02") + 16
    zdata[crc_at] ^= 0xFF
    lh_crc = 14
    zdata[lh_crc] ^= 0xFF
    crc_case = bytes(zdata)  # TC_E_CHECKSUM (exit 1, not 3): checked by tests/check_npy.c
    npz_cases = []
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("a.npy", (2020, 1, 1, 0, 0, 0)),
                   npy_bytes(hd(shape="(4, 3)"), payload))
    npz_cases.append(("npz_member_short", zb.getvalue(), "a.npy"))

    d = os.path.join(repo, "fixtures", "npy", "bad")
    os.makedirs(d, exist_ok=True)
    for case, data, sub in npy_cases:
        open(os.path.join(d, case + ".npy"), "wb").write(data)
        open(os.path.join(d, case + ".expect"), "w").write(status(case) + "\n" + sub + "\n")
    for case, data, sub in npz_cases:
        open(os.path.join(d, case + ".npz"), "wb").write(data)
        open(os.path.join(d, case + ".expect"), "w").write(status(case) + "\n" + sub + "\n")

    os.makedirs(os.path.join(repo, "fixtures", "npy", "checksum"), exist_ok=True)
    open(os.path.join(repo, "fixtures", "npy", "checksum", "npz_bad_crc.npz"), "wb").write(crc_case)

    # archives
    arc_cases = []
    arc_cases.append(("traversal.tar", tar_bytes([(tinfo("../../x.npy", good_npy), good_npy)]),
                      "'..'"))
    arc_cases.append(("absolute.tar", tar_bytes([(tinfo("/tmp/x.npy", good_npy), good_npy)]),
                      "absolute paths"))
    arc_cases.append(("symlink_escape.tar",
                      tar_bytes([(tinfo("w.npy", type=tarfile.SYMTYPE, linkname="../../etc/passwd"),
                                  None)]), "outside the archive"))
    arc_cases.append(("hardlink_escape.tar",
                      tar_bytes([(tinfo("w.npy", type=tarfile.LNKTYPE, linkname="/etc/passwd"),
                                  None)]), "outside the archive"))
    # a member whose header declares 2 TiB (pax size record), then almost nothing: refused
    # from the header, before a byte is written
    big = tinfo("big.npy", b"")
    big.size = 2 << 40
    hdr = big.tobuf(format=tarfile.PAX_FORMAT)
    bomb = hdr + good_npy[:512].ljust(512, b"\0")
    arc_cases.append(("bomb_gz.tar.gz", gzip_bytes(bomb), "over the cap"))
    arc_cases.append(("bomb_member.tar", bomb, "over the cap"))
    arc_cases.append(("only_readme.tar", tar_bytes([(tinfo("README.md", b"# hi\n"), b"# hi\n")]),
                      "no model file"))
    arc_cases.append(("truncated.tar.gz", gzip_bytes(tar_bytes([(tinfo("w.npy", good_npy),
                                                                   good_npy)]))[:60],
                      "truncated"))
    arc_cases.append(("bad_member.tar", tar_bytes([(tinfo("w.npy", npy_cases[2][1]),
                                                    npy_cases[2][1])]), "truncated"))
    arc_cases.append(("unknown_member.tar", tar_bytes([(tinfo("w.bin", b"hello" * 20),
                                                        b"hello" * 20)]),
                      "not a model file"))
    d = os.path.join(repo, "fixtures", "archive", "bad")
    os.makedirs(d, exist_ok=True)
    for name, data, sub in arc_cases:
        stem = name.split(".")[0]
        open(os.path.join(d, name), "wb").write(data)
        open(os.path.join(d, stem + ".expect"), "w").write(status(stem) + "\n" + sub + "\n")

    # fuzz seeds: good files of a few shapes and the malformed ones
    fz = os.path.join(repo, "fixtures", "fuzz", "npy")
    os.makedirs(fz, exist_ok=True)
    seeds = {"good_f4": good_npy}
    for name, a in [("good_be_F", np.asfortranarray(np.arange(12, dtype=">i2").reshape(3, 4))),
                    ("good_scalar", np.asarray(np.float64(2.0))),
                    ("good_empty", np.zeros((0, 4), "u1"))]:
        b = io.BytesIO()
        np.save(b, a)
        seeds[name] = b.getvalue()
    seeds["good_npz"] = npz_bytes({"w": good, "s": np.asarray(np.int8(3))}, zipfile.ZIP_STORED)
    seeds["good_npz_deflated"] = npz_bytes({"w": good, "f": np.asfortranarray(good)},
                                           zipfile.ZIP_DEFLATED)
    for case, data, _ in npy_cases + npz_cases:
        seeds[case] = data
    seeds["npz_bad_crc"] = crc_case
    for k, v in seeds.items():
        open(os.path.join(fz, k), "wb").write(v)

    # archive fuzz seeds: good archives of each kind and the malformed ones
    fz = os.path.join(repo, "fixtures", "fuzz", "archive")
    os.makedirs(fz, exist_ok=True)
    lic = b"MIT License\n"
    one = [(tinfo("m/w.npy", good_npy), good_npy), (tinfo("m/LICENSE", lic), lic)]
    aseeds = {"good.tar": tar_bytes(one), "good.tar.gz": gzip_bytes(tar_bytes(one)),
              "good_npz.tar": tar_bytes([(tinfo("m.npz", seeds["good_npz"]), seeds["good_npz"])]),
              "good_link.tar": tar_bytes(one + [(tinfo("m/x.npy", type=tarfile.SYMTYPE,
                                                       linkname="w.npy"), None)])}
    for name, method in (("good_stored.zip", zipfile.ZIP_STORED),
                         ("good_deflated.zip", zipfile.ZIP_DEFLATED)):
        zb = io.BytesIO()
        with zipfile.ZipFile(zb, "w", method) as z:
            z.writestr(zipfile.ZipInfo("w.npy", (2020, 1, 1, 0, 0, 0)), good_npy,
                       compress_type=method)
            z.writestr(zipfile.ZipInfo("README.md", (2020, 1, 1, 0, 0, 0)), lic,
                       compress_type=method)
        aseeds[name] = zb.getvalue()
    for name, data, _ in arc_cases:
        aseeds[name] = data
    for k, v in aseeds.items():
        open(os.path.join(fz, k), "wb").write(v)


def npz_bytes(arrays, method):
    """What np.savez(_compressed) writes, with a fixed timestamp (deterministic seeds)."""
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w", method) as z:
        for k, a in arrays.items():
            b = io.BytesIO()
            np.save(b, a)
            z.writestr(zipfile.ZipInfo(k + ".npy", (2020, 1, 1, 0, 0, 0)), b.getvalue(),
                       compress_type=method)
    return zb.getvalue()


def gzip_bytes(data):
    import gzip
    return gzip.compress(data, mtime=0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("oracle", "bad"):
        sys.exit(__doc__)
    (oracle if sys.argv[1] == "oracle" else bad)(sys.argv[2])
