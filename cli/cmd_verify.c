/* cmd_verify.c - `tensorcast verify`: is the file whole, do its bytes match their recorded
 * digests, which licence does it carry and did it survive a conversion. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char verify_help[] =
    "usage: tensorcast verify PATH [options]\n"
    "       tensorcast verify --ollama MODEL[:TAG] [options]\n"
    "\n"
    "Check a model: every header and offset is valid, every tensor's bytes can be read, and\n"
    "optionally that files and tensors match recorded SHA-256 digests and that the licence\n"
    "is present or the same as in the model it was converted from.\n"
    "\n"
    "  --sha256 HEX            the expected SHA-256 of PATH (a single file), e.g. the oid\n"
    "                          Hugging Face shows for an LFS file\n"
    "  --manifest FILE         check digests listed in FILE: `sha256sum` lines (<hex>  <file>)\n"
    "                          and per-tensor lines (sha256  <hex>  <file>:<tensor>)\n"
    "  --write-manifest FILE   write such a manifest (files, and tensors with --tensors)\n"
    "  --tensors               hash every tensor's bytes too (printed, or in the manifest)\n"
    "  --values                count NaN and infinite values in floating-point tensors; any\n"
    "                          found make verification fail\n"
    "  --against ORIGINAL      the model PATH was converted from: the licence fields and the\n"
    "                          tensor names and shapes must match\n"
    "  --require-license       fail when PATH carries no licence\n"
    "  --allow-class LIST      fail unless the licence's class is in LIST (comma-separated:\n"
    "                          permissive, copyleft, restricted-use, non-commercial,\n"
    "                          proprietary, unknown); the class is information from a table\n"
    "                          in tensorcast, not legal advice\n"
    "  --ollama MODEL[:TAG]    verify an ollama model: every layer's blob has the digest and\n"
    "                          size its manifest records, the model layer is a sound GGUF\n"
    "                          ($OLLAMA_MODELS, else ~/.ollama/models)\n"
    "  --hash-format gguf-hash print each tensor's digest (and the whole model's) the way\n"
    "                          llama.cpp's llama-gguf-hash does, to compare with its output\n"
    "  --hash LIST             with --hash-format: xxh64 (default), sha1, sha256 or all\n"
    "  --threads N             files hashed at once (stores; default: all cores)\n"
    "  --json                  machine-readable report on stdout\n"
    "  -q, --quiet             print only problems\n"
    "\n"
    "A file written by tensorcast records each tensor's xxh64 as written and its sources'\n"
    "SHA-256 (tensorcast.provenance.*): verify recomputes the tensor digests and names every\n"
    "tensor changed since; with --against SOURCE it also re-hashes the source files.\n"
    "A bundle from `tensorcast pack` (.tar.zst, ...) has every member checked against its\n"
    "SHA256SUMS, and a damaged model member narrowed to the tensors at fault.\n"
    "PATH may also be a download as its store keeps it: a Hugging Face cache repository\n"
    "(~/.cache/huggingface/hub/models--ORG--NAME), one of its snapshots or files (each file is\n"
    "checked against the digest its blob is named by: SHA-256, or the git blob SHA-1 of small\n"
    "files), a `huggingface-cli download --local-dir` directory (digests from its\n"
    ".cache/huggingface/download metadata), or an ollama manifest file.\n"
    "\n"
    "Exit status: 0 verified, 1 a check failed, 3 the file is malformed, 4 I/O error.\n";

#define HASH_CHUNK (4u << 20)

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

/* SHA-256 of a whole file, streamed. */
static int sha256_file(const char *path, char out[65], tc_err *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        tc_err_sys(e, TC_E_IO, errno, "%s: cannot open", path);
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(HASH_CHUNK), md[32];
    unsigned int mdn = 0;
    int rc = ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -1;
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, HASH_CHUNK, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1)
            rc = -1;
    if (rc == 0 && ferror(f)) {
        tc_err_sys(e, TC_E_IO, errno, "%s: read failed", path);
        rc = -1;
    } else if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdn) == 1) {
        hex(md, 32, out);
    } else if (rc != 0) {
        tc_err_set(e, TC_E_NOMEM, "cannot hash %s", path);
    }
    fclose(f);
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

