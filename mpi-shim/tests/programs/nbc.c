/* nbc.c: non-blocking collectives (Ibarrier, Ibcast, Ireduce, Iallreduce, Igather,
 * Iscatter, Iallgather, Ialltoall): several outstanding at once, completed in another
 * order than issued; overlap with point-to-point traffic and with blocking collectives;
 * programs that deadlock if a non-blocking collective blocks at the call. Any number of
 * ranks (the ordering tests need 2). Rank 0 prints one "NAME ok HASH" line per section. */
#include "mt.h"

enum { NB = 8 };

typedef struct {
    int bc[1000], red_in[100], red_out[100], ar_in[50], ar_out[50];
    int *g_out, sc_out[2], *sc_in, ag_in[3], *ag_out, *a2a_in, *a2a_out;
    int g_in[2];
} bufs;

static void bufs_init(bufs *b, int round)
{
    const int P = mt_size, me = mt_rank;
    for (int i = 0; i < 1000; i++) b->bc[i] = me == 0 ? i * 3 + round : -1;
    for (int i = 0; i < 100; i++) b->red_in[i] = me * 100 + i + round, b->red_out[i] = -1;
    for (int i = 0; i < 50; i++) b->ar_in[i] = (me * 17 + i * 5 + round) % 64, b->ar_out[i] = -1;
    b->g_in[0] = me * 2 + round, b->g_in[1] = me * 2 + 1 + round;
    b->g_out = mt_malloc(sizeof(int) * 2 * (size_t)P);
    b->sc_in = mt_malloc(sizeof(int) * 2 * (size_t)P);
    for (int i = 0; i < 2 * P; i++) b->g_out[i] = -1, b->sc_in[i] = i * 7 + round;
    b->sc_out[0] = b->sc_out[1] = -1;
    for (int i = 0; i < 3; i++) b->ag_in[i] = me * 3 + i + round;
    b->ag_out = mt_malloc(sizeof(int) * 3 * (size_t)P);
    b->a2a_in = mt_malloc(sizeof(int) * 2 * (size_t)P);
    b->a2a_out = mt_malloc(sizeof(int) * 2 * (size_t)P);
    for (int i = 0; i < 2 * P; i++) b->a2a_in[i] = me * 1000 + i + round, b->a2a_out[i] = -1;
}

/* Issue all eight, in a fixed order; req[k] is the k-th issued. */
static void issue_all(bufs *b, MPI_Request req[NB])
{
    const int P = mt_size;
    MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &req[0]));
    MPI_OK(MPI_Ibcast(b->bc, 1000, MPI_INT, 0, MPI_COMM_WORLD, &req[1]));
    MPI_OK(MPI_Ireduce(b->red_in, b->red_out, 100, MPI_INT, MPI_SUM, P - 1, MPI_COMM_WORLD, &req[2]));
    MPI_OK(MPI_Iallreduce(b->ar_in, b->ar_out, 50, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req[3]));
    MPI_OK(MPI_Igather(b->g_in, 2, MPI_INT, b->g_out, 2, MPI_INT, P / 2, MPI_COMM_WORLD, &req[4]));
    MPI_OK(MPI_Iscatter(b->sc_in, 2, MPI_INT, b->sc_out, 2, MPI_INT, P - 1, MPI_COMM_WORLD, &req[5]));
    MPI_OK(MPI_Iallgather(b->ag_in, 3, MPI_INT, b->ag_out, 3, MPI_INT, MPI_COMM_WORLD, &req[6]));
    MPI_OK(MPI_Ialltoall(b->a2a_in, 2, MPI_INT, b->a2a_out, 2, MPI_INT, MPI_COMM_WORLD, &req[7]));
}

static void check_all(bufs *b, int round, mt_hash *h)
{
    const int P = mt_size, me = mt_rank;
    for (int i = 0; i < 1000; i++) CHECKF(b->bc[i] == i * 3 + round, "Ibcast round %d element %d", round, i);
    if (me == P - 1)
        for (int i = 0; i < 100; i++)
            CHECKF(b->red_out[i] == 100 * P * (P - 1) / 2 + P * (i + round), "Ireduce round %d element %d", round, i);
    for (int i = 0; i < 50; i++) {
        int m = -1;
        for (int r = 0; r < P; r++) {
            const int v = (r * 17 + i * 5 + round) % 64;
            if (v > m) m = v;
        }
        CHECKF(b->ar_out[i] == m, "Iallreduce round %d element %d", round, i);
        mh_i64(h, b->ar_out[i]);
    }
    if (me == P / 2)
        for (int r = 0; r < P; r++)
            CHECKF(b->g_out[2 * r] == r * 2 + round && b->g_out[2 * r + 1] == r * 2 + 1 + round,
                   "Igather round %d from %d", round, r);
    CHECKF(b->sc_out[0] == 2 * me * 7 + round && b->sc_out[1] == (2 * me + 1) * 7 + round, "Iscatter round %d",
           round);
    for (int r = 0; r < P; r++)
        for (int i = 0; i < 3; i++) CHECKF(b->ag_out[3 * r + i] == r * 3 + i + round, "Iallgather round %d", round);
    for (int s = 0; s < P; s++)
        for (int i = 0; i < 2; i++)
            CHECKF(b->a2a_out[2 * s + i] == s * 1000 + 2 * me + i + round, "Ialltoall round %d from %d", round, s);
    mh_i64(h, b->bc[999]);
    mh_i64(h, b->sc_out[1]);
    mh_i64(h, b->a2a_out[2 * P - 1]);
    free(b->g_out), free(b->sc_in), free(b->ag_out), free(b->a2a_in), free(b->a2a_out);
}

