/* cmd_pack.c - `tensorcast pack OUT.tar.zst MODEL [FILES...]`: a bundle for shipping a model to
 * a device with its licence, notices, model card and checksums. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char pack_help[] =
    "usage: tensorcast pack OUT.tar.zst MODEL [FILE...] [options]\n"
    "\n"
    "Bundle a model for a device: the model (any input tensorcast reads: a file, or a whole\n"
    "model directory), its licence and notice files (LICENSE*, LICENCE*, NOTICE*,\n"
    "USE_POLICY.md) and model card (README.md) found beside it, any FILEs given, a\n"
    "TENSORS.sha256 with one digest per tensor, and a SHA256SUMS that `sha256sum -c SHA256SUMS`\n"
    "accepts after a plain `tar --zstd -xf OUT.tar.zst`. The bundle is streamed (zstd, or gzip/\n"
    "xz/none by OUT's extension: .tar.zst .tar.gz .tar.xz .tar), deterministic (mtime from\n"
    "SOURCE_DATE_EPOCH, else 0) and renamed into place only when complete.\n"
    "`tensorcast verify OUT.tar.zst` checks every member and names the tensors at fault;\n"
    "`inspect`, `convert` and `quantize` read the model inside directly.\n"
    "\n"
    "  --type T            convert the model on the way to GGUF of type T (as `tensorcast\n"
    "                      convert MODEL X.gguf --type T`)\n"
    "  --name NAME         name of the model member (default: the model's file name, or\n"
    "                      <model>.gguf with --type)\n"
    "  --require-license   refuse to pack a model that carries no licence (exit 1)\n"
    "  --threads N         worker threads for --type (default: all cores)\n"
    "  --json              print a JSON summary on stdout\n"
    "  -q, --quiet         no progress bar or summary\n"
    "  -h, --help          this help\n";

typedef struct mlist {
    tc_pack_member *m;
    char **owned; /* strings to free */
    size_t n, cap, n_owned, cap_owned;
} mlist;

static char *own(mlist *l, char *s)
{
    if (s == NULL)
        return NULL;
    if (l->n_owned == l->cap_owned) {
        size_t nc = l->cap_owned ? l->cap_owned * 2 : 16;
        char **no = realloc(l->owned, nc * sizeof *no);
        if (no == NULL) {
            free(s);
            return NULL;
        }
        l->owned = no;
        l->cap_owned = nc;
    }
    l->owned[l->n_owned++] = s;
    return s;
}

