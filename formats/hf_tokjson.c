/*
 * hf_tokjson.c - tokenizer.json with its two big members kept compact.
 *
 * A byte-level BPE tokenizer.json is mostly model.vocab (token -> id, ~150k entries) and
 * model.merges (~150k pairs). As a jansson tree they cost two allocations per entry and most of
 * a conversion's time, so they are read here into tc_hf_strs tables instead: the bytes are
 * scanned once for the values of the top-level "model" object's "vocab" and "merges" members,
 * those two values are parsed here, and json_loadb() reads the rest of the document with them
 * replaced by {} and []. The tree keeps the small members (model.type, added_tokens, the
 * normalizer, pre-tokenizer, post-processor...) for the code that reads them.
 *
 * The result must be what json_load_file(JSON_REJECT_DUPLICATES) would give (tc_hf_json_load):
 * - The spans are parsed strictly, as jansson's lexer does: strings with every escape (\uXXXX
 *   with surrogate pairs), no control characters, valid UTF-8 only, no \u0000; vocab values
 *   plain integers that fit int64; no duplicate vocab key. The bytes outside the spans are
 *   checked by jansson itself. Valid values substituted for valid values keep the document
 *   valid, so the two parts together accept exactly what jansson accepts.
 * - Anything else in a span (a real or a string as an id, a duplicate key, a merge that is
 *   neither "a b" nor [a, b], a too-big integer, a syntax error), and any failure of the rest,
 *   sends the whole file through jansson as before: its tree gives the tables
 *   (tc_hf_tok_from_json) and its error gives the message, byte for byte the old one.
 * - Entries stay in file order, which is jansson's json_object_foreach order.
 */
#include "hf.h"
#include "tc_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* what the fast path answers besides a tc_status */
#define TJ_NOT_FAST (-1)

/* ===== string tables ===== */

static int strs_init(tc_hf_strs *s)
{
    memset(s, 0, sizeof *s);
    s->cap_n = 1024;
    s->cap = 16384;
    s->off = tc_malloc(s->cap_n * sizeof *s->off);
    s->arena = tc_malloc(s->cap);
    if (s->off == NULL || s->arena == NULL)
        return -1;
    s->off[0] = 0;
    return 0;
}

static void strs_free(tc_hf_strs *s)
{
    tc_free(s->arena);
    tc_free(s->off);
    memset(s, 0, sizeof *s);
}

/* Room for one more string of up to `bytes` bytes plus its NUL. 0, or -1 when out of memory or
 * over the 4 GiB that uint32_t offsets address (a 512 MiB file makes at most 1 GiB). */
static int strs_room(tc_hf_strs *s, size_t bytes)
{
    if (s->n + 2 > s->cap_n) {
        size_t nc = s->cap_n * 2;
        uint32_t *no = tc_realloc(s->off, nc * sizeof *no);
        if (no == NULL)
            return -1;
        s->off = no;
        s->cap_n = nc;
    }
    if (bytes >= UINT32_MAX - s->len)
        return -1;
    if (s->len + bytes + 1 > s->cap) {
        size_t nc = s->cap * 2 > s->len + bytes + 1 ? s->cap * 2 : s->len + bytes + 1;
        char *na = tc_realloc(s->arena, nc);
        if (na == NULL)
            return -1;
        s->arena = na;
        s->cap = nc;
    }
    return 0;
}

/* An arena of at least `bytes` bytes, allocated up front: growing it by realloc would copy it
 * and fault its pages in again; pages never written are never faulted in at all. */
static int strs_reserve(tc_hf_strs *s, size_t bytes)
{
    if (bytes <= s->cap)
        return 0;
    char *na = tc_realloc(s->arena, bytes);
    if (na == NULL)
        return -1;
    s->arena = na;
    s->cap = bytes;
    return 0;
}

/* End the string written at arena[off[n] .. len). */
static void strs_close(tc_hf_strs *s)
{
    s->arena[s->len++] = 0;
    s->off[++s->n] = (uint32_t)s->len;
}

