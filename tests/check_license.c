/*
 * check_license.c - licence identification and classes (formats/license_class.c).
 *
 * Oracle for text identification: the licence texts Debian ships in
 * /usr/share/common-licenses (base-files), which are the published texts. The model licences
 * are recognised by the title lines their texts start with.
 */
#include "tc_test.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char *slurp_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    if (b)
        b[*n] = 0;
    fclose(f);
    return b;
}

START_TEST(test_debian_common_licenses)
{
    static const struct {
        const char *file, *id, *cls;
    } cases[] = {
        {"Apache-2.0", "apache-2.0", "permissive"}, {"GPL-3", "gpl-3.0", "copyleft"},
        {"GPL-2", "gpl-2.0", "copyleft"},           {"GPL-1", "gpl-1.0", "copyleft"},
        {"LGPL-3", "lgpl-3.0", "copyleft"},         {"LGPL-2.1", "lgpl-2.1", "copyleft"},
        {"LGPL-2", "lgpl-2.0", "copyleft"},         {"MPL-2.0", "mpl-2.0", "copyleft"},
        {"MPL-1.1", "mpl-1.1", "copyleft"},         {"CC0-1.0", "cc0-1.0", "permissive"},
        {"BSD", "bsd-3-clause", "permissive"},      {"GFDL-1.3", "gfdl-1.3", "copyleft"},
        {"GFDL-1.2", "gfdl-1.2", "copyleft"},       {"Artistic", "artistic-1.0", "copyleft"},
    };
    struct stat st;
    if (stat("/usr/share/common-licenses/GPL-3", &st) != 0)
        TC_SKIP("/usr/share/common-licenses (Debian base-files) not present");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/usr/share/common-licenses/%s", cases[i].file);
        size_t n;
        char *text = slurp_file(path, &n);
        ck_assert_msg(text != NULL, "cannot read %s", path);
        const char *id = tc_license_identify_text(text, n);
        ck_assert_msg(id && strcmp(id, cases[i].id) == 0, "%s identified as %s, expected %s",
                      cases[i].file, id ? id : "(none)", cases[i].id);
        tc_license_facts f;
        tc_license_classify(id, NULL, &f);
        ck_assert_str_eq(tc_license_class_name(f.cls), cases[i].cls);
        free(text);
    }
}
END_TEST

