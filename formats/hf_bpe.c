/*
 * hf_bpe.c - byte-level BPE tokenizer.json (GPT-2 style) for llama.cpp's "gpt2" vocabulary
 * (../shared/HF-TO-GGUF.md §4.3-4.4): tokens and types, merges, and tokenizer.ggml.pre chosen as
 * llama.cpp's converter chooses it -- encode its check text with the model's own tokenizer and
 * look the SHA-256 of the ids up in its table of known pre-tokenizers.
 *
 * The encoder implements what byte-level BPE tokenizers use: added tokens, the NFC normalizer
 * (the check text is NFC-stable, so it is the identity there; other normalizers are refused),
 * Split (PCRE2 with Unicode properties), ByteLevel and Digits pre-tokenizers, BPE with merge
 * ranks and ignore_merges, and the TemplateProcessing / RobertaProcessing post-processors.
 */
#include "hf.h"
#include "tc_impl.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define BPE_MAX_VOCAB  (1u << 24)
#define BPE_MAX_MERGES (1u << 24)
#define BPE_MAX_TOKLEN 4096

/* llama.cpp's converter: the text every BPE tokenizer is asked to encode */
static const char check_text[] =
    "\x0a \x0a\x0a \x0a\x0a\x0a \x09 \x09\x09 \x09\x0a  \x0a   \x0a    \x0a     \x0a\xf0\x9f"
    "\x9a\x80 (normal) \xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f (multiple e"
    "mojis concatenated) \xe2\x9c\x85 \xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 3 33 333 3333 33333 "
    "333333 3333333 33333333 3.3 3..3 3...3 \xe1\x9e\x80\xe1\x9e\xb6\xe1\x9e\x93\xe1\x9f\x8b"
    "\xe1\x9e\x8f\xe1\x9f\x82\xe1\x9e\x96\xe1\x9e\xb7\xe1\x9e\x9f\xe1\x9f\x81\xe1\x9e\x9f\xe1"
    "\x9e\xa2\xe1\x9e\xb6\xe1\x9e\x85\xf0\x9f\x98\x81 \x3f\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8"
    "apple\xe5\xb7\xa5\xe4\xbd\x9c"
    "1314151\xe5\xa4\xa9\xef\xbd\x9e ------======= \xd0\xbd\xd0"
    "\xb5\xd1\x89\xd0\xbe \xd0\xbd\xd0\xb0 \xd0\x91\xd1\x8a\xd0\xbb\xd0\xb3\xd0\xb0\xd1\x80"
    "\xd1\x81\xd0\xba\xd0\xb8 ''''''```````\x22\x22\x22\x22......!!!!!!\x3f\x3f\x3f\x3f\x3f"
    "\x3f I've been 'told he's there, 'RE you sure\x3f 'M not sure I'll make it, 'D you lik"
    "e some tea\x3f We'Ve a'lL";

/* chkhsh -> tokenizer.ggml.pre (conversion/base.py get_vocab_base_pre; the checks are
 * sequential ifs, so for a duplicated hash the last entry wins: we search from the end) */
