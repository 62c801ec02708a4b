/*
 * store.c - downloads as they sit on disk, checked against the digests their stores record:
 *
 *   Hugging Face cache  ~/.cache/huggingface/hub/models--ORG--NAME/{blobs,snapshots,refs}: each
 *                       snapshots/REV/FILE is a link into blobs/, whose name is the file's
 *                       identity (64 hex: SHA-256 of an LFS file; 40 hex: the git blob SHA-1,
 *                       "blob <size>\0" + content, of a small one).
 *   HF local dir        `huggingface-cli download --local-dir D`: D/.cache/huggingface/download/
 *                       FILE.metadata holds (commit, etag, timestamp); the etag is that digest.
 *   ollama              ~/.ollama/models/manifests/REGISTRY/NS/MODEL/TAG (JSON) lists layers by
 *                       "sha256:HEX" digest and size; blobs/sha256-HEX holds each.
 *
 * Files are hashed streaming (pread in 4 MiB chunks, OpenSSL's SHA code), several at once.
 */
#include "tc_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX_FILES    100000     /* entries in one snapshot / manifest */
#define STORE_MAX_DEPTH    16         /* directory nesting inside a snapshot */
#define STORE_MAX_MANIFEST (1u << 20) /* bytes of an ollama manifest / HF metadata file */
#define HASH_CHUNK         (4u << 20)

struct tc_store {
    tc_store_kind kind;
    char *root;         /* snapshot dir, local dir or ollama models dir */
    char *model;        /* ollama: the model layer's blob; else NULL */
    char *license_text; /* ollama: the licence layer's text (capped), else NULL */
    tc_store_entry *e;
    size_t n, cap;
};

const char *tc_store_kind_name(tc_store_kind k)
{
    switch (k) {
    case TC_STORE_HF_CACHE:
        return "hf-cache";
    case TC_STORE_HF_LOCAL_DIR:
        return "hf-local-dir";
    case TC_STORE_OLLAMA:
        return "ollama";
    case TC_STORE_NONE:
        break;
    }
    return "none";
}

const char *tc_store_status_name(int s)
{
    switch (s) {
    case TC_STORE_OK:
        return "ok";
    case TC_STORE_MISMATCH:
        return "digest mismatch";
    case TC_STORE_MISSING:
        return "missing";
    case TC_STORE_DANGLING:
        return "dangling link";
    case TC_STORE_SIZE:
        return "size mismatch";
    case TC_STORE_UNRECORDED:
        return "no recorded digest";
    case TC_STORE_IOERR:
        return "read error";
    }
    return "unchecked";
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int dir_has(const char *dir, const char *name, int want_dir)
{
    char *p = tc_path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    tc_free(p);
    return ok;
}

/* The HF cache repository directory holding `path` (itself, or two/three levels up from a
 * snapshot or a file in one), or NULL. */
static char *hf_repo_of(const char *path, char **snapshot)
{
    char buf[PATH_MAX];
    *snapshot = NULL;
    if (strlen(path) >= sizeof buf)
        return NULL;
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = 0;
    if (tc_is_dir(buf) && dir_has(buf, "blobs", 1) && dir_has(buf, "snapshots", 1))
        return tc_strdup(buf);
    /* walk up looking for ".../snapshots/REV" with blobs/ beside snapshots/ */
    for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
        char *cut = slash;
        *cut = 0;
        const char *base = tc_path_base(buf);
        if (strcmp(base, "snapshots") == 0) {
            char *repo = tc_path_dir(buf);
            if (repo && dir_has(repo, "blobs", 1)) {
                *cut = '/';
                char *rev_end = strchr(cut + 1, '/');
                if (rev_end)
                    *rev_end = 0;
                *snapshot = tc_strdup(buf);
                return repo;
            }
            tc_free(repo);
            return NULL;
        }
    }
    return NULL;
}

tc_store_kind tc_store_detect(const char *path)
{
    char *snap = NULL, *repo = hf_repo_of(path, &snap);
    tc_free(snap);
    if (repo) {
        tc_free(repo);
        return TC_STORE_HF_CACHE;
    }
    if (tc_is_dir(path)) {
        char *dl = tc_path_join(path, ".cache/huggingface/download");
        int local = dl && tc_is_dir(dl);
        tc_free(dl);
        return local ? TC_STORE_HF_LOCAL_DIR : TC_STORE_NONE;
    }
    /* an ollama manifest: a file under .../manifests/ */
    return strstr(path, "manifests/") ? TC_STORE_OLLAMA : TC_STORE_NONE;
}

