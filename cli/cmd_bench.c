/* cmd_bench.c - `tensorcast bench`: quantize/dequantize throughput per type and kernel set,
 * min and median over repetitions (the way `zstd -b` reports), and, when llama.cpp's
 * libggml-base.so is found, its ggml_quantize_chunk on the same data in the same run. */
#include "cli.h"

#include <dlfcn.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char bench_help[] =
    "usage: tensorcast bench [--type T[,T...]] [--isa I] [--threads N] [--rows R] [--cols C]\n"
    "                        [--reps K] [--imatrix] [--oracle LIB] [--cpu-time] [--json]\n"
    "\n"
    "Measure quantize and dequantize throughput on gaussian f32 rows: MB/s of f32 input for\n"
    "quantize, GB/s of f32 output for dequantize, min and median over K repetitions. With\n"
    "llama.cpp's libggml-base.so (--oracle, $TC_ORACLE_LIB, or .oracle/llama/libggml-base.so\n"
    "as installed by scripts/oracle/get_oracle.sh) its ggml_quantize_chunk runs on the same\n"
    "data and threads in the same run, rounds alternating with ours; the ratio (the median\n"
    "of the rounds' ratios) and whether the bytes are identical are printed.\n"
    "\n"
    "  --type T,...   types (default: every type tensorcast can quantize to)\n"
    "  --isa I        scalar|avx2|avx512|neon (default: the best this CPU runs; TC_ISA also "
    "works)\n"
    "  --threads N    threads splitting the rows (default 1)\n"
    "  --rows R       rows per run (default 256)\n"
    "  --cols C       row length (default 4096)\n"
    "  --reps K       repetitions (default 7)\n"
    "  --imatrix      use random importance weights (the imatrix code paths; IQ2_XXS,\n"
    "                 IQ2_XS and IQ1_S always get them, as ggml requires)\n"
    "  --cpu-time     time with the process's CPU clock instead of the wall clock: MB/s per\n"
    "                 CPU-second, steady on a shared, busy machine (with N threads it\n"
    "                 sums their CPU time, so it does not show the threads' speed-up)\n"
    "  --json         machine-readable output\n";

typedef size_t (*ggml_quantize_chunk_fn)(int type, const float *src, void *dst, int64_t start,
                                         int64_t nrows, int64_t n_per_row, const float *imatrix);
typedef void (*ggml_quantize_init_fn)(int type);

typedef struct bench_job {
    int kind; /* 0 ours quantize, 1 oracle quantize, 2 ours dequantize */
    tc_isa isa;
    int type;
    const float *src;
    uint8_t *dst;
    float *deq;
    int64_t row0, rows, cols;
    const float *imatrix;
    ggml_quantize_chunk_fn oracle;
} bench_job;

static void *bench_worker(void *arg)
{
    bench_job *j = arg;
    uint64_t rs = tc_row_size(j->type, j->cols);
    if (j->kind == 0)
        tc_quantize_rows_isa(j->isa, j->type, j->src + j->row0 * j->cols, j->dst + j->row0 * rs,
                             j->rows, j->cols, j->imatrix);
    else if (j->kind == 1)
        j->oracle(j->type, j->src, j->dst, j->row0 * j->cols, j->rows, j->cols, j->imatrix);
    else
        tc_to_f32_isa(j->isa, j->type, j->dst + j->row0 * rs, j->deq + j->row0 * j->cols,
                      j->rows * j->cols);
    return NULL;
}

/* --cpu-time: the process's CPU clock (all threads) instead of the wall clock */
static int use_cpu_clock;

