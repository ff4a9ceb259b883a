/*
 * Native decoder for the SGC label-map and colour-map bitstreams (spec/sgc-coding.md, both
 * versions), encoder for the label map, and the two map extractions of sgcformat/maps.py.
 *
 * Why: Pillow thumbnails of .sgc files are bound by entropy-decoding the two maps in pure
 * Python, and encoding an image given its labels by coding its label map twice (plain and
 * mirrored). This module decodes both bitstreams and encodes the label map bit-exactly like
 * the reference implementation (sgcformat/coding/labels.py, colors.py; integer arithmetic
 * only, so files stay canonical whether or not it is built), which stays the single source of
 * truth for every table: the adaptation shifts, the trained initial contexts, the class priors
 * and the quantiser steps are handed in by the Python wrappers on each call. The C code only
 * holds the structure of the bitstreams (context layouts, binarisations, neighbourhoods). The
 * colour encoder's rate-distortion choices are in doubles, evaluated term by term as Python
 * evaluates them (no fused multiply-add), so both encoders write the same bytes.
 *
 * Errors mirror the Python decoder: the same conditions raise sgcformat.errors.BitstreamError
 * with the same messages. Bytes past the end of a payload read as 0, every loop is bounded by
 * the map size, so garbage input can neither crash nor hang the decoder.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *BitstreamError; /* sgcformat.errors.BitstreamError, looked up at import */

/* ---- §2 binary range coder --------------------------------------------------------------- */

#define PROB_BITS 11
#define PROB_ONE 2048u
#define PROB_INIT 1024u
#define TOP (1u << 24)
#define N_SHIFTS 7 /* SHIFTS has one entry per context count 0..6 (§2.1) */

typedef struct {
    uint16_t p; /* probability of a 0 bit, /2048 */
    uint16_t n; /* count of coded bits, saturating at N_SHIFTS - 1 */
} Context;

typedef struct {
    const uint8_t *data;
    Py_ssize_t len;
    Py_ssize_t pos;
    uint32_t range;
    uint32_t code; /* always < range (§2.2), so the shifts below never lose bits */
    uint8_t shifts[N_SHIFTS];
} RangeDecoder;

/* §2.2: bytes past the end of the payload read as zero. */
static inline uint32_t next_byte(RangeDecoder *d)
{
    Py_ssize_t pos = d->pos++;
    return pos < d->len ? d->data[pos] : 0u;
}

/* §2.2 initialisation; -1 with BitstreamError set if the stream is impossible. */
static int rd_init(RangeDecoder *d, const uint8_t *data, Py_ssize_t len, const uint8_t *shifts)
{
    d->data = data;
    d->len = len;
    d->pos = 0;
    d->code = 0;
    for (int i = 0; i < 4; i++)
        d->code = (d->code << 8) | next_byte(d);
    d->range = 0xFFFFFFFFu;
    memcpy(d->shifts, shifts, N_SHIFTS);
    if (d->code == 0xFFFFFFFFu) {
        PyErr_SetString(BitstreamError, "range coder stream starts with an impossible value");
        return -1;
    }
    return 0;
}

/* The bit whose part of the range (split at bound) holds the code, then renormalise (§2.3, §2.4). */
static inline int rd_split(RangeDecoder *d, uint32_t bound)
{
    int bit;
    if (d->code < bound) {
        d->range = bound;
        bit = 0;
    } else {
        d->code -= bound;
        d->range -= bound;
        bit = 1;
    }
    while (d->range < TOP) {
        d->range <<= 8;
        d->code = (d->code << 8) | next_byte(d);
    }
    return bit;
}

/* §2.4 fixed-probability bit; p0 in 1..2047 so (range >> 11) * p0 < 2^32. */
static inline int rd_fixed(RangeDecoder *d, uint32_t p0)
{
    return rd_split(d, (d->range >> PROB_BITS) * p0);
}

static inline uint32_t rd_bypass(RangeDecoder *d, int nbits)
{
    uint32_t value = 0;
    for (int i = 0; i < nbits; i++)
        value = (value << 1) | (uint32_t)rd_fixed(d, PROB_INIT);
    return value;
}

/* §2.3 adaptation: the shift comes from the count before it is incremented. */
static inline void adapt(const uint8_t *shifts, Context *c, int bit)
{
    unsigned s = shifts[c->n];
    if (c->n < N_SHIFTS - 1)
        c->n++;
    if (bit)
        c->p = (uint16_t)(c->p - (c->p >> s));
    else
        c->p = (uint16_t)(c->p + ((PROB_ONE - c->p) >> s));
}

static inline int rd_bit(RangeDecoder *d, Context *c)
{
    int bit = rd_fixed(d, c->p);
    adapt(d->shifts, c, bit);
    return bit;
}

/* §2.3 mean of three contexts: a fixed bit with their mean probability, then update each. */
static inline int rd_bit_mean3(RangeDecoder *d, Context *a, Context *b, Context *c)
{
    int bit = rd_fixed(d, ((uint32_t)a->p + b->p + c->p) / 3u);
    adapt(d->shifts, a, bit);
    adapt(d->shifts, b, bit);
    adapt(d->shifts, c, bit);
    return bit;
}

/* §2.5 bit-tree of depth `depth` over tree[1 .. 2^depth - 1]. */
static uint32_t rd_tree(RangeDecoder *d, Context *tree, int depth)
{
    uint32_t node = 1;
    for (int i = 0; i < depth; i++)
        node = (node << 1) | (uint32_t)rd_bit(d, &tree[node]);
    return node - (1u << depth);
}

/* §2.6: a canonical payload has no unread bytes and no trailing 0x00. */
static int rd_finish(const RangeDecoder *d)
{
    if (d->len > d->pos) {
        PyErr_Format(BitstreamError, "%zd byte(s) after the end of the coded map", d->len - d->pos);
        return -1;
    }
    if (d->len > 0 && d->data[d->len - 1] == 0) {
        PyErr_SetString(BitstreamError, "coded map ends with a 0x00 byte (not canonical)");
        return -1;
    }
    return 0;
}

