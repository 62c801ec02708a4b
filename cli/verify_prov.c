/* verify_prov.c - `tensorcast verify` on what a file says about itself: the
 * tensorcast.provenance.* keys every output carries (tensor digests as written, the sources'
 * SHA-256), and per-tensor digests printed as llama.cpp's llama-gguf-hash prints them. */
#include "cli.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define PROV "tensorcast.provenance."

/* Digests of one tensor's stored bytes: xxh64 always, SHA-1 / SHA-256 on request. */
typedef struct tdig {
    uint64_t xxh;
    char sha1[41], sha256[65];
} tdig;

static tc_status digest_tensor(const tc_tensor *t, int want_sha1, int want_sha256, tdig *d,
                               XXH64_state_t *model_xxh, EVP_MD_CTX *model_sha1,
                               EVP_MD_CTX *model_sha256, tc_err *e)
{
    int dt = tc_tensor_dtype(t);
    const tc_dtype_info *di = tc_dtype_get(dt);
    uint64_t n = tc_tensor_n_elements(t), row = (uint64_t)tc_tensor_row_len(t);
    uint64_t step = di->is_quant ? (row ? ((1u << 20) / row + 1) * row : 1) : (1u << 20);
    uint8_t *buf = malloc((size_t)tc_row_size(dt, (int64_t)step) + 64);
    XXH64_state_t *x = XXH64_createState();
    EVP_MD_CTX *s1 = want_sha1 ? EVP_MD_CTX_new() : NULL,
               *s2 = want_sha256 ? EVP_MD_CTX_new() : NULL;
    tc_status rc = TC_OK;
    if (!buf || !x || (want_sha1 && !s1) || (want_sha256 && !s2)) {
        rc = tc_err_nomem(e);
        goto out;
    }
    XXH64_reset(x, 0);
    if (s1)
        EVP_DigestInit_ex(s1, EVP_sha1(), NULL);
    if (s2)
        EVP_DigestInit_ex(s2, EVP_sha256(), NULL);
    for (uint64_t e0 = 0; e0 < n && rc == TC_OK; e0 += step) {
        uint64_t k = n - e0 < step ? n - e0 : step;
        if ((rc = tc_tensor_read(t, e0, k, buf, e)) != TC_OK)
            break;
        size_t len = (size_t)tc_row_size(dt, (int64_t)k);
        XXH64_update(x, buf, len);
        if (model_xxh)
            XXH64_update(model_xxh, buf, len);
        if (s1)
            EVP_DigestUpdate(s1, buf, len);
        if (model_sha1)
            EVP_DigestUpdate(model_sha1, buf, len);
        if (s2)
            EVP_DigestUpdate(s2, buf, len);
        if (model_sha256)
            EVP_DigestUpdate(model_sha256, buf, len);
    }
    d->xxh = XXH64_digest(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn;
    if (s1 && EVP_DigestFinal_ex(s1, md, &mdn) == 1)
        for (unsigned i = 0; i < 20; i++)
            snprintf(d->sha1 + 2 * i, 3, "%02x", md[i]);
    if (s2 && EVP_DigestFinal_ex(s2, md, &mdn) == 1)
        for (unsigned i = 0; i < 32; i++)
            snprintf(d->sha256 + 2 * i, 3, "%02x", md[i]);
out:
    free(buf);
    if (x)
        XXH64_freeState(x);
    EVP_MD_CTX_free(s1);
    EVP_MD_CTX_free(s2);
    return rc;
}

int cli_hash_list(const char *list, unsigned *mask)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    *mask = 0;
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        if (strcmp(t, "xxh64") == 0)
            *mask |= CLI_HASH_XXH64;
        else if (strcmp(t, "sha1") == 0)
            *mask |= CLI_HASH_SHA1;
        else if (strcmp(t, "sha256") == 0)
            *mask |= CLI_HASH_SHA256;
        else if (strcmp(t, "all") == 0)
            *mask |= CLI_HASH_XXH64 | CLI_HASH_SHA1 | CLI_HASH_SHA256;
        else
            return -1;
    }
    return *mask ? 0 : -1;
}

/* llama-gguf-hash's output: per tensor "<type>  <hex>  <file>:<tensor>" for each chosen hash,
 * then "<type>  <hex>  <file>" over all tensors' bytes in file order. */
