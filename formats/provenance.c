/*
 * provenance.c - what every output of tensorcast says about how it was made, in the
 * `tensorcast.provenance.*` keys (GGUF):
 *
 *   .version        tensorcast's version
 *   .command        the command and its options (paths reduced to file names)
 *   .source_names   each source file's name (no directory: outputs do not depend on where the
 *                   input sat), .source_sizes its size, .source_sha256 its SHA-256
 *   .tensor_hash    "xxh64"; .tensor_xxh64 one XXH64 (seed 0) per tensor, in file order, of the
 *                   bytes as written -- the digest llama.cpp's llama-gguf-hash prints
 *
 * Nothing depends on time, host or user: the same command on the same input gives the same
 * bytes. The digests are not known until the data is written, so the writer emits placeholders
 * of the final size and patches them in place before the file is renamed into place. Sources
 * are hashed on their own thread while the conversion runs.
 *
 * Why xxh64 for tensors: it runs at memory speed (the conversion must not slow down by more
 * than a few percent), it is what llama-gguf-hash computes, and tensor digests detect
 * corruption, not forgery. The sources get SHA-256, the digest the Hugging Face Hub publishes.
 */
#include "tc_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROV_CHUNK (4u << 20)

struct tc_prov {
    char command[1024];
    size_t n_src, n_tensors;
    tc_str *src_names;
    uint64_t *src_sizes;
    tc_str *src_sha; /* each 64 bytes, '0' until hashed */
    char *sha_text;  /* the 64-byte strings, back to back (NUL after each) */
    uint64_t *xxh;   /* per tensor */
    const char **paths;
    tc_value v[TC_PROV_N_KV];
    pthread_t thread;
    int thread_started;
    tc_err err;
};

static const char *const prov_keys[TC_PROV_N_KV] = {
    TC_PROV_PREFIX "version",      TC_PROV_PREFIX "command",       TC_PROV_PREFIX "source_names",
    TC_PROV_PREFIX "source_sizes", TC_PROV_PREFIX "source_sha256", TC_PROV_PREFIX "tensor_hash",
    TC_PROV_PREFIX "tensor_xxh64"};

static void *prov_hash_sources(void *arg)
{
    tc_prov *p = arg;
    unsigned char *buf = tc_malloc(PROV_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (buf == NULL || md == NULL) {
        tc_err_set(&p->err, TC_E_NOMEM, "out of memory hashing the sources");
        goto out;
    }
    for (size_t i = 0; i < p->n_src; i++) {
        int fd = open(p->paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            tc_err_sys(&p->err, TC_E_IO, errno, "%s: cannot hash the source", p->paths[i]);
            break;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (;;) {
            ssize_t r = read(fd, buf, PROV_CHUNK);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                tc_err_sys(&p->err, TC_E_IO, errno, "%s: read failed", p->paths[i]);
            if (r <= 0)
                break;
            EVP_DigestUpdate(md, buf, (size_t)r);
        }
        close(fd);
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn = 0;
        EVP_DigestFinal_ex(md, d, &dn);
        static const char hexd[] = "0123456789abcdef";
        char *h = (char *)p->src_sha[i].p;
        for (unsigned k = 0; k < 32; k++) {
            h[2 * k] = hexd[d[k] >> 4];
            h[2 * k + 1] = hexd[d[k] & 15];
        }
        if (p->err.code != TC_OK)
            break;
    }
out:
    EVP_MD_CTX_free(md);
    tc_free(buf);
    return NULL;
}

void tc_prov_free(tc_prov *p)
{
    if (p == NULL)
        return;
    if (p->thread_started)
        pthread_join(p->thread, NULL);
    tc_free(p->src_names);
    tc_free(p->src_sizes);
    tc_free(p->src_sha);
    tc_free(p->sha_text);
    tc_free(p->xxh);
    tc_free(p->paths);
    tc_free(p);
}

tc_status tc_prov_begin(const tc_graph *g, const char *command, tc_prov **out, tc_err *e)
{
    *out = NULL;
    tc_prov *p = tc_calloc(1, sizeof *p);
    if (p == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    snprintf(p->command, sizeof p->command, "%s", command ? command : "");
    p->n_src = tc_graph_n_sources(g);
    p->n_tensors = tc_graph_n_tensors(g);
    size_t ns = p->n_src ? p->n_src : 1;
    p->src_names = tc_calloc(ns, sizeof *p->src_names);
    p->src_sizes = tc_calloc(ns, sizeof *p->src_sizes);
    p->src_sha = tc_calloc(ns, sizeof *p->src_sha);
    p->sha_text = tc_calloc(ns, 65);
    p->paths = tc_calloc(ns, sizeof *p->paths);
    p->xxh = tc_calloc(p->n_tensors ? p->n_tensors : 1, sizeof *p->xxh);
    if (!p->src_names || !p->src_sizes || !p->src_sha || !p->sha_text || !p->paths || !p->xxh) {
        tc_prov_free(p);
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n_src; i++) {
        uint64_t sz = 0;
        const char *path = tc_graph_source(g, i, &sz);
        const char *base = tc_path_base(path);
        p->paths[i] = path;
        p->src_names[i] = (tc_str){base, strlen(base)};
        p->src_sizes[i] = sz;
        char *h = p->sha_text + 65 * i;
        memset(h, '0', 64);
        p->src_sha[i] = (tc_str){h, 64};
    }
    p->v[0] = (tc_value){.type = TC_V_STR, .s = {TC_VERSION_STRING, strlen(TC_VERSION_STRING)}};
    p->v[1] = (tc_value){.type = TC_V_STR, .s = {p->command, strlen(p->command)}};
    p->v[2] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_STR, p->n_src, p->src_names}};
    p->v[3] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_U64, p->n_src, p->src_sizes}};
    p->v[4] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_STR, p->n_src, p->src_sha}};
    p->v[5] = (tc_value){.type = TC_V_STR, .s = {"xxh64", 5}};
    p->v[6] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_U64, p->n_tensors, p->xxh}};
    if (p->n_src > 0) {
        if (pthread_create(&p->thread, NULL, prov_hash_sources, p) == 0)
            p->thread_started = 1;
        else
            prov_hash_sources(p); /* no thread: hash here */
    }
    *out = p;
    return TC_OK;
}

const char *tc_prov_key(size_t i)
{
    return i < TC_PROV_N_KV ? prov_keys[i] : NULL;
}

const tc_value *tc_prov_value(const tc_prov *p, size_t i)
{
    return i < TC_PROV_N_KV ? &p->v[i] : NULL;
}

void tc_prov_set_tensor(tc_prov *p, size_t i, uint64_t xxh64)
{
    if (i < p->n_tensors)
        p->xxh[i] = xxh64;
}

tc_status tc_prov_finish(tc_prov *p, tc_err *e)
{
    if (p->thread_started) {
        pthread_join(p->thread, NULL);
        p->thread_started = 0;
    }
    if (p->err.code != TC_OK) {
        if (e && e->code == TC_OK)
            *e = p->err;
        return p->err.code;
    }
    return TC_OK;
}

int tc_prov_is_key(const char *key)
{
    return strncmp(key, TC_PROV_PREFIX, strlen(TC_PROV_PREFIX)) == 0;
}
