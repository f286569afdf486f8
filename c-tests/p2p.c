/* Point-to-point semantics: ring exchange, tags, wildcards, non-overtaking, unexpected
 * queue, send to self, Sendrecv, message sizes and datatypes, many outstanding
 * requests, Test polling, Probe/Iprobe and truncation.
 *
 * Every part runs at any rank count; with one rank the "neighbours" are the rank
 * itself, so only the self path is exercised. */
#include "fmi_test.h"

static FMI_Comm world;
static int left, right;

#define POLL_LIMIT_S 60.0

/* ---- ring exchange ----------------------------------------------------------------- */
static void test_ring(void)
{
    int round;
    for (round = 0; round < 3; round++) {
        int out[4] = {g_rank, round, g_size, 12345};
        int in[4] = {-1, -1, -1, -1};
        FMI_Request req = FMI_REQUEST_NULL;
        FMI_Status st;
        memset(&st, 0xff, sizeof st);
        OK(FMI_Irecv(in, 4, FMI_INT32, left, 10 + round, world, &req));
        OK(FMI_Send(out, 4, FMI_INT32, right, 10 + round, world));
        OK(FMI_Wait(&req, &st));
        CHECK(req == FMI_REQUEST_NULL, "ring: request not FMI_REQUEST_NULL after Wait");
        CHECK(in[0] == left && in[1] == round && in[2] == g_size && in[3] == 12345,
              "ring round %d: got {%d,%d,%d,%d} from %d", round, in[0], in[1], in[2], in[3], left);
        CHECK(st.source == left, "ring: status.source %d, expected %d", st.source, left);
        CHECK(st.tag == 10 + round, "ring: status.tag %d, expected %d", st.tag, 10 + round);
        CHECK(st.bytes == sizeof out, "ring: status.bytes %zu, expected %zu", st.bytes, sizeof out);
        CHECK(st.error == FMI_SUCCESS, "ring: status.error %d", st.error);
    }
}

/* ---- tags: three messages, received by tag in the opposite order ---------------------- */
static void test_tags(void)
{
    int t, i;
    FMI_Request sreq[3];
    for (t = 0; t < 3; t++) {
        static int out[3][8];
        for (i = 0; i < 8; i++)
            out[t][i] = g_rank * 1000 + t * 10 + i;
        OK(FMI_Isend(out[t], 8, FMI_INT32, right, 20 + t, world, &sreq[t]));
    }
    for (t = 2; t >= 0; t--) {
        int in[8];
        FMI_Status st;
        memset(in, 0, sizeof in);
        OK(FMI_Recv(in, 8, FMI_INT32, left, 20 + t, world, &st));
        for (i = 0; i < 8; i++)
            CHECK(in[i] == left * 1000 + t * 10 + i, "tags: tag %d element %d is %d", 20 + t, i, in[i]);
        CHECK(st.tag == 20 + t && st.source == left, "tags: status source %d tag %d", st.source, st.tag);
    }
    OK(FMI_Waitall(3, sreq, NULL));
    for (t = 0; t < 3; t++)
        CHECK(sreq[t] == FMI_REQUEST_NULL, "tags: send request %d not NULL after Waitall", t);
}