static int add(mlist *l, const char *src, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->m[i].name, name) == 0)
            return 0; /* first wins (an explicit FILE named like a side file) */
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        tc_pack_member *nm = realloc(l->m, nc * sizeof *nm);
        if (nm == NULL)
            return -1;
        l->m = nm;
        l->cap = nc;
    }
    char *s = own(l, strdup(src)), *n = own(l, strdup(name));
    if (!s || !n)
        return -1;
    l->m[l->n++] = (tc_pack_member){s, n, NULL, 0};
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under `dir` (no dot-directories such as .git or .cache), sorted. */
static int add_tree(mlist *l, const char *dir, const char *rel, int depth)
{
    if (depth > 16)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char full[4096], r[4096];
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat st;
        if (rc == 0 && stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = add_tree(l, full, r, depth + 1);
            else if (S_ISREG(st.st_mode))
                rc = add(l, full, r);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int is_side_file(const char *n)
{
    return strncmp(n, "LICENSE", 7) == 0 || strncmp(n, "LICENCE", 7) == 0 ||
           strncmp(n, "NOTICE", 6) == 0 || strcmp(n, "USE_POLICY.md") == 0 ||
           strcmp(n, "README.md") == 0;
}

/* Licence, notice and model-card files of the directory `dir` (only a model directory's:
 * config.json beside them, so a GGUF in ~/Downloads does not pick up unrelated files). */
static int add_side_files(mlist *l, const char *dir)
{
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    struct stat st;
    if (stat(cfg, &st) != 0)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (!is_side_file(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        if (rc == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
            rc = add(l, full, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* "sha256  <hex>  <member>:<tensor>" for every tensor of the model members. */
static char *tensor_sums(const tc_graph *g, const mlist *l, const char *model_member, tc_err *e)
{
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(4u << 20);
    if (!out || !md || !buf) {
        tc_err_nomem(e);
        goto fail;
    }
    out[0] = 0;
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        const char *member = model_member;
        const tc_map *m;
        uint64_t off;
        if (tc_tensor_mapped(t, &m, &off))
            for (size_t k = 0; k < l->n; k++)
                if (strcmp(l->m[k].src, tc_map_path(m)) == 0)
                    member = l->m[k].name;
        int dt = tc_tensor_dtype(t);
        const tc_dtype_info *di = tc_dtype_get(dt);
        uint64_t n = tc_tensor_n_elements(t), row = (uint64_t)tc_tensor_row_len(t);
        uint64_t step = di->is_quant ? (row ? ((1u << 20) / row + 1) * row : 1) : (1u << 20);
        while ((uint64_t)tc_row_size(dt, (int64_t)step) > (4u << 20) && step > row)
            step -= di->is_quant ? row : step / 2;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (uint64_t e0 = 0; e0 < n; e0 += step) {
            uint64_t k = n - e0 < step ? n - e0 : step;
            if (tc_tensor_read(t, e0, k, buf, e) != TC_OK)
                goto fail;
            EVP_DigestUpdate(md, buf, (size_t)tc_row_size(dt, (int64_t)k));
        }
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn;
        EVP_DigestFinal_ex(md, d, &dn);
        size_t need = len + 8 + 64 + 2 + strlen(member) + 1 + strlen(tc_tensor_name(t)) + 2;
        if (need > cap) {
            cap = need * 2;
            char *no = realloc(out, cap);
            if (no == NULL) {
                tc_err_nomem(e);
                goto fail;
            }
            out = no;
        }
        len += (size_t)snprintf(out + len, cap - len, "sha256  ");
        for (unsigned j = 0; j < 32; j++)
            len += (size_t)snprintf(out + len, cap - len, "%02x", d[j]);
        len += (size_t)snprintf(out + len, cap - len, "  %s:%s\n", member, tc_tensor_name(t));
    }
    EVP_MD_CTX_free(md);
    free(buf);
    return out;
fail:
    EVP_MD_CTX_free(md);
    free(buf);
    free(out);
    return NULL;
}

int cmd_pack(int argc, char **argv)
{
    enum { O_TYPE = 256, O_NAME, O_REQLIC };
    static const struct option opts[] = {{"type", required_argument, 0, O_TYPE},
                                         {"name", required_argument, 0, O_NAME},
                                         {"require-license", no_argument, 0, O_REQLIC},
                                         CLI_OPT_THREADS,
                                         CLI_OPT_JSON,
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *type = NULL, *name = NULL;
    int reqlic = 0, c, copt;
    cli_opts co = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_TYPE:
            type = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_REQLIC:
            reqlic = 1;
            break;
        case 'h':
            fputs(pack_help, stdout);
            return TC_EXIT_OK;
        default:
            if ((copt = cli_common_opt("pack", c, optarg, &co)) < 0)
                return cli_usage_error("pack", "bad option (see --help)");
            if (copt != 0)
                return copt;
            break;
        }
    }
    if (argc - optind < 2)
        return cli_usage_error("pack", "expected OUT.tar.zst and MODEL (see --help)");
    const char *out = argv[optind], *model = argv[optind + 1];
    if (!tc_bundle_detect(out))
        return cli_usage_error("pack",
                               "name the bundle .tar.zst, .tar.gz, .tar.xz or .tar, not '%s'", out);
    double t0 = cli_now();
    tc_err e = {0};
    int rc = TC_EXIT_OK;
    mlist l = {0};
    char tmpdir[4096] = "";
    char *sums = NULL;
    tc_graph *g = NULL;
    struct stat st;
    if (stat(model, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", tc_prog, model, strerror(errno));
        return TC_EXIT_IO;
    }
    int model_is_dir = S_ISDIR(st.st_mode);
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s", model);
    if (!model_is_dir) {
        char *slash = strrchr(model_dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(model_dir, sizeof model_dir, ".");
    }
    const char *model_member = NULL;
    if (type) {
        /* convert on the way, into a private temporary directory */
        const char *td = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/tensorcast-pack-XXXXXX", td && *td ? td : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            fprintf(stderr, "%s: cannot create a temporary directory: %s\n", tc_prog,
                    strerror(errno));
            return TC_EXIT_IO;
        }
        char stem[256], conv[4352], threads[32];
        if (name) {
            snprintf(stem, sizeof stem, "%s", name);
        } else {
            char base[4096];
            snprintf(base, sizeof base, "%s", model);
            size_t bl = strlen(base);
            while (bl > 1 && base[bl - 1] == '/')
                base[--bl] = 0;
            const char *b = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
            char *dot = strrchr(b, '.');
            int cut = dot && !model_is_dir ? (int)(dot - b) : (int)strlen(b);
            snprintf(stem, sizeof stem, "%.*s-%s.gguf", cut, b, type);
        }
        snprintf(conv, sizeof conv, "%s/%s", tmpdir, stem);
        snprintf(threads, sizeof threads, "%" PRIu64, co.threads);
        char *cargv[] = {"convert", (char *)model, conv,    "--type", (char *)type,
                         "-q",      "--threads",   threads, NULL};
        int cargc = co.threads ? 8 : 6;
        int sargc;
        char **sargv;
        cli_get_args(&sargc, &sargv);
        cli_set_args(cargc, cargv);
        int crc = cmd_convert(cargc, cargv);
        cli_set_args(sargc, sargv);
        if (crc != TC_EXIT_OK) {
            rc = crc;
            goto done;
        }
        if (add(&l, conv, stem) != 0)
            goto oom;
        model_member = l.m[0].name;
        if (add_side_files(&l, model_dir) != 0)
            goto oom;
    } else if (model_is_dir) {
        if (add_tree(&l, model, "", 0) != 0)
            goto oom;
    } else {
        const char *b = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        if (add(&l, model, name ? name : b) != 0 || add_side_files(&l, model_dir) != 0)
            goto oom;
        model_member = l.m[0].name;
    }
    for (int i = optind + 2; i < argc; i++) {
        const char *b = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        if (stat(argv[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "%s: %s: not a readable file\n", tc_prog, argv[i]);
            rc = TC_EXIT_USAGE;
            goto done;
        }
        if (add(&l, argv[i], b) != 0)
            goto oom;
    }
    /* the model must read; its licence decides --require-license; its tensors get digests */
    if (tc_read(type ? l.m[0].src : model, &g, NULL, &e) != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }
    tc_license lic;
    tc_graph_license(g, &lic);
    if (!lic.id && !lic.name) {
        if (reqlic) {
            fprintf(stderr, "%s: %s carries no licence (--require-license)\n", tc_prog, model);
            rc = TC_EXIT_VERIFY;
            goto done;
        }
        if (!co.quiet)
            fprintf(stderr, "%s: warning: %s carries no licence; the bundle will have none\n",
                    tc_prog, model);
    }
    sums = tensor_sums(g, &l, model_member ? model_member : "model", &e);
    if (sums == NULL) {
        rc = cli_fail(&e);
        goto done;
    }
    if (l.n == l.cap) {
        tc_pack_member *nm = realloc(l.m, (l.cap + 1) * sizeof *nm);
        if (nm == NULL)
            goto oom;
        l.m = nm;
        l.cap++;
    }
    l.m[l.n++] = (tc_pack_member){NULL, TC_BUNDLE_TENSOR_SUMS, sums, strlen(sums)};

    cli_progress pb;
    cli_progress_init(&pb, "packing", co.quiet || co.json);
    tc_pack_opts po = {{cli_progress_cb, &pb, cli_progress_item}};
    tc_status st2 = tc_pack_write(out, l.m, l.n, &po, &e);
    cli_progress_done(&pb);
    if (st2 != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }
    if (co.json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "output", json_string(out));
        json_t *ms = json_array();
        for (size_t i = 0; i < l.n; i++)
            json_array_append_new(ms, json_string(l.m[i].name));
        json_array_append_new(ms, json_string("SHA256SUMS"));
        json_object_set_new(o, "members", ms);
        json_object_set_new(o, "license",
                            lic.id     ? json_string(lic.id)
                            : lic.name ? json_string(lic.name)
                                       : json_null());
        json_object_set_new(o, "seconds", cli_json_real(cli_now() - t0));
        cli_print_json(o, 0);
        json_decref(o);
    } else if (!co.quiet) {
        printf("packed %s: %zu members + SHA256SUMS, licence %s, %.2f s\n", out, l.n,
               lic.id     ? lic.id
               : lic.name ? lic.name
                          : "none",
               cli_now() - t0);
        for (size_t i = 0; i < l.n; i++)
            printf("  %s\n", l.m[i].name);
    }
    goto done;
oom:
    fprintf(stderr, "%s: out of memory\n", tc_prog);
    rc = TC_EXIT_IO;
done:
    tc_graph_free(g);
    if (*tmpdir) {
        for (size_t i = 0; i < l.n; i++)
            if (l.m[i].src && strncmp(l.m[i].src, tmpdir, strlen(tmpdir)) == 0)
                unlink(l.m[i].src);
        rmdir(tmpdir);
    }
    for (size_t i = 0; i < l.n_owned; i++)
        free(l.owned[i]);
    free(l.owned);
    free(l.m);
    free(sums);
    return rc;
}