static tc_status add_entry(tc_store *s, const char *file, const char *path, const char *algo,
                           const char *expected, uint64_t size, const char *media, tc_err *e)
{
    if (s->n == STORE_MAX_FILES)
        return tc_err_set(e, TC_E_LIMIT, "%s: more than %u files", s->root, STORE_MAX_FILES);
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        tc_store_entry *ne = tc_realloc(s->e, nc * sizeof *ne);
        if (ne == NULL)
            return tc_err_nomem(e);
        s->e = ne;
        s->cap = nc;
    }
    tc_store_entry *x = &s->e[s->n];
    memset(x, 0, sizeof *x);
    x->file = tc_strdup(file);
    x->path = path ? tc_strdup(path) : NULL;
    x->algo = algo;
    x->expected = expected ? tc_strdup(expected) : NULL;
    x->expected_size = size;
    x->media_type = media ? tc_strdup(media) : NULL;
    x->status = TC_STORE_UNCHECKED;
    if (!x->file || (path && !x->path) || (expected && !x->expected) || (media && !x->media_type))
        return tc_err_nomem(e);
    s->n++;
    return TC_OK;
}

/* ---- Hugging Face cache ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static tc_status hf_walk(tc_store *s, const char *dir, const char *rel, int depth, tc_err *e)
{
    if (depth > STORE_MAX_DEPTH)
        return tc_err_set(e, TC_E_LIMIT, "%s: directories nested deeper than %d", dir,
                          STORE_MAX_DEPTH);
    DIR *d = opendir(dir);
    if (d == NULL)
        return tc_err_sys(e, TC_E_IO, errno, "%s", dir);
    /* sorted, so reports are stable */
    char **names = NULL;
    size_t nn = 0, cap = 0;
    tc_status rc = TC_OK;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (nn == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = nc <= STORE_MAX_FILES ? tc_realloc(names, nc * sizeof *nv) : NULL;
            if (nv == NULL) {
                rc = nc > STORE_MAX_FILES
                         ? tc_err_set(e, TC_E_LIMIT, "%s: more than %u files", dir, STORE_MAX_FILES)
                         : tc_err_nomem(e);
                break;
            }
            names = nv;
            cap = nc;
        }
        if ((names[nn] = tc_strdup(de->d_name)) == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        nn++;
    }
    closedir(d);
    if (rc == TC_OK && nn > 1)
        qsort(names, nn, sizeof *names, name_cmp);
    for (size_t i = 0; i < nn && rc == TC_OK; i++) {
        char *full = tc_path_join(dir, names[i]);
        char *r = *rel ? tc_path_join(rel, names[i]) : tc_strdup(names[i]);
        struct stat lst, st;
        if (full == NULL || r == NULL) {
            rc = tc_err_nomem(e);
        } else if (lstat(full, &lst) != 0) {
            rc = tc_err_sys(e, TC_E_IO, errno, "%s", full);
        } else if (S_ISDIR(lst.st_mode)) {
            rc = hf_walk(s, full, r, depth + 1, e);
        } else if (S_ISLNK(lst.st_mode)) {
            char target[PATH_MAX];
            ssize_t tn = readlink(full, target, sizeof target - 1);
            target[tn > 0 ? tn : 0] = 0;
            const char *blob = tc_path_base(target);
            const char *algo = is_hex(blob, 64) ? "sha256" : is_hex(blob, 40) ? "git-sha1" : NULL;
            rc = add_entry(s, r, full, algo, algo ? blob : NULL, UINT64_MAX, NULL, e);
            if (rc == TC_OK && stat(full, &st) != 0)
                s->e[s->n - 1].status = TC_STORE_DANGLING;
            else if (rc == TC_OK && !algo)
                s->e[s->n - 1].status = TC_STORE_UNRECORDED;
        } else if (S_ISREG(lst.st_mode)) {
            /* a copy instead of a link: nothing recorded to compare with */
            rc = add_entry(s, r, full, NULL, NULL, UINT64_MAX, NULL, e);
            if (rc == TC_OK)
                s->e[s->n - 1].status = TC_STORE_UNRECORDED;
        }
        tc_free(full);
        tc_free(r);
    }
    for (size_t i = 0; i < nn; i++)
        tc_free(names[i]);
    tc_free(names);
    return rc;
}

