/*
 * hf.h - private to the library: a Hugging Face model directory mapped onto llama.cpp's GGUF
 * conventions (../shared/HF-TO-GGUF.md is the fact sheet; llama.cpp's convert_hf_to_gguf.py and
 * gguf-py are the reference).
 *
 * The pieces, one file each:
 *   hf.c        config.json (+ transformers defaults), weight-file selection and order, the
 *               architecture tables (names, hyper-parameters, transforms), the output-type rules,
 *               and tc_hf_read() that assembles the graph in the converter's key order.
 *   hf_card.c   general.* naming and model-card keys (README front matter, config
 *               _name_or_path, directory name, generation_config.json sampling keys).
 *   hf_vocab.c  the tokenizer dispatch per architecture, SentencePiece tokenizer.model (protobuf
 *               parsed here), "llama_hf" tokenizer.json, special tokens / add-flags / merges /
 *               chat templates (gguf-py SpecialVocab).
 *   hf_bpe.c    byte-level BPE tokenizer.json: the gpt2 vocab (tokens, types), merges, and a small
 *               HF-tokenizers-compatible encoder (normalizer, pre-tokenizer splits through PCRE2,
 *               byte-level, BPE, added tokens, post-processor) used to hash llama.cpp's check
 *               text and choose tokenizer.ggml.pre from the known-hash table.
 *   hf_tokjson.c tokenizer.json with model.vocab and model.merges read into compact tables and
 *               the rest left to jansson (what a 150k-token file costs is those two members).
 *
 * JSON is jansson's; every function checks types and sizes of what it reads and fails with
 * TC_E_FORMAT naming the file and key.
 */
#ifndef TC_HF_H
#define TC_HF_H

#include "tensorcast.h"

#include <jansson.h>

/* Options of the mapping (the CLI's convert/quantize/inspect flags). */
typedef struct tc_hf_opts {
    const char *tokenizer_pre; /* --tokenizer-pre NAME: skip the check-text hash, or NULL */
    const char *model_name;    /* --model-name: forces general.name, or NULL */
    const char *metadata_path; /* --metadata FILE (gguf-py override JSON), or NULL */
    int vocab_only;            /* --vocab-only: metadata and tokenizer, no tensors */
} tc_hf_opts;

/* 1 when `dir` is a directory holding a config.json whose architectures[0] (or
 * text_config.architectures[0]) names a model class: the input to map. */
int tc_hf_is_model_dir(const char *dir);

/* The architectures tc_hf_read maps, as a NULL-terminated list of HF class names (for the
 * "unsupported architecture" message and --help). */
const char *const *tc_hf_supported(void);

/*
 * Read a Hugging Face model directory into a new graph laid out as llama.cpp's converter writes
 * it: tensors renamed (blk.N.*), transformed lazily (Q/K permute, Gemma +1 norms, experts stacked,
 * kv_b split, FP8 block dequantization), generated tensors first (rope_freqs, rope_factors_*),
 * in the converter's order; metadata in the converter's key order: general.architecture,
 * general.type, the general.* card keys, <arch>.* hyper-parameters with general.file_type,
 * general.quantization_version, tokenizer.ggml.*.
 *
 * Tensor dtypes are the converter's before its output-type step (F16 sources stay F16; BF16, FP8
 * and integer sources read as F32). Call tc_hf_set_outtype() next: until then general.file_type
 * holds the `auto` choice.
 */
tc_status tc_hf_read(const char *dir, const tc_hf_opts *o, tc_graph **out /* OUT */, tc_err *e);

/* Output types of convert_hf_to_gguf.py --outtype. */
typedef enum tc_hf_outtype {
    TC_HF_OUT_AUTO = 0, /* BF16 if the first 2-D+ tensor is bf16, F16 otherwise */
    TC_HF_OUT_F32,
    TC_HF_OUT_F16,
    TC_HF_OUT_BF16,
    TC_HF_OUT_Q8_0
} tc_hf_outtype;

/*
 * Apply the converter's per-tensor output-type rules to a graph from tc_hf_read (forced F32 for
 * 1-D tensors, norms, biases and MoE routers; Q8_0 falls back to F16 when the row is not a
 * multiple of 32) and set general.file_type. `resolved` (may be NULL) gets the type `auto`
 * resolved to.
 */
tc_status tc_hf_set_outtype(tc_graph *g, tc_hf_outtype t, tc_hf_outtype *resolved, tc_err *e);

