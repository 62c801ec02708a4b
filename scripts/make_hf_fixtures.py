#!/usr/bin/env python3
"""make_hf_fixtures.py - tiny random Hugging Face model directories, and their reference logits
computed by a forward pass written here in PyTorch (Debian's python3-torch; no transformers).

usage: make_hf_fixtures.py OUTDIR
       make_hf_fixtures.py --wrap-tokenizer OUTDIR TOKDIR ARCH VOCAB [CONFIG_JSON_EXTRA]

For each model OUTDIR/<name>/ holds config.json (as the transformers class writes it),
model.safetensors (written by this script from the format spec; one model is sharded with an
index), README.md with a licence, the SentencePiece tokenizer of fixtures/tiny-llama, and
expected.json: {"tokens": [...], "logits": [[...] per position]} -- the reference the test
compares llama.cpp's logits of the converted GGUF with. Deterministic (fixed seeds)."""
import json, math, os, shutil, struct, sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "..", "fixtures", "tiny-llama")
torch.manual_seed(1234)
VOCAB = 512
TOKENS = [1, 421, 434, 259, 432, 468, 231, 187]


def st_write(path, tensors, meta=None):
    """safetensors: u64 header length, JSON header, data (little-endian)."""
    header = {"__metadata__": meta or {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.uint8: "F8_E4M3"}[t.dtype]  # uint8 holds FP8 E4M3FN codes
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rms(x, w, eps, plus1=False):
    v = x.pow(2).mean(-1, keepdim=True)
    y = x * torch.rsqrt(v + eps)
    return y * ((1.0 + w) if plus1 else w)


def rope(x, pos, theta, dim):
    """HF rotate_half rope on [T, H, D]."""
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    f = torch.outer(pos.double(), inv)
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    x1, x2 = x[..., : dim // 2], x[..., dim // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin


def attention(q, k, v, n_head, n_kv, scale, softcap=None):
    T = q.shape[0]
    rep = n_head // n_kv
    k = k.repeat_interleave(rep, 1)
    v = v.repeat_interleave(rep, 1)
    s = torch.einsum("thd,shd->hts", q, k) * scale
    if softcap:
        s = torch.tanh(s / softcap) * softcap
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, -1)
    return torch.einsum("hts,shd->thd", p, v).reshape(T, -1)


def silu_mlp(x, g, u, d):
    return (torch.nn.functional.silu(x @ g.T) * (x @ u.T)) @ d.T


def rnd(*shape, scale=0.08):
    return torch.randn(*shape, dtype=torch.float64) * scale


def write_common(d, cfg, tensors, dtype, shards=1, license="apache-2.0"):
    os.makedirs(d, exist_ok=True)
    # FP8 codes (uint8) and their F32 scales are written as they are
    cast = {k: v if v.dtype == torch.uint8 or k.endswith("_scale_inv") else v.to(dtype)
            for k, v in tensors.items()}
    if shards == 1:
        st_write(os.path.join(d, "model.safetensors"), cast)
    else:
        names = sorted(cast)
        per = (len(names) + shards - 1) // shards
        wm = {}
        for s in range(shards):
            fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: cast[n] for n in names[s * per:(s + 1) * per]}
            st_write(os.path.join(d, fn), part)
            wm.update({n: fn for n in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(f"---\nlicense: {license}\n---\n\n# test model\n")
    for x in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(TINY, x), os.path.join(d, x))
    # the reference sees the weights exactly as stored
    return {k: v.double() for k, v in cast.items() if v.dtype != torch.uint8}


def save_expected(d, logits):
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"tokens": TOKENS, "logits": logits.tolist()}, f)


