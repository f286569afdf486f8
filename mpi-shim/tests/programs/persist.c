/* persist.c: persistent requests: Send_init, Ssend_init, Bsend_init (Buffer_attach),
 * Rsend_init (receive posted first, barrier), Recv_init (also with MPI_ANY_SOURCE and
 * MPI_ANY_TAG), Start, Startall, the same requests restarted many times with the buffer
 * contents read at each Start, a 1-D halo exchange of 50 iterations with Startall/Waitall
 * (MPI_PROC_NULL at the ends; the result is gathered and compared with a sequential
 * computation, so it is the same at every rank count), Test on a persistent request
 * (not done before the matching send may start), Wait/Test/Waitany/Waitall on inactive
 * persistent requests (return at once, empty status, handle kept), Request_free of an
 * inactive persistent request, persistent requests with MPI_PROC_NULL. A ring, so 1 rank
 * talks to itself. Rank 0 prints one "NAME ok HASH" line per section. */
#include "mt.h"

static int left, right;

/* The empty status: source MPI_ANY_SOURCE, tag MPI_ANY_TAG, count 0. */
static void check_empty(const MPI_Status *st, const char *what)
{
    int n = -1;
    MPI_OK(MPI_Get_count(st, MPI_INT, &n));
    CHECKF(st->MPI_SOURCE == MPI_ANY_SOURCE && st->MPI_TAG == MPI_ANY_TAG && n == 0,
           "%s: not an empty status: source %d tag %d count %d", what, st->MPI_SOURCE, st->MPI_TAG, n);
}

/* Send_init/Recv_init restarted 20 times with Start; the send buffer changes between
 * starts (the data of each round is what the buffer holds at its Start). A persistent
 * receive with MPI_ANY_SOURCE/MPI_ANY_TAG matched by a plain Isend, and a persistent send
 * matched by a plain Recv; a zero-count persistent send. */
