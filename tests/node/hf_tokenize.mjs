// hf_tokenize.mjs - Hugging Face's tokenizer (npm @huggingface/tokenizers, the JS port of the
// Python library, offline) as a test oracle: node hf_tokenize.mjs MODEL_DIR < texts.json
// prints a JSON list of id lists, one per text (encode with add_special_tokens = true).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.TC_ORACLE_DIR || ".oracle", "node_modules", "x.js"));
const mod = require("@huggingface/tokenizers");
const Tokenizer = mod.Tokenizer ?? mod.default?.Tokenizer ?? mod.default;
const dir = process.argv[2];
const tok = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
let cfg = {};
try {
  cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8").replace(/: *([0-9]{17,})/g, ': "$1"'));
} catch (e) {}
const t = new Tokenizer(tok, cfg);
const texts = JSON.parse(readFileSync(0, "utf8"));
const out = texts.map((s) => {
  const r = t.encode(s);
  return Array.from(r.ids ?? r.input_ids ?? r);
});
process.stdout.write(JSON.stringify(out));