static int bitlen(uint32_t v)
{
    int n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* ---- §2.7 range encoder ------------------------------------------------------------------- */

typedef struct {
    uint64_t low; /* 33 bits: the carry lives in bit 32 */
    uint32_t range;
    uint8_t cache;
    Py_ssize_t cache_size; /* the cached byte plus the 0xFF bytes waiting on a carry */
    uint8_t *out;
    Py_ssize_t len, cap;
    int no_memory; /* set when the output could not grow; reported by re_finish */
    uint8_t shifts[N_SHIFTS];
} RangeEncoder;

static void re_init(RangeEncoder *e, const uint8_t *shifts)
{
    *e = (RangeEncoder){.range = 0xFFFFFFFFu, .cache_size = 1};
    memcpy(e->shifts, shifts, N_SHIFTS);
}

static inline void re_output(RangeEncoder *e, uint8_t byte)
{
    if (e->len == e->cap) {
        Py_ssize_t cap = e->cap ? 2 * e->cap : 256;
        uint8_t *out = e->no_memory ? NULL : PyMem_Realloc(e->out, (size_t)cap);
        if (!out) {
            e->no_memory = 1;
            return;
        }
        e->out = out;
        e->cap = cap;
    }
    e->out[e->len++] = byte;
}

static inline void re_shift_low(RangeEncoder *e)
{
    if (e->low < 0xFF000000u || e->low > 0xFFFFFFFFu) {
        uint8_t carry = (uint8_t)(e->low >> 32), byte = e->cache;
        do {
            re_output(e, (uint8_t)(byte + carry));
            byte = 0xFF;
        } while (--e->cache_size);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

/* Keep bit's part of the range split at bound (§2.3, §2.4), then renormalise. */
static inline void re_split(RangeEncoder *e, uint32_t bound, int bit)
{
    if (bit) {
        e->low += bound;
        e->range -= bound;
    } else {
        e->range = bound;
    }
    while (e->range < TOP) {
        e->range <<= 8;
        re_shift_low(e);
    }
}

static inline void re_fixed(RangeEncoder *e, uint32_t p0, int bit)
{
    re_split(e, (e->range >> PROB_BITS) * p0, bit);
}

static inline void re_bypass(RangeEncoder *e, int nbits, uint32_t value)
{
    for (int i = nbits - 1; i >= 0; i--)
        re_fixed(e, PROB_INIT, (int)((value >> i) & 1u));
}

static inline void re_bit(RangeEncoder *e, Context *c, int bit)
{
    re_fixed(e, c->p, bit);
    adapt(e->shifts, c, bit);
}

static inline void re_bit_mean3(RangeEncoder *e, Context *a, Context *b, Context *c, int bit)
{
    re_fixed(e, ((uint32_t)a->p + b->p + c->p) / 3u, bit);
    adapt(e->shifts, a, bit);
    adapt(e->shifts, b, bit);
    adapt(e->shifts, c, bit);
}

static void re_tree(RangeEncoder *e, Context *tree, int depth, uint32_t value)
{
    uint32_t node = 1;
    for (int i = depth - 1; i >= 0; i--) {
        int bit = (int)((value >> i) & 1u);
        re_bit(e, &tree[node], bit);
        node = (node << 1) | (uint32_t)bit;
    }
}

/* §2.7 minimal flush: the value in the final interval with the most trailing zero bits, then
 * the payload without LZMA's leading zero byte and without trailing zero bytes. */
static PyObject *re_finish(RangeEncoder *e)
{
    uint64_t high = e->low + e->range - 1;
    int k = 40;
    while (((e->low + ((uint64_t)1 << k) - 1) >> k) << k > high)
        k--;
    e->low = ((e->low + ((uint64_t)1 << k) - 1) >> k) << k;
    for (int i = 0; i < 5; i++)
        re_shift_low(e);
    PyObject *payload = NULL;
    if (e->no_memory) {
        PyErr_NoMemory();
    } else if (e->len < 1 || e->out[0] != 0) {
        PyErr_SetString(PyExc_SystemError, "range coder stream does not start with a zero byte");
    } else {
        Py_ssize_t end = e->len;
        while (end > 1 && e->out[end - 1] == 0)
            end--;
        payload = PyBytes_FromStringAndSize((const char *)e->out + 1, end - 1);
    }
    PyMem_Free(e->out);
    e->out = NULL;
    return payload;
}

/* ---- coding §7: one stream for both maps (version 3) ---------------------------------------
 * The label coder hands its open state to the colour coder through Python as plain tuples:
 * decoder (pos, range, code), encoder (low, range, cache, cache_size, bytes so far). */

static PyObject *rd_state(const RangeDecoder *d)
{
    return Py_BuildValue("(nkk)", d->pos, (unsigned long)d->range, (unsigned long)d->code);
}

/* Continue a stream at a state rd_state returned; -1 with ValueError if it cannot be one. */
static int rd_resume(RangeDecoder *d, const uint8_t *data, Py_ssize_t len, const uint8_t *shifts,
                     PyObject *state)
{
    unsigned long range, code;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(state, "nkk;decoder state: (pos, range, code)", &pos, &range, &code))
        return -1;
    if (pos < 4 || range < TOP || range > 0xFFFFFFFFul || code >= range) {
        PyErr_SetString(PyExc_ValueError, "decoder state: not a state of a range decoder");
        return -1;
    }
    *d = (RangeDecoder){.data = data, .len = len, .pos = pos, .range = (uint32_t)range,
                        .code = (uint32_t)code};
    memcpy(d->shifts, shifts, N_SHIFTS);
    return 0;
}

static PyObject *re_state(const RangeEncoder *e)
{
    if (e->no_memory)
        return PyErr_NoMemory();
    return Py_BuildValue("(Kkkny#)", (unsigned long long)e->low, (unsigned long)e->range,
                         (unsigned long)e->cache, e->cache_size, e->out ? (const char *)e->out : "", e->len);
}

/* Continue a stream at a state re_state returned; -1 with ValueError or MemoryError set. */
static int re_resume(RangeEncoder *e, const uint8_t *shifts, PyObject *state)
{
    unsigned long long low;
    unsigned long range, cache;
    Py_ssize_t cache_size, len;
    const char *out;
    re_init(e, shifts);
    if (!PyArg_ParseTuple(state, "Kkkny#;encoder state: (low, range, cache, cache_size, out)", &low,
                          &range, &cache, &cache_size, &out, &len))
        return -1;
    if (low >> 33 || range < TOP || range > 0xFFFFFFFFul || cache > 0xFF || cache_size < 1 || len < 0) {
        PyErr_SetString(PyExc_ValueError, "encoder state: not a state of a range encoder");
        return -1;
    }
    e->low = low;
    e->range = (uint32_t)range;
    e->cache = (uint8_t)cache;
    e->cache_size = cache_size;
    for (Py_ssize_t i = 0; i < len; i++)
        re_output(e, (uint8_t)out[i]);
    if (e->no_memory) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The length re_finish would give e, leaving e open (a finished copy). -1 with an error set. */
static Py_ssize_t re_finished_length(const RangeEncoder *e)
{
    RangeEncoder copy = *e;
    copy.out = NULL;
    copy.len = copy.cap = 0;
    for (Py_ssize_t i = 0; i < e->len; i++)
        re_output(&copy, e->out[i]);
    PyObject *payload = re_finish(&copy);
    if (!payload)
        return -1;
    Py_ssize_t n = PyBytes_GET_SIZE(payload);
    Py_DECREF(payload);
    return n;
}

/* Initial contexts from (p, n) uint16 pairs handed in by Python; ValueError if one is invalid. */
static int load_contexts(Context *out, const char *pairs, Py_ssize_t pairs_len, Py_ssize_t count,
                         const char *what)
{
    if (pairs_len != count * (Py_ssize_t)sizeof(Context)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd (p, n) uint16 pairs", what, count);
        return -1;
    }
    memcpy(out, pairs, (size_t)pairs_len);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (out[i].p < 1 || out[i].p >= PROB_ONE || out[i].n >= N_SHIFTS) {
            PyErr_Format(PyExc_ValueError, "%s: context %zd is out of range", what, i);
            return -1;
        }
    }
    return 0;
}

static int check_shifts(Py_ssize_t len)
{
    if (len != N_SHIFTS) {
        PyErr_Format(PyExc_ValueError, "shifts: expected %d bytes", N_SHIFTS);
        return -1;
    }
    return 0;
}

/* rows * cols * per_cell elements of `size` bytes, or -1 (MemoryError) if that overflows. */
static Py_ssize_t checked_cells(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t per_cell, size_t size)
{
    if (rows < 1 || cols < 1 || rows > PY_SSIZE_T_MAX / cols / per_cell
        || rows * cols * per_cell > PY_SSIZE_T_MAX / (Py_ssize_t)size) {
        PyErr_NoMemory();
        return -1;
    }
    return rows * cols;
}

/* ---- §3 label map ------------------------------------------------------------------------ */

#define N_MATCH (3 * 1024) /* §3.2: 3 groups x 4 candidate positions x 16 shapes x 16 masks */
#define N_RANK 8
#define N_UNARY_RANKS 2
#define PAD_TOP 2   /* the grid is padded with -1: two rows above, */
#define PAD_LEFT 2  /* two columns to the left */
#define PAD_RIGHT 3 /* and three to the right (§3.3) */

/* The tables both directions take from Python, checked. */
typedef struct {
    Context *match;      /* N_MATCH initial match contexts */
    Context rank[N_RANK];
    uint16_t *prior;     /* per class, or NULL: no class prior */
    const uint8_t *shifts;
    Py_ssize_t cells;    /* of the padded grid */
} LabelTables;

static void free_label_tables(LabelTables *t)
{
    PyMem_Free(t->match);
    PyMem_Free(t->prior);
}

/* Check the arguments shared by encode_labels and decode_labels into t; -1 with ValueError or
 * MemoryError set (free_label_tables either way). Version 3 may code the map transposed (§3.3),
 * so its padded grid has room for either orientation. */
static int load_label_tables(LabelTables *t, Py_ssize_t width, Py_ssize_t height, Py_ssize_t vocab,
                             const char *prior, Py_ssize_t prior_len, const char *match_init,
                             Py_ssize_t match_len, const char *rank_init, Py_ssize_t rank_len,
                             const char *shifts, Py_ssize_t shifts_len, int version)
{
    *t = (LabelTables){.shifts = (const uint8_t *)shifts};
    if (vocab < 1 || vocab > 65535) {
        PyErr_Format(PyExc_ValueError, "vocabulary size must be 1..65535, got %zd", vocab);
        return -1;
    }
    if (prior && prior_len != vocab * 2) {
        PyErr_SetString(PyExc_ValueError, "prior: expected one uint16 per class");
        return -1;
    }
    if (check_shifts(shifts_len) < 0)
        return -1;
    if (version != 1 && version != 3) {
        PyErr_Format(PyExc_ValueError, "label bitstream version must be 1 or 3, got %d", version);
        return -1;
    }
    t->cells = checked_cells(height + PAD_TOP, width + PAD_LEFT + PAD_RIGHT, 1, sizeof(int32_t));
    if (t->cells < 0)
        return -1;
    if (version == 3) {
        Py_ssize_t transposed = checked_cells(width + PAD_TOP, height + PAD_LEFT + PAD_RIGHT, 1,
                                              sizeof(int32_t));
        if (transposed < 0)
            return -1;
        if (transposed > t->cells)
            t->cells = transposed;
    }
    t->match = PyMem_Malloc(N_MATCH * sizeof(Context));
    if (!t->match) {
        PyErr_NoMemory();
        return -1;
    }
    if (load_contexts(t->match, match_init, match_len, N_MATCH, "match_init") < 0
        || load_contexts(t->rank, rank_init, rank_len, N_RANK, "rank_init") < 0)
        return -1;
    if (prior) {
        t->prior = PyMem_Malloc((size_t)vocab * sizeof(uint16_t));
        if (!t->prior) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(t->prior, prior, (size_t)prior_len);
        for (Py_ssize_t c = 0; c < vocab; c++) {
            if (t->prior[c] < 1 || t->prior[c] >= PROB_ONE) {
                PyErr_SetString(PyExc_ValueError, "prior: probabilities must be 1..2047");
                return -1;
            }
        }
    }
    return 0;
}

/* §3.1 probability (/2048) that the next id is absent: exactly what is left to choose from. */
static inline uint32_t presence_p0(int64_t avail, int64_t left)
{
    int64_t p0 = (avail - left) * (int64_t)PROB_ONE / avail;
    return (uint32_t)(p0 < 1 ? 1 : (p0 > PROB_ONE - 1 ? PROB_ONE - 1 : p0));
}

/* §3.1 class set into present[]; returns k, or -1 with BitstreamError set. */
static Py_ssize_t decode_class_set(RangeDecoder *d, uint32_t vocab, const uint16_t *prior,
                                   uint16_t *present)
{
    Py_ssize_t k = 0;
    if (prior) {
        for (uint32_t c = 0; c < vocab; c++)
            if (rd_fixed(d, PROB_ONE - prior[c]))
                present[k++] = (uint16_t)c;
        if (k == 0) {
            PyErr_SetString(BitstreamError, "the class set is empty");
            return -1;
        }
        return k;
    }
    /* k - 1 in Exp-Golomb of order 1, prefix of at most bitlen(V) ones. */
    int limit = bitlen(vocab), e = 0;
    while (rd_bypass(d, 1)) {
        if (++e > limit) {
            PyErr_SetString(BitstreamError, "class count prefix is too long");
            return -1;
        }
    }
    int64_t count = ((int64_t)2 << e) + (int64_t)rd_bypass(d, e + 1) - 1;
    if (count > (int64_t)vocab) {
        PyErr_Format(BitstreamError, "%lld classes present, the vocabulary has %lu",
                     (long long)count, (unsigned long)vocab);
        return -1;
    }
    /* Enumerative code: id c is present with probability left / avail. */
    for (uint32_t c = 0; c < vocab; c++) {
        int64_t left = count - k, avail = (int64_t)vocab - c;
        if (left == 0)
            break;
        if (left == avail) {
            for (uint32_t rest = c; rest < vocab; rest++)
                present[k++] = (uint16_t)rest;
            break;
        }
        if (rd_fixed(d, presence_p0(avail, left)))
            present[k++] = (uint16_t)c;
    }
    return k;
}

/* §3.1 the class set whose members have present[c] == 1 (k of them, k >= 1). */
static void encode_class_set(RangeEncoder *e, uint32_t vocab, const uint16_t *prior,
                             const uint8_t *present, uint32_t k)
{
    if (prior) {
        for (uint32_t c = 0; c < vocab; c++)
            re_fixed(e, PROB_ONE - prior[c], present[c]);
        return;
    }
    /* k - 1 in Exp-Golomb of order 1: u = k + 1 = 2^(ex+1) + rest, ex ones and a zero first. */
    uint32_t u = k + 1;
    int ex = bitlen(u) - 2;
    re_bypass(e, ex + 1, (1u << (ex + 1)) - 2);
    re_bypass(e, ex + 1, u - (2u << ex));
    uint32_t left = k;
    for (uint32_t c = 0; c < vocab && left != 0 && left != vocab - c; c++) {
        re_fixed(e, presence_p0((int64_t)vocab - c, left), present[c]);
        left -= present[c];
    }
}

typedef struct {
    Py_ssize_t k;         /* classes present */
    Py_ssize_t rows, cols, stride;
    Py_ssize_t off[3][4]; /* §3.3 step 5 feature cells of the three match groups, grid offsets */
    int32_t *grid;        /* local class indices, padded with -1 */
    Context *match;       /* N_MATCH */
    Context rank[N_RANK];
    Context *tree;        /* 2^bitlen(k - 1) */
    uint32_t *order;      /* classes by last_seen descending, ties by index (move-to-front list) */
    uint8_t *seen;        /* last_seen[c] >= 0 */
    Py_ssize_t *mark;     /* mark[c] == stamp: c is a candidate or already in others */
    uint32_t *others;
} LabelState;

static void label_state_free(LabelState *s)
{
    PyMem_Free(s->grid);
    PyMem_Free(s->match);
    PyMem_Free(s->tree);
    PyMem_Free(s->order);
    PyMem_Free(s->seen);
    PyMem_Free(s->mark);
    PyMem_Free(s->others);
}

/* Fresh §3.2-3.3 coding state for a rows x cols map of k > 1 classes: the grid all -1, contexts
 * from the tables. -1 with MemoryError set (label_state_free either way). */
static int label_state_init(LabelState *s, Py_ssize_t k, Py_ssize_t rows, Py_ssize_t cols,
                            const LabelTables *t)
{
    static const int groups[3][4][2] = {
        {{0, -2}, {-2, 1}, {-2, -1}, {-1, 2}},   /* WW, NNE, NNW, NEE */
        {{-1, -2}, {-2, 0}, {-2, 2}, {-1, 3}},   /* NWW, NN, NNEE, NEEE */
        {{0, -2}, {-1, -2}, {-2, -1}, {-2, 0}},  /* WW, NWW, NNW, NN */
    };
    const Py_ssize_t tree_size = (Py_ssize_t)1 << bitlen((uint32_t)(k - 1));
    *s = (LabelState){.k = k, .rows = rows, .cols = cols, .stride = cols + PAD_LEFT + PAD_RIGHT};
    for (int g = 0; g < 3; g++)
        for (int b = 0; b < 4; b++)
            s->off[g][b] = groups[g][b][0] * s->stride + groups[g][b][1];
    s->grid = PyMem_Malloc((size_t)t->cells * sizeof(int32_t));
    s->match = PyMem_Malloc(N_MATCH * sizeof(Context));
    s->tree = PyMem_Malloc((size_t)tree_size * sizeof(Context));
    s->order = PyMem_Malloc((size_t)k * sizeof(uint32_t));
    s->others = PyMem_Malloc((size_t)k * sizeof(uint32_t));
    s->seen = PyMem_Calloc((size_t)k, 1);
    s->mark = PyMem_Calloc((size_t)k, sizeof(Py_ssize_t));
    if (!s->grid || !s->match || !s->tree || !s->order || !s->others || !s->seen || !s->mark) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < t->cells; i++)
        s->grid[i] = -1;
    memcpy(s->match, t->match, N_MATCH * sizeof(Context));
    memcpy(s->rank, t->rank, sizeof s->rank);
    for (Py_ssize_t i = 0; i < tree_size; i++)
        s->tree[i] = (Context){PROB_INIT, 0};
    for (Py_ssize_t c = 0; c < k; c++)
        s->order[c] = (uint32_t)c;
    return 0;
}

static inline Py_ssize_t cell_index(const LabelState *s, Py_ssize_t y, Py_ssize_t x)
{
    return (PAD_TOP + y) * s->stride + PAD_LEFT + x;
}

/* §3.3 steps 1-3 at grid index i: *shape, and the distinct neighbour classes into cand[] stably
 * sorted by votes descending. Returns how many there are. */
static inline int neighbourhood(const LabelState *s, Py_ssize_t i, int *shape, int32_t cand[4])
{
    const int32_t *grid = s->grid;
    const int32_t nb[4] = {grid[i - 1], grid[i - s->stride], grid[i - s->stride + 1],
                           grid[i - s->stride - 1]};
    *shape = (nb[0] == nb[1]) | (nb[1] == nb[2]) << 1 | (nb[0] == nb[3]) << 2 | (nb[1] == nb[3]) << 3;
    int votes[4], mc = 0;
    for (int a = 0; a < 4; a++) {
        int32_t c = nb[a];
        int known = c < 0;
        for (int j = 0; j < mc && !known; j++)
            known = cand[j] == c;
        if (known)
            continue;
        int n = 0;
        for (int b = 0; b < 4; b++)
            n += nb[b] == c;
        int j = mc++;
        for (; j > 0 && votes[j - 1] < n; j--) { /* insertion sort: stable */
            cand[j] = cand[j - 1];
            votes[j] = votes[j - 1];
        }
        cand[j] = c;
        votes[j] = n;
    }
    return mc;
}

/* §3.3 steps 4-5: the three contexts of the decision "the cell is candidate c, the j-th". */
static inline void match_contexts(LabelState *s, Py_ssize_t i, int j, int shape, int32_t c,
                                  Context *ctx[3])
{
    const int32_t *grid = s->grid;
    const int base = (j * 16 + shape) << 4;
    for (int g = 0; g < 3; g++) {
        const Py_ssize_t *off = s->off[g];
        int f = (grid[i + off[0]] == c) | (grid[i + off[1]] == c) << 1
                | (grid[i + off[2]] == c) << 2 | (grid[i + off[3]] == c) << 3;
        ctx[g] = &s->match[1024 * g + (base | f)];
    }
}

/* §3.3 step 6: the classes none of the candidates is, in rank order, into s->others: hints
 * first (two cells left, then the row above from two columns right to its end), then the rest
 * most recently seen first. Returns how many; *hints: how many of them are hints. */
static Py_ssize_t escape_order(LabelState *s, Py_ssize_t i, Py_ssize_t x, const int32_t *cand,
                               int mc, Py_ssize_t stamp, Py_ssize_t *hints)
{
    const int32_t *g = s->grid;
    Py_ssize_t m = 0;
    for (int j = 0; j < mc; j++)
        s->mark[cand[j]] = stamp;
    int32_t v = g[i - 2];
    if (v >= 0 && s->mark[v] != stamp) {
        s->mark[v] = stamp;
        s->others[m++] = (uint32_t)v;
    }
    for (Py_ssize_t j = i - s->stride + 2; j < i - s->stride + (s->cols - x); j++) {
        v = g[j];
        if (v >= 0 && s->mark[v] != stamp) {
            s->mark[v] = stamp;
            s->others[m++] = (uint32_t)v;
        }
    }
    *hints = m;
    for (Py_ssize_t j = 0; j < s->k; j++)
        if (s->mark[s->order[j]] != stamp)
            s->others[m++] = s->order[j];
    return m;
}

/* Context of unary rank bin r (§3.2 RANK): the bin, whether others[r] was seen, whether a hint. */
static inline Context *rank_context(LabelState *s, Py_ssize_t r, Py_ssize_t hints)
{
    return &s->rank[4 * r + 2 * s->seen[s->others[r]] + (r < hints)];
}

/* §3.3 step 7: the cell is `value`; keep the move-to-front list in last_seen order. */
static inline void saw(LabelState *s, int32_t value)
{
    s->seen[value] = 1;
    Py_ssize_t j = 0;
    while (s->order[j] != (uint32_t)value)
        j++;
    memmove(s->order + 1, s->order, (size_t)j * sizeof(uint32_t));
    s->order[0] = (uint32_t)value;
}

/* Step 6 decoding: a class none of the neighbours has. Returns it, or -1 with BitstreamError set. */
static int32_t decode_escape(RangeDecoder *d, LabelState *s, Py_ssize_t i, Py_ssize_t x,
                             const int32_t *cand, int mc, Py_ssize_t stamp)
{
    Py_ssize_t h, m = escape_order(s, i, x, cand, mc, stamp, &h);
    for (Py_ssize_t r = 0; r < N_UNARY_RANKS; r++) {
        if (r == m - 1 || !rd_bit(d, rank_context(s, r, h)))
            return (int32_t)s->others[r];
    }
    Py_ssize_t rest = m - N_UNARY_RANKS;
    uint32_t r = rd_tree(d, s->tree, bitlen((uint32_t)(rest - 1)));
    if ((Py_ssize_t)r >= rest) {
        PyErr_SetString(BitstreamError, "label rank outside the classes present");
        return -1;
    }
    return (int32_t)s->others[N_UNARY_RANKS + r];
}

/* Step 6 encoding of `value`, which none of the candidates is. */
static void encode_escape(RangeEncoder *e, LabelState *s, Py_ssize_t i, Py_ssize_t x,
                          const int32_t *cand, int mc, Py_ssize_t stamp, int32_t value)
{
    Py_ssize_t h, m = escape_order(s, i, x, cand, mc, stamp, &h), r = 0;
    while (s->others[r] != (uint32_t)value)
        r++;
    for (Py_ssize_t j = 0; j < N_UNARY_RANKS; j++) {
        if (j == m - 1) /* the last remaining rank is implied */
            return;
        re_bit(e, rank_context(s, j, h), r > j);
        if (r == j)
            return;
    }
    re_tree(e, s->tree, bitlen((uint32_t)(m - N_UNARY_RANKS - 1)), (uint32_t)(r - N_UNARY_RANKS));
}

/* §3.3: every cell in raster order into s->grid; -1 with BitstreamError set on invalid data. */
static int decode_cells(RangeDecoder *d, LabelState *s)
{
    Py_ssize_t position = 0;
    for (Py_ssize_t y = 0; y < s->rows; y++) {
        for (Py_ssize_t x = 0; x < s->cols; x++, position++) {
            Py_ssize_t i = cell_index(s, y, x);
            int shape;
            int32_t cand[4];
            int mc = neighbourhood(s, i, &shape, cand);
            /* One decision per candidate; the last is implied if all k are candidates. */
            int implied = mc == s->k ? mc - 1 : mc;
            int32_t value = -1;
            for (int j = 0; j < mc; j++) {
                Context *ctx[3];
                if (j == implied) {
                    value = cand[j];
                    break;
                }
                match_contexts(s, i, j, shape, cand[j], ctx);
                if (rd_bit_mean3(d, ctx[0], ctx[1], ctx[2])) {
                    value = cand[j];
                    break;
                }
            }
            if (value < 0) {
                value = decode_escape(d, s, i, x, cand, mc, position + 1);
                if (value < 0)
                    return -1;
            }
            s->grid[i] = value;
            saw(s, value);
        }
    }
    return 0;
}

/* §3.3: every cell of the filled s->grid in raster order. */
static void encode_cells(RangeEncoder *e, LabelState *s)
{
    Py_ssize_t position = 0;
    for (Py_ssize_t y = 0; y < s->rows; y++) {
        for (Py_ssize_t x = 0; x < s->cols; x++, position++) {
            Py_ssize_t i = cell_index(s, y, x);
            int shape;
            int32_t cand[4], value = s->grid[i];
            int mc = neighbourhood(s, i, &shape, cand);
            int implied = mc == s->k ? mc - 1 : mc, j = 0;
            for (; j < mc && j != implied; j++) {
                Context *ctx[3];
                int hit = cand[j] == value;
                match_contexts(s, i, j, shape, cand[j], ctx);
                re_bit_mean3(e, ctx[0], ctx[1], ctx[2], hit);
                if (hit)
                    break;
            }
            if (j == mc) /* every candidate missed and none was implied */
                encode_escape(e, s, i, x, cand, mc, position + 1, value);
            saw(s, value);
        }
    }
}

PyDoc_STRVAR(decode_labels_doc,
"decode_labels(data, width, height, vocab_size, prior, match_init, rank_init, shifts[, version])\n"
"    -> bytearray, or (bytearray, state) for version 3\n\n"
"Label map (spec §3) as native-endian uint16 class ids, raster order. prior: uint16 per class\n"
"or None; match_init, rank_init: uint16 (p, n) pairs; shifts: one byte per context count.\n"
"Version 1 (file versions 1 and 2) checks the end of the payload; version 3 reads the transpose\n"
"bit too and returns the open decoder's state, where the colour map goes on (coding §7).");

static PyObject *decode_labels(PyObject *self, PyObject *args)
{
    const char *data, *prior, *match_init, *rank_init, *shifts;
    Py_ssize_t len, prior_len, match_len, rank_len, shifts_len, width, height, vocab;
    int version = 1;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nnnz#y#y#y#|i", &data, &len, &width, &height, &vocab, &prior,
                          &prior_len, &match_init, &match_len, &rank_init, &rank_len, &shifts,
                          &shifts_len, &version))
        return NULL;
    LabelTables t;
    LabelState s = {0};
    uint16_t *present = NULL;
    PyObject *out = NULL;
    if (load_label_tables(&t, width, height, vocab, prior, prior_len, match_init, match_len,
                          rank_init, rank_len, shifts, shifts_len, version) < 0)
        goto done;
    present = PyMem_Malloc((size_t)vocab * sizeof(uint16_t));
    if (!present) {
        PyErr_NoMemory();
        goto done;
    }

    RangeDecoder d;
    if (rd_init(&d, (const uint8_t *)data, len, t.shifts) < 0)
        goto done;
    Py_ssize_t k = decode_class_set(&d, (uint32_t)vocab, t.prior, present);
    if (k < 0)
        goto done;
    out = PyByteArray_FromStringAndSize(NULL, width * height * (Py_ssize_t)sizeof(uint16_t));
    if (!out)
        goto done;
    uint16_t *ids = (uint16_t *)PyByteArray_AS_STRING(out);
    if (k == 1) {
        for (Py_ssize_t i = 0; i < width * height; i++)
            ids[i] = present[0];
    } else {
        /* §3.3: the coded grid is the map, transposed (version 3) and then mirrored as flagged. */
        int mirror = (int)rd_bypass(&d, 1), transpose = version == 3 ? (int)rd_bypass(&d, 1) : 0;
        Py_ssize_t rows = transpose ? width : height, cols = transpose ? height : width;
        if (label_state_init(&s, k, rows, cols, &t) < 0 || decode_cells(&d, &s) < 0)
            goto fail;
        for (Py_ssize_t y = 0; y < height; y++) {
            for (Py_ssize_t x = 0; x < width; x++) {
                Py_ssize_t r = transpose ? x : y, c = transpose ? y : x;
                ids[y * width + x] = present[s.grid[cell_index(&s, r, mirror ? cols - 1 - c : c)]];
            }
        }
    }
    if (version == 3) { /* the stream goes on with the colour map: no end-of-stream check yet */
        PyObject *state = rd_state(&d), *pair = state ? PyTuple_Pack(2, out, state) : NULL;
        Py_XDECREF(state);
        Py_SETREF(out, pair);
        goto done;
    }
    if (rd_finish(&d) == 0)
        goto done;
