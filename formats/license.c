/*
 * license.c - licence information found beside a model: the Hugging Face model card's YAML
 * front matter (README.md: license, license_name, license_link) and a LICENSE file.
 * Mapped onto the GGUF keys general.license / general.license.name / general.license.link
 * (what llama.cpp's convert_hf_to_gguf.py writes).
 */
#include "tc_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define LICENSE_MAX_FILE (1u << 20) /* read at most this much of README.md / LICENSE */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = tc_malloc(LICENSE_MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    *n = fread(buf, 1, LICENSE_MAX_FILE, f);
    buf[*n] = 0;
    fclose(f);
    return buf;
}

/* README front matter (front_matter.c reads it as YAML would: BOM, CRLF, quotes, comments):
 * license (a scalar, or a list joined with ","), license_name, license_link; tc_malloc'd. */
static void parse_front_matter(char *text, char **id, char **name, char **link)
{
    tc_fm f = {0};
    tc_fm_parse(text, &f);
    const tc_fm_entry *x = tc_fm_get(&f, "license");
    if (x && x->n) {
        size_t len = 1;
        for (size_t i = 0; i < x->n; i++)
            len += strlen(x->vals[i]) + 1;
        char *v = tc_malloc(len);
        if (v) {
            v[0] = 0;
            for (size_t i = 0; i < x->n; i++) {
                if (i)
                    strcat(v, ",");
                strcat(v, x->vals[i]);
            }
            *id = v;
        }
    }
    x = tc_fm_get(&f, "license_name");
    if (x && x->n && *name == NULL)
        *name = tc_strdup(x->vals[0]);
    x = tc_fm_get(&f, "license_link");
    if (x && x->n && *link == NULL)
        *link = tc_strdup(x->vals[0]);
    tc_fm_free(&f);
}

tc_status tc_license_from_dir(tc_graph *g, const char *path, tc_err *e)
{
    tc_license have;
    tc_graph_license(g, &have);
    if (have.id || have.name)
        return TC_OK;
    char *dir = tc_is_dir(path) ? tc_strdup(path) : tc_path_dir(path);
    if (dir == NULL)
        return tc_err_nomem(e);
    /* a single file counts as part of a model directory only when config.json sits beside it
     * (a GGUF in ~/Downloads must not pick up an unrelated README) */
    char *cfg = tc_path_join(dir, "config.json");
    int hf_dir = tc_is_dir(path);
    if (!hf_dir && cfg) {
        FILE *f = fopen(cfg, "rb");
        if (f) {
            hf_dir = 1;
            fclose(f);
        }
    }
    tc_free(cfg);
    tc_status rc = TC_OK;
    if (!hf_dir)
        goto done;

    char *id = NULL, *name = NULL, *link = NULL;
    const char *source = NULL;
    size_t n;
    char *readme_path = tc_path_join(dir, "README.md");
    char *readme = readme_path ? slurp(readme_path, &n) : NULL;
    if (readme) {
        parse_front_matter(readme, &id, &name, &link);
        if (id || name || link)
            source = "README.md front matter";
    }
    tc_free(readme);
    tc_free(readme_path);
    if (id == NULL && name == NULL) {
        static const char *const names[] = {"LICENSE", "LICENSE.txt",   "LICENSE.md",
                                            "LICENCE", "USE_POLICY.md", "LICENSE-MODEL"};
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !id && !name; i++) {
            char *lp = tc_path_join(dir, names[i]);
            char *text = lp ? slurp(lp, &n) : NULL;
            if (text) {
                const char *known = tc_license_identify_text(text, n);
                if (known) {
                    id = tc_strdup(known);
                } else {
                    char *s = text;
                    while (*s && isspace((unsigned char)*s))
                        s++;
                    char *eol = strchr(s, '\n');
                    if (eol)
                        *eol = 0;
                    if (strlen(s) > 120)
                        s[120] = 0;
                    name = tc_strdup(tc_fm_trim(s));
                }
                source = names[i];
            }
            tc_free(text);
            tc_free(lp);
        }
    }
    if (id || name || link) {
        /* the model card's values are text from the net: keep only valid UTF-8 */
        if (id && !tc_utf8_valid(id, strlen(id)))
            id[0] = 0;
        if (name && !tc_utf8_valid(name, strlen(name)))
            name[0] = 0;
        if (link && !tc_utf8_valid(link, strlen(link)))
            link[0] = 0;
        rc = tc_graph_set_license(g, id && *id ? id : NULL, name && *name ? name : NULL,
                                  link && *link ? link : NULL, source, e);
    }
    tc_free(id);
    tc_free(name);
    tc_free(link);
done:
    tc_free(dir);
    return rc;
}
