/* Every collective through the public header, with checks against values computed
 * locally: each at every root where there is one, in place and not, a built-in and
 * two user ops (a non-commutative 2x2 matrix product and the non-associative 3a+b),
 * and the argument errors the C API promises. */
#include "fmi_test.h"

static FMI_Comm world;

static int64_t val(int r, size_t i) { return (int64_t)(r + 1) * 1000003 + (int64_t)(i * 7919 % 100003) - 50000; }

/* inout = in x inout on 2x2 matrices of int64 (4 elements each) */
static void matmul(const void *in, void *inout, size_t count, FMI_Datatype dt, void *ctx)
{
    const int64_t *a = (const int64_t *)in;
    int64_t *b = (int64_t *)inout;
    size_t k;
    (void)dt;
    ++*(int *)ctx;
    for (k = 0; k + 4 <= count; k += 4) {
        int64_t m[4];
        m[0] = a[k] * b[k] + a[k + 1] * b[k + 2];
        m[1] = a[k] * b[k + 1] + a[k + 1] * b[k + 3];
        m[2] = a[k + 2] * b[k] + a[k + 3] * b[k + 2];
        m[3] = a[k + 2] * b[k + 1] + a[k + 3] * b[k + 3];
        memcpy(b + k, m, sizeof m);
    }
}

/* inout = 3 * in + inout: neither commutative nor associative */
static void three_a_b(const void *in, void *inout, size_t count, FMI_Datatype dt, void *ctx)
{
    const int64_t *a = (const int64_t *)in;
    int64_t *b = (int64_t *)inout;
    size_t i;
    (void)dt;
    (void)ctx;
    for (i = 0; i < count; i++)
        b[i] = 3 * a[i] + b[i];
}

static int64_t small(int r, size_t i) { return (int64_t)((r * 5 + (int)i * 3) % 7) - 3; }

static void fold(int which, int upto, size_t count, int64_t *acc)
{
    int64_t *x = xmalloc(count * 8);
    size_t i;
    int r;
    for (i = 0; i < count; i++)
        acc[i] = small(0, i);
    for (r = 1; r < upto; r++) {
        int dummy = 0;
        for (i = 0; i < count; i++)
            x[i] = small(r, i);
        /* acc = acc op x: the op computes inout = in op inout */
        if (which == 0)
            matmul(acc, x, count, FMI_INT64, &dummy);
        else
            three_a_b(acc, x, count, FMI_INT64, NULL);
        memcpy(acc, x, count * 8);
    }
    free(x);
}

static void test_bcast_reduce_allreduce(void)
{
    size_t sizes[] = {0, 1, 1000, 300000};
    size_t s, i;
    int root;
    for (s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        int64_t *buf = xmalloc(n * 8), *out = xmalloc(n * 8);
        for (root = 0; root < g_size; root++) {
            for (i = 0; i < n; i++)
                buf[i] = g_rank == root ? val(root, i) : 0;
            OK(FMI_Bcast(buf, n, FMI_INT64, root, world));
            for (i = 0; i < n && buf[i] == val(root, i); i++) {
            }
            CHECK(i == n, "bcast root %d n %zu: element %zu wrong", root, n, i);

            for (i = 0; i < n; i++)
                buf[i] = val(g_rank, i);
            if (g_rank == root) {
                memcpy(out, buf, n * 8);
                OK(FMI_Reduce(FMI_IN_PLACE, out, n, FMI_INT64, FMI_SUM, root, world));
            } else {
                OK(FMI_Reduce(buf, NULL, n, FMI_INT64, FMI_SUM, root, world));
            }
            if (g_rank == root) {
                for (i = 0; i < n; i++) {
                    int64_t want = 0;
                    int r;
                    for (r = 0; r < g_size; r++)
                        want += val(r, i);
                    if (out[i] != want)
                        break;
                }
                CHECK(i == n, "reduce root %d n %zu: element %zu wrong", root, n, i);
            }
        }
        for (i = 0; i < n; i++)
            buf[i] = val(g_rank, i);
        OK(FMI_Allreduce(buf, out, n, FMI_INT64, FMI_MAX, world));
        for (i = 0; i < n && out[i] == val(g_size - 1, i); i++) {
        }
        CHECK(i == n, "allreduce max n %zu: element %zu wrong", n, i);
        OK(FMI_Allreduce(FMI_IN_PLACE, buf, n, FMI_INT64, FMI_MAX, world));
        CHECK(n == 0 || memcmp(buf, out, n * 8) == 0, "allreduce in place differs");
        free(buf);
        free(out);
    }
}

