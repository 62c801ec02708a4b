#!/usr/bin/env node
// gguf_oracle.mjs FILE - dump a GGUF file as JSON using @huggingface/gguf (an independent
// reader, used by tests/check_gguf.c as an oracle).
//
// Output: {"version", "tensor_count", "kv_count", "data_offset", "little_endian",
//          "metadata": [{"key", "type", "elem", "value"}...] (file order),
//          "tensors": [{"name", "n_dims", "ne": [...innermost first], "type", "offset"}...]}
// 64-bit integers are printed as decimal strings; non-finite floats as "nan"/"inf"/"-inf";
// floats as their shortest round-trip decimal. Exit 1 with the error on stderr on failure.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const oracleDir = path.resolve(process.env.TC_ORACLE_DIR || path.join(here, "..", "..", ".oracle"));
const require = createRequire(path.join(oracleDir, "package.json"));

function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: gguf_oracle.mjs FILE\n");
    process.exit(2);
  }
  const mod = await import(require.resolve("@huggingface/gguf"));
  const r = await mod.gguf(path.resolve(file), { typedMetadata: true, allowLocalFile: true });
  const skip = new Set(["version", "tensor_count", "kv_count"]);
  const metadata = [];
  for (const [key, tv] of Object.entries(r.typedMetadata)) {
    if (skip.has(key)) continue;
    metadata.push({ key, type: tv.type, elem: tv.subType ?? null, value: plain(tv.value) });
  }
  const out = {
    version: r.typedMetadata.version.value,
    tensor_count: plain(r.typedMetadata.tensor_count.value),
    kv_count: plain(r.typedMetadata.kv_count.value),
    data_offset: plain(r.tensorDataOffset),
    little_endian: r.littleEndian,
    metadata,
    tensors: r.tensorInfos.map((t) => ({
      name: t.name,
      n_dims: t.n_dims,
      ne: t.shape.map(plain),
      type: t.dtype,
      offset: plain(t.offset),
    })),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(`gguf_oracle: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