/* ---- wildcards -------------------------------------------------------------------- */
static void test_wildcards(void)
{
    /* every rank sends two messages to rank 0: tag 200 (size r*10+1) and tag 201 (size
     * r*10+2). Rank 0 first takes all tag-201 messages with ANY_SOURCE, then for every
     * source the rest with ANY_TAG, then a fully wild round. */
    size_t maxlen = (size_t)g_size * 10 + 8;
    unsigned char *a = xmalloc(maxlen), *b = xmalloc(maxlen), *in = xmalloc(maxlen);
    FMI_Request sreq[2];
    size_t la = (size_t)g_rank * 10 + 1, lb = (size_t)g_rank * 10 + 2;
    pat_fill(a, la, seed_of(g_rank, 3, 200));
    pat_fill(b, lb, seed_of(g_rank, 3, 201));
    OK(FMI_Isend(a, la, FMI_BYTE, 0, 200, world, &sreq[0]));
    OK(FMI_Isend(b, lb, FMI_BYTE, 0, 201, world, &sreq[1]));
    if (g_rank == 0) {
        int *seen = calloc((size_t)g_size, sizeof(int));
        int k;
        for (k = 0; k < g_size; k++) {
            FMI_Status st;
            memset(&st, 0xff, sizeof st);
            if (!OK(FMI_Recv(in, maxlen, FMI_BYTE, FMI_ANY_SOURCE, 201, world, &st)))
                continue;
            CHECK(st.source >= 0 && st.source < g_size, "ANY_SOURCE: status.source %d", st.source);
            if (st.source < 0 || st.source >= g_size)
                continue;
            CHECK(st.tag == 201, "ANY_SOURCE: status.tag %d", st.tag);
            CHECK(st.bytes == (size_t)st.source * 10 + 2, "ANY_SOURCE: bytes %zu from %d", st.bytes, st.source);
            CHECK_PAT(in, st.bytes, seed_of(st.source, 3, 201), "ANY_SOURCE from %d", st.source);
            CHECK(seen[st.source] == 0, "ANY_SOURCE: source %d seen twice", st.source);
            seen[st.source]++;
        }
        for (k = 0; k < g_size; k++) {
            FMI_Status st;
            memset(&st, 0xff, sizeof st);
            if (!OK(FMI_Recv(in, maxlen, FMI_BYTE, k, FMI_ANY_TAG, world, &st)))
                continue;
            CHECK(st.source == k, "ANY_TAG: status.source %d, expected %d", st.source, k);
            CHECK(st.tag == 200, "ANY_TAG: status.tag %d, expected 200", st.tag);
            CHECK(st.bytes == (size_t)k * 10 + 1, "ANY_TAG: bytes %zu from %d", st.bytes, k);
            CHECK_PAT(in, st.bytes, seed_of(k, 3, 200), "ANY_TAG from %d", k);
        }
        free(seen);
    }
    OK(FMI_Waitall(2, sreq, NULL));
    OK(FMI_Barrier(world));

    /* both wildcards: every rank sends one message with tag 300+r */
    {
        int v = g_rank * 7 + 1;
        FMI_Request r;
        OK(FMI_Isend(&v, 1, FMI_INT32, 0, 300 + g_rank, world, &r));
        if (g_rank == 0) {
            int *seen = calloc((size_t)g_size, sizeof(int));
            int k;
            for (k = 0; k < g_size; k++) {
                int got = -1;
                FMI_Status st;
                memset(&st, 0xff, sizeof st);
                if (!OK(FMI_Recv(&got, 1, FMI_INT32, FMI_ANY_SOURCE, FMI_ANY_TAG, world, &st)))
                    continue;
                CHECK(st.source >= 0 && st.source < g_size, "ANY/ANY: status.source %d", st.source);
                if (st.source < 0 || st.source >= g_size)
                    continue;
                CHECK(st.tag == 300 + st.source, "ANY/ANY: tag %d from %d", st.tag, st.source);
                CHECK(st.bytes == sizeof(int), "ANY/ANY: bytes %zu", st.bytes);
                CHECK(got == st.source * 7 + 1, "ANY/ANY: value %d from %d", got, st.source);
                CHECK(!seen[st.source], "ANY/ANY: source %d twice", st.source);
                seen[st.source] = 1;
            }
            free(seen);
        }
        OK(FMI_Wait(&r, NULL));
    }
    free(a);
    free(b);
    free(in);
    OK(FMI_Barrier(world));
}