static void test_user_ops(void)
{
    FMI_Op mat, tab;
    int calls = 0;
    size_t n = 64, i;
    int64_t *x = xmalloc(n * 8), *out = xmalloc(n * 8), *want = xmalloc(n * 8);
    OK(FMI_Op_create(matmul, 0, 1, &calls, &mat));
    OK(FMI_Op_create(three_a_b, 0, 0, NULL, &tab));
    CHECK(mat >= 100 && tab >= 100 && mat != tab, "user op handles %d %d", mat, tab);

    for (i = 0; i < n; i++)
        x[i] = small(g_rank, i);
    OK(FMI_Allreduce(x, out, n, FMI_INT64, mat, world));
    fold(0, g_size, n, want);
    CHECK(memcmp(out, want, n * 8) == 0, "allreduce with the matrix op: wrong result");
    {
        int64_t total = calls; /* ranks folded into a partner need not call it */
        OK(FMI_Allreduce(FMI_IN_PLACE, &total, 1, FMI_INT64, FMI_SUM, world));
        CHECK(g_size == 1 || total > 0, "the user function was never called");
    }

    OK(FMI_Allreduce(x, out, n, FMI_INT64, tab, world));
    fold(1, g_size, n, want);
    CHECK(memcmp(out, want, n * 8) == 0, "allreduce with 3a+b: wrong result");

    OK(FMI_Reduce(x, out, n, FMI_INT64, tab, g_size - 1, world));
    if (g_rank == g_size - 1)
        CHECK(memcmp(out, want, n * 8) == 0, "reduce with 3a+b: wrong result");

    OK(FMI_Scan(x, out, n, FMI_INT64, mat, world));
    fold(0, g_rank + 1, n, want);
    CHECK(memcmp(out, want, n * 8) == 0, "scan with the matrix op: wrong result");

    memcpy(out, x, n * 8);
    OK(FMI_Scan(FMI_IN_PLACE, out, n, FMI_INT64, tab, world));
    fold(1, g_rank + 1, n, want);
    CHECK(memcmp(out, want, n * 8) == 0, "scan in place with 3a+b: wrong result");

    for (i = 0; i < n; i++)
        out[i] = -77;
    OK(FMI_Exscan(x, out, n, FMI_INT64, tab, world));
    if (g_rank == 0) {
        CHECK(out[0] == -77, "exscan wrote rank 0's buffer");
    } else {
        fold(1, g_rank, n, want);
        CHECK(memcmp(out, want, n * 8) == 0, "exscan with 3a+b: wrong result");
    }

    OK(FMI_Op_free(&mat));
    CHECK(mat == FMI_OP_NULL, "FMI_Op_free did not reset the handle");
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(x, out, n, FMI_INT64, mat, world));
    OK(FMI_Op_free(&tab));
    free(x);
    free(out);
    free(want);
}

static void test_reduce_scatter(void)
{
    size_t blk = 5, i;
    size_t n = blk * (size_t)g_size;
    int32_t *x = xmalloc(n * 4), *out = xmalloc(blk * 4);
    for (i = 0; i < n; i++)
        x[i] = (int32_t)(g_rank * 10 + (int)i);
    OK(FMI_Reduce_scatter_block(x, out, blk, FMI_INT32, FMI_SUM, world));
    for (i = 0; i < blk; i++) {
        int32_t want = (int32_t)(10 * (g_size * (g_size - 1) / 2) + g_size * (int)(g_rank * blk + i));
        if (out[i] != want)
            break;
    }
    CHECK(i == blk, "reduce_scatter_block: element %zu wrong", i);
    free(x);
    free(out);
}

