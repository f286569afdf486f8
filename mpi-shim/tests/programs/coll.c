/* coll.c: every blocking collective on MPI_COMM_WORLD with checked results, many
 * datatypes, all predefined reduction ops, MINLOC/MAXLOC pair types, and user ops
 * (commutative and not). Any number of ranks. Rank 0 prints one "NAME ok HASH" line
 * per section; all values are integers (also in float types), so results are exact
 * whatever the order in which an implementation combines them. */
#include "mt.h"

#include <complex.h>
#include <stdbool.h>

/* ---------------------------------------------------------------------------------- */
/* Predefined reduction ops on arithmetic types.                                       */

enum { O_SUM, O_PROD, O_MIN, O_MAX, O_LAND, O_LOR, O_LXOR, O_BAND, O_BOR, O_BXOR, NOPS };
static const char *op_names[NOPS] = {"SUM", "PROD", "MIN", "MAX", "LAND", "LOR", "LXOR", "BAND", "BOR", "BXOR"};
static MPI_Op op_handle(int o)
{
    const MPI_Op ops[NOPS] = {MPI_SUM, MPI_PROD, MPI_MIN, MPI_MAX, MPI_LAND, MPI_LOR, MPI_LXOR, MPI_BAND, MPI_BOR, MPI_BXOR};
    return ops[o];
}
#define M_ARITH ((1 << O_SUM) | (1 << O_PROD) | (1 << O_MIN) | (1 << O_MAX))
#define M_LOGIC ((1 << O_LAND) | (1 << O_LOR) | (1 << O_LXOR))
#define M_BITS ((1 << O_BAND) | (1 << O_BOR) | (1 << O_BXOR))
#define M_INT (M_ARITH | M_LOGIC | M_BITS)

/* Input value of element i at rank r for op o; small enough that no result overflows
 * int8_t with up to 8 ranks (and stays exact in float). logical: only 0 and 1 (C_BOOL). */
static long long val(int o, int r, int i, int sgn, int logical)
{
    switch (o) {
    case O_SUM: return (r * 7 + i * 3) % 16 - (sgn ? 8 : 0);
    case O_PROD: {
        long long v = (r + i) % 4 == 0 ? 2 : 1;
        if (sgn && (r + 2 * i) % 3 == 0) v = -v;
        return v;
    }
    case O_MIN:
    case O_MAX: return (r * 37 + i * 11) % 100 - (sgn ? 50 : 0);
    case O_LAND:
    case O_LOR:
    case O_LXOR: {
        long long v = i % 5 == 3 ? 0 : i % 5 == 1 ? r % 3 + 1 : (r + i) % 3 == 0 ? 0 : 2;
        return logical ? v != 0 : v;
    }
    default: return (r * 29 + i * 53 + 17) & 0x7f;
    }
}

static long long apply(int o, long long a, long long b)
{
    switch (o) {
    case O_SUM: return a + b;
    case O_PROD: return a * b;
    case O_MIN: return a < b ? a : b;
    case O_MAX: return a > b ? a : b;
    case O_LAND: return (a != 0) && (b != 0);
    case O_LOR: return (a != 0) || (b != 0);
    case O_LXOR: return (a != 0) != (b != 0);
    case O_BAND: return a & b;
    case O_BOR: return a | b;
    default: return a ^ b;
    }
}

/* For each op in MASK, one of eight variants: Allreduce, Allreduce in place, Reduce
 * (root o % size), Reduce in place (root (o + 1) % size), Scan, Scan in place, Exscan,
 * Exscan in place. With full, all eight; otherwise variant (seed + o) % 8, so that the
 * variants rotate over types and ops and the number of collective calls stays small. */
#define RED_TEST(NAME, T, MT, MASK, SGN, LOGICAL) \
    static void red_##NAME(mt_hash *h, int seed, int full) \
    { \
        enum { CNT = 37 }; \
        T in[CNT], res[CNT]; \
        long long ex[CNT], sc[CNT], exs[CNT]; \
        for (int o = 0; o < NOPS; o++) { \
            if (!((MASK) & (1 << o))) continue; \
            const MPI_Op op = op_handle(o); \
            for (int i = 0; i < CNT; i++) { \
                for (int r = 0; r < mt_size; r++) { \
                    const long long v = val(o, r, i, SGN, LOGICAL); \
                    ex[i] = r == 0 ? v : apply(o, ex[i], v); \
                    if (r == mt_rank - 1) exs[i] = ex[i]; \
                    if (r == mt_rank) sc[i] = ex[i]; \
                } \
                in[i] = (T)val(o, mt_rank, i, SGN, LOGICAL); \
            } \
            const int root1 = o % mt_size, root2 = (o + 1) % mt_size; \
            for (int variant = 0; variant < 8; variant++) { \
                if (!full && variant != (seed + o) % 8) continue; \
                const int inplace = variant & 1; \
                const int kind = variant >> 1; /* 0 Allreduce 1 Reduce 2 Scan 3 Exscan */ \
                for (int i = 0; i < CNT; i++) res[i] = inplace ? in[i] : (T)99; \
                const void *sb = inplace ? MPI_IN_PLACE : (const void *)in; \
                int check = 1; \
                const long long *want = ex; \
                if (kind == 0) { \
                    MPI_OK(MPI_Allreduce(sb, res, CNT, MT, op, MPI_COMM_WORLD)); \
                } else if (kind == 1) { \
                    const int root = inplace ? root2 : root1; \
                    if (mt_rank != root) sb = in; \
                    MPI_OK(MPI_Reduce(sb, res, CNT, MT, op, root, MPI_COMM_WORLD)); \
                    check = mt_rank == root; \
                } else if (kind == 2) { \
                    MPI_OK(MPI_Scan(sb, res, CNT, MT, op, MPI_COMM_WORLD)); \
                    want = sc; \
                } else { \
                    MPI_OK(MPI_Exscan(sb, res, CNT, MT, op, MPI_COMM_WORLD)); \
                    want = exs; \
                    check = mt_rank > 0; \
                } \
                if (!check) continue; \
                for (int i = 0; i < CNT; i++) { \
                    CHECKF(res[i] == (T)want[i], "%s %s variant %d element %d: got %lld want %lld", #MT, \
                           op_names[o], variant, i, (long long)res[i], want[i]); \
                    mh_i64(h, (int64_t)res[i]); \
                } \
            } \
        } \
    }