int cli_print_gguf_hash(const tc_graph *g, const char *path, unsigned mask)
{
    tc_err e = {0};
    XXH64_state_t *mx = XXH64_createState();
    EVP_MD_CTX *m1 = EVP_MD_CTX_new(), *m2 = EVP_MD_CTX_new();
    if (!mx || !m1 || !m2) {
        fprintf(stderr, "%s: out of memory\n", tc_prog);
        return TC_EXIT_IO;
    }
    XXH64_reset(mx, 0);
    EVP_DigestInit_ex(m1, EVP_sha1(), NULL);
    EVP_DigestInit_ex(m2, EVP_sha256(), NULL);
    int rc = TC_EXIT_OK;
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        tdig d;
        if (digest_tensor(t, mask & CLI_HASH_SHA1, mask & CLI_HASH_SHA256, &d, mx, m1, m2, &e) !=
            TC_OK) {
            rc = cli_fail(&e);
            break;
        }
        if (mask & CLI_HASH_XXH64)
            printf("%-8s  %016" PRIx64 "  %s:%s\n", "xxh64", d.xxh, path, tc_tensor_name(t));
        if (mask & CLI_HASH_SHA1)
            printf("%-8s  %s  %s:%s\n", "sha1", d.sha1, path, tc_tensor_name(t));
        if (mask & CLI_HASH_SHA256)
            printf("%-8s  %s  %s:%s\n", "sha256", d.sha256, path, tc_tensor_name(t));
    }
    if (rc == TC_EXIT_OK) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdn;
        if (mask & CLI_HASH_XXH64)
            printf("%-8s  %016" PRIx64 "  %s\n", "xxh64", (uint64_t)XXH64_digest(mx), path);
        if (mask & CLI_HASH_SHA1) {
            EVP_DigestFinal_ex(m1, md, &mdn);
            printf("%-8s  ", "sha1");
            for (unsigned i = 0; i < 20; i++)
                printf("%02x", md[i]);
            printf("  %s\n", path);
        }
        if (mask & CLI_HASH_SHA256) {
            EVP_DigestFinal_ex(m2, md, &mdn);
            printf("%-8s  ", "sha256");
            for (unsigned i = 0; i < 32; i++)
                printf("%02x", md[i]);
            printf("  %s\n", path);
        }
    }
    XXH64_freeState(mx);
    EVP_MD_CTX_free(m1);
    EVP_MD_CTX_free(m2);
    return rc;
}