/* ---- non-overtaking ------------------------------------------------------------------ */
#define N_ORDER 1000
static void test_order(void)
{
    static int out[N_ORDER], in[N_ORDER];
    static FMI_Request sreq[N_ORDER], rreq[N_ORDER];
    int i;

    /* (a) 1000 Isends, the receiver takes them with blocking receives in order */
    for (i = 0; i < N_ORDER; i++) {
        out[i] = g_rank * 100000 + i;
        OK(FMI_Isend(&out[i], 1, FMI_INT32, right, 7, world, &sreq[i]));
    }
    for (i = 0; i < N_ORDER; i++) {
        int v = -1;
        OK(FMI_Recv(&v, 1, FMI_INT32, left, 7, world, NULL));
        if (v != left * 100000 + i) {
            CHECK(v == left * 100000 + i, "order (a): message %d carries %d", i, v);
            break;
        }
    }
    OK(FMI_Waitall(N_ORDER, sreq, NULL));

    /* (b) the receiver pre-posts 1000 receives (with ANY_SOURCE on every other one),
     *     then the sender sends with blocking sends */
    for (i = 0; i < N_ORDER; i++) {
        in[i] = -1;
        OK(FMI_Irecv(&in[i], 1, FMI_INT32, (i % 2) ? FMI_ANY_SOURCE : left, 8,
                     world, &rreq[i]));
    }
    for (i = 0; i < N_ORDER; i++) {
        out[i] = g_rank * 100000 + i;
        OK(FMI_Send(&out[i], 1, FMI_INT32, right, 8, world));
    }
    OK(FMI_Waitall(N_ORDER, rreq, NULL));
    for (i = 0; i < N_ORDER; i++)
        if (in[i] != left * 100000 + i) {
            CHECK(in[i] == left * 100000 + i, "order (b): receive %d got %d", i, in[i]);
            break;
        }

    /* (c) mixed small/large messages on one tag must not overtake each other */
    {
        static const size_t sizes[] = {10, 200 * 1024, 1, 2 * 1024 * 1024 + 5, 0, 70000,
                                       3, 1024 * 1024, 8, 64, 5 * 1024 * 1024, 17,
                                       65536, 65537, 0, 4 * 1024 * 1024, 2};
        const int n = (int)(sizeof sizes / sizeof sizes[0]);
        size_t maxs = 5 * 1024 * 1024 + 16;
        unsigned char **bufs = xmalloc(sizeof(unsigned char *) * (size_t)n);
        unsigned char *rb = xmalloc(maxs);
        FMI_Request *reqs = xmalloc(sizeof(FMI_Request) * (size_t)n);
        for (i = 0; i < n; i++) {
            bufs[i] = xmalloc(sizes[i]);
            pat_fill(bufs[i], sizes[i], seed_of(g_rank, 4, (uint64_t)i));
            OK(FMI_Isend(bufs[i], sizes[i], FMI_BYTE, right, 9, world, &reqs[i]));
        }
        for (i = 0; i < n; i++) {
            FMI_Status st;
            memset(&st, 0xff, sizeof st);
            OK(FMI_Recv(rb, maxs, FMI_BYTE, left, 9, world, &st));
            CHECK(st.bytes == sizes[i], "order (c): message %d has %zu bytes, expected %zu", i,
                  st.bytes, sizes[i]);
            if (st.bytes == sizes[i])
                CHECK_PAT(rb, sizes[i], seed_of(left, 4, (uint64_t)i), "order (c) message %d", i);
        }
        OK(FMI_Waitall((size_t)n, reqs, NULL));
        for (i = 0; i < n; i++)
            free(bufs[i]);
        free(bufs);
        free(rb);
        free(reqs);
    }
    OK(FMI_Barrier(world));
}

/* ---- unexpected queue --------------------------------------------------------------- */
static void test_unexpected(void)
{
    /* the sender sends 6 messages (tags 40..45, one of them large) before the receiver
     * posts anything; the barrier lets them arrive; the receiver takes them by tag in
     * reverse order */
    static const size_t sizes[6] = {16, 0, 3000, 2 * 1024 * 1024 + 1, 1, 100000};
    unsigned char *bufs[6], *rb;
    FMI_Request reqs[6];
    int i;
    for (i = 0; i < 6; i++) {
        bufs[i] = xmalloc(sizes[i]);
        pat_fill(bufs[i], sizes[i], seed_of(g_rank, 5, (uint64_t)i));
        OK(FMI_Isend(bufs[i], sizes[i], FMI_BYTE, right, 40 + i, world, &reqs[i]));
    }
    OK(FMI_Barrier(world));
    sleep_ms(20);
    rb = xmalloc(3 * 1024 * 1024);
    for (i = 5; i >= 0; i--) {
        FMI_Status st;
        memset(&st, 0xff, sizeof st);
        OK(FMI_Recv(rb, 3 * 1024 * 1024, FMI_BYTE, left, 40 + i, world, &st));
        CHECK(st.tag == 40 + i && st.source == left, "unexpected: status tag %d source %d", st.tag, st.source);
        CHECK(st.bytes == sizes[i], "unexpected: tag %d has %zu bytes, expected %zu", 40 + i, st.bytes, sizes[i]);
        if (st.bytes == sizes[i])
            CHECK_PAT(rb, sizes[i], seed_of(left, 5, (uint64_t)i), "unexpected tag %d", 40 + i);
    }
    OK(FMI_Waitall(6, reqs, NULL));
    for (i = 0; i < 6; i++)
        free(bufs[i]);
    free(rb);
    OK(FMI_Barrier(world));
}

