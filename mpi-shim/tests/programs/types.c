/* types.c: datatypes: Type_size and Type_get_extent of basic and pair types, derived
 * types (contiguous, vector, nested) with Type_commit/Type_free, a matrix column sent as
 * a vector and received contiguous and the reverse, Get_count and Get_elements with
 * derived types (including a partial element), a vector type in Bcast, Alloc_mem and
 * Free_mem. Any number of ranks (ring neighbours; 1 rank talks to itself). Rank 0 prints
 * the sizes and extents (x86_64 LP64 values) and one "NAME ok HASH" line per section. */
#include "mt.h"

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>

static int left, right;

static void show(const char *name, MPI_Datatype t, MPI_Aint want_size, MPI_Aint want_extent)
{
    int size = -1;
    MPI_Aint lb = -1, extent = -1;
    MPI_OK(MPI_Type_size(t, &size));
    MPI_OK(MPI_Type_get_extent(t, &lb, &extent));
    CHECKF(size == want_size && extent == want_extent && lb == 0, "%s: size %d extent %ld lb %ld, want %ld %ld",
           name, size, (long)extent, (long)lb, (long)want_size, (long)want_extent);
    out("  %-22s size %3d extent %3ld lb %ld\n", name, size, (long)extent, (long)lb);
}

#define BASIC(MT, T) show(#MT, MT, sizeof(T), sizeof(T))
#define PAIR(MT, VT) \
    do { \
        struct pair { \
            VT v; \
            int i; \
        }; \
        show(#MT, MT, sizeof(VT) + sizeof(int), sizeof(struct pair)); \
    } while (0)

static void t_sizes(void)
{
    mt_hash h;
    mh_init(&h);
    BASIC(MPI_CHAR, char);
    BASIC(MPI_SIGNED_CHAR, signed char);
    BASIC(MPI_UNSIGNED_CHAR, unsigned char);
    BASIC(MPI_BYTE, unsigned char);
    BASIC(MPI_SHORT, short);
    BASIC(MPI_UNSIGNED_SHORT, unsigned short);
    BASIC(MPI_INT, int);
    BASIC(MPI_UNSIGNED, unsigned);
    BASIC(MPI_LONG, long);
    BASIC(MPI_UNSIGNED_LONG, unsigned long);
    BASIC(MPI_LONG_LONG, long long);
    BASIC(MPI_UNSIGNED_LONG_LONG, unsigned long long);
    BASIC(MPI_FLOAT, float);
    BASIC(MPI_DOUBLE, double);
    BASIC(MPI_LONG_DOUBLE, long double);
    BASIC(MPI_INT8_T, int8_t);
    BASIC(MPI_INT16_T, int16_t);
    BASIC(MPI_INT32_T, int32_t);
    BASIC(MPI_INT64_T, int64_t);
    BASIC(MPI_UINT8_T, uint8_t);
    BASIC(MPI_UINT16_T, uint16_t);
    BASIC(MPI_UINT32_T, uint32_t);
    BASIC(MPI_UINT64_T, uint64_t);
    BASIC(MPI_C_BOOL, bool);
    BASIC(MPI_C_DOUBLE_COMPLEX, double complex);
    BASIC(MPI_AINT, MPI_Aint);
    PAIR(MPI_2INT, int);
    PAIR(MPI_FLOAT_INT, float);
    PAIR(MPI_DOUBLE_INT, double);
    PAIR(MPI_LONG_INT, long);
    PAIR(MPI_SHORT_INT, short);
    mt_end("sizes", &h);
}

enum { ROWS = 6, COLS = 5 };

static double mval(int rank, int r, int c) { return rank * 1000 + r * 10 + c; }

static void t_derived(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Datatype contig5, col, vec, nested, pair2;
    MPI_Request rq[2];
    MPI_Status st;
    int n = -1;

    /* Contiguous. */
    MPI_OK(MPI_Type_contiguous(5, MPI_INT, &contig5));
    MPI_OK(MPI_Type_commit(&contig5));
    int sz = -1;
    MPI_Aint lb, ext;
    MPI_OK(MPI_Type_size(contig5, &sz));
    MPI_OK(MPI_Type_get_extent(contig5, &lb, &ext));
    CHECK(sz == 20 && ext == 20 && lb == 0);
    {
        int s[10], r[10];
        for (int i = 0; i < 10; i++) s[i] = mt_rank * 100 + i, r[i] = -1;
        /* two contig5 sent, ten ints received */
        MPI_OK(MPI_Irecv(r, 10, MPI_INT, left, 1, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(s, 2, contig5, right, 1, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Wait(&rq[0], &st));
        MPI_OK(MPI_Wait(&rq[1], MPI_STATUS_IGNORE));
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == 10);
        for (int i = 0; i < 10; i++) CHECK(r[i] == left * 100 + i);
        /* ten ints sent, received as contig5 */
        for (int i = 0; i < 10; i++) r[i] = -1;
        MPI_OK(MPI_Irecv(r, 3, contig5, left, 2, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(s, 10, MPI_INT, right, 2, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, &st));
        MPI_OK(MPI_Get_count(&st, contig5, &n));
        CHECK(n == 2);
        MPI_OK(MPI_Get_elements(&st, contig5, &n));
        CHECK(n == 10);
        for (int i = 0; i < 10; i++) CHECK(r[i] == left * 100 + i);
        mh_i64(&h, r[9]);
    }
    /* A partial element: 7 doubles into pairs of doubles. */
    MPI_OK(MPI_Type_contiguous(2, MPI_DOUBLE, &pair2));
    MPI_OK(MPI_Type_commit(&pair2));
    {
        double s[7], r[20];
        for (int i = 0; i < 7; i++) s[i] = i + 0.5;
        MPI_OK(MPI_Irecv(r, 10, pair2, left, 3, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(s, 7, MPI_DOUBLE, right, 3, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, &st));
        MPI_OK(MPI_Get_count(&st, pair2, &n));
        CHECKF(n == MPI_UNDEFINED, "Get_count of 7 doubles in pairs: %d", n);
        MPI_OK(MPI_Get_elements(&st, pair2, &n));
        CHECKF(n == 7, "Get_elements of 7 doubles in pairs: %d", n);
        MPI_OK(MPI_Get_count(&st, MPI_DOUBLE, &n));
        CHECK(n == 7);
        for (int i = 0; i < 7; i++) CHECK(r[i] == i + 0.5);
    }

    /* A column of a row-major ROWS x COLS matrix. */
    MPI_OK(MPI_Type_vector(ROWS, 1, COLS, MPI_DOUBLE, &col));
    MPI_OK(MPI_Type_commit(&col));
    MPI_OK(MPI_Type_size(col, &sz));
    MPI_OK(MPI_Type_get_extent(col, &lb, &ext));
    CHECKF(sz == ROWS * 8 && ext == ((ROWS - 1) * COLS + 1) * 8 && lb == 0, "column: size %d extent %ld", sz,
           (long)ext);
    out("  column vector(%d, 1, %d, MPI_DOUBLE) size %d extent %ld\n", ROWS, COLS, sz, (long)ext);
    {
        double m[ROWS][COLS], r[ROWS];
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < COLS; j++) m[i][j] = mval(mt_rank, i, j);
        /* column 2 out, contiguous in */
        MPI_OK(MPI_Irecv(r, ROWS, MPI_DOUBLE, left, 4, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(&m[0][2], 1, col, right, 4, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
        for (int i = 0; i < ROWS; i++) CHECKF(r[i] == mval(left, i, 2), "column received contiguous, row %d", i);
        /* contiguous out, column 3 in */
        double s[ROWS];
        for (int i = 0; i < ROWS; i++) s[i] = -(mt_rank * 100 + i);
        MPI_OK(MPI_Irecv(&m[0][3], 1, col, left, 5, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(s, ROWS, MPI_DOUBLE, right, 5, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, &st));
        MPI_OK(MPI_Get_count(&st, col, &n));
        CHECK(n == 1);
        MPI_OK(MPI_Get_elements(&st, col, &n));
        CHECK(n == ROWS);
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < COLS; j++) {
                const double want = j == 3 ? -(left * 100 + i) : mval(mt_rank, i, j);
                CHECKF(m[i][j] == want, "contiguous received as column: [%d][%d] = %g", i, j, m[i][j]);
                mh_i64(&h, (int64_t)m[i][j]);
            }
        /* Bcast of a column from the last rank into column 1. */
        const int root = mt_size - 1;
        for (int i = 0; i < ROWS; i++) m[i][1] = mt_rank == root ? 7000 + i : -1;
        MPI_OK(MPI_Bcast(&m[0][1], 1, col, root, MPI_COMM_WORLD));
        for (int i = 0; i < ROWS; i++) {
            CHECKF(m[i][1] == 7000 + i, "Bcast of a column: row %d = %g", i, m[i][1]);
            CHECK(m[i][0] == mval(mt_rank, i, 0) && m[i][2] == mval(mt_rank, i, 2));
        }
        /* Two columns with a count of 2: the second starts one extent later. */
        MPI_Datatype col_r;
        MPI_OK(MPI_Type_create_resized(col, 0, sizeof(double), &col_r));
        MPI_OK(MPI_Type_commit(&col_r));
        double two[2 * ROWS];
        MPI_OK(MPI_Irecv(two, 2 * ROWS, MPI_DOUBLE, left, 6, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(&m[0][0], 2, col_r, right, 6, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
        for (int i = 0; i < ROWS; i++) CHECK(two[i] == mval(left, i, 0) && two[ROWS + i] == 7000 + i);
        MPI_OK(MPI_Type_free(&col_r));
    }

    /* vector(3, 2, 4, MPI_INT), count 2: elements 0 1 4 5 8 9 | 10 11 14 15 18 19. */
    MPI_OK(MPI_Type_vector(3, 2, 4, MPI_INT, &vec));
    MPI_OK(MPI_Type_commit(&vec));
    MPI_OK(MPI_Type_size(vec, &sz));
    MPI_OK(MPI_Type_get_extent(vec, &lb, &ext));
    CHECK(sz == 24 && ext == 40);
    {
        int s[20], r[12];
        const int want[12] = {0, 1, 4, 5, 8, 9, 10, 11, 14, 15, 18, 19};
        for (int i = 0; i < 20; i++) s[i] = mt_rank * 100 + i;
        MPI_OK(MPI_Irecv(r, 12, MPI_INT, left, 7, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(s, 2, vec, right, 7, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
        for (int i = 0; i < 12; i++) {
            CHECKF(r[i] == left * 100 + want[i], "vector x2 element %d: %d", i, r[i]);
            mh_i64(&h, r[i]);
        }
        /* and back: 12 ints scattered into the holes' complement */
        int d[20];
        for (int i = 0; i < 20; i++) d[i] = -1;
        MPI_OK(MPI_Irecv(d, 2, vec, left, 8, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Isend(r, 12, MPI_INT, right, 8, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Waitall(2, rq, &st));
        MPI_OK(MPI_Get_elements(&st, vec, &n));
        CHECK(n == 12);
        for (int i = 0; i < 20; i++) {
            int k = -1;
            for (int j = 0; j < 12; j++)
                if (want[j] == i) k = j;
            const int left2 = (left + mt_size - 1) % mt_size;
            CHECKF(d[i] == (k < 0 ? -1 : left2 * 100 + want[k]), "vector receive element %d: %d", i, d[i]);
        }
    }

    /* Nested: contiguous(2, column). */
    MPI_OK(MPI_Type_contiguous(2, col, &nested));
    MPI_OK(MPI_Type_commit(&nested));
    MPI_OK(MPI_Type_size(nested, &sz));
    MPI_OK(MPI_Type_get_extent(nested, &lb, &ext));
    CHECK(sz == 2 * ROWS * 8 && ext == 2 * ((ROWS - 1) * COLS + 1) * 8);

    MPI_Datatype *ts[5] = {&contig5, &pair2, &col, &vec, &nested};
    for (int i = 0; i < 5; i++) {
        MPI_OK(MPI_Type_free(ts[i]));
        CHECK(*ts[i] == MPI_DATATYPE_NULL);
    }
    mt_end("derived", &h);
}

static void t_alloc_mem(void)
{
    mt_hash h;
    mh_init(&h);
    const int n = 1 << 20;
    unsigned char *s = NULL, *r = NULL;
    MPI_Request rq[2];
    MPI_OK(MPI_Alloc_mem(n, MPI_INFO_NULL, &s));
    MPI_OK(MPI_Alloc_mem(n, MPI_INFO_NULL, &r));
    CHECK(s != NULL && r != NULL);
    mt_fill(s, (size_t)n, mt_rank, 9);
    MPI_OK(MPI_Irecv(r, n, MPI_BYTE, left, 9, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Isend(s, n, MPI_BYTE, right, 9, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
    CHECK(mt_verify(r, (size_t)n, left, 9) < 0);
    mh_bytes(&h, r + n - 8, 8);
    MPI_OK(MPI_Free_mem(s));
    MPI_OK(MPI_Free_mem(r));
    mt_end("alloc_mem", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    left = (mt_rank + mt_size - 1) % mt_size;
    right = (mt_rank + 1) % mt_size;
    out("types: %d ranks\n", mt_size);
    t_sizes();
    t_derived();
    t_alloc_mem();
    out("types: done\n");
    MPI_Finalize();
    return 0;
}
