/* allreduce.c: MPI_Allreduce latency in the manner of osu_allreduce (OSU
 * micro-benchmarks): MPI_FLOAT, MPI_SUM, message sizes from 4 B to 1 MiB (bytes),
 * doubling; per size a barrier, `skip` warm-up calls, `iters` timed calls; every rank
 * measures its own average time per call; rank 0 prints the average over the ranks
 * (and the minimum and maximum) in microseconds.
 *
 *   allreduce [--sizes S1,S2,...] [--iters N] [--time SECONDS] [--test]
 *
 * Iterations: OSU uses 1000 (100 above 8 KiB) with 100 (10) warm-up calls; here at most
 * --iters (default 1000, a tenth above 8 KiB, at least 10), capped so that one size
 * takes about --time seconds (default 0.5; calibrated over a few calls, the same count
 * on every rank). Output from rank 0: "# ..." comment lines and one
 * "SIZE AVG_US MIN_US MAX_US ITERS" line per size, and "# done" at the end.
 *
 * --test: few iterations, every result is checked (small integers, exact in float), and
 * the output is one deterministic "allreduce SIZE ok" line per size. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZE (1 << 20)

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);

    int test = 0, max_iters = 1000, nsizes = 0;
    double budget = 0.5;
    int sizes[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--test")) {
            test = 1;
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            max_iters = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--time") && i + 1 < argc) {
            budget = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            for (char *tok = strtok(argv[++i], ", "); tok && nsizes < 64; tok = strtok(NULL, ", ")) {
                const int s = atoi(tok);
                if (s >= 4 && s <= MAX_SIZE && s % 4 == 0) sizes[nsizes++] = s;
            }
        } else {
            if (rank == 0) fprintf(stderr, "usage: allreduce [--sizes S1,S2,...] [--iters N] [--time S] [--test]\n");
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (nsizes == 0)
        for (int s = 4; s <= MAX_SIZE; s *= 2) sizes[nsizes++] = s;

    const int maxn = MAX_SIZE / (int)sizeof(float);
    float *in = malloc(MAX_SIZE), *out = malloc(MAX_SIZE);
    if (!in || !out) {
        fprintf(stderr, "FAIL rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int i = 0; i < maxn; i++) in[i] = (float)(rank + i % 7), out[i] = 0;
    if (rank == 0 && !test) {
        printf("# allreduce (osu_allreduce style): %d ranks, MPI_FLOAT MPI_SUM, time per call over ranks\n", nranks);
        printf("# size_bytes avg_us min_us max_us iterations\n");
        fflush(stdout);
    }

    /* Warm-up: connections, first-touch of the buffers. */
    if (!test)
        for (int i = 0; i < 20; i++) MPI_Allreduce(in, out, i % 10 == 9 ? maxn : 1, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);

    for (int k = 0; k < nsizes; k++) {
        const int size = sizes[k], n = size / (int)sizeof(float);
        int iters, skip;
        if (test) {
            iters = 3, skip = 1;
        } else {
            iters = size <= 8192 ? max_iters : max_iters / 10;
            if (iters < 10) iters = 10;
            double t = 0, tmax = 0;
            const int cal = size <= 8192 ? 10 : 3;
            MPI_Barrier(MPI_COMM_WORLD);
            const double t0 = MPI_Wtime();
            for (int i = 0; i < cal; i++) MPI_Allreduce(in, out, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t = (MPI_Wtime() - t0) / cal;
            MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (tmax > 0 && iters * tmax > budget) iters = (int)(budget / tmax);
            if (iters < 5) iters = 5;
            skip = size <= 8192 ? iters / 10 : iters / 20;
            if (skip < 2) skip = 2;
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0;
        for (int i = 0; i < skip + iters; i++) {
            if (i == skip) t0 = MPI_Wtime();
            if (test) {
                for (int j = 0; j < n; j++) in[j] = (float)(rank + (j + i) % 7), out[j] = -1;
            }
            MPI_Allreduce(in, out, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (test) {
                for (int j = 0; j < n; j++) {
                    const float want = (float)(nranks * (nranks - 1) / 2 + nranks * ((j + i) % 7));
                    if (out[j] != want) {
                        fprintf(stderr, "FAIL rank %d: size %d element %d: %g want %g\n", rank, size, j, out[j], want);
                        MPI_Abort(MPI_COMM_WORLD, 1);
                    }
                }
            }
        }
        const double mine = (MPI_Wtime() - t0) * 1e6 / iters;
        double sum = 0, mn = 0, mx = 0;
        MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&mine, &mn, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
        MPI_Reduce(&mine, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            if (test) printf("allreduce %d ok\n", size);
            else printf("%d %.2f %.2f %.2f %d\n", size, sum / nranks, mn, mx, iters);
            fflush(stdout);
        }
        if (test) MPI_Barrier(MPI_COMM_WORLD);
    }
    /* The last line (scripts/bench-mpi.sh waits for it: the results are complete). */
    if (rank == 0 && !test) {
        printf("# done\n");
        fflush(stdout);
    }
    free(in);
    free(out);
    MPI_Finalize();
    return 0;
}