/* ---- send to self -------------------------------------------------------------------- */
static void test_self(void)
{
    static const size_t sizes[] = {0, 1, 100, 65537, 4 * 1024 * 1024 + 7};
    size_t k;
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *out = xmalloc(n), *in = xmalloc(n);
        FMI_Request req;
        FMI_Status st;
        /* blocking Send with the receive posted first */
        pat_fill(out, n, seed_of(g_rank, 6, k));
        memset(in, 0, n);
        OK(FMI_Irecv(in, n, FMI_BYTE, g_rank, 50, world, &req));
        OK(FMI_Send(out, n, FMI_BYTE, g_rank, 50, world));
        OK(FMI_Wait(&req, &st));
        CHECK(st.source == g_rank && st.tag == 50 && st.bytes == n,
              "self (Irecv+Send) %zu bytes: status source %d tag %d bytes %zu", n, st.source, st.tag, st.bytes);
        CHECK_PAT(in, n, seed_of(g_rank, 6, k), "self (Irecv+Send) %zu bytes", n);
        /* Isend, then a blocking Recv */
        pat_fill(out, n, seed_of(g_rank, 7, k));
        memset(in, 0, n);
        OK(FMI_Isend(out, n, FMI_BYTE, g_rank, 51, world, &req));
        OK(FMI_Recv(in, n, FMI_BYTE, g_rank, 51, world, &st));
        OK(FMI_Wait(&req, NULL));
        CHECK(st.source == g_rank && st.tag == 51 && st.bytes == n,
              "self (Isend+Recv) %zu bytes: status source %d tag %d bytes %zu", n, st.source, st.tag, st.bytes);
        CHECK_PAT(in, n, seed_of(g_rank, 7, k), "self (Isend+Recv) %zu bytes", n);
        free(out);
        free(in);
    }
}

/* ---- Sendrecv ---------------------------------------------------------------------- */
static void test_sendrecv(void)
{
    static const size_t sizes[] = {0, 4, 5000, 1024 * 1024 + 3};
    size_t k;
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *out = xmalloc(n), *in = xmalloc(n + 1);
        FMI_Status st;
        memset(&st, 0xff, sizeof st);
        pat_fill(out, n, seed_of(g_rank, 8, k));
        /* shift right: send to the right neighbour, receive from the left one */
        OK(FMI_Sendrecv(out, n, right, 60, in, n + 1, left, 60, FMI_BYTE, world, &st));
        CHECK(st.source == left && st.tag == 60 && st.bytes == n,
              "Sendrecv %zu: status source %d tag %d bytes %zu", n, st.source, st.tag, st.bytes);
        CHECK_PAT(in, n, seed_of(left, 8, k), "Sendrecv %zu bytes from %d", n, left);
        /* with oneself */
        OK(FMI_Sendrecv(out, n, g_rank, 61, in, n, g_rank, 61, FMI_BYTE, world, &st));
        CHECK(st.source == g_rank && st.bytes == n, "Sendrecv self: source %d bytes %zu", st.source, st.bytes);
        CHECK_PAT(in, n, seed_of(g_rank, 8, k), "Sendrecv self %zu bytes", n);
        free(out);
        free(in);
    }
}

