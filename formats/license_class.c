/*
 * license_class.c - what a licence lets a user do: a table of the licences model files carry
 * (SPDX ids, Hugging Face Hub licence ids, the model-specific licences by name and by the title
 * of their text), each with a class and the facts behind it.
 *
 * This is information, not legal advice: the table summarises each licence's headline terms,
 * and every entry names the text it was read from. Classes:
 *   permissive      commercial use and changes allowed; at most attribution / notice duties
 *   copyleft        changes must be shared under the same terms (weak or strong)
 *   restricted-use  use-based restrictions or user thresholds (acceptable-use policies, RAIL)
 *   non-commercial  no commercial use (any -NC licence, research-only terms)
 *   proprietary     all rights reserved
 *   unknown         anything not in the table, including `other` with an unrecognised name
 */
#include "tc_impl.h"

#include <ctype.h>

typedef struct lic_entry {
    const char *id;    /* Hub / SPDX id, lower case */
    const char *alias; /* another spelling (license_name values seen on the Hub), or NULL */
    const char *name;  /* human name */
    tc_license_class cls;
    /* phrases that identify the licence text (lower case, single spaces; all must occur), or
     * NULL when the text is not recognised by title */
    const char *title[3];
    const char *notes[4];
} lic_entry;

#define ATTRIB "attribution and licence notice must be kept"

