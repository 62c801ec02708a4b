#!/usr/bin/env python3
"""Write a large synthetic Hugging Face Llama directory for benchmarks, quickly, deterministically.
usage: make_synthetic_hf.py OUTDIR [LAYERS=22] [DTYPE=BF16|F16|F32] [SHARDS=2]
TinyLlama-1.1B's shapes (hidden 2048, ffn 5632, 32 heads, 4 KV heads, vocab 32000; 22 layers is
2.2 GB in BF16), written as model-0000k-of-0000N.safetensors shards with an index, config.json,
README.md (licence) and the bundled example's SentencePiece tokenizer (its 256 pieces padded to
the vocabulary size, as the converter does). The payload is a repeated block of pseudo-random
finite values, so every cast and quantization is meaningful."""
import json, os, random, shutil, struct, sys

out = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 22
dtype = sys.argv[3] if len(sys.argv) > 3 else "BF16"
shards = int(sys.argv[4]) if len(sys.argv) > 4 else 2
hidden, ffn, heads, kv_heads, vocab = 2048, 5632, 32, 4, 32000
esz = {"F16": 2, "BF16": 2, "F32": 4}[dtype]
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(out, exist_ok=True)
rng = random.Random(11)
if dtype == "F32":
    block = b"".join(struct.pack("<f", rng.gauss(0, 0.02)) for _ in range(1 << 16))
elif dtype == "F16":
    block = b"".join(struct.pack("<e", rng.gauss(0, 0.02)) for _ in range(1 << 17))
else:
    block = b"".join(struct.pack("<f", rng.gauss(0, 0.02))[2:] for _ in range(1 << 17))
ones = {"F32": struct.pack("<f", 1.0), "F16": struct.pack("<e", 1.0),
        "BF16": struct.pack("<f", 1.0)[2:]}[dtype]

tensors = [("model.embed_tokens.weight", [vocab, hidden])]
for i in range(layers):
    p = f"model.layers.{i}."
    tensors += [(p + "input_layernorm.weight", [hidden]),
                (p + "self_attn.q_proj.weight", [hidden, hidden]),
                (p + "self_attn.k_proj.weight", [hidden * kv_heads // heads, hidden]),
                (p + "self_attn.v_proj.weight", [hidden * kv_heads // heads, hidden]),
                (p + "self_attn.o_proj.weight", [hidden, hidden]),
                (p + "post_attention_layernorm.weight", [hidden]),
                (p + "mlp.gate_proj.weight", [ffn, hidden]),
                (p + "mlp.up_proj.weight", [ffn, hidden]),
                (p + "mlp.down_proj.weight", [hidden, ffn])]
tensors += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]

per_shard = (len(tensors) + shards - 1) // shards
weight_map, total = {}, 0
for s in range(shards):
    part = tensors[s * per_shard:(s + 1) * per_shard]
    name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for tname, shape in part:
        n = esz
        for d in shape:
            n *= d
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        weight_map[tname] = name
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for tname, shape in part:
            n = esz
            for d in shape:
                n *= d
            if len(shape) == 1:
                f.write(ones * (n // esz))
                continue
            while n > 0:
                k = min(n, len(block))
                f.write(block[:k])
                n -= k
    total += off
with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
          "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
          "num_key_value_heads": kv_heads, "vocab_size": vocab, "rms_norm_eps": 1e-5,
          "max_position_embeddings": 2048, "rope_theta": 10000.0, "bos_token_id": 1,
          "eos_token_id": 2, "tie_word_embeddings": False,
          "torch_dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype]}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
tiny = os.path.join(here, "..", "fixtures", "tiny-llama")
for extra in ("tokenizer.model", "tokenizer_config.json"):
    shutil.copy(os.path.join(tiny, extra), os.path.join(out, extra))
with open(os.path.join(out, "README.md"), "w") as f:
    f.write("---\nlicense: apache-2.0\n---\n\n# synthetic TinyLlama-shaped model\n")
print(f"{out}: {len(tensors)} tensors in {shards} shards, {total / (1 << 30):.2f} GiB of {dtype}")