static int strs_add(tc_hf_strs *s, const char *p, size_t n)
{
    if (strs_room(s, n) != 0)
        return -1;
    memcpy(s->arena + s->len, p, n);
    s->len += n;
    strs_close(s);
    return 0;
}

/* ===== hash index ===== */

/* A slot is hash << 32 | (entry + 1), 0 when empty; the table is at most 3/4 full. The stored
 * hash spares most string compares and lets the table grow without hashing strings again. */

static uint32_t ix_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* Slot holding p[0..n) (hash h), or the empty slot where it would go. */
static size_t ix_slot(const tc_hf_index *ix, const tc_hf_strs *s, const char *p, size_t n,
                      uint32_t h)
{
    size_t m = ix->nslot - 1, i = h & m;
    for (uint64_t v; (v = ix->slot[i]) != 0; i = (i + 1) & m) {
        size_t k = (uint32_t)v - 1;
        if ((uint32_t)(v >> 32) == h && tc_hf_str_len(s, k) == n &&
            memcmp(tc_hf_str(s, k), p, n) == 0)
            break;
    }
    return i;
}

/* Room for `n` entries: the table doubled (rehashed from the stored hashes) while too small. */
static int ix_room(tc_hf_index *ix, size_t n)
{
    if (n <= ix->nslot / 4 * 3)
        return 0;
    size_t ns = ix->nslot ? ix->nslot * 2 : 1024;
    while (n > ns / 4 * 3)
        ns *= 2;
    if (ns > ((size_t)1 << 32))
        return -1;
    uint64_t *sl = tc_malloc(ns * sizeof *sl);
    if (sl == NULL)
        return -1;
    /* written before it is read: calloc's zero pages would fault twice (read, then copy) */
    memset(sl, 0, ns * sizeof *sl);
    for (size_t i = 0; i < ix->nslot; i++) {
        uint64_t v = ix->slot[i];
        size_t at = (size_t)(v >> 32) & (ns - 1);
        while (v != 0 && sl[at] != 0)
            at = (at + 1) & (ns - 1);
        if (v != 0)
            sl[at] = v;
    }
    tc_free(ix->slot);
    ix->slot = sl;
    ix->nslot = ns;
    return 0;
}

/* Add entry `i` of `s`: 0 added, 1 an equal string is in already, -1 out of memory. */
static int ix_add(tc_hf_index *ix, const tc_hf_strs *s, size_t i)
{
    if (i >= UINT32_MAX - 1 || ix_room(ix, i + 1) != 0)
        return -1;
    const char *p = tc_hf_str(s, i);
    size_t n = tc_hf_str_len(s, i);
    uint32_t h = ix_hash(p, n);
    size_t at = ix_slot(ix, s, p, n, h);
    if (ix->slot[at] != 0)
        return 1;
    ix->slot[at] = (uint64_t)h << 32 | (uint32_t)(i + 1);
    return 0;
}

/* tc_hf_index_build; *dup (may be NULL) gets 1 when two strings are equal. */
static int ix_build(tc_hf_index *ix, const tc_hf_strs *s, int *dup)
{
    memset(ix, 0, sizeof *ix);
    if (s->n && ix_room(ix, s->n) != 0)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        int r = ix_add(ix, s, i);
        if (r < 0) {
            tc_hf_index_free(ix);
            return -1;
        }
        if (r > 0 && dup)
            *dup = 1;
    }
    return 0;
}

int tc_hf_index_build(tc_hf_index *ix, const tc_hf_strs *s)
{
    return ix_build(ix, s, NULL);
}

long tc_hf_index_find(const tc_hf_index *ix, const tc_hf_strs *s, const char *p, size_t n)
{
    if (ix->nslot == 0)
        return -1;
    uint64_t v = ix->slot[ix_slot(ix, s, p, n, ix_hash(p, n))];
    return v ? (long)(uint32_t)v - 1 : -1;
}
void tc_hf_index_free(tc_hf_index *ix)
{
    tc_free(ix->slot);
    memset(ix, 0, sizeof *ix);
}

