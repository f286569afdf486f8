/* Collective latency: allreduce (doubles, sum), bcast, allgather, alltoall and
 * barrier, from 8 B to 16 MiB. One source for two builds:
 *
 *   cc coll_bench.c -I<fmi>/include -L<fmi>/lib -lfmi        -> run under fmirun
 *   mpicc -DUSE_MPI coll_bench.c                             -> run under mpiexec
 *
 * Sizes are bytes per rank: the allreduce/bcast vector, the allgather contribution
 * times n (the whole output is `size`), the alltoall send buffer (blocks of size/n),
 * so memory stays at a few times `size` per rank at any rank count.
 * Each line: "op bytes usec" (rank 0; the slowest rank's mean time per call).
 *
 *   coll_bench [max_bytes]      the sweep, 8 B .. max_bytes (default 16 MiB)
 *   coll_bench --scale [iters]  barrier, 8 B allreduce, 8 B bcast, 8 B alltoall
 *                               blocks: for many ranks (e.g. 256) on few cores */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef USE_MPI
#include <mpi.h>
typedef MPI_Comm comm_t;
#define LIB "mpich"
#define WTIME() MPI_Wtime()
#define BARRIER(c) MPI_Barrier(c)
#define BCAST(b, n, c) MPI_Bcast(b, (int)(n), MPI_BYTE, 0, c)
#define ALLREDUCE(s, r, n, c) MPI_Allreduce(s, r, (int)(n), MPI_DOUBLE, MPI_SUM, c)
#define ALLREDUCE_MAX(s, r, c) MPI_Allreduce(s, r, 1, MPI_DOUBLE, MPI_MAX, c)
#define ALLGATHER(s, r, n, c) MPI_Allgather(s, (int)(n), MPI_BYTE, r, (int)(n), MPI_BYTE, c)
#define ALLTOALL(s, r, n, c) MPI_Alltoall(s, (int)(n), MPI_BYTE, r, (int)(n), MPI_BYTE, c)
#else
#include <fmi.h>
typedef FMI_Comm comm_t;
#define LIB "fmi"
#define WTIME() FMI_Wtime()
#define BARRIER(c) FMI_Barrier(c)
#define BCAST(b, n, c) FMI_Bcast(b, n, FMI_BYTE, 0, c)
#define ALLREDUCE(s, r, n, c) FMI_Allreduce(s, r, n, FMI_DOUBLE, FMI_SUM, c)
#define ALLREDUCE_MAX(s, r, c) FMI_Allreduce(s, r, 1, FMI_DOUBLE, FMI_MAX, c)
#define ALLGATHER(s, r, n, c) FMI_Allgather(s, r, n, FMI_BYTE, c)
#define ALLTOALL(s, r, n, c) FMI_Alltoall(s, r, n, FMI_BYTE, c)
#endif

static int rank, size;
static comm_t comm;

static void check(int rc, const char *what)
{
    if (rc != 0) {
#ifdef USE_MPI
        fprintf(stderr, "rank %d: %s failed: %d\n", rank, what, rc);
#else
        fprintf(stderr, "rank %d: %s failed: %s\n", rank, what, FMI_Last_error());
#endif
        exit(1);
    }
}

enum { OP_ALLREDUCE, OP_BCAST, OP_ALLGATHER, OP_ALLTOALL, OP_BARRIER };
static const char *names[] = {"allreduce", "bcast", "allgather", "alltoall", "barrier"};

static void run_once(int op, void *a, void *b, size_t bytes)
{
    size_t blk = bytes / (size_t)size;
    switch (op) {
    case OP_ALLREDUCE: check(ALLREDUCE(a, b, bytes / 8, comm), "allreduce"); break;
    case OP_BCAST: check(BCAST(a, bytes, comm), "bcast"); break;
    case OP_ALLGATHER: check(ALLGATHER(a, b, blk, comm), "allgather"); break;
    case OP_ALLTOALL: check(ALLTOALL(a, b, blk, comm), "alltoall"); break;
    default: check(BARRIER(comm), "barrier"); break;
    }
}

/* mean seconds per call on the slowest rank */
static double measure(int op, void *a, void *b, size_t bytes, int iters)
{
    double t, worst;
    int i;
    run_once(op, a, b, bytes); /* warm-up: connections, buffers */
    check(BARRIER(comm), "barrier");
    t = WTIME();
    for (i = 0; i < iters; i++)
        run_once(op, a, b, bytes);
    t = (WTIME() - t) / iters;
    check(ALLREDUCE_MAX(&t, &worst, comm), "allreduce");
    return worst;
}

static int iters_for(size_t bytes)
{
    size_t it = ((size_t)64 << 20) / (bytes + 4096);
    return it < 5 ? 5 : it > 1000 ? 1000 : (int)it;
}

int main(int argc, char **argv)
{
    size_t max = (size_t)16 << 20, bytes;
    int scale = argc > 1 && strcmp(argv[1], "--scale") == 0;
    char *a, *b;
    int op;
#ifdef USE_MPI
    MPI_Init(&argc, &argv);
    comm = MPI_COMM_WORLD;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
#else
    check(FMI_Comm_from_env(&comm), "FMI_Comm_from_env");
    FMI_Comm_rank(comm, &rank);
    FMI_Comm_size(comm, &size);
#endif
    if (scale) {
        int iters = argc > 2 ? atoi(argv[2]) : 20;
        size_t bl = 8 * (size_t)size;
        a = calloc(bl, 1);
        b = calloc(bl, 1);
        for (op = 0; op < 5; op++) {
            size_t n = op == OP_ALLTOALL ? bl : 8;
            double t = measure(op, a, b, n, iters);
            if (rank == 0)
                printf("%s scale %d ranks %s 8 %.1f us/op\n", LIB, size, names[op], t * 1e6);
        }
    } else {
        if (argc > 1)
            max = strtoull(argv[1], NULL, 0);
        a = malloc(max + 8 * (size_t)size);
        b = malloc(max + 8 * (size_t)size);
        memset(a, 1, max);
        memset(b, 0, max);
        for (op = 0; op < 5; op++) {
            static const size_t sizes[] = {8, 64, 512, 4096, 32768, 262144, 1 << 20, 4 << 20, 16 << 20};
            size_t k;
            for (k = 0; k < sizeof sizes / sizeof *sizes && sizes[k] <= max; k++) {
                bytes = sizes[k];
                /* allgather/alltoall need at least 8 bytes per block */
                if ((op == OP_ALLGATHER || op == OP_ALLTOALL) && bytes < 8 * (size_t)size)
                    bytes = 8 * (size_t)size;
                double t = measure(op, a, b, bytes, iters_for(bytes));
                if (rank == 0)
                    printf("%s %d %s %zu %.2f\n", LIB, size, names[op], bytes, t * 1e6);
                if (op == OP_BARRIER)
                    break;
            }
        }
    }
#ifdef USE_MPI
    MPI_Finalize();
#else
    FMI_Comm_free(&comm);
#endif
    free(a);
    free(b);
    return 0;
}