static tc_status hf_open(tc_store *s, const char *path, tc_err *e)
{
    char *snap = NULL, *repo = hf_repo_of(path, &snap);
    if (repo == NULL)
        return tc_err_set(e, TC_E_FORMAT, "%s: not inside a Hugging Face cache", path);
    tc_status rc = TC_OK;
    if (snap == NULL) {
        /* the repository: refs/main names the snapshot, else the only one */
        char *ref = tc_path_join(repo, "refs/main");
        FILE *f = ref ? fopen(ref, "r") : NULL;
        char rev[128] = "";
        if (f) {
            if (fgets(rev, sizeof rev, f) == NULL)
                rev[0] = 0;
            fclose(f);
            rev[strcspn(rev, "\r\n ")] = 0;
            if (!is_hex(rev, 40))
                rc = tc_err_set(e, TC_E_FORMAT, "%s: not a commit hash", ref);
        }
        tc_free(ref);
        char *snaps = tc_path_join(repo, "snapshots");
        if (rc == TC_OK && rev[0]) {
            snap = snaps ? tc_path_join(snaps, rev) : NULL;
            if (snap && !tc_is_dir(snap))
                rc = tc_err_set(e, TC_E_FORMAT, "%s: refs/main names snapshot %s, which is missing",
                                repo, rev);
        } else if (rc == TC_OK) {
            DIR *d = snaps ? opendir(snaps) : NULL;
            int count = 0;
            for (struct dirent *de; d && (de = readdir(d)) != NULL;)
                if (de->d_name[0] != '.') {
                    count++;
                    tc_free(snap);
                    snap = tc_path_join(snaps, de->d_name);
                }
            if (d)
                closedir(d);
            if (count != 1)
                rc = tc_err_set(e, TC_E_FORMAT,
                                "%s: %d snapshots and no refs/main: name one "
                                "(snapshots/REV)",
                                repo, count);
        }
        tc_free(snaps);
    }
    if (rc == TC_OK && snap == NULL)
        rc = tc_err_nomem(e);
    if (rc == TC_OK) {
        s->root = snap;
        snap = NULL;
        /* a single file of a snapshot: just that one */
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode) && strlen(path) > strlen(s->root)) {
            char target[PATH_MAX];
            ssize_t tn = readlink(path, target, sizeof target - 1);
            target[tn > 0 ? tn : 0] = 0;
            const char *blob = tc_path_base(target);
            const char *algo = is_hex(blob, 64) ? "sha256" : is_hex(blob, 40) ? "git-sha1" : NULL;
            const char *rel = path + strlen(s->root);
            while (*rel == '/')
                rel++;
            rc = add_entry(s, rel, path, algo, algo ? blob : NULL, UINT64_MAX, NULL, e);
            if (rc == TC_OK && stat(path, &st) != 0)
                s->e[s->n - 1].status = TC_STORE_DANGLING;
            else if (rc == TC_OK && !algo)
                s->e[s->n - 1].status = TC_STORE_UNRECORDED;
        } else {
            rc = hf_walk(s, s->root, "", 0, e);
        }
    }
    tc_free(snap);
    tc_free(repo);
    return rc;
}

/* ---- huggingface-cli download --local-dir ---- */

static tc_status local_walk(tc_store *s, const char *meta_dir, const char *rel, int depth,
                            tc_err *e)
{
    if (depth > STORE_MAX_DEPTH)
        return tc_err_set(e, TC_E_LIMIT, "%s: directories nested deeper than %d", meta_dir,
                          STORE_MAX_DEPTH);
    DIR *d = opendir(meta_dir);
    if (d == NULL)
        return tc_err_sys(e, TC_E_IO, errno, "%s", meta_dir);
    tc_status rc = TC_OK;
    for (struct dirent *de; rc == TC_OK && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *full = tc_path_join(meta_dir, de->d_name);
        char *r = *rel ? tc_path_join(rel, de->d_name) : tc_strdup(de->d_name);
        if (full == NULL || r == NULL) {
            rc = tc_err_nomem(e);
        } else if (tc_is_dir(full)) {
            rc = local_walk(s, full, r, depth + 1, e);
        } else if (tc_ends_with(de->d_name, ".metadata")) {
            r[strlen(r) - strlen(".metadata")] = 0;
            FILE *f = fopen(full, "r");
            char line[3][256] = {"", "", ""};
            for (int k = 0; f && k < 3 && fgets(line[k], sizeof line[k], f); k++)
                line[k][strcspn(line[k], "\r\n")] = 0;
            if (f)
                fclose(f);
            const char *etag = line[1];
            const char *algo = is_hex(etag, 64) ? "sha256" : is_hex(etag, 40) ? "git-sha1" : NULL;
            char *data = tc_path_join(s->root, r);
            if (data == NULL)
                rc = tc_err_nomem(e);
            if (rc == TC_OK)
                rc = add_entry(s, r, data, algo, algo ? etag : NULL, UINT64_MAX, NULL, e);
            if (rc == TC_OK && !algo)
                s->e[s->n - 1].status = TC_STORE_UNRECORDED;
            tc_free(data);
        }
        tc_free(full);
        tc_free(r);
    }
    closedir(d);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const tc_store_entry *)a)->file, ((const tc_store_entry *)b)->file);
}