static void t_basic(void)
{
    mt_hash h;
    mh_init(&h);
    enum { N = 64, ROUNDS = 20 };
    int sbuf[N] = {0}, rbuf[N] = {0};
    MPI_Request sr, rr;
    MPI_Status st;
    MPI_OK(MPI_Send_init(sbuf, N, MPI_INT, right, 10, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(rbuf, N, MPI_INT, left, 10, MPI_COMM_WORLD, &rr));
    CHECK(sr != MPI_REQUEST_NULL && rr != MPI_REQUEST_NULL);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) sbuf[i] = mt_rank * 100000 + round * 1000 + i, rbuf[i] = -1;
        if (round % 2 == 0) {
            MPI_OK(MPI_Start(&rr));
            MPI_OK(MPI_Start(&sr));
        } else {
            MPI_OK(MPI_Start(&sr));
            MPI_OK(MPI_Start(&rr));
        }
        MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
        CHECKF(sr != MPI_REQUEST_NULL, "Wait set a persistent send request to MPI_REQUEST_NULL");
        MPI_OK(MPI_Wait(&rr, &st));
        CHECKF(rr != MPI_REQUEST_NULL, "Wait set a persistent receive request to MPI_REQUEST_NULL");
        int n = -1;
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == 10 && n == N, "round %d: status source %d tag %d count %d",
               round, st.MPI_SOURCE, st.MPI_TAG, n);
        for (int i = 0; i < N; i++)
            CHECKF(rbuf[i] == left * 100000 + round * 1000 + i, "round %d: rbuf[%d] = %d", round, i, rbuf[i]);
        mh_i64(&h, rbuf[N - 1]);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    CHECK(sr == MPI_REQUEST_NULL && rr == MPI_REQUEST_NULL);

    /* Wildcard persistent receive, matched by Isends with different tags. */
    int x = -1, y;
    MPI_OK(MPI_Recv_init(&x, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &rr));
    for (int k = 0; k < 5; k++) {
        MPI_Request q;
        y = mt_rank * 10 + k;
        MPI_OK(MPI_Start(&rr));
        MPI_OK(MPI_Isend(&y, 1, MPI_INT, right, 20 + k, MPI_COMM_WORLD, &q));
        MPI_OK(MPI_Wait(&rr, &st));
        MPI_OK(MPI_Wait(&q, MPI_STATUS_IGNORE));
        CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == 20 + k && x == left * 10 + k, "wildcard %d: %d from %d tag %d",
               k, x, st.MPI_SOURCE, st.MPI_TAG);
        mh_i64(&h, x);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* the next round's receive must not match an older send */
    }
    MPI_OK(MPI_Request_free(&rr));

    /* Persistent send, plain receive; then a zero-count persistent send. */
    MPI_OK(MPI_Send_init(&y, 1, MPI_INT, right, 30, MPI_COMM_WORLD, &sr));
    for (int k = 0; k < 4; k++) {
        y = mt_rank * 7 + k;
        MPI_OK(MPI_Start(&sr));
        MPI_OK(MPI_Recv(&x, 1, MPI_INT, left, 30, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
        CHECK(x == left * 7 + k);
        mh_i64(&h, x);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Send_init(NULL, 0, MPI_INT, right, 31, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(&x, 1, MPI_INT, left, 31, MPI_COMM_WORLD, &rr));
    for (int k = 0; k < 3; k++) {
        x = 12345;
        MPI_Request both[2] = {rr, sr};
        MPI_OK(MPI_Startall(2, both));
        MPI_Status sts[2];
        MPI_OK(MPI_Waitall(2, both, sts));
        CHECK(both[0] == rr && both[1] == sr);
        int n = -1;
        MPI_OK(MPI_Get_count(&sts[0], MPI_INT, &n));
        CHECKF(n == 0 && x == 12345 && sts[0].MPI_SOURCE == left && sts[0].MPI_TAG == 31, "zero count: n %d x %d", n,
               x);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    mt_end("send_recv_init", &h);
}

/* Ssend_init: not complete before the receive is posted (the receiver posts it after a
 * barrier that the sender enters after its Test); restarted 5 times. */
static void t_ssend(void)
{
    mt_hash h;
    mh_init(&h);
    int s[8] = {0}, r[8] = {0};
    MPI_Request sr, rr;
    MPI_OK(MPI_Ssend_init(s, 8, MPI_INT, right, 40, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(r, 8, MPI_INT, left, 40, MPI_COMM_WORLD, &rr));
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 8; i++) s[i] = mt_rank * 1000 + round * 10 + i, r[i] = -1;
        int flag = 1;
        MPI_OK(MPI_Start(&sr));
        MPI_OK(MPI_Test(&sr, &flag, MPI_STATUS_IGNORE));
        CHECKF(!flag, "round %d: a persistent synchronous send completed before the receive was posted", round);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        MPI_OK(MPI_Start(&rr));
        MPI_Request both[2] = {sr, rr};
        MPI_Status sts[2];
        MPI_OK(MPI_Waitall(2, both, sts));
        CHECK(both[0] == sr && both[1] == rr);
        CHECK(sts[1].MPI_SOURCE == left && sts[1].MPI_TAG == 40);
        for (int i = 0; i < 8; i++) CHECK(r[i] == left * 1000 + round * 10 + i);
        mh_i64(&h, r[7]);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    /* A large synchronous persistent send (1.2 MB). */
    enum { BIG = 300000 };
    int *bs = mt_malloc(sizeof(int) * BIG), *br = mt_malloc(sizeof(int) * BIG);
    MPI_OK(MPI_Ssend_init(bs, BIG, MPI_INT, right, 41, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(br, BIG, MPI_INT, left, 41, MPI_COMM_WORLD, &rr));
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < BIG; i++) bs[i] = mt_rank + round * 3 + i;
        MPI_Request both[2] = {sr, rr};
        MPI_OK(MPI_Startall(2, both));
        MPI_OK(MPI_Waitall(2, both, MPI_STATUSES_IGNORE));
        for (int i = 0; i < BIG; i++) CHECKF(br[i] == left + round * 3 + i, "big round %d: br[%d] = %d", round, i, br[i]);
        mh_i64(&h, br[BIG - 1]);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    free(bs), free(br);
    mt_end("ssend_init", &h);
}

/* Bsend_init with an attached buffer: each Start copies the data out, the Wait completes
 * locally, the receive comes later; ten rounds, then Buffer_detach. */
static void t_bsend(void)
{
    mt_hash h;
    mh_init(&h);
    enum { N = 1000, ROUNDS = 10 };
    int ps = 0;
    MPI_OK(MPI_Pack_size(N, MPI_INT, MPI_COMM_WORLD, &ps));
    const int total = 4 * (ps + MPI_BSEND_OVERHEAD);
    char *buf = mt_malloc((size_t)total);
    MPI_OK(MPI_Buffer_attach(buf, total));
    int *s = mt_malloc(sizeof(int) * N), *r = mt_malloc(sizeof(int) * N);
    MPI_Request sr, rr;
    MPI_OK(MPI_Bsend_init(s, N, MPI_INT, right, 50, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(r, N, MPI_INT, left, 50, MPI_COMM_WORLD, &rr));
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) s[i] = mt_rank * 1000000 + round * 10000 + i;
        MPI_OK(MPI_Start(&sr));
        MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE)); /* local completion: the data is in the attached buffer */
        memset(s, 0xff, sizeof(int) * N);
        MPI_Status st;
        MPI_OK(MPI_Start(&rr));
        MPI_OK(MPI_Wait(&rr, &st));
        int n = -1;
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == N && st.MPI_SOURCE == left && st.MPI_TAG == 50);
        for (int i = 0; i < N; i++) CHECKF(r[i] == left * 1000000 + round * 10000 + i, "round %d: r[%d] = %d", round, i, r[i]);
        mh_i64(&h, r[N - 1]);
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    void *dbuf = NULL;
    int dsize = -1;
    MPI_OK(MPI_Buffer_detach(&dbuf, &dsize));
    CHECK(dbuf == (void *)buf && dsize == total);
    free(buf), free(s), free(r);
    mt_end("bsend_init", &h);
}