static const struct {
    const char *hash, *name;
} pre_table[] = {
    {"b6e8e1518dc4305be2fe39c313ed643381c4da5db34a98f6a04c093f8afbe99b", "chatglm-bpe"},
    {"81d72c7348a9f0ebe86f23298d37debe0a5e71149e29bd283904c02262b27516", "chatglm-bpe"},
    {"a1336059768a55c99a734006ffb02203cd450fed003e9a71886c88acf24fdbc2", "glm4"},
    {"9ca2dd618e8afaf09731a7cf6e2105b373ba6a1821559f258b272fe83e6eb902", "glm4"},
    {"cdf5f35325780597efd76153d4d1c16778f766173908894c04afc20108536267", "glm4"},
    {"1431a23e583c97432bc230bff598d103ddb5a1f89960c8f1d1051aaa944d0b35", "minerva-7b"},
    {"7e57df22b1fe23a7b1e1c7f3dc4e3f96d43a4eb0836d0c6bdc3436d7b2f1c664", "hunyuan"},
    {"bba3b3366b646dbdded5dbc42d59598b849371afc42f7beafa914afaa5b70aa6", "hunyuan-dense"},
    {"a6b57017d60e6edb4d88ecc2845188e0eb333a70357e45dcc9b53964a73bbae6", "falcon-h1"},
    {"60476e1243776c4fb1b993dbd7a5f15ac22f83c80afdf425fa5ae01c8d44ef86", "falcon-h1"},
    {"3eda48b4c4dc7de733d1a8b3e3b4a85243dbbf704da2ee9d42c6beced8897896", "falcon-h1"},
    {"48f8e02c0359c0bbdd82f26909171fac1c18a457bb47573ed1fe3bbb2c1cfd4b", "falcon-h1"},
    {"81212dc7cdb7e0c1074ca62c5aeab0d43c9f52b8a737be7b12a777c953027890", "kimi-k2"},
    {"d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c", "qwen2"},
    {"1444df51289cfa8063b96f0e62b1125440111bc79a52003ea14b6eac7016fd5f", "qwen35"},
    {"66b8d4e19ab16c3bfd89bce5d785fb7e0155e8648708a1f42077cb9fe002c273", "grok-2"},
    {"b3d1dd861f1d4c5c0d2569ce36baf3f90fe8a102db3de50dd71ff860d91be3df", "jina-v2-de"},
    {"0fe1cf6eda062318a1af7270f3331a85c539a01778ff948e24388e949c5282f4", "gpt-2"},
    {"9e454714343b69b99b71795c1d27a68c2a1d15dab111f4d353109f966af29da7", "lfm2"},
    {"0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5", "llama-bpe"},
    {"049ecf7629871e3041641907f3de7c733e4dbfdc736f57d882ba0b0845599754", "deepseek-llm"},
    {"347715f544604f9118bb75ed199f68779f423cabb20db6de6f31b908d04d7821", "deepseek-coder"},
    {"8aeee3860c56296a157a1fe2fad249ec40aa59b1bb5709f4ade11c4e6fe652ed", "falcon"},
    {"0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f", "jina-v2-en"},
    {"9d032fcbd5501f4a38150912590928bfb36091efb5df11b8e2124b0390e3fb1e", "falcon3"},
    {"8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7", "bert-bge-large"},
    {"b6dc8df998e1cfbdc4eac8243701a65afe638679230920b50d6f17d81c098166", "olmo"},
    {"35d91631860c815f952d711435f48d356ebac988362536bed955d43bfa436e34", "starcoder"},
    {"3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454", "gpt-2"},
    {"32d85c31273f8019248f2559fed492d929ea28b17e51d81d3bb36fff23ca72b3", "stablelm2"},
    {"6221ad2852e85ce96f791f476e0b390cf9b474c9e3d1362f53a24a06dc8220ff", "refact"},
    {"9c2227e4dd922002fb81bde4fc02b0483ca4f12911410dee2255e4987644e3f8", "command-r"},
    {"d772b220ace2baec124bed8cfafce0ead7d6c38a4b65ef11261cf9d5d62246d1", "tiny_aya"},
    {"52df12b4c8d4176e7481aab4b6e8454d1fd0a210a04a574f6d4e067d10e23c3e", "cohere2moe"},
    {"e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea", "qwen2"},
    {"a8594e3edff7c29c003940395316294b2c623e09894deebbc65f33f1515df79e", "dbrx"},
    {"c7699093ba4255a91e702aa38a596aa81669f3525dae06c2953267dde580f448", "jina-v1-en"},
    {"171aeeedd6fb548d418a7461d053f11b6f1f1fc9b387bd66640d28a4b9f5c643", "jina-v2-es"},
    {"27949a2493fc4a9f53f5b9b029c82689cfbe5d3a1929bb25e043089e28466de6", "jina-v2-de"},
    {"a023e9fdc5a11f034d3ef515b92350e56fb2af1f66c6b6811a4444ea9bf8763d", "jina-v5-nano"},
    {"c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d", "smaug-bpe"},
    {"c7ea5862a53e4272c035c8238367063e2b270d51faa48c0f09e9d5b54746c360", "poro-chat"},
    {"7967bfa498ade6b757b064f31e964dddbb80f8f9a4d68d4ba7998fcf281c531a", "jina-v2-code"},
    {"7fc505bd3104ca1083b150b17d088b59534ede9bde81f0dd2090967d7fe52cee", "viking"},
    {"b53802fb28e26d645c3a310b34bfe07da813026ec7c7716883404d5e0f8b1901", "jais"},
    {"bc5108ee1eb6a3d600cadd065f63190fbd0554dbc9e4bbd6a0d977970afc8d2a", "jais-2"},
    {"7b3e7548e4308f52a76e8229e4e6cc831195d0d1df43aed21ac6c93da05fec5f", "codeshell"},
    {"63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e", "tekken"},
    {"855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249", "smollm"},
    {"3c30d3ad1d6b64202cd222813e7736c2db6e1bd6d67197090fc1211fbc612ae7", "bloom"},
    {"bc01ce58980e1db43859146dc51b1758b3b88729b217a74792e9f8d43e479d21", "gpt3-finnish"},
    {"4e2b24cc4770243d65a2c9ec19770a72f08cffc161adbb73fcbb6b7dd45a0aae", "exaone"},
    {"fcace8b9cac38ce847670c970cd5892031a753a1ef381abd1d9af00f713da085", "phi-2"},
    {"60824e3c0d9401f89943cbb2fff727f0e2d4c545ba4df2d6e4f09a6db0f5b450", "chameleon"},
    {"8b5a93ed704057481f240da0be7e7dca721d7f8f4755263b6807227a2cbeae65", "roberta-bpe"},
    {"ad851be1dba641f2e3711822f816db2c265f788b37c63b4e1aeacb9ee92de8eb", "gigachat"},
    {"d4c8f286ea6b520b3d495c4455483cfa2302c0cfcd4be05d781b6a8a0a7cdaf1", "megrez"},
    {"877081d19cf6996e2c4ff0e1236341e9b7bde288f5311a56a937f0afbbb3aeb5", "deepseek-v3"},
    {"b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5", "deepseek-r1-qwen"},
    {"ccc2ef013c104be7bae2965776d611e1d7a8a2a9c547dd93a682c9a9fc80352e", "gpt-4o"},
    {"7dec86086fcc38b66b7bc1575a160ae21cf705be7718b9d5598190d7c12db76f", "superbpe"},
    {"1994ffd01900cfb37395608534236ecd63f2bd5995d6cb1004dda1af50240f15", "trillion"},
    {"96a5f08be6259352137b512d4157e333e21df7edd3fcd152990608735a65b224", "bailingmoe"},
    {"d353350c764d8c3b39c763113960e4fb4919bea5fbf208a0e3b22e8469dc7406", "llama4"},
    {"0e9433cbbb161f89e264eb32e8e64bfe69e834973ffca5d41d3948a604a3e2a3", "pixtral"},
    {"d5f1dd6f980fec569fb218a81a7658ac45fc56b38c5a0adeb1c232fbe04ef5ec", "seed-coder"},
    {"b0a6b1c0bd5998ebd9df08611efde34a4ff03faed45ae09c43e6b31ebd4b94cf", "a.x-4.0"},
    {"f6791d196f87ce6b56a7d234be618e0d58f8cda3549416635b2bebcd22cd95c4", "midm-2.0"},
    {"169bf0296a13c4d9b7672313f749eb36501d931022de052aad6e36f2bf34dd51", "lfm2"},
    {"2085e1638f6c377a0aa4ead21b27bb4cb941bf800df86ed391011769c1758dfb", "exaone4"},
    {"a1e163ecab2e718a4c829d1148b6e86824ec36163bb71941c3dca9cd5ac25756", "mellum"},
    {"a0b64b4385f123663873756336c085744376d015ff328bb1d901598f63c44152", "modern-bert"},
    {"49fc0303c9e0d2c2c565c510f64b2d9b271276acdcdadff733249eda9f7d59df", "afmoe"},
    {"9b1be57e70d20d9501b2b3186e792d81181ae36ada3903c26f9fea418cf87206", "bailingmoe2"},
    {"53e325976a6e142379c19b09afcae354f2f496f147afa8f9e189a33fe4e3024e", "granite-docling"},
    {"f4f37b6c8eb9ea29b3eac6bb8c8487c5ab7885f8d8022e67edc1c68ce8403e95", "minimax-m2"},
    {"4a2e2abae11ca2b86d570fc5b44be4d5eb5e72cc8f22dd136a94b37da83ab665", "kormo"},
    {"9d70134b369a70e5735009b6de918f7581b5211f7c074d1f89f753aea8248af1", "youtu"},
    {"16389f0a1f51ee53e562ffd51c371dc508639ab0e4261502071836e50e223e91", "solar-open"},
    {"6c81ce329e0802883b22eabab0d3fa48357337ef1ecb45443828bf1f6254833f", "exaone-moe"},
    {"d30d75d9059f1aa2c19359de71047b3ae408c70875e8a3ccf8c5fba56c9d8af4", "qwen35"},
    {"b4b8ca1f9769494fbd956ebc4c249de6131fb277a4a3345a7a92c7dd7a55808d", "joyai-llm"},
    {"e4d54df1ebc1f2b91acd986c5b51aa50837d5faf7c7398e73c1f9e9ee5d19869", "kanana2"},
    {"862f827721df956049dff5ca81a57f29e575280bc622e290d3bf4e35eca29015", "f2llmv2"},
    {"62f6fb0a6fd5098caeabb19b07a5c1099cafc8b9c40eab6ea89ece4ec02fbc57", "sarvam-moe"},
    {"f728162c1315c26e40249849799b4ba3fe584c32084b4795b03eb295e63cb5af", "talkie"},
    {"36f3066e97b7f3994b379aaacde306c1444c6ae84e81a5ae3cd2b7ed3b8c42d4", "minicpm5"},
    {"f241072145675bf8322086f115aebad05e9f869557a238bf2150a2a417d1bf60", "granite-embed-multi-97m"},
    {"789696f5946cc0fc59371f39f6097cafed196b3acded6140432f26bbb1ae1669",
     "granite-embed-multi-311m"},
    {"9dcf830ee9990cdbf78cc523a5f7bd9ad8f3f9890c2d3581d2785ad10f07049d", "mellum2"},
    {"972da7b59cec44d1f0a490a86c96df53859e486e481563e5dddac155013d87ac", "laguna"},
};

