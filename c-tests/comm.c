/* Communicators: rank/size, dup (separate matching contexts), split by parity with
 * reversed keys, negative colour, free, nested split of a dup, many dups. */
#include "fmi_test.h"

static FMI_Comm world;

static void check_rank_size(FMI_Comm c, int want_rank, int want_size, const char *what)
{
    int r = -1, s = -1;
    OK(FMI_Comm_rank(c, &r));
    OK(FMI_Comm_size(c, &s));
    CHECK(r == want_rank && s == want_size, "%s: rank %d size %d, expected %d of %d", what, r, s,
          want_rank, want_size);
}

/* ring exchange on c; the payload names the sender's world rank, which must be
 * expect_from (the world rank of the left neighbour in c) */
static void ring_on(FMI_Comm c, int expect_from, int tag, const char *what)
{
    int r = 0, s = 1;
    int out[2], in[2] = {-1, -1};
    FMI_Request req;
    FMI_Status st;
    OK(FMI_Comm_rank(c, &r));
    OK(FMI_Comm_size(c, &s));
    out[0] = g_rank;
    out[1] = tag;
    OK(FMI_Irecv(in, 2, FMI_INT32, (r + s - 1) % s, tag, c, &req));
    OK(FMI_Send(out, 2, FMI_INT32, (r + 1) % s, tag, c));
    OK(FMI_Wait(&req, &st));
    CHECK(in[0] == expect_from && in[1] == tag, "%s: got world rank %d tag %d, expected %d %d", what,
          in[0], in[1], expect_from, tag);
    CHECK(st.source == (r + s - 1) % s, "%s: status.source %d, expected %d", what, st.source, (r + s - 1) % s);
}

static void test_env(void)
{
    const char *er = getenv("FMI_RANK"), *es = getenv("FMI_SIZE");
    check_rank_size(world, g_rank, g_size, "world");
    CHECK(er && atoi(er) == g_rank, "FMI_RANK is %s, FMI_Comm_rank %d", er ? er : "(unset)", g_rank);
    CHECK(es && atoi(es) == g_size, "FMI_SIZE is %s, FMI_Comm_size %d", es ? es : "(unset)", g_size);
}

static void test_dup(void)
{
    FMI_Comm dup = NULL;
    int left = (g_rank + g_size - 1) % g_size, right = (g_rank + 1) % g_size;
    int w = -1, d = -1, flag = 1;
    FMI_Request rw, rd;
    FMI_Status st;

    OK(FMI_Comm_dup(world, &dup));
    CHECK(dup != NULL && dup != world, "dup: handle %p (world %p)", (void *)dup, (void *)world);
    if (!dup)
        return;
    check_rank_size(dup, g_rank, g_size, "dup");

    /* posted: receives on both, sends in the opposite order */
    OK(FMI_Irecv(&w, 1, FMI_INT32, left, 5, world, &rw));
    OK(FMI_Irecv(&d, 1, FMI_INT32, left, 5, dup, &rd));
    {
        int vd = 2000 + g_rank, vw = 1000 + g_rank;
        OK(FMI_Send(&vd, 1, FMI_INT32, right, 5, dup));
        OK(FMI_Send(&vw, 1, FMI_INT32, right, 5, world));
    }
    OK(FMI_Wait(&rw, NULL));
    OK(FMI_Wait(&rd, NULL));
    CHECK(w == 1000 + left, "dup (posted): world receive got %d, expected %d", w, 1000 + left);
    CHECK(d == 2000 + left, "dup (posted): dup receive got %d, expected %d", d, 2000 + left);

    /* unexpected: both messages arrive before any receive; take the dup one first */
    {
        int vw = 3000 + g_rank, vd = 4000 + g_rank;
        FMI_Request s[2];
        OK(FMI_Isend(&vw, 1, FMI_INT32, right, 6, world, &s[0]));
        OK(FMI_Isend(&vd, 1, FMI_INT32, right, 6, dup, &s[1]));
        OK(FMI_Barrier(world));
        OK(FMI_Recv(&d, 1, FMI_INT32, left, 6, dup, NULL));
        OK(FMI_Recv(&w, 1, FMI_INT32, left, 6, world, NULL));
        OK(FMI_Waitall(2, s, NULL));
        CHECK(w == 3000 + left, "dup (unexpected): world receive got %d, expected %d", w, 3000 + left);
        CHECK(d == 4000 + left, "dup (unexpected): dup receive got %d, expected %d", d, 4000 + left);
    }

    /* a wildcard receive on the dup does not take a message sent on the parent */
    {
        int v = 5000 + g_rank;
        FMI_Request sw;
        d = -1;
        OK(FMI_Irecv(&d, 1, FMI_INT32, FMI_ANY_SOURCE, FMI_ANY_TAG, dup, &rd));
        OK(FMI_Isend(&v, 1, FMI_INT32, right, 7, world, &sw));
        OK(FMI_Recv(&w, 1, FMI_INT32, FMI_ANY_SOURCE, FMI_ANY_TAG, world, &st));
        OK(FMI_Wait(&sw, NULL));
        CHECK(w == 5000 + left && st.source == left && st.tag == 7,
              "dup (wildcards): world got %d from %d tag %d", w, st.source, st.tag);
        OK(FMI_Barrier(world));
        OK(FMI_Test(&rd, &flag, NULL));
        CHECK(flag == 0, "dup (wildcards): receive on the dup matched a message sent on the parent");
        OK(FMI_Barrier(world)); /* everybody has tested before anybody sends on the dup */
        OK(FMI_Send(&v, 1, FMI_INT32, right, 8, dup));
        OK(FMI_Wait(&rd, &st));
        CHECK(d == 5000 + left && st.tag == 8 && st.source == left,
              "dup (wildcards): dup got %d from %d tag %d", d, st.source, st.tag);
    }

    /* barriers on the dup and the parent, interleaved */
    OK(FMI_Barrier(dup));
    OK(FMI_Barrier(world));
    OK(FMI_Barrier(dup));

    OK(FMI_Comm_set_hint(dup, FMI_HINT_FAST));
    OK(FMI_Comm_set_hint(dup, FMI_HINT_CHEAP));
    ring_on(dup, left, 9, "dup ring after set_hint");

    OK(FMI_Comm_free(&dup));
    CHECK(dup == NULL, "FMI_Comm_free did not set the handle to NULL");
    OK(FMI_Barrier(world));
}