/* ---- pieces used by tc_hf_read (one file each, see above) ---- */

/* Parameter counts as gguf-py's get_total_parameter_count computes them (for size_label). */
typedef struct tc_hf_params {
    uint64_t total, shared, expert;
    uint64_t expert_count; /* average experts per *_exps tensor, 0 when dense */
} tc_hf_params;

/*
 * hf_card.c: append general.type = "model" and the authorship keys in gguf-py's order
 * (general.sampling.*, name, author, version, organization, finetune, basename, description,
 * size_label, license*, source.*, base_model.*, dataset.*, tags, languages). `config_raw` is
 * config.json as read (not merged with defaults); `o` may be NULL.
 */
tc_status tc_hf_card(const char *dir, const json_t *config_raw, const tc_hf_params *params,
                     const tc_hf_opts *o, tc_graph *g, tc_err *e);

/*
 * hf_vocab.c: append the tokenizer keys for architecture `gguf_arch` ("llama", "qwen2", ...;
 * `hf_arch` is the HF class name) in gguf-py's order: the vocab (SentencePiece, llama_hf or
 * gpt2 via tc_hf_bpe_vocab), then SpecialVocab (merges, special ids, add-flags, chat
 * template(s)), then the per-architecture extras (Gemma eot, add_space_prefix, ...).
 * `config` is config.json merged with text_config. `*n_vocab` gets the token count written
 * (token_embd rows must match it; Gemma3 truncates to it).
 */
tc_status tc_hf_vocab(const char *dir, const json_t *config, const char *hf_arch,
                      const char *gguf_arch, const tc_hf_opts *o, tc_graph *g, uint64_t *n_vocab,
                      tc_err *e);

/* hf_vocab.c: parse a SentencePiece tokenizer.model image (ModelProto) as tc_hf_vocab does,
 * checking every piece; *count (may be NULL) gets the piece count. For the fuzzer and tests. */
tc_status tc_hf_spm_check(const uint8_t *b, size_t n, uint64_t *count, tc_err *e);

/*
 * hf_tokjson.c: a tokenizer.json. model.vocab and model.merges, nearly all of a large file, are
 * read into compact tables (strings back to back in one arena, file order, which is jansson's
 * json_object_foreach order); everything else is a jansson tree in which those two members are
 * {} and []. What is accepted, refused (with jansson's message) and produced is what
 * json_load_file(JSON_REJECT_DUPLICATES) gives, as tc_hf_json_load reads it.
 */

/* Strings back to back, each NUL-terminated: string i starts at arena + off[i] and has
 * off[i + 1] - off[i] - 1 bytes. */
typedef struct tc_hf_strs {
    char *arena;
    uint32_t *off; /* n + 1 offsets */
    size_t n;
    size_t len, cap, cap_n; /* arena bytes used / allocated, off entries allocated */
} tc_hf_strs;

static inline const char *tc_hf_str(const tc_hf_strs *s, size_t i)
{
    return s->arena + s->off[i];
}

static inline size_t tc_hf_str_len(const tc_hf_strs *s, size_t i)
{
    return (size_t)(s->off[i + 1] - s->off[i] - 1);
}

/* A hash index over a tc_hf_strs (open addressing; nslot is a power of 2). */
typedef struct tc_hf_index {
    uint64_t *slot; /* hash << 32 | (entry + 1); 0 is empty */
    size_t nslot;
} tc_hf_index;

enum { TC_HF_ABSENT = 0, TC_HF_HELD = 1, TC_HF_OTHER = 2 };

typedef struct tc_hf_tok {
    json_t *doc;          /* the object; model.vocab / model.merges are {} / [] when held below */
    int vocab_kind;       /* TC_HF_HELD: model.vocab is an object, its entries below */
    tc_hf_strs vocab;     /* its keys */
    int64_t *vocab_id;    /* its values, where they are integers */
    size_t vocab_nonint;  /* index of the first value that is not an integer; vocab.n if none */
    tc_hf_index vocab_ix; /* key -> entry */
    int merges_kind;      /* TC_HF_HELD: model.merges is a list, its elements below */
    tc_hf_strs merges;    /* "a b" strings as written, [a, b] pairs joined as gguf-py does */
    size_t merges_bad;    /* index of the first element that is neither; merges.n if none */
    int fast;             /* 1 when the tables came from the compact reader, 0 from a tree */
} tc_hf_tok;