/* All eight outstanding; completed (0) by one Waitall over the reversed array, (1) by
 * Waits in a scrambled order, (2) by a Testall loop, (3) by a Waitany loop, (4) by
 * Waitsome. */
static void t_outstanding(void)
{
    mt_hash h;
    mh_init(&h);
    for (int round = 0; round < 5; round++) {
        bufs b;
        MPI_Request req[NB], rev[NB];
        bufs_init(&b, round);
        issue_all(&b, req);
        if (round == 0) {
            for (int k = 0; k < NB; k++) rev[k] = req[NB - 1 - k];
            MPI_OK(MPI_Waitall(NB, rev, MPI_STATUSES_IGNORE));
            for (int k = 0; k < NB; k++) CHECK(rev[k] == MPI_REQUEST_NULL);
        } else if (round == 1) {
            const int order[NB] = {5, 2, 7, 0, 3, 6, 1, 4};
            for (int k = 0; k < NB; k++) MPI_OK(MPI_Wait(&req[order[k]], MPI_STATUS_IGNORE));
        } else if (round == 2) {
            int flag = 0;
            while (!flag) MPI_OK(MPI_Testall(NB, req, &flag, MPI_STATUSES_IGNORE));
        } else if (round == 3) {
            int seen = 0;
            for (int k = 0; k < NB; k++) {
                int idx = -1;
                MPI_OK(MPI_Waitany(NB, req, &idx, MPI_STATUS_IGNORE));
                CHECK(idx >= 0 && idx < NB && !(seen & (1 << idx)));
                seen |= 1 << idx;
            }
        } else {
            int done = 0, outcount, idx[NB];
            while (done < NB) {
                MPI_OK(MPI_Waitsome(NB, req, &outcount, idx, MPI_STATUSES_IGNORE));
                CHECK(outcount > 0 && outcount != MPI_UNDEFINED);
                done += outcount;
            }
            CHECK(done == NB);
        }
        for (int k = 0; k < NB; k++) CHECK(req[k] == MPI_REQUEST_NULL || round == 0);
        check_all(&b, round, &h);
    }
    mt_end("outstanding", &h);
}

/* Ten Iallreduce on the same communicator outstanding at once: each must match its
 * counterpart by issue order. Also in place. */