typedef struct tensor_check {
    char sha[65];
    uint64_t nan, inf;
} tensor_check;

/* Read every byte of a tensor in chunks: hash it and, on request, count NaN/Inf. */
static tc_status check_tensor(const tc_tensor *t, int want_hash, int want_values, tensor_check *r,
                              tc_err *e)
{
    const tc_dtype_info *di = tc_dtype_get(tc_tensor_dtype(t));
    uint64_t n = tc_tensor_n_elements(t), row = (uint64_t)tc_tensor_row_len(t);
    uint64_t step = di->is_quant ? (row ? ((1u << 20) / row + 1) * row : 1) : (1u << 20);
    uint8_t *buf = malloc((size_t)tc_row_size(tc_tensor_dtype(t), (int64_t)step) + 64);
    float *f = want_values ? malloc((size_t)step * sizeof(float)) : NULL;
    EVP_MD_CTX *ctx = want_hash ? EVP_MD_CTX_new() : NULL;
    tc_status rc = TC_OK;
    memset(r, 0, sizeof *r);
    if (buf == NULL || (want_values && f == NULL) || (want_hash && ctx == NULL)) {
        rc = tc_err_nomem(e);
        goto done;
    }
    if (ctx)
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (uint64_t e0 = 0; e0 < n && rc == TC_OK; e0 += step) {
        uint64_t k = n - e0 < step ? n - e0 : step;
        rc = tc_tensor_read(t, e0, k, buf, e);
        if (rc != TC_OK)
            break;
        if (ctx)
            EVP_DigestUpdate(ctx, buf, (size_t)tc_row_size(tc_tensor_dtype(t), (int64_t)k));
        if (want_values && (di->is_float || di->is_quant) &&
            tc_to_f32(tc_tensor_dtype(t), buf, f, (int64_t)k) == 0)
            for (uint64_t i = 0; i < k; i++) {
                if (isnan(f[i]))
                    r->nan++;
                else if (isinf(f[i]))
                    r->inf++;
            }
    }
    if (rc == TC_OK && ctx) {
        unsigned char md[32];
        unsigned int mdn;
        EVP_DigestFinal_ex(ctx, md, &mdn);
        hex(md, 32, r->sha);
    }
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    free(f);
    return rc;
}

/* Manifest lines: "<hex>  <file>" or "sha256  <hex>  <file>:<tensor>". */
typedef struct manifest_entry {
    char sha[65];
    char *file;   /* as written */
    char *tensor; /* NULL for a whole-file line */
    int seen;
} manifest_entry;

static size_t manifest_bad_line; /* first malformed line (1-based), 0: none */
static size_t manifest_n_bad;

static int load_manifest(const char *path, manifest_entry **out, size_t *n_out)
{
    size_t lineno = 0;
    manifest_bad_line = manifest_n_bad = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    manifest_entry *m = NULL;
    size_t n = 0;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line, *end = line + strlen(line);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
            *--end = 0;
        if (*p == 0 || *p == '#')
            continue;
        int tensor_line = 0;
        if (strncmp(p, "sha256 ", 7) == 0) {
            tensor_line = 1;
            p += 7;
            while (*p == ' ')
                p++;
        }
        if (strlen(p) < 66 || p[64] != ' ' || strspn(p, "0123456789abcdefABCDEF") != 64) {
            if (!manifest_bad_line)
                manifest_bad_line = lineno;
            manifest_n_bad++;
            continue;
        }
        manifest_entry e = {0};
        memcpy(e.sha, p, 64);
        for (int i = 0; i < 64; i++)
            e.sha[i] = (char)((e.sha[i] >= 'A' && e.sha[i] <= 'F') ? e.sha[i] + 32 : e.sha[i]);
        p += 64;
        while (*p == ' ' || *p == '*')
            p++;
        char *colon = tensor_line ? strrchr(p, ':') : NULL;
        if (colon) {
            *colon = 0;
            e.tensor = strdup(colon + 1);
        }
        e.file = strdup(p);
        manifest_entry *nm = realloc(m, (n + 1) * sizeof *m);
        if (nm == NULL)
            break;
        m = nm;
        m[n++] = e;
    }
    fclose(f);
    *out = m;
    *n_out = n;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Manifest paths may be relative to another directory: match by file name. */