/* accepted by llama-vocab.cpp besides the table's names */
static const char *const pre_extra[] = {"default",   "llama3",     "llama-v3", "jina-es", "jina-de",
                                        "llada-moe", "whitespace", "gemma4",   NULL};

const char *tc_hf_pre_for_hash(const char *sha256_hex)
{
    for (size_t i = sizeof pre_table / sizeof pre_table[0]; i-- > 0;)
        if (strcmp(pre_table[i].hash, sha256_hex) == 0)
            return pre_table[i].name;
    return NULL;
}

int tc_hf_pre_known(const char *name)
{
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
        if (strcmp(pre_table[i].name, name) == 0)
            return 1;
    for (size_t i = 0; pre_extra[i]; i++)
        if (strcmp(pre_extra[i], name) == 0)
            return 1;
    return 0;
}

/* ===== merges ===== */

/* The number of merges, after the checks tc_hf_bpe_merges makes. */
static tc_status merges_count(const tc_hf_tok *tok, const char *what, size_t *n, tc_err *e)
{
    *n = 0;
    if (tok->merges_kind == TC_HF_OTHER)
        return tc_err_set(e, TC_E_FORMAT, "%s: model.merges is not a list", what);
    size_t nm = tok->merges_kind == TC_HF_HELD ? tok->merges.n : 0;
    if (nm > BPE_MAX_MERGES)
        return tc_err_set(e, TC_E_LIMIT, "%s: %zu merges", what, nm);
    if (tok->merges_bad < nm)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", what,
                          tok->merges_bad);
    *n = nm;
    return TC_OK;
}

