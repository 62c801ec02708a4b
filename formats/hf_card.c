/*
 * hf_card.c - general.* naming and model-card keys as gguf-py's metadata.py derives them
 * (../shared/HF-TO-GGUF.md §1.7): README.md front matter first, then config.json's
 * _name_or_path (at most one '/'), then the directory's name; the name decomposed into
 * basename / size label / finetune / version; generation_config.json's sampling keys.
 */
#include "hf.h"
#include "tc_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define CARD_MAX      (1u << 20)
#define CARD_MAX_LIST 256

/* ---- name decomposition (gguf-py metadata.py) ---- */

static int ci_match_version(const char *p)
{
    /* (v|iter)?\d+(\.\d+)* */
    if (strncasecmp(p, "iter", 4) == 0)
        p += 4;
    else if (*p == 'v' || *p == 'V')
        p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return 0;
        }
    }
    return 1;
}

static int is_quant_part(const char *p)
{
    /* i?q\d(_\w)* | b?fp?(16|32) */
    const char *q = p;
    if (*q == 'i' || *q == 'I')
        q++;
    if ((*q == 'q' || *q == 'Q') && isdigit((unsigned char)q[1])) {
        q += 2;
        while (*q == '_' && (isalnum((unsigned char)q[1]) || q[1] == '_')) {
            q++;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
        }
        if (*q == 0)
            return 1;
    }
    q = p;
    if (*q == 'b' || *q == 'B')
        q++;
    if (*q == 'f' || *q == 'F') {
        q++;
        if (*q == 'p' || *q == 'P')
            q++;
        if (strcmp(q, "16") == 0 || strcmp(q, "32") == 0)
            return 1;
    }
    return 0;
}

/* size: (([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl); normalised */
static int size_part(const char *p, char *out, size_t cap, int *numeric)
{
    static const char *const words[] = {"small", "mini", "medium", "large", "xl", "xxl"};
    *numeric = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(p, words[i]) == 0) {
            snprintf(out, cap, "%s", p);
            return 1;
        }
    const char *q = p;
    char pre[16] = "";
    if (*q == 'A' && isdigit((unsigned char)q[1])) {
        pre[0] = 'A';
        pre[1] = 0;
        q++;
    } else {
        const char *d = q;
        while (isdigit((unsigned char)*d))
            d++;
        if (d > q && (*d == 'x' || *d == 'X') && isdigit((unsigned char)d[1])) {
            snprintf(pre, sizeof pre, "%.*sx", (int)(d - q), q);
            q = d + 1;
        }
    }
    const char *d0 = q;
    while (isdigit((unsigned char)*q))
        q++;
    if (q == d0)
        return 0;
    char num[32];
    size_t nn = (size_t)(q - d0);
    if (nn >= sizeof num - 8)
        return 0;
    memcpy(num, d0, nn);
    num[nn] = 0;
    if ((*q == '.' || *q == '_') && isdigit((unsigned char)q[1])) {
        size_t k = strlen(num);
        num[k++] = '.';
        q++;
        while (isdigit((unsigned char)*q) && k < sizeof num - 1)
            num[k++] = *q++;
        num[k] = 0;
    }
    char unit = (char)toupper((unsigned char)*q);
    if (unit != 'K' && unit != 'M' && unit != 'B' && unit != 'T')
        return 0;
    q++;
    char tail[4] = "";
    if (isdigit((unsigned char)*q)) {
        if (strchr(num, '.') == NULL) {
            size_t k = strlen(num);
            num[k] = '.';
            num[k + 1] = *q;
            num[k + 2] = 0;
        }
        q++;
    }
    if (*q)
        return 0;
    (void)tail;
    *numeric = 1;
    snprintf(out, cap, "%s%s%c", pre, num, unit);
    return 1;
}

static double size_value(const char *s)
{
    const char *p = strchr(s, 'x');
    if (p)
        s = p + 1;
    if (*s == 'A')
        s++;
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'K':
        return v * 1e3;
    case 'M':
        return v * 1e6;
    case 'B':
        return v * 1e9;
    case 'T':
        return v * 1e12;
    }
    return v;
}