static tc_status local_open(tc_store *s, const char *path, tc_err *e)
{
    s->root = tc_strdup(path);
    char *dl = tc_path_join(path, ".cache/huggingface/download");
    tc_status rc = s->root && dl ? local_walk(s, dl, "", 0, e) : tc_err_nomem(e);
    tc_free(dl);
    if (rc == TC_OK && s->n > 1)
        qsort(s->e, s->n, sizeof *s->e, entry_cmp);
    return rc;
}

/* ---- ollama ---- */

static const char *json_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static tc_status ollama_open(tc_store *s, const char *manifest, tc_err *e)
{
    /* the models directory: the parent of the "manifests" component */
    const char *m = strstr(manifest, "manifests/");
    if (m == NULL)
        return tc_err_set(e, TC_E_FORMAT, "%s: not under an ollama manifests/ directory", manifest);
    while (strstr(m + 1, "manifests/"))
        m = strstr(m + 1, "manifests/");
    size_t rn = (size_t)(m - manifest);
    s->root = tc_malloc(rn + 2);
    if (s->root == NULL)
        return tc_err_nomem(e);
    if (rn == 0)
        snprintf(s->root, 2, ".");
    else
        snprintf(s->root, rn + 1, "%s", manifest);
    struct stat st;
    if (stat(manifest, &st) != 0)
        return tc_err_sys(e, TC_E_IO, errno, "%s", manifest);
    if (!S_ISREG(st.st_mode) || st.st_size > STORE_MAX_MANIFEST)
        return tc_err_set(e, TC_E_FORMAT, "%s: not a manifest file (over %u bytes or not a file)",
                          manifest, STORE_MAX_MANIFEST);
    json_error_t je;
    json_t *j = json_load_file(manifest, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return tc_err_set(e, TC_E_FORMAT, "%s: line %d: %s", manifest, je.line, je.text);
    tc_status rc = TC_OK;
    json_t *layers = json_object_get(j, "layers");
    if (!json_is_object(j) || !json_is_array(layers)) {
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no \"layers\" array (not an ollama manifest)",
                        manifest);
        goto out;
    }
    json_t *config = json_object_get(j, "config");
    size_t n = json_array_size(layers);
    for (size_t i = 0; i <= n && rc == TC_OK; i++) {
        json_t *l = i < n ? json_array_get(layers, i) : config;
        if (i == n && l == NULL)
            break;
        const char *digest = json_is_object(l) ? json_str(l, "digest") : NULL;
        const char *media = json_is_object(l) ? json_str(l, "mediaType") : NULL;
        json_t *jsz = json_is_object(l) ? json_object_get(l, "size") : NULL;
        if (digest == NULL || strncmp(digest, "sha256:", 7) != 0 || !is_hex(digest + 7, 64) ||
            !json_is_integer(jsz) || json_integer_value(jsz) < 0) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s: %s %zu: needs \"digest\": \"sha256:<64 hex>\" and a size",
                            manifest, i < n ? "layer" : "config", i);
            break;
        }
        char blob[128];
        snprintf(blob, sizeof blob, "blobs/sha256-%s", digest + 7);
        char *bp = tc_path_join(s->root, blob);
        char label[160];
        const char *kind = media && strncmp(media, "application/vnd.ollama.image.", 29) == 0
                               ? media + 29
                               : (i == n ? "config" : "layer");
        snprintf(label, sizeof label, "%s (%s)", blob, kind);
        rc = bp ? add_entry(s, label, bp, "sha256", digest + 7, (uint64_t)json_integer_value(jsz),
                            media, e)
                : tc_err_nomem(e);
        if (rc == TC_OK && stat(bp, &st) != 0)
            s->e[s->n - 1].status = TC_STORE_MISSING;
        if (rc == TC_OK && media && strcmp(media, "application/vnd.ollama.image.model") == 0 &&
            s->model == NULL)
            s->model = tc_strdup(bp);
        if (rc == TC_OK && media && strcmp(media, "application/vnd.ollama.image.license") == 0 &&
            s->license_text == NULL && stat(bp, &st) == 0) {
            FILE *f = fopen(bp, "rb");
            size_t cap = 1u << 20;
            s->license_text = f ? tc_malloc(cap + 1) : NULL;
            if (s->license_text) {
                size_t got = fread(s->license_text, 1, cap, f);
                s->license_text[got] = 0;
            }
            if (f)
                fclose(f);
        }
        tc_free(bp);
    }