tc_status tc_hf_bpe_merges(const tc_hf_tok *tok, const char *what, tc_str **merges, size_t *n,
                           tc_err *e)
{
    *merges = NULL;
    *n = 0;
    size_t nm = 0;
    TC_TRY(merges_count(tok, what, &nm, e));
    if (nm == 0)
        return TC_OK;
    tc_str *v = tc_malloc(nm * sizeof *v);
    if (v == NULL)
        return tc_err_nomem(e);
    for (size_t i = 0; i < nm; i++)
        v[i] = (tc_str){tc_hf_str(&tok->merges, i), tc_hf_str_len(&tok->merges, i)};
    *merges = v;
    *n = nm;
    return TC_OK;
}

/* ===== the encoder ===== */

typedef struct piece {
    char *s;    /* UTF-8 */
    int64_t id; /* >= 0: an added token, already an id */
} piece;

typedef struct plist {
    piece *p;
    size_t n, cap;
} plist;

static int pl_add(plist *l, const char *s, size_t n, int64_t id)
{
    if (n == 0 && id < 0)
        return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        piece *np = tc_realloc(l->p, nc * sizeof *np);
        if (np == NULL)
            return -1;
        l->p = np;
        l->cap = nc;
    }
    char *c = tc_malloc(n + 1);
    if (c == NULL)
        return -1;
    memcpy(c, s, n);
    c[n] = 0;
    l->p[l->n++] = (piece){c, id};
    return 0;
}

static void pl_free(plist *l)
{
    for (size_t i = 0; i < l->n; i++)
        tc_free(l->p[i].s);
    tc_free(l->p);
    memset(l, 0, sizeof *l);
}

typedef struct bpe {
    const tc_hf_tok *tok;
    tc_hf_index ranks; /* merge -> its rank (the first of equal merges) */
    int ignore_merges;
} bpe;

/* The id of token s[0..n), or -1 (a negative id in the file is not found either). */
static int64_t bpe_id(const bpe *b, const char *s, size_t n)
{
    long i = tc_hf_tok_vocab_find(b->tok, s, n);
    return i < 0 ? -1 : b->tok->vocab_id[i];
}