static int same_name(const char *manifest_file, const char *path)
{
    return strcmp(manifest_file, path) == 0 ||
           strcmp(base_name(manifest_file), base_name(path)) == 0;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int cmd_verify(int argc, char **argv)
{
    enum {
        O_SHA = 256,
        O_MAN,
        O_WMAN,
        O_TENSORS,
        O_VALUES,
        O_AGAINST,
        O_REQLIC,
        O_ALLOWCLS,
        O_OLLAMA,
        O_HASHFMT,
        O_HASH
    };
    static const struct option opts[] = {{"sha256", required_argument, 0, O_SHA},
                                         {"manifest", required_argument, 0, O_MAN},
                                         {"write-manifest", required_argument, 0, O_WMAN},
                                         {"tensors", no_argument, 0, O_TENSORS},
                                         {"values", no_argument, 0, O_VALUES},
                                         {"against", required_argument, 0, O_AGAINST},
                                         {"require-license", no_argument, 0, O_REQLIC},
                                         {"allow-class", required_argument, 0, O_ALLOWCLS},
                                         {"ollama", required_argument, 0, O_OLLAMA},
                                         {"hash-format", required_argument, 0, O_HASHFMT},
                                         {"hash", required_argument, 0, O_HASH},
                                         CLI_OPT_THREADS,
                                         CLI_OPT_JSON,
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *want_sha = NULL, *manifest = NULL, *wmanifest = NULL, *against = NULL;
    int tensors = 0, values = 0, reqlic = 0, c, copt;
    unsigned allow_cls = 0; /* bit per tc_license_class; 0: no gate */
    const char *ollama = NULL;
    int gguf_hash = 0;
    unsigned hash_mask = CLI_HASH_XXH64;
    cli_opts co = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_SHA:
            want_sha = optarg;
            if (strlen(want_sha) != 64 || strspn(want_sha, "0123456789abcdefABCDEF") != 64)
                return cli_usage_error("verify", "--sha256 needs 64 hex digits");
            break;
        case O_MAN:
            manifest = optarg;
            break;
        case O_WMAN:
            wmanifest = optarg;
            break;
        case O_TENSORS:
            tensors = 1;
            break;
        case O_VALUES:
            values = 1;
            break;
        case O_AGAINST:
            against = optarg;
            break;
        case O_REQLIC:
            reqlic = 1;
            break;
        case O_ALLOWCLS: {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *sv = NULL, *tok = strtok_r(buf, ",", &sv); tok;
                 tok = strtok_r(NULL, ",", &sv)) {
                int k = tc_license_class_from_name(tok);
                if (k < 0)
                    return cli_usage_error("verify",
                                           "--allow-class: unknown class '%s' (permissive, "
                                           "copyleft, restricted-use, non-commercial, "
                                           "proprietary, unknown)",
                                           tok);
                allow_cls |= 1u << k;
            }
            if (allow_cls == 0)
                return cli_usage_error("verify", "--allow-class needs at least one class");
            break;
        }
        case O_OLLAMA:
            ollama = optarg;
            break;
        case O_HASHFMT:
            if (strcmp(optarg, "gguf-hash") != 0)
                return cli_usage_error(
                    "verify", "--hash-format: only 'gguf-hash' is known, not '%s'", optarg);
            gguf_hash = 1;
            break;
        case O_HASH:
            if (cli_hash_list(optarg, &hash_mask) != 0)
                return cli_usage_error("verify",
                                       "--hash wants xxh64, sha1, sha256 or all, not '%s'", optarg);
            break;
        case 'h':
            fputs(verify_help, stdout);
            return TC_EXIT_OK;
        default:
            if ((copt = cli_common_opt("verify", c, optarg, &co)) < 0)
                return cli_usage_error("verify", "bad option");
            if (copt != 0)
                return copt;
            break;
        }
    }
    cli_verify_store_opts vso = {reqlic, allow_cls};
    if (ollama) {
        if (argc - optind != 0)
            return cli_usage_error("verify", "--ollama takes the model name instead of PATH");
        tc_err se = {0};
        char *mf = NULL;
        if (tc_store_ollama_manifest(ollama, NULL, &mf, &se) != TC_OK)
            return cli_fail(&se);
        int src = cli_verify_store(mf, &vso, &co);
        tc_free(mf);
        return src;
    }
    if (argc - optind != 1)
        return cli_usage_error("verify", "expected one PATH");
    const char *path = argv[optind];
    if (tc_store_detect(path) != TC_STORE_NONE && !want_sha && !manifest && !wmanifest && !against)
        return cli_verify_store(path, &vso, &co);
    if (gguf_hash) {
        /* llama-gguf-hash's report, nothing else */
        tc_err he = {0};
        tc_graph *hg = NULL;
        if (tc_read(path, &hg, NULL, &he) != TC_OK)
            return cli_fail(&he);
        int hrc = cli_print_gguf_hash(hg, path, hash_mask);
        tc_graph_free(hg);
        return hrc;
    }
    if (tc_bundle_detect(path) && !want_sha && !manifest && !wmanifest && !against)
        return cli_verify_bundle(path, &vso, &co);
    tc_err e = {0};
    tc_graph *g = NULL, *orig = NULL;
    manifest_entry *man = NULL;
    size_t n_man = 0;
    if (manifest && load_manifest(manifest, &man, &n_man) != 0) {
        fprintf(stderr, "%s: cannot read manifest %s\n", tc_prog, manifest);
        return TC_EXIT_IO;
    }
    int manifest_empty = manifest && n_man == 0;
    if (tc_read(path, &g, NULL, &e) != TC_OK)
        return cli_fail(&e);
    if (want_sha && tc_graph_n_sources(g) != 1) {
        tc_graph_free(g);
        return cli_usage_error("verify",
                               "--sha256 needs a single file; %s has %zu parts (use "
                               "--manifest)",
                               path, tc_graph_n_sources(g));
    }

    int failed = 0, rc = TC_EXIT_OK;
    json_t *jr = json_object(), *jproblems = json_array(), *jfiles = json_array(),
           *jtensors = json_array();
    FILE *wm = NULL;
    if (wmanifest && (wm = fopen(wmanifest, "w")) == NULL) {
        fprintf(stderr, "%s: cannot write %s\n", tc_prog, wmanifest);
        rc = TC_EXIT_IO;
        goto done;
    }
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        char msg_[1024];                                                                           \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                  \
        json_array_append_new(jproblems, json_string(msg_));                                       \
        if (!co.json)                                                                              \
            printf("FAIL  %s\n", msg_);                                                            \
        failed = 1;                                                                                \
    } while (0)

    /* 1. whole-file digests */
    int hash_files = want_sha || manifest || wmanifest;
    for (size_t i = 0; hash_files && i < tc_graph_n_sources(g); i++) {
        const char *src = tc_graph_source(g, i, NULL);
        char sha[65];
        if (sha256_file(src, sha, &e) != 0) {
            rc = cli_fail(&e);
            goto done;
        }
        json_t *jf = json_object();
        json_object_set_new(jf, "path", json_string(src));
        json_object_set_new(jf, "sha256", json_string(sha));
        json_array_append_new(jfiles, jf);
        if (!co.json && !co.quiet)
            printf("sha256 %s  %s\n", sha, src);
        if (wm)
            fprintf(wm, "%s  %s\n", sha, src);
        if (want_sha && strcasecmp(sha, want_sha) != 0)
            PROBLEM("%s: SHA-256 is %s, expected %s", src, sha, want_sha);
        for (size_t k = 0; k < n_man; k++)
            if (!man[k].tensor && same_name(man[k].file, src)) {
                man[k].seen = 1;
                if (strcmp(man[k].sha, sha) != 0)
                    PROBLEM("%s: SHA-256 is %s, the manifest says %s", src, sha, man[k].sha);
            }
    }

    /* 1b. container checksums: the CRC-32 of every zip member (PyTorch checkpoints, .npz) */
    for (size_t i = 0; i < tc_graph_n_sources(g); i++) {
        const char *src = tc_graph_source(g, i, NULL);
        uint64_t n_crc = 0;
        tc_err ce = {0};
        tc_status cs = tc_verify_zip_crc(src, &n_crc, &ce);
        if (cs == TC_E_CHECKSUM || cs == TC_E_FORMAT) {
            PROBLEM("%s", ce.msg);
        } else if (cs != TC_OK) {
            e = ce;
            rc = cli_fail(&e);
            goto done;
        } else if (n_crc > 0) {
            json_t *jc = json_object();
            json_object_set_new(jc, "path", json_string(src));
            json_object_set_new(jc, "zip_members_crc_ok", json_integer((json_int_t)n_crc));
            json_array_append_new(jfiles, jc);
            if (!co.json && !co.quiet)
                printf("crc32  %s: %" PRIu64 " zip members match their CRC-32\n", src, n_crc);
        }
    }

    /* 2. every tensor readable; hashes and value checks on request */
    int want_thash = tensors || wmanifest;
    for (size_t k = 0; k < n_man; k++)
        if (man[k].tensor)
            want_thash = 1;
    uint64_t nan_total = 0, inf_total = 0;
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        tensor_check r;
        if (check_tensor(t, want_thash, values, &r, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        nan_total += r.nan;
        inf_total += r.inf;
        if (r.nan || r.inf)
            PROBLEM("tensor '%s': %" PRIu64 " NaN and %" PRIu64 " infinite values",
                    tc_tensor_name(t), r.nan, r.inf);
        if (want_thash) {
            json_t *jt = json_object();
            json_object_set_new(jt, "name", json_string(tc_tensor_name(t)));
            json_object_set_new(jt, "sha256", json_string(r.sha));
            json_array_append_new(jtensors, jt);
            if (tensors && !co.json && !co.quiet)
                printf("sha256  %s  %s:%s\n", r.sha, path, tc_tensor_name(t));
            if (wm && tensors)
                fprintf(wm, "sha256  %s  %s:%s\n", r.sha, path, tc_tensor_name(t));
            for (size_t k = 0; k < n_man; k++)
                if (man[k].tensor && strcmp(man[k].tensor, tc_tensor_name(t)) == 0) {
                    man[k].seen = 1;
                    if (strcmp(man[k].sha, r.sha) != 0)
                        PROBLEM("tensor '%s': SHA-256 is %s, the manifest says %s",
                                tc_tensor_name(t), r.sha, man[k].sha);
                }
        }
    }
    /* like sha256sum -c: no valid line is a failure, malformed lines are reported */
    if (manifest_empty)
        PROBLEM("%s: no valid digest line (expected '<64 hex>  <file>' or "
                "'sha256  <64 hex>  <file>:<tensor>')",
                manifest);
    if (manifest && manifest_n_bad)
        PROBLEM("%s: %zu malformed line(s), the first is line %zu", manifest, manifest_n_bad,
                manifest_bad_line);
    for (size_t k = 0; k < n_man; k++)
        if (!man[k].seen)
            PROBLEM("the manifest lists %s%s%s, which %s does not have", man[k].file,
                    man[k].tensor ? ":" : "", man[k].tensor ? man[k].tensor : "", path);

    /* 3. licence */
    tc_license lic;
    tc_graph_license(g, &lic);
    json_t *jl = json_object();
    json_object_set_new(jl, "id", lic.id ? json_string(lic.id) : json_null());
    json_object_set_new(jl, "name", lic.name ? json_string(lic.name) : json_null());
    json_object_set_new(jl, "link", lic.link ? json_string(lic.link) : json_null());
    json_object_set_new(jl, "source", lic.source ? json_string(lic.source) : json_null());
    tc_license_facts lf;
    tc_license_classify(lic.id, lic.name, &lf);
    cli_license_facts_json(jl, &lf);
    json_object_set_new(jr, "license", jl);
    if (!co.json && !co.quiet) {
        printf("licence: %s%s%s%s\n",
               lic.id     ? lic.id
               : lic.name ? lic.name
                          : "none recorded",
               lic.source ? "  [from " : "", lic.source ? lic.source : "", lic.source ? "]" : "");
        if (lic.id || lic.name)
            cli_print_license_facts(stdout, &lf);
    }
    if (reqlic && !lic.id && !lic.name)
        PROBLEM("%s carries no licence", path);
    if (allow_cls && !(allow_cls & (1u << lf.cls)))
        PROBLEM("licence class is %s (%s), not one of those allowed by --allow-class",
                tc_license_class_name(lf.cls),
                lf.name  ? lf.name
                : lic.id ? lic.id
                         : "none");
    if (against) {
        int orig_hf = 0; /* a Hugging Face directory is compared as it maps to GGUF */
        if ((tc_graph_get_str(g, "general.architecture") != NULL
                 ? cli_read_model(against, NULL, &orig, &orig_hf, &e)
                 : tc_read(against, &orig, NULL, &e)) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        tc_license ol;
        tc_graph_license(orig, &ol);
        if (!str_eq(ol.id, lic.id))
            PROBLEM("licence id changed: %s has '%s', %s has '%s'", against,
                    ol.id ? ol.id : "(none)", path, lic.id ? lic.id : "(none)");
        if (!str_eq(ol.name, lic.name))
            PROBLEM("licence name changed: '%s' -> '%s'", ol.name ? ol.name : "(none)",
                    lic.name ? lic.name : "(none)");
        if (!str_eq(ol.link, lic.link))
            PROBLEM("licence link changed: '%s' -> '%s'", ol.link ? ol.link : "(none)",
                    lic.link ? lic.link : "(none)");
        for (size_t i = 0; i < tc_graph_n_tensors(orig); i++) {
            const tc_tensor *a = tc_graph_tensor(orig, i);
            const tc_tensor *b = tc_graph_find(g, tc_tensor_name(a));
            if (b == NULL) {
                PROBLEM("tensor '%s' of %s is missing", tc_tensor_name(a), against);
                continue;
            }
            int same = tc_tensor_n_dims(a) == tc_tensor_n_dims(b);
            for (int d = 0; same && d < tc_tensor_n_dims(a); d++)
                same = tc_tensor_shape(a)[d] == tc_tensor_shape(b)[d];
            if (!same)
                PROBLEM("tensor '%s' changed shape", tc_tensor_name(a));
        }
        if (tc_graph_n_tensors(orig) != tc_graph_n_tensors(g))
            PROBLEM("%s has %zu tensors, %s has %zu", against, tc_graph_n_tensors(orig), path,
                    tc_graph_n_tensors(g));
    }
    /* 4. what the file records about itself: tensor digests as written, source digests */
    if ((rc = cli_verify_provenance(g, path, orig, &co, jr, &failed)) != TC_EXIT_OK)
        goto done;

    json_object_set_new(jr, "path", json_string(path));
    json_object_set_new(jr, "format", json_string(tc_graph_format(g)));
    json_object_set_new(jr, "tensors_checked", json_integer((json_int_t)tc_graph_n_tensors(g)));
    if (values) {
        json_object_set_new(jr, "nan_values", json_integer((json_int_t)nan_total));
        json_object_set_new(jr, "inf_values", json_integer((json_int_t)inf_total));
    }
    json_object_set_new(jr, "files", jfiles);
    jfiles = NULL;
    if (want_thash) {
        json_object_set_new(jr, "tensor_digests", jtensors);
        jtensors = NULL;
    }
    json_object_set_new(jr, "ok", json_boolean(!failed));
    json_object_set_new(jr, "problems", jproblems);
    jproblems = NULL;
    if (co.json) {
        cli_print_json(jr, 0);
    } else if (!failed && !co.quiet) {
        printf("OK    %s: %zu tensors readable%s%s\n", path, tc_graph_n_tensors(g),
               hash_files ? ", digests match" : "", against ? ", licence and tensors kept" : "");
    }
    rc = failed ? TC_EXIT_VERIFY : TC_EXIT_OK;
done:
    if (wm && fclose(wm) != 0 && rc == TC_EXIT_OK) {
        fprintf(stderr, "%s: cannot write %s\n", tc_prog, wmanifest);
        rc = TC_EXIT_IO;
    }
    json_decref(jr);
    json_decref(jproblems);
    json_decref(jfiles);
    json_decref(jtensors);
    for (size_t k = 0; k < n_man; k++) {
        free(man[k].file);
        free(man[k].tensor);
    }
    free(man);
    tc_graph_free(orig);
    tc_graph_free(g);
    return rc;
}