/* Rsend_init: the persistent receive is started, then a barrier, then the ready send. */
static void t_rsend(void)
{
    mt_hash h;
    mh_init(&h);
    enum { N = 100 };
    int s[N] = {0}, r[N] = {0};
    MPI_Request sr, rr;
    MPI_OK(MPI_Rsend_init(s, N, MPI_INT, right, 60, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Recv_init(r, N, MPI_INT, left, 60, MPI_COMM_WORLD, &rr));
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) s[i] = mt_rank + round * 100 + i * 11, r[i] = -1;
        MPI_OK(MPI_Start(&rr));
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        MPI_OK(MPI_Start(&sr));
        MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
        MPI_OK(MPI_Wait(&rr, MPI_STATUS_IGNORE));
        for (int i = 0; i < N; i++) CHECK(r[i] == left + round * 100 + i * 11);
        mh_i64(&h, r[N - 1]);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* the next Rsend only after every receive is posted again */
    }
    MPI_OK(MPI_Request_free(&sr));
    MPI_OK(MPI_Request_free(&rr));
    mt_end("rsend_init", &h);
}

/* A 1-D integer stencil over G points, block-distributed, 50 iterations; the halo
 * exchange is four persistent requests (MPI_PROC_NULL at the ends) restarted with
 * Startall and completed with Waitall. Rank 0 gathers the result, checks it against a
 * sequential computation and prints its hash: the same line at every rank count. */