static void title_word(char *w)
{
    /* Python title(): first letter of each alphabetic run upper, the rest lower */
    int start = 1;
    for (char *c = w; *c; c++) {
        if (isalpha((unsigned char)*c)) {
            *c = (char)(start ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
            start = 0;
        } else {
            start = 1;
        }
    }
}

/* general.name from a NAME part: '-' -> ' ', lower-case words titled. */
static void make_name(const char *in, char *out, size_t cap)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", in);
    for (char *c = buf; *c; c++)
        if (*c == '-')
            *c = ' ';
    size_t k = 0;
    out[0] = 0;
    for (char *sv = NULL, *w = strtok_r(buf, " ", &sv); w; w = strtok_r(NULL, " ", &sv)) {
        int lower = 0, upper = 0;
        for (char *c = w; *c; c++) {
            lower |= islower((unsigned char)*c);
            upper |= isupper((unsigned char)*c);
        }
        int islower_w = lower && !upper;
        if (islower_w && !ci_match_version(w) && !isdigit((unsigned char)w[0]))
            title_word(w);
        k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s%s", k ? " " : "", w);
    }
}

typedef struct name_parts {
    char name[512], basename[256], size_label[128], finetune[256], version[64];
} name_parts;

static void decompose(const char *id, uint64_t total, name_parts *np)
{
    memset(np, 0, sizeof *np);
    if (strchr(id, ' ')) {
        snprintf(np->name, sizeof np->name, "%s", id);
        return;
    }
    const char *slash = strchr(id, '/');
    const char *nm = slash ? slash + 1 : id;
    make_name(nm, np->name, sizeof np->name);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", nm);
    enum { P_NONE, P_BASE, P_VER, P_SIZE, P_FT, P_QUANT };
    char *parts[64];
    int kind[64];
    char sizes[64][32];
    size_t n = 0;
    for (char *sv = NULL, *w = strtok_r(buf, "-", &sv); w && n < 64; w = strtok_r(NULL, "-", &sv))
        if (*w)
            parts[n++] = w;
    int have_numeric = 0;
    for (size_t i = 0; i < n; i++) {
        kind[i] = P_NONE;
        sizes[i][0] = 0;
        int numeric = 0;
        if (ci_match_version(parts[i]))
            kind[i] = P_VER;
        else if (is_quant_part(parts[i]))
            kind[i] = P_QUANT;
        else if (i > 0 && size_part(parts[i], sizes[i], sizeof sizes[i], &numeric)) {
            kind[i] = P_SIZE;
            if (numeric && total > 0) {
                double v = size_value(sizes[i]);
                double t = (double)total;
                if (fabs(v - t) > t * 7.0 / 8.0) {
                    kind[i] = P_FT; /* e.g. 128k: a context length, not a size */
                    for (char *c = parts[i]; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                }
            }
            if (kind[i] == P_SIZE && numeric)
                have_numeric = 1;
        } else if (strcasecmp(parts[i], "chat") == 0 || strcasecmp(parts[i], "instruct") == 0 ||
                   strcasecmp(parts[i], "vision") == 0 || strcasecmp(parts[i], "lora") == 0) {
            kind[i] = P_FT;
        }
    }
    /* word sizes are dropped when a numeric one exists */
    for (size_t i = 0; i < n; i++)
        if (kind[i] == P_SIZE && have_numeric && !isdigit((unsigned char)sizes[i][0]) &&
            sizes[i][0] != 'A' && !strchr(sizes[i], 'x'))
            kind[i] = P_NONE;
    /* leading letter-words / versions form the basename until the first other part */
    size_t i = 0;
    for (; i < n; i++) {
        if (kind[i] == P_NONE && isalpha((unsigned char)parts[i][0]))
            kind[i] = P_BASE;
        else if (kind[i] == P_VER)
            kind[i] = P_BASE;
        else
            break;
    }
    for (; i < n; i++)
        if (kind[i] == P_NONE)
            kind[i] = P_FT;
    /* trailing versions of the basename go to version */
    size_t last_base = 0;
    int any_base = 0;
    for (size_t k = 0; k < n; k++)
        if (kind[k] == P_BASE) {
            last_base = k;
            any_base = 1;
        }
    while (any_base && ci_match_version(parts[last_base]) && last_base > 0 &&
           kind[last_base] == P_BASE) {
        kind[last_base] = P_VER;
        if (last_base == 0)
            break;
        last_base--;
        if (kind[last_base] != P_BASE)
            break;
    }
    for (size_t k = 0; k < n; k++) {
        char *dst = NULL;
        size_t cap = 0;
        const char *v = parts[k];
        if (kind[k] == P_BASE) {
            dst = np->basename;
            cap = sizeof np->basename;
        } else if (kind[k] == P_SIZE) {
            dst = np->size_label;
            cap = sizeof np->size_label;
            v = sizes[k];
            if (strstr(np->size_label, v))
                continue;
        } else if (kind[k] == P_FT) {
            dst = np->finetune;
            cap = sizeof np->finetune;
        } else if (kind[k] == P_VER) {
            dst = np->version;
            cap = sizeof np->version;
        }
        if (dst) {
            size_t l = strlen(dst);
            snprintf(dst + l, cap - l, "%s%s", l ? "-" : "", v);
        }
    }
    if (!np->size_label[0] && !np->finetune[0] && !np->version[0])
        np->basename[0] = 0;
}

static void fmt_size(double n, char *out, size_t cap)
{
    const char *u = "K";
    double s = n * 1e-3;
    if (n > 1e12) {
        u = "T";
        s = n * 1e-12;
    } else if (n > 1e9) {
        u = "B";
        s = n * 1e-9;
    } else if (n > 1e6) {
        u = "M";
        s = n * 1e-6;
    }
    char r[64];
    snprintf(r, sizeof r, "%.0f", round(s));
    const char *d = r;
    while (*d == '0')
        d++;
    int digits = (int)strlen(d);
    int dec = 2 - digits > 0 ? 2 - digits : 0;
    snprintf(out, cap, "%.*f%s", dec, s, u);
}

/* ---- the keys ---- */

static tc_status set_str(tc_graph *g, const char *k, const char *v, tc_err *e)
{
    return v && *v ? tc_graph_set_str(g, k, v, e) : TC_OK;
}

static tc_status set_list(tc_graph *g, const char *key, const tc_fm_entry *a, const tc_fm_entry *b,
                          tc_err *e)
{
    size_t n = (a ? a->n : 0) + (b ? b->n : 0);
    if (n == 0)
        return TC_OK;
    tc_str *v = tc_calloc(n, sizeof *v);
    if (v == NULL)
        return tc_err_nomem(e);
    size_t k = 0;
    for (size_t i = 0; a && i < a->n; i++)
        v[k++] = (tc_str){a->vals[i], strlen(a->vals[i])};
    for (size_t i = 0; b && i < b->n; i++)
        v[k++] = (tc_str){b->vals[i], strlen(b->vals[i])};
    tc_value val = {.type = TC_V_ARR, .arr = {TC_V_STR, k, v}};
    tc_status rc = tc_graph_set(g, key, &val, e);
    tc_free(v);
    return rc;
}

static const char *fm_first(const tc_fm *f, const char *a, const char *b)
{
    const tc_fm_entry *x = tc_fm_get(f, a);
    if (!x && b)
        x = tc_fm_get(f, b);
    return x && x->n && !x->is_list ? x->vals[0] : NULL;
}

static tc_status sampling(const char *dir, tc_graph *g, tc_err *e)
{
    json_t *gc = NULL;
    tc_err ign = {0};
    if (tc_hf_json_load(dir, "generation_config.json", CARD_MAX, 1, &gc, &ign) != TC_OK ||
        gc == NULL)
        return TC_OK; /* "if valid JSON": anything else is ignored */
    static const struct {
        const char *hf, *key;
        int is_int;
    } keys[] = {{"sequence", "general.sampling.sequence", 2},
                {"top_k", "general.sampling.top_k", 1},
                {"top_p", "general.sampling.top_p", 0},
                {"min_p", "general.sampling.min_p", 0},
                {"xtc_probability", "general.sampling.xtc_probability", 0},
                {"xtc_threshold", "general.sampling.xtc_threshold", 0},
                {"temperature", "general.sampling.temp", 0},
                {"penalty_last_n", "general.sampling.penalty_last_n", 1},
                {"penalty_repeat", "general.sampling.penalty_repeat", 0},
                {"mirostat", "general.sampling.mirostat", 1},
                {"mirostat_tau", "general.sampling.mirostat_tau", 0},
                {"mirostat_eta", "general.sampling.mirostat_eta", 0}};
    tc_status rc = TC_OK;
    for (size_t i = 0; rc == TC_OK && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(gc, keys[i].hf);
        if (keys[i].is_int == 2) {
            if (json_is_string(v))
                rc = tc_graph_set_str(g, keys[i].key, json_string_value(v), e);
        } else if (json_is_number(v)) {
            tc_value val =
                keys[i].is_int
                    ? (tc_value){.type = TC_V_I32, .i = tc_json_i64(json_number_value(v))}
                    : (tc_value){.type = TC_V_F32, .f = (float)json_number_value(v)};
            rc = tc_graph_set(g, keys[i].key, &val, e);
        }
    }
    json_decref(gc);
    return rc;
}

tc_status tc_hf_card(const char *dir, const json_t *config_raw, const tc_hf_params *params,
                     const tc_hf_opts *o, tc_graph *g, tc_err *e)
{
    TC_TRY(tc_graph_set_str(g, "general.type", "model", e));
    TC_TRY(sampling(dir, g, e));
    tc_fm f = {0};
    char *rp = tc_path_join(dir, "README.md");
    FILE *fp = rp ? fopen(rp, "rb") : NULL;
    char *text = NULL;
    if (fp) {
        text = tc_malloc(CARD_MAX + 1);
        if (text) {
            size_t n = fread(text, 1, CARD_MAX, fp);
            text[n] = 0;
            tc_fm_parse(text, &f);
        }
        fclose(fp);
    }
    tc_free(rp);
    /* the id the name is decomposed from */
    char id[512] = "";
    const char *card_name = fm_first(&f, "name", "model_name");
    const json_t *np = json_object_get(config_raw, "_name_or_path");
    if (json_is_string(np)) {
        const char *s = json_string_value(np);
        const char *sl = strchr(s, '/');
        if (*s && (sl == NULL || strchr(sl + 1, '/') == NULL))
            snprintf(id, sizeof id, "%s", s);
    }
    if (!id[0]) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", dir);
        size_t bl = strlen(buf);
        while (bl > 1 && buf[bl - 1] == '/')
            buf[--bl] = 0;
        snprintf(id, sizeof id, "%s", tc_path_base(buf));
    }
    uint64_t total = params ? params->total : 0;
    name_parts p;
    decompose(id, total, &p);
    if (!p.size_label[0] && total > 0 && params) {
        char s[32];
        if (params->expert_count > 0) {
            fmt_size((double)(params->shared + params->expert), s, sizeof s);
            snprintf(p.size_label, sizeof p.size_label, "%llux%s",
                     (unsigned long long)params->expert_count, s);
        } else {
            fmt_size((double)total, p.size_label, sizeof p.size_label);
        }
    }
    const char *name = o && o->model_name ? o->model_name : card_name ? card_name : p.name;
    tc_status rc = set_str(g, "general.name", name, e);
    const char *s;
    if (rc == TC_OK && (s = fm_first(&f, "author", "model_author")))
        rc = set_str(g, "general.author", s, e);
    if (rc == TC_OK)
        rc = set_str(g, "general.version",
                     (s = fm_first(&f, "version", "model_version")) ? s : p.version, e);
    if (rc == TC_OK && (s = fm_first(&f, "organization", "model_organization")))
        rc = set_str(g, "general.organization", s, e);
    if (rc == TC_OK)
        rc = set_str(g, "general.finetune",
                     (s = fm_first(&f, "finetune", "model_finetune")) ? s : p.finetune, e);
    if (rc == TC_OK)
        rc = set_str(g, "general.basename",
                     (s = fm_first(&f, "basename", "model_basename")) ? s : p.basename, e);
    if (rc == TC_OK && (s = fm_first(&f, "description", "model_description")))
        rc = set_str(g, "general.description", s, e);
    if (rc == TC_OK)
        rc = set_str(g, "general.size_label",
                     (s = fm_first(&f, "size_label", "model_size_label")) ? s : p.size_label, e);
    if (rc == TC_OK)
        rc = tc_license_from_dir(g, dir, e);
    if (rc == TC_OK)
        rc = set_list(g, "general.tags", tc_fm_get(&f, "tags"), tc_fm_get(&f, "pipeline_tag"), e);
    if (rc == TC_OK)
        rc = set_list(g, "general.languages", tc_fm_get(&f, "languages"), tc_fm_get(&f, "language"),
                      e);
    tc_fm_free(&f);
    tc_free(text);
    return rc;
}