fail:
    Py_CLEAR(out);
done:
    label_state_free(&s);
    free_label_tables(&t);
    PyMem_Free(present);
    return out;
}

/* Code the §3 decisions of the map ids (rows x cols class ids, local[id] their rank among the k
 * present) into the fresh encoder e: plain, or transposed (version 3) and then mirrored
 * left-right, as flagged. 0, or -1 with MemoryError set (e's buffer is the caller's). */
static int encode_pass(RangeEncoder *e, const uint16_t *ids, Py_ssize_t rows, Py_ssize_t cols,
                       uint32_t vocab, const uint8_t *present, const int32_t *local, uint32_t k,
                       const LabelTables *t, int version, int mirror, int transpose)
{
    encode_class_set(e, vocab, t->prior, present, k);
    if (k < 2)
        return 0;
    re_bypass(e, 1, (uint32_t)mirror);
    if (version == 3)
        re_bypass(e, 1, (uint32_t)transpose);
    Py_ssize_t coded_rows = transpose ? cols : rows, coded_cols = transpose ? rows : cols;
    LabelState s;
    if (label_state_init(&s, k, coded_rows, coded_cols, t) < 0) {
        label_state_free(&s);
        return -1;
    }
    for (Py_ssize_t r = 0; r < coded_rows; r++) {
        int32_t *row = s.grid + cell_index(&s, r, 0);
        for (Py_ssize_t c = 0; c < coded_cols; c++) {
            Py_ssize_t cc = mirror ? coded_cols - 1 - c : c;
            row[c] = local[transpose ? ids[cc * cols + r] : ids[r * cols + cc]];
        }
    }
    encode_cells(e, &s);
    label_state_free(&s);
    return 0;
}