/* SHA-256 of a whole file. */
static int sha256_path(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1u << 22);
    int ok = c && buf && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    size_t n;
    while (ok && (n = fread(buf, 1, 1u << 22, f)) > 0)
        EVP_DigestUpdate(c, buf, n);
    ok = ok && !ferror(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn;
    if (ok && EVP_DigestFinal_ex(c, md, &mdn) == 1)
        for (unsigned i = 0; i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    fclose(f);
    free(buf);
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* The recorded tensor digests: a u64 array (GGUF) or 16 hex digits per tensor (safetensors'
 * string metadata). NULL when absent or malformed; *n their count. */
static uint64_t *recorded_xxh(const tc_graph *g, uint64_t *n)
{
    const tc_value *v = tc_graph_get(g, PROV "tensor_xxh64");
    uint64_t *out = NULL;
    if (v && v->type == TC_V_ARR && v->arr.elem == TC_V_U64) {
        *n = v->arr.n;
        out = malloc((size_t)(*n ? *n : 1) * 8);
        if (out)
            memcpy(out, v->arr.data, (size_t)*n * 8);
    } else if (v && v->type == TC_V_STR && v->s.len % 16 == 0) {
        *n = v->s.len / 16;
        out = malloc((size_t)(*n ? *n : 1) * 8);
        for (uint64_t i = 0; out && i < *n; i++) {
            char h[17];
            memcpy(h, v->s.p + 16 * i, 16);
            h[16] = 0;
            char *end;
            out[i] = strtoull(h, &end, 16);
            if (*end) {
                free(out);
                return NULL;
            }
        }
    }
    return out;
}

/* Source names and SHA-256s: string arrays (GGUF), or JSON text and comma-separated hex
 * (safetensors). Returns the count (0 when absent); arrays of malloc'd strings. */
static size_t recorded_sources(const tc_graph *g, char ***names, char ***shas)
{
    *names = *shas = NULL;
    const tc_value *nv = tc_graph_get(g, PROV "source_names");
    const tc_value *sv = tc_graph_get(g, PROV "source_sha256");
    size_t n = 0;
    if (nv && sv && nv->type == TC_V_ARR && nv->arr.elem == TC_V_STR && sv->type == TC_V_ARR &&
        sv->arr.elem == TC_V_STR && nv->arr.n == sv->arr.n) {
        n = (size_t)nv->arr.n;
        *names = calloc(n ? n : 1, sizeof **names);
        *shas = calloc(n ? n : 1, sizeof **shas);
        const tc_str *a = nv->arr.data, *b = sv->arr.data;
        for (size_t i = 0; *names && *shas && i < n; i++) {
            (*names)[i] = strndup(a[i].p, (size_t)a[i].len);
            (*shas)[i] = strndup(b[i].p, (size_t)b[i].len);
        }
    } else if (nv && sv && nv->type == TC_V_STR && sv->type == TC_V_STR) {
        json_t *j = json_loadb(nv->s.p, (size_t)nv->s.len, 0, NULL);
        n = json_is_array(j) ? json_array_size(j) : 0;
        *names = calloc(n ? n : 1, sizeof **names);
        *shas = calloc(n ? n : 1, sizeof **shas);
        const char *p = sv->s.p;
        for (size_t i = 0; *names && *shas && i < n; i++) {
            json_t *e = json_array_get(j, i);
            (*names)[i] = strdup(json_is_string(e) ? json_string_value(e) : "");
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            (*shas)[i] = strndup(p, len);
            p = c ? c + 1 : p + len;
        }
        json_decref(j);
    }
    return n;
}

int cli_verify_provenance(const tc_graph *g, const char *path, const tc_graph *source,
                          const cli_opts *co, json_t *report, int *failed)
{
    uint64_t n_rec = 0;
    uint64_t *rec = recorded_xxh(g, &n_rec);
    size_t nt = tc_graph_n_tensors(g);
    if (rec == NULL) {
        if (tc_graph_get(g, PROV "tensor_xxh64")) {
            *failed = 1;
            if (!co->json)
                printf("FAIL  %s: tensorcast.provenance.tensor_xxh64 is malformed\n", path);
        }
        return 0; /* nothing recorded */
    }
    json_t *jp = json_object(), *changed = json_array();
    int text = !co->json && !co->quiet;
    if (n_rec != nt) {
        *failed = 1;
        if (!co->json)
            printf("FAIL  provenance records %" PRIu64 " tensor digests, %s has %zu tensors\n",
                   n_rec, path, nt);
    }
    size_t bad = 0;
    tc_err e = {0};
    for (size_t i = 0; i < nt && n_rec == nt; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        tdig d;
        if (digest_tensor(t, 0, 0, &d, NULL, NULL, NULL, &e) != TC_OK) {
            json_decref(jp);
            json_decref(changed);
            free(rec);
            return cli_fail(&e);
        }
        uint64_t want = rec[i];
        if (d.xxh != want) {
            bad++;
            *failed = 1;
            json_array_append_new(changed, json_string(tc_tensor_name(t)));
            if (!co->json)
                printf("FAIL  tensor '%s' changed since it was written (xxh64 %016" PRIx64
                       ", recorded %016" PRIx64 ")\n",
                       tc_tensor_name(t), d.xxh, want);
        }
    }
    free(rec);
    if (text && n_rec == nt)
        printf("provenance: %zu of %zu tensor digests match what was written (xxh64)%s\n", nt - bad,
               nt, bad ? "" : "");
    json_object_set_new(jp, "tensors_checked", json_integer((json_int_t)nt));
    json_object_set_new(jp, "tensors_changed", changed);
    const char *cmd = tc_graph_get_str(g, PROV "command");
    json_object_set_new(jp, "command", cmd ? json_string(cmd) : json_null());
    if (text && cmd)
        printf("provenance: written by tensorcast %s: %s\n",
               tc_graph_get_str(g, PROV "version") ? tc_graph_get_str(g, PROV "version") : "?",
               cmd);
    /* the source the file was made from: its files must have the SHA-256 recorded */
    char **names = NULL, **shas = NULL;
    size_t n_src = recorded_sources(g, &names, &shas);
    if (source && names && shas) {
        json_t *js = json_array();
        for (size_t i = 0; i < tc_graph_n_sources(source); i++) {
            const char *src = tc_graph_source(source, i, NULL);
            const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
            size_t k = 0;
            while (k < n_src && (names[k] == NULL || strcmp(names[k], base) != 0))
                k++;
            char sha[65] = "";
            if (k == n_src) {
                *failed = 1;
                if (!co->json)
                    printf("FAIL  source file %s is not among those recorded\n", base);
                continue;
            }
            if (sha256_path(src, sha) != 0) {
                *failed = 1;
                if (!co->json)
                    printf("FAIL  cannot read source file %s\n", src);
                continue;
            }
            int same = shas[k] && strcmp(shas[k], sha) == 0;
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(base));
            json_object_set_new(o, "sha256", json_string(sha));
            json_object_set_new(o, "match", json_boolean(same));
            json_array_append_new(js, o);
            if (!same) {
                *failed = 1;
                if (!co->json)
                    printf("FAIL  source %s: SHA-256 is %s, %s recorded %s\n", base, sha, path,
                           shas[k] ? shas[k] : "?");
            } else if (text) {
                printf("provenance: source %s matches its recorded SHA-256\n", base);
            }
        }
        json_object_set_new(jp, "sources", js);
    }
    for (size_t i = 0; i < n_src; i++) {
        free(names ? names[i] : NULL);
        free(shas ? shas[i] : NULL);
    }
    free(names);
    free(shas);
    json_object_set_new(report, "provenance", jp);
    return 0;
}