static void test_split_parity(void)
{
    FMI_Comm sub = NULL;
    int color = g_rank % 2;
    int members[64], nm = 0, me = -1, r, i;
    /* members of my colour ordered by key = -rank: world ranks in descending order */
    for (r = g_size - 1; r >= 0; r--)
        if (r % 2 == color) {
            if (r == g_rank)
                me = nm;
            members[nm++] = r;
        }
    OK(FMI_Comm_split(world, color, -g_rank, &sub));
    CHECK(sub != NULL, "split by parity gave NULL");
    if (!sub)
        return;
    check_rank_size(sub, me, nm, "split by parity, key -rank");
    /* left neighbour in sub is members[(me - 1) mod nm] */
    ring_on(sub, members[(me + nm - 1) % nm], 11, "split ring");
    OK(FMI_Barrier(sub));
    /* rank 0 of sub sends to every other member (p2p by sub ranks) */
    if (me == 0) {
        for (i = 1; i < nm; i++) {
            int v = 777 + i;
            OK(FMI_Send(&v, 1, FMI_INT32, i, 12, sub));
        }
    } else {
        int v = -1;
        FMI_Status st;
        OK(FMI_Recv(&v, 1, FMI_INT32, 0, 12, sub, &st));
        CHECK(v == 777 + me && st.source == 0, "split fan-out: got %d from %d", v, st.source);
    }
    for (i = 0; i < 5; i++)
        OK(FMI_Barrier(sub));

    /* the same split twice: two separate contexts */
    {
        FMI_Comm sub2 = NULL;
        int a = -1, b = -1;
        FMI_Request ra, rb;
        OK(FMI_Comm_split(world, color, -g_rank, &sub2));
        if (sub2) {
            check_rank_size(sub2, me, nm, "second split");
            OK(FMI_Irecv(&a, 1, FMI_INT32, (me + nm - 1) % nm, 13, sub, &ra));
            OK(FMI_Irecv(&b, 1, FMI_INT32, (me + nm - 1) % nm, 13, sub2, &rb));
            {
                int v2 = 200 + g_rank, v1 = 100 + g_rank;
                OK(FMI_Send(&v2, 1, FMI_INT32, (me + 1) % nm, 13, sub2));
                OK(FMI_Send(&v1, 1, FMI_INT32, (me + 1) % nm, 13, sub));
            }
            OK(FMI_Wait(&ra, NULL));
            OK(FMI_Wait(&rb, NULL));
            CHECK(a == 100 + members[(me + nm - 1) % nm] && b == 200 + members[(me + nm - 1) % nm],
                  "two identical splits crossed: got %d and %d", a, b);
            OK(FMI_Comm_free(&sub2));
        }
    }
    OK(FMI_Comm_free(&sub));
    CHECK(sub == NULL, "FMI_Comm_free did not set the split handle to NULL");
    OK(FMI_Barrier(world));
}