PyDoc_STRVAR(encode_labels_doc,
"encode_labels(ids, width, height, vocab_size, prior, match_init, rank_init, shifts[, version])\n"
"    -> bytes, or the open encoder's state for version 3\n\n"
"Label map payload (spec §3) of native-endian uint16 class ids in raster order, coded in each\n"
"orientation its version has (version 1: plain, mirrored; version 3: plain, mirrored,\n"
"transposed, both), the shortest kept (the first on ties). Tables as for decode_labels.\n"
"Version 3 returns the encoder unfinished, for encode_colors to go on with (coding §7).");

static PyObject *encode_labels(PyObject *self, PyObject *args)
{
    const char *data, *prior, *match_init, *rank_init, *shifts;
    Py_ssize_t len, prior_len, match_len, rank_len, shifts_len, width, height, vocab;
    int version = 1;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nnnz#y#y#y#|i", &data, &len, &width, &height, &vocab, &prior,
                          &prior_len, &match_init, &match_len, &rank_init, &rank_len, &shifts,
                          &shifts_len, &version))
        return NULL;
    LabelTables t;
    uint16_t *ids = NULL;
    uint8_t *present = NULL;
    int32_t *local = NULL;
    PyObject *out = NULL;
    RangeEncoder best = {0}, trial = {0};
    if (load_label_tables(&t, width, height, vocab, prior, prior_len, match_init, match_len,
                          rank_init, rank_len, shifts, shifts_len, version) < 0)
        goto done;
    if (len != width * height * (Py_ssize_t)sizeof(uint16_t)) {
        PyErr_SetString(PyExc_ValueError, "ids: expected width x height uint16");
        goto done;
    }
    ids = PyMem_Malloc((size_t)len); /* an aligned copy */
    present = PyMem_Calloc((size_t)vocab, 1);
    local = PyMem_Malloc((size_t)vocab * sizeof(int32_t));
    if (!ids || !present || !local) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(ids, data, (size_t)len);
    for (Py_ssize_t i = 0; i < width * height; i++) {
        if (ids[i] >= vocab) {
            PyErr_Format(PyExc_ValueError, "ids: class id %u is outside the vocabulary",
                         (unsigned)ids[i]);
            goto done;
        }
        present[ids[i]] = 1;
    }
    uint32_t k = 0;
    for (Py_ssize_t c = 0; c < vocab; c++)
        local[c] = present[c] ? (int32_t)k++ : -1;
    /* Boundaries code differently seen from either side or across: keep the shortest. */
    int orientations = k < 2 ? 1 : version == 3 ? 4 : 2;
    Py_ssize_t best_len = -1;
    for (int o = 0; o < orientations; o++) {
        re_init(&trial, t.shifts);
        if (encode_pass(&trial, ids, height, width, (uint32_t)vocab, present, local, k, &t, version,
                        o & 1, o >> 1) < 0)
            goto done;
        Py_ssize_t n = re_finished_length(&trial);
        if (n < 0)
            goto done;
        if (best_len < 0 || n < best_len) {
            PyMem_Free(best.out);
            best = trial;
            best_len = n;
        } else {
            PyMem_Free(trial.out);
        }
        trial.out = NULL;
    }
    out = version == 3 ? re_state(&best) : re_finish(&best);
done:
    PyMem_Free(best.out);
    PyMem_Free(trial.out);
    free_label_tables(&t);
    PyMem_Free(ids);
    PyMem_Free(present);
    PyMem_Free(local);
    return out;
}

/* ---- §4 colour map ----------------------------------------------------------------------- */

#define N_PLANES 3
#define N_BAND_CLASSES 5 /* LL2, LH2/HL2, HH2, LH1/HL1, HH1 (§4.1) */
#define MAG_UNARY 6      /* §4.4: magnitudes 1..6 in context-coded bins */
#define ESCAPE_PREFIX 11 /* §4.4: at most 11 leading ones in the Exp-Golomb escape */
/* §4.3 contexts, stored one after the other: LOW_ZERO, LOW_MAG, ZERO, MAG. */
#define N_LOW_ZERO 2
#define N_LOW_MAG 12
#define N_ZERO 8
#define N_ZERO_V2 16 /* §6.4: each ZERO context split by the size of the prediction */
#define N_MAG 48
#define N_COLOR_CONTEXTS (N_LOW_ZERO + N_LOW_MAG + N_ZERO + N_MAG)
#define N_COLOR_CONTEXTS_V2 (N_COLOR_CONTEXTS - N_ZERO + N_ZERO_V2)

/* Arithmetic shift right, i.e. floor division by 2^s, without implementation-defined behaviour. */
static inline int32_t asr(int32_t a, int s)
{
    return a >= 0 ? a >> s : ~(~a >> s);
}

/* §4.4 one residual with zero context z and magnitude contexts mag[0..5], then the range check
 * |offset + e| <= limit. Returns 0, or -1 with BitstreamError set. */
static int decode_residual(RangeDecoder *d, Context *z, Context *mag, int32_t offset, int32_t limit,
                           int32_t *e_out)
{
    int32_t e = 0;
    if (rd_bit(d, z)) {
        int bin = 1;
        while (bin <= MAG_UNARY && rd_bit(d, &mag[bin - 1]))
            bin++;
        if (bin <= MAG_UNARY) {
            e = bin;
        } else {
            int n = 0;
            while (rd_bypass(d, 1)) {
                if (++n > ESCAPE_PREFIX) {
                    PyErr_SetString(BitstreamError, "colour residual escape is too long");
                    return -1;
                }
            }
            e = MAG_UNARY + (1 << n) + (int32_t)rd_bypass(d, n);
        }
        if (rd_bypass(d, 1))
            e = -e;
    }
    int32_t v = offset + e;
    if (v > limit || v < -limit) {
        PyErr_SetString(BitstreamError, "colour coefficient outside the quantiser's range");
        return -1;
    }
    *e_out = e;
    return 0;
}

/* §4.4 MED prediction (LOCO-I) of level (y, x) of a band `cols` wide. */
static inline int32_t med(const int32_t *band, Py_ssize_t cols, Py_ssize_t y, Py_ssize_t x)
{
    const int32_t *row = band + y * cols;
    if (y == 0)
        return x ? row[x - 1] : 0;
    if (x == 0)
        return row[-cols];
    int32_t a = row[x - 1], b = row[x - cols], c = row[x - cols - 1];
    int32_t lo = a < b ? a : b, hi = a < b ? b : a;
    if (c >= hi)
        return lo;
    if (c <= lo)
        return hi;
    return a + b - c;
}

/* §4.2 inverse lifting step: low (nl values, stride ls) and high (nh, stride hs) into out
 * (nl + nh values, stride os), symmetric extension at both ends. */
static void unlift(const int32_t *low, Py_ssize_t ls, const int32_t *high, Py_ssize_t hs,
                   int32_t *out, Py_ssize_t os, Py_ssize_t nl, Py_ssize_t nh)
{
    if (nh == 0) {
        for (Py_ssize_t i = 0; i < nl; i++)
            out[i * os] = low[i * ls];
        return;
    }
    for (Py_ssize_t i = 0; i < nl; i++) {
        int32_t left = high[(i > 0 ? i - 1 : 0) * hs], right = high[(i < nh ? i : nh - 1) * hs];
        out[2 * i * os] = low[i * ls] - asr(left + right + 2, 2);
    }
    for (Py_ssize_t i = 0; i < nh; i++) {
        int32_t even = out[2 * i * os];
        int32_t next = 2 * i + 2 < nl + nh ? out[(2 * i + 2) * os] : even; /* x[n] = x[n-2] */
        out[(2 * i + 1) * os] = high[i * hs] + asr(even + next, 1);
    }
}

/* One level of §4.2 synthesis: ll (lr x lc), lh (lr x hc), hl (hr x lc), hh (hr x hc) into out
 * ((lr + hr) x (lc + hc)); vlow and vhigh are scratch of lr and hr rows of lc + hc. */