/* clang-format off */
static const lic_entry lic_table[] = {
    /* https://www.apache.org/licenses/LICENSE-2.0 */
    {"apache-2.0", NULL, "Apache License 2.0", TC_LICENSE_PERMISSIVE,
     {"apache license", "version 2.0, january 2004"}, {ATTRIB, "changes must be marked"}},
    /* https://opensource.org/license/mit */
    {"mit", NULL, "MIT License", TC_LICENSE_PERMISSIVE,
     {"permission is hereby granted, free of charge"}, {ATTRIB}},
    /* https://opensource.org/license/bsd-3-clause */
    {"bsd-3-clause", "bsd", "BSD 3-Clause License", TC_LICENSE_PERMISSIVE,
     {"redistribution and use in source and binary forms", "neither the name"}, {ATTRIB}},
    /* https://opensource.org/license/bsd-2-clause */
    {"bsd-2-clause", NULL, "BSD 2-Clause License", TC_LICENSE_PERMISSIVE,
     {"redistribution and use in source and binary forms"}, {ATTRIB}},
    /* https://opensource.org/license/isc-license-txt */
    {"isc", NULL, "ISC License", TC_LICENSE_PERMISSIVE,
     {"permission to use, copy, modify, and/or distribute this software for any purpose"},
     {ATTRIB}},
    /* https://unlicense.org */
    {"unlicense", NULL, "The Unlicense", TC_LICENSE_PERMISSIVE,
     {"this is free and unencumbered software released into the public domain"}, {NULL}},
    /* https://creativecommons.org/publicdomain/zero/1.0/legalcode */
    {"cc0-1.0", NULL, "Creative Commons Zero v1.0 Universal", TC_LICENSE_PERMISSIVE,
     {"cc0 1.0 universal"}, {NULL}},
    /* https://creativecommons.org/licenses/by/4.0/legalcode (and 2.0-3.0) */
    {"cc-by-4.0", NULL, "Creative Commons Attribution 4.0", TC_LICENSE_PERMISSIVE,
     {"attribution 4.0 international"}, {"attribution required (creator, licence, changes)"}},
    {"cc-by-3.0", NULL, "Creative Commons Attribution 3.0", TC_LICENSE_PERMISSIVE, {NULL},
     {"attribution required (creator, licence, changes)"}},
    {"cc-by-2.0", NULL, "Creative Commons Attribution 2.0", TC_LICENSE_PERMISSIVE, {NULL},
     {"attribution required (creator, licence, changes)"}},
    /* https://opensource.org/license/zlib, https://www.boost.org/LICENSE_1_0.txt */
    {"zlib", NULL, "zlib License", TC_LICENSE_PERMISSIVE, {NULL}, {"altered versions must be marked"}},
    {"bsl-1.0", NULL, "Boost Software License 1.0", TC_LICENSE_PERMISSIVE,
     {"boost software license - version 1.0"}, {ATTRIB}},
    /* https://cdla.dev/permissive-2-0/ */
    {"cdla-permissive-2.0", NULL, "Community Data License Agreement Permissive 2.0",
     TC_LICENSE_PERMISSIVE, {NULL}, {ATTRIB}},
    {"odc-by", NULL, "Open Data Commons Attribution License", TC_LICENSE_PERMISSIVE, {NULL},
     {"attribution required"}},

    /* the Lesser and Affero texts name the GPL in their headings: they go first */
    /* https://www.gnu.org/licenses/agpl-3.0.txt */
    {"agpl-3.0", NULL, "GNU Affero General Public License v3.0", TC_LICENSE_COPYLEFT,
     {"gnu affero general public license"},
     {"strong copyleft, also for use over a network"}},
    /* https://www.gnu.org/licenses/lgpl-3.0.txt, lgpl-2.1.txt, old-licenses/lgpl-2.0.txt */
    {"lgpl-3.0", "lgpl", "GNU Lesser General Public License v3.0", TC_LICENSE_COPYLEFT,
     {"gnu lesser general public license", "version 3, 29 june 2007"},
     {"weak copyleft: changes to the covered work must be shared"}},
    {"lgpl-2.1", NULL, "GNU Lesser General Public License v2.1", TC_LICENSE_COPYLEFT,
     {"gnu lesser general public license", "version 2.1, february 1999"},
     {"weak copyleft: changes to the covered work must be shared"}},
    {"lgpl-2.0", NULL, "GNU Library General Public License v2", TC_LICENSE_COPYLEFT,
     {"gnu library general public license", "version 2, june 1991"},
     {"weak copyleft: changes to the covered work must be shared"}},
    /* https://www.gnu.org/licenses/gpl-3.0.txt and the older versions */
    {"gpl-3.0", "gpl", "GNU General Public License v3.0", TC_LICENSE_COPYLEFT,
     {"gnu general public license", "version 3, 29 june 2007"},
     {"strong copyleft: distributed changes must be released under the GPL with source"}},
    {"gpl-2.0", NULL, "GNU General Public License v2.0", TC_LICENSE_COPYLEFT,
     {"gnu general public license", "version 2, june 1991"},
     {"strong copyleft: distributed changes must be released under the GPL with source"}},
    {"gpl-1.0", NULL, "GNU General Public License v1.0", TC_LICENSE_COPYLEFT,
     {"gnu general public license", "version 1, february 1989"},
     {"strong copyleft: distributed changes must be released under the GPL with source"}},
    /* https://www.mozilla.org/en-US/MPL/2.0/, /MPL/1.1/ */
    {"mpl-2.0", NULL, "Mozilla Public License 2.0", TC_LICENSE_COPYLEFT,
     {"mozilla public license", "version 2.0"}, {"weak (file-level) copyleft"}},
    {"mpl-1.1", NULL, "Mozilla Public License 1.1", TC_LICENSE_COPYLEFT,
     {"mozilla public license", "version 1.1"}, {"weak (file-level) copyleft"}},
    /* https://www.gnu.org/licenses/fdl-1.3.txt, fdl-1.2.txt */
    {"gfdl-1.3", "gfdl", "GNU Free Documentation License v1.3", TC_LICENSE_COPYLEFT,
     {"gnu free documentation license", "version 1.3"}, {"copyleft for documentation"}},
    {"gfdl-1.2", NULL, "GNU Free Documentation License v1.2", TC_LICENSE_COPYLEFT,
     {"gnu free documentation license", "version 1.2"}, {"copyleft for documentation"}},
    /* https://dev.perl.org/licenses/artistic.html */
    {"artistic-1.0", "artistic", "Artistic License 1.0", TC_LICENSE_COPYLEFT,
     {"the \"artistic license\""}, {"modified versions must be renamed or made freely available"}},
    {"artistic-2.0", NULL, "Artistic License 2.0", TC_LICENSE_COPYLEFT,
     {"the artistic license 2.0"}, {"modified versions must be renamed or made freely available"}},
    /* https://creativecommons.org/licenses/by-sa/4.0/legalcode */
    {"cc-by-sa-4.0", NULL, "Creative Commons Attribution-ShareAlike 4.0", TC_LICENSE_COPYLEFT,
     {"attribution-sharealike 4.0 international"},
     {"attribution required", "adaptations must be shared under the same licence"}},
    {"cc-by-sa-3.0", NULL, "Creative Commons Attribution-ShareAlike 3.0", TC_LICENSE_COPYLEFT,
     {NULL}, {"attribution required", "adaptations must be shared under the same licence"}},
    {"odbl", NULL, "Open Database License", TC_LICENSE_COPYLEFT, {"open database license"},
     {"share-alike for adapted databases"}},
    {"cdla-sharing-1.0", NULL, "Community Data License Agreement Sharing 1.0",
     TC_LICENSE_COPYLEFT, {NULL}, {"share-alike for enhanced data"}},

    /* https://github.com/meta-llama/llama-models/blob/main/models/llama2/LICENSE */
    {"llama2", NULL, "Llama 2 Community License", TC_LICENSE_RESTRICTED_USE,
     {"llama 2 community license agreement"},
     {"Acceptable Use Policy applies",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "redistribution must include the agreement and the Llama 2 notice"}},
    /* https://github.com/meta-llama/llama-models/blob/main/models/llama3/LICENSE */
    {"llama3", NULL, "Meta Llama 3 Community License", TC_LICENSE_RESTRICTED_USE,
     {"meta llama 3 community license agreement"},
     {"Acceptable Use Policy applies",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "display \"Built with Meta Llama 3\"; derived model names must begin with \"Llama 3\""}},
    /* https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/LICENSE (3.2, 3.3) */
    {"llama3.1", NULL, "Llama 3.1 Community License", TC_LICENSE_RESTRICTED_USE,
     {"llama 3.1 community license agreement"},
     {"Acceptable Use Policy applies",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "display \"Built with Llama\"; derived model names must begin with \"Llama\""}},
    {"llama3.2", NULL, "Llama 3.2 Community License", TC_LICENSE_RESTRICTED_USE,
     {"llama 3.2 community license agreement"},
     {"Acceptable Use Policy applies (multimodal models: not licensed to EU-domiciled entities)",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "display \"Built with Llama\"; derived model names must begin with \"Llama\""}},
    {"llama3.3", NULL, "Llama 3.3 Community License", TC_LICENSE_RESTRICTED_USE,
     {"llama 3.3 community license agreement"},
     {"Acceptable Use Policy applies",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "display \"Built with Llama\"; derived model names must begin with \"Llama\""}},
    /* https://github.com/meta-llama/llama-models/blob/main/models/llama4/LICENSE */
    {"llama4", NULL, "Llama 4 Community License", TC_LICENSE_RESTRICTED_USE,
     {"llama 4 community license agreement"},
     {"Acceptable Use Policy applies",
      "over 700 million monthly active users: a separate licence from Meta is required",
      "display \"Built with Llama\"; derived model names must begin with \"Llama\""}},
    /* https://ai.google.dev/gemma/terms */
    {"gemma", NULL, "Gemma Terms of Use", TC_LICENSE_RESTRICTED_USE, {"gemma terms of use"},
     {"Gemma Prohibited Use Policy applies and must be passed on to recipients",
      "redistribution must include the notice \"Gemma is provided under and subject to the "
      "Gemma Terms of Use\""}},
    /* https://huggingface.co/Qwen/Qwen-7B/blob/main/LICENSE (Tongyi Qianwen licence) */
    {"tongyi-qianwen", "qwen", "Tongyi Qianwen License", TC_LICENSE_RESTRICTED_USE,
     {"tongyi qianwen license agreement"},
     {"over 100 million monthly active users: a licence from Alibaba Cloud is required",
      "derived works must say \"Built with Qwen\" or similar"}},
    /* https://huggingface.co/Qwen/Qwen2.5-3B/blob/main/LICENSE (Qwen research licence) */
    {"qwen-research", NULL, "Qwen Research License", TC_LICENSE_NON_COMMERCIAL,
     {"qwen research license agreement"}, {"research and non-commercial use only"}},
    /* https://github.com/deepseek-ai/DeepSeek-LLM/blob/main/LICENSE-MODEL */
    {"deepseek", "deepseek-license", "DeepSeek License", TC_LICENSE_RESTRICTED_USE,
     {"deepseek license agreement"},
     {"use-based restrictions (Attachment A) apply and must be passed on"}},
    /* https://mistral.ai/licenses/MRL-0.1.md */
    {"mrl", "mistral-research", "Mistral AI Research License", TC_LICENSE_NON_COMMERCIAL,
     {"mistral ai research license"}, {"research and personal use only; no commercial use"}},
    /* https://huggingface.co/spaces/CompVis/stable-diffusion-license */
    {"creativeml-openrail-m", NULL, "CreativeML Open RAIL-M", TC_LICENSE_RESTRICTED_USE,
     {"creativeml open rail-m"},
     {"use-based restrictions (Attachment A) apply and must be passed on to recipients"}},
    /* https://huggingface.co/spaces/bigscience/license */
    {"bigscience-bloom-rail-1.0", NULL, "BigScience BLOOM RAIL 1.0", TC_LICENSE_RESTRICTED_USE,
     {"bigscience rail license"}, {"use-based restrictions apply and must be passed on"}},
    /* https://www.licenses.ai/blog/2022/8/26/bigscience-open-rail-m-license */
    {"bigscience-openrail-m", NULL, "BigScience OpenRAIL-M", TC_LICENSE_RESTRICTED_USE,
     {"bigscience open rail-m"}, {"use-based restrictions apply and must be passed on"}},
    /* https://www.bigcode-project.org/docs/pages/model-license/ */
    {"bigcode-openrail-m", NULL, "BigCode OpenRAIL-M", TC_LICENSE_RESTRICTED_USE,
     {"bigcode open rail-m"}, {"use-based restrictions apply and must be passed on"}},
    /* https://www.licenses.ai/ai-licenses (OpenRAIL family) */
    {"openrail", NULL, "Open RAIL", TC_LICENSE_RESTRICTED_USE, {NULL},
     {"use-based restrictions apply and must be passed on"}},
    {"openrail++", NULL, "Open RAIL++-M", TC_LICENSE_RESTRICTED_USE, {NULL},
     {"use-based restrictions apply and must be passed on"}},
    /* https://huggingface.co/tiiuae/falcon-40b/blob/main/LICENSE.txt (Falcon LLM licence 1.0) */
    {"falcon-llm-license", "tii-falcon-llm", "TII Falcon LLM License", TC_LICENSE_RESTRICTED_USE,
     {"tii falcon llm license"}, {"commercial use above a revenue threshold owes royalties to TII"}},
    /* https://falconllm.tii.ae/falcon-terms-and-conditions.html (Falcon 2/3: Apache 2.0 based) */
    {"falcon-license", "tii-falcon-license", "TII Falcon License", TC_LICENSE_RESTRICTED_USE,
     {"tii falcon license"}, {"Acceptable Use Policy applies"}},
    /* https://creativecommons.org/licenses/by-nd/4.0/legalcode */
    {"cc-by-nd-4.0", NULL, "Creative Commons Attribution-NoDerivatives 4.0",
     TC_LICENSE_RESTRICTED_USE, {"attribution-noderivatives 4.0 international"},
     {"no derivatives: sharing changed (e.g. quantized) versions is not allowed"}},

    /* https://creativecommons.org/licenses/by-nc/4.0/legalcode and the NC variants */
    {"cc-by-nc-4.0", NULL, "Creative Commons Attribution-NonCommercial 4.0",
     TC_LICENSE_NON_COMMERCIAL, {"attribution-noncommercial 4.0 international"},
     {"no commercial use", "attribution required"}},
    {"cc-by-nc-sa-4.0", NULL, "Creative Commons Attribution-NonCommercial-ShareAlike 4.0",
     TC_LICENSE_NON_COMMERCIAL, {"attribution-noncommercial-sharealike 4.0 international"},
     {"no commercial use", "adaptations must be shared under the same licence"}},
    {"cc-by-nc-nd-4.0", NULL, "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
     TC_LICENSE_NON_COMMERCIAL, {"attribution-noncommercial-noderivatives 4.0 international"},
     {"no commercial use", "no derivatives: sharing changed versions is not allowed"}},
    {"cc-by-nc-3.0", NULL, "Creative Commons Attribution-NonCommercial 3.0",
     TC_LICENSE_NON_COMMERCIAL, {NULL}, {"no commercial use"}},
    {"cc-by-nc-sa-3.0", NULL, "Creative Commons Attribution-NonCommercial-ShareAlike 3.0",
     TC_LICENSE_NON_COMMERCIAL, {NULL}, {"no commercial use"}},
    {"cc-by-nc-2.0", NULL, "Creative Commons Attribution-NonCommercial 2.0",
     TC_LICENSE_NON_COMMERCIAL, {NULL}, {"no commercial use"}},

    {"proprietary", NULL, "Proprietary", TC_LICENSE_PROPRIETARY, {NULL},
     {"all rights reserved unless a separate agreement says otherwise"}},
};
/* clang-format on */