RED_TEST(schar, signed char, MPI_SIGNED_CHAR, M_INT, 1, 0)
RED_TEST(uchar, unsigned char, MPI_UNSIGNED_CHAR, M_INT, 0, 0)
RED_TEST(short, short, MPI_SHORT, M_INT, 1, 0)
RED_TEST(ushort, unsigned short, MPI_UNSIGNED_SHORT, M_INT, 0, 0)
RED_TEST(int, int, MPI_INT, M_INT, 1, 0)
RED_TEST(unsigned, unsigned, MPI_UNSIGNED, M_INT, 0, 0)
RED_TEST(long, long, MPI_LONG, M_INT, 1, 0)
RED_TEST(ulong, unsigned long, MPI_UNSIGNED_LONG, M_INT, 0, 0)
RED_TEST(llong, long long, MPI_LONG_LONG, M_INT, 1, 0)
RED_TEST(ullong, unsigned long long, MPI_UNSIGNED_LONG_LONG, M_INT, 0, 0)
RED_TEST(int8, int8_t, MPI_INT8_T, M_INT, 1, 0)
RED_TEST(int16, int16_t, MPI_INT16_T, M_INT, 1, 0)
RED_TEST(int32, int32_t, MPI_INT32_T, M_INT, 1, 0)
RED_TEST(int64, int64_t, MPI_INT64_T, M_INT, 1, 0)
RED_TEST(uint8, uint8_t, MPI_UINT8_T, M_INT, 0, 0)
RED_TEST(uint16, uint16_t, MPI_UINT16_T, M_INT, 0, 0)
RED_TEST(uint32, uint32_t, MPI_UINT32_T, M_INT, 0, 0)
RED_TEST(uint64, uint64_t, MPI_UINT64_T, M_INT, 0, 0)
RED_TEST(byte, unsigned char, MPI_BYTE, M_BITS, 0, 0)
RED_TEST(float, float, MPI_FLOAT, M_ARITH, 1, 0)
RED_TEST(double, double, MPI_DOUBLE, M_ARITH, 1, 0)
RED_TEST(ldouble, long double, MPI_LONG_DOUBLE, M_ARITH, 1, 0)
RED_TEST(bool, bool, MPI_C_BOOL, M_LOGIC, 0, 1)

/* All types at up to 4 ranks (MPI_INT with every variant); a representative subset at
 * more ranks, where the collective algorithms matter more than the per-type arithmetic. */
static void t_reduce_types(void)
{
    enum { NT = 23 };
    const char *names[NT];
    uint64_t hashes[NT];
    int n = 0;
    const int all = mt_size <= 4;
    mt_hash h;
#define RUN(NAME, SUBSET, FULL) \
    if (all || (SUBSET)) { \
        mh_init(&h); \
        red_##NAME(&h, n, FULL); \
        names[n] = "reduce_" #NAME; \
        hashes[n++] = h.h; \
    }
    RUN(schar, 0, 0) RUN(uchar, 0, 0) RUN(short, 0, 0) RUN(ushort, 0, 0) RUN(int, 1, all) RUN(unsigned, 0, 0)
    RUN(long, 1, 0) RUN(ulong, 0, 0) RUN(llong, 0, 0) RUN(ullong, 1, 0) RUN(int8, 0, 0) RUN(int16, 0, 0)
    RUN(int32, 0, 0) RUN(int64, 0, 0) RUN(uint8, 1, 0) RUN(uint16, 0, 0) RUN(uint32, 0, 0) RUN(uint64, 0, 0)
    RUN(byte, 1, 0) RUN(float, 1, 0) RUN(double, 1, 1) RUN(ldouble, 0, 0) RUN(bool, 1, 0)
#undef RUN
    mt_end_multi(names, hashes, n);
}

/* C_DOUBLE_COMPLEX with SUM and PROD (Gaussian integers, exact). */
static void t_complex(void)
{
    mt_hash h;
    mh_init(&h);
    enum { CNT = 9 };
    double complex in[CNT], res[CNT], sum[CNT], prod[CNT];
    for (int i = 0; i < CNT; i++) {
        for (int r = 0; r < mt_size; r++) {
            const double complex v = (double)((r + i) % 5 - 2) + (double)((r * 3 + i) % 4 - 1) * I;
            const double complex p = (r + i) % 3 == 0 ? 1.0 + 1.0 * I : (r % 2 ? 1.0 : -1.0 * I);
            sum[i] = r == 0 ? v : sum[i] + v;
            prod[i] = r == 0 ? p : prod[i] * p;
        }
    }
    for (int o = 0; o < 2; o++) {
        for (int i = 0; i < CNT; i++) {
            const int r = mt_rank;
            in[i] = o == 0 ? (double)((r + i) % 5 - 2) + (double)((r * 3 + i) % 4 - 1) * I
                           : ((r + i) % 3 == 0 ? 1.0 + 1.0 * I : (r % 2 ? 1.0 : -1.0 * I));
        }
        const double complex *want = o == 0 ? sum : prod;
        const MPI_Op op = o == 0 ? MPI_SUM : MPI_PROD;
        MPI_OK(MPI_Allreduce(in, res, CNT, MPI_C_DOUBLE_COMPLEX, op, MPI_COMM_WORLD));
        for (int i = 0; i < CNT; i++) {
            CHECKF(res[i] == want[i], "complex %s element %d: %g%+gi", o ? "PROD" : "SUM", i, creal(res[i]),
                   cimag(res[i]));
            mh_i64(&h, (int64_t)creal(res[i]));
            mh_i64(&h, (int64_t)cimag(res[i]));
        }
        memset(res, 0, sizeof res);
        MPI_OK(MPI_Reduce(in, res, CNT, MPI_C_DOUBLE_COMPLEX, op, mt_size - 1, MPI_COMM_WORLD));
        if (mt_rank == mt_size - 1)
            for (int i = 0; i < CNT; i++) CHECK(res[i] == want[i]);
    }
    mt_end("reduce_double_complex", &h);
}