static void synthesise_level(const int32_t *ll, const int32_t *lh, const int32_t *hl, const int32_t *hh,
                             Py_ssize_t lr, Py_ssize_t hr, Py_ssize_t lc, Py_ssize_t hc,
                             int32_t *vlow, int32_t *vhigh, int32_t *out)
{
    Py_ssize_t c = lc + hc;
    for (Py_ssize_t r = 0; r < lr; r++)
        unlift(ll + r * lc, 1, lh + r * hc, 1, vlow + r * c, 1, lc, hc);
    for (Py_ssize_t r = 0; r < hr; r++)
        unlift(hl + r * lc, 1, hh + r * hc, 1, vhigh + r * c, 1, lc, hc);
    for (Py_ssize_t x = 0; x < c; x++)
        unlift(vlow + x, c, vhigh + x, c, out + x, c, lr, hr);
}

/* Forward lifting step (§4.2, the encoder's): x (n values, stride xs) into low (⌈n/2⌉, stride
 * ls) and high (⌊n/2⌋, stride hs), with the same symmetric extensions as unlift. */
static void lift(const int32_t *x, Py_ssize_t xs, Py_ssize_t n, int32_t *low, Py_ssize_t ls,
                 int32_t *high, Py_ssize_t hs)
{
    const Py_ssize_t nl = (n + 1) / 2, nh = n / 2;
    for (Py_ssize_t i = 0; i < nh; i++) {
        int32_t next = 2 * i + 2 < n ? x[(2 * i + 2) * xs] : x[2 * i * xs]; /* x[n] = x[n-2] */
        high[i * hs] = x[(2 * i + 1) * xs] - asr(x[2 * i * xs] + next, 1);
    }
    for (Py_ssize_t i = 0; i < nl; i++) {
        int32_t s0 = x[2 * i * xs];
        if (nh) {
            int32_t left = high[(i > 0 ? i - 1 : 0) * hs], right = high[(i < nh ? i : nh - 1) * hs];
            s0 += asr(left + right + 2, 2);
        }
        low[i * ls] = s0;
    }
}

/* One level of §4.2 analysis of in (r x c) into ll, lh, hl, hh; vlow, vhigh: scratch of r x c. */
static void analyse_level(const int32_t *in, Py_ssize_t r, Py_ssize_t c, int32_t *ll, int32_t *lh,
                          int32_t *hl, int32_t *hh, int32_t *vlow, int32_t *vhigh)
{
    const Py_ssize_t lr = (r + 1) / 2, hr = r / 2, lc = (c + 1) / 2, hc = c / 2;
    for (Py_ssize_t x = 0; x < c; x++)
        lift(in + x, c, r, vlow + x, c, vhigh + x, c);
    for (Py_ssize_t y = 0; y < lr; y++)
        lift(vlow + y * c, 1, c, ll + y * lc, 1, lh + y * hc, 1);
    for (Py_ssize_t y = 0; y < hr; y++)
        lift(vhigh + y * c, 1, c, hl + y * lc, 1, hh + y * hc, 1);
}

/* floor((2 num + den) / (2 den)) for den > 0: num / den rounded half up (§6). */
static inline int64_t round_div(int64_t num, int64_t den)
{
    int64_t a = 2 * num + den, b = 2 * den;
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* §6 inputs: the label map as local class indices, and scratch for the prediction. */
typedef struct {
    const uint16_t *local; /* lr x lc local class indices, each < k */
    Py_ssize_t lr, lc, k;
    int64_t *sums, *means, *counts; /* k each */
    int64_t *totals;                /* rows x cols */
    int32_t *image, *bands, *vlow, *vhigh; /* rows x cols each; bands: 2 levels of bands */
    int32_t *low_classes;           /* the class of each LL2 cell (§6.3) */
    int32_t *last;                  /* k: the latest LL2 level of each class, while decoding a plane */
    uint8_t *seen;                  /* k: whether `last` holds one */
} LabelPrediction;

/* Cell of an m-cell axis holding the centre of cell i of an n-cell axis (§6). */
static inline Py_ssize_t owner(Py_ssize_t i, Py_ssize_t n, Py_ssize_t m)
{
    return (Py_ssize_t)(((int64_t)2 * i + 1) * m / (2 * (int64_t)n));
}

/* §6: the predicted LH, HL, HH of `level` (1 or 2) given the decoded low band `low` (lowr x
 * lowc) of that level, for a plane of rows x cols; pointers into lp->bands. */
static void predict_level(LabelPrediction *lp, const int32_t *low, Py_ssize_t lowr, Py_ssize_t lowc,
                          int level, Py_ssize_t rows, Py_ssize_t cols, int32_t *out[3])
{
    const Py_ssize_t lr = lp->lr, lc = lp->lc, k = lp->k;
    for (Py_ssize_t c = 0; c < k; c++)
        lp->sums[c] = 0;
    for (Py_ssize_t y = 0; y < lr; y++) {
        const int32_t *row = low + owner(y, lr, lowr) * lowc;
        for (Py_ssize_t x = 0; x < lc; x++)
            lp->sums[lp->local[y * lc + x]] += row[owner(x, lc, lowc)];
    }
    for (Py_ssize_t c = 0; c < k; c++)
        lp->means[c] = round_div(lp->sums[c], lp->counts[c]);
    const Py_ssize_t cells = rows * cols;
    int32_t *n = lp->vlow; /* label cells per colour cell (vlow is free until the analysis) */
    for (Py_ssize_t i = 0; i < cells; i++) {
        lp->totals[i] = 0;
        n[i] = 0;
    }
    for (Py_ssize_t y = 0; y < lr; y++) {
        Py_ssize_t base = owner(y, lr, rows) * cols;
        for (Py_ssize_t x = 0; x < lc; x++) {
            Py_ssize_t i = base + owner(x, lc, cols);
            lp->totals[i] += lp->means[lp->local[y * lc + x]];
            n[i]++;
        }
    }
    for (Py_ssize_t y = 0; y < rows; y++) {
        for (Py_ssize_t x = 0; x < cols; x++) {
            Py_ssize_t i = y * cols + x;
            lp->image[i] = (int32_t)(n[i] ? round_div(lp->totals[i], n[i])
                                          : lp->means[lp->local[owner(y, rows, lr) * lc + owner(x, cols, lc)]]);
        }
    }
    /* Analysis: level 1 of the image, then (level 2) of its LL. */
    int32_t *b = lp->bands;
    Py_ssize_t r = rows, c = cols;
    const int32_t *in = lp->image;
    for (int l = 1; l <= level; l++) {
        const Py_ssize_t nlr = (r + 1) / 2, nhr = r / 2, nlc = (c + 1) / 2, nhc = c / 2;
        int32_t *ll = b, *lh = ll + nlr * nlc, *hl = lh + nlr * nhc, *hh = hl + nhr * nlc;
        analyse_level(in, r, c, ll, lh, hl, hh, lp->vlow, lp->vhigh);
        out[0] = lh;
        out[1] = hl;
        out[2] = hh;
        b = hh + nhr * nhc;
        in = ll;
        r = nlr;
        c = nlc;
    }
}

/* §6.3 the LL2 prediction of (y, x): the neighbour in the same label region when only one of
 * left and up is, else the latest level of the cell's class when neither is, else MED. */
static int32_t low_prediction(const LabelPrediction *lp, const int32_t *band, Py_ssize_t cols,
                              Py_ssize_t y, Py_ssize_t x)
{
    const int32_t *cls = lp->low_classes;
    int32_t c = cls[y * cols + x];
    int has_left = x > 0, has_up = y > 0;
    int32_t left = has_left ? cls[y * cols + x - 1] : -1, up = has_up ? cls[(y - 1) * cols + x] : -1;
    if (has_left && left == c && has_up && up != c)
        return band[y * cols + x - 1];
    if (has_up && up == c && has_left && left != c)
        return band[(y - 1) * cols + x];
    if (left != c && up != c && lp->seen[c])
        return lp->last[c];
    return med(band, cols, y, x);
}

/* §6.3: LL2 cell i got `level`, the latest of its class so far. */
static inline void saw_low(LabelPrediction *lp, Py_ssize_t i, int32_t level)
{
    int32_t c = lp->low_classes[i];
    lp->last[c] = level;
    lp->seen[c] = 1;
}

/* §6.3 the class of each cell of an r x c low band: the most frequent among the label cells whose
 * centres it holds (ties: the smaller), else the class of the label cell holding its centre.
 * order (label cells) and votes (k, zero on entry and exit) are scratch. */
static void sample_classes(LabelPrediction *lp, Py_ssize_t r, Py_ssize_t c, int32_t *out,
                           Py_ssize_t *order, Py_ssize_t *start, int32_t *votes)
{
    const Py_ssize_t lr = lp->lr, lc = lp->lc, n = r * c;
    /* Counting sort of the label cells by the cell holding their centre. */
    for (Py_ssize_t i = 0; i <= n; i++)
        start[i] = 0;
    for (Py_ssize_t y = 0; y < lr; y++)
        for (Py_ssize_t x = 0; x < lc; x++)
            start[owner(y, lr, r) * c + owner(x, lc, c) + 1]++;
    for (Py_ssize_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    for (Py_ssize_t y = 0; y < lr; y++) {
        for (Py_ssize_t x = 0; x < lc; x++) {
            Py_ssize_t cell = owner(y, lr, r) * c + owner(x, lc, c);
            order[start[cell]++] = y * lc + x;
        }
    }
    for (Py_ssize_t i = n; i > 0; i--) /* start[i] is the end of cell i - 1 now; shift back */
        start[i] = start[i - 1];
    start[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t best = -1;
        for (Py_ssize_t j = start[i]; j < start[i + 1]; j++) {
            int32_t cls = lp->local[order[j]];
            votes[cls]++;
            if (best < 0 || votes[cls] > votes[best] || (votes[cls] == votes[best] && cls < best))
                best = cls;
        }
        for (Py_ssize_t j = start[i]; j < start[i + 1]; j++)
            votes[lp->local[order[j]]] = 0;
        if (best < 0)
            best = lp->local[owner(i / c, r, lr) * lc + owner(i % c, c, lc)];
        out[i] = best;
    }
}

typedef struct {
    RangeDecoder *d;
    Context *low_zero, *low_mag, *zero, *mag;
    const int32_t *steps, *limits; /* per plane, per band class (§4.1) */
    LabelPrediction *lp;           /* version 2 (§6), or NULL */
} ColorState;

/* Decode one detail band (§4.4) of `count` levels into dequantised coefficients, added to the
 * prediction `pred` (version 2) or to 0 (pred NULL). */
static int decode_detail(ColorState *s, int plane, int ctx, int band, int32_t *out, Py_ssize_t count,
                         const int32_t *pred)
{
    int32_t step = s->steps[plane * N_BAND_CLASSES + band];
    int32_t limit = s->limits[plane * N_BAND_CLASSES + band];
    for (Py_ssize_t i = 0; i < count; i++) {
        int32_t e, p = pred ? asr(3 * pred[i], 2) : 0;
        /* Version 2: zero context 2 ctx + [2 |p| >= step] (§6.4). */
        Context *z = pred ? &s->zero[2 * ctx + (2 * (p < 0 ? -p : p) >= step)] : &s->zero[ctx];
        if (decode_residual(s->d, z, &s->mag[MAG_UNARY * ctx], 0, limit, &e) < 0)
            return -1;
        out[i] = e * step + p;
    }
    return 0;
}

/* §4.3-4.5: decode plane `plane` (all seven bands) and synthesise it into out (rows x cols).
 * work holds rows * cols + 2 * rows * cols + ... int32 scratch (see decode_colors). */
static int decode_plane(ColorState *s, int plane, Py_ssize_t rows, Py_ssize_t cols, int32_t *work,
                        int32_t *out)
{
    const int kind = plane < 1 ? plane : 1;
    /* Band shapes (§4.2): level 1 splits rows x cols, level 2 splits level 1's LL. */
    const Py_ssize_t r1l = (rows + 1) / 2, r1h = rows / 2, c1l = (cols + 1) / 2, c1h = cols / 2;
    const Py_ssize_t r2l = (r1l + 1) / 2, r2h = r1l / 2, c2l = (c1l + 1) / 2, c2h = c1l / 2;
    int32_t *ll2 = work, *lh2 = ll2 + r2l * c2l, *hl2 = lh2 + r2l * c2h, *hh2 = hl2 + r2h * c2l;
    int32_t *lh1 = hh2 + r2h * c2h, *hl1 = lh1 + r1l * c1h, *hh1 = hl1 + r1h * c1l;
    int32_t *ll1 = hh1 + r1h * c1h, *vlow = ll1 + r1l * c1l, *vhigh = vlow + r1l * cols;

    /* LL2: MED-predicted levels (version 2: §6.3), then dequantised. */
    int32_t limit = s->limits[plane * N_BAND_CLASSES], step = s->steps[plane * N_BAND_CLASSES];
    LabelPrediction *lp = s->lp;
    if (lp)
        memset(lp->seen, 0, (size_t)lp->k);
    for (Py_ssize_t y = 0; y < r2l; y++) {
        for (Py_ssize_t x = 0; x < c2l; x++) {
            int32_t pred = lp ? low_prediction(lp, ll2, c2l, y, x) : med(ll2, c2l, y, x), e;
            if (decode_residual(s->d, &s->low_zero[kind], &s->low_mag[MAG_UNARY * kind], pred, limit,
                                &e) < 0)
                return -1;
            ll2[y * c2l + x] = pred + e;
            if (lp)
                saw_low(lp, y * c2l + x, pred + e);
        }
    }
    for (Py_ssize_t i = 0; i < r2l * c2l; i++)
        ll2[i] *= step;
    /* Detail bands, level 2 then 1, each LH, HL, HH; ctx = 4 kind + 2 (level - 1) + [HH]. */
    int32_t *pred[3] = {NULL, NULL, NULL};
    if (s->lp)
        predict_level(s->lp, ll2, r2l, c2l, 2, rows, cols, pred);
    if (decode_detail(s, plane, 4 * kind + 2, 1, lh2, r2l * c2h, pred[0]) < 0
        || decode_detail(s, plane, 4 * kind + 2, 1, hl2, r2h * c2l, pred[1]) < 0
        || decode_detail(s, plane, 4 * kind + 3, 2, hh2, r2h * c2h, pred[2]) < 0)
        return -1;
    synthesise_level(ll2, lh2, hl2, hh2, r2l, r2h, c2l, c2h, vlow, vhigh, ll1);
    if (s->lp)
        predict_level(s->lp, ll1, r1l, c1l, 1, rows, cols, pred);
    if (decode_detail(s, plane, 4 * kind, 3, lh1, r1l * c1h, pred[0]) < 0
        || decode_detail(s, plane, 4 * kind, 3, hl1, r1h * c1l, pred[1]) < 0
        || decode_detail(s, plane, 4 * kind + 1, 4, hh1, r1h * c1h, pred[2]) < 0)
        return -1;
    synthesise_level(ll1, lh1, hl1, hh1, r1l, r1h, c1l, c1h, vlow, vhigh, out);
    return 0;
}

static inline uint8_t clip8(int32_t v)
{
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

PyDoc_STRVAR(decode_colors_doc,
"decode_colors(data, width, height, steps, limits, init, shifts) -> bytearray\n\n"
"Colour map (spec §4) as RGB bytes, raster order. steps, limits: 15 native int32 (plane-major,\n"
"band classes LL2, LH2/HL2, HH2, LH1/HL1, HH1); init: 70 uint16 initial probabilities of\n"
"LOW_ZERO, LOW_MAG, ZERO, MAG; shifts: one byte per context count.");

/* Every version: lp is NULL (version 1) or the label map's prediction state (versions 2, 3);
 * state is NULL, or where the label map left the stream (version 3, coding §7). */
static PyObject *color_map(const char *data, Py_ssize_t len, Py_ssize_t width, Py_ssize_t height,
                           const char *steps, Py_ssize_t steps_len, const char *limits,
                           Py_ssize_t limits_len, const char *init, Py_ssize_t init_len,
                           const char *shifts, Py_ssize_t shifts_len, LabelPrediction *lp,
                           PyObject *state)
{
    const Py_ssize_t n_steps = N_PLANES * N_BAND_CLASSES;
    if (steps_len != n_steps * (Py_ssize_t)sizeof(int32_t)
        || limits_len != n_steps * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "steps, limits: expected 15 int32 each");
        return NULL;
    }
    const int n_zero = lp ? N_ZERO_V2 : N_ZERO, n_contexts = lp ? N_COLOR_CONTEXTS_V2 : N_COLOR_CONTEXTS;
    if (init_len != n_contexts * (Py_ssize_t)sizeof(uint16_t)) {
        PyErr_Format(PyExc_ValueError, "init: expected %d uint16 probabilities", n_contexts);
        return NULL;
    }
    if (check_shifts(shifts_len) < 0)
        return NULL;
    /* Scratch: the seven bands (rows x cols in all), LL1 and the two half-height row buffers
     * (under 2 rows x cols), then the three synthesised planes. */
    Py_ssize_t cells = checked_cells(height, width, 8, sizeof(int32_t));
    if (cells < 0)
        return NULL;

    int32_t step_table[N_PLANES * N_BAND_CLASSES], limit_table[N_PLANES * N_BAND_CLASSES];
    memcpy(step_table, steps, sizeof step_table);
    memcpy(limit_table, limits, sizeof limit_table);
    for (Py_ssize_t i = 0; i < n_steps; i++) {
        if (step_table[i] < 1 || step_table[i] > 65535 || limit_table[i] < 0 || limit_table[i] > 65535) {
            PyErr_SetString(PyExc_ValueError, "steps, limits: out of range");
            return NULL;
        }
    }
    Context contexts[N_COLOR_CONTEXTS_V2];
    for (int i = 0; i < n_contexts; i++) {
        uint16_t p;
        memcpy(&p, init + i * sizeof(uint16_t), sizeof p);
        if (p < 1 || p >= PROB_ONE) {
            PyErr_SetString(PyExc_ValueError, "init: probabilities must be 1..2047");
            return NULL;
        }
        contexts[i] = (Context){p, lp ? N_SHIFTS - 1 : 0}; /* §6.4: version 2 starts seasoned */
    }

    RangeDecoder d;
    if (state ? rd_resume(&d, (const uint8_t *)data, len, (const uint8_t *)shifts, state) < 0
              : rd_init(&d, (const uint8_t *)data, len, (const uint8_t *)shifts) < 0)
        return NULL;
    ColorState s = {&d, contexts, contexts + N_LOW_ZERO, contexts + N_LOW_ZERO + N_LOW_MAG,
                    contexts + N_LOW_ZERO + N_LOW_MAG + n_zero, step_table, limit_table, lp};
    int32_t *work = PyMem_Malloc((size_t)cells * 6 * sizeof(int32_t));
    if (!work)
        return PyErr_NoMemory();
    int32_t *planes = work + cells * 3;
    PyObject *out = NULL;
    for (int p = 0; p < N_PLANES; p++)
        if (decode_plane(&s, p, height, width, work, planes + p * cells) < 0)
            goto done;
    if (rd_finish(&d) < 0)
        goto done;
    out = PyByteArray_FromStringAndSize(NULL, cells * 3);
    if (!out)
        goto done;
    uint8_t *rgb = (uint8_t *)PyByteArray_AS_STRING(out);
    /* §4.5 inverse YCoCg-R, clipped to 0..255. */
    for (Py_ssize_t i = 0; i < cells; i++) {
        int32_t y = planes[i], co = planes[cells + i], cg = planes[2 * cells + i];
        int32_t t = y - asr(cg, 1), g = cg + t, b = t - asr(co, 1), r = b + co;
        rgb[3 * i] = clip8(r);
        rgb[3 * i + 1] = clip8(g);
        rgb[3 * i + 2] = clip8(b);
    }
done:
    PyMem_Free(work);
    return out;
}

static PyObject *decode_colors(PyObject *self, PyObject *args)
{
    const char *data, *steps, *limits, *init, *shifts;
    Py_ssize_t len, steps_len, limits_len, init_len, shifts_len, width, height;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nny#y#y#y#", &data, &len, &width, &height, &steps, &steps_len,
                          &limits, &limits_len, &init, &init_len, &shifts, &shifts_len))
        return NULL;
    return color_map(data, len, width, height, steps, steps_len, limits, limits_len, init, init_len,
                     shifts, shifts_len, NULL, NULL);
}

