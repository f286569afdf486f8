/* p2p.c: point-to-point semantics on MPI_COMM_WORLD, any number of ranks (1 works:
 * the ring neighbours are then the rank itself). Prints one "NAME ok HASH" line per
 * section from rank 0; HASH covers the data every rank received. */
#include "mt.h"

static int left, right; /* ring neighbours */

/* Tags: three messages with different tags, received in the reverse tag order. */
static void t_tags(void)
{
    mt_hash h;
    mh_init(&h);
    const int tags[3] = {5, 7, 9};
    int sbuf[3][4], rbuf[4];
    MPI_Request rq[3];
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 4; j++) sbuf[k][j] = tags[k] * 1000 + mt_rank * 10 + j;
        MPI_OK(MPI_Isend(sbuf[k], 4, MPI_INT, right, tags[k], MPI_COMM_WORLD, &rq[k]));
    }
    for (int k = 2; k >= 0; k--) {
        MPI_Status st;
        int n = -1;
        MPI_OK(MPI_Recv(rbuf, 4, MPI_INT, left, tags[k], MPI_COMM_WORLD, &st));
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == tags[k] && n == 4, "status %d %d %d", st.MPI_SOURCE,
               st.MPI_TAG, n);
        for (int j = 0; j < 4; j++) {
            CHECKF(rbuf[j] == tags[k] * 1000 + left * 10 + j, "tag %d elem %d = %d", tags[k], j, rbuf[j]);
            mh_i64(&h, rbuf[j]);
        }
    }
    MPI_OK(MPI_Waitall(3, rq, MPI_STATUSES_IGNORE));
    for (int k = 0; k < 3; k++) CHECK(rq[k] == MPI_REQUEST_NULL);
    mt_end("tags", &h);
}