enum { G = 240, ITERS = 50, MOD = 65521 };
static int step(int l, int c, int r, int gi) { return (l + 2 * c + 3 * r + gi) % MOD; }

static void t_halo(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    const int base = G / P, rem = G % P;
    const int n = base + (me < rem), off = me * base + (me < rem ? me : rem);
    const int lo = me > 0 ? me - 1 : MPI_PROC_NULL, hi = me < P - 1 ? me + 1 : MPI_PROC_NULL;
    int *u = mt_malloc(sizeof(int) * (size_t)(n + 2)), *v = mt_malloc(sizeof(int) * (size_t)(n + 2));
    for (int i = 0; i < n + 2; i++) u[i] = 0;
    for (int i = 1; i <= n; i++) u[i] = (off + i - 1) * 37 % 101;
    MPI_Request rq[4];
    MPI_OK(MPI_Recv_init(&u[0], 1, MPI_INT, lo, 70, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Recv_init(&u[n + 1], 1, MPI_INT, hi, 71, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Send_init(&u[1], 1, MPI_INT, lo, 71, MPI_COMM_WORLD, &rq[2]));
    MPI_OK(MPI_Send_init(&u[n], 1, MPI_INT, hi, 70, MPI_COMM_WORLD, &rq[3]));
    const MPI_Request keep[4] = {rq[0], rq[1], rq[2], rq[3]};
    for (int it = 0; it < ITERS; it++) {
        MPI_Status sts[4];
        MPI_OK(MPI_Startall(4, rq));
        MPI_OK(MPI_Waitall(4, rq, sts));
        for (int k = 0; k < 4; k++) CHECKF(rq[k] == keep[k], "Waitall changed persistent request %d", k);
        /* From MPI_PROC_NULL: count 0, halo untouched (source and tag: see t_proc_null). */
        int c0 = -1, c1 = -1;
        MPI_OK(MPI_Get_count(&sts[0], MPI_INT, &c0));
        MPI_OK(MPI_Get_count(&sts[1], MPI_INT, &c1));
        if (lo == MPI_PROC_NULL) CHECK(c0 == 0 && u[0] == 0);
        else CHECK(c0 == 1 && sts[0].MPI_SOURCE == lo && sts[0].MPI_TAG == 70);
        if (hi == MPI_PROC_NULL) CHECK(c1 == 0 && u[n + 1] == 0);
        else CHECK(c1 == 1 && sts[1].MPI_SOURCE == hi && sts[1].MPI_TAG == 71);
        for (int i = 1; i <= n; i++) v[i] = step(u[i - 1], u[i], u[i + 1], off + i - 1);
        for (int i = 1; i <= n; i++) u[i] = v[i]; /* the requests are bound to u */
    }
    for (int k = 0; k < 4; k++) MPI_OK(MPI_Request_free(&rq[k]));

    int *counts = mt_malloc(sizeof(int) * (size_t)P), *displs = mt_malloc(sizeof(int) * (size_t)P);
    for (int r = 0; r < P; r++) counts[r] = base + (r < rem), displs[r] = r * base + (r < rem ? r : rem);
    int *all = mt_malloc(sizeof(int) * G);
    MPI_OK(MPI_Gatherv(&u[1], n, MPI_INT, all, counts, displs, MPI_INT, 0, MPI_COMM_WORLD));
    mh_i64(&h, u[1]);
    if (me == 0) {
        int *a = mt_malloc(sizeof(int) * (G + 2)), *b = mt_malloc(sizeof(int) * (G + 2));
        a[0] = a[G + 1] = b[0] = b[G + 1] = 0;
        for (int i = 1; i <= G; i++) a[i] = (i - 1) * 37 % 101;
        for (int it = 0; it < ITERS; it++) {
            for (int i = 1; i <= G; i++) b[i] = step(a[i - 1], a[i], a[i + 1], i - 1);
            int *t = a;
            a = b, b = t;
        }
        mt_hash g;
        mh_init(&g);
        for (int i = 0; i < G; i++) {
            CHECKF(all[i] == a[i + 1], "halo result [%d] = %d, sequential %d", i, all[i], a[i + 1]);
            mh_i64(&g, all[i]);
        }
        out("halo_startall: %d points, %d iterations, result %016llx\n", G, ITERS, mh_get(&g));
        free(a), free(b);
    }
    free(u), free(v), free(counts), free(displs), free(all);
    mt_end("halo_startall", &h);
}

/* Test on a persistent receive whose send starts only after a barrier; Wait, Test,
 * Waitany, Waitall and Testall on inactive persistent requests; Request_free of an
 * inactive one (never started, and completed). */
static void t_inactive(void)
{
    mt_hash h;
    mh_init(&h);
    int x = -1, y = mt_rank * 3 + 1, flag = 0, idx = -2;
    MPI_Request rr, sr;
    MPI_Status st;
    MPI_OK(MPI_Recv_init(&x, 1, MPI_INT, left, 80, MPI_COMM_WORLD, &rr));
    MPI_OK(MPI_Send_init(&y, 1, MPI_INT, right, 80, MPI_COMM_WORLD, &sr));

    /* Never started: inactive. */
    st.MPI_SOURCE = 99, st.MPI_TAG = 99;
    MPI_OK(MPI_Wait(&rr, &st));
    check_empty(&st, "Wait on a never-started persistent receive");
    CHECK(rr != MPI_REQUEST_NULL);
    flag = 0;
    MPI_OK(MPI_Test(&sr, &flag, &st));
    CHECK(flag);
    check_empty(&st, "Test on a never-started persistent send");
    CHECK(sr != MPI_REQUEST_NULL);

    MPI_OK(MPI_Start(&rr));
    flag = 1;
    MPI_OK(MPI_Test(&rr, &flag, &st));
    CHECKF(!flag, "persistent receive completed before any send was started");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Start(&sr));
    flag = 0;
    while (!flag) MPI_OK(MPI_Test(&rr, &flag, &st));
    CHECK(rr != MPI_REQUEST_NULL && x == left * 3 + 1 && st.MPI_SOURCE == left && st.MPI_TAG == 80);
    mh_i64(&h, x);
    MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));

    /* Completed: inactive again. */
    st.MPI_SOURCE = 99, st.MPI_TAG = 99;
    MPI_OK(MPI_Wait(&rr, &st));
    check_empty(&st, "Wait on a completed persistent receive");
    st.MPI_SOURCE = 99, st.MPI_TAG = 99;
    flag = 0;
    MPI_OK(MPI_Test(&rr, &flag, &st));
    CHECK(flag);
    check_empty(&st, "Test on a completed persistent receive");
    MPI_Request both[2] = {rr, sr};
    st.MPI_SOURCE = 99, st.MPI_TAG = 99;
    MPI_OK(MPI_Waitany(2, both, &idx, &st));
    CHECKF(idx == MPI_UNDEFINED, "Waitany over inactive persistent requests: index %d", idx);
    check_empty(&st, "Waitany over inactive persistent requests");
    MPI_Status sts[2];
    for (int k = 0; k < 2; k++) sts[k].MPI_SOURCE = 99, sts[k].MPI_TAG = 99;
    MPI_OK(MPI_Waitall(2, both, sts));
    for (int k = 0; k < 2; k++) check_empty(&sts[k], "Waitall over inactive persistent requests");
    flag = 0;
    MPI_OK(MPI_Testall(2, both, &flag, MPI_STATUSES_IGNORE));
    CHECK(flag && both[0] == rr && both[1] == sr);

    /* Restartable after all that. */
    y = mt_rank * 3 + 2;
    MPI_OK(MPI_Startall(2, both));
    MPI_OK(MPI_Waitall(2, both, MPI_STATUSES_IGNORE));
    CHECK(x == left * 3 + 2);
    mh_i64(&h, x);

    /* Request_free of inactive persistent requests. */
    MPI_OK(MPI_Request_free(&rr));
    MPI_OK(MPI_Request_free(&sr));
    CHECK(rr == MPI_REQUEST_NULL && sr == MPI_REQUEST_NULL);
    MPI_Request never;
    MPI_OK(MPI_Recv_init(&x, 1, MPI_INT, left, 81, MPI_COMM_WORLD, &never));
    MPI_OK(MPI_Request_free(&never));
    CHECK(never == MPI_REQUEST_NULL);
    MPI_OK(MPI_Send_init(&y, 1, MPI_INT, right, 81, MPI_COMM_WORLD, &never));
    MPI_OK(MPI_Request_free(&never));
    CHECK(never == MPI_REQUEST_NULL);
    /* Nothing was sent on tag 81. */
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    flag = 1;
    MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, 81, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
    CHECKF(!flag, "a freed, never-started persistent send sent a message");
    mt_end("inactive", &h);
}