long tc_hf_tok_vocab_find(const tc_hf_tok *t, const char *s, size_t n)
{
    return t->vocab_kind == TC_HF_HELD ? tc_hf_index_find(&t->vocab_ix, &t->vocab, s, n) : -1;
}

/* ===== the tables ===== */

static tc_hf_tok *tok_new(void)
{
    tc_hf_tok *t = tc_calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if (strs_init(&t->vocab) != 0 || strs_init(&t->merges) != 0) {
        tc_hf_tok_free(t);
        return NULL;
    }
    return t;
}

void tc_hf_tok_free(tc_hf_tok *t)
{
    if (t == NULL)
        return;
    json_decref(t->doc);
    strs_free(&t->vocab);
    tc_free(t->vocab_id);
    tc_hf_index_free(&t->vocab_ix);
    strs_free(&t->merges);
    tc_free(t);
}

/* Room for `need` vocab ids. */
static int ids_room(tc_hf_tok *t, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 1024;
    int64_t *ni = tc_realloc(t->vocab_id, nc * sizeof *ni);
    if (ni == NULL)
        return -1;
    t->vocab_id = ni;
    *cap = nc;
    return 0;
}

/* Write a[0..n) at w with each space turned into U+0120 (gguf-py's merges of [a, b] pairs). */
static char *put_part(char *w, const char *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == ' ') {
            *w++ = (char)0xc4;
            *w++ = (char)0xa0;
        } else {
            *w++ = a[i];
        }
    }
    return w;
}

/* One element of model.merges into the table: 1 held, 0 neither "a b" nor [a, b] (an empty
 * string is held in its place), -1 out of memory. */
static int merge_from_json(tc_hf_strs *s, const json_t *x)
{
    if (json_is_string(x))
        return strs_add(s, json_string_value(x), strlen(json_string_value(x))) ? -1 : 1;
    if (!(json_is_array(x) && json_array_size(x) == 2 && json_is_string(json_array_get(x, 0)) &&
          json_is_string(json_array_get(x, 1))))
        return strs_add(s, "", 0) ? -1 : 0;
    const char *a = json_string_value(json_array_get(x, 0));
    const char *b = json_string_value(json_array_get(x, 1));
    size_t la = strlen(a), lb = strlen(b), n = la + lb + 1;
    for (const char *c = a; *c; c++)
        n += *c == ' ';
    for (const char *c = b; *c; c++)
        n += *c == ' ';
    if (strs_room(s, n) != 0)
        return -1;
    char *w = put_part(s->arena + s->len, a, la);
    *w++ = ' ';
    w = put_part(w, b, lb);
    s->len += n;
    strs_close(s);
    return 1;
}