static double bench_now(void)
{
    if (!use_cpu_clock)
        return cli_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one kind over all rows with `threads` threads; returns seconds. */
static double run_once(int kind, int threads, bench_job base, int64_t rows)
{
    pthread_t tid[256];
    bench_job jobs[256];
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = base;
        jobs[i].kind = kind;
        jobs[i].row0 = rows * i / threads;
        jobs[i].rows = rows * (i + 1) / threads - jobs[i].row0;
        if (threads == 1)
            bench_worker(&jobs[i]);
        else
            pthread_create(&tid[i], NULL, bench_worker, &jobs[i]);
    }
    if (threads > 1)
        for (int i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
    return bench_now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void min_median(double *t, int n, double *mn, double *med)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *mn = t[0];
    *med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void *open_oracle(const char *path)
{
    const char *cands[3] = {path, getenv("TC_ORACLE_LIB"), ".oracle/llama/libggml-base.so"};
    for (int i = 0; i < 3; i++) {
        if (cands[i] == NULL || !*cands[i])
            continue;
        void *h = dlopen(cands[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
        if (i == 0)
            fprintf(stderr, "%s: cannot load oracle %s: %s\n", tc_prog, cands[i], dlerror());
    }
    return NULL;
}

int cmd_bench(int argc, char **argv)
{
    enum {
        O_TYPE = 256,
        O_ISA,
        O_THREADS,
        O_ROWS,
        O_COLS,
        O_REPS,
        O_IMAT,
        O_ORACLE,
        O_JSON,
        O_CPU
    };
    static const struct option opts[] = {{"type", required_argument, 0, O_TYPE},
                                         {"isa", required_argument, 0, O_ISA},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"rows", required_argument, 0, O_ROWS},
                                         {"cols", required_argument, 0, O_COLS},
                                         {"reps", required_argument, 0, O_REPS},
                                         {"imatrix", no_argument, 0, O_IMAT},
                                         {"oracle", required_argument, 0, O_ORACLE},
                                         {"json", no_argument, 0, O_JSON},
                                         {"cpu-time", no_argument, 0, O_CPU},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    static const int default_types[] = {
        TC_DTYPE_Q4_0,    TC_DTYPE_Q4_1,   TC_DTYPE_Q5_0,  TC_DTYPE_Q5_1,    TC_DTYPE_Q8_0,
        TC_DTYPE_Q2_K,    TC_DTYPE_Q3_K,   TC_DTYPE_Q4_K,  TC_DTYPE_Q5_K,    TC_DTYPE_Q6_K,
        TC_DTYPE_IQ4_NL,  TC_DTYPE_IQ4_XS, TC_DTYPE_TQ1_0, TC_DTYPE_TQ2_0,   TC_DTYPE_MXFP4,
        TC_DTYPE_IQ2_XXS, TC_DTYPE_IQ2_XS, TC_DTYPE_IQ2_S, TC_DTYPE_IQ3_XXS, TC_DTYPE_IQ3_S,
        TC_DTYPE_IQ1_S,   TC_DTYPE_IQ1_M,  TC_DTYPE_F16,   TC_DTYPE_BF16};
    int types[64], n_types = 0, json = 0, use_imat = 0, c;
    uint64_t threads = 1, rows = 256, cols = 4096, reps = 7;
    const char *oracle_path = NULL;
    tc_isa isa = tc_isa_active();
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_TYPE: {
            char *list = strdup(optarg), *save = NULL;
            for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int t = tc_dtype_from_name(tok);
                if (t < 0 || !tc_can_quantize(t) || n_types >= 64) {
                    int rc = cli_usage_error("bench", "cannot benchmark type '%s'", tok);
                    free(list);
                    return rc;
                }
                types[n_types++] = t;
            }
            free(list);
            break;
        }
        case O_ISA: {
            int found = 0;
            for (int i = 0; i < TC_ISA_COUNT; i++)
                if (strcmp(optarg, tc_isa_name((tc_isa)i)) == 0) {
                    isa = (tc_isa)i;
                    found = 1;
                }
            if (!found)
                return cli_usage_error("bench", "unknown --isa '%s'", optarg);
            if (!tc_isa_supported(isa))
                return cli_usage_error("bench", "this CPU (or build) cannot run %s kernels",
                                       optarg);
            break;
        }
        case O_THREADS:
            if (!cli_parse_uint(optarg, &threads) || threads == 0 || threads > 256)
                return cli_usage_error("bench", "bad --threads '%s'", optarg);
            break;
        case O_ROWS:
            if (!cli_parse_uint(optarg, &rows) || rows == 0 || rows > (1u << 20))
                return cli_usage_error("bench", "bad --rows '%s'", optarg);
            break;
        case O_COLS:
            if (!cli_parse_uint(optarg, &cols) || cols == 0 || cols % 256 || cols > (1u << 20))
                return cli_usage_error("bench", "bad --cols '%s' (a multiple of 256)", optarg);
            break;
        case O_REPS:
            if (!cli_parse_uint(optarg, &reps) || reps == 0 || reps > 1000)
                return cli_usage_error("bench", "bad --reps '%s'", optarg);
            break;
        case O_IMAT:
            use_imat = 1;
            break;
        case O_ORACLE:
            oracle_path = optarg;
            break;
        case O_CPU:
            use_cpu_clock = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
            fputs(bench_help, stdout);
            return TC_EXIT_OK;
        default:
            return cli_usage_error("bench", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if (rows * cols > (64u << 20))
        return cli_usage_error("bench", "rows x cols is over 64 Mi elements");
    if (n_types == 0) {
        for (size_t i = 0; i < sizeof default_types / sizeof default_types[0]; i++)
            if (tc_can_quantize(default_types[i]))
                types[n_types++] = default_types[i];
    }
    if ((uint64_t)threads > rows)
        threads = rows;

    void *oh = open_oracle(oracle_path);
    ggml_quantize_chunk_fn oq =
        oh ? (ggml_quantize_chunk_fn)dlsym(oh, "ggml_quantize_chunk") : NULL;
    ggml_quantize_init_fn oinit =
        oh ? (ggml_quantize_init_fn)dlsym(oh, "ggml_quantize_init") : NULL;

    size_t n = (size_t)(rows * cols);
    float *src = malloc(n * sizeof(float)), *deq = malloc(n * sizeof(float));
    float *imat = malloc(cols * sizeof(float));
    uint8_t *dst = malloc(n * 4 + 4096), *odst = malloc(n * 4 + 4096);
    double *times = malloc(3 * reps * sizeof(double));
    double *otimes = times ? times + reps : NULL, *ratios = times ? times + 2 * reps : NULL;
    if (!src || !deq || !imat || !dst || !odst || !times) {
        fprintf(stderr, "%s: out of memory\n", tc_prog);
        return TC_EXIT_IO;
    }
    uint64_t s = 0x1234;
    for (size_t i = 0; i < n; i += 2) { /* Box-Muller gaussian */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((double)(s >> 11) + 1) / 9007199254740994.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (double)(s >> 11) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1));
        src[i] = (float)(r * cos(2 * M_PI * u2));
        if (i + 1 < n)
            src[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
    for (size_t i = 0; i < cols; i++)
        imat[i] = 0.5f + (float)((i * 2654435761u) % 1000) / 1000.0f;

    if (!json) {
        printf(
            "tensorcast bench: %s kernels, %d thread%s, %llu x %llu f32 (%.1f MB), %llu reps%s%s\n",
            tc_isa_name(isa), (int)threads, threads > 1 ? "s" : "", (unsigned long long)rows,
            (unsigned long long)cols, (double)n * 4 / 1e6, (unsigned long long)reps,
            use_imat ? ", imatrix" : "", use_cpu_clock ? ", CPU time" : "");
        printf("oracle: %s\n", oq ? "llama.cpp libggml-base.so ggml_quantize_chunk" : "not found");
        printf("%-8s %12s %12s %12s %8s %6s %14s\n", "type", "quant MB/s", "(median)",
               "oracle MB/s", "ratio", "same", "dequant GB/s");
    }
    json_t *jarr = json_array();
    for (int ti = 0; ti < n_types; ti++) {
        int t = types[ti];
        bench_job base = {.isa = isa,
                          .type = t,
                          .src = src,
                          .dst = dst,
                          .deq = deq,
                          .cols = (int64_t)cols,
                          /* types ggml quantizes only with importance data get it anyway */
                          .imatrix = use_imat || tc_requires_imatrix(t) ? imat : NULL,
                          .oracle = oq};
        double qmin, qmed, omin = 0, omed = 0, rmin = 0, rmed = 0, dmin, dmed;
        int same = -1;
        if (oq) {
            /* rounds alternate the two sides, so a change in the machine's load or clock
             * between them touches both; the ratio is the median of the rounds' ratios */
            if (oinit)
                oinit(t);
            bench_job ob = base;
            ob.dst = odst;
            for (uint64_t r = 0; r < reps; r++) {
                times[r] = run_once(0, (int)threads, base, (int64_t)rows);
                otimes[r] = run_once(1, (int)threads, ob, (int64_t)rows);
                ratios[r] = otimes[r] / times[r];
            }
            min_median(otimes, (int)reps, &omin, &omed);
            min_median(ratios, (int)reps, &rmin, &rmed);
            same = memcmp(dst, odst, (size_t)(tc_row_size(t, (int64_t)cols) * rows)) == 0;
        } else {
            for (uint64_t r = 0; r < reps; r++)
                times[r] = run_once(0, (int)threads, base, (int64_t)rows);
        }
        min_median(times, (int)reps, &qmin, &qmed);
        for (uint64_t r = 0; r < reps; r++)
            times[r] = run_once(2, (int)threads, base, (int64_t)rows);
        min_median(times, (int)reps, &dmin, &dmed);
        double mb = (double)n * 4 / 1e6;
        const char *name = tc_dtype_get(t)->name;
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "type", json_string(name));
            json_object_set_new(o, "isa", json_string(tc_isa_name(isa)));
            json_object_set_new(o, "threads", json_integer((json_int_t)threads));
            json_object_set_new(o, "clock", json_string(use_cpu_clock ? "cpu" : "wall"));
            json_object_set_new(o, "quant_mb_s_best", cli_json_real(mb / qmin));
            json_object_set_new(o, "quant_mb_s_median", cli_json_real(mb / qmed));
            json_object_set_new(o, "dequant_gb_s_best", cli_json_real(mb / 1e3 / dmin));
            json_object_set_new(o, "dequant_gb_s_median", cli_json_real(mb / 1e3 / dmed));
            if (oq) {
                json_object_set_new(o, "oracle_mb_s_best", cli_json_real(mb / omin));
                json_object_set_new(o, "oracle_mb_s_median", cli_json_real(mb / omed));
                json_object_set_new(o, "ratio_median", cli_json_real(rmed));
                json_object_set_new(o, "ratio_min", cli_json_real(rmin));
                json_object_set_new(o, "identical", json_boolean(same));
            }
            json_array_append_new(jarr, o);
        } else if (oq) {
            printf("%-8s %12.1f %12.1f %12.1f %7.1fx %6s %14.2f\n", name, mb / qmin, mb / qmed,
                   mb / omed, rmed, same ? "yes" : "NO", mb / 1e3 / dmed);
        } else {
            printf("%-8s %12.1f %12.1f %12s %8s %6s %14.2f\n", name, mb / qmin, mb / qmed, "-", "-",
                   "-", mb / 1e3 / dmed);
        }
        fflush(stdout);
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "results", json_incref(jarr));
        cli_print_json(o, JSON_REAL_PRECISION(6));
        json_decref(o);
    }
    json_decref(jarr);
    free(src);
    free(deq);
    free(imat);
    free(dst);
    free(odst);
    free(times);
    if (oh)
        dlclose(oh);
    return TC_EXIT_OK;
}