PyDoc_STRVAR(decode_colors_v2_doc,
"decode_colors_v2(data, width, height, steps, limits, init, shifts, local, label_width,\n"
"                 label_height, k[, state]) -> bytearray\n\n"
"Version-2 colour map (spec §6): as decode_colors, with the detail bands predicted from the\n"
"label map given as local class indices (uint16, each < k, every one of 0..k-1 present).\n"
"With state (decode_labels' version 3 result) it goes on in the label map's stream (coding §7).");

static void prediction_free(LabelPrediction *lp)
{
    PyMem_Free(lp->sums);
    PyMem_Free(lp->image);
    PyMem_Free((void *)lp->local);
    PyMem_Free(lp->seen);
}

/* §6 state for a width x height colour map and the label map `local` (lr x lc uint16 local class
 * indices, each of 0..k-1 occurring); 0, or -1 with an exception set (free it either way). */
static int prediction_init(LabelPrediction *lp, const char *local, Py_ssize_t local_len, Py_ssize_t lc,
                           Py_ssize_t lr, Py_ssize_t k, Py_ssize_t width, Py_ssize_t height)
{
    *lp = (LabelPrediction){NULL, lr, lc, k, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    Py_ssize_t label_cells = checked_cells(lr, lc, 1, sizeof(uint16_t));
    Py_ssize_t cells = checked_cells(height, width, 8, sizeof(int64_t));
    if (label_cells < 0 || cells < 0)
        return -1;
    if (local_len != label_cells * (Py_ssize_t)sizeof(uint16_t) || k < 1 || k > 65536) {
        PyErr_SetString(PyExc_ValueError, "local: expected label_width x label_height uint16, k 1..65536");
        return -1;
    }
    /* LL2's shape (§4.2). */
    const Py_ssize_t r2 = ((height + 1) / 2 + 1) / 2, c2 = ((width + 1) / 2 + 1) / 2;
    /* sums, means, counts (k each) and totals (cells); the image, the bands of both levels (under
     * 2 cells), vlow, vhigh, LL2's classes (cells), last and the votes (k) (int32); an aligned
     * copy of local; seen; the label cells' order and the cells' starts for sample_classes. */
    int64_t *wide = PyMem_Malloc(((size_t)k * 3 + (size_t)cells) * sizeof(int64_t));
    int32_t *narrow = PyMem_Calloc((size_t)cells * 6 + (size_t)k * 2, sizeof(int32_t));
    uint16_t *classes = PyMem_Malloc((size_t)label_cells * sizeof(uint16_t));
    uint8_t *seen = PyMem_Malloc((size_t)k);
    lp->sums = wide;
    lp->image = narrow;
    lp->local = classes;
    lp->seen = seen;
    Py_ssize_t *order = PyMem_Malloc(((size_t)label_cells + (size_t)r2 * c2 + 1) * sizeof(Py_ssize_t));
    if (!wide || !narrow || !classes || !order || !seen) {
        PyMem_Free(order);
        PyErr_NoMemory();
        return -1;
    }
    lp->means = wide + k;
    lp->counts = wide + 2 * k;
    lp->totals = wide + 3 * k;
    lp->bands = narrow + cells;
    lp->vlow = narrow + 3 * cells;
    lp->vhigh = narrow + 4 * cells;
    lp->low_classes = narrow + 5 * cells;
    lp->last = narrow + 6 * cells;
    memcpy(classes, local, (size_t)local_len);
    for (Py_ssize_t c = 0; c < k; c++)
        lp->counts[c] = 0;
    for (Py_ssize_t i = 0; i < label_cells; i++) {
        if (classes[i] >= k) {
            PyErr_SetString(PyExc_ValueError, "local: class index >= k");
            PyMem_Free(order);
            return -1;
        }
        lp->counts[classes[i]]++;
    }
    for (Py_ssize_t c = 0; c < k; c++) {
        if (!lp->counts[c]) {
            PyErr_SetString(PyExc_ValueError, "local: every class index 0..k-1 must occur");
            PyMem_Free(order);
            return -1;
        }
    }
    sample_classes(lp, r2, c2, lp->low_classes, order, order + label_cells, lp->last + k);
    PyMem_Free(order);
    return 0;
}

static PyObject *decode_colors_v2(PyObject *self, PyObject *args)
{
    const char *data, *steps, *limits, *init, *shifts, *local;
    Py_ssize_t len, steps_len, limits_len, init_len, shifts_len, width, height, local_len, lc, lr, k;
    PyObject *state = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nny#y#y#y#y#nnn|O!", &data, &len, &width, &height, &steps,
                          &steps_len, &limits, &limits_len, &init, &init_len, &shifts, &shifts_len,
                          &local, &local_len, &lc, &lr, &k, &PyTuple_Type, &state))
        return NULL;
    LabelPrediction lp;
    PyObject *out = NULL;
    if (prediction_init(&lp, local, local_len, lc, lr, k, width, height) == 0)
        out = color_map(data, len, width, height, steps, steps_len, limits, limits_len, init, init_len,
                        shifts, shifts_len, &lp, state);
    prediction_free(&lp);
    return out;
}