/* Fill t's tables from t->doc; with `strip`, the held members become {} / [] in the tree. */
static tc_status tok_from_tree(tc_hf_tok *t, int strip, tc_err *e)
{
    json_t *model = json_object_get(t->doc, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    t->vocab_kind = !vocab ? TC_HF_ABSENT : json_is_object(vocab) ? TC_HF_HELD : TC_HF_OTHER;
    t->merges_kind = !merges ? TC_HF_ABSENT : json_is_array(merges) ? TC_HF_HELD : TC_HF_OTHER;
    size_t cap = 0;
    const char *k;
    json_t *v;
    t->vocab_nonint = SIZE_MAX;
    if (t->vocab_kind == TC_HF_HELD)
        json_object_foreach(vocab, k, v)
        {
            if (ids_room(t, &cap, t->vocab.n + 1) != 0 || strs_add(&t->vocab, k, strlen(k)) != 0)
                return tc_err_nomem(e);
            t->vocab_id[t->vocab.n - 1] = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
            if (!json_is_integer(v) && t->vocab_nonint == SIZE_MAX)
                t->vocab_nonint = t->vocab.n - 1;
        }
    if (t->vocab_nonint == SIZE_MAX)
        t->vocab_nonint = t->vocab.n;
    if (ix_build(&t->vocab_ix, &t->vocab, NULL) != 0)
        return tc_err_nomem(e);
    t->merges_bad = SIZE_MAX;
    for (size_t i = 0; t->merges_kind == TC_HF_HELD && i < json_array_size(merges); i++) {
        int r = merge_from_json(&t->merges, json_array_get(merges, i));
        if (r < 0)
            return tc_err_nomem(e);
        if (r == 0 && t->merges_bad == SIZE_MAX)
            t->merges_bad = i;
    }
    if (t->merges_bad == SIZE_MAX)
        t->merges_bad = t->merges.n;
    if (strip && t->vocab_kind == TC_HF_HELD && json_object_set_new(model, "vocab", json_object()))
        return tc_err_nomem(e);
    if (strip && t->merges_kind == TC_HF_HELD && json_object_set_new(model, "merges", json_array()))
        return tc_err_nomem(e);
    return TC_OK;
}

tc_status tc_hf_tok_from_json(json_t *doc, tc_hf_tok **out, tc_err *e)
{
    *out = NULL;
    tc_hf_tok *t = tok_new();
    if (t == NULL)
        return tc_err_nomem(e);
    t->doc = json_incref(doc);
    tc_status rc = tok_from_tree(t, 0, e);
    if (rc != TC_OK) {
        tc_hf_tok_free(t);
        return rc;
    }
    *out = t;
    return TC_OK;
}

/* ===== the compact reader ===== */

static const char *tj_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The closing quote of the string whose text starts at p, or NULL when the input ends first.
 * Escapes are stepped over, not checked. */
static const char *tj_str_end(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '"')
            return p;
        p += *p == '\\' ? 2 : 1;
    }
    return NULL;
}

static int tj_hex(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1, p[0] >= 0x80), or 0. jansson's
 * utf8_check_first/utf8_check_full: no overlongs, no surrogates, at most U+10FFFF. */
static size_t tj_utf8(const uint8_t *p, size_t n)
{
    size_t k = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    if (k == 0 || n < k)
        return 0;
    uint32_t cp = p[0] & (k == 2 ? 0x1f : k == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (k == 2 && cp < 0x80) ||
        (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000))
        return 0;
    return k;
}

/*
 * Decode the text of a JSON string, r[0..n) between its quotes, into dst (room for n bytes: no
 * escape decodes longer than it is written) as jansson's lex_scan_string does. Returns the
 * decoded length, or -1 where jansson refuses the string: a control character, an unknown
 * escape, a \u without four hex digits, a lone or unpaired surrogate, invalid UTF-8, or a NUL
 * (\u0000: "not allowed without JSON_ALLOW_NUL" in values, "NUL byte in object key" in keys).
 */
static long tj_decode(const char *r, size_t n, char *dst)
{
    const uint8_t *p = (const uint8_t *)r, *end = p + n;
    char *w = dst;
    while (p < end) {
        const uint8_t *q = p;
        while (q < end && *q >= 0x20 && *q < 0x80 && *q != '\\')
            q++;
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        p = q;
        if (p == end)
            break;
        if (*p < 0x20)
            return -1;
        if (*p >= 0x80) {
            size_t k = tj_utf8(p, (size_t)(end - p));
            if (k == 0)
                return -1;
            memcpy(w, p, k);
            w += k;
            p += k;
            continue;
        }
        /* a backslash */
        if (end - p < 2)
            return -1;
        char c = (char)p[1];
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c != 0 && simple != NULL) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            *w++ = to[simple - "\"\\/bfnrt"];
            p += 2;
            continue;
        }
        uint32_t cp, lo;
        if (c != 'u' || end - p < 6 || tj_hex((const char *)p + 2, &cp) != 0)
            return -1;
        p += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                tj_hex((const char *)p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                return -1;
            p += 6;
            cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
        } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
            return -1;
        }
        if (cp < 0x80) {
            *w++ = (char)cp;
        } else if (cp < 0x800) {
            *w++ = (char)(0xc0 | cp >> 6);
            *w++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *w++ = (char)(0xe0 | cp >> 12);
            *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
            *w++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *w++ = (char)(0xf0 | cp >> 18);
            *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
            *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
            *w++ = (char)(0x80 | (cp & 0x3f));
        }
    }
    return (long)(w - dst);
}

