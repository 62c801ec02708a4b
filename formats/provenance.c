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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* read() size for hashing: 256 KiB stays in L2 between the copy and SHA-256 (measured: 0.23 s
 * of CPU for a 327 MB file against 0.25 s with 4 MiB reads) */
#define PROV_CHUNK       (256u << 10)
#define PROV_MAX_THREADS 8 /* source files hashed at once (one thread each) */

typedef struct prov_region {
    size_t tensor, source;
    uint64_t off, len;
    XXH64_state_t *st;
} prov_region;

/* A source file being hashed: the SHA-256 so far, and the next byte and region to feed. */
typedef struct prov_file {
    int fd;
    EVP_MD_CTX *md;
    uint64_t pos;
    size_t r0, r1; /* its regions: reg[r0, r1) still to feed */
    int state;     /* 0 not started, 1 open, 2 done */
    int busy;      /* a thread is feeding it */
} prov_file;

static int region_cmp(const void *a, const void *b)
{
    const prov_region *x = a, *y = b;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

struct tc_prov {
    char command[1024];
    size_t n_src, n_tensors;
    tc_str *src_names;
    uint64_t *src_sizes;
    tc_str *src_sha; /* each 64 bytes, '0' until hashed */
    char *sha_text;  /* the 64-byte strings, back to back (NUL after each) */
    uint64_t *xxh;   /* per tensor */
    const char **paths;
    /* tensors stored as plain regions of a source file: their xxh64 is computed by the
     * source-hashing thread as it passes them (the bytes written are those bytes), so the
     * writer can copy them in the kernel */
    prov_region *reg;
    size_t n_reg;
    uint8_t *covered; /* per tensor */
    tc_value v[TC_PROV_N_KV];
    pthread_t threads[PROV_MAX_THREADS];
    int n_threads;
    prov_file *files;   /* per source: its hashing state, taken by one thread at a time */
    pthread_mutex_t mu; /* guards err, stop and the files' busy/state */
    pthread_cond_t cv;  /* a file was let go */
    int stop;           /* tc_prov_free before the end: threads leave */
    int cpu_bound;      /* some tensor is quantized on the way: hash at normal priority */
    tc_err err;
};

static const char *const prov_keys[TC_PROV_N_KV] = {
    TC_PROV_PREFIX "version",      TC_PROV_PREFIX "command",       TC_PROV_PREFIX "source_names",
    TC_PROV_PREFIX "source_sizes", TC_PROV_PREFIX "source_sha256", TC_PROV_PREFIX "tensor_hash",
    TC_PROV_PREFIX "tensor_xxh64"};

/* Feed one piece [c0, c0 + len) of source i to its SHA-256 and to the xxh64 of the tensors
 * copied from it; *r0 walks the file's regions (sorted by start). */
static void prov_feed(tc_prov *p, EVP_MD_CTX *md, const unsigned char *buf, uint64_t c0, size_t len,
                      size_t *r0, size_t r1)
{
    EVP_DigestUpdate(md, buf, len);
    uint64_t c1 = c0 + len;
    while (*r0 < r1 && p->reg[*r0].off + p->reg[*r0].len <= c0)
        (*r0)++; /* done with those (sorted by start; lengths vary, so scan below) */
    for (size_t k = *r0; k < r1 && p->reg[k].off < c1; k++) {
        prov_region *g = &p->reg[k];
        uint64_t a = g->off > c0 ? g->off : c0;
        uint64_t b = g->off + g->len < c1 ? g->off + g->len : c1;
        if (a < b)
            XXH64_update(g->st, buf + (a - c0), (size_t)(b - a));
    }
}

static void prov_fail(tc_prov *p, const tc_err *e)
{
    pthread_mutex_lock(&p->mu);
    if (p->err.code == TC_OK)
        p->err = *e;
    pthread_mutex_unlock(&p->mu);
}

/* What one turn of a thread hashes before it lets another take the file: with 256 KiB reads
 * the file changes hands at most every 4 MiB. */
#define PROV_TURN (16 * PROV_CHUNK)

/* Hash one turn of a source file nobody is hashing: 1 if there was one, 0 if none is free. A
 * file moves between threads only between turns (its SHA-256 is one sequential stream), so the
 * writer's thread can take over the files the idle-priority threads have not finished. */
static int prov_turn(tc_prov *p, unsigned char *buf)
{
    pthread_mutex_lock(&p->mu);
    size_t i = 0;
    while (i < p->n_src && (p->files[i].busy || p->files[i].state == 2))
        i++;
    if (i == p->n_src || p->stop || p->err.code != TC_OK) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    prov_file *f = &p->files[i];
    f->busy = 1;
    pthread_mutex_unlock(&p->mu);

    tc_err e = {0};
    int end = 0;
    if (f->state == 0) {
        /* read(), not a map: a map's resident pages would count as ours (the whole source) */
        f->fd = open(p->paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        f->md = f->fd >= 0 ? EVP_MD_CTX_new() : NULL;
        if (f->fd < 0)
            tc_err_sys(&e, TC_E_IO, errno, "%s: cannot hash the source", p->paths[i]);
        else if (f->md == NULL || !EVP_DigestInit_ex(f->md, EVP_sha256(), NULL))
            tc_err_set(&e, TC_E_NOMEM, "out of memory hashing the sources");
        else
            posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        /* this file's regions (sorted by source, then offset) */
        f->r0 = 0;
        while (f->r0 < p->n_reg && p->reg[f->r0].source < i)
            f->r0++;
        f->r1 = f->r0;
        while (f->r1 < p->n_reg && p->reg[f->r1].source == i)
            f->r1++;
        f->state = 1;
    }
    for (size_t done = 0; e.code == TC_OK && done < PROV_TURN;) {
        ssize_t r = read(f->fd, buf, PROV_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            tc_err_sys(&e, TC_E_IO, errno, "%s: read failed", p->paths[i]);
        if (r <= 0) {
            end = 1;
            break;
        }
        prov_feed(p, f->md, buf, f->pos, (size_t)r, &f->r0, f->r1);
        f->pos += (uint64_t)r;
        done += (size_t)r;
    }
    if (e.code == TC_OK && end) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn = 0;
        EVP_DigestFinal_ex(f->md, d, &dn);
        static const char hexd[] = "0123456789abcdef";
        char *h = (char *)p->src_sha[i].p;
        for (unsigned k = 0; k < 32; k++) {
            h[2 * k] = hexd[d[k] >> 4];
            h[2 * k + 1] = hexd[d[k] & 15];
        }
    }
    if (end || e.code != TC_OK) {
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        EVP_MD_CTX_free(f->md);
        f->md = NULL;
    }
    if (e.code != TC_OK)
        prov_fail(p, &e);
    pthread_mutex_lock(&p->mu);
    if (end || e.code != TC_OK)
        f->state = 2;
    f->busy = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 1;
}

/*
 * A hashing thread. SHA-256 is most of provenance's cost (about 0.6 s of CPU a GB), and where
 * it runs depends on what bounds the job:
 * - A conversion between float types (or a copy) waits on the disk. The hashing threads then
 *   run at idle priority, so they never take a core from the threads that feed the disk; the
 *   cores are idle while the writer waits, and the sources get hashed then.
 * - A quantization is bound by the CPU: at idle priority the hashing threads would get nothing
 *   until the quantizers are done, and a single source would then be hashed by one thread while
 *   the other cores idle. They run
 *   at normal priority then and take their share of the cores from the start: the same CPU
 *   time, spread over every core.
 * What is left when the writer is done, its own thread hashes at normal priority
 * (tc_prov_finish), so a busy machine slows hashing no more than a serial second pass would.
 */
static void *prov_hash_thread(void *arg)
{
    tc_prov *p = arg;
    struct sched_param sp = {0};
    if (!p->cpu_bound)
        (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    unsigned char *buf = tc_malloc(PROV_CHUNK);
    while (buf && prov_turn(p, buf))
        ;
    tc_free(buf);
    return NULL;
}

/* The writer's thread, done writing: hashes what is left, taking each file as soon as no
 * other thread holds it, until every file is done. */
static void prov_help(tc_prov *p)
{
    unsigned char *buf = tc_malloc(PROV_CHUNK);
    if (buf == NULL) {
        tc_err e = {0};
        tc_err_set(&e, TC_E_NOMEM, "out of memory hashing the sources");
        prov_fail(p, &e);
    }
    while (buf) {
        if (prov_turn(p, buf))
            continue;
        pthread_mutex_lock(&p->mu);
        for (;;) {
            size_t i = 0, left = 0, free_one = 0;
            for (; i < p->n_src; i++)
                if (p->files[i].state != 2) {
                    left++;
                    free_one += !p->files[i].busy;
                }
            if (left == 0 || free_one || p->stop || p->err.code != TC_OK)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
        }
        int again = 0;
        for (size_t i = 0; i < p->n_src; i++)
            again |= p->files[i].state != 2;
        again = again && !p->stop && p->err.code == TC_OK;
        pthread_mutex_unlock(&p->mu);
        if (!again)
            break;
    }
    tc_free(buf);
}

static void prov_join(tc_prov *p)
{
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    p->n_threads = 0;
}

void tc_prov_free(tc_prov *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    prov_join(p);
    for (size_t i = 0; p->files && i < p->n_src; i++) {
        if (p->files[i].fd >= 0)
            close(p->files[i].fd);
        EVP_MD_CTX_free(p->files[i].md);
    }
    tc_free(p->files);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    tc_free(p->src_names);
    tc_free(p->src_sizes);
    tc_free(p->src_sha);
    tc_free(p->sha_text);
    tc_free(p->xxh);
    tc_free(p->paths);
    for (size_t i = 0; i < p->n_reg; i++)
        if (p->reg[i].st)
            XXH64_freeState(p->reg[i].st);
    tc_free(p->reg);
    tc_free(p->covered);
    tc_free(p);
}

tc_status tc_prov_begin(const tc_graph *g, const char *command, int hash_sources, tc_prov **out,
                        tc_err *e)
{
    *out = NULL;
    tc_prov *p = tc_calloc(1, sizeof *p);
    if (p == NULL)
        return tc_err_nomem(e);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
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
    p->files = tc_calloc(ns, sizeof *p->files);
    if (p->files)
        for (size_t i = 0; i < ns; i++)
            p->files[i].fd = -1;
    if (!p->src_names || !p->src_sizes || !p->src_sha || !p->sha_text || !p->paths || !p->xxh ||
        !p->files) {
        tc_prov_free(p);
        return tc_err_nomem(e);
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
    /* tensors that are plain regions of a source file */
    p->covered = tc_calloc(p->n_tensors ? p->n_tensors : 1, 1);
    p->reg = tc_calloc(p->n_tensors ? p->n_tensors : 1, sizeof *p->reg);
    if (p->covered == NULL || p->reg == NULL) {
        tc_prov_free(p);
        return tc_err_nomem(e);
    }
    for (size_t t = 0; hash_sources && t < p->n_tensors; t++) {
        const tc_tensor *tt = tc_graph_tensor(g, t);
        const tc_map *m;
        uint64_t off;
        int mapped = tc_tensor_mapped(tt, &m, &off);
        if (!mapped && tc_dtype_get(tc_tensor_dtype(tt))->is_quant)
            p->cpu_bound = 1;
        if (!mapped || tc_map_fd(m) < 0)
            continue;
        size_t k = 0;
        while (k < p->n_src && strcmp(p->paths[k], tc_map_path(m)) != 0)
            k++;
        if (k == p->n_src)
            continue;
        prov_region *r = &p->reg[p->n_reg];
        r->tensor = t;
        r->source = k;
        r->off = off;
        r->len = tc_tensor_nbytes(tt);
        if ((r->st = XXH64_createState()) == NULL) {
            tc_prov_free(p);
            return tc_err_nomem(e);
        }
        XXH64_reset(r->st, 0);
        p->covered[t] = 1;
        p->n_reg++;
    }
    if (p->n_reg > 1)
        qsort(p->reg, p->n_reg, sizeof *p->reg, region_cmp);
    p->v[0] = (tc_value){.type = TC_V_STR, .s = {TC_VERSION_STRING, strlen(TC_VERSION_STRING)}};
    p->v[1] = (tc_value){.type = TC_V_STR, .s = {p->command, strlen(p->command)}};
    p->v[2] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_STR, p->n_src, p->src_names}};
    p->v[3] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_U64, p->n_src, p->src_sizes}};
    p->v[4] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_STR, p->n_src, p->src_sha}};
    p->v[5] = (tc_value){.type = TC_V_STR, .s = {"xxh64", 5}};
    p->v[6] = (tc_value){.type = TC_V_ARR, .arr = {TC_V_U64, p->n_tensors, p->xxh}};
    if (p->n_src > 0 && hash_sources) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        size_t want = p->n_src < (size_t)PROV_MAX_THREADS ? p->n_src : PROV_MAX_THREADS;
        if (cores > 0 && want > (size_t)cores)
            want = (size_t)cores;
        /* TC_PROV_THREADS=N: at most N hashing threads (0: the writer's thread hashes
         * everything once it is done writing), for tests and benchmarks */
        const char *ev = getenv("TC_PROV_THREADS");
        if (ev && *ev >= '0' && *ev <= '9' && (size_t)atoi(ev) < want)
            want = (size_t)atoi(ev);
        for (size_t t = 0; t < want; t++)
            if (pthread_create(&p->threads[p->n_threads], NULL, prov_hash_thread, p) == 0)
                p->n_threads++;
    } else {
        for (size_t i = 0; i < p->n_src; i++)
            p->files[i].state = 2; /* nothing to hash (the digests stay zeros) */
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

int tc_prov_covers(const tc_prov *p, size_t i)
{
    return i < p->n_tensors && p->covered[i];
}

tc_status tc_prov_finish(tc_prov *p, tc_err *e)
{
    prov_help(p);
    prov_join(p);
    for (size_t k = 0; k < p->n_reg; k++)
        p->xxh[p->reg[k].tensor] = XXH64_digest(p->reg[k].st);
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