#define N_LIC (sizeof lic_table / sizeof lic_table[0])

const char *tc_license_class_name(tc_license_class c)
{
    switch (c) {
    case TC_LICENSE_PERMISSIVE:
        return "permissive";
    case TC_LICENSE_COPYLEFT:
        return "copyleft";
    case TC_LICENSE_RESTRICTED_USE:
        return "restricted-use";
    case TC_LICENSE_NON_COMMERCIAL:
        return "non-commercial";
    case TC_LICENSE_PROPRIETARY:
        return "proprietary";
    case TC_LICENSE_UNKNOWN:
        break;
    }
    return "unknown";
}

int tc_license_class_from_name(const char *s)
{
    for (int c = 0; c <= TC_LICENSE_PROPRIETARY; c++)
        if (strcmp(s, tc_license_class_name((tc_license_class)c)) == 0)
            return c;
    return -1;
}

/* Case-insensitive equality ignoring surrounding spaces. */
static int id_eq(const char *a, const char *b)
{
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    while (n && a[n - 1] == ' ')
        n--;
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

static const lic_entry *lookup(const char *s)
{
    if (s == NULL || *s == '\0')
        return NULL;
    for (size_t i = 0; i < N_LIC; i++)
        if (id_eq(s, lic_table[i].id) || (lic_table[i].alias && id_eq(s, lic_table[i].alias)) ||
            id_eq(s, lic_table[i].name))
            return &lic_table[i];
    return NULL;
}

static void fill(const lic_entry *le, tc_license_facts *out)
{
    out->id = le->id;
    out->name = le->name;
    out->cls = le->cls;
    size_t k = 0;
    for (size_t i = 0; i < 4 && le->notes[i]; i++)
        out->notes[k++] = le->notes[i];
    out->notes[k] = NULL;
}

void tc_license_classify(const char *id, const char *name, tc_license_facts *out)
{
    memset(out, 0, sizeof *out);
    out->cls = TC_LICENSE_UNKNOWN;
    const lic_entry *le = NULL;
    /* "other" / "unknown" ids say nothing: the name decides (license_name on the Hub) */
    if (id && !id_eq(id, "other") && !id_eq(id, "unknown")) {
        le = lookup(id);
        if (le == NULL && strchr(id, ',') == NULL) {
            /* a name's text title may be given as the id, e.g. "Llama 3.1 Community License" */
            const char *t = tc_license_identify_text(id, strlen(id));
            le = t ? lookup(t) : NULL;
        }
    }
    if (le == NULL && name) {
        le = lookup(name);
        if (le == NULL) {
            const char *t = tc_license_identify_text(name, strlen(name));
            le = t ? lookup(t) : NULL;
        }
    }
    if (le)
        fill(le, out);
}

/* Lower-case `s[0..n)` into dst with every run of white space as one space (at most cap-1
 * bytes); returns the length. */
static size_t normalise(const char *s, size_t n, char *dst, size_t cap)
{
    size_t k = 0;
    int space = 1;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isspace(c)) {
            if (!space)
                dst[k++] = ' ';
            space = 1;
            continue;
        }
        dst[k++] = (char)tolower(c);
        space = 0;
    }
    dst[k] = 0;
    return k;
}