/* ---- sizes and datatypes ----------------------------------------------------------- */
static void test_sizes(void)
{
    struct { size_t bytes; FMI_Datatype dt; } cases[] = {
        {0, FMI_BYTE}, {0, FMI_DOUBLE}, {1, FMI_BYTE}, {1, FMI_CHAR}, {1, FMI_INT8},
        {1, FMI_UINT8}, {1000, FMI_BYTE}, {1000, FMI_INT32}, {1000, FMI_UINT16},
        {65536, FMI_BYTE}, {65536, FMI_FLOAT}, {65536, FMI_UINT64}, {65537, FMI_BYTE},
        {65537, FMI_CHAR}, {65538, FMI_INT16}, {1024 * 1024 + 3, FMI_BYTE},
        {1024 * 1024 + 3, FMI_UINT8}, {1024 * 1024 + 4, FMI_UINT32},
        {1024 * 1024 + 8, FMI_INT64}, {16u * 1024 * 1024, FMI_BYTE},
        {16u * 1024 * 1024, FMI_DOUBLE}, {16u * 1024 * 1024 + 4, FMI_INT32},
    };
    size_t k;
    unsigned char *out = xmalloc(16u * 1024 * 1024 + 64), *in = xmalloc(16u * 1024 * 1024 + 64);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t es = dt_size(cases[k].dt), count = cases[k].bytes / es;
        size_t n = count * es;
        FMI_Request req;
        FMI_Status st;
        memset(&st, 0xff, sizeof st);
        pat_fill(out, n, seed_of(g_rank, 9, k));
        memset(in, 0, n + 8);
        OK(FMI_Irecv(in, count, cases[k].dt, left, 70, world, &req));
        OK(FMI_Send(out, count, cases[k].dt, right, 70, world));
        OK(FMI_Wait(&req, &st));
        CHECK(st.bytes == n, "sizes: %zu elements of dt %d: status.bytes %zu, expected %zu", count,
              (int)cases[k].dt, st.bytes, n);
        CHECK(st.source == left && st.tag == 70, "sizes: status source %d tag %d", st.source, st.tag);
        CHECK_PAT(in, n, seed_of(left, 9, k), "sizes: %zu elements of dt %d", count, (int)cases[k].dt);
        CHECK(in[n] == 0, "sizes: %zu elements of dt %d: byte after the message was written", count,
              (int)cases[k].dt);
    }
    free(out);
    free(in);
    OK(FMI_Barrier(world));
}

/* ---- many outstanding requests in both directions ------------------------------------ */
#define N_OUT 64
static void test_many(void)
{
    static FMI_Request reqs[4 * N_OUT];
    static FMI_Status sts[4 * N_OUT];
    static unsigned char *sbuf[2][N_OUT], *rbuf[2][N_OUT];
    size_t len[N_OUT];
    int i, d;
    for (i = 0; i < N_OUT; i++)
        len[i] = (i % 16 == 5) ? 300 * 1024 + (size_t)i : (size_t)i * 37;
    /* d = 0: messages going right (tags 1000+i), d = 1: going left (tags 2000+i) */
    for (d = 0; d < 2; d++)
        for (i = 0; i < N_OUT; i++) {
            rbuf[d][i] = xmalloc(len[i]);
            memset(rbuf[d][i], 0, len[i]);
            OK(FMI_Irecv(rbuf[d][i], len[i], FMI_BYTE, d == 0 ? left : right, (d + 1) * 1000 + i,
                         world, &reqs[d * N_OUT + i]));
        }
    for (d = 0; d < 2; d++)
        for (i = N_OUT - 1; i >= 0; i--) {
            sbuf[d][i] = xmalloc(len[i]);
            pat_fill(sbuf[d][i], len[i], seed_of(g_rank, 10 + (uint64_t)d, (uint64_t)i));
            OK(FMI_Isend(sbuf[d][i], len[i], FMI_BYTE, d == 0 ? right : left, (d + 1) * 1000 + i,
                         world, &reqs[2 * N_OUT + d * N_OUT + i]));
        }
    memset(sts, 0xff, sizeof sts);
    OK(FMI_Waitall(4 * N_OUT, reqs, sts));
    for (i = 0; i < 4 * N_OUT; i++)
        CHECK(reqs[i] == FMI_REQUEST_NULL, "many: request %d not NULL after Waitall", i);
    for (d = 0; d < 2; d++)
        for (i = 0; i < N_OUT; i++) {
            int from = d == 0 ? left : right;
            FMI_Status *st = &sts[d * N_OUT + i];
            CHECK(st->source == from && st->tag == (d + 1) * 1000 + i && st->bytes == len[i] &&
                      st->error == FMI_SUCCESS,
                  "many: status %d/%d: source %d tag %d bytes %zu error %d", d, i, st->source,
                  st->tag, st->bytes, st->error);
            CHECK_PAT(rbuf[d][i], len[i], seed_of(from, 10 + (uint64_t)d, (uint64_t)i),
                      "many: direction %d message %d", d, i);
            free(rbuf[d][i]);
            free(sbuf[d][i]);
        }
    /* Waitall accepts entries that are already FMI_REQUEST_NULL (as MPI does) */
    OK(FMI_Waitall(4 * N_OUT, reqs, NULL));
    OK(FMI_Barrier(world));
}

