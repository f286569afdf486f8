/* hybrid_peer: an extra, plain (non-MPI) process of the hybrid test, linked only
 * against libfmi.so. It joins the FMI world of four as rank 2 or 3 next to the two
 * MPICH ranks of hybrid_mpi (FMI ranks 0 and 1) and serves them; see
 * c-tests/hybrid/README.md.
 *
 *   FMI_RENDEZVOUS=host:port FMI_TOKEN=... ./hybrid_peer RANK ID
 *
 * Prints one "hybrid: ... ok" line, or a "hybrid: ... FAIL" line and exits 1. */
#include "hybrid.h"

int main(int argc, char **argv)
{
    hy_who = "peer";
    if (argc != 3) {
        fprintf(stderr, "usage: %s RANK ID   (RANK is 2 or 3)\n", argv[0]);
        return 2;
    }
    const int p = hy_int_arg(argv[1], "RANK");
    if (p < HY_NMPI || p >= HY_SIZE) {
        fprintf(stderr, "hybrid_peer: RANK must be %d or %d, not %d\n", HY_NMPI, HY_SIZE - 1, p);
        return 2;
    }
    hy_fmi_rank = p;
    const int m = p - HY_NMPI;  /* the MPI rank I serve */
    const int o = 1 - m;        /* the other MPI rank */
    const int q = 5 - p;        /* the other peer */

    char name[256];
    snprintf(name, sizeof name, "hybrid-%s", argv[2]);
    FMI_Comm comm = NULL;
    FMI_OK(FMI_Comm_create(p, HY_SIZE, name, NULL, &comm));
    int frank = -1, fsize = 0;
    FMI_OK(FMI_Comm_rank(comm, &frank));
    FMI_OK(FMI_Comm_size(comm, &fsize));
    CHECK(frank == p && fsize == HY_SIZE, "FMI says rank %d of %d", frank, fsize);

    /* 2. Answer MPI rank m's ping. */
    static uint32_t ping[HY_PING_N], pong[HY_PING_N];
    FMI_Status st;
    memset(&st, 0, sizeof st);
    FMI_OK(FMI_Recv(ping, HY_PING_N, FMI_UINT32, FMI_ANY_SOURCE, FMI_ANY_TAG, comm, &st));
    CHECK(st.source == m && st.tag == HY_TAG_PING && st.bytes == sizeof ping,
          "ping status: source %d tag %d bytes %zu", st.source, st.tag, st.bytes);
    size_t bad = hy_first_bad_u32(ping, HY_PING_N, 100 + m);
    CHECK(bad == HY_PING_N, "ping from MPI rank %d differs at element %zu", m, bad);
    for (size_t i = 0; i < HY_PING_N; i++)
        pong[i] = hy_pong(ping[i], p);
    FMI_OK(FMI_Send(pong, HY_PING_N, FMI_UINT32, m, HY_TAG_PONG, comm));

    /* 4. 1 MiB to the other MPI rank (which receives it while running MPI calls). */
    unsigned char *big = malloc(HY_BIG_BYTES);
    CHECK(big != NULL, "malloc");
    hy_fill_bytes(big, HY_BIG_BYTES, 300 + p);
    FMI_OK(FMI_Send(big, HY_BIG_BYTES, FMI_BYTE, o, HY_TAG_BIG, comm));
    free(big);

    /* Between the peers, FMI only. */
    uint32_t mine[HY_PEERS_N], theirs[HY_PEERS_N];
    hy_fill_u32(mine, HY_PEERS_N, 200 + p);
    memset(&st, 0, sizeof st);
    FMI_OK(FMI_Sendrecv(mine, HY_PEERS_N, q, HY_TAG_PEERS, theirs, HY_PEERS_N, q, HY_TAG_PEERS,
                        FMI_UINT32, comm, &st));
    CHECK(st.source == q && st.bytes == sizeof theirs, "peer sendrecv status: source %d bytes %zu",
          st.source, st.bytes);
    bad = hy_first_bad_u32(theirs, HY_PEERS_N, 200 + q);
    CHECK(bad == HY_PEERS_N, "peer %d's data differs at element %zu", q, bad);

    /* 5. FMI_Allreduce over all four ranks. */
    int64_t isend[HY_RED_N], isum[HY_RED_N];
    double dmax[HY_RED_N];
    for (size_t i = 0; i < HY_RED_N; i++) {
        isend[i] = hy_red_i64(p, i);
        dmax[i] = hy_red_f64(p, i);
    }
    FMI_OK(FMI_Allreduce(isend, isum, HY_RED_N, FMI_INT64, FMI_SUM, comm));
    FMI_OK(FMI_Allreduce(FMI_IN_PLACE, dmax, HY_RED_N, FMI_DOUBLE, FMI_MAX, comm));
    for (size_t i = 0; i < HY_RED_N; i++) {
        CHECK(isum[i] == hy_red_i64_sum(i), "FMI_Allreduce sum[%zu] = %lld", i,
              (long long)isum[i]);
        CHECK(dmax[i] == hy_red_f64_max(i), "FMI_Allreduce max[%zu] = %g", i, dmax[i]);
    }

    /* 6. FMI_Bcast, rooted at rank 3 (an extra process). */
    uint32_t *bc = calloc(HY_BCAST_N, sizeof *bc);
    CHECK(bc != NULL, "calloc");
    if (p == HY_BCAST_ROOT)
        hy_fill_u32(bc, HY_BCAST_N, 777);
    FMI_OK(FMI_Bcast(bc, HY_BCAST_N, FMI_UINT32, HY_BCAST_ROOT, comm));
    bad = hy_first_bad_u32(bc, HY_BCAST_N, 777);
    CHECK(bad == HY_BCAST_N, "FMI_Bcast from rank %d differs at element %zu", HY_BCAST_ROOT,
          bad);
    free(bc);

    /* 7. The split: the peers form their own communicator (reversed by key). */
    FMI_Comm sub = NULL;
    FMI_OK(FMI_Comm_split(comm, 1, -p, &sub));
    CHECK(sub != NULL, "FMI_Comm_split gave NULL");
    int srank = -1, ssize = 0;
    FMI_OK(FMI_Comm_rank(sub, &srank));
    FMI_OK(FMI_Comm_size(sub, &ssize));
    CHECK(ssize == 2 && srank == HY_SIZE - 1 - p, "split: rank %d of %d", srank, ssize);
    int contrib = (p + 1) * 10, fsum = 0;
    FMI_OK(FMI_Allreduce(&contrib, &fsum, 1, FMI_INT32, FMI_SUM, sub));
    CHECK(fsum == 70, "split allreduce %d, expected 70", fsum);

    /* 8. Leave in order. */
    FMI_OK(FMI_Barrier(comm));
    FMI_OK(FMI_Comm_free(&sub));
    FMI_OK(FMI_Comm_free(&comm));
    CHECK(comm == NULL, "FMI_Comm_free left the handle set");

    printf("hybrid: peer = fmi rank %d/%d (no MPI): p2p, big send, sendrecv, allreduce, "
           "bcast, split ok\n",
           frank, fsize);
    fflush(stdout);
    return 0;
}