/* The string at *pp (its opening quote) appended to the open string of `s`, spaces as U+0120
 * when `part`. 0 with *pp past the closing quote, TJ_NOT_FAST, or -2 out of memory. */
static int tj_string(tc_hf_strs *s, const char **pp, const char *end, int part)
{
    const char *p = *pp;
    if (p == end || *p != '"')
        return TJ_NOT_FAST;
    const char *q = tj_str_end(p + 1, end);
    if (q == NULL)
        return TJ_NOT_FAST;
    /* room for the decoded text (never longer than raw, twice that with U+0120s), the NUL and
     * a pair's separating space */
    size_t raw = (size_t)(q - p - 1);
    if (strs_room(s, raw * (part ? 2 : 1) + 1) != 0)
        return -2;
    char *w = s->arena + s->len;
    long n = tj_decode(p + 1, raw, w);
    if (n < 0)
        return TJ_NOT_FAST;
    long sp = 0;
    for (long i = 0; part && i < n; i++)
        sp += w[i] == ' ';
    /* spaces -> U+0120 in place from the back (room for 2 * raw bytes was made) */
    for (long i = n - 1, o = n + sp - 1; o > i; i--) {
        if (w[i] == ' ') {
            w[o--] = (char)0xa0;
            w[o--] = (char)0xc4;
        } else {
            w[o--] = w[i];
        }
    }
    s->len += (size_t)(n + sp);
    *pp = q + 1;
    return 0;
}

/* A JSON integer (jansson: -?(0|[1-9][0-9]*), strtoll range) at *pp that a ',' '}' or
 * whitespace ends. TJ_NOT_FAST for anything else, reals and too-big integers included. */
static int tj_int(const char **pp, const char *end, int64_t *v)
{
    const char *p = *pp;
    int neg = p < end && *p == '-';
    p += neg;
    if (p == end || *p < '0' || *p > '9')
        return TJ_NOT_FAST;
    uint64_t m = 0;
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (m > (UINT64_MAX - 9) / 10)
                return TJ_NOT_FAST;
            m = m * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
        return TJ_NOT_FAST;
    if (m > (uint64_t)INT64_MAX + (uint64_t)neg)
        return TJ_NOT_FAST;
    *v = neg ? (int64_t)(0 - m) : (int64_t)m;
    *pp = p;
    return 0;
}