#define TITLE_SCAN (32u << 10) /* normalised bytes of a licence text looked at */
#define TITLE_HEAD 1200u       /* where its heading must start */

const char *tc_license_identify_text(const char *text, size_t n)
{
    if (text == NULL)
        return NULL;
    char *buf = tc_malloc(TITLE_SCAN + 1);
    if (buf == NULL)
        return NULL;
    normalise(text, n, buf, TITLE_SCAN + 1);
    /* A licence text names itself in its heading: the first phrase must occur near the top
     * (the GPL's last paragraph names the Lesser GPL, which must not make it one); the others
     * anywhere in the scanned part. The table lists the more specific text of a family first
     * (BSD-3 before BSD-2). */
    size_t head = strlen(buf) < TITLE_HEAD ? strlen(buf) : TITLE_HEAD;
    const char *found = NULL;
    for (size_t i = 0; i < N_LIC && !found; i++) {
        const lic_entry *le = &lic_table[i];
        if (le->title[0] == NULL)
            continue;
        const char *t0 = strstr(buf, le->title[0]);
        int all = t0 != NULL && (size_t)(t0 - buf) < head;
        for (size_t k = 1; k < 3 && le->title[k] && all; k++)
            all = strstr(buf, le->title[k]) != NULL;
        if (all)
            found = le->id;
    }
    tc_free(buf);
    return found;
}