/* MPI_ANY_SOURCE / MPI_ANY_TAG: every rank sends rank+1 ints with tag 100+rank to rank 0. */
static void t_anysource(void)
{
    mt_hash h;
    mh_init(&h);
    int msg[16];
    MPI_Request rq;
    const int count = mt_rank + 1;
    for (int j = 0; j < count; j++) msg[j] = mt_rank * 100 + j;
    MPI_OK(MPI_Isend(msg, count, MPI_INT, 0, 100 + mt_rank, MPI_COMM_WORLD, &rq));
    if (mt_rank == 0) {
        int *seen = calloc((size_t)mt_size, sizeof(int));
        CHECK(seen != NULL);
        for (int i = 0; i < mt_size; i++) {
            MPI_Status st;
            int buf[16], n = -1, nb = -1;
            MPI_OK(MPI_Recv(buf, 16, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
            const int src = st.MPI_SOURCE;
            CHECKF(src >= 0 && src < mt_size && !seen[src], "bad or repeated source %d", src);
            seen[src] = 1;
            CHECKF(st.MPI_TAG == 100 + src, "tag %d from %d", st.MPI_TAG, src);
            MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
            MPI_OK(MPI_Get_count(&st, MPI_BYTE, &nb));
            CHECKF(n == src + 1 && nb == 4 * (src + 1), "count %d bytes %d from %d", n, nb, src);
            for (int j = 0; j < n; j++) CHECK(buf[j] == src * 100 + j);
        }
        for (int r = 0; r < mt_size; r++) mh_i64(&h, seen[r]);
        free(seen);
    }
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    mt_end("any_source_any_tag", &h);
}

/* Non-overtaking: 60 messages of mixed sizes (0 B, 8 B, 100000 B) and two tags from the
 * same sender arrive in order at MPI_ANY_TAG receives; receives posted before the
 * messages are sent are matched in the order they were posted. */
static void t_order(void)
{
    mt_hash h;
    mh_init(&h);
    enum { N = 60, BIG = 100000 };
    unsigned char *sb[N];
    MPI_Request rq[N];
    unsigned char *rb = mt_malloc(BIG);
    for (int i = 0; i < N; i++) {
        const int sz = i % 3 == 0 ? BIG : i % 3 == 1 ? 0 : 8;
        sb[i] = mt_malloc(sz);
        mt_fill(sb[i], (size_t)sz, mt_rank, i);
        MPI_OK(MPI_Isend(sb[i], sz, MPI_BYTE, right, i % 2, MPI_COMM_WORLD, &rq[i]));
    }
    for (int i = 0; i < N; i++) {
        const int sz = i % 3 == 0 ? BIG : i % 3 == 1 ? 0 : 8;
        MPI_Status st;
        int n = -1;
        MPI_OK(MPI_Recv(rb, BIG, MPI_BYTE, left, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
        MPI_OK(MPI_Get_count(&st, MPI_BYTE, &n));
        CHECKF(st.MPI_TAG == i % 2 && n == sz, "message %d: tag %d count %d (overtaken?)", i, st.MPI_TAG, n);
        CHECKF(mt_verify(rb, (size_t)sz, left, i) < 0, "message %d: wrong data", i);
        mh_i64(&h, n);
        if (sz) mh_i64(&h, rb[sz - 1]);
    }
    MPI_OK(MPI_Waitall(N, rq, MPI_STATUSES_IGNORE));
    for (int i = 0; i < N; i++) free(sb[i]);

    /* Posted receives match in posting order. */
    int rv[8], sv[8];
    for (int i = 0; i < 8; i++) {
        rv[i] = -1;
        MPI_OK(MPI_Irecv(&rv[i], 1, MPI_INT, left, MPI_ANY_TAG, MPI_COMM_WORLD, &rq[i]));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int i = 0; i < 8; i++) {
        sv[i] = mt_rank * 1000 + i;
        MPI_OK(MPI_Isend(&sv[i], 1, MPI_INT, right, 20 + i, MPI_COMM_WORLD, &rq[8 + i]));
    }
    MPI_Status st[16];
    MPI_OK(MPI_Waitall(16, rq, st));
    for (int i = 0; i < 8; i++) {
        CHECKF(rv[i] == left * 1000 + i && st[i].MPI_TAG == 20 + i && st[i].MPI_SOURCE == left,
               "posted receive %d got %d tag %d", i, rv[i], st[i].MPI_TAG);
        mh_i64(&h, rv[i]);
    }
    free(rb);
    mt_end("non_overtaking", &h);
}

/* Synchronous send: an Issend cannot complete before the receive is posted; blocking
 * Ssend around the ring. */
static void t_ssend(void)
{
    mt_hash h;
    mh_init(&h);
    int s = mt_rank * 3 + 1, r = -1, flag = 1;
    MPI_Request rq;
    MPI_Status st;
    MPI_OK(MPI_Issend(&s, 1, MPI_INT, right, 200, MPI_COMM_WORLD, &rq));
    MPI_OK(MPI_Test(&rq, &flag, MPI_STATUS_IGNORE));
    CHECKF(!flag, "Issend completed before the receive was posted");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Recv(&r, 1, MPI_INT, left, 200, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    CHECK(r == left * 3 + 1 && st.MPI_SOURCE == left && st.MPI_TAG == 200);
    mh_i64(&h, r);
    if (mt_size >= 2) {
        /* Even ranks send first, odd ranks receive first: no deadlock for any size >= 2. */
        int big_n = 300000;
        int *sb = mt_malloc(sizeof(int) * (size_t)big_n), *rb = mt_malloc(sizeof(int) * (size_t)big_n);
        for (int i = 0; i < big_n; i++) sb[i] = mt_rank * 7 + i;
        for (int rep = 0; rep < 2; rep++) {
            const int n = rep == 0 ? 1 : big_n;
            if (mt_rank % 2 == 0) {
                MPI_OK(MPI_Ssend(sb, n, MPI_INT, right, 201, MPI_COMM_WORLD));
                MPI_OK(MPI_Recv(rb, n, MPI_INT, left, 201, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            } else {
                MPI_OK(MPI_Recv(rb, n, MPI_INT, left, 201, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                MPI_OK(MPI_Ssend(sb, n, MPI_INT, right, 201, MPI_COMM_WORLD));
            }
            for (int i = 0; i < n; i++) CHECKF(rb[i] == left * 7 + i, "Ssend data %d", i);
            mh_i64(&h, rb[n - 1]);
        }
        free(sb);
        free(rb);
    }
    mt_end("ssend", &h);
}

/* Ready send: every receive is posted before the barrier, the Rsend comes after it. */
static void t_rsend(void)
{
    mt_hash h;
    mh_init(&h);
    int s[100], r[100];
    MPI_Request rq;
    for (int i = 0; i < 100; i++) s[i] = mt_rank + i * 11, r[i] = -1;
    MPI_OK(MPI_Irecv(r, 100, MPI_INT, left, 210, MPI_COMM_WORLD, &rq));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Rsend(s, 100, MPI_INT, right, 210, MPI_COMM_WORLD));
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    for (int i = 0; i < 100; i++) {
        CHECK(r[i] == left + i * 11);
        mh_i64(&h, r[i]);
    }
    mt_end("rsend", &h);
}

/* Buffered send: three Bsends (40 B, 4000 B, 100000 B) complete before the receiver
 * even posts its receives; Buffer_detach returns the attached buffer. */
static void t_bsend(void)
{
    mt_hash h;
    mh_init(&h);
    const int counts[3] = {10, 1000, 25000};
    int total = 0;
    for (int k = 0; k < 3; k++) {
        int ps = 0;
        MPI_OK(MPI_Pack_size(counts[k], MPI_INT, MPI_COMM_WORLD, &ps));
        total += ps + MPI_BSEND_OVERHEAD;
    }
    char *buf = mt_malloc((size_t)total);
    MPI_OK(MPI_Buffer_attach(buf, total));
    int *msg[3], *rb = mt_malloc(sizeof(int) * 25000);
    for (int k = 0; k < 3; k++) {
        msg[k] = mt_malloc(sizeof(int) * (size_t)counts[k]);
        for (int i = 0; i < counts[k]; i++) msg[k][i] = mt_rank * 100000 + k * 30000 + i;
        MPI_OK(MPI_Bsend(msg[k], counts[k], MPI_INT, right, 220 + k, MPI_COMM_WORLD));
    }
    /* The user buffers may be reused at once after a Bsend. */
    for (int k = 0; k < 3; k++) {
        memset(msg[k], 0xff, sizeof(int) * (size_t)counts[k]);
        free(msg[k]);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    for (int k = 2; k >= 0; k--) {
        MPI_Status st;
        int n = -1;
        MPI_OK(MPI_Recv(rb, 25000, MPI_INT, left, 220 + k, MPI_COMM_WORLD, &st));
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECKF(n == counts[k], "Bsend %d count %d", k, n);
        for (int i = 0; i < n; i++) CHECKF(rb[i] == left * 100000 + k * 30000 + i, "Bsend %d data %d", k, i);
        mh_i64(&h, rb[n - 1]);
    }
    void *dbuf = NULL;
    int dsize = -1;
    MPI_OK(MPI_Buffer_detach(&dbuf, &dsize));
    CHECKF(dbuf == (void *)buf && dsize == total, "Buffer_detach returned %p %d", dbuf, dsize);
    free(buf);
    free(rb);
    mt_end("bsend", &h);
}

/* Non-blocking sends and receives with Wait, Waitall, Waitany, Waitsome, Test, Testall,
 * Testany, and the empty status of a null request. */
static void t_nonblocking(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Status st, sts[12];
    int flag, idx;

    /* Wait and Issend/Irecv. */
    {
        int s = mt_rank + 500, r = -1;
        MPI_Request sr, rr;
        MPI_OK(MPI_Irecv(&r, 1, MPI_INT, left, 300, MPI_COMM_WORLD, &rr));
        MPI_OK(MPI_Issend(&s, 1, MPI_INT, right, 300, MPI_COMM_WORLD, &sr));
        MPI_OK(MPI_Wait(&rr, &st));
        MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
        CHECK(rr == MPI_REQUEST_NULL && sr == MPI_REQUEST_NULL);
        CHECK(r == left + 500 && st.MPI_SOURCE == left && st.MPI_TAG == 300);
        mh_i64(&h, r);
    }
    /* Waitany over four receives with different tags; then on all-null arrays. */
    {
        int s[4], r[4], done[4] = {0, 0, 0, 0};
        MPI_Request rr[4], sr[4];
        for (int j = 0; j < 4; j++) {
            MPI_OK(MPI_Irecv(&r[j], 1, MPI_INT, left, 310 + j, MPI_COMM_WORLD, &rr[j]));
        }
        for (int j = 3; j >= 0; j--) {
            s[j] = mt_rank * 10 + j;
            MPI_OK(MPI_Isend(&s[j], 1, MPI_INT, right, 310 + j, MPI_COMM_WORLD, &sr[j]));
        }
        for (int c = 0; c < 4; c++) {
            MPI_OK(MPI_Waitany(4, rr, &idx, &st));
            CHECKF(idx >= 0 && idx < 4 && !done[idx], "Waitany index %d", idx);
            done[idx] = 1;
            CHECK(rr[idx] == MPI_REQUEST_NULL);
            CHECK(st.MPI_TAG == 310 + idx && st.MPI_SOURCE == left && r[idx] == left * 10 + idx);
        }
        MPI_OK(MPI_Waitany(4, rr, &idx, &st));
        CHECKF(idx == MPI_UNDEFINED, "Waitany on null requests gave %d", idx);
        MPI_OK(MPI_Waitall(4, sr, MPI_STATUSES_IGNORE));
        for (int j = 0; j < 4; j++) mh_i64(&h, r[j]);
    }
    /* Waitsome over six receives of different sizes. */
    {
        int *s[6], *r[6], done[6] = {0}, total = 0, outcount, idxs[6];
        MPI_Request rr[6], sr[6];
        for (int j = 0; j < 6; j++) {
            const int n = j * 5000;
            s[j] = mt_malloc(sizeof(int) * (size_t)n);
            r[j] = mt_malloc(sizeof(int) * (size_t)n);
            for (int i = 0; i < n; i++) s[j][i] = mt_rank + i + j;
            MPI_OK(MPI_Irecv(r[j], n, MPI_INT, left, 320 + j, MPI_COMM_WORLD, &rr[j]));
            MPI_OK(MPI_Isend(s[j], n, MPI_INT, right, 320 + j, MPI_COMM_WORLD, &sr[j]));
        }
        for (;;) {
            MPI_OK(MPI_Waitsome(6, rr, &outcount, idxs, sts));
            if (outcount == MPI_UNDEFINED) break;
            CHECKF(outcount >= 1 && outcount <= 6, "Waitsome outcount %d", outcount);
            for (int k = 0; k < outcount; k++) {
                const int j = idxs[k];
                CHECKF(j >= 0 && j < 6 && !done[j], "Waitsome index %d", j);
                done[j] = 1;
                CHECK(rr[j] == MPI_REQUEST_NULL && sts[k].MPI_TAG == 320 + j && sts[k].MPI_SOURCE == left);
                int n = -1;
                MPI_OK(MPI_Get_count(&sts[k], MPI_INT, &n));
                CHECK(n == j * 5000);
                for (int i = 0; i < n; i++) CHECK(r[j][i] == left + i + j);
            }
            total += outcount;
        }
        CHECKF(total == 6, "Waitsome completed %d", total);
        MPI_OK(MPI_Waitall(6, sr, MPI_STATUSES_IGNORE));
        for (int j = 0; j < 6; j++) {
            if (j) mh_i64(&h, r[j][j * 5000 - 1]);
            free(s[j]);
            free(r[j]);
        }
    }
    /* Test until done. */
    {
        double s = mt_rank * 0.5, r = -1;
        MPI_Request sr, rr;
        MPI_OK(MPI_Irecv(&r, 1, MPI_DOUBLE, left, 330, MPI_COMM_WORLD, &rr));
        MPI_OK(MPI_Isend(&s, 1, MPI_DOUBLE, right, 330, MPI_COMM_WORLD, &sr));
        flag = 0;
        while (!flag) MPI_OK(MPI_Test(&rr, &flag, &st));
        CHECK(rr == MPI_REQUEST_NULL && r == left * 0.5 && st.MPI_SOURCE == left && st.MPI_TAG == 330);
        flag = 0;
        while (!flag) MPI_OK(MPI_Test(&sr, &flag, MPI_STATUS_IGNORE));
        mh_i64(&h, (int64_t)(r * 2));
    }
    /* Testall over three receives and three sends in one array. */
    {
        int s[3], r[3];
        MPI_Request rq[6];
        for (int j = 0; j < 3; j++) {
            s[j] = mt_rank * 3 + j;
            MPI_OK(MPI_Irecv(&r[j], 1, MPI_INT, left, 340 + j, MPI_COMM_WORLD, &rq[j]));
            MPI_OK(MPI_Isend(&s[j], 1, MPI_INT, right, 340 + j, MPI_COMM_WORLD, &rq[3 + j]));
        }
        flag = 0;
        while (!flag) MPI_OK(MPI_Testall(6, rq, &flag, sts));
        for (int j = 0; j < 3; j++) {
            CHECK(rq[j] == MPI_REQUEST_NULL && rq[3 + j] == MPI_REQUEST_NULL);
            CHECK(r[j] == left * 3 + j && sts[j].MPI_TAG == 340 + j && sts[j].MPI_SOURCE == left);
            mh_i64(&h, r[j]);
        }
    }
    /* Testany until every request is null; then flag is true and the index undefined. */
    {
        int s[3], r[3], done[3] = {0, 0, 0}, ndone = 0;
        MPI_Request rr[3], sr[3];
        for (int j = 0; j < 3; j++) {
            s[j] = mt_rank * 3 + j + 1;
            MPI_OK(MPI_Irecv(&r[j], 1, MPI_INT, left, 350 + j, MPI_COMM_WORLD, &rr[j]));
            MPI_OK(MPI_Isend(&s[j], 1, MPI_INT, right, 350 + j, MPI_COMM_WORLD, &sr[j]));
        }
        while (ndone < 3) {
            MPI_OK(MPI_Testany(3, rr, &idx, &flag, &st));
            if (!flag) continue;
            CHECKF(idx >= 0 && idx < 3 && !done[idx], "Testany index %d", idx);
            done[idx] = 1;
            ndone++;
            CHECK(st.MPI_TAG == 350 + idx && r[idx] == left * 3 + idx + 1);
        }
        MPI_OK(MPI_Testany(3, rr, &idx, &flag, &st));
        CHECKF(flag && idx == MPI_UNDEFINED, "Testany on null requests: flag %d index %d", flag, idx);
        MPI_OK(MPI_Waitall(3, sr, MPI_STATUSES_IGNORE));
        for (int j = 0; j < 3; j++) mh_i64(&h, r[j]);
    }
    /* A null request: Wait returns at once with an empty status, Test says done. */
    {
        MPI_Request nr = MPI_REQUEST_NULL;
        int n = -1;
        st.MPI_SOURCE = 12345;
        st.MPI_TAG = 12345;
        MPI_OK(MPI_Wait(&nr, &st));
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECKF(st.MPI_SOURCE == MPI_ANY_SOURCE && st.MPI_TAG == MPI_ANY_TAG && n == 0,
               "empty status: source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, n);
        flag = 0;
        MPI_OK(MPI_Test(&nr, &flag, MPI_STATUS_IGNORE));
        CHECK(flag);
        MPI_OK(MPI_Waitall(1, &nr, MPI_STATUSES_IGNORE));
    }
    /* Request_free on an active send; the message is still delivered. */
    {
        int s = mt_rank + 77, r = -1;
        MPI_Request sr;
        MPI_OK(MPI_Isend(&s, 1, MPI_INT, right, 360, MPI_COMM_WORLD, &sr));
        MPI_OK(MPI_Request_free(&sr));
        CHECK(sr == MPI_REQUEST_NULL);
        MPI_OK(MPI_Recv(&r, 1, MPI_INT, left, 360, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(r == left + 77);
        mh_i64(&h, r);
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD)); /* s stays valid until everybody has received */
    }
    mt_end("nonblocking", &h);
}

/* Sendrecv and Sendrecv_replace around the ring, small and 1 MiB. */
static void t_sendrecv(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Status st;
    int s[5], r[5], n = -1;
    for (int i = 0; i < 5; i++) s[i] = mt_rank * 5 + i;
    MPI_OK(MPI_Sendrecv(s, 5, MPI_INT, right, 400, r, 5, MPI_INT, left, 400, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 400 && n == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(r[i] == left * 5 + i);
        mh_i64(&h, r[i]);
    }
    MPI_OK(MPI_Sendrecv_replace(s, 5, MPI_INT, right, 401, left, 401, MPI_COMM_WORLD, &st));
    CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 401);
    for (int i = 0; i < 5; i++) {
        CHECK(s[i] == left * 5 + i);
        mh_i64(&h, s[i]);
    }

    const size_t big = 1 << 20;
    unsigned char *sb = mt_malloc(big), *rb = mt_malloc(big);
    mt_fill(sb, big, mt_rank, 402);
    MPI_OK(MPI_Sendrecv(sb, (int)big, MPI_BYTE, right, 402, rb, (int)big, MPI_BYTE, left, 402, MPI_COMM_WORLD,
                        MPI_STATUS_IGNORE));
    CHECK(mt_verify(rb, big, left, 402) < 0);
    MPI_OK(MPI_Sendrecv_replace(sb, (int)big, MPI_BYTE, right, 403, left, 403, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    CHECK(mt_verify(sb, big, left, 402) < 0);
    mh_bytes(&h, rb + big - 16, 16);
    free(sb);
    free(rb);
    mt_end("sendrecv", &h);
}

/* Probe and Iprobe, then a receive of exactly the probed size. */
static void t_probe(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Status st;
    MPI_Request sr;
    int flag = 1, n = -1;
    int *msg = mt_malloc(sizeof(int) * 200);
    for (int i = 0; i < 200; i++) msg[i] = mt_rank * 1000 + i;

    MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, 999, MPI_COMM_WORLD, &flag, &st));
    CHECKF(!flag, "Iprobe found a message that was never sent");

    MPI_OK(MPI_Isend(msg, 3 + 7 * mt_rank, MPI_INT, right, 410, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Probe(left, 410, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == 410 && n == 3 + 7 * left, "Probe: %d %d %d", st.MPI_SOURCE,
           st.MPI_TAG, n);
    int *rb = mt_malloc(sizeof(int) * (size_t)n);
    MPI_OK(MPI_Recv(rb, n, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    for (int i = 0; i < n; i++) {
        CHECK(rb[i] == left * 1000 + i);
        mh_i64(&h, rb[i]);
    }
    free(rb);
    MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));

    MPI_OK(MPI_Isend(msg, 150 - 11 * mt_rank % 100, MPI_INT, right, 411, MPI_COMM_WORLD, &sr));
    flag = 0;
    while (!flag) MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st));
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == 411 && n == 150 - 11 * left % 100, "Iprobe: %d %d %d",
           st.MPI_SOURCE, st.MPI_TAG, n);
    /* Probing again finds the same message. */
    MPI_Status st2;
    MPI_OK(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st2));
    CHECK(st2.MPI_SOURCE == st.MPI_SOURCE && st2.MPI_TAG == st.MPI_TAG);
    rb = mt_malloc(sizeof(int) * (size_t)n);
    MPI_OK(MPI_Recv(rb, n, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    for (int i = 0; i < n; i++) {
        CHECK(rb[i] == left * 1000 + i);
        mh_i64(&h, rb[i]);
    }
    free(rb);
    MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
    free(msg);
    mt_end("probe", &h);
}

/* MPI_PROC_NULL as source and destination. */
static void t_procnull(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Status st;
    MPI_Request rq[2];
    int x = 5, y = -7, n = -1, flag = 0;
    MPI_OK(MPI_Send(&x, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD));
    MPI_OK(MPI_Recv(&y, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECKF(y == -7 && st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && n == 0,
           "Recv from MPI_PROC_NULL: source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, n);
    MPI_OK(MPI_Isend(&x, 1, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Irecv(&y, 1, MPI_INT, MPI_PROC_NULL, 1, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Testall(2, rq, &flag, MPI_STATUSES_IGNORE));
    CHECK(flag && y == -7);
    /* A non-periodic shift: the ends talk to MPI_PROC_NULL. */
    const int up = mt_rank + 1 < mt_size ? mt_rank + 1 : MPI_PROC_NULL;
    const int down = mt_rank > 0 ? mt_rank - 1 : MPI_PROC_NULL;
    x = mt_rank * 2;
    y = -1;
    MPI_OK(MPI_Sendrecv(&x, 1, MPI_INT, up, 2, &y, 1, MPI_INT, down, 2, MPI_COMM_WORLD, &st));
    if (mt_rank == 0) CHECK(y == -1 && st.MPI_SOURCE == MPI_PROC_NULL);
    else CHECK(y == (mt_rank - 1) * 2 && st.MPI_SOURCE == mt_rank - 1);
    mh_i64(&h, y);
    mt_end("proc_null", &h);
}

/* Zero-byte messages, standard and synchronous. */
static void t_zero(void)
{
    mt_hash h;
    mh_init(&h);
    int s[1] = {1}, r[10];
    MPI_Request sr[2];
    MPI_Status st;
    int n = -1;
    MPI_OK(MPI_Isend(s, 0, MPI_INT, right, 500, MPI_COMM_WORLD, &sr[0]));
    MPI_OK(MPI_Issend(s, 0, MPI_BYTE, right, 501, MPI_COMM_WORLD, &sr[1]));
    MPI_OK(MPI_Recv(r, 10, MPI_INT, left, 500, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECK(n == 0 && st.MPI_TAG == 500 && st.MPI_SOURCE == left);
    MPI_OK(MPI_Recv(r, 10, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Get_count(&st, MPI_BYTE, &n));
    CHECK(n == 0 && st.MPI_TAG == 501 && st.MPI_SOURCE == left);
    MPI_OK(MPI_Waitall(2, sr, MPI_STATUSES_IGNORE));
    mh_i64(&h, n);
    mt_end("zero_bytes", &h);
}

/* A 4 MiB message around the ring: non-blocking with MPI_BYTE, blocking with MPI_INT. */
static void t_large(void)
{
    mt_hash h;
    mh_init(&h);
    const size_t big = 4u << 20;
    unsigned char *sb = mt_malloc(big), *rb = mt_malloc(big);
    MPI_Request rq[2];
    MPI_Status st;
    int n = -1;
    mt_fill(sb, big, mt_rank, 600);
    memset(rb, 0, big);
    MPI_OK(MPI_Irecv(rb, (int)big, MPI_BYTE, left, 600, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Isend(sb, (int)big, MPI_BYTE, right, 600, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE));
    CHECKF(mt_verify(rb, big, left, 600) < 0, "4 MiB message corrupt at %ld", mt_verify(rb, big, left, 600));
    mh_bytes(&h, rb + big - 64, 64);
    if (mt_size >= 2) {
        int *si = (int *)sb, *ri = (int *)rb;
        const int cnt = (int)(big / sizeof(int));
        for (int i = 0; i < cnt; i++) si[i] = mt_rank * 3 + i;
        if (mt_rank % 2 == 0) {
            MPI_OK(MPI_Send(si, cnt, MPI_INT, right, 601, MPI_COMM_WORLD));
            MPI_OK(MPI_Recv(ri, cnt, MPI_INT, left, 601, MPI_COMM_WORLD, &st));
        } else {
            MPI_OK(MPI_Recv(ri, cnt, MPI_INT, left, 601, MPI_COMM_WORLD, &st));
            MPI_OK(MPI_Send(si, cnt, MPI_INT, right, 601, MPI_COMM_WORLD));
        }
        MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(n == cnt);
        for (int i = 0; i < cnt; i++) CHECKF(ri[i] == left * 3 + i, "blocking 4 MiB: element %d", i);
        mh_i64(&h, ri[cnt - 1]);
    }
    free(sb);
    free(rb);
    mt_end("large_4MiB", &h);
}

/* MPI_Cancel of a receive that never matches; a later message with that tag goes to a
 * later receive. */
static void t_cancel(void)
{
    mt_hash h;
    mh_init(&h);
    int x = -1, flag = 0, s = mt_rank + 9;
    MPI_Request rq;
    MPI_Status st;
    MPI_OK(MPI_Irecv(&x, 1, MPI_INT, MPI_ANY_SOURCE, 12345, MPI_COMM_WORLD, &rq));
    MPI_OK(MPI_Cancel(&rq));
    MPI_OK(MPI_Wait(&rq, &st));
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECKF(flag, "receive was not cancelled");
    CHECK(x == -1);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    MPI_OK(MPI_Isend(&s, 1, MPI_INT, right, 12345, MPI_COMM_WORLD, &rq));
    MPI_OK(MPI_Recv(&x, 1, MPI_INT, left, 12345, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECK(!flag && x == left + 9);
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    mh_i64(&h, x);
    mt_end("cancel", &h);
}

/* Truncation under MPI_ERRORS_RETURN: MPI_ERR_TRUNCATE from Recv, from Wait (small and
 * 1 MiB messages), and MPI_ERR_IN_STATUS from Waitall; the sender is not affected. */
static void t_truncate(void)
{
    mt_hash h;
    mh_init(&h);
    int s[10], r[10], cls = -1, rc;
    MPI_Request sr, rq[2];
    MPI_Status st, sts[2];
    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    for (int i = 0; i < 10; i++) s[i] = mt_rank * 10 + i;

    MPI_OK(MPI_Isend(s, 10, MPI_INT, right, 700, MPI_COMM_WORLD, &sr));
    rc = MPI_Recv(r, 5, MPI_INT, left, 700, MPI_COMM_WORLD, &st);
    CHECKF(rc != MPI_SUCCESS, "truncated Recv returned MPI_SUCCESS");
    MPI_OK(MPI_Error_class(rc, &cls));
    CHECKF(cls == MPI_ERR_TRUNCATE, "truncated Recv: error class %d", cls);
    MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
    mh_i64(&h, cls);

    const int big = 1 << 20;
    unsigned char *sb = mt_malloc((size_t)big), *rb = mt_malloc((size_t)big);
    mt_fill(sb, (size_t)big, mt_rank, 701);
    MPI_OK(MPI_Isend(sb, big, MPI_BYTE, right, 701, MPI_COMM_WORLD, &sr));
    MPI_OK(MPI_Irecv(rb, 1000, MPI_BYTE, left, 701, MPI_COMM_WORLD, &rq[0]));
    rc = MPI_Wait(&rq[0], &st);
    CHECKF(rc != MPI_SUCCESS, "truncated 1 MiB receive returned MPI_SUCCESS");
    MPI_OK(MPI_Error_class(rc, &cls));
    CHECKF(cls == MPI_ERR_TRUNCATE, "truncated 1 MiB receive: error class %d", cls);
    MPI_OK(MPI_Wait(&sr, MPI_STATUS_IGNORE));
    mh_i64(&h, cls);

    /* Waitall: one truncated receive and one good one. */
    MPI_Request srs[2];
    MPI_OK(MPI_Isend(s, 10, MPI_INT, right, 702, MPI_COMM_WORLD, &srs[0]));
    MPI_OK(MPI_Isend(s, 3, MPI_INT, right, 703, MPI_COMM_WORLD, &srs[1]));
    MPI_OK(MPI_Irecv(r, 4, MPI_INT, left, 702, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Irecv(r + 5, 5, MPI_INT, left, 703, MPI_COMM_WORLD, &rq[1]));
    rc = MPI_Waitall(2, rq, sts);
    MPI_OK(MPI_Error_class(rc, &cls));
    CHECKF(cls == MPI_ERR_IN_STATUS, "Waitall with a truncated receive: error class %d", cls);
    MPI_OK(MPI_Error_class(sts[0].MPI_ERROR, &cls));
    CHECKF(cls == MPI_ERR_TRUNCATE, "Waitall status[0] error class %d", cls);
    /* The good receive either completed (MPI_SUCCESS) or is still pending (MPICH stops
     * at the first error: MPI_ERR_PENDING) and must then be completed separately. */
    CHECKF(sts[1].MPI_ERROR == MPI_SUCCESS || sts[1].MPI_ERROR == MPI_ERR_PENDING, "Waitall status[1] error %d",
           sts[1].MPI_ERROR);
    if (sts[1].MPI_ERROR == MPI_ERR_PENDING) MPI_OK(MPI_Wait(&rq[1], MPI_STATUS_IGNORE));
    CHECK(rq[0] == MPI_REQUEST_NULL && rq[1] == MPI_REQUEST_NULL);
    CHECK(r[5] == left * 10 && r[7] == left * 10 + 2);
    MPI_OK(MPI_Waitall(2, srs, MPI_STATUSES_IGNORE));
    mh_i64(&h, r[7]);

    MPI_OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    free(sb);
    free(rb);
    mt_end("truncate", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    left = (mt_rank + mt_size - 1) % mt_size;
    right = (mt_rank + 1) % mt_size;
    out("p2p: %d ranks\n", mt_size);
    t_tags();
    t_anysource();
    t_order();
    t_ssend();
    t_rsend();
    t_bsend();
    t_nonblocking();
    t_sendrecv();
    t_probe();
    t_procnull();
    t_zero();
    t_large();
    t_cancel();
    t_truncate();
    out("p2p: done\n");
    MPI_Finalize();
    return 0;
}
