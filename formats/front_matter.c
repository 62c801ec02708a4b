/*
 * front_matter.c - a small reader of a model card's YAML front matter (README.md between "---"
 * lines): top-level scalars, [flow, lists] and "- block" lists; quotes with their escapes, a
 * UTF-8 BOM, CRLF lines and unquoted " # comments" handled as YAML does. Used for the licence
 * (license.c) and the general.* model-card keys (hf_card.c).
 */
#include "tc_impl.h"

#include <string.h>

#define FM_MAX_LIST 256 /* values kept per key */

char *tc_fm_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = 0;
    return s;
}

/* A scalar: quotes removed (with \" and '' escapes), an unquoted " #comment" dropped. */
static char *fm_scalar(char *s)
{
    s = tc_fm_trim(s);
    if (*s == '"' || *s == '\'') {
        char q = *s, *o = s, *r = s + 1;
        while (*r && !(*r == q && !(q == '\'' && r[1] == '\''))) {
            if (q == '"' && *r == '\\' && r[1])
                r++;
            else if (q == '\'' && *r == '\'' && r[1] == '\'')
                r++;
            *o++ = *r++;
        }
        *o = 0;
        return s;
    }
    for (char *c = s; *c; c++)
        if (*c == '#' && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
            *c = 0;
            break;
        }
    return tc_fm_trim(s);
}

static tc_fm_entry *fm_add(tc_fm *f, const char *key)
{
    tc_fm_entry *ne = tc_realloc(f->e, (f->n + 1) * sizeof *ne);
    if (ne == NULL)
        return NULL;
    f->e = ne;
    tc_fm_entry *x = &f->e[f->n];
    memset(x, 0, sizeof *x);
    x->key = tc_strdup(key);
    if (x->key == NULL)
        return NULL;
    f->n++;
    return x;
}

static int fm_push(tc_fm_entry *x, const char *v)
{
    if (x->n >= FM_MAX_LIST || *v == 0)
        return 0;
    char **nv = tc_realloc(x->vals, (x->n + 1) * sizeof *nv);
    if (nv == NULL)
        return -1;
    x->vals = nv;
    if ((x->vals[x->n] = tc_strdup(v)) == NULL)
        return -1;
    x->n++;
    return 0;
}

void tc_fm_free(tc_fm *f)
{
    for (size_t i = 0; i < f->n; i++) {
        for (size_t k = 0; k < f->e[i].n; k++)
            tc_free(f->e[i].vals[k]);
        tc_free(f->e[i].vals);
        tc_free(f->e[i].key);
    }
    tc_free(f->e);
}

const tc_fm_entry *tc_fm_get(const tc_fm *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->e[i].key, key) == 0)
            return &f->e[i];
    return NULL;
}

void tc_fm_parse(char *text, tc_fm *f)
{
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    if (strncmp(text, "---", 3) != 0 || (text[3] != '\n' && text[3] != '\r'))
        return;
    char *line = strchr(text, '\n');
    tc_fm_entry *cur = NULL;
    while (line) {
        line++;
        char *next = strchr(line, '\n');
        if (next)
            *next = 0;
        char *l = line;
        size_t ll = strlen(l);
        if (ll && l[ll - 1] == '\r')
            l[--ll] = 0;
        if (strcmp(l, "---") == 0)
            break;
        for (char *t = l; *t; t++)
            if (*t == '\t')
                *t = ' ';
        int indent = (int)strspn(l, " ");
        char *body = l + indent;
        if (*body == '#' || *body == 0) {
            line = next;
            continue;
        }
        if (body[0] == '-' && (body[1] == ' ' || body[1] == 0)) {
            if (cur && cur->is_list)
                fm_push(cur, fm_scalar(body + 1));
        } else if (indent == 0) {
            char *colon = strchr(body, ':');
            cur = NULL;
            if (colon && colon != body) {
                *colon = 0;
                cur = fm_add(f, tc_fm_trim(body));
                char *v = tc_fm_trim(colon + 1);
                if (cur && *v == '[') {
                    char *end = strrchr(v, ']');
                    if (end)
                        *end = 0;
                    cur->is_list = 1;
                    for (char *sv = NULL, *tok = strtok_r(v + 1, ",", &sv); tok;
                         tok = strtok_r(NULL, ",", &sv))
                        fm_push(cur, fm_scalar(tok));
                } else if (cur && *fm_scalar(v) == 0) {
                    cur->is_list = 1; /* a block list (or map) follows */
                } else if (cur) {
                    fm_push(cur, fm_scalar(v));
                }
            }
        }
        line = next;
    }
}