/* Read dir/name (at most `cap` bytes, TC_E_LIMIT above) as tc_hf_json_load does, with the same
 * messages; *out is NULL with TC_OK when the file does not exist and `optional` is set. */
tc_status tc_hf_tok_load(const char *dir, const char *name, size_t cap, int optional,
                         tc_hf_tok **out /* OUT */, tc_err *e);

/* The same over the bytes b[0..n) of the file `path` (named in messages). */
tc_status tc_hf_tok_parse(const char *b, size_t n, const char *path, tc_hf_tok **out /* OUT */,
                          tc_err *e);

/* The tables of a jansson tree (the reference for the compact reader). `doc` is referenced,
 * not changed. */
tc_status tc_hf_tok_from_json(json_t *doc, tc_hf_tok **out /* OUT */, tc_err *e);

void tc_hf_tok_free(tc_hf_tok *t); /* NULL is a no-op */

/* Entry of model.vocab whose key is s[0..n), or -1. */
long tc_hf_tok_vocab_find(const tc_hf_tok *t, const char *s, size_t n);

/* Index every string of `s` (the first of equal strings wins). -1 when out of memory. */
int tc_hf_index_build(tc_hf_index *ix, const tc_hf_strs *s);
/* The entry of `s` equal to p[0..n), or -1. */
long tc_hf_index_find(const tc_hf_index *ix, const tc_hf_strs *s, const char *p, size_t n);
void tc_hf_index_free(tc_hf_index *ix);

/*
 * hf_bpe.c: the gpt2 vocab of a byte-level BPE tokenizer.json: tokenizer.ggml.model = "gpt2",
 * tokenizer.ggml.pre (from `pre_override`, else the check-text hash; an unknown hash is
 * TC_E_UNSUPPORTED saying so and offering --tokenizer-pre), tokenizer.ggml.tokens and
 * tokenizer.ggml.token_type, padded to `vocab_size` (0: the tokenizer's own size).
 * `tokenizer_config` may be NULL. `*n_vocab` gets the token count.
 */
tc_status tc_hf_bpe_vocab(const char *dir, const tc_hf_tok *tokenizer,
                          const json_t *tokenizer_config, uint64_t vocab_size,
                          const char *pre_override, tc_graph *g, uint64_t *n_vocab, tc_err *e);

/* hf_bpe.c: model.merges of a tokenizer.json as gguf-py writes them ("a b" strings kept; [a, b]
 * pairs with spaces inside parts turned into U+0120, joined by one space). *merges is a
 * tc_malloc'd array (free with tc_free; NULL when *n is 0) of views into `tokenizer`, valid while
 * it lives. `what` names the file in messages. */
tc_status tc_hf_bpe_merges(const tc_hf_tok *tokenizer, const char *what, tc_str **merges, size_t *n,
                           tc_err *e);

/* hf_bpe.c: encode `text` (UTF-8) with a tokenizer.json as HF tokenizers' encode(text) does
 * with add_special_tokens=True. *ids is tc_malloc'd. Supported: the normalizers, pre-tokenizers
 * and post-processors byte-level BPE models use; anything else is TC_E_UNSUPPORTED naming it. */
tc_status tc_hf_bpe_encode(const tc_hf_tok *tokenizer, const char *text, size_t len, int32_t **ids,
                           size_t *n, tc_err *e);

/* hf_bpe.c: encode llama.cpp's check text, hash the ids (`hash`: 64 lowercase hex) and look the
 * name up (*name NULL when the hash is unknown). */
tc_status tc_hf_bpe_pre(const tc_hf_tok *tokenizer, char hash[65], const char **name, tc_err *e);

/* hf_bpe.c: 1 when llama.cpp's runtime accepts `name` as tokenizer.ggml.pre. */
int tc_hf_pre_known(const char *name);

/* hf_bpe.c: the tokenizer.ggml.pre name for a check-text hash (64 lowercase hex), or NULL. */
const char *tc_hf_pre_for_hash(const char *sha256_hex);

/* Read a JSON file of at most `cap` bytes (TC_E_LIMIT above); *out is NULL with TC_OK when the
 * file does not exist and `optional` is set. Lives in hf.c. */
tc_status tc_hf_json_load(const char *dir, const char *name, size_t cap, int optional,
                          json_t **out /* OUT */, tc_err *e);

#endif /* TC_HF_H */
