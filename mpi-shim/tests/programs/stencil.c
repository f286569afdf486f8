/* stencil.c: a small application: 2-D Jacobi heat diffusion on a fixed global grid,
 * decomposed by rows over any number of ranks, halo exchange by Isend/Irecv (variant
 * A) and by Sendrecv (variant B), MPI_PROC_NULL at the ends, a fixed number of
 * iterations, the residual by Allreduce, the final grid gathered to rank 0 (Gatherv).
 *
 * Every grid value is computed by the same floating-point operations whatever the
 * decomposition, so the final grid is bit-for-bit the same at every rank count and
 * under every MPI. Only exact values are printed: the residual is an Allreduce with
 * MPI_MAX (exact in any order); a sum-of-squares residual (MPI_SUM, whose rounding
 * depends on the order of the additions) is computed and sanity-checked but not
 * printed; checksums are computed sequentially on rank 0. */
#include "mt.h"

#include <math.h>

enum { NR = 200, NC = 160, ITERS = 150, EVERY = 50 };

static int P, me, up, down, nloc, first; /* my rows: global interior rows first .. first+nloc-1 */

static double boundary(int gi, int j) /* gi in 0..NR+1, j in 0..NC+1 */
{
    if (gi == 0) return 100.0;                     /* top */
    if (gi == NR + 1) return 0.0;                  /* bottom */
    if (j == 0) return 50.0 * gi / (NR + 1);       /* left: a ramp */
    if (j == NC + 1) return (gi % 20 < 10) ? 10 : 0; /* right: stripes */
    return 0.0;                                    /* interior start */
}

#define U(a, i, j) (a)[(size_t)(i) * (NC + 2) + (size_t)(j)]

static void halo(double *u, int variant)
{
    if (variant == 0) {
        MPI_Request rq[4];
        MPI_OK(MPI_Irecv(&U(u, 0, 0), NC + 2, MPI_DOUBLE, up, 1, MPI_COMM_WORLD, &rq[0]));
        MPI_OK(MPI_Irecv(&U(u, nloc + 1, 0), NC + 2, MPI_DOUBLE, down, 2, MPI_COMM_WORLD, &rq[1]));
        MPI_OK(MPI_Isend(&U(u, 1, 0), NC + 2, MPI_DOUBLE, up, 2, MPI_COMM_WORLD, &rq[2]));
        MPI_OK(MPI_Isend(&U(u, nloc, 0), NC + 2, MPI_DOUBLE, down, 1, MPI_COMM_WORLD, &rq[3]));
        MPI_OK(MPI_Waitall(4, rq, MPI_STATUSES_IGNORE));
    } else {
        /* shift down, then shift up */
        MPI_OK(MPI_Sendrecv(&U(u, nloc, 0), NC + 2, MPI_DOUBLE, down, 3, &U(u, 0, 0), NC + 2, MPI_DOUBLE, up, 3,
                            MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        MPI_OK(MPI_Sendrecv(&U(u, 1, 0), NC + 2, MPI_DOUBLE, up, 4, &U(u, nloc + 1, 0), NC + 2, MPI_DOUBLE, down, 4,
                            MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    }
}

/* Runs the solver; returns the final local interior rows (nloc x NC), and the residual
 * history (max norm) in maxres[ITERS / EVERY]. */
static double *solve(int variant, double *maxres)
{
    const size_t n = (size_t)(nloc + 2) * (NC + 2);
    double *u = mt_malloc(sizeof(double) * n), *v = mt_malloc(sizeof(double) * n);
    for (int i = 0; i < nloc + 2; i++)
        for (int j = 0; j < NC + 2; j++) U(u, i, j) = U(v, i, j) = boundary(first + i, j);
    for (int it = 1; it <= ITERS; it++) {
        halo(u, variant);
        double dmax = 0, dsq = 0;
        for (int i = 1; i <= nloc; i++)
            for (int j = 1; j <= NC; j++) {
                const double nv = 0.25 * (U(u, i - 1, j) + U(u, i + 1, j) + U(u, i, j - 1) + U(u, i, j + 1));
                const double d = fabs(nv - U(u, i, j));
                if (d > dmax) dmax = d;
                dsq += d * d;
                U(v, i, j) = nv;
            }
        double *t = u;
        u = v;
        v = t;
        if (it % EVERY == 0) {
            double gmax = -1, gsq = -1;
            MPI_OK(MPI_Allreduce(&dmax, &gmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
            MPI_OK(MPI_Allreduce(&dsq, &gsq, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
            CHECKF(gmax >= dmax && gsq >= 0 && gsq <= gmax * gmax * NR * NC * (1 + 1e-12),
                   "residuals: max %g sum of squares %g", gmax, gsq);
            maxres[it / EVERY - 1] = gmax;
        }
    }
    double *res = mt_malloc(sizeof(double) * (size_t)nloc * NC + 1);
    for (int i = 0; i < nloc; i++) memcpy(&res[(size_t)i * NC], &U(u, i + 1, 1), sizeof(double) * NC);
    free(u);
    free(v);
    return res;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    P = mt_size, me = mt_rank;
    up = me > 0 ? me - 1 : MPI_PROC_NULL;
    down = me < P - 1 ? me + 1 : MPI_PROC_NULL;
    CHECKF(P <= NR, "more ranks than rows");
    int *counts = mt_malloc(sizeof(int) * (size_t)P), *displs = mt_malloc(sizeof(int) * (size_t)P);
    for (int r = 0, off = 0; r < P; r++) {
        const int rows = NR / P + (r < NR % P);
        counts[r] = rows * NC;
        displs[r] = off * NC;
        if (r == me) nloc = rows, first = off; /* first + i for i = 1..nloc is the global row */
        off += rows;
    }
    out("stencil: %d ranks, %d x %d grid, %d iterations\n", P, NR, NC, ITERS);

    double resA[ITERS / EVERY], resB[ITERS / EVERY];
    double *a = solve(0, resA), *b = solve(1, resB);
    CHECKF(memcmp(a, b, sizeof(double) * (size_t)nloc * NC) == 0, "Isend/Irecv and Sendrecv variants differ");
    CHECK(memcmp(resA, resB, sizeof resA) == 0);
    for (int k = 0; k < ITERS / EVERY; k++) out("iteration %d: max change %.12e\n", (k + 1) * EVERY, resA[k]);

    double *all = me == 0 ? mt_malloc(sizeof(double) * NR * NC) : NULL;
    MPI_OK(MPI_Gatherv(a, nloc * NC, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    if (me == 0) {
        double sum = 0;
        long hot = 0;
        mt_hash h;
        mh_init(&h);
        for (size_t k = 0; k < (size_t)NR * NC; k++) {
            sum += all[k];
            hot += all[k] > 1.0;
        }
        mh_bytes(&h, all, sizeof(double) * NR * NC);
        out("sum %.9f, cells above 1.0: %ld, value at row 10 column %d: %.12e\n", sum, hot, NC / 2,
            all[(size_t)9 * NC + NC / 2]);
        out("grid hash %016llx\n", mh_get(&h));
        free(all);
    }
    free(a), free(b), free(counts), free(displs);
    out("stencil: done\n");
    MPI_Finalize();
    return 0;
}