/* Split each text piece with a regex; behavior as HF tokenizers' SplitDelimiterBehavior. */
static tc_status split_regex(plist *in, const char *pattern, int literal, const char *behavior,
                             int invert, tc_err *e)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0), &errcode,
                                   &erroff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "tokenizer.json: pre-tokenizer regex does not compile at %zu: %s",
                          (size_t)erroff, (const char *)msg);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    plist out = {0};
    tc_status rc = md ? TC_OK : tc_err_nomem(e);
    int iso = strcmp(behavior, "Isolated") == 0, rem = strcmp(behavior, "Removed") == 0,
        prev = strcmp(behavior, "MergedWithPrevious") == 0,
        next = strcmp(behavior, "MergedWithNext") == 0, cont = strcmp(behavior, "Contiguous") == 0;
    if (rc == TC_OK && !(iso || rem || prev || next || cont))
        rc = tc_err_set(e, TC_E_UNSUPPORTED, "tokenizer.json: Split behavior %s", behavior);
    for (size_t i = 0; rc == TC_OK && i < in->n; i++) {
        if (in->p[i].id >= 0) {
            if (pl_add(&out, "", 0, in->p[i].id) != 0)
                rc = tc_err_nomem(e);
            continue;
        }
        const char *s = in->p[i].s;
        size_t len = strlen(s), pos = 0, last = 0;
        /* (start, end, is_match) segments */
        size_t segcap = 64, nseg = 0;
        size_t(*seg)[3] = tc_malloc(segcap * sizeof *seg);
        if (seg == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        while (pos <= len) {
            int r = pcre2_match(re, (PCRE2_SPTR)s, len, pos, 0, md, NULL);
            if (r < 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t a = ov[0], b = ov[1];
            if (b == a) { /* empty match: step one code point */
                pos = a + 1;
                while (pos < len && ((uint8_t)s[pos] & 0xc0) == 0x80)
                    pos++;
                continue;
            }
            if (nseg + 2 > segcap) {
                segcap *= 2;
                void *ns = tc_realloc(seg, segcap * sizeof *seg);
                if (ns == NULL)
                    break;
                seg = ns;
            }
            if (a > last) {
                seg[nseg][0] = last;
                seg[nseg][1] = a;
                seg[nseg++][2] = invert;
            }
            seg[nseg][0] = a;
            seg[nseg][1] = b;
            seg[nseg++][2] = !invert;
            last = pos = b;
        }
        if (last < len) {
            if (nseg + 1 > segcap) {
                segcap += 1;
                void *ns = tc_realloc(seg, segcap * sizeof *seg);
                if (ns)
                    seg = ns;
            }
            seg[nseg][0] = last;
            seg[nseg][1] = len;
            seg[nseg++][2] = invert;
        }
        /* apply the behavior: "match" segments are the delimiters */
        size_t cur0 = 0, cur1 = 0;
        int have = 0;
        for (size_t k = 0; k < nseg && rc == TC_OK; k++) {
            size_t a = seg[k][0], b = seg[k][1];
            int delim = (int)seg[k][2];
            if (iso || (rem && !delim)) {
                if (pl_add(&out, s + a, b - a, -1) != 0)
                    rc = tc_err_nomem(e);
            } else if (prev) {
                if (!have) {
                    cur0 = a;
                    have = 1;
                }
                cur1 = b;
                if (delim) {
                    if (pl_add(&out, s + cur0, cur1 - cur0, -1) != 0)
                        rc = tc_err_nomem(e);
                    have = 0;
                }
            } else if (next) {
                if (delim && have) {
                    if (pl_add(&out, s + cur0, cur1 - cur0, -1) != 0)
                        rc = tc_err_nomem(e);
                    have = 0;
                }
                if (!have) {
                    cur0 = a;
                    have = 1;
                }
                cur1 = b;
            } else if (cont) {
                if (have && delim && seg[k - 1][2]) {
                    cur1 = b;
                    continue;
                }
                if (have && pl_add(&out, s + cur0, cur1 - cur0, -1) != 0)
                    rc = tc_err_nomem(e);
                cur0 = a;
                cur1 = b;
                have = 1;
            }
        }
        if (rc == TC_OK && have && !iso && !rem && pl_add(&out, s + cur0, cur1 - cur0, -1) != 0)
            rc = tc_err_nomem(e);
        tc_free(seg);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc != TC_OK) {
        pl_free(&out);
        return rc;
    }
    pl_free(in);
    *in = out;
    return TC_OK;
}

static const char gpt2_re[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100.. */
static uint32_t byte_cp(uint8_t b)
{
    static uint32_t map[256];
    static int ready;
    if (!ready) {
        int n = 0;
        for (int c = 0; c < 256; c++) {
            int keep = (c >= '!' && c <= '~') || (c >= 0xa1 && c <= 0xac) || (c >= 0xae);
            map[c] = keep ? (uint32_t)c : (uint32_t)(256 + n++);
        }
        ready = 1;
    }
    return map[b];
}

static size_t put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

static tc_status byte_level(plist *l, int add_prefix_space, int use_regex, tc_err *e)
{
    if (use_regex)
        TC_TRY(split_regex(l, gpt2_re, 0, "Isolated", 0, e));
    for (size_t i = 0; i < l->n; i++) {
        if (l->p[i].id >= 0)
            continue;
        const char *s = l->p[i].s;
        size_t n = strlen(s);
        char *o = tc_malloc(n * 2 + 4), *w = o;
        if (o == NULL)
            return tc_err_nomem(e);
        if (add_prefix_space && i == 0 && s[0] != ' ')
            w += put_cp(w, byte_cp(' '));
        for (size_t k = 0; k < n; k++)
            w += put_cp(w, byte_cp((uint8_t)s[k]));
        *w = 0;
        tc_free(l->p[i].s);
        l->p[i].s = o;
    }
    return TC_OK;
}

static tc_status pre_tokenize(const json_t *pt, plist *l, int *byte_done, tc_err *e)
{
    if (pt == NULL || json_is_null(pt))
        return TC_OK;
    const char *ty = json_string_value(json_object_get(pt, "type"));
    if (ty == NULL)
        return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: pre_tokenizer without a type");
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(pt, "pretokenizers");
        for (size_t i = 0; i < json_array_size(a); i++)
            TC_TRY(pre_tokenize(json_array_get(a, i), l, byte_done, e));
        return TC_OK;
    }
    if (strcmp(ty, "Split") == 0) {
        const json_t *pat = json_object_get(pt, "pattern");
        const json_t *re = json_object_get(pat, "Regex"), *lit = json_object_get(pat, "String");
        const char *b = json_string_value(json_object_get(pt, "behavior"));
        if (!(json_is_string(re) || json_is_string(lit)) || b == NULL)
            return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: Split without pattern/behavior");
        return split_regex(l, json_string_value(re ? re : lit), re == NULL, b,
                           json_is_true(json_object_get(pt, "invert")), e);
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        const json_t *ur = json_object_get(pt, "use_regex");
        *byte_done = 1;
        return byte_level(l, json_is_true(json_object_get(pt, "add_prefix_space")),
                          ur == NULL || json_is_true(ur), e);
    }
    if (strcmp(ty, "Digits") == 0) {
        int each = json_is_true(json_object_get(pt, "individual_digits"));
        return split_regex(l, each ? "\\p{N}" : "\\p{N}+", 0, "Isolated", 0, e);
    }
    return tc_err_set(e, TC_E_UNSUPPORTED, "tokenizer.json: pre-tokenizer %s is not supported", ty);
}

static tc_status normalize(const json_t *n, tc_err *e)
{
    if (n == NULL || json_is_null(n))
        return TC_OK;
    const char *ty = json_string_value(json_object_get(n, "type"));
    if (ty && strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(n, "normalizers");
        for (size_t i = 0; i < json_array_size(a); i++)
            TC_TRY(normalize(json_array_get(a, i), e));
        return TC_OK;
    }
    if (ty && strcmp(ty, "NFC") == 0)
        return TC_OK; /* the check text is NFC-stable: the identity there */
    return tc_err_set(e, TC_E_UNSUPPORTED, "tokenizer.json: normalizer %s is not supported",
                      ty ? ty : "?");
}

/* BPE of one byte-level piece: ids appended to *ids. */
static tc_status bpe_word(bpe *b, const char *w, int64_t **ids, size_t *n, size_t *cap, tc_err *e)
{
    size_t len = strlen(w);
    int64_t whole = bpe_id(b, w, len);
    if (b->ignore_merges && whole >= 0) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            int64_t *ni = tc_realloc(*ids, *cap * sizeof *ni);
            if (ni == NULL)
                return tc_err_nomem(e);
            *ids = ni;
        }
        (*ids)[(*n)++] = whole;
        return TC_OK;
    }
    /* symbols: code points as (start, length) */
    size_t ns = 0;
    size_t *st = tc_malloc((len + 1) * sizeof *st), *ln = tc_malloc((len + 1) * sizeof *ln);
    char *buf = tc_malloc(len * 2 + 2);
    if (!st || !ln || !buf) {
        tc_free(st);
        tc_free(ln);
        tc_free(buf);
        return tc_err_nomem(e);
    }
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (i + k < len && ((uint8_t)w[i + k] & 0xc0) == 0x80)
            k++;
        st[ns] = i;
        ln[ns++] = k;
        i += k;
    }
    for (;;) {
        int64_t best = -1;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            size_t la = ln[i], lb = ln[i + 1];
            memcpy(buf, w + st[i], la);
            buf[la] = ' ';
            memcpy(buf + la + 1, w + st[i + 1], lb);
            long r = tc_hf_index_find(&b->ranks, &b->tok->merges, buf, la + 1 + lb);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                bi = i;
            }
        }
        if (best < 0)
            break;
        ln[bi] += ln[bi + 1];
        memmove(st + bi + 1, st + bi + 2, (ns - bi - 2) * sizeof *st);
        memmove(ln + bi + 1, ln + bi + 2, (ns - bi - 2) * sizeof *ln);
        ns--;
    }
    tc_status rc = TC_OK;
    for (size_t i = 0; i < ns && rc == TC_OK; i++) {
        int64_t id = bpe_id(b, w + st[i], ln[i]);
        if (id < 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "tokenizer.json: BPE symbol '%.*s' is not in the vocabulary",
                            (int)ln[i], w + st[i]);
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            int64_t *ni = tc_realloc(*ids, *cap * sizeof *ni);
            if (ni == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            *ids = ni;
        }
        (*ids)[(*n)++] = id;
    }
    tc_free(st);
    tc_free(ln);
    tc_free(buf);
    return rc;
}

