/* hybrid_mpi: one of two real MPICH ranks (mpiexec -n 2) that also joins an FMI world
 * of four through libfmi.so, next to two plain processes (hybrid_peer, FMI ranks 2
 * and 3). MPI rank m is FMI rank m. The program interleaves MPI traffic between the
 * two MPI ranks with FMI traffic to and from the extra processes and checks every
 * result; see c-tests/hybrid/README.md for the sequence.
 *
 *   FMI_RENDEZVOUS=host:port FMI_TOKEN=... mpiexec -n 2 ./hybrid_mpi ID
 *
 * joins the FMI communicator "hybrid-ID". Prints one "hybrid: ... ok" line per rank;
 * any failure prints a "hybrid: ... FAIL" line and calls MPI_Abort. */
#include <mpi.h>

#include "hybrid.h"

#include <fcntl.h>

#ifndef MPICH_VERSION
#error "hybrid_mpi.c must be compiled against MPICH's mpi.h (is another mpi.h first on the include path?)"
#endif

static void die_mpi(void)
{
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* MPI calls must succeed as well (MPI_ERRORS_RETURN is set on MPI_COMM_WORLD). */
#define MPI_OK(call)                                                                      \
    do {                                                                                  \
        int hy_mrc_ = (call);                                                             \
        if (hy_mrc_ != MPI_SUCCESS) {                                                     \
            char hy_mstr_[MPI_MAX_ERROR_STRING];                                          \
            int hy_mlen_ = 0;                                                             \
            MPI_Error_string(hy_mrc_, hy_mstr_, &hy_mlen_);                               \
            hy_fail(__FILE__, __LINE__, "%s -> MPI error %d: %s", #call, hy_mrc_,         \
                    hy_mstr_);                                                            \
        }                                                                                 \
    } while (0)

/* The PMI_* variables MPICH's process manager gave us, to check FMI left them alone. */
#define MAX_PMI_VARS 32
static char *pmi_vars[MAX_PMI_VARS];
static int n_pmi_vars;
extern char **environ;

static int pmi_fd = -1, pmi_fd_flags = -1, pmi_fl_flags = -1;

static void snapshot_pmi(void)
{
    for (char **e = environ; *e && n_pmi_vars < MAX_PMI_VARS; e++)
        if (strncmp(*e, "PMI_", 4) == 0)
            pmi_vars[n_pmi_vars++] = strdup(*e);
    const char *fd = getenv("PMI_FD");
    if (fd) {
        pmi_fd = atoi(fd);
        pmi_fd_flags = fcntl(pmi_fd, F_GETFD);
        pmi_fl_flags = fcntl(pmi_fd, F_GETFL);
    }
}

static void check_pmi_untouched(void)
{
    for (int i = 0; i < n_pmi_vars; i++) {
        char *eq = strchr(pmi_vars[i], '=');
        *eq = '\0';
        const char *now = getenv(pmi_vars[i]);
        CHECK(now && strcmp(now, eq + 1) == 0, "%s was '%s' before FMI_Comm_create, now '%s'",
              pmi_vars[i], eq + 1, now ? now : "(unset)");
        *eq = '=';
    }
    /* Still open, and nobody changed its flags (close-on-exec, non-blocking): FMI has
     * not taken MPICH's PMI connection over. */
    if (pmi_fd >= 0) {
        int fdf = fcntl(pmi_fd, F_GETFD), flf = fcntl(pmi_fd, F_GETFL);
        CHECK(fdf != -1, "PMI_FD %d is no longer an open descriptor", pmi_fd);
        CHECK(fdf == pmi_fd_flags && flf == pmi_fl_flags,
              "PMI_FD %d's flags changed: F_GETFD %#x -> %#x, F_GETFL %#x -> %#x", pmi_fd,
              pmi_fd_flags, fdf, pmi_fl_flags, flf);
    }
}

int main(int argc, char **argv)
{
    MPI_OK(MPI_Init(&argc, &argv));
    hy_who = "mpi";
    hy_die = die_mpi;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    int m = -1, msize = 0;
    MPI_OK(MPI_Comm_rank(MPI_COMM_WORLD, &m));
    MPI_OK(MPI_Comm_size(MPI_COMM_WORLD, &msize));
    hy_fmi_rank = m;
    if (argc != 2)
        hy_fail(__FILE__, __LINE__, "usage: mpiexec -n 2 %s ID", argv[0]);
    CHECK(msize == HY_NMPI, "run me with mpiexec -n %d, not %d", HY_NMPI, msize);
    const int o = 1 - m; /* the other MPI rank */

    /* This really is MPICH, not FMI's own MPI shim. */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int liblen = 0;
    MPI_OK(MPI_Get_library_version(lib, &liblen));
    CHECK(strncmp(lib, "MPICH", 5) == 0, "MPI library is not MPICH: %.60s", lib);

    /* Join the FMI world with explicit rank and size; PMI_* belong to MPICH. */
    char name[256];
    snprintf(name, sizeof name, "hybrid-%s", argv[1]);
    snapshot_pmi();
    FMI_Comm comm = NULL;
    FMI_OK(FMI_Comm_create(m, HY_SIZE, name, NULL, &comm));
    int frank = -1, fsize = 0;
    FMI_OK(FMI_Comm_rank(comm, &frank));
    FMI_OK(FMI_Comm_size(comm, &fsize));
    CHECK(frank == m && fsize == HY_SIZE, "FMI says rank %d of %d", frank, fsize);
    check_pmi_untouched();

    /* 1. MPI still works with FMI open. */
    int one = m + 1, sum = 0;
    MPI_OK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    CHECK(sum == 3, "MPI_Allreduce sum %d, expected 3", sum);

    /* 2. FMI ping-pong with "my" extra process 2+m. */
    static uint32_t ping[HY_PING_N], pong[HY_PING_N], other_pong[HY_PING_N];
    hy_fill_u32(ping, HY_PING_N, 100 + m);
    FMI_OK(FMI_Send(ping, HY_PING_N, FMI_UINT32, 2 + m, HY_TAG_PING, comm));
    FMI_Status st;
    memset(&st, 0, sizeof st);
    FMI_OK(FMI_Recv(pong, HY_PING_N, FMI_UINT32, FMI_ANY_SOURCE, HY_TAG_PONG, comm, &st));
    CHECK(st.source == 2 + m && st.tag == HY_TAG_PONG && st.bytes == sizeof pong,
          "pong status: source %d tag %d bytes %zu", st.source, st.tag, st.bytes);
    for (size_t i = 0; i < HY_PING_N; i++)
        CHECK(pong[i] == hy_pong(hy_pat(i, 100 + m), 2 + m), "pong[%zu] = %u", i, pong[i]);

    /* 3. MPI_Sendrecv of the FMI results between the two MPI ranks. */
    MPI_Status mst;
    MPI_OK(MPI_Sendrecv(pong, HY_PING_N, MPI_UINT32_T, o, 7, other_pong, HY_PING_N,
                        MPI_UINT32_T, o, 7, MPI_COMM_WORLD, &mst));
    for (size_t i = 0; i < HY_PING_N; i++)
        CHECK(other_pong[i] == hy_pong(hy_pat(i, 100 + o), 2 + o),
              "MPI rank %d's pong[%zu] = %u", o, i, other_pong[i]);

    /* 4. A 1 MiB FMI receive from the other MPI rank's extra process stays pending
     *    while MPI collectives run. */
    unsigned char *big = malloc(HY_BIG_BYTES);
    CHECK(big != NULL, "malloc");
    memset(big, 0, HY_BIG_BYTES);
    FMI_Request req = FMI_REQUEST_NULL;
    FMI_OK(FMI_Irecv(big, HY_BIG_BYTES, FMI_BYTE, 2 + o, HY_TAG_BIG, comm, &req));
    int64_t mine[HY_RED_N], maxes[HY_RED_N];
    for (size_t i = 0; i < HY_RED_N; i++)
        mine[i] = (int64_t)hy_pat(i, 50 + m);
    MPI_OK(MPI_Allreduce(mine, maxes, HY_RED_N, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD));
    for (size_t i = 0; i < HY_RED_N; i++) {
        int64_t a = hy_pat(i, 50), b = hy_pat(i, 51);
        CHECK(maxes[i] == (a > b ? a : b), "MPI_Allreduce max[%zu] = %lld", i,
              (long long)maxes[i]);
    }
    int from1 = m == 1 ? 4242 : 0;
    MPI_OK(MPI_Bcast(&from1, 1, MPI_INT, 1, MPI_COMM_WORLD));
    CHECK(from1 == 4242, "MPI_Bcast from rank 1 gave %d", from1);
    memset(&st, 0, sizeof st);
    FMI_OK(FMI_Wait(&req, &st));
    CHECK(req == FMI_REQUEST_NULL, "FMI_Wait left the request set");
    CHECK(st.source == 2 + o && st.tag == HY_TAG_BIG && st.bytes == HY_BIG_BYTES,
          "big status: source %d tag %d bytes %zu", st.source, st.tag, st.bytes);
    size_t bad = hy_first_bad_byte(big, HY_BIG_BYTES, 300 + 2 + o);
    CHECK(bad == HY_BIG_BYTES, "big message from FMI rank %d differs at byte %zu", 2 + o, bad);
    free(big);

    /* 5. FMI_Allreduce over all four ranks. */
    int64_t isend[HY_RED_N], isum[HY_RED_N];
    double dmax[HY_RED_N];
    for (size_t i = 0; i < HY_RED_N; i++) {
        isend[i] = hy_red_i64(m, i);
        dmax[i] = hy_red_f64(m, i);
    }
    FMI_OK(FMI_Allreduce(isend, isum, HY_RED_N, FMI_INT64, FMI_SUM, comm));
    FMI_OK(FMI_Allreduce(FMI_IN_PLACE, dmax, HY_RED_N, FMI_DOUBLE, FMI_MAX, comm));
    for (size_t i = 0; i < HY_RED_N; i++) {
        CHECK(isum[i] == hy_red_i64_sum(i), "FMI_Allreduce sum[%zu] = %lld", i,
              (long long)isum[i]);
        CHECK(dmax[i] == hy_red_f64_max(i), "FMI_Allreduce max[%zu] = %g", i, dmax[i]);
    }

    /* 6. FMI_Bcast from an extra process; MPI confirms both MPI ranks got the same. */
    uint32_t *bc = calloc(HY_BCAST_N, sizeof *bc);
    CHECK(bc != NULL, "calloc");
    FMI_OK(FMI_Bcast(bc, HY_BCAST_N, FMI_UINT32, HY_BCAST_ROOT, comm));
    bad = hy_first_bad_u32(bc, HY_BCAST_N, 777);
    CHECK(bad == HY_BCAST_N, "FMI_Bcast from rank %d differs at element %zu", HY_BCAST_ROOT,
          bad);
    uint64_t cs = hy_sum_u32(bc, HY_BCAST_N), cs_min = 0, cs_max = 0;
    MPI_OK(MPI_Allreduce(&cs, &cs_min, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
    MPI_OK(MPI_Allreduce(&cs, &cs_max, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    CHECK(cs_min == cs && cs_max == cs, "bcast checksums differ between the MPI ranks");
    free(bc);

    /* 7. FMI_Comm_split: the MPI ranks (reversed by key) vs MPI_COMM_WORLD. */
    FMI_Comm sub = NULL;
    FMI_OK(FMI_Comm_split(comm, 0, -m, &sub));
    CHECK(sub != NULL, "FMI_Comm_split gave NULL");
    int srank = -1, ssize = 0;
    FMI_OK(FMI_Comm_rank(sub, &srank));
    FMI_OK(FMI_Comm_size(sub, &ssize));
    CHECK(ssize == HY_NMPI && srank == o, "split: rank %d of %d", srank, ssize);
    int contrib = (m + 1) * 10, fsum = 0, msum = 0;
    FMI_OK(FMI_Allreduce(&contrib, &fsum, 1, FMI_INT32, FMI_SUM, sub));
    MPI_OK(MPI_Allreduce(&contrib, &msum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    CHECK(fsum == 30 && msum == 30, "split allreduce %d, MPI allreduce %d", fsum, msum);

    /* 8. Leave FMI in order; MPI still works afterwards. */
    FMI_OK(FMI_Barrier(comm));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    FMI_OK(FMI_Comm_free(&sub));
    FMI_OK(FMI_Comm_free(&comm));
    CHECK(comm == NULL, "FMI_Comm_free left the handle set");
    check_pmi_untouched();
    sum = 0;
    MPI_OK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    CHECK(sum == 3, "MPI_Allreduce after FMI_Comm_free: %d", sum);

    printf("hybrid: mpi rank %d/%d = fmi rank %d/%d (MPICH): p2p, sendrecv, irecv+mpi, "
           "allreduce, bcast, split ok\n",
           m, msize, frank, fsize);
    fflush(stdout);
    MPI_OK(MPI_Finalize());
    return 0;
}