out:
    json_decref(j);
    return rc;
}

tc_status tc_store_ollama_manifest(const char *ref, const char *models_dir, char **out, tc_err *e)
{
    *out = NULL;
    char dflt[PATH_MAX];
    if (models_dir == NULL || *models_dir == 0) {
        const char *env = getenv("OLLAMA_MODELS"), *home = getenv("HOME");
        if (env && *env)
            snprintf(dflt, sizeof dflt, "%s", env);
        else
            snprintf(dflt, sizeof dflt, "%s/.ollama/models", home ? home : ".");
        models_dir = dflt;
    }
    /* [REGISTRY/][NAMESPACE/]MODEL[:TAG] */
    char name[512], tag[128] = "latest";
    if (strlen(ref) >= sizeof name || *ref == 0 || strstr(ref, ".."))
        return tc_err_set(e, TC_E_USAGE, "bad ollama model name '%s'", ref);
    snprintf(name, sizeof name, "%s", ref);
    char *colon = strrchr(name, ':');
    if (colon && !strchr(colon, '/')) {
        snprintf(tag, sizeof tag, "%s", colon + 1);
        *colon = 0;
    }
    int slashes = 0;
    for (const char *p = name; *p; p++)
        slashes += *p == '/';
    char rel[1024];
    if (slashes == 0)
        snprintf(rel, sizeof rel, "manifests/registry.ollama.ai/library/%s/%s", name, tag);
    else if (slashes == 1)
        snprintf(rel, sizeof rel, "manifests/registry.ollama.ai/%s/%s", name, tag);
    else
        snprintf(rel, sizeof rel, "manifests/%s/%s", name, tag);
    *out = tc_path_join(models_dir, rel);
    if (*out == NULL)
        return tc_err_nomem(e);
    struct stat st;
    if (stat(*out, &st) != 0) {
        tc_status rc = tc_err_set(e, TC_E_IO, "ollama model %s: no manifest at %s", ref, *out);
        tc_free(*out);
        *out = NULL;
        return rc;
    }
    return TC_OK;
}

tc_status tc_store_open(const char *path, tc_store **out, tc_err *e)
{
    *out = NULL;
    tc_store *s = tc_calloc(1, sizeof *s);
    if (s == NULL)
        return tc_err_nomem(e);
    s->kind = tc_store_detect(path);
    tc_status rc;
    switch (s->kind) {
    case TC_STORE_HF_CACHE:
        rc = hf_open(s, path, e);
        break;
    case TC_STORE_HF_LOCAL_DIR:
        rc = local_open(s, path, e);
        break;
    case TC_STORE_OLLAMA:
        rc = ollama_open(s, path, e);
        break;
    default:
        rc = tc_err_set(e, TC_E_UNSUPPORTED,
                        "%s: not a Hugging Face cache snapshot, a --local-dir download or an "
                        "ollama manifest",
                        path);
        break;
    }
    if (rc != TC_OK) {
        tc_store_free(s);
        return rc;
    }
    *out = s;
    return TC_OK;
}

void tc_store_free(tc_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        tc_free((char *)s->e[i].file);
        tc_free((char *)s->e[i].path);
        tc_free((char *)s->e[i].expected);
        tc_free((char *)s->e[i].media_type);
    }
    tc_free(s->e);
    tc_free(s->root);
    tc_free(s->model);
    tc_free(s->license_text);
    tc_free(s);
}