/* A 1 MiB Allreduce (MPI_INT SUM) and a 1 MiB Reduce. */
static void t_reduce_large(void)
{
    mt_hash h;
    mh_init(&h);
    const int n = 1 << 18;
    int *in = mt_malloc(sizeof(int) * (size_t)n), *res = mt_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) in[i] = (i % 1000) * (mt_rank + 1) - mt_rank;
    const long long sr = (long long)mt_size * (mt_size + 1) / 2, s0 = (long long)mt_size * (mt_size - 1) / 2;
    MPI_OK(MPI_Allreduce(in, res, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    for (int i = 0; i < n; i++) CHECKF(res[i] == (i % 1000) * sr - s0, "1 MiB Allreduce element %d", i);
    mh_i64(&h, res[n - 1]);
    MPI_OK(MPI_Reduce(in, res, n, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD));
    if (mt_rank == 0) {
        for (int i = 0; i < n; i++) {
            const int m = i % 1000 == 0 ? 0 : (i % 1000) * mt_size - (mt_size - 1);
            CHECKF(res[i] == m, "1 MiB Reduce MAX element %d: %d", i, res[i]);
        }
        mh_i64(&h, res[n - 1]);
    }
    free(in);
    free(res);
    mt_end("reduce_1MiB", &h);
}

/* ---------------------------------------------------------------------------------- */
/* MINLOC / MAXLOC. Ties are frequent; the smaller index must win.                     */

#define LOC_TEST(NAME, VT, MT) \
    static void loc_##NAME(mt_hash *h) \
    { \
        enum { CNT = 11 }; \
        struct { \
            VT v; \
            int i; \
        } in[CNT], res[CNT], ex[CNT], sc[CNT]; \
        for (int o = 0; o < 2; o++) { \
            for (int j = 0; j < CNT; j++) { \
                for (int r = 0; r < mt_size; r++) { \
                    const VT v = (VT)((r * 13 + j * 7) % 5 - 2); \
                    const int ix = (r * 7 + j * 3) % 11 - 3; \
                    if (r == 0 || (o == 0 ? v < ex[j].v : v > ex[j].v)) { \
                        ex[j].v = v; \
                        ex[j].i = ix; \
                    } else if (v == ex[j].v && ix < ex[j].i) { \
                        ex[j].i = ix; \
                    } \
                    if (r == mt_rank) { \
                        in[j].v = v; \
                        in[j].i = ix; \
                        sc[j] = ex[j]; \
                    } \
                } \
            } \
            const MPI_Op op = o == 0 ? MPI_MINLOC : MPI_MAXLOC; \
            MPI_OK(MPI_Allreduce(in, res, CNT, MT, op, MPI_COMM_WORLD)); \
            for (int j = 0; j < CNT; j++) { \
                CHECKF(res[j].v == ex[j].v && res[j].i == ex[j].i, "%s %s element %d: (%g, %d) want (%g, %d)", #MT, \
                       o ? "MAXLOC" : "MINLOC", j, (double)res[j].v, res[j].i, (double)ex[j].v, ex[j].i); \
                mh_i64(h, (int64_t)res[j].v); \
                mh_i64(h, res[j].i); \
            } \
            MPI_OK(MPI_Reduce(in, res, CNT, MT, op, mt_size / 2, MPI_COMM_WORLD)); \
            if (mt_rank == mt_size / 2) \
                for (int j = 0; j < CNT; j++) CHECK(res[j].v == ex[j].v && res[j].i == ex[j].i); \
            MPI_OK(MPI_Scan(in, res, CNT, MT, op, MPI_COMM_WORLD)); \
            for (int j = 0; j < CNT; j++) CHECK(res[j].v == sc[j].v && res[j].i == sc[j].i); \
        } \
    }

LOC_TEST(2int, int, MPI_2INT)
LOC_TEST(float_int, float, MPI_FLOAT_INT)
LOC_TEST(double_int, double, MPI_DOUBLE_INT)
LOC_TEST(long_int, long, MPI_LONG_INT)
LOC_TEST(short_int, short, MPI_SHORT_INT)

static void t_minmaxloc(void)
{
    mt_hash h;
    mh_init(&h);
    loc_2int(&h);
    loc_float_int(&h);
    loc_double_int(&h);
    loc_long_int(&h);
    loc_short_int(&h);
    mt_end("minloc_maxloc", &h);
}

/* ---------------------------------------------------------------------------------- */
/* User-defined ops.                                                                   */

static void addmod_fn(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    (void)dt;
    const int *a = in;
    int *b = inout;
    for (int i = 0; i < *len; i++) b[i] = (a[i] + b[i]) % 1000;
}

enum { PMOD = 10007 };
static MPI_Datatype mat_type = MPI_DATATYPE_NULL;
static int matmul_calls_bad_type = 0;

/* inout = in * inout for 2x2 matrices mod PMOD (in comes from the lower ranks). */
static void matmul_fn(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    if (*dt != mat_type) matmul_calls_bad_type++;
    const int *a = in;
    int *b = inout;
    for (int k = 0; k < *len; k++, a += 4, b += 4) {
        const int c0 = (a[0] * b[0] + a[1] * b[2]) % PMOD, c1 = (a[0] * b[1] + a[1] * b[3]) % PMOD;
        const int c2 = (a[2] * b[0] + a[3] * b[2]) % PMOD, c3 = (a[2] * b[1] + a[3] * b[3]) % PMOD;
        b[0] = c0, b[1] = c1, b[2] = c2, b[3] = c3;
    }
}

static void mat_of(int r, int k, int m[4])
{
    m[0] = (r + k) % 5 + 1;
    m[1] = r + 1;
    m[2] = k % 3 + 1;
    m[3] = (r * k) % 2;
}

static int root_list(int roots[4]);

static void t_user_ops(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Op addmod, matmul;
    int commute = -1;

    MPI_OK(MPI_Op_create(addmod_fn, 1, &addmod));
    MPI_OK(MPI_Op_commutative(addmod, &commute));
    CHECK(commute == 1);
    {
        enum { CNT = 100 };
        int in[CNT], res[CNT], want[CNT], scw[CNT];
        for (int i = 0; i < CNT; i++) {
            want[i] = 0;
            for (int r = 0; r < mt_size; r++) {
                want[i] = (want[i] + (r * 311 + i * 17) % 1000) % 1000;
                if (r == mt_rank) scw[i] = want[i];
            }
            in[i] = (mt_rank * 311 + i * 17) % 1000;
        }
        MPI_OK(MPI_Allreduce(in, res, CNT, MPI_INT, addmod, MPI_COMM_WORLD));
        for (int i = 0; i < CNT; i++) CHECK(res[i] == want[i]);
        MPI_OK(MPI_Reduce(in, res, CNT, MPI_INT, addmod, mt_size - 1, MPI_COMM_WORLD));
        if (mt_rank == mt_size - 1)
            for (int i = 0; i < CNT; i++) CHECK(res[i] == want[i]);
        MPI_OK(MPI_Scan(in, res, CNT, MPI_INT, addmod, MPI_COMM_WORLD));
        for (int i = 0; i < CNT; i++) CHECK(res[i] == scw[i]);
        for (int i = 0; i < CNT; i++) mh_i64(&h, want[i]);
    }
    MPI_OK(MPI_Op_free(&addmod));
    CHECK(addmod == MPI_OP_NULL);

    MPI_OK(MPI_Type_contiguous(4, MPI_INT, &mat_type));
    MPI_OK(MPI_Type_commit(&mat_type));
    MPI_OK(MPI_Op_create(matmul_fn, 0, &matmul));
    MPI_OK(MPI_Op_commutative(matmul, &commute));
    CHECK(commute == 0);
    const int counts[2] = {3, 50000};
    for (int c = 0; c < 2; c++) {
        const int n = counts[c];
        int *in = mt_malloc(sizeof(int) * 4 * (size_t)n), *res = mt_malloc(sizeof(int) * 4 * (size_t)n);
        int *all = mt_malloc(sizeof(int) * 4 * (size_t)n), *sc = mt_malloc(sizeof(int) * 4 * (size_t)n);
        int *exs = mt_malloc(sizeof(int) * 4 * (size_t)n);
        for (int k = 0; k < n; k++) {
            int acc[4], m[4];
            mat_of(0, k, acc);
            if (mt_rank == 0) memcpy(&sc[4 * k], acc, sizeof acc);
            for (int r = 1; r < mt_size; r++) {
                if (r == mt_rank) memcpy(&exs[4 * k], acc, sizeof acc);
                mat_of(r, k, m);
                MPI_Datatype save = mat_type;
                int one = 1;
                matmul_fn(acc, m, &one, &save); /* m = acc * m */
                memcpy(acc, m, sizeof acc);
                if (r == mt_rank) memcpy(&sc[4 * k], acc, sizeof acc);
            }
            memcpy(&all[4 * k], acc, sizeof acc);
            mat_of(mt_rank, k, &in[4 * k]);
        }
        const size_t bytes = sizeof(int) * 4 * (size_t)n;
        /* Reduce to every root (only the small count), Allreduce, Scan, Exscan. */
        int roots[4];
        const int nroots = c == 0 ? root_list(roots) : 1;
        if (c == 1) roots[0] = mt_size - 1;
        for (int ri = 0; ri < nroots; ri++) {
            const int root = roots[ri];
            memset(res, 0, bytes);
            MPI_OK(MPI_Reduce(in, res, n, mat_type, matmul, root, MPI_COMM_WORLD));
            if (mt_rank == root) CHECKF(memcmp(res, all, bytes) == 0, "matmul Reduce root %d count %d", root, n);
        }
        memset(res, 0, bytes);
        MPI_OK(MPI_Allreduce(in, res, n, mat_type, matmul, MPI_COMM_WORLD));
        CHECKF(memcmp(res, all, bytes) == 0, "matmul Allreduce count %d: rank order not kept", n);
        memcpy(res, in, bytes);
        MPI_OK(MPI_Allreduce(MPI_IN_PLACE, res, n, mat_type, matmul, MPI_COMM_WORLD));
        CHECKF(memcmp(res, all, bytes) == 0, "matmul Allreduce in place count %d", n);
        MPI_OK(MPI_Scan(in, res, n, mat_type, matmul, MPI_COMM_WORLD));
        CHECKF(memcmp(res, sc, bytes) == 0, "matmul Scan count %d", n);
        MPI_OK(MPI_Exscan(in, res, n, mat_type, matmul, MPI_COMM_WORLD));
        if (mt_rank > 0) CHECKF(memcmp(res, exs, bytes) == 0, "matmul Exscan count %d", n);
        for (int k = 0; k < 4 * n; k += 4 * n / 3 + 1) mh_i64(&h, all[k]);
        free(in), free(res), free(all), free(sc), free(exs);
    }
    CHECKF(matmul_calls_bad_type == 0, "user function got another datatype handle (%d times)",
           matmul_calls_bad_type);
    MPI_OK(MPI_Op_free(&matmul));
    CHECK(matmul == MPI_OP_NULL);
    MPI_OK(MPI_Type_free(&mat_type));
    mt_end("user_ops", &h);
}

/* ---------------------------------------------------------------------------------- */
/* Barrier, Bcast.                                                                     */

static void t_barrier_bcast(void)
{
    mt_hash h;
    mh_init(&h);
    for (int i = 0; i < 5; i++) MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    const int sizes[] = {0, 1, 7, 1000, 65536, 1 << 20};
    const int roots[3] = {0, mt_size - 1, mt_size / 2};
    unsigned char *buf = mt_malloc(1 << 20);
    for (int s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++) {
        for (int ri = 0; ri < 3; ri++) {
            const int root = roots[ri], n = sizes[s];
            if (mt_rank == root) mt_fill(buf, (size_t)n, root, n);
            else memset(buf, 0, (size_t)n);
            MPI_OK(MPI_Bcast(buf, n, ri == 1 ? MPI_CHAR : MPI_BYTE, root, MPI_COMM_WORLD));
            CHECKF(mt_verify(buf, (size_t)n, root, n) < 0, "Bcast %d bytes from %d", n, root);
            if (n) mh_i64(&h, buf[n - 1]);
        }
    }
    /* Typed broadcasts. */
    {
        int iv[1000];
        double dv[300];
        long double lv[17];
        long long llv[33];
        const int root = mt_size - 1;
        for (int i = 0; i < 1000; i++) iv[i] = mt_rank == root ? i * i - 5000 : 0;
        for (int i = 0; i < 300; i++) dv[i] = mt_rank == root ? i * 0.25 : 0;
        for (int i = 0; i < 17; i++) lv[i] = mt_rank == root ? (long double)i * 1e10L : 0;
        for (int i = 0; i < 33; i++) llv[i] = mt_rank == root ? (long long)i << 40 : 0;
        MPI_OK(MPI_Bcast(iv, 1000, MPI_INT, root, MPI_COMM_WORLD));
        MPI_OK(MPI_Bcast(dv, 300, MPI_DOUBLE, root, MPI_COMM_WORLD));
        MPI_OK(MPI_Bcast(lv, 17, MPI_LONG_DOUBLE, root, MPI_COMM_WORLD));
        MPI_OK(MPI_Bcast(llv, 33, MPI_LONG_LONG, root, MPI_COMM_WORLD));
        for (int i = 0; i < 1000; i++) CHECK(iv[i] == i * i - 5000);
        for (int i = 0; i < 300; i++) CHECK(dv[i] == i * 0.25);
        for (int i = 0; i < 17; i++) CHECK(lv[i] == (long double)i * 1e10L);
        for (int i = 0; i < 33; i++) CHECK(llv[i] == (long long)i << 40);
        mh_i64(&h, iv[999]);
        mh_i64(&h, llv[32]);
    }
    free(buf);
    mt_end("barrier_bcast", &h);
}

/* ---------------------------------------------------------------------------------- */
/* Reduce_scatter, Reduce_scatter_block.                                               */

static void t_reduce_scatter(void)
{
    mt_hash h;
    mh_init(&h);
    int *counts = mt_malloc(sizeof(int) * (size_t)mt_size), total = 0, mydispl = 0;
    for (int r = 0; r < mt_size; r++) {
        counts[r] = r % 4 == 2 ? 0 : r % 3 + 1;
        if (r < mt_rank) mydispl += counts[r];
        total += counts[r];
    }
    int *in = mt_malloc(sizeof(int) * (size_t)(total + 3 * mt_size));
    int *res = mt_malloc(sizeof(int) * (size_t)(total + 3 * mt_size));
    const long long rsum = (long long)mt_size * (mt_size - 1) / 2;
    for (int inplace = 0; inplace < 2; inplace++) {
        for (int k = 0; k < total; k++) in[k] = mt_rank * 100 + k;
        if (inplace) {
            memcpy(res, in, sizeof(int) * (size_t)total);
            MPI_OK(MPI_Reduce_scatter(MPI_IN_PLACE, res, counts, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        } else {
            MPI_OK(MPI_Reduce_scatter(in, res, counts, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        }
        for (int k = 0; k < counts[mt_rank]; k++) {
            const long long want = 100 * rsum + (long long)mt_size * (mydispl + k);
            CHECKF(res[k] == want, "Reduce_scatter (in place %d) element %d: %d want %lld", inplace, k, res[k], want);
            mh_i64(&h, res[k]);
        }
    }
    for (int inplace = 0; inplace < 2; inplace++) {
        const int n = 3 * mt_size;
        for (int k = 0; k < n; k++) in[k] = (mt_rank + 1) * (k + 1);
        if (inplace) {
            memcpy(res, in, sizeof(int) * (size_t)n);
            MPI_OK(MPI_Reduce_scatter_block(MPI_IN_PLACE, res, 3, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        } else {
            MPI_OK(MPI_Reduce_scatter_block(in, res, 3, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
        }
        for (int k = 0; k < 3; k++) {
            const long long want = (long long)mt_size * (mt_size + 1) / 2 * (3 * mt_rank + k + 1);
            CHECKF(res[k] == want, "Reduce_scatter_block (in place %d) element %d", inplace, k);
            mh_i64(&h, res[k]);
        }
    }
    free(counts), free(in), free(res);
    mt_end("reduce_scatter", &h);
}

/* ---------------------------------------------------------------------------------- */
/* Gather(v), Scatter(v), Allgather(v), Alltoall(v).                                   */

static int gv(int src, int dst, int k) { return src * 10000 + dst * 100 + k; }

/* Roots to test: every rank up to 4 ranks, else 0, 1, size / 2 and size - 1. */
static int root_list(int roots[4])
{
    if (mt_size <= 4) {
        for (int r = 0; r < mt_size; r++) roots[r] = r;
        return mt_size;
    }
    roots[0] = 0, roots[1] = 1, roots[2] = mt_size / 2, roots[3] = mt_size - 1;
    return 4;
}

static void t_gather_scatter(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    int *big = mt_malloc(sizeof(int) * (size_t)(4 * P * P + 16));
    int *sb = mt_malloc(sizeof(int) * (size_t)(4 * P + 16));
    int *counts = mt_malloc(sizeof(int) * (size_t)P), *displs = mt_malloc(sizeof(int) * (size_t)P);
    int rb[8];
    for (int r = 0; r < P; r++) {
        counts[r] = r % 3;             /* 0, 1 or 2 elements */
        displs[r] = (P - 1 - r) * 4 + 1; /* reversed order, with gaps */
    }
    const int vlen = 4 * P + 1;

    int roots[4];
    const int nroots = root_list(roots);
    for (int ri = 0; ri < nroots; ri++) {
        const int root = roots[ri];
        for (int inplace = 0; inplace < 2; inplace++) {
            /* Gather: 3 ints from every rank. */
            for (int k = 0; k < 3; k++) sb[k] = gv(me, root, k);
            for (int k = 0; k < 3 * P; k++) big[k] = -1;
            if (inplace && me == root) {
                memcpy(&big[3 * me], sb, 3 * sizeof(int));
                MPI_OK(MPI_Gather(MPI_IN_PLACE, 3, MPI_INT, big, 3, MPI_INT, root, MPI_COMM_WORLD));
            } else {
                MPI_OK(MPI_Gather(sb, 3, MPI_INT, big, 3, MPI_INT, root, MPI_COMM_WORLD));
            }
            if (me == root)
                for (int r = 0; r < P; r++)
                    for (int k = 0; k < 3; k++) CHECKF(big[3 * r + k] == gv(r, root, k), "Gather root %d", root);

            /* Gatherv: counts[r] ints from rank r at displs[r]; the gaps stay untouched. */
            for (int k = 0; k < vlen; k++) big[k] = -1;
            for (int k = 0; k < counts[me]; k++) sb[k] = gv(me, root, k + 50);
            if (inplace && me == root) {
                memcpy(&big[displs[me]], sb, sizeof(int) * (size_t)counts[me]);
                MPI_OK(MPI_Gatherv(MPI_IN_PLACE, counts[me], MPI_INT, big, counts, displs, MPI_INT, root,
                                   MPI_COMM_WORLD));
            } else {
                MPI_OK(MPI_Gatherv(sb, counts[me], MPI_INT, big, counts, displs, MPI_INT, root, MPI_COMM_WORLD));
            }
            if (me == root) {
                for (int k = 0; k < vlen; k++) {
                    int want = -1;
                    for (int r = 0; r < P; r++)
                        if (k >= displs[r] && k < displs[r] + counts[r]) want = gv(r, root, k - displs[r] + 50);
                    CHECKF(big[k] == want, "Gatherv root %d element %d: %d want %d", root, k, big[k], want);
                    mh_i64(&h, big[k]);
                }
            }

            /* Scatter: 2 ints to every rank. */
            if (me == root)
                for (int r = 0; r < P; r++) big[2 * r] = gv(root, r, 0), big[2 * r + 1] = gv(root, r, 1);
            rb[0] = rb[1] = -1;
            if (inplace && me == root) {
                MPI_OK(MPI_Scatter(big, 2, MPI_INT, MPI_IN_PLACE, 2, MPI_INT, root, MPI_COMM_WORLD));
                rb[0] = big[2 * me], rb[1] = big[2 * me + 1];
            } else {
                MPI_OK(MPI_Scatter(big, 2, MPI_INT, rb, 2, MPI_INT, root, MPI_COMM_WORLD));
            }
            CHECKF(rb[0] == gv(root, me, 0) && rb[1] == gv(root, me, 1), "Scatter root %d", root);
            mh_i64(&h, rb[1]);

            /* Scatterv: counts[r] ints from displs[r] to rank r. */
            if (me == root)
                for (int r = 0; r < P; r++)
                    for (int k = 0; k < counts[r]; k++) big[displs[r] + k] = gv(root, r, k + 70);
            for (int k = 0; k < 8; k++) rb[k] = -1;
            if (inplace && me == root) {
                MPI_OK(MPI_Scatterv(big, counts, displs, MPI_INT, MPI_IN_PLACE, counts[me], MPI_INT, root,
                                    MPI_COMM_WORLD));
                memcpy(rb, &big[displs[me]], sizeof(int) * (size_t)counts[me]);
            } else {
                MPI_OK(MPI_Scatterv(big, counts, displs, MPI_INT, rb, counts[me], MPI_INT, root, MPI_COMM_WORLD));
            }
            for (int k = 0; k < counts[me]; k++) CHECKF(rb[k] == gv(root, me, k + 70), "Scatterv root %d", root);
            CHECK(rb[counts[me]] == -1);
            mh_i64(&h, rb[0]);
        }
    }
    free(big), free(sb), free(counts), free(displs);
    mt_end("gather_scatter", &h);
}

static void t_allgather_alltoall(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    int *rbuf = mt_malloc(sizeof(int) * (size_t)(8 * P * P + 16));
    int *sbuf = mt_malloc(sizeof(int) * (size_t)(8 * P * P + 16));
    int *sc = mt_malloc(sizeof(int) * (size_t)P), *sd = mt_malloc(sizeof(int) * (size_t)P);
    int *rc = mt_malloc(sizeof(int) * (size_t)P), *rd = mt_malloc(sizeof(int) * (size_t)P);

    for (int inplace = 0; inplace < 2; inplace++) {
        /* Allgather: 2 ints per rank. */
        for (int k = 0; k < 2 * P; k++) rbuf[k] = -1;
        sbuf[0] = gv(me, 0, 0), sbuf[1] = gv(me, 0, 1);
        if (inplace) {
            rbuf[2 * me] = sbuf[0], rbuf[2 * me + 1] = sbuf[1];
            MPI_OK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rbuf, 2, MPI_INT, MPI_COMM_WORLD));
        } else {
            MPI_OK(MPI_Allgather(sbuf, 2, MPI_INT, rbuf, 2, MPI_INT, MPI_COMM_WORLD));
        }
        for (int r = 0; r < P; r++)
            CHECKF(rbuf[2 * r] == gv(r, 0, 0) && rbuf[2 * r + 1] == gv(r, 0, 1), "Allgather from %d", r);
        mh_i64(&h, rbuf[2 * P - 1]);

        /* Allgatherv: rank r contributes r % 4 ints (0 allowed) at displacement 5 * (P - 1 - r). */
        for (int r = 0; r < P; r++) rc[r] = r % 4, rd[r] = 5 * (P - 1 - r);
        for (int k = 0; k < 5 * P; k++) rbuf[k] = -1;
        for (int k = 0; k < rc[me]; k++) sbuf[k] = gv(me, 1, k);
        if (inplace) {
            memcpy(&rbuf[rd[me]], sbuf, sizeof(int) * (size_t)rc[me]);
            MPI_OK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rbuf, rc, rd, MPI_INT, MPI_COMM_WORLD));
        } else {
            MPI_OK(MPI_Allgatherv(sbuf, rc[me], MPI_INT, rbuf, rc, rd, MPI_INT, MPI_COMM_WORLD));
        }
        for (int r = 0; r < P; r++) {
            for (int k = 0; k < 5; k++) {
                const int want = k < rc[r] ? gv(r, 1, k) : -1;
                CHECKF(rbuf[rd[r] + k] == want, "Allgatherv from %d element %d", r, k);
            }
        }
        mh_i64(&h, rbuf[0]);

        /* Alltoall: 3 ints per pair. */
        for (int d = 0; d < P; d++)
            for (int k = 0; k < 3; k++) sbuf[3 * d + k] = gv(me, d, k);
        if (inplace) {
            memcpy(rbuf, sbuf, sizeof(int) * 3 * (size_t)P);
            MPI_OK(MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rbuf, 3, MPI_INT, MPI_COMM_WORLD));
        } else {
            MPI_OK(MPI_Alltoall(sbuf, 3, MPI_INT, rbuf, 3, MPI_INT, MPI_COMM_WORLD));
        }
        for (int s = 0; s < P; s++)
            for (int k = 0; k < 3; k++) CHECKF(rbuf[3 * s + k] == gv(s, me, k), "Alltoall from %d", s);
        mh_i64(&h, rbuf[3 * P - 1]);

        /* Alltoallv: rank s sends (s + d) % 3 ints to rank d. Not in place: packed send
         * buffer in reverse destination order, receive buffer with gaps. In place: the
         * standard requires the same layout for both sides (recvcounts, rdispls). */
        if (!inplace) {
            int off = 0;
            for (int d = P - 1; d >= 0; d--) {
                sc[d] = (me + d) % 3;
                sd[d] = off;
                for (int k = 0; k < sc[d]; k++) sbuf[off + k] = gv(me, d, k + 30);
                off += sc[d];
            }
            for (int s = 0; s < P; s++) rc[s] = (s + me) % 3, rd[s] = 4 * s + 1;
            for (int k = 0; k < 4 * P + 1; k++) rbuf[k] = -1;
            MPI_OK(MPI_Alltoallv(sbuf, sc, sd, MPI_INT, rbuf, rc, rd, MPI_INT, MPI_COMM_WORLD));
        } else {
            for (int s = 0; s < P; s++) rc[s] = (s + me) % 3, rd[s] = 4 * s + 1;
            for (int k = 0; k < 4 * P + 1; k++) rbuf[k] = -1;
            for (int d = 0; d < P; d++)
                for (int k = 0; k < rc[d]; k++) rbuf[rd[d] + k] = gv(me, d, k + 30);
            MPI_OK(MPI_Alltoallv(MPI_IN_PLACE, NULL, NULL, MPI_DATATYPE_NULL, rbuf, rc, rd, MPI_INT,
                                 MPI_COMM_WORLD));
        }
        for (int s = 0; s < P; s++) {
            for (int k = 0; k < 4; k++) {
                const int want = k < rc[s] ? gv(s, me, k + 30) : -1;
                CHECKF(rbuf[rd[s] + k] == want, "Alltoallv (in place %d) from %d element %d: %d want %d", inplace, s,
                       k, rbuf[rd[s] + k], want);
            }
            mh_i64(&h, rbuf[rd[s]]);
        }
        CHECK(rbuf[0] == -1);
    }

    /* Larger blocks: Allgather and Alltoall of 64 KiB per rank pair. */
    {
        const int n = 16384;
        int *s2 = mt_malloc(sizeof(int) * (size_t)n * (size_t)P), *r2 = mt_malloc(sizeof(int) * (size_t)n * (size_t)P);
        for (int d = 0; d < P; d++)
            for (int k = 0; k < n; k++) s2[(size_t)d * n + k] = gv(me, d, k % 97) + k;
        MPI_OK(MPI_Alltoall(s2, n, MPI_INT, r2, n, MPI_INT, MPI_COMM_WORLD));
        for (int s = 0; s < P; s++)
            for (int k = 0; k < n; k++) CHECKF(r2[(size_t)s * n + k] == gv(s, me, k % 97) + k, "big Alltoall");
        MPI_OK(MPI_Allgather(s2, n, MPI_INT, r2, n, MPI_INT, MPI_COMM_WORLD));
        for (int s = 0; s < P; s++)
            for (int k = 0; k < n; k++) CHECKF(r2[(size_t)s * n + k] == gv(s, 0, k % 97) + k, "big Allgather");
        mh_i64(&h, r2[(size_t)n * P - 1]);
        free(s2), free(r2);
    }
    free(rbuf), free(sbuf), free(sc), free(sd), free(rc), free(rd);
    mt_end("allgather_alltoall", &h);
}

/* Data movement with every basic type, values of type T checked by value; one of
 * Alltoall, Allgather, Gather and Bcast per type (rotating). */
#define MOVE_TEST(NAME, T, MT) \
    static void move_##NAME(mt_hash *h, int which) \
    { \
        enum { K = 5 }; \
        const int P = mt_size, me = mt_rank; \
        T *s = mt_malloc(sizeof(T) * K * (size_t)P), *r = mt_malloc(sizeof(T) * K * (size_t)P); \
        for (int d = 0; d < P; d++) \
            for (int k = 0; k < K; k++) s[d * K + k] = (T)((me * 31 + d * 7 + k) % 100); \
        switch (which % 4) { \
        case 0: \
            MPI_OK(MPI_Alltoall(s, K, MT, r, K, MT, MPI_COMM_WORLD)); \
            for (int q = 0; q < P; q++) \
                for (int k = 0; k < K; k++) \
                    CHECKF(r[q * K + k] == (T)((q * 31 + me * 7 + k) % 100), "%s Alltoall", #MT); \
            break; \
        case 1: \
            MPI_OK(MPI_Allgather(s, K, MT, r, K, MT, MPI_COMM_WORLD)); \
            for (int q = 0; q < P; q++) \
                for (int k = 0; k < K; k++) CHECKF(r[q * K + k] == (T)((q * 31 + k) % 100), "%s Allgather", #MT); \
            break; \
        case 2: \
            MPI_OK(MPI_Gather(s, K, MT, r, K, MT, P - 1, MPI_COMM_WORLD)); \
            if (me == P - 1) \
                for (int q = 0; q < P; q++) \
                    for (int k = 0; k < K; k++) CHECKF(r[q * K + k] == (T)((q * 31 + k) % 100), "%s Gather", #MT); \
            break; \
        default: \
            MPI_OK(MPI_Bcast(s, K, MT, P / 2, MPI_COMM_WORLD)); \
            for (int k = 0; k < K; k++) CHECKF(s[k] == (T)(((P / 2) * 31 + k) % 100), "%s Bcast", #MT); \
        } \
        mh_i64(h, which); \
        free(s); \
        free(r); \
    }

MOVE_TEST(char, char, MPI_CHAR)
MOVE_TEST(schar, signed char, MPI_SIGNED_CHAR)
MOVE_TEST(uchar, unsigned char, MPI_UNSIGNED_CHAR)
MOVE_TEST(short, short, MPI_SHORT)
MOVE_TEST(int, int, MPI_INT)
MOVE_TEST(long, long, MPI_LONG)
MOVE_TEST(llong, long long, MPI_LONG_LONG)
MOVE_TEST(unsigned, unsigned, MPI_UNSIGNED)
MOVE_TEST(ulong, unsigned long, MPI_UNSIGNED_LONG)
MOVE_TEST(float, float, MPI_FLOAT)
MOVE_TEST(double, double, MPI_DOUBLE)
MOVE_TEST(ldouble, long double, MPI_LONG_DOUBLE)
MOVE_TEST(int8, int8_t, MPI_INT8_T)
MOVE_TEST(uint8, uint8_t, MPI_UINT8_T)
MOVE_TEST(int16, int16_t, MPI_INT16_T)
MOVE_TEST(uint16, uint16_t, MPI_UINT16_T)
MOVE_TEST(int32, int32_t, MPI_INT32_T)
MOVE_TEST(uint32, uint32_t, MPI_UINT32_T)
MOVE_TEST(int64, int64_t, MPI_INT64_T)
MOVE_TEST(uint64, uint64_t, MPI_UINT64_T)
MOVE_TEST(bool, bool, MPI_C_BOOL)
MOVE_TEST(dcomplex, double complex, MPI_C_DOUBLE_COMPLEX)

static void t_move_types(void)
{
    mt_hash h;
    mh_init(&h);
    int w = 0;
    move_char(&h, w++), move_schar(&h, w++), move_uchar(&h, w++), move_short(&h, w++), move_int(&h, w++);
    move_long(&h, w++), move_llong(&h, w++), move_unsigned(&h, w++), move_ulong(&h, w++), move_float(&h, w++);
    move_double(&h, w++), move_ldouble(&h, w++), move_int8(&h, w++), move_uint8(&h, w++), move_int16(&h, w++);
    move_uint16(&h, w++), move_int32(&h, w++), move_uint32(&h, w++), move_int64(&h, w++), move_uint64(&h, w++);
    move_bool(&h, w++), move_dcomplex(&h, w++);
    mt_end("datatypes_move", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    out("coll: %d ranks\n", mt_size);
    t_barrier_bcast();
    t_reduce_types();
    t_complex();
    t_reduce_large();
    t_minmaxloc();
    t_user_ops();
    t_reduce_scatter();
    t_gather_scatter();
    t_allgather_alltoall();
    t_move_types();
    out("coll: done\n");
    MPI_Finalize();
    return 0;
}