/* ---- colour encoder (colors.encode, both versions) ------------------------------------------ */

/* The level choice (§4.6) uses doubles exactly as colors._BandCoder does, term by term, so that
 * both encoders write the same bytes; contraction into fused multiply-adds would round
 * differently, hence it is off for this part. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef struct {
    RangeEncoder *e;
    Context *low_zero, *low_mag, *zero, *mag;
    const int32_t *steps;  /* per plane, per band class (§4.1) */
    const double *gains;   /* per plane, per band class: the plane's RGB weight x the band's gain */
    const double *log2;    /* -log2(p / 2048) for p = 0..2047 (entry 0 unused) */
    double lam;            /* λ · Δ² */
    LabelPrediction *lp;   /* version 2, or NULL */
} ColorEncoder;

/* colors._bits: the cost of residual e with zero probability p and magnitude contexts mag. */
static double residual_bits(const ColorEncoder *ce, uint32_t p, const Context *mag, int32_t e)
{
    const double *lg = ce->log2;
    if (!e)
        return lg[p];
    double bits = lg[PROB_ONE - p] + 1;
    int32_t m = e < 0 ? -e : e;
    for (int i = 1; i <= MAG_UNARY; i++) {
        uint32_t pm = mag[i - 1].p;
        if (m == i)
            return bits + lg[pm];
        bits += lg[PROB_ONE - pm];
    }
    return bits + (double)(2 * bitlen((uint32_t)(m - MAG_UNARY))) - 1.0; /* as Python evaluates it */
}

/* colors._BandCoder._choose, then the residual's bits (colors._value). */
static int32_t encode_residual(ColorEncoder *ce, Context *z, Context *mag, double target, double dscale,
                               int zero_ok)
{
    double fl = floor(target);
    int32_t lo = (int32_t)fl, cands[3] = {lo, lo + 1, 0};
    int n = zero_ok && lo != -1 && lo != 0 ? 3 : 2;
    double best_cost = INFINITY;
    int32_t e = 0;
    for (int i = 0; i < n; i++) {
        double err = target - (double)cands[i];
        double cost = dscale * (err * err) + ce->lam * residual_bits(ce, z->p, mag, cands[i]);
        if (cost < best_cost) {
            best_cost = cost;
            e = cands[i];
        }
    }
    re_bit(ce->e, z, e != 0);
    if (e) {
        uint32_t m = (uint32_t)(e < 0 ? -e : e);
        int bin = 1;
        for (; bin <= MAG_UNARY; bin++) {
            re_bit(ce->e, &mag[bin - 1], m != (uint32_t)bin);
            if (m == (uint32_t)bin)
                break;
        }
        if (bin > MAG_UNARY) { /* Exp-Golomb escape of m - 6 >= 1 */
            uint32_t v = m - MAG_UNARY;
            int nb = bitlen(v) - 1;
            re_bypass(ce->e, nb + 1, (1u << (nb + 1)) - 2);
            re_bypass(ce->e, nb, v - (1u << nb));
        }
        re_bypass(ce->e, 1, e < 0);
    }
    return e;
}

/* One detail band: coefficients coef (count), prediction pred (or NULL), into recon. */
static void encode_detail(ColorEncoder *ce, int plane, int ctx, int band, const int32_t *coef,
                          const int32_t *pred, int32_t *recon, Py_ssize_t count)
{
    const int32_t step = ce->steps[plane * N_BAND_CLASSES + band];
    const double dscale = ce->gains[plane * N_BAND_CLASSES + band] * (double)step * (double)step;
    for (Py_ssize_t i = 0; i < count; i++) {
        int32_t p = pred ? asr(3 * pred[i], 2) : 0;
        double value = (double)(coef[i] - p) / (double)step;
        Context *z = pred ? &ce->zero[2 * ctx + (2 * (p < 0 ? -p : p) >= step)] : &ce->zero[ctx];
        int32_t e = encode_residual(ce, z, &ce->mag[MAG_UNARY * ctx], value, dscale, fabs(value) <= 1);
        recon[i] = e * step + p;
    }
}

/* Forward YCoCg-R of plane `plane` of rgb (cells pixels) into out. */
static void ycocg_plane(const uint8_t *rgb, Py_ssize_t cells, int plane, int32_t *out)
{
    for (Py_ssize_t i = 0; i < cells; i++) {
        int32_t r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
        int32_t co = r - b, t = b + asr(co, 1), cg = g - t, y = t + asr(cg, 1);
        out[i] = plane == 0 ? y : (plane == 1 ? co : cg);
    }
}

/* Encode plane `plane` of rows x cols (§4.3-4.6, §6); work: 6 rows x cols int32. */
static void encode_plane(ColorEncoder *ce, int plane, const int32_t *in, Py_ssize_t rows, Py_ssize_t cols,
                         int32_t *work)
{
    const int kind = plane < 1 ? plane : 1;
    const Py_ssize_t r1l = (rows + 1) / 2, r1h = rows / 2, c1l = (cols + 1) / 2, c1h = cols / 2;
    const Py_ssize_t r2l = (r1l + 1) / 2, r2h = r1l / 2, c2l = (c1l + 1) / 2, c2h = c1l / 2;
    /* The analysis (coefficients), then the reconstruction the decoder will have. */
    int32_t *ll1 = work, *lh1 = ll1 + r1l * c1l, *hl1 = lh1 + r1l * c1h, *hh1 = hl1 + r1h * c1l;
    int32_t *ll2 = hh1 + r1h * c1h, *lh2 = ll2 + r2l * c2l, *hl2 = lh2 + r2l * c2h, *hh2 = hl2 + r2h * c2l;
    int32_t *vlow = work + 2 * rows * cols, *vhigh = vlow + rows * cols;
    int32_t *rec = work + 4 * rows * cols; /* LL2, its details, LL1 (under 2 rows x cols) */
    int32_t *rll2 = rec, *rlh2 = rll2 + r2l * c2l, *rhl2 = rlh2 + r2l * c2h, *rhh2 = rhl2 + r2h * c2l;
    int32_t *rll1 = rhh2 + r2h * c2h;
    int32_t *rlh1 = vlow, *rhl1 = rlh1 + r1l * c1h, *rhh1 = rhl1 + r1h * c1l; /* vlow is free then */
    analyse_level(in, rows, cols, ll1, lh1, hl1, hh1, vlow, vhigh);
    analyse_level(ll1, r1l, c1l, ll2, lh2, hl2, hh2, vlow, vhigh);

    LabelPrediction *lp = ce->lp;
    const int32_t step = ce->steps[plane * N_BAND_CLASSES];
    const double dscale = ce->gains[plane * N_BAND_CLASSES] * (double)step * (double)step;
    if (lp)
        memset(lp->seen, 0, (size_t)lp->k);
    for (Py_ssize_t y = 0; y < r2l; y++) {
        for (Py_ssize_t x = 0; x < c2l; x++) {
            int32_t pred = lp ? low_prediction(lp, rll2, c2l, y, x) : med(rll2, c2l, y, x);
            double target = (double)ll2[y * c2l + x] / (double)step - (double)pred;
            int32_t e = encode_residual(ce, &ce->low_zero[kind], &ce->low_mag[MAG_UNARY * kind], target,
                                        dscale, fabs(target) <= 1);
            rll2[y * c2l + x] = pred + e;
            if (lp)
                saw_low(lp, y * c2l + x, pred + e);
        }
    }
    for (Py_ssize_t i = 0; i < r2l * c2l; i++)
        rll2[i] *= step;
    int32_t *pred[3] = {NULL, NULL, NULL};
    if (lp)
        predict_level(lp, rll2, r2l, c2l, 2, rows, cols, pred);
    encode_detail(ce, plane, 4 * kind + 2, 1, lh2, pred[0], rlh2, r2l * c2h);
    encode_detail(ce, plane, 4 * kind + 2, 1, hl2, pred[1], rhl2, r2h * c2l);
    encode_detail(ce, plane, 4 * kind + 3, 2, hh2, pred[2], rhh2, r2h * c2h);
    if (lp) { /* version 1's level 1 does not depend on the reconstruction */
        synthesise_level(rll2, rlh2, rhl2, rhh2, r2l, r2h, c2l, c2h, vlow, vhigh, rll1);
        predict_level(lp, rll1, r1l, c1l, 1, rows, cols, pred);
    }
    encode_detail(ce, plane, 4 * kind, 3, lh1, pred[0], rlh1, r1l * c1h);
    encode_detail(ce, plane, 4 * kind, 3, hl1, pred[1], rhl1, r1h * c1l);
    encode_detail(ce, plane, 4 * kind + 1, 4, hh1, pred[2], rhh1, r1h * c1h);
}

PyDoc_STRVAR(encode_colors_doc,
"encode_colors(rgb, width, height, steps, init, shifts, gains, lam, log2[, local, label_width,\n"
"              label_height, k[, state]]) -> bytes\n\n"
"colors.encode's payload, byte for byte: rgb is height x width x 3 bytes; steps as for\n"
"decode_colors; init the contexts' initial probabilities (70, or 78 for version 2); gains: 15\n"
"doubles (plane weight x band gain); lam: λ·Δ²; log2: 2048 doubles. With the label map (as for\n"
"decode_colors_v2) the payload is version 2; with state (encode_labels' version 3 result) too,\n"
"the colours go on in the label map's stream and the whole stream is returned (coding §7).");