/* The first lines of the model licences as their published texts begin. */
START_TEST(test_model_licence_titles)
{
    static const struct {
        const char *text, *id, *cls;
    } cases[] = {
        {"LLAMA 2 COMMUNITY LICENSE AGREEMENT\nLlama 2 Version Release Date: July 18, 2023\n",
         "llama2", "restricted-use"},
        {"META LLAMA 3 COMMUNITY LICENSE AGREEMENT\nMeta Llama 3 Version Release Date: April 18, "
         "2024\n",
         "llama3", "restricted-use"},
        {"LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\nLlama 3.1 Version Release Date: July 23, 2024\n",
         "llama3.1", "restricted-use"},
        {"LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n", "llama3.2", "restricted-use"},
        {"LLAMA 3.3 COMMUNITY LICENSE AGREEMENT\n", "llama3.3", "restricted-use"},
        {"Gemma Terms of Use\n\nLast modified: February 21, 2024\n", "gemma", "restricted-use"},
        {"Tongyi Qianwen LICENSE AGREEMENT\n\nTongyi Qianwen Release Date: August 3, 2023\n",
         "tongyi-qianwen", "restricted-use"},
        {"Qwen RESEARCH LICENSE AGREEMENT\n\nQwen RESEARCH LICENSE AGREEMENT Release Date: "
         "September 19, 2024\n",
         "qwen-research", "non-commercial"},
        {"DEEPSEEK LICENSE AGREEMENT\n\nVersion 1.0, 23 October 2023\n", "deepseek",
         "restricted-use"},
        {"Mistral AI Research License\n\nIf You want to use a Mistral Model...", "mrl",
         "non-commercial"},
        {"CreativeML Open RAIL-M\ndated August 22, 2022\n", "creativeml-openrail-m",
         "restricted-use"},
        {"TII Falcon LLM License Version 1.0\nMay 2023\n", "falcon-llm-license", "restricted-use"},
        {"Attribution-NonCommercial 4.0 International\n\n=======\n", "cc-by-nc-4.0",
         "non-commercial"},
        {"Attribution-ShareAlike 4.0 International\n", "cc-by-sa-4.0", "copyleft"},
        {"Attribution 4.0 International\n", "cc-by-4.0", "permissive"},
        {"MIT License\n\nCopyright (c) 2024 Someone\n\nPermission is hereby granted, free of "
         "charge, to any person obtaining a copy",
         "mit", "permissive"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *id = tc_license_identify_text(cases[i].text, strlen(cases[i].text));
        ck_assert_msg(id && strcmp(id, cases[i].id) == 0, "case %zu identified as %s, expected %s",
                      i, id ? id : "(none)", cases[i].id);
        tc_license_facts f;
        tc_license_classify(id, NULL, &f);
        ck_assert_str_eq(tc_license_class_name(f.cls), cases[i].cls);
        ck_assert_ptr_nonnull(f.notes[0]);
    }
    ck_assert_ptr_null(tc_license_identify_text("Some words about nothing", 24));
    /* the GPL's text names the Lesser GPL in its last paragraph: still the GPL */
    char gpl[8192];
    int k = snprintf(gpl, sizeof gpl, "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\n");
    while (k < 6000)
        k += snprintf(gpl + k, sizeof gpl - (size_t)k, "Terms and conditions follow here. ");
    snprintf(gpl + k, sizeof gpl - (size_t)k,
             "... use the GNU Lesser General Public License instead of this License.");
    ck_assert_str_eq(tc_license_identify_text(gpl, strlen(gpl)), "gpl-3.0");
}
END_TEST

START_TEST(test_classify_ids_and_names)
{
    tc_license_facts f;
    tc_license_classify("Apache-2.0", NULL, &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_PERMISSIVE);
    ck_assert_str_eq(f.id, "apache-2.0");
    tc_license_classify("llama3.1", NULL, &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_RESTRICTED_USE);
    int threshold = 0;
    for (int i = 0; f.notes[i]; i++)
        threshold |= strstr(f.notes[i], "700 million") != NULL;
    ck_assert_msg(threshold, "the Llama 3.1 facts name the user threshold");
    /* the Hub's `other` defers to license_name */
    tc_license_classify("other", "tongyi-qianwen", &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_RESTRICTED_USE);
    tc_license_classify("other", "some-custom-licence", &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_UNKNOWN);
    ck_assert_ptr_null(f.id);
    tc_license_classify(NULL, NULL, &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_UNKNOWN);
    tc_license_classify("cc-by-nc-sa-4.0", NULL, &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_NON_COMMERCIAL);
    tc_license_classify(NULL, "Gemma Terms of Use", &f);
    ck_assert_int_eq(f.cls, TC_LICENSE_RESTRICTED_USE);
    for (int c = 0; c <= TC_LICENSE_PROPRIETARY; c++)
        ck_assert_int_eq(tc_license_class_from_name(tc_license_class_name((tc_license_class)c)), c);
    ck_assert_int_eq(tc_license_class_from_name("free-for-all"), -1);
}
END_TEST

/* The CLI: verify --allow-class gates on the class; inspect shows it. */
START_TEST(test_cli_allow_class)
{
    char dir[512], cmd[2048], out[1024];
    tc_make_tmpdir(dir, sizeof dir, "tc_lic");
    snprintf(cmd, sizeof cmd,
             "'%s' convert '%s/fixtures/tiny-llama/model.safetensors' '%s/m.gguf' -q "
             "--license llama3.1",
             TC_BIN, TC_SRC_DIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(out, sizeof out, "%s/m.gguf", dir);
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' --allow-class permissive,copyleft -q", TC_BIN, out);
    int rc = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(rc), 1);
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' --allow-class restricted-use -q", TC_BIN, out);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' --allow-class bogus -q 2>/dev/null", TC_BIN, out);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' --json > '%s/i.json'", TC_BIN, out, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -q '\"class\": *\"restricted-use\"' '%s/i.json'", dir);
    ck_assert_msg(system(cmd) == 0, "inspect --json carries the licence class");
    tc_rm_rf(dir);
}
END_TEST

/* README front matter read as YAML reads it: a BOM, CRLF lines, quoted values with their
 * escapes, "# comments" after unquoted values, block lists (expectations from the YAML spec). */
START_TEST(test_front_matter_as_yaml)
{
    static const struct {
        const char *readme, *id, *name;
    } cases[] = {
        {"\xef\xbb\xbf---\r\nlicense: \"apache-2.0\" # the licence\r\n---\r\n# card\r\n",
         "apache-2.0", NULL},
        {"---\nlicense: mit # see LICENSE\n---\n", "mit", NULL},
        {"---\nlicense: other\nlicense_name: 'it''s ours'\n---\n", "other", "it's ours"},
        {"---\nlicense: other\nlicense_name: \"a \\\"q\\\" b\"\n---\n", "other", "a \"q\" b"},
        {"---\nlicense:\n  - mit\n  - apache-2.0\n---\n", "mit,apache-2.0", NULL},
        {"---\nlicense: ['mit', \"bsd-3-clause\"]\n---\n", "mit,bsd-3-clause", NULL},
        {"no front matter\nlicense: mit\n", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[512], p[1024];
        tc_make_tmpdir(dir, sizeof dir, "tc_fm");
        snprintf(p, sizeof p, "%s/config.json", dir);
        FILE *f = fopen(p, "w");
        fputs("{}", f);
        fclose(f);
        snprintf(p, sizeof p, "%s/README.md", dir);
        f = fopen(p, "wb");
        fputs(cases[i].readme, f);
        fclose(f);
        tc_graph *g = tc_graph_new();
        tc_err e = {0};
        ck_assert_int_eq(tc_license_from_dir(g, dir, &e), TC_OK);
        tc_license l;
        tc_graph_license(g, &l);
        if (cases[i].id)
            ck_assert_msg(l.id && strcmp(l.id, cases[i].id) == 0, "case %zu: id '%s', want '%s'", i,
                          l.id ? l.id : "(none)", cases[i].id);
        else
            ck_assert_msg(l.id == NULL, "case %zu: id '%s' from no front matter", i, l.id);
        if (cases[i].name)
            ck_assert_msg(l.name && strcmp(l.name, cases[i].name) == 0,
                          "case %zu: name '%s', want '%s'", i, l.name ? l.name : "(none)",
                          cases[i].name);
        tc_graph_free(g);
        tc_rm_rf(dir);
    }
}
END_TEST

Suite *license_suite(void)
{
    Suite *s = suite_create("license");
    TCase *tc = tcase_create("license");
    tcase_add_test(tc, test_debian_common_licenses);
    tcase_add_test(tc, test_model_licence_titles);
    tcase_add_test(tc, test_classify_ids_and_names);
    tcase_add_test(tc, test_cli_allow_class);
    tcase_add_test(tc, test_front_matter_as_yaml);
    suite_add_tcase(s, tc);
    return s;
}