/* Persistent requests with MPI_PROC_NULL: complete at once, receive status count 0,
 * buffer untouched; restarted, mixed with real traffic in one Startall. The standard
 * gives such a receive the status source MPI_PROC_NULL, tag MPI_ANY_TAG, but MPICH 4.0.2
 * returns MPI_ANY_SOURCE/MPI_ANY_TAG for a persistent one (and 0/0 for an Irecv from
 * MPI_PROC_NULL), so source and tag are not checked. */
static void t_proc_null(void)
{
    mt_hash h;
    mh_init(&h);
    int a[4] = {7, 7, 7, 7}, b = 5, x = -1, y;
    MPI_Request rq[4];
    MPI_OK(MPI_Recv_init(a, 4, MPI_INT, MPI_PROC_NULL, 90, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Send_init(&b, 1, MPI_INT, MPI_PROC_NULL, 90, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Recv_init(&x, 1, MPI_INT, left, 91, MPI_COMM_WORLD, &rq[2]));
    MPI_OK(MPI_Send_init(&y, 1, MPI_INT, right, 91, MPI_COMM_WORLD, &rq[3]));
    for (int round = 0; round < 4; round++) {
        MPI_Status st;
        int n = -1;
        MPI_OK(MPI_Start(&rq[0]));
        MPI_OK(MPI_Wait(&rq[0], &st));
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECKF(n == 0, "PROC_NULL receive: count %d", n);
        CHECK(a[0] == 7 && a[3] == 7);
        int flag = 0;
        MPI_OK(MPI_Start(&rq[1]));
        MPI_OK(MPI_Test(&rq[1], &flag, MPI_STATUS_IGNORE));
        while (!flag) MPI_OK(MPI_Test(&rq[1], &flag, MPI_STATUS_IGNORE));
        y = mt_rank * 100 + round;
        MPI_Status sts[4];
        MPI_OK(MPI_Startall(4, rq));
        MPI_OK(MPI_Waitall(4, rq, sts));
        MPI_OK(MPI_Get_count(&sts[0], MPI_INT, &n));
        CHECK(n == 0);
        CHECK(sts[2].MPI_SOURCE == left && sts[2].MPI_TAG == 91 && x == left * 100 + round);
        CHECK(a[1] == 7 && b == 5);
        mh_i64(&h, x);
    }
    for (int k = 0; k < 4; k++) MPI_OK(MPI_Request_free(&rq[k]));
    mt_end("proc_null", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    left = (mt_rank + mt_size - 1) % mt_size;
    right = (mt_rank + 1) % mt_size;
    out("persist: %d ranks\n", mt_size);
    t_basic();
    t_ssend();
    t_bsend();
    t_rsend();
    t_halo();
    t_inactive();
    t_proc_null();
    out("persist: done\n");
    MPI_Finalize();
    return 0;
}
