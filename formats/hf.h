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
 * hf_bpe.c: the gpt2 vocab of a byte-level BPE tokenizer.json: tokenizer.ggml.model = "gpt2",
 * tokenizer.ggml.pre (from `pre_override`, else the check-text hash; an unknown hash is
 * TC_E_UNSUPPORTED saying so and offering --tokenizer-pre), tokenizer.ggml.tokens and
 * tokenizer.ggml.token_type, padded to `vocab_size` (0: the tokenizer's own size).
 * `tokenizer_config` may be NULL. `*n_vocab` gets the token count.
 */
tc_status tc_hf_bpe_vocab(const char *dir, const json_t *tokenizer, const json_t *tokenizer_config,
                          uint64_t vocab_size, const char *pre_override, tc_graph *g,
                          uint64_t *n_vocab, tc_err *e);

/* hf_bpe.c: model.merges of a tokenizer.json as gguf-py writes them ("a b" strings kept; [a, b]
 * pairs with spaces inside parts turned into U+0120, joined by one space). *merges is a
 * tc_malloc'd array of tc_malloc'd strings (free with tc_hf_strv_free); *n may be 0. */
tc_status tc_hf_bpe_merges(const json_t *tokenizer, const char *what, char ***merges, size_t *n,
                           tc_err *e);
void tc_hf_strv_free(char **v, size_t n);

/* hf_bpe.c: encode `text` (UTF-8) with a tokenizer.json as HF tokenizers' encode(text) does
 * with add_special_tokens=True. *ids is tc_malloc'd. Supported: the normalizers, pre-tokenizers
 * and post-processors byte-level BPE models use; anything else is TC_E_UNSUPPORTED naming it. */
tc_status tc_hf_bpe_encode(const json_t *tokenizer, const char *text, size_t len, int32_t **ids,
                           size_t *n, tc_err *e);

/* hf_bpe.c: encode llama.cpp's check text, hash the ids (`hash`: 64 lowercase hex) and look the
 * name up (*name NULL when the hash is unknown). */
tc_status tc_hf_bpe_pre(const json_t *tokenizer, char hash[65], const char **name, tc_err *e);

/* hf_bpe.c: 1 when llama.cpp's runtime accepts `name` as tokenizer.ggml.pre. */
int tc_hf_pre_known(const char *name);

/* hf_bpe.c: the tokenizer.ggml.pre name for a check-text hash (64 lowercase hex), or NULL. */
const char *tc_hf_pre_for_hash(const char *sha256_hex);

/* Read a JSON file of at most `cap` bytes (TC_E_LIMIT above); *out is NULL with TC_OK when the
 * file does not exist and `optional` is set. Lives in hf.c. */
tc_status tc_hf_json_load(const char *dir, const char *name, size_t cap, int optional,
                          json_t **out /* OUT */, tc_err *e);

#endif /* TC_HF_H */