static PyObject *encode_colors(PyObject *self, PyObject *args)
{
    const char *rgb, *steps, *init, *shifts, *gains, *log2_table, *local = NULL;
    Py_ssize_t len, width, height, steps_len, init_len, shifts_len, gains_len, log2_len;
    Py_ssize_t local_len = 0, lc = 0, lr = 0, k = 0;
    double lam;
    PyObject *state = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nny#y#y#y#dy#|y#nnnO!", &rgb, &len, &width, &height, &steps, &steps_len,
                          &init, &init_len, &shifts, &shifts_len, &gains, &gains_len, &lam, &log2_table,
                          &log2_len, &local, &local_len, &lc, &lr, &k, &PyTuple_Type, &state))
        return NULL;
    const Py_ssize_t n_steps = N_PLANES * N_BAND_CLASSES;
    Py_ssize_t cells = checked_cells(height, width, 8, sizeof(int64_t));
    if (cells < 0)
        return NULL;
    if (len != cells * 3 || steps_len != n_steps * (Py_ssize_t)sizeof(int32_t)
        || gains_len != n_steps * (Py_ssize_t)sizeof(double)
        || log2_len != (Py_ssize_t)PROB_ONE * (Py_ssize_t)sizeof(double) || check_shifts(shifts_len) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "encode_colors: bad rgb, steps, gains or log2 size");
        return NULL;
    }
    const int n_zero = local ? N_ZERO_V2 : N_ZERO, n_contexts = local ? N_COLOR_CONTEXTS_V2 : N_COLOR_CONTEXTS;
    if (init_len != n_contexts * (Py_ssize_t)sizeof(uint16_t)) {
        PyErr_Format(PyExc_ValueError, "init: expected %d uint16 probabilities", n_contexts);
        return NULL;
    }
    int32_t step_table[N_PLANES * N_BAND_CLASSES];
    double gain_table[N_PLANES * N_BAND_CLASSES], *lg = PyMem_Malloc(PROB_ONE * sizeof(double));
    if (!lg)
        return PyErr_NoMemory();
    memcpy(step_table, steps, sizeof step_table);
    memcpy(gain_table, gains, sizeof gain_table);
    memcpy(lg, log2_table, PROB_ONE * sizeof(double));
    Context contexts[N_COLOR_CONTEXTS_V2];
    for (int i = 0; i < n_contexts; i++) {
        uint16_t p;
        memcpy(&p, init + i * sizeof(uint16_t), sizeof p);
        contexts[i] = (Context){p, local ? N_SHIFTS - 1 : 0};
        if (p < 1 || p >= PROB_ONE) {
            PyMem_Free(lg);
            PyErr_SetString(PyExc_ValueError, "init: probabilities must be 1..2047");
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < n_steps; i++) {
        if (step_table[i] < 1 || step_table[i] > 65535) {
            PyMem_Free(lg);
            PyErr_SetString(PyExc_ValueError, "steps: out of range");
            return NULL;
        }
    }
    LabelPrediction lp = {0};
    PyObject *out = NULL;
    int32_t *work = NULL;
    if (local && prediction_init(&lp, local, local_len, lc, lr, k, width, height) < 0)
        goto done;
    work = PyMem_Malloc((size_t)cells * 7 * sizeof(int32_t));
    if (!work) {
        PyErr_NoMemory();
        goto done;
    }
    RangeEncoder e;
    if (state ? re_resume(&e, (const uint8_t *)shifts, state) < 0 : (re_init(&e, (const uint8_t *)shifts), 0)) {
        PyMem_Free(e.out);
        goto done;
    }
    ColorEncoder ce = {&e, contexts, contexts + N_LOW_ZERO, contexts + N_LOW_ZERO + N_LOW_MAG,
                       contexts + N_LOW_ZERO + N_LOW_MAG + n_zero, step_table, gain_table, lg, lam,
                       local ? &lp : NULL};
    for (int p = 0; p < N_PLANES; p++) {
        ycocg_plane((const uint8_t *)rgb, cells, p, work + 6 * cells);
        encode_plane(&ce, p, work + 6 * cells, height, width, work);
    }
    out = re_finish(&e);
done:
    PyMem_Free(work);
    PyMem_Free(lg);
    if (local)
        prediction_free(&lp);
    return out;
}

/* ---- map extraction (sgcformat/maps.py, spec §5) ------------------------------------------ */

/* Pixel range and integer weights (overlap in units of 1/m pixel) of cell i of m over n pixels:
 * cell [i n, (i + 1) n), pixel p [p m, (p + 1) m). */
static inline void cell_span(Py_ssize_t i, Py_ssize_t n, Py_ssize_t m, Py_ssize_t *first, Py_ssize_t *last)
{
    *first = i * n / m;
    *last = ((i + 1) * n - 1) / m;
}

static inline uint32_t overlap(Py_ssize_t i, Py_ssize_t p, Py_ssize_t n, Py_ssize_t m)
{
    Py_ssize_t lo = i * n > p * m ? i * n : p * m, hi = (i + 1) * n < (p + 1) * m ? (i + 1) * n : (p + 1) * m;
    return (uint32_t)(hi - lo);
}

PyDoc_STRVAR(color_map_doc,
"color_map(rgb, width, height, cols, rows) -> bytes\n\n"
"Exact area average (sgcformat.maps.color_map) of an RGB image (height x width x 3 bytes) over a\n"
"rows x cols grid, rounded half to even: rows x cols x 3 bytes.");

static PyObject *color_map_native(PyObject *self, PyObject *args)
{
    const uint8_t *rgb;
    Py_ssize_t len, width, height, cols, rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nnnn", &rgb, &len, &width, &height, &cols, &rows))
        return NULL;
    if (width < 1 || height < 1 || width > 65535 || height > 65535 || cols < 1 || rows < 1
        || cols > width || rows > height || len != width * height * 3) {
        PyErr_SetString(PyExc_ValueError, "color_map: bad sizes");
        return NULL;
    }
    /* Rows first: t[i][x] < 255 * height < 2^24, then columns: sums < 255 * height * width < 2^64. */
    uint32_t *t = PyMem_Calloc((size_t)rows * (size_t)width * 3, sizeof(uint32_t));
    if (!t)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < rows; i++) {
        Py_ssize_t first, last;
        cell_span(i, height, rows, &first, &last);
        uint32_t *out = t + i * width * 3;
        for (Py_ssize_t p = first; p <= last; p++) {
            uint32_t w = overlap(i, p, height, rows);
            const uint8_t *row = rgb + p * width * 3;
            for (Py_ssize_t x = 0; x < width * 3; x++)
                out[x] += w * row[x];
        }
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, rows * cols * 3);
    if (!result) {
        PyMem_Free(t);
        return NULL;
    }
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(result);
    const uint64_t area = (uint64_t)width * (uint64_t)height;
    for (Py_ssize_t i = 0; i < rows; i++) {
        const uint32_t *row = t + i * width * 3;
        for (Py_ssize_t j = 0; j < cols; j++) {
            Py_ssize_t first, last;
            cell_span(j, width, cols, &first, &last);
            uint64_t sum[3] = {0, 0, 0};
            for (Py_ssize_t q = first; q <= last; q++) {
                uint64_t w = overlap(j, q, width, cols);
                for (int c = 0; c < 3; c++)
                    sum[c] += w * row[q * 3 + c];
            }
            for (int c = 0; c < 3; c++) {
                uint64_t v = sum[c] / area, r = sum[c] % area;
                if (2 * r > area || (2 * r == area && (v & 1)))
                    v++;
                dst[(i * cols + j) * 3 + c] = (uint8_t)v;
            }
        }
    }
    PyMem_Free(t);
    return result;
}

PyDoc_STRVAR(label_votes_doc,
"label_votes(ids, width, height, cols, rows, k) -> (bytes, bytes)\n\n"
"Majority vote (sgcformat.maps.label_map) of class ids (height x width int32, -1 = unlabeled,\n"
"others < k) over a rows x cols grid, each pixel in the cell of its centre: per cell the winning\n"
"id as uint16 (ties: the smallest; 0 if no vote) and whether any pixel voted (one byte).");

static PyObject *label_votes(PyObject *self, PyObject *args)
{
    const char *data;
    Py_ssize_t len, width, height, cols, rows, k;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#nnnnn", &data, &len, &width, &height, &cols, &rows, &k))
        return NULL;
    if (width < 1 || height < 1 || cols < 1 || rows < 1 || cols > width || rows > height || k < 1
        || k > 65536 || len != width * height * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "label_votes: bad sizes");
        return NULL;
    }
    const int32_t *ids = (const int32_t *)data; /* an int32 numpy array or bytes: aligned */
    uint32_t *counts = PyMem_Calloc((size_t)cols * (size_t)k, sizeof(uint32_t));
    Py_ssize_t *cell_x = PyMem_Malloc((size_t)width * sizeof(Py_ssize_t));
    PyObject *winners = PyBytes_FromStringAndSize(NULL, rows * cols * 2);
    PyObject *voted = PyBytes_FromStringAndSize(NULL, rows * cols);
    PyObject *out = NULL;
    if (!counts || !cell_x || !winners || !voted) {
        PyErr_NoMemory();
        goto done;
    }
    uint16_t *win = (uint16_t *)PyBytes_AS_STRING(winners);
    uint8_t *any = (uint8_t *)PyBytes_AS_STRING(voted);
    for (Py_ssize_t x = 0; x < width; x++)
        cell_x[x] = (2 * x + 1) * cols / (2 * width);
    Py_ssize_t y = 0;
    for (Py_ssize_t r = 0; r < rows; r++) {
        /* The pixel rows whose centres fall in cell row r are contiguous. */
        for (; y < height && (2 * y + 1) * rows / (2 * height) == r; y++) {
            const int32_t *row = ids + y * width;
            for (Py_ssize_t x = 0; x < width; x++) {
                int32_t id = row[x];
                if (id >= 0 && id < k)
                    counts[cell_x[x] * k + id]++;
            }
        }
        for (Py_ssize_t c = 0; c < cols; c++) {
            uint32_t *cell = counts + c * k, best = 0;
            Py_ssize_t winner = 0;
            for (Py_ssize_t id = 0; id < k; id++) {
                if (cell[id] > best) {
                    best = cell[id];
                    winner = id;
                }
                cell[id] = 0;
            }
            win[r * cols + c] = (uint16_t)winner;
            any[r * cols + c] = best > 0;
        }
    }
    out = PyTuple_Pack(2, winners, voted);
done:
    PyMem_Free(counts);
    PyMem_Free(cell_x);
    Py_XDECREF(winners);
    Py_XDECREF(voted);
    return out;
}

/* ---- module ------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"decode_labels", decode_labels, METH_VARARGS, decode_labels_doc},
    {"encode_labels", encode_labels, METH_VARARGS, encode_labels_doc},
    {"decode_colors", decode_colors, METH_VARARGS, decode_colors_doc},
    {"decode_colors_v2", decode_colors_v2, METH_VARARGS, decode_colors_v2_doc},
    {"encode_colors", encode_colors, METH_VARARGS, encode_colors_doc},
    {"color_map", color_map_native, METH_VARARGS, color_map_doc},
    {"label_votes", label_votes, METH_VARARGS, label_votes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "Native decoders of the SGC label and colour bitstreams and encoder of the label bitstream "
    "(spec/sgc-coding.md); tables come from "
    "sgcformat.coding.labels and colors.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *errors = PyImport_ImportModule("sgcformat.errors");
    if (!errors)
        return NULL;
    BitstreamError = PyObject_GetAttrString(errors, "BitstreamError");
    Py_DECREF(errors);
    if (!BitstreamError)
        return NULL;
    return PyModule_Create(&module);
}