/* ---- FMI_Test polling ----------------------------------------------------------------- */
static void test_polling(void)
{
    size_t n = 1024 * 1024 + 11;
    unsigned char *out = xmalloc(n), *in = xmalloc(n);
    FMI_Request rreq, sreq;
    FMI_Status st;
    int rflag = 0, sflag = 0;
    long polls = 0;
    double deadline;
    pat_fill(out, n, seed_of(g_rank, 12, 0));
    OK(FMI_Irecv(in, n, FMI_BYTE, left, 80, world, &rreq));
    OK(FMI_Isend(out, n, FMI_BYTE, right, 80, world, &sreq));
    deadline = FMI_Wtime() + POLL_LIMIT_S;
    while ((!rflag || !sflag) && FMI_Wtime() < deadline) {
        if (!rflag && !OK(FMI_Test(&rreq, &rflag, &st)))
            break;
        if (!sflag && !OK(FMI_Test(&sreq, &sflag, NULL)))
            break;
        polls++;
    }
    CHECK(rflag && sflag, "Test polling: not done after %.0f s (%ld polls): recv %d send %d",
          POLL_LIMIT_S, polls, rflag, sflag);
    if (rflag) {
        CHECK(rreq == FMI_REQUEST_NULL, "Test: receive request not NULL after completion");
        CHECK(st.source == left && st.tag == 80 && st.bytes == n, "Test: status source %d tag %d bytes %zu",
              st.source, st.tag, st.bytes);
        CHECK_PAT(in, n, seed_of(left, 12, 0), "Test polling");
    }
    if (sflag)
        CHECK(sreq == FMI_REQUEST_NULL, "Test: send request not NULL after completion");
    free(out);
    free(in);
    OK(FMI_Barrier(world));
}

/* ---- Probe / Iprobe ------------------------------------------------------------------ */
static void test_probe(void)
{
    static const size_t sizes[] = {12345, 0, 2 * 1024 * 1024 + 9};
    size_t k;
    int flag = 1;
    FMI_Status st;
    /* nobody ever sends tag 99 */
    OK(FMI_Iprobe(FMI_ANY_SOURCE, 99, world, &flag, &st));
    CHECK(flag == 0, "Iprobe reported a message with tag 99 that nobody sent");

    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *out = xmalloc(n), *in;
        FMI_Request sreq;
        double deadline;
        pat_fill(out, n, seed_of(g_rank, 13, k));
        OK(FMI_Isend(out, n, FMI_BYTE, right, 90 + (int)k, world, &sreq));
        /* Probe, then a receive of exactly the probed size */
        memset(&st, 0xff, sizeof st);
        OK(FMI_Probe(left, FMI_ANY_TAG, world, &st));
        CHECK(st.source == left && st.tag == 90 + (int)k && st.bytes == n,
              "Probe: source %d tag %d bytes %zu, expected %d %d %zu", st.source, st.tag, st.bytes,
              left, 90 + (int)k, n);
        in = xmalloc(n);
        OK(FMI_Recv(in, n, FMI_BYTE, left, 90 + (int)k, world, &st));
        CHECK(st.bytes == n, "Probe: received %zu bytes", st.bytes);
        CHECK_PAT(in, n, seed_of(left, 13, k), "after Probe, %zu bytes", n);
        OK(FMI_Wait(&sreq, NULL));
        free(in);

        /* Iprobe polling with ANY_SOURCE */
        OK(FMI_Isend(out, n, FMI_BYTE, right, 95, world, &sreq));
        flag = 0;
        deadline = FMI_Wtime() + POLL_LIMIT_S;
        while (!flag && FMI_Wtime() < deadline) {
            memset(&st, 0xff, sizeof st);
            if (!OK(FMI_Iprobe(FMI_ANY_SOURCE, 95, world, &flag, &st)))
                break;
        }
        CHECK(flag, "Iprobe: no message after %.0f s", POLL_LIMIT_S);
        if (flag) {
            CHECK(st.source == left && st.tag == 95 && st.bytes == n,
                  "Iprobe: source %d tag %d bytes %zu", st.source, st.tag, st.bytes);
            /* probing again still reports the same message */
            OK(FMI_Iprobe(left, 95, world, &flag, &st));
            CHECK(flag && st.bytes == n, "second Iprobe: flag %d bytes %zu", flag, st.bytes);
        }
        in = xmalloc(n);
        OK(FMI_Recv(in, n, FMI_BYTE, left, 95, world, &st));
        CHECK_PAT(in, n, seed_of(left, 13, k), "after Iprobe, %zu bytes", n);
        OK(FMI_Wait(&sreq, NULL));
        free(in);
        free(out);
    }
    OK(FMI_Barrier(world));
}