static void test_gather_scatter_allgather_alltoall(void)
{
    size_t cnt = 3, i;
    size_t all = cnt * (size_t)g_size;
    int32_t *mine = xmalloc(cnt * 4), *buf = xmalloc(all * 4), *buf2 = xmalloc(all * 4);
    int root, r;
    for (i = 0; i < cnt; i++)
        mine[i] = g_rank * 100 + (int)i;
    for (root = 0; root < g_size; root++) {
        OK(FMI_Gather(mine, buf, cnt, FMI_INT32, root, world));
        if (g_rank == root) {
            for (i = 0; i < all && buf[i] == (int32_t)(i / cnt * 100 + i % cnt); i++) {
            }
            CHECK(i == all, "gather root %d: element %zu wrong", root, i);
            for (i = 0; i < all; i++)
                buf[i] = (int32_t)(i * 2);
        }
        OK(FMI_Scatter(buf, g_rank == root ? FMI_IN_PLACE : buf2, cnt, FMI_INT32, root, world));
        if (g_rank != root) {
            for (i = 0; i < cnt && buf2[i] == (int32_t)((g_rank * cnt + i) * 2); i++) {
            }
            CHECK(i == cnt, "scatter root %d: element %zu wrong", root, i);
        }
    }
    OK(FMI_Allgather(mine, buf, cnt, FMI_INT32, world));
    for (i = 0; i < all && buf[i] == (int32_t)(i / cnt * 100 + i % cnt); i++) {
    }
    CHECK(i == all, "allgather: element %zu wrong", i);

    for (r = 0; r < g_size; r++)
        for (i = 0; i < cnt; i++)
            buf[(size_t)r * cnt + i] = g_rank * 1000 + r * 10 + (int)i;
    OK(FMI_Alltoall(buf, buf2, cnt, FMI_INT32, world));
    OK(FMI_Alltoall(FMI_IN_PLACE, buf, cnt, FMI_INT32, world));
    for (r = 0; r < g_size; r++)
        for (i = 0; i < cnt; i++) {
            int32_t want = r * 1000 + g_rank * 10 + (int)i;
            CHECK(buf2[(size_t)r * cnt + i] == want && buf[(size_t)r * cnt + i] == want,
                  "alltoall block %d element %zu", r, i);
        }
    free(mine);
    free(buf);
    free(buf2);
}