/* model.vocab at *pp (its '{'): every entry a string key and an integer value, no key twice. */
static int tj_vocab(tc_hf_tok *t, const char **pp, const char *end)
{
    const char *p = tj_ws(*pp + 1, end);
    size_t cap = 0;
    /* the keys decode to fewer bytes than the rest of the file holds */
    if (strs_reserve(&t->vocab, (size_t)(end - p) + 1) != 0)
        return -2;
    if (p < end && *p == '}') {
        *pp = p + 1;
        return 0;
    }
    for (;;) {
        int r = tj_string(&t->vocab, &p, end, 0);
        if (r != 0)
            return r;
        strs_close(&t->vocab);
        if (ids_room(t, &cap, t->vocab.n) != 0)
            return -2;
        p = tj_ws(p, end);
        if (p == end || *p != ':')
            return TJ_NOT_FAST;
        p = tj_ws(p + 1, end);
        if (tj_int(&p, end, &t->vocab_id[t->vocab.n - 1]) != 0)
            return TJ_NOT_FAST;
        p = tj_ws(p, end);
        if (p < end && *p == ',') {
            p = tj_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            break;
        return TJ_NOT_FAST;
    }
    *pp = p + 1;
    /* indexed once the size is known; a duplicate key is jansson's to report */
    int dup = 0;
    if (ix_build(&t->vocab_ix, &t->vocab, &dup) != 0)
        return -2;
    return dup ? TJ_NOT_FAST : 0;
}

/* model.merges at *pp (its '['): every element "a b" or ["a", "b"]. */
static int tj_merges(tc_hf_tok *t, const char **pp, const char *end)
{
    tc_hf_strs *s = &t->merges;
    const char *p = tj_ws(*pp + 1, end);
    /* enough unless pairs hold many spaces (each then takes two bytes) */
    if (strs_reserve(s, (size_t)(end - p) + 1) != 0)
        return -2;
    if (p < end && *p == ']') {
        *pp = p + 1;
        return 0;
    }
    for (;;) {
        int r;
        if (p < end && *p == '[') {
            p = tj_ws(p + 1, end);
            if ((r = tj_string(s, &p, end, 1)) != 0)
                return r;
            p = tj_ws(p, end);
            if (p == end || *p != ',')
                return TJ_NOT_FAST;
            p = tj_ws(p + 1, end);
            s->arena[s->len++] = ' '; /* tj_string left room for its NUL */
            if ((r = tj_string(s, &p, end, 1)) != 0)
                return r;
            p = tj_ws(p, end);
            if (p == end || *p != ']')
                return TJ_NOT_FAST;
            p++;
        } else if ((r = tj_string(s, &p, end, 0)) != 0) {
            return r;
        }
        strs_close(s);
        p = tj_ws(p, end);
        if (p < end && *p == ',') {
            p = tj_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            *pp = p + 1;
            return 0;
        }
        return TJ_NOT_FAST;
    }
}

/* Step over the value at p without checking it (jansson checks it later): the end, or NULL. */
static const char *tj_skip(const char *p, const char *end)
{
    if (p == end)
        return NULL;
    if (*p == '"') {
        const char *q = tj_str_end(p + 1, end);
        return q ? q + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                const char *q = tj_str_end(p + 1, end);
                if (q == NULL)
                    return NULL;
                p = q + 1;
                continue;
            }
            p++;
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p;
        }
        return NULL;
    }
    const char *q = p;
    while (q < end && !strchr(",}] \t\r\n", *q))
        q++;
    return q > p ? q : NULL;
}

/* The key at *pp: 1 when it decodes to `name`, else 0; *pp past its closing quote. -1 when it is
 * not a string. */
static int tj_key_is(const char **pp, const char *end, const char *name)
{
    const char *p = *pp;
    if (p == end || *p != '"')
        return -1;
    const char *q = tj_str_end(p + 1, end);
    if (q == NULL)
        return -1;
    *pp = q + 1;
    size_t raw = (size_t)(q - p - 1), n = strlen(name);
    char buf[64];
    if (raw >= sizeof buf)
        return 0;
    long k = tj_decode(p + 1, raw, buf);
    return k == (long)n && memcmp(buf, name, n) == 0;
}

typedef struct tj_span {
    size_t a, b; /* the value's bytes */
    const char *with;
} tj_span;

/*
 * Find model.vocab (an object) and model.merges (a list) in b[0..n) and parse them into t's
 * tables; sp[] gets their spans (sp[i].with NULL when absent). 0 when done, TJ_NOT_FAST, or -2
 * out of memory. Only the top-level object and "model" are walked; anything odd is
 * TJ_NOT_FAST, and jansson judges the rest.
 */