tc_store_kind tc_store_kind_of(const tc_store *s)
{
    return s->kind;
}
const char *tc_store_root(const tc_store *s)
{
    return s->root;
}
const char *tc_store_model(const tc_store *s)
{
    return s->model;
}
const char *tc_store_license_text(const tc_store *s)
{
    return s->license_text;
}
size_t tc_store_count(const tc_store *s)
{
    return s->n;
}
const tc_store_entry *tc_store_entry_at(const tc_store *s, size_t i)
{
    return i < s->n ? &s->e[i] : NULL;
}

/* ---- hashing ---- */

typedef struct hash_job {
    tc_store *s;
    size_t next; /* guarded by mu */
    uint64_t done, total;
    pthread_mutex_t mu;
    const tc_progress *progress;
} hash_job;

static void hash_one(hash_job *j, tc_store_entry *x, unsigned char *buf)
{
    int fd = open(x->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        x->status = fd < 0 && errno == ENOENT ? TC_STORE_MISSING : TC_STORE_IOERR;
        if (fd >= 0)
            close(fd);
        return;
    }
    x->size = (uint64_t)st.st_size;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int git = strcmp(x->algo, "git-sha1") == 0;
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, git ? EVP_sha1() : EVP_sha256(), NULL)) {
        x->status = TC_STORE_IOERR;
        EVP_MD_CTX_free(ctx);
        close(fd);
        return;
    }
    if (git) {
        char hdr[64];
        int hn = snprintf(hdr, sizeof hdr, "blob %" PRIu64, x->size);
        EVP_DigestUpdate(ctx, hdr, (size_t)hn + 1); /* with the NUL */
    }
    uint64_t off = 0;
    int ok = 1;
    while (off < x->size) {
        ssize_t r = pread(fd, buf, HASH_CHUNK, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = 0;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)r);
        off += (uint64_t)r;
        if (j->progress && j->progress->fn) {
            pthread_mutex_lock(&j->mu);
            j->done += (uint64_t)r;
            j->progress->fn(j->progress->ctx, j->done, j->total);
            pthread_mutex_unlock(&j->mu);
        }
    }
    close(fd);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn = 0;
    EVP_DigestFinal_ex(ctx, md, &mdn);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        x->status = TC_STORE_IOERR;
        return;
    }
    static const char hexd[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdn && i < 32; i++) {
        x->actual[2 * i] = hexd[md[i] >> 4];
        x->actual[2 * i + 1] = hexd[md[i] & 15];
    }
    x->actual[2 * (mdn < 32 ? mdn : 32)] = 0;
    if (strcasecmp(x->actual, x->expected) != 0)
        x->status = TC_STORE_MISMATCH;
    else if (x->expected_size != UINT64_MAX && x->expected_size != x->size)
        x->status = TC_STORE_SIZE;
    else
        x->status = TC_STORE_OK;
}

static void *hash_worker(void *arg)
{
    hash_job *j = arg;
    unsigned char *buf = tc_malloc(HASH_CHUNK);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->s->n)
            break;
        tc_store_entry *x = &j->s->e[i];
        if (x->status != TC_STORE_UNCHECKED || x->algo == NULL)
            continue;
        if (buf == NULL)
            x->status = TC_STORE_IOERR;
        else
            hash_one(j, x, buf);
    }
    tc_free(buf);
    return NULL;
}

tc_status tc_store_verify(tc_store *s, int threads, const tc_progress *progress, tc_err *e)
{
    hash_job j = {.s = s, .progress = progress};
    for (size_t i = 0; i < s->n; i++) {
        struct stat st;
        tc_store_entry *x = &s->e[i];
        /* the size recorded (ollama) is checked before hashing: a short blob fails fast */
        if (x->status == TC_STORE_UNCHECKED && x->algo && stat(x->path, &st) == 0) {
            if (x->expected_size != UINT64_MAX && (uint64_t)st.st_size != x->expected_size) {
                x->size = (uint64_t)st.st_size;
                x->status = TC_STORE_SIZE;
                continue;
            }
            j.total += (uint64_t)st.st_size;
        }
    }
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > TC_MAX_THREADS)
        threads = TC_MAX_THREADS;
    if ((size_t)threads > s->n)
        threads = s->n ? (int)s->n : 1;
    pthread_mutex_init(&j.mu, NULL);
    pthread_t tid[TC_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, hash_worker, &j) == 0)
            started++;
    hash_worker(&j);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&j.mu);
    (void)e;
    return TC_OK;
}
