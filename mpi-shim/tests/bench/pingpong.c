/* pingpong.c: point-to-point latency in the manner of osu_latency (OSU micro-benchmarks):
 * ranks 0 and 1 bounce a message (MPI_Send / MPI_Recv of MPI_CHAR) for each size from
 * 1 B to 4 MiB, doubling; after `skip` warm-up round trips, `iters` timed ones; the
 * one-way latency is (elapsed / (2 * iters)) in microseconds. Other ranks, if any, only
 * join the barriers.
 *
 *   pingpong [--sizes S1,S2,...] [--iters N] [--time SECONDS] [--test]
 *
 * Iterations: OSU uses 10000 (1000 above 8 KiB); here at most --iters (default 10000)
 * and, above 8 KiB, proportionally fewer (at least 20), further capped so that one
 * size takes about --time seconds (default 0.5; measured over a few calibration round
 * trips, the same count on both ranks). Output from rank 0: "# ..." comment lines and
 * one "SIZE LATENCY_US ITERS" line per size, and "# done" at the end.
 *
 * --test: few iterations, every received message is checked byte by byte, and the
 * output is one deterministic "pingpong SIZE ok" line per size (for scripts/mpi-test.sh). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZE (4 << 20)

static void fail(int rank, const char *msg, long a, long b)
{
    fprintf(stderr, "FAIL rank %d: %s (%ld, %ld)\n", rank, msg, a, b);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static unsigned char pat(int size, int it, int from, long i) { return (unsigned char)(i * 7 + size + it * 13 + from * 101); }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);

    int test = 0, max_iters = 10000, nsizes = 0;
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
                if (s >= 1 && s <= MAX_SIZE) sizes[nsizes++] = s;
            }
        } else {
            if (rank == 0) fprintf(stderr, "usage: pingpong [--sizes S1,S2,...] [--iters N] [--time S] [--test]\n");
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (nsizes == 0)
        for (int s = 1; s <= MAX_SIZE; s *= 2) sizes[nsizes++] = s;
    if (nranks < 2) {
        if (rank == 0) fprintf(stderr, "pingpong needs at least 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    unsigned char *sbuf = malloc(MAX_SIZE), *rbuf = malloc(MAX_SIZE);
    if (!sbuf || !rbuf) fail(rank, "out of memory", 0, 0);
    memset(sbuf, 'a', MAX_SIZE);
    memset(rbuf, 'b', MAX_SIZE);
    if (rank == 0 && !test) {
        printf("# pingpong (osu_latency style): %d ranks, one-way latency\n", nranks);
        printf("# size_bytes latency_us iterations\n");
        fflush(stdout);
    }

    /* Warm-up: connections, first-touch of the buffers. */
    if (rank <= 1 && !test) {
        for (int i = 0; i < 100; i++) {
            const int size = i % 10 == 9 ? MAX_SIZE : 1;
            if (rank == 0) {
                MPI_Send(sbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(rbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else {
                MPI_Recv(rbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(sbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
            }
        }
    }

    for (int k = 0; k < nsizes; k++) {
        const int size = sizes[k];
        int iters, skip;
        if (test) {
            iters = 5, skip = 1;
        } else {
            iters = size <= 8192 ? max_iters : (int)((long)max_iters * 8192 / size);
            if (iters < 20) iters = 20;
            if (iters > max_iters) iters = max_iters;
            /* Calibrate: a few round trips, then cap the iterations to the time budget. */
            double t = 0;
            const int cal = size <= 8192 ? 20 : 3;
            MPI_Barrier(MPI_COMM_WORLD);
            if (rank <= 1) {
                const double t0 = MPI_Wtime();
                for (int i = 0; i < cal; i++) {
                    if (rank == 0) {
                        MPI_Send(sbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
                        MPI_Recv(rbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    } else {
                        MPI_Recv(rbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                        MPI_Send(sbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
                    }
                }
                t = (MPI_Wtime() - t0) / cal;
            }
            MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            if (t > 0 && iters * t > budget) iters = (int)(budget / t);
            if (iters < 10) iters = 10;
            skip = size <= 8192 ? iters / 10 : 10;
            if (skip < 2) skip = 2;
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0;
        if (rank <= 1) {
            for (int i = 0; i < skip + iters; i++) {
                if (i == skip) t0 = MPI_Wtime();
                if (test) {
                    for (long b = 0; b < size; b++) sbuf[b] = pat(size, i, rank, b);
                    memset(rbuf, 0, (size_t)size);
                }
                if (rank == 0) {
                    MPI_Send(sbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
                    MPI_Recv(rbuf, size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(rbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(sbuf, size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
                }
                if (test)
                    for (long b = 0; b < size; b++)
                        if (rbuf[b] != pat(size, i, 1 - rank, b)) fail(rank, "wrong byte (size, index)", size, b);
            }
        }
        const double elapsed = MPI_Wtime() - t0;
        if (rank == 0) {
            if (test) printf("pingpong %d ok\n", size);
            else printf("%d %.2f %d\n", size, elapsed * 1e6 / (2.0 * iters), iters);
            fflush(stdout);
        }
    }
    /* The last line (scripts/bench-mpi.sh waits for it: the results are complete). */
    if (rank == 0 && !test) {
        printf("# done\n");
        fflush(stdout);
    }
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