static void test_split_negative(void)
{
    FMI_Comm sub = (FMI_Comm)(uintptr_t)0x1; /* must be overwritten with NULL */
    int color = (g_rank == 0) ? -1 : (g_rank == 3 ? -5 : 1);
    int nm = 0, me = -1, r;
    for (r = 0; r < g_size; r++)
        if (r != 0 && r != 3) {
            if (r == g_rank)
                me = nm;
            nm++;
        }
    OK(FMI_Comm_split(world, color, g_rank, &sub));
    if (color < 0) {
        CHECK(sub == NULL, "split with colour %d gave %p, expected NULL", color, (void *)sub);
    } else {
        CHECK(sub != NULL && sub != (FMI_Comm)(uintptr_t)0x1, "split with colour 1 gave no communicator");
        if (sub && sub != (FMI_Comm)(uintptr_t)0x1) {
            check_rank_size(sub, me, nm, "split without ranks 0 and 3");
            OK(FMI_Barrier(sub));
            OK(FMI_Comm_free(&sub));
        }
    }
    OK(FMI_Barrier(world));
}

static void test_nested(void)
{
    FMI_Comm dup = NULL, pair = NULL, rev = NULL, rev2 = NULL;
    int pr = -1, ps = -1;
    OK(FMI_Comm_dup(world, &dup));
    if (!dup)
        return;
    /* pairs {0,1}, {2,3}, ...; the last one may be alone */
    OK(FMI_Comm_split(dup, g_rank / 2, g_rank, &pair));
    if (!pair) {
        CHECK(pair != NULL, "nested split gave NULL");
        OK(FMI_Comm_free(&dup));
        return;
    }
    ps = (g_rank / 2 * 2 + 1 < g_size) ? 2 : 1;
    check_rank_size(pair, g_rank % 2, ps, "pair split of a dup");
    {
        int partner_world = ps == 2 ? (g_rank ^ 1) : g_rank;
        ring_on(pair, partner_world, 21, "pair ring");
    }
    /* reverse the pair: key = -rank in the pair */
    OK(FMI_Comm_rank(pair, &pr));
    OK(FMI_Comm_split(pair, 0, -pr, &rev));
    if (!rev) {
        CHECK(rev != NULL, "split of the pair gave NULL");
    } else {
        check_rank_size(rev, ps - 1 - pr, ps, "reversed pair");
        /* the parents may go away first */
        OK(FMI_Comm_free(&dup));
        OK(FMI_Comm_free(&pair));
        OK(FMI_Barrier(rev));
        ring_on(rev, ps == 2 ? (g_rank ^ 1) : g_rank, 22, "reversed pair ring (parents freed)");
        OK(FMI_Comm_dup(rev, &rev2));
        if (rev2) {
            check_rank_size(rev2, ps - 1 - pr, ps, "dup of the reversed pair");
            OK(FMI_Barrier(rev2));
            OK(FMI_Comm_free(&rev2));
        }
        OK(FMI_Comm_free(&rev));
    }
    if (dup)
        OK(FMI_Comm_free(&dup));
    if (pair)
        OK(FMI_Comm_free(&pair));
    OK(FMI_Barrier(world));
}

static void test_many_dups(void)
{
    int i;
    for (i = 0; i < 50; i++) {
        FMI_Comm d = NULL;
        if (!OK(FMI_Comm_dup(world, &d)) || !d)
            break;
        OK(FMI_Barrier(d));
        OK(FMI_Comm_free(&d));
    }
    OK(FMI_Barrier(world));
}

int main(void)
{
    double t0 = FMI_Wtime();
    world = fmi_test_init("comm");
    if (g_size > 64) {
        fprintf(stderr, "comm: at most 64 ranks\n");
        return 1;
    }
    test_env();
    test_dup();
    test_split_parity();
    test_split_negative();
    test_nested();
    test_many_dups();
    return fmi_test_finish(&world, t0);
}