/* The ids a post-processor puts around a single sequence. */
static tc_status post_process(const json_t *pp, int64_t **ids, size_t *n, size_t *cap, tc_err *e)
{
    if (pp == NULL || json_is_null(pp))
        return TC_OK;
    const char *ty = json_string_value(json_object_get(pp, "type"));
    if (ty == NULL)
        return TC_OK;
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(pp, "processors");
        for (size_t i = 0; i < json_array_size(a); i++)
            TC_TRY(post_process(json_array_get(a, i), ids, n, cap, e));
        return TC_OK;
    }
    if (strcmp(ty, "ByteLevel") == 0)
        return TC_OK;
    int64_t pre[16], post[16];
    size_t npre = 0, npost = 0;
    if (strcmp(ty, "TemplateProcessing") == 0) {
        const json_t *single = json_object_get(pp, "single");
        const json_t *sp = json_object_get(pp, "special_tokens");
        int after = 0;
        for (size_t i = 0; i < json_array_size(single); i++) {
            const json_t *it = json_array_get(single, i);
            if (json_object_get(it, "Sequence")) {
                after = 1;
                continue;
            }
            const json_t *s = json_object_get(json_object_get(it, "SpecialToken"), "id");
            const json_t *tids = json_object_get(json_object_get(sp, json_string_value(s)), "ids");
            for (size_t k = 0; k < json_array_size(tids); k++) {
                int64_t v = (int64_t)json_integer_value(json_array_get(tids, k));
                if (after && npost < 16)
                    post[npost++] = v;
                else if (!after && npre < 16)
                    pre[npre++] = v;
            }
        }
    } else if (strcmp(ty, "RobertaProcessing") == 0 || strcmp(ty, "BertProcessing") == 0) {
        const json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
        pre[npre++] = (int64_t)json_integer_value(json_array_get(cls, 1));
        post[npost++] = (int64_t)json_integer_value(json_array_get(sep, 1));
    } else {
        return tc_err_set(e, TC_E_UNSUPPORTED, "tokenizer.json: post-processor %s", ty);
    }
    size_t need = *n + npre + npost;
    if (need > *cap) {
        int64_t *ni = tc_realloc(*ids, (need + 1) * sizeof *ni);
        if (ni == NULL)
            return tc_err_nomem(e);
        *ids = ni;
        *cap = need + 1;
    }
    memmove(*ids + npre, *ids, *n * sizeof **ids);
    memcpy(*ids, pre, npre * sizeof *pre);
    memcpy(*ids + npre + *n, post, npost * sizeof *post);
    *n = need;
    return TC_OK;
}

static tc_status bpe_load(bpe *b, const tc_hf_tok *tok, tc_err *e)
{
    memset(b, 0, sizeof *b);
    b->tok = tok;
    const json_t *model = json_object_get(tok->doc, "model");
    const char *mt = json_string_value(json_object_get(model, "type"));
    if (tok->vocab_kind != TC_HF_HELD || (mt && strcmp(mt, "BPE") != 0))
        return tc_err_set(e, TC_E_UNSUPPORTED, "tokenizer.json: model is not BPE with a vocab");
    b->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    if (tok->vocab_nonint < tok->vocab.n)
        return tc_err_set(e, TC_E_FORMAT, "tokenizer.json: vocab['%s'] is not an id",
                          tc_hf_str(&tok->vocab, tok->vocab_nonint));
    size_t nm = 0;
    TC_TRY(merges_count(tok, "tokenizer.json", &nm, e));
    /* a merge's rank is its index in the tokenizer's table */
    if (tc_hf_index_build(&b->ranks, &tok->merges) != 0)
        return tc_err_nomem(e);
    return TC_OK;
}