def llama_like(name, out, arch, hidden=64, layers=2, heads=4, kv=2, ff=128, qk_norm=False,
               tied=False, dtype=torch.bfloat16, shards=1, experts=0, used=2, rope_scaling=None,
               norm_topk=True, shared_ff=0):
    hd = hidden // heads
    W = {"model.embed_tokens.weight": rnd(VOCAB, hidden, scale=0.5),
         "model.norm.weight": 1.0 + rnd(hidden, scale=0.1)}
    if not tied:
        W["lm_head.weight"] = rnd(VOCAB, hidden, scale=0.3)
    for i in range(layers):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "post_attention_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "self_attn.q_proj.weight"] = rnd(heads * hd, hidden)
        W[p + "self_attn.k_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.v_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * hd)
        if qk_norm:
            W[p + "self_attn.q_norm.weight"] = 1.0 + rnd(hd, scale=0.1)
            W[p + "self_attn.k_norm.weight"] = 1.0 + rnd(hd, scale=0.1)
        if shared_ff:
            W[p + "mlp.shared_expert.gate_proj.weight"] = rnd(shared_ff, hidden)
            W[p + "mlp.shared_expert.up_proj.weight"] = rnd(shared_ff, hidden)
            W[p + "mlp.shared_expert.down_proj.weight"] = rnd(hidden, shared_ff)
            W[p + "mlp.shared_expert_gate.weight"] = rnd(1, hidden, scale=0.5)
        if experts:
            gate = "block_sparse_moe.gate" if arch == "MixtralForCausalLM" else "mlp.gate"
            W[p + gate + ".weight"] = rnd(experts, hidden, scale=0.5)
            for e in range(experts):
                if arch == "MixtralForCausalLM":
                    q = p + f"block_sparse_moe.experts.{e}."
                    W[q + "w1.weight"] = rnd(ff, hidden)
                    W[q + "w2.weight"] = rnd(hidden, ff)
                    W[q + "w3.weight"] = rnd(ff, hidden)
                else:
                    q = p + f"mlp.experts.{e}."
                    W[q + "gate_proj.weight"] = rnd(ff, hidden)
                    W[q + "down_proj.weight"] = rnd(hidden, ff)
                    W[q + "up_proj.weight"] = rnd(ff, hidden)
        else:
            W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
            W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
            W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    theta, eps = 10000.0, 1e-5
    cfg = {"architectures": [arch], "hidden_size": hidden, "intermediate_size": ff,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "vocab_size": VOCAB, "rms_norm_eps": eps, "rope_theta": theta,
           "max_position_embeddings": 512, "tie_word_embeddings": tied, "bos_token_id": 1,
           "eos_token_id": 2, "torch_dtype": str(dtype).replace("torch.", "")}
    if qk_norm:
        cfg["head_dim"] = hd
    if experts:
        if arch == "MixtralForCausalLM":
            cfg.update({"num_local_experts": experts, "num_experts_per_tok": used})
        else:
            cfg.update({"num_experts": experts, "num_experts_per_tok": used,
                        "moe_intermediate_size": ff, "norm_topk_prob": norm_topk})
            if shared_ff:
                cfg["shared_expert_intermediate_size"] = shared_ff
    if rope_scaling:
        cfg["rope_scaling"] = rope_scaling
    d = os.path.join(out, name)
    W = write_common(d, cfg, W, dtype, shards)

    # the forward pass
    x = W["model.embed_tokens.weight"][TOKENS]
    T = len(TOKENS)
    pos = torch.arange(T)
    inv_scale = None
    if rope_scaling and rope_scaling.get("rope_type") == "llama3":
        inv_scale = llama3_factors(hd, theta, rope_scaling)
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, heads, hd)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, kv, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, kv, hd)
        if qk_norm:
            q = rms(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms(k, W[p + "self_attn.k_norm.weight"], eps)
        if inv_scale is not None:
            q, k = rope_scaled(q, pos, theta, hd, inv_scale), rope_scaled(k, pos, theta, hd, inv_scale)
        else:
            q, k = rope(q, pos, theta, hd), rope(k, pos, theta, hd)
        a = attention(q, k, v, heads, kv, 1.0 / math.sqrt(hd))
        x = x + a @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        if experts:
            gate = "block_sparse_moe.gate" if arch == "MixtralForCausalLM" else "mlp.gate"
            logits = h @ W[p + gate + ".weight"].T
            prob = torch.softmax(logits, -1)
            wts, idx = torch.topk(prob, used, -1)
            if arch == "MixtralForCausalLM" or norm_topk:
                wts = wts / wts.sum(-1, keepdim=True)
            o = torch.zeros_like(h)
            for t in range(T):
                for j in range(used):
                    e = int(idx[t, j])
                    if arch == "MixtralForCausalLM":
                        q_ = p + f"block_sparse_moe.experts.{e}."
                        y = silu_mlp(h[t], W[q_ + "w1.weight"], W[q_ + "w3.weight"], W[q_ + "w2.weight"])
                    else:
                        q_ = p + f"mlp.experts.{e}."
                        y = silu_mlp(h[t], W[q_ + "gate_proj.weight"], W[q_ + "up_proj.weight"],
                                     W[q_ + "down_proj.weight"])
                    o[t] += wts[t, j] * y
            if shared_ff:
                q_ = p + "mlp.shared_expert."
                y = silu_mlp(h, W[q_ + "gate_proj.weight"], W[q_ + "up_proj.weight"],
                             W[q_ + "down_proj.weight"])
                o = o + torch.sigmoid(h @ W[p + "mlp.shared_expert_gate.weight"].T) * y
            x = x + o
        else:
            x = x + silu_mlp(h, W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"],
                             W[p + "mlp.down_proj.weight"])
    x = rms(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if tied else W["lm_head.weight"]
    save_expected(d, x @ head.T)


def llama3_factors(dim, theta, rs):
    """HF _compute_llama3_parameters: per-frequency divisors of inv_freq."""
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs[
        "original_max_position_embeddings"]
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    wl = 2 * math.pi / inv
    out = torch.empty_like(inv)
    for i in range(len(inv)):
        if wl[i] < old / high:
            out[i] = inv[i]
        elif wl[i] > old / low:
            out[i] = inv[i] / factor
        else:
            s = (old / wl[i] - low) / (high - low)
            out[i] = (1 - s) * inv[i] / factor + s * inv[i]
    return out


def rope_scaled(x, pos, theta, dim, inv):
    f = torch.outer(pos.double(), inv)
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    x1, x2 = x[..., : dim // 2], x[..., dim // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def gemma2(out, hidden=64, layers=2, heads=4, kv=2, ff=128, dtype=torch.bfloat16):
    hd = 16
    W = {"model.embed_tokens.weight": rnd(VOCAB, hidden, scale=0.5),
         "model.norm.weight": rnd(hidden, scale=0.1)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm"):
            W[p + n + ".weight"] = rnd(hidden, scale=0.1)
        W[p + "self_attn.q_proj.weight"] = rnd(heads * hd, hidden)
        W[p + "self_attn.k_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.v_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * hd)
        W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    eps, theta, attn_cap, final_cap, qpas = 1e-6, 10000.0, 50.0, 30.0, 16
    cfg = {"architectures": ["Gemma2ForCausalLM"], "hidden_size": hidden, "intermediate_size": ff,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "head_dim": hd, "vocab_size": VOCAB, "rms_norm_eps": eps, "rope_theta": theta,
           "max_position_embeddings": 512, "attn_logit_softcapping": attn_cap,
           "final_logit_softcapping": final_cap, "query_pre_attn_scalar": qpas,
           "sliding_window": 4096, "hidden_activation": "gelu_pytorch_tanh", "bos_token_id": 1,
           "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "bfloat16"}
    d = os.path.join(out, "gemma2")
    W = write_common(d, cfg, W, dtype, license="gemma")
    T = len(TOKENS)
    pos = torch.arange(T)
    x = W["model.embed_tokens.weight"][TOKENS] * torch.tensor(hidden ** 0.5, dtype=torch.bfloat16).double()
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps, True)
        q = rope((h @ W[p + "self_attn.q_proj.weight"].T).view(T, heads, hd), pos, theta, hd)
        k = rope((h @ W[p + "self_attn.k_proj.weight"].T).view(T, kv, hd), pos, theta, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, kv, hd)
        a = attention(q, k, v, heads, kv, qpas ** -0.5, attn_cap) @ W[p + "self_attn.o_proj.weight"].T
        x = x + rms(a, W[p + "post_attention_layernorm.weight"], eps, True)
        h = rms(x, W[p + "pre_feedforward_layernorm.weight"], eps, True)
        g = torch.nn.functional.gelu(h @ W[p + "mlp.gate_proj.weight"].T, approximate="tanh")
        m = (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        x = x + rms(m, W[p + "post_feedforward_layernorm.weight"], eps, True)
    x = rms(x, W["model.norm.weight"], eps, True)
    logits = x @ W["model.embed_tokens.weight"].T
    save_expected(d, torch.tanh(logits / final_cap) * final_cap)


def wrap_tokenizer(out, tokdir, arch, vocab, extra):
    """A 1-layer random model around a real tokenizer (tokenizer.json + tokenizer_config.json),
    so llama.cpp can load the converted file and tokenize with it."""
    os.makedirs(out, exist_ok=True)
    hidden, heads, ff = 64, 4, 128
    W = {"model.embed_tokens.weight": rnd(vocab, hidden), "model.norm.weight": torch.ones(hidden)}
    p = "model.layers.0."
    W[p + "input_layernorm.weight"] = torch.ones(hidden)
    W[p + "post_attention_layernorm.weight"] = torch.ones(hidden)
    for n in ("q", "k", "v", "o"):
        W[p + f"self_attn.{n}_proj.weight"] = rnd(hidden, hidden)
    if arch == "Qwen3ForCausalLM":
        W[p + "self_attn.q_norm.weight"] = torch.ones(hidden // heads)
        W[p + "self_attn.k_norm.weight"] = torch.ones(hidden // heads)
    W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
    W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
    W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    st_write(os.path.join(out, "model.safetensors"), {k: v.to(torch.float16) for k, v in W.items()})
    cfg = {"architectures": [arch], "hidden_size": hidden, "intermediate_size": ff,
           "num_hidden_layers": 1, "num_attention_heads": heads, "num_key_value_heads": heads,
           "head_dim": hidden // heads, "vocab_size": vocab, "rms_norm_eps": 1e-6,
           "tie_word_embeddings": True, "max_position_embeddings": 4096}
    cfg.update(json.loads(extra or "{}"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f)
    for x in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokdir, x), os.path.join(out, x))


def gemma1(out, hidden=64, layers=2, heads=4, kv=1, ff=128, dtype=torch.bfloat16):
    hd = 16
    W = {"model.embed_tokens.weight": rnd(VOCAB, hidden, scale=0.5),
         "model.norm.weight": rnd(hidden, scale=0.1)}
    for i in range(layers):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = rnd(hidden, scale=0.1)
        W[p + "post_attention_layernorm.weight"] = rnd(hidden, scale=0.1)
        W[p + "self_attn.q_proj.weight"] = rnd(heads * hd, hidden)
        W[p + "self_attn.k_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.v_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * hd)
        W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    eps, theta = 1e-6, 10000.0
    cfg = {"architectures": ["GemmaForCausalLM"], "hidden_size": hidden, "intermediate_size": ff,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "head_dim": hd, "vocab_size": VOCAB, "rms_norm_eps": eps, "rope_theta": theta,
           "max_position_embeddings": 512, "hidden_activation": "gelu_pytorch_tanh",
           "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "bfloat16"}
    d = os.path.join(out, "gemma")
    W = write_common(d, cfg, W, dtype, license="gemma")
    T = len(TOKENS)
    pos = torch.arange(T)
    x = W["model.embed_tokens.weight"][TOKENS] * torch.tensor(hidden ** 0.5, dtype=torch.bfloat16).double()
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps, True)
        q = rope((h @ W[p + "self_attn.q_proj.weight"].T).view(T, heads, hd), pos, theta, hd)
        k = rope((h @ W[p + "self_attn.k_proj.weight"].T).view(T, kv, hd), pos, theta, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, kv, hd)
        x = x + attention(q, k, v, heads, kv, hd ** -0.5) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps, True)
        g = torch.nn.functional.gelu(h @ W[p + "mlp.gate_proj.weight"].T, approximate="tanh")
        x = x + (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps, True)
    save_expected(d, x @ W["model.embed_tokens.weight"].T)


def bytes_to_unicode():
    """GPT-2's byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_bpe(d, vocab):
    """A byte-level BPE tokenizer.json of exactly `vocab` tokens: the 256 bytes, then merges of
    letter pairs. No known pre-tokenizer hash matches it (the test names one with
    --tokenizer-pre, written to convert_args)."""
    b2u = bytes_to_unicode()
    toks = [b2u[b] for b in range(256)]
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    merges = []
    for a in letters:
        for b in letters:
            if len(toks) >= vocab:
                break
            merges.append(f"{a} {b}")
            toks.append(a + b)
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
          "normalizer": None,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                            "use_regex": True},
          "post_processor": None,
          "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                      "use_regex": True},
          "model": {"type": "BPE", "dropout": None, "unk_token": None,
                    "continuing_subword_prefix": None, "end_of_word_suffix": None,
                    "fuse_unk": False, "byte_fallback": False,
                    "vocab": {t: i for i, t in enumerate(toks)}, "merges": merges}}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tj, f)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": False}, f)
    with open(os.path.join(d, "convert_args"), "w") as f:
        f.write("--tokenizer-pre default\n")


def rope_pairs(x, pos, theta, dim):
    """Rope on adjacent pairs (x[2i], x[2i+1]) -- DeepSeek's layout, llama.cpp's NORM rope."""
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    f = torch.outer(pos.double(), inv)[:, None, :]
    cos, sin = f.cos(), f.sin()
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def e4m3_table():
    """The value of each FP8 E4M3FN code (NaN codes 0x7f/0xff as nan)."""
    vals = []
    for b in range(256):
        sgn, ex, man = -1.0 if b & 0x80 else 1.0, (b >> 3) & 15, b & 7
        if ex == 15 and man == 7:
            vals.append(float("nan"))
        elif ex == 0:
            vals.append(sgn * man / 8.0 * 2.0 ** -6)
        else:
            vals.append(sgn * (1.0 + man / 8.0) * 2.0 ** (ex - 7))
    return torch.tensor(vals, dtype=torch.float32)


def fp8_quant(w, bh, bw):
    """DeepSeek-V3 style block FP8: codes, F32 scales (block amax / 448) and the dequantized
    weight float32(code) * scale computed in float32, as the converter computes it."""
    tab = e4m3_table()
    ok = ~torch.isnan(tab)
    codes_ok = torch.arange(256)[ok]
    R, C = w.shape
    sr, sc = (R + bh - 1) // bh, (C + bw - 1) // bw
    scales = torch.empty(sr, sc, dtype=torch.float32)
    codes = torch.empty(R, C, dtype=torch.uint8)
    for i in range(sr):
        for j in range(sc):
            blk = w[i * bh:(i + 1) * bh, j * bw:(j + 1) * bw].float()
            s = float(blk.abs().max()) / 448.0 or 1.0
            scales[i, j] = s
            q = (blk / scales[i, j]).reshape(-1, 1)
            best = (q - tab[ok].reshape(1, -1)).abs().argmin(1)
            codes[i * bh:(i + 1) * bh, j * bw:(j + 1) * bw] = codes_ok[best].reshape(blk.shape).to(torch.uint8)
    deq = tab[codes.long()] * scales.repeat_interleave(bh, 0)[:R].repeat_interleave(bw, 1)[:, :C]
    return codes, scales, deq


def deepseek2(out, hidden=64, layers=2, heads=4, q_lora=32, kv_lora=32, nope=16, rd=8, vh=16,
              ff=128, moe_ff=32, experts=4, used=2, shared=1, scale=1.5, dtype=torch.bfloat16,
              v3_fp8=None):
    """DeepSeek-V2: MLA attention (q and kv LoRA, a shared rope key), one dense layer, then MoE
    with a shared expert, softmax gating scaled by routed_scaling_factor.
    v3_fp8=[bh, bw]: DeepSeek-V3 instead -- sigmoid gating with e_score_correction_bias,
    normalised top-k -- stored as FP8 E4M3 with block scales (weight_scale_inv) for every
    projection, as DeepSeek-V3's checkpoints are."""
    W = {"model.embed_tokens.weight": rnd(VOCAB, hidden, scale=0.5),
         "model.norm.weight": 1.0 + rnd(hidden, scale=0.1),
         "lm_head.weight": rnd(VOCAB, hidden, scale=0.3)}
    for i in range(layers):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "post_attention_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "self_attn.q_a_proj.weight"] = rnd(q_lora, hidden)
        W[p + "self_attn.q_a_layernorm.weight"] = 1.0 + rnd(q_lora, scale=0.1)
        W[p + "self_attn.q_b_proj.weight"] = rnd(heads * (nope + rd), q_lora, scale=0.2)
        W[p + "self_attn.kv_a_proj_with_mqa.weight"] = rnd(kv_lora + rd, hidden)
        W[p + "self_attn.kv_a_layernorm.weight"] = 1.0 + rnd(kv_lora, scale=0.1)
        W[p + "self_attn.kv_b_proj.weight"] = rnd(heads * (nope + vh), kv_lora, scale=0.2)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * vh)
        if i == 0:
            W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
            W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
            W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
        else:
            W[p + "mlp.gate.weight"] = rnd(experts, hidden, scale=0.5)
            for e in range(experts):
                q = p + f"mlp.experts.{e}."
                W[q + "gate_proj.weight"] = rnd(moe_ff, hidden)
                W[q + "up_proj.weight"] = rnd(moe_ff, hidden)
                W[q + "down_proj.weight"] = rnd(hidden, moe_ff)
            q = p + "mlp.shared_experts."
            W[q + "gate_proj.weight"] = rnd(moe_ff * shared, hidden)
            W[q + "up_proj.weight"] = rnd(moe_ff * shared, hidden)
            W[q + "down_proj.weight"] = rnd(hidden, moe_ff * shared)
    eps, theta = 1e-6, 10000.0
    cfg = {"architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
           "hidden_size": hidden, "intermediate_size": ff, "moe_intermediate_size": moe_ff,
           "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": heads, "n_shared_experts": shared, "n_routed_experts": experts,
           "routed_scaling_factor": scale, "kv_lora_rank": kv_lora, "q_lora_rank": q_lora,
           "qk_rope_head_dim": rd, "v_head_dim": vh, "qk_nope_head_dim": nope,
           "topk_method": "greedy", "n_group": 1, "topk_group": 1, "num_experts_per_tok": used,
           "moe_layer_freq": 1, "first_k_dense_replace": 1, "norm_topk_prob": False,
           "scoring_func": "softmax", "rms_norm_eps": eps, "rope_theta": theta,
           "vocab_size": VOCAB, "max_position_embeddings": 512, "tie_word_embeddings": False,
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
    name = "deepseek2"
    deq = {}
    if v3_fp8:
        name = "deepseek3-fp8"
        cfg.update({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
                    "scoring_func": "sigmoid", "norm_topk_prob": True, "topk_method": "noaux_tc",
                    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                                            "activation_scheme": "dynamic",
                                            "weight_block_size": v3_fp8}})
        for i in range(1, layers):
            W[f"model.layers.{i}.mlp.gate.e_score_correction_bias"] = rnd(experts, scale=0.3)
        for k in [k for k in W if k.endswith("_proj.weight") or k.endswith("_mqa.weight")]:
            codes, sc, dq = fp8_quant(W[k], *v3_fp8)
            W[k] = codes
            W[k + "_scale_inv"] = sc
            deq[k] = dq
    d = os.path.join(out, name)
    W = write_common(d, cfg, W, dtype, license="mit")
    for k, v in deq.items():
        W[k] = v.double()
    os.remove(os.path.join(d, "tokenizer.model"))
    tiny_bpe(d, VOCAB)
    T = len(TOKENS)
    pos = torch.arange(T)
    x = W["model.embed_tokens.weight"][TOKENS]
    for i in range(layers):
        p = f"model.layers.{i}."
        a_ = p + "self_attn."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = rms(h @ W[a_ + "q_a_proj.weight"].T, W[a_ + "q_a_layernorm.weight"], eps)
        q = (q @ W[a_ + "q_b_proj.weight"].T).view(T, heads, nope + rd)
        q_nope, q_pe = q[..., :nope], rope_pairs(q[..., nope:], pos, theta, rd)
        ckv = h @ W[a_ + "kv_a_proj_with_mqa.weight"].T
        c, k_pe = ckv[:, :kv_lora], rope_pairs(ckv[:, None, kv_lora:], pos, theta, rd)
        kv = (rms(c, W[a_ + "kv_a_layernorm.weight"], eps) @ W[a_ + "kv_b_proj.weight"].T)
        kv = kv.view(T, heads, nope + vh)
        k = torch.cat([kv[..., :nope], k_pe.expand(T, heads, rd)], -1)
        qq = torch.cat([q_nope, q_pe], -1)
        att = attention(qq, k, kv[..., nope:], heads, heads, (nope + rd) ** -0.5)
        x = x + att @ W[a_ + "o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        if i == 0:
            x = x + silu_mlp(h, W[p + "mlp.gate_proj.weight"], W[p + "mlp.up_proj.weight"],
                             W[p + "mlp.down_proj.weight"])
            continue
        if v3_fp8:
            prob = torch.sigmoid(h @ W[p + "mlp.gate.weight"].T)
            _, idx = torch.topk(prob + W[p + "mlp.gate.e_score_correction_bias"], used, -1)
            wts = prob.gather(1, idx)
            wts = wts / wts.sum(-1, keepdim=True)
        else:
            prob = torch.softmax(h @ W[p + "mlp.gate.weight"].T, -1)
            wts, idx = torch.topk(prob, used, -1)
        wts = wts * scale
        o = torch.zeros_like(h)
        for t in range(T):
            for j in range(used):
                q_ = p + f"mlp.experts.{int(idx[t, j])}."
                o[t] += wts[t, j] * silu_mlp(h[t], W[q_ + "gate_proj.weight"],
                                             W[q_ + "up_proj.weight"], W[q_ + "down_proj.weight"])
        q_ = p + "mlp.shared_experts."
        o = o + silu_mlp(h, W[q_ + "gate_proj.weight"], W[q_ + "up_proj.weight"],
                         W[q_ + "down_proj.weight"])
        x = x + o
    x = rms(x, W["model.norm.weight"], eps)
    save_expected(d, x @ W["lm_head.weight"].T)


def phi3(out, hidden=64, layers=2, heads=4, kv=2, ff=128, dtype=torch.bfloat16):
    """Phi-3: fused qkv_proj and gate_up_proj, NEOX rope with LongRoPE factors (the short ones
    apply: the sequence is shorter than original_max_position_embeddings) scaled by the
    attention factor sqrt(1 + ln(scale) / ln(original))."""
    hd = hidden // heads
    # Phi-3's vocabulary: the SentencePiece pieces, its added tokens (added_tokens.json; llama.cpp
    # looks <|endoftext|> up for a model named phi3), padded to vocab_size
    added = {"<|endoftext|>": VOCAB, "<|assistant|>": VOCAB + 1, "<|end|>": VOCAB + 2,
             "<|user|>": VOCAB + 3}
    nv = VOCAB + 8
    W = {"model.embed_tokens.weight": rnd(nv, hidden, scale=0.5),
         "model.norm.weight": 1.0 + rnd(hidden, scale=0.1),
         "lm_head.weight": rnd(nv, hidden, scale=0.3)}
    for i in range(layers):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "post_attention_layernorm.weight"] = 1.0 + rnd(hidden, scale=0.1)
        W[p + "self_attn.qkv_proj.weight"] = rnd((heads + 2 * kv) * hd, hidden)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * hd)
        W[p + "mlp.gate_up_proj.weight"] = rnd(2 * ff, hidden)
        W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    eps, theta, orig, ctx = 1e-5, 10000.0, 4096, 131072
    g = torch.Generator().manual_seed(7)
    short = [round(1.0 + float(v), 4) for v in torch.rand(hd // 2, generator=g)]
    long_ = [round(1.0 + 4.0 * float(v), 4) for v in torch.rand(hd // 2, generator=g)]
    cfg = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": hidden,
           "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "vocab_size": nv, "rms_norm_eps": eps,
           "rope_theta": theta, "max_position_embeddings": ctx,
           "original_max_position_embeddings": orig, "sliding_window": None,
           "rope_scaling": {"type": "longrope", "short_factor": short, "long_factor": long_},
           "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
           "eos_token_id": 2, "torch_dtype": "bfloat16"}
    d = os.path.join(out, "phi3")
    W = write_common(d, cfg, W, dtype, license="mit")
    with open(os.path.join(d, "added_tokens.json"), "w") as f:
        json.dump(added, f)
    T = len(TOKENS)
    pos = torch.arange(T)
    ext = torch.tensor(short, dtype=torch.float32).double()
    inv = 1.0 / (ext * theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    af = math.sqrt(1 + math.log(ctx / orig) / math.log(orig))

    def rope_l(x):
        f = torch.outer(pos.double(), inv)
        emb = torch.cat([f, f], -1)
        cos, sin = (emb.cos() * af)[:, None, :], (emb.sin() * af)[:, None, :]
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    x = W["model.embed_tokens.weight"][TOKENS]
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        qkv = h @ W[p + "self_attn.qkv_proj.weight"].T
        q = rope_l(qkv[:, : heads * hd].view(T, heads, hd))
        k = rope_l(qkv[:, heads * hd: (heads + kv) * hd].view(T, kv, hd))
        v = qkv[:, (heads + kv) * hd:].view(T, kv, hd)
        x = x + attention(q, k, v, heads, kv, hd ** -0.5) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        gu = h @ W[p + "mlp.gate_up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gu[:, :ff]) * gu[:, ff:]) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    save_expected(d, x @ W["lm_head.weight"].T)


def gemma3(out, hidden=64, layers=2, heads=4, kv=2, ff=128, dtype=torch.bfloat16):
    """Gemma 3 (text): q/k RMS norms, pre/post norms around attention and MLP (all 1 + w), local
    layers with rope_local_base_freq (llama.cpp's fixed pattern: 5 local, then 1 global; both
    layers here are local), attention scaled by query_pre_attn_scalar ** -0.5."""
    hd = 16
    W = {"model.embed_tokens.weight": rnd(VOCAB, hidden, scale=0.5),
         "model.norm.weight": rnd(hidden, scale=0.1)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm"):
            W[p + n + ".weight"] = rnd(hidden, scale=0.1)
        W[p + "self_attn.q_norm.weight"] = rnd(hd, scale=0.1)
        W[p + "self_attn.k_norm.weight"] = rnd(hd, scale=0.1)
        W[p + "self_attn.q_proj.weight"] = rnd(heads * hd, hidden)
        W[p + "self_attn.k_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.v_proj.weight"] = rnd(kv * hd, hidden)
        W[p + "self_attn.o_proj.weight"] = rnd(hidden, heads * hd)
        W[p + "mlp.gate_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.up_proj.weight"] = rnd(ff, hidden)
        W[p + "mlp.down_proj.weight"] = rnd(hidden, ff)
    eps, theta, local, qpas = 1e-6, 1000000.0, 10000.0, hd
    cfg = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
           "hidden_size": hidden, "intermediate_size": ff, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": hd,
           "vocab_size": VOCAB, "rms_norm_eps": eps, "rope_theta": theta,
           "rope_local_base_freq": local, "query_pre_attn_scalar": qpas,
           "sliding_window": 4096, "sliding_window_pattern": 6, "final_logit_softcapping": None,
           "attn_logit_softcapping": None, "rope_scaling": None, "max_position_embeddings": 512,
           "hidden_activation": "gelu_pytorch_tanh", "bos_token_id": 1, "eos_token_id": 2,
           "pad_token_id": 0, "torch_dtype": "bfloat16"}
    d = os.path.join(out, "gemma3")
    W = write_common(d, cfg, W, dtype, license="gemma")
    T = len(TOKENS)
    pos = torch.arange(T)
    x = W["model.embed_tokens.weight"][TOKENS] * torch.tensor(hidden ** 0.5, dtype=torch.bfloat16).double()
    for i in range(layers):
        p = f"model.layers.{i}."
        th = local if (i + 1) % 6 else theta
        h = rms(x, W[p + "input_layernorm.weight"], eps, True)
        q = rms((h @ W[p + "self_attn.q_proj.weight"].T).view(T, heads, hd),
                W[p + "self_attn.q_norm.weight"], eps, True)
        k = rms((h @ W[p + "self_attn.k_proj.weight"].T).view(T, kv, hd),
                W[p + "self_attn.k_norm.weight"], eps, True)
        q, k = rope(q, pos, th, hd), rope(k, pos, th, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, kv, hd)
        a = attention(q, k, v, heads, kv, qpas ** -0.5) @ W[p + "self_attn.o_proj.weight"].T
        x = x + rms(a, W[p + "post_attention_layernorm.weight"], eps, True)
        h = rms(x, W[p + "pre_feedforward_layernorm.weight"], eps, True)
        g = torch.nn.functional.gelu(h @ W[p + "mlp.gate_proj.weight"].T, approximate="tanh")
        m = (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        x = x + rms(m, W[p + "post_feedforward_layernorm.weight"], eps, True)
    x = rms(x, W["model.norm.weight"], eps, True)
    save_expected(d, x @ W["model.embed_tokens.weight"].T)


def main():
    if sys.argv[1] == "--wrap-tokenizer":
        wrap_tokenizer(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                       sys.argv[6] if len(sys.argv) > 6 else "")
        return
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    llama_like("llama", out, "LlamaForCausalLM", dtype=torch.bfloat16, shards=2)
    llama_like("llama-f32", out, "LlamaForCausalLM", hidden=256, heads=8, kv=4, ff=512,
               dtype=torch.float32)
    llama_like("llama3-rope", out, "LlamaForCausalLM", dtype=torch.float16, tied=True,
               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 16})
    llama_like("mistral", out, "MistralForCausalLM", dtype=torch.bfloat16)
    llama_like("qwen3", out, "Qwen3ForCausalLM", qk_norm=True, tied=True, dtype=torch.bfloat16)
    llama_like("qwen2", out, "Qwen2ForCausalLM", dtype=torch.float32)
    llama_like("mixtral", out, "MixtralForCausalLM", experts=4, used=2, dtype=torch.bfloat16)
    llama_like("qwen3moe", out, "Qwen3MoeForCausalLM", qk_norm=True, experts=4, used=2,
               dtype=torch.bfloat16)
    llama_like("qwen2moe", out, "Qwen2MoeForCausalLM", experts=4, used=2, norm_topk=False,
               shared_ff=96, dtype=torch.bfloat16)
    gemma2(out)
    gemma1(out)
    deepseek2(out)
    deepseek2(out, v3_fp8=[16, 16])
    phi3(out)
    gemma3(out)
    print(f"wrote fixtures into {out}")


if __name__ == "__main__":
    main()