static int tj_locate(tc_hf_tok *t, const char *b, size_t n, tj_span sp[2])
{
    const char *end = b + n, *p = tj_ws(b, end);
    memset(sp, 0, 2 * sizeof *sp);
    if (p == end || *p != '{')
        return TJ_NOT_FAST;
    p = tj_ws(p + 1, end);
    if (p < end && *p == '}')
        return 0;
    for (;;) {
        int is_model = tj_key_is(&p, end, "model");
        if (is_model < 0)
            return TJ_NOT_FAST;
        p = tj_ws(p, end);
        if (p == end || *p != ':')
            return TJ_NOT_FAST;
        p = tj_ws(p + 1, end);
        if (is_model && p < end && *p == '{') {
            if (sp[0].with || sp[1].with)
                return TJ_NOT_FAST; /* a second "model": jansson refuses it */
            p = tj_ws(p + 1, end);
            while (p < end && *p != '}') {
                const char *k = p;
                int is_vocab = tj_key_is(&p, end, "vocab"), is_merges = 0;
                if (is_vocab < 0 || (!is_vocab && (is_merges = tj_key_is(&k, end, "merges")) < 0))
                    return TJ_NOT_FAST;
                p = tj_ws(p, end);
                if (p == end || *p != ':')
                    return TJ_NOT_FAST;
                p = tj_ws(p + 1, end);
                const char *v = p;
                int r;
                if (is_vocab && p < end && *p == '{') {
                    if (sp[0].with)
                        return TJ_NOT_FAST;
                    if ((r = tj_vocab(t, &p, end)) != 0)
                        return r;
                    sp[0] = (tj_span){(size_t)(v - b), (size_t)(p - b), "{}"};
                } else if (is_merges && p < end && *p == '[') {
                    if (sp[1].with)
                        return TJ_NOT_FAST;
                    if ((r = tj_merges(t, &p, end)) != 0)
                        return r;
                    sp[1] = (tj_span){(size_t)(v - b), (size_t)(p - b), "[]"};
                } else if ((p = tj_skip(p, end)) == NULL) {
                    return TJ_NOT_FAST;
                }
                p = tj_ws(p, end);
                if (p < end && *p == ',')
                    p = tj_ws(p + 1, end);
                else if (p == end || *p != '}')
                    return TJ_NOT_FAST;
            }
            if (p == end)
                return TJ_NOT_FAST;
            p++;
        } else if ((p = tj_skip(p, end)) == NULL) {
            return TJ_NOT_FAST;
        }
        p = tj_ws(p, end);
        if (p < end && *p == ',') {
            p = tj_ws(p + 1, end);
            continue;
        }
        return p < end && *p == '}' ? 0 : TJ_NOT_FAST;
    }
}