static void bpe_free(bpe *b)
{
    tc_hf_index_free(&b->ranks);
}

tc_status tc_hf_bpe_encode(const tc_hf_tok *tokenizer, const char *text, size_t len, int32_t **ids,
                           size_t *n_ids, tc_err *e)
{
    *ids = NULL;
    *n_ids = 0;
    bpe b;
    tc_status rc = bpe_load(&b, tokenizer, e);
    if (rc == TC_OK)
        rc = normalize(json_object_get(tokenizer->doc, "normalizer"), e);
    plist l = {0};
    /* added tokens first: longest match at each position */
    const json_t *at = json_object_get(tokenizer->doc, "added_tokens");
    size_t start = 0;
    for (size_t pos = 0; rc == TC_OK && pos <= len;) {
        int64_t best_id = -1;
        size_t best_len = 0;
        for (size_t i = 0; pos < len && i < json_array_size(at); i++) {
            const json_t *x = json_array_get(at, i);
            const char *c = json_string_value(json_object_get(x, "content"));
            size_t cl = c ? strlen(c) : 0;
            if (cl > best_len && cl <= len - pos && memcmp(text + pos, c, cl) == 0) {
                best_len = cl;
                best_id = (int64_t)json_integer_value(json_object_get(x, "id"));
            }
        }
        if (best_id >= 0 || pos == len) {
            if (pl_add(&l, text + start, pos - start, -1) != 0 ||
                (best_id >= 0 && pl_add(&l, "", 0, best_id) != 0))
                rc = tc_err_nomem(e);
            if (pos == len)
                break;
            pos += best_len;
            start = pos;
        } else {
            pos++;
        }
    }
    int byte_done = 0;
    if (rc == TC_OK)
        rc = pre_tokenize(json_object_get(tokenizer->doc, "pre_tokenizer"), &l, &byte_done, e);
    if (rc == TC_OK && !byte_done)
        rc = byte_level(&l, 0, 0, e);
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; rc == TC_OK && i < l.n; i++) {
        if (l.p[i].id >= 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int64_t *nv = tc_realloc(v, cap * sizeof *nv);
                if (nv == NULL) {
                    rc = tc_err_nomem(e);
                    break;
                }
                v = nv;
            }
            v[n++] = l.p[i].id;
        } else if (l.p[i].s[0]) {
            rc = bpe_word(&b, l.p[i].s, &v, &n, &cap, e);
        }
    }
    if (rc == TC_OK)
        rc = post_process(json_object_get(tokenizer->doc, "post_processor"), &v, &n, &cap, e);
    if (rc == TC_OK) {
        *ids = tc_malloc((n ? n : 1) * sizeof **ids);
        if (*ids == NULL)
            rc = tc_err_nomem(e);
        for (size_t i = 0; rc == TC_OK && i < n; i++)
            (*ids)[i] = (int32_t)v[i];
        *n_ids = n;
    }
    tc_free(v);
    pl_free(&l);
    bpe_free(&b);
    return rc;
}