/* ---- truncation ---------------------------------------------------------------------- */
static void truncation_case(size_t big, size_t bufsize, size_t next, int use_irecv, int tag, uint64_t t)
{
    unsigned char *a = xmalloc(big), *b = xmalloc(next), *in = xmalloc(bufsize + 64);
    FMI_Request sreq[2], rreq;
    FMI_Status st;
    int rc;
    size_t i, guard_bad = 0;
    pat_fill(a, big, seed_of(g_rank, t, 0));
    pat_fill(b, next, seed_of(g_rank, t, 1));
    OK(FMI_Isend(a, big, FMI_BYTE, right, tag, world, &sreq[0]));
    OK(FMI_Isend(b, next, FMI_BYTE, right, tag, world, &sreq[1]));
    memset(in, 0xEE, bufsize + 64);
    memset(&st, 0xff, sizeof st);
    if (use_irecv) {
        OK(FMI_Irecv(in, bufsize, FMI_BYTE, left, tag, world, &rreq));
        rc = FMI_Wait(&rreq, &st);
    } else {
        rc = FMI_Recv(in, bufsize, FMI_BYTE, left, tag, world, &st);
    }
    EXPECT_RC(FMI_ERR_TRUNCATE, rc);
    if (rc == FMI_ERR_TRUNCATE)
        CHECK_LAST_ERROR_SET("truncation");
    CHECK(st.error == FMI_ERR_TRUNCATE, "truncation %zu into %zu (%s): status.error %d", big, bufsize,
          use_irecv ? "Irecv" : "Recv", st.error);
    CHECK(st.source == left && st.tag == tag, "truncation: status source %d tag %d", st.source, st.tag);
    CHECK_PAT(in, bufsize, seed_of(left, t, 0), "truncation %zu into %zu: first bytes", big, bufsize);
    for (i = bufsize; i < bufsize + 64; i++)
        guard_bad += in[i] != 0xEE;
    CHECK(guard_bad == 0, "truncation %zu into %zu: %zu bytes written past the buffer", big, bufsize, guard_bad);
    /* the next message on the same pair arrives intact */
    free(in);
    in = xmalloc(next);
    memset(&st, 0xff, sizeof st);
    OK(FMI_Recv(in, next, FMI_BYTE, left, tag, world, &st));
    CHECK(st.bytes == next && st.error == FMI_SUCCESS, "after truncation: bytes %zu error %d", st.bytes, st.error);
    CHECK_PAT(in, next, seed_of(left, t, 1), "message after a truncated one (%zu bytes)", next);
    /* the sender is not told about the receiver's truncation */
    OK(FMI_Waitall(2, sreq, NULL));
    free(a);
    free(b);
    free(in);
}

static void test_truncation(void)
{
    truncation_case(100, 60, 50, 0, 110, 20);                      /* eager, Recv */
    truncation_case(4000, 1, 4000, 1, 111, 21);                    /* eager, Irecv+Wait */
    truncation_case(2 * 1024 * 1024 + 1, 1024 * 1024, 3 * 1024 * 1024, 0, 112, 22); /* large */
    truncation_case(3 * 1024 * 1024, 1000, 100, 1, 113, 23);        /* large into small */
    OK(FMI_Barrier(world));
}

int main(void)
{
    double t0 = FMI_Wtime();
    world = fmi_test_init("p2p");
    left = (g_rank + g_size - 1) % g_size;
    right = (g_rank + 1) % g_size;

    test_ring();
    test_tags();
    test_wildcards();
    test_order();
    test_unexpected();
    test_self();
    test_sendrecv();
    test_sizes();
    test_many();
    test_polling();
    test_probe();
    test_truncation();

    return fmi_test_finish(&world, t0);
}