static void t_many_same(void)
{
    mt_hash h;
    mh_init(&h);
    enum { K = 10 };
    int in[K][20], out[K][20];
    MPI_Request req[K];
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < 20; i++) in[k][i] = (mt_rank + 1) * (k * 20 + i), out[k][i] = in[k][i];
        if (k % 2) MPI_OK(MPI_Iallreduce(MPI_IN_PLACE, out[k], 20, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &req[k]));
        else MPI_OK(MPI_Iallreduce(in[k], out[k], 20, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &req[k]));
    }
    for (int k = K - 1; k >= 0; k--) MPI_OK(MPI_Wait(&req[k], MPI_STATUS_IGNORE));
    const int tri = mt_size * (mt_size + 1) / 2;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < 20; i++) {
            CHECKF(out[k][i] == tri * (k * 20 + i), "Iallreduce %d element %d: %d", k, i, out[k][i]);
            mh_i64(&h, out[k][i]);
        }

    /* Ireduce in place at the root, Igather in place at the root. */
    int r[5], g[64];
    MPI_Request rq[2];
    const int root = mt_size - 1;
    for (int i = 0; i < 5; i++) r[i] = mt_rank + i;
    for (int i = 0; i < 2 * mt_size && i < 64; i++) g[i] = -1;
    g[2 * mt_rank] = mt_rank * 5, g[2 * mt_rank + 1] = mt_rank * 5 + 1;
    int gs[2] = {mt_rank * 5, mt_rank * 5 + 1};
    CHECK(mt_size <= 32);
    MPI_OK(MPI_Ireduce(mt_rank == root ? MPI_IN_PLACE : r, r, 5, MPI_INT, MPI_SUM, root, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Igather(mt_rank == 0 ? MPI_IN_PLACE : (void *)gs, 2, MPI_INT, g, 2, MPI_INT, 0, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
    if (mt_rank == root)
        for (int i = 0; i < 5; i++) {
            CHECK(r[i] == mt_size * (mt_size - 1) / 2 + mt_size * i);
            mh_i64(&h, r[i]);
        }
    if (mt_rank == 0)
        for (int q = 0; q < mt_size; q++) CHECK(g[2 * q] == q * 5 && g[2 * q + 1] == q * 5 + 1);
    mt_end("many_outstanding", &h);
}

/* Overlap: a 1 MiB Iallreduce and a 1 MiB Ibcast run while the ranks exchange
 * point-to-point messages around the ring and do a blocking Allreduce; p2p and
 * collective requests end in one Waitall. */
static void t_overlap(void)
{
    mt_hash h;
    mh_init(&h);
    const int n = 1 << 18, P = mt_size, me = mt_rank;
    const int left = (me + P - 1) % P, right = (me + 1) % P;
    int *ar = mt_malloc(sizeof(int) * (size_t)n), *ar_out = mt_malloc(sizeof(int) * (size_t)n);
    int *bc = mt_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) ar[i] = me + i % 100, bc[i] = me == P - 1 ? i ^ 0x5555 : 0;
    MPI_Request req[4];
    MPI_OK(MPI_Iallreduce(ar, ar_out, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &req[0]));
    MPI_OK(MPI_Ibcast(bc, n, MPI_INT, P - 1, MPI_COMM_WORLD, &req[1]));
    int token = me, got = -1;
    for (int it = 0; it < 10; it++) {
        MPI_OK(MPI_Sendrecv(&token, 1, MPI_INT, right, it, &got, 1, MPI_INT, left, it, MPI_COMM_WORLD,
                            MPI_STATUS_IGNORE));
        CHECK(got == (me + P * 10 - it - 1) % P);
        token = got;
    }
    int one = 1, sum = 0;
    MPI_OK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    CHECK(sum == P);
    int s2 = me * 11, r2 = -1;
    MPI_OK(MPI_Irecv(&r2, 1, MPI_INT, left, 99, MPI_COMM_WORLD, &req[2]));
    MPI_OK(MPI_Isend(&s2, 1, MPI_INT, right, 99, MPI_COMM_WORLD, &req[3]));
    MPI_OK(MPI_Waitall(4, req, MPI_STATUSES_IGNORE));
    CHECK(r2 == left * 11);
    const long long base = (long long)P * (P - 1) / 2;
    for (int i = 0; i < n; i++) {
        CHECKF(ar_out[i] == base + (long long)P * (i % 100), "overlapped Iallreduce element %d", i);
        CHECKF(bc[i] == (i ^ 0x5555), "overlapped Ibcast element %d", i);
    }
    mh_i64(&h, ar_out[n - 1]);
    mh_i64(&h, bc[n - 1]);
    mh_i64(&h, token);
    free(ar), free(ar_out), free(bc);
    mt_end("overlap_p2p", &h);
}

/* Only correct if the non-blocking collectives return at the call:
 * rank 0 starts the collective and then Ssends to rank 1; rank 1 receives first and
 * joins the collective afterwards. And: rank 1 starts an Ibarrier that cannot complete
 * (rank 0 is still waiting for rank 1's message), Test must say not done. */
static void t_nonblocking_call(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    if (P < 2) {
        mt_end("nonblocking_at_call", &h);
        return;
    }
    for (int kind = 0; kind < 4; kind++) {
        MPI_Request rq;
        int msg = 1000 + kind, got = -1, bval = me == 0 ? 77 + kind : 0, ain = me + 1, aout = 0;
        int gin = me * 3, gout[64];
        CHECK(P <= 64);
        if (me == 1) MPI_OK(MPI_Recv(&got, 1, MPI_INT, 0, kind, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        switch (kind) {
        case 0: MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &rq)); break;
        case 1: MPI_OK(MPI_Ibcast(&bval, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq)); break;
        case 2: MPI_OK(MPI_Iallreduce(&ain, &aout, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq)); break;
        default: MPI_OK(MPI_Igather(&gin, 1, MPI_INT, gout, 1, MPI_INT, 1, MPI_COMM_WORLD, &rq)); break;
        }
        if (me == 0) MPI_OK(MPI_Ssend(&msg, 1, MPI_INT, 1, kind, MPI_COMM_WORLD));
        MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
        if (me == 1) CHECK(got == 1000 + kind);
        if (kind == 1) CHECK(bval == 77 + kind);
        if (kind == 2) CHECK(aout == P * (P + 1) / 2);
        if (kind == 3 && me == 1)
            for (int q = 0; q < P; q++) CHECK(gout[q] == q * 3);
        mh_i64(&h, kind == 1 ? bval : kind == 2 ? aout : got);
    }
    /* An Ibarrier cannot complete while a rank has not entered it. */
    {
        MPI_Request rq;
        int flag = 1, x = 5;
        if (me == 1) {
            MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &rq));
            MPI_OK(MPI_Test(&rq, &flag, MPI_STATUS_IGNORE));
            CHECKF(!flag, "Ibarrier completed before rank 0 entered it");
            MPI_OK(MPI_Send(&x, 1, MPI_INT, 0, 50, MPI_COMM_WORLD));
        } else {
            if (me == 0) MPI_OK(MPI_Recv(&x, 1, MPI_INT, 1, 50, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &rq));
        }
        MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
        mh_i64(&h, x);
    }
    mt_end("nonblocking_at_call", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    out("nbc: %d ranks\n", mt_size);
    t_outstanding();
    t_many_same();
    t_overlap();
    t_nonblocking_call();
    out("nbc: done\n");
    MPI_Finalize();
    return 0;
}