static void test_v_variants(void)
{
    size_t *cnts = xmalloc(sizeof(size_t) * (size_t)g_size), *displs = xmalloc(sizeof(size_t) * (size_t)g_size);
    size_t total = 0, i;
    int r, root = g_size - 1;
    double *mine, *all;
    for (r = 0; r < g_size; r++) {
        cnts[r] = (size_t)(r % 3) + 1;
        displs[r] = total + 1;
        total += cnts[r] + 1;
    }
    mine = xmalloc(cnts[g_rank] * 8);
    all = xmalloc(total * 8);
    for (i = 0; i < cnts[g_rank]; i++)
        mine[i] = g_rank + 0.5 * (double)i;
    OK(FMI_Gatherv(mine, cnts[g_rank], all, cnts, displs, FMI_DOUBLE, root, world));
    if (g_rank == root)
        for (r = 0; r < g_size; r++)
            for (i = 0; i < cnts[r]; i++)
                CHECK(all[displs[r] + i] == r + 0.5 * (double)i, "gatherv rank %d element %zu", r, i);
    OK(FMI_Allgatherv(mine, cnts[g_rank], all, cnts, displs, FMI_DOUBLE, world));
    for (r = 0; r < g_size; r++)
        for (i = 0; i < cnts[r]; i++)
            CHECK(all[displs[r] + i] == r + 0.5 * (double)i, "allgatherv rank %d element %zu", r, i);
    for (i = 0; i < cnts[g_rank]; i++)
        mine[i] = -1;
    OK(FMI_Scatterv(all, cnts, displs, mine, cnts[g_rank], FMI_DOUBLE, 0, world));
    for (i = 0; i < cnts[g_rank]; i++)
        CHECK(mine[i] == g_rank + 0.5 * (double)i, "scatterv element %zu", i);

    /* alltoallv: rank i sends i+1 elements to everyone */
    {
        size_t *sc = xmalloc(sizeof(size_t) * (size_t)g_size), *sd = xmalloc(sizeof(size_t) * (size_t)g_size);
        size_t *rc = xmalloc(sizeof(size_t) * (size_t)g_size), *rd = xmalloc(sizeof(size_t) * (size_t)g_size);
        size_t stot = 0, rtot = 0;
        int64_t *sb, *rb;
        for (r = 0; r < g_size; r++) {
            sc[r] = (size_t)g_rank + 1;
            sd[r] = stot;
            stot += sc[r];
            rc[r] = (size_t)r + 1;
            rd[r] = rtot;
            rtot += rc[r];
        }
        sb = xmalloc(stot * 8);
        rb = xmalloc(rtot * 8);
        for (r = 0; r < g_size; r++)
            for (i = 0; i < sc[r]; i++)
                sb[sd[r] + i] = g_rank * 10000 + r * 100 + (int64_t)i;
        OK(FMI_Alltoallv(sb, sc, sd, rb, rc, rd, FMI_INT64, world));
        for (r = 0; r < g_size; r++)
            for (i = 0; i < rc[r]; i++)
                CHECK(rb[rd[r] + i] == r * 10000 + g_rank * 100 + (int64_t)i, "alltoallv from %d element %zu", r, i);
        free(sc);
        free(sd);
        free(rc);
        free(rd);
        free(sb);
        free(rb);
    }
    free(cnts);
    free(displs);
    free(mine);
    free(all);
}

static void test_split_comm(void)
{
    FMI_Comm half = NULL;
    int hr, hs;
    int64_t x, sum = 0;
    OK(FMI_Comm_split(world, g_rank % 2, -g_rank, &half));
    OK(FMI_Comm_rank(half, &hr));
    OK(FMI_Comm_size(half, &hs));
    x = g_rank;
    OK(FMI_Allreduce(FMI_IN_PLACE, &x, 1, FMI_INT64, FMI_SUM, half));
    for (hr = g_rank % 2; hr < g_size; hr += 2)
        sum += hr;
    CHECK(x == sum, "allreduce on a split communicator: %lld, expected %lld", (long long)x, (long long)sum);
    OK(FMI_Barrier(half));
    OK(FMI_Comm_free(&half));
    (void)hs;
}

static void test_errors(void)
{
    double d = 1, e;
    int64_t i = 1;
    EXPECT_RC(FMI_ERR_ARG, FMI_Bcast(&d, 1, FMI_DOUBLE, g_size, world));
    EXPECT_RC(FMI_ERR_ARG, FMI_Bcast(&d, 1, FMI_DOUBLE, -1, world));
    CHECK_LAST_ERROR_SET("bcast root out of range");
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(&d, &e, 1, FMI_DOUBLE, FMI_BXOR, world));
    CHECK_LAST_ERROR_SET("bitwise op on double");
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(&i, NULL, 1, FMI_INT64, FMI_SUM, world));
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(&i, &i, 1, 99, FMI_SUM, world));
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(&i, &i, 1, FMI_INT64, 57, world));
    EXPECT_RC(FMI_ERR_ARG, FMI_Allreduce(&i, &i, 1, FMI_INT64, FMI_SUM, NULL));
    EXPECT_RC(FMI_ERR_ARG, FMI_Op_create(NULL, 1, 1, NULL, NULL));
    OK(FMI_Allreduce(NULL, NULL, 0, FMI_INT64, FMI_SUM, world));
    OK(FMI_Barrier(world));
}

int main(void)
{
    double t0 = FMI_Wtime();
    world = fmi_test_init("coll");
    test_bcast_reduce_allreduce();
    test_user_ops();
    test_reduce_scatter();
    test_gather_scatter_allgather_alltoall();
    test_v_variants();
    test_split_comm();
    test_errors();
    return fmi_test_finish(&world, t0);
}
