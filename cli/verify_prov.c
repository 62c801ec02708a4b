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
        rc = tc_err_set(e, TC_E_NOMEM, "out of memory");
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

static const tc_value *get_arr(const tc_graph *g, const char *key, tc_vtype elem)
{
    const tc_value *v = tc_graph_get(g, key);
    return v && v->type == TC_V_ARR && v->arr.elem == elem ? v : NULL;
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

int cli_verify_provenance(const tc_graph *g, const char *path, const tc_graph *source,
                          const cli_opts *co, json_t *report, int *failed)
{
    const tc_value *xv = get_arr(g, PROV "tensor_xxh64", TC_V_U64);
    size_t nt = tc_graph_n_tensors(g);
    if (xv == NULL)
        return 0; /* nothing recorded */
    json_t *jp = json_object(), *changed = json_array();
    int text = !co->json && !co->quiet;
    if (xv->arr.n != nt) {
        *failed = 1;
        if (!co->json)
            printf("FAIL  provenance records %" PRIu64 " tensor digests, %s has %zu tensors\n",
                   xv->arr.n, path, nt);
    }
    const uint8_t *rec = xv->arr.data;
    size_t bad = 0;
    tc_err e = {0};
    for (size_t i = 0; i < nt && xv->arr.n == nt; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        tdig d;
        if (digest_tensor(t, 0, 0, &d, NULL, NULL, NULL, &e) != TC_OK) {
            json_decref(jp);
            json_decref(changed);
            return cli_fail(&e);
        }
        uint64_t want;
        memcpy(&want, rec + 8 * i, 8); /* little-endian host (x86-64, aarch64) */
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
    if (text && xv->arr.n == nt)
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
    const tc_value *names = get_arr(g, PROV "source_names", TC_V_STR);
    const tc_value *shas = get_arr(g, PROV "source_sha256", TC_V_STR);
    if (source && names && shas && names->arr.n == shas->arr.n) {
        const tc_str *nv = names->arr.data, *sv = shas->arr.data;
        json_t *js = json_array();
        for (size_t i = 0; i < tc_graph_n_sources(source); i++) {
            const char *src = tc_graph_source(source, i, NULL);
            const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
            size_t k = 0;
            while (k < names->arr.n && strcmp(nv[k].p, base) != 0)
                k++;
            char sha[65] = "";
            if (k == names->arr.n) {
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
            int same = sv[k].len == 64 && strncmp(sv[k].p, sha, 64) == 0;
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(base));
            json_object_set_new(o, "sha256", json_string(sha));
            json_object_set_new(o, "match", json_boolean(same));
            json_array_append_new(js, o);
            if (!same) {
                *failed = 1;
                if (!co->json)
                    printf("FAIL  source %s: SHA-256 is %s, %s recorded %.*s\n", base, sha, path,
                           (int)sv[k].len, sv[k].p);
            } else if (text) {
                printf("provenance: source %s matches its recorded SHA-256\n", base);
            }
        }
        json_object_set_new(jp, "sources", js);
    }
    json_object_set_new(report, "provenance", jp);
    return 0;
}