/* The compact reader: TC_OK with t filled, TJ_NOT_FAST (t to be reset), or a tc_status. */
static int tj_fast(tc_hf_tok *t, const char *b, size_t n, tc_err *e)
{
    tj_span sp[2];
    int r = tj_locate(t, b, n, sp);
    if (r == -2)
        return tc_err_nomem(e);
    int hv = sp[0].with != NULL, hm = sp[1].with != NULL;
    if (r != 0 || (!hv && !hm))
        return TJ_NOT_FAST; /* nothing big to keep apart: jansson reads it all */
    if (sp[0].with && sp[1].with && sp[1].a < sp[0].a) {
        tj_span x = sp[0];
        sp[0] = sp[1];
        sp[1] = x;
    }
    size_t cut = 0;
    for (int i = 0; i < 2; i++)
        cut += sp[i].with ? sp[i].b - sp[i].a - 2 : 0;
    char *rest = tc_malloc(n - cut + 1), *w = rest;
    if (rest == NULL)
        return tc_err_nomem(e);
    size_t at = 0;
    for (int i = 0; i < 2; i++) {
        if (!sp[i].with)
            continue;
        memcpy(w, b + at, sp[i].a - at);
        w += sp[i].a - at;
        memcpy(w, sp[i].with, 2);
        w += 2;
        at = sp[i].b;
    }
    memcpy(w, b + at, n - at);
    w += n - at;
    json_error_t je;
    t->doc = json_loadb(rest, (size_t)(w - rest), JSON_REJECT_DUPLICATES, &je);
    tc_free(rest);
    if (t->doc == NULL)
        return TJ_NOT_FAST;
    /* what is not held here is in the tree: absent or of another type */
    json_t *model = json_object_get(t->doc, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    t->vocab_kind = hv ? TC_HF_HELD : vocab ? TC_HF_OTHER : TC_HF_ABSENT;
    t->merges_kind = hm ? TC_HF_HELD : merges ? TC_HF_OTHER : TC_HF_ABSENT;
    /* the placeholders must be where the tree has them (they are, unless the walk above and
     * jansson disagree about the document: then jansson reads it all) */
    if ((hv && !(json_is_object(vocab) && json_object_size(vocab) == 0)) ||
        (!hv && json_is_object(vocab)) ||
        (hm && !(json_is_array(merges) && json_array_size(merges) == 0)) ||
        (!hm && json_is_array(merges)))
        return TJ_NOT_FAST;
    t->vocab_nonint = t->vocab.n;
    t->merges_bad = t->merges.n;
    t->fast = 1;
    return TC_OK;
}

tc_status tc_hf_tok_parse(const char *b, size_t n, const char *path, tc_hf_tok **out, tc_err *e)
{
    *out = NULL;
    tc_hf_tok *t = tok_new();
    if (t == NULL)
        return tc_err_nomem(e);
    int r = tj_fast(t, b, n, e);
    if (r == TJ_NOT_FAST) {
        /* jansson reads it all, exactly as tc_hf_json_load does */
        tc_hf_tok_free(t);
        if ((t = tok_new()) == NULL)
            return tc_err_nomem(e);
        json_error_t je;
        t->doc = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
        if (t->doc == NULL && strstr(je.text, "too big integer"))
            /* model_max_length = 1e30 and the like: integers as doubles then */
            t->doc = json_loadb(b, n, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
        if (t->doc == NULL)
            r = tc_err_set(e, TC_E_FORMAT, "%s: line %d column %d: %s", path, je.line, je.column,
                           je.text);
        else if (!json_is_object(t->doc))
            r = tc_err_set(e, TC_E_FORMAT, "%s: not a JSON object", path);
        else
            r = tok_from_tree(t, 1, e);
    }
    if (r != TC_OK) {
        tc_hf_tok_free(t);
        return (tc_status)r;
    }
    *out = t;
    return TC_OK;
}

tc_status tc_hf_tok_load(const char *dir, const char *name, size_t cap, int optional,
                         tc_hf_tok **out, tc_err *e)
{
    *out = NULL;
    char *p = tc_path_join(dir, name);
    if (p == NULL)
        return tc_err_nomem(e);
    struct stat st;
    tc_status rc = TC_OK;
    int fd = -1;
    char *map = NULL;
    size_t len = 0;
    if (stat(p, &st) != 0) {
        if (!optional)
            rc = tc_err_set(e, TC_E_FORMAT, "%s: missing", p);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: not a regular file", p);
        goto out;
    }
    if ((uint64_t)st.st_size > cap) {
        rc = tc_err_set(e, TC_E_LIMIT, "%s: %lld bytes, over the cap of %zu", p,
                        (long long)st.st_size, cap);
        goto out;
    }
    /* jansson's json_load_file message when the file cannot be opened */
    if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: line -1 column -1: unable to open %s: %s", p, p,
                        strerror(errno));
        goto out;
    }
    /* mapped, page tables filled up front: page faults are what reading 10+ MB costs */
    struct stat fst;
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || (uint64_t)fst.st_size > cap) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: changed while being read", p);
        goto out;
    }
    len = (size_t)fst.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = tc_err_set(e, TC_E_FORMAT, "%s: line -1 column -1: unable to map %s: %s", p, p,
                            strerror(errno));
            goto out;
        }
    }
    rc = tc_hf_tok_parse(map ? map : "", len, p, out, e);
out:
    if (map)
        munmap(map, len);
    if (fd >= 0)
        close(fd);
    tc_free(p);
    return rc;
}