/* sha256 of Python's str(list): "[1, 2, 3]" */
static tc_status check_hash(const tc_hf_tok *tok, char hex[65], tc_err *e)
{
    int32_t *ids = NULL;
    size_t n = 0;
    TC_TRY(tc_hf_bpe_encode(tok, check_text, sizeof check_text - 1, &ids, &n, e));
    size_t cap = n * 12 + 4, k = 0;
    char *s = tc_malloc(cap);
    if (s == NULL) {
        tc_free(ids);
        return tc_err_nomem(e);
    }
    s[k++] = '[';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%d", i ? ", " : "", ids[i]);
    s[k++] = ']';
    unsigned char md[32];
    unsigned mdn = 0;
    EVP_Digest(s, k, md, &mdn, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    tc_free(s);
    tc_free(ids);
    return TC_OK;
}

tc_status tc_hf_bpe_pre(const tc_hf_tok *tokenizer, char hash[65], const char **name, tc_err *e)
{
    TC_TRY(check_hash(tokenizer, hash, e));
    *name = tc_hf_pre_for_hash(hash);
    return TC_OK;
}

/* ===== the vocabulary ===== */

tc_status tc_hf_bpe_vocab(const char *dir, const tc_hf_tok *tok, const json_t *tok_config,
                          uint64_t vocab_size, const char *pre_override, tc_graph *g,
                          uint64_t *n_vocab, tc_err *e)
{
    (void)tok_config;
    *n_vocab = 0;
    const tc_hf_strs *vocab = &tok->vocab;
    const json_t *added = json_object_get(tok->doc, "added_tokens");
    if (tok->vocab_kind != TC_HF_HELD)
        return tc_err_set(e, TC_E_FORMAT, "%s/tokenizer.json: no model.vocab object", dir);
    /* pre-tokenizer first: a tokenizer we cannot name is refused before anything is built */
    const char *pre = pre_override;
    char hash[65] = "";
    if (pre && !tc_hf_pre_known(pre))
        return tc_err_set(e, TC_E_USAGE,
                          "--tokenizer-pre %s: llama.cpp does not know that pre-tokenizer", pre);
    if (pre == NULL) {
        tc_err he = {0};
        if (tc_hf_bpe_pre(tok, hash, &pre, &he) != TC_OK)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s/tokenizer.json: cannot encode llama.cpp's check text to choose "
                              "the pre-tokenizer (%s); pass --tokenizer-pre NAME",
                              dir, he.msg);
        if (pre == NULL)
            return tc_err_set(e, TC_E_UNSUPPORTED,
                              "%s/tokenizer.json: BPE pre-tokenizer not recognized (check-text "
                              "hash %s is not in llama.cpp's table); pass --tokenizer-pre NAME "
                              "(e.g. llama-bpe, qwen2, deepseek-v3, gpt-4o, smollm)",
                              dir, hash);
    }
    uint64_t max_id = 0;
    for (size_t i = 0; i < vocab->n; i++) {
        int64_t id = tok->vocab_id[i];
        if (i >= tok->vocab_nonint || id < 0 || id >= BPE_MAX_VOCAB)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s/tokenizer.json: vocab['%s'] is not an id in 0..%u", dir,
                              tc_hf_str(vocab, i), BPE_MAX_VOCAB - 1);
        if ((uint64_t)id + 1 > max_id)
            max_id = (uint64_t)id + 1;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *id = json_object_get(json_array_get(added, i), "id");
        const json_t *c = json_object_get(json_array_get(added, i), "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= BPE_MAX_VOCAB || !json_is_string(c))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s/tokenizer.json: added_tokens[%zu] needs an id "
                              "and a content",
                              dir, i);
        if ((uint64_t)json_integer_value(id) + 1 > max_id)
            max_id = (uint64_t)json_integer_value(id) + 1;
    }
    uint64_t n = vocab_size ? vocab_size : max_id;
    if (max_id > n)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s: tokenizer.json has ids up to %llu but config.json vocab_size is "
                          "%llu",
                          dir, (unsigned long long)(max_id - 1), (unsigned long long)n);
    const char **text = tc_calloc(n, sizeof *text);
    int32_t *type = tc_calloc(n, sizeof *type);
    char **pads = tc_calloc(n, sizeof *pads);
    tc_status rc = text && type && pads ? TC_OK : tc_err_nomem(e);
    for (size_t i = 0; rc == TC_OK && i < vocab->n; i++) {
        text[tok->vocab_id[i]] = tc_hf_str(vocab, i);
        type[tok->vocab_id[i]] = 1;
    }
    for (size_t i = 0; rc == TC_OK && i < json_array_size(added); i++) {
        const json_t *x = json_array_get(added, i);
        uint64_t id = (uint64_t)json_integer_value(json_object_get(x, "id"));
        const char *c = json_string_value(json_object_get(x, "content"));
        int special = json_is_true(json_object_get(x, "special"));
        size_t cl = strlen(c);
        int ls =
            (cl == 5 && !strcmp(c, "<pad>")) || !strcmp(c, "<mask>") || !strcmp(c, "<2mass>") ||
            !strcmp(c, "[@BOS@]") ||
            (cl >= 4 && !strncmp(c, "<|", 2) && !strcmp(c + cl - 2, "|>")) ||
            (cl >= 8 && !strncmp(c, "<\xef\xbd\x9c", 4) && !strcmp(c + cl - 4, "\xef\xbd\x9c>")) ||
            (cl >= 8 && !strncmp(c, "<unused", 7) && c[cl - 1] == '>');
        if (special || ls) {
            text[id] = c;
            type[id] = 3;
        } else {
            /* user-defined: U+2581 -> space */
            char *o = tc_malloc(cl + 1), *w = o;
            if (o == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            for (const char *r = c; *r;) {
                if ((uint8_t)r[0] == 0xe2 && (uint8_t)r[1] == 0x96 && (uint8_t)r[2] == 0x81) {
                    *w++ = ' ';
                    r += 3;
                } else {
                    *w++ = *r++;
                }
            }
            *w = 0;
            tc_free(pads[id]);
            pads[id] = o;
            text[id] = o;
            type[id] = 4;
        }
    }
    tc_str *s = rc == TC_OK ? tc_malloc((size_t)n * sizeof *s) : NULL;
    if (rc == TC_OK && s == NULL)
        rc = tc_err_nomem(e);
    for (uint64_t i = 0; rc == TC_OK && i < n; i++) {
        if (text[i] == NULL) {
            char b[32];
            snprintf(b, sizeof b, "[PAD%llu]", (unsigned long long)i);
            pads[i] = tc_strdup(b);
            if (pads[i] == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            text[i] = pads[i];
            type[i] = 5;
        }
        s[i] = (tc_str){text[i], strlen(text[i])};
    }
    if (rc == TC_OK)
        rc = tc_graph_set_str(g, "tokenizer.ggml.model", "gpt2", e);
    if (rc == TC_OK)
        rc = tc_graph_set_str(g, "tokenizer.ggml.pre", pre, e);
    if (rc == TC_OK) {
        tc_value tv = {.type = TC_V_ARR, .arr = {TC_V_STR, n, s}};
        rc = tc_graph_set(g, "tokenizer.ggml.tokens", &tv, e);
    }
    if (rc == TC_OK) {
        tc_value yv = {.type = TC_V_ARR, .arr = {TC_V_I32, n, type}};
        rc = tc_graph_set(g, "tokenizer.ggml.token_type", &yv, e);
    }
    for (uint64_t i = 0; pads && i < n; i++)
        tc_free(pads[i]);
    tc_free(pads);
    tc_free(text);
    tc_free(type);
    tc_free(s);
    if (rc == TC_OK)
        *n_vocab = n;
    return rc;
}
