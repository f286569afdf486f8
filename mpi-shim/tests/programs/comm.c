/* comm.c: communicators and groups: Comm_dup, Comm_split (reversing keys, MPI_UNDEFINED),
 * Comm_compare, Comm_free, groups (incl, excl, union, intersection, translate_ranks,
 * compare, free), Comm_create, Comm_create_group, names, MPI_TAG_UB, traffic on several
 * communicators interleaved, MPI_COMM_SELF. Any number of ranks. Rank 0 prints the layout
 * of the split communicators (gathered) and one "NAME ok HASH" line per section. */
#include "mt.h"

static void t_dup_split(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    MPI_Comm dup, rev, half, third;
    int res = -1, sz = -1, rk = -1;

    MPI_OK(MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_WORLD, &res));
    CHECK(res == MPI_IDENT);
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    MPI_OK(MPI_Comm_compare(MPI_COMM_WORLD, dup, &res));
    CHECKF(res == MPI_CONGRUENT, "compare(world, dup) = %d", res);
    MPI_OK(MPI_Comm_size(dup, &sz));
    MPI_OK(MPI_Comm_rank(dup, &rk));
    CHECK(sz == P && rk == me);

    /* One color, keys reversing the order. */
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, 0, -me, &rev));
    MPI_OK(MPI_Comm_rank(rev, &rk));
    CHECKF(rk == P - 1 - me, "reversed split: rank %d", rk);
    MPI_OK(MPI_Comm_compare(MPI_COMM_WORLD, rev, &res));
    CHECKF(res == (P == 1 ? MPI_CONGRUENT : MPI_SIMILAR), "compare(world, reversed) = %d", res);

    /* Two colors (even, odd), reversed keys. */
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, me % 2, -me, &half));
    int want_size = 0, want_rank = 0;
    for (int r = 0; r < P; r++)
        if (r % 2 == me % 2) {
            want_size++;
            if (r > me) want_rank++;
        }
    MPI_OK(MPI_Comm_size(half, &sz));
    MPI_OK(MPI_Comm_rank(half, &rk));
    CHECKF(sz == want_size && rk == want_rank, "split by parity: %d/%d want %d/%d", rk, sz, want_rank, want_size);
    MPI_OK(MPI_Comm_compare(MPI_COMM_WORLD, half, &res));
    CHECKF(res == (P == 1 ? MPI_CONGRUENT : MPI_UNEQUAL), "compare(world, half) = %d", res);
    int sum = -1, want_sum = 0;
    for (int r = me % 2; r < P; r += 2) want_sum += r;
    MPI_OK(MPI_Allreduce(&me, &sum, 1, MPI_INT, MPI_SUM, half));
    CHECK(sum == want_sum);
    /* The world rank of my half-rank 0 (the highest world rank of my color). */
    int first = me;
    MPI_OK(MPI_Bcast(&first, 1, MPI_INT, 0, half));
    CHECK(first % 2 == me % 2 && first >= me);

    /* Three colors, one of them MPI_UNDEFINED. */
    const int color = me % 3 == 2 ? MPI_UNDEFINED : me % 3;
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, color, me, &third));
    int trk = -1, tsz = 0;
    if (color == MPI_UNDEFINED) {
        CHECK(third == MPI_COMM_NULL);
    } else {
        CHECK(third != MPI_COMM_NULL);
        MPI_OK(MPI_Comm_rank(third, &trk));
        MPI_OK(MPI_Comm_size(third, &tsz));
        CHECK(trk == me / 3);
        int s2 = 0;
        MPI_OK(MPI_Allreduce(&me, &s2, 1, MPI_INT, MPI_MAX, third));
        CHECK(s2 % 3 == color);
    }

    /* Layout gathered to rank 0. */
    int mine[5] = {rk, sz, trk, tsz, first}, *all = mt_malloc(sizeof(int) * 5 * (size_t)P);
    MPI_OK(MPI_Gather(mine, 5, MPI_INT, all, 5, MPI_INT, 0, MPI_COMM_WORLD));
    for (int r = 0; r < P; r++)
        out("  world %d: parity comm %d/%d, mod-3 comm %d/%d, parity root %d\n", r, all[5 * r], all[5 * r + 1],
            all[5 * r + 2], all[5 * r + 3], all[5 * r + 4]);
    free(all);

    MPI_OK(MPI_Comm_free(&dup));
    MPI_OK(MPI_Comm_free(&rev));
    MPI_OK(MPI_Comm_free(&half));
    if (third != MPI_COMM_NULL) MPI_OK(MPI_Comm_free(&third));
    CHECK(dup == MPI_COMM_NULL && rev == MPI_COMM_NULL && half == MPI_COMM_NULL && third == MPI_COMM_NULL);
    mh_i64(&h, sum);
    mh_i64(&h, trk);
    mt_end("dup_split_compare", &h);
}

static void t_groups(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank, ne = (P + 1) / 2, no = P / 2;
    MPI_Group world_g, evens, odds, uni, inter, empty, revg;
    int sz = -1, rk = -2, res = -1;
    int *ranks = mt_malloc(sizeof(int) * (size_t)P), *out_r = mt_malloc(sizeof(int) * (size_t)P);

    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_g));
    MPI_OK(MPI_Group_size(world_g, &sz));
    MPI_OK(MPI_Group_rank(world_g, &rk));
    CHECK(sz == P && rk == me);

    for (int i = 0; i < ne; i++) ranks[i] = 2 * i;
    MPI_OK(MPI_Group_incl(world_g, ne, ranks, &evens));
    MPI_OK(MPI_Group_excl(world_g, ne, ranks, &odds));
    MPI_OK(MPI_Group_size(evens, &sz));
    CHECK(sz == ne);
    MPI_OK(MPI_Group_size(odds, &sz));
    CHECK(sz == no);
    MPI_OK(MPI_Group_rank(evens, &rk));
    CHECKF(rk == (me % 2 == 0 ? me / 2 : MPI_UNDEFINED), "Group_rank(evens) = %d", rk);
    MPI_OK(MPI_Group_rank(odds, &rk));
    CHECKF(rk == (me % 2 == 1 ? me / 2 : MPI_UNDEFINED), "Group_rank(odds) = %d", rk);

    /* Union: the odds first, then the evens. */
    MPI_OK(MPI_Group_union(odds, evens, &uni));
    MPI_OK(MPI_Group_size(uni, &sz));
    CHECK(sz == P);
    for (int i = 0; i < P; i++) ranks[i] = i;
    MPI_OK(MPI_Group_translate_ranks(uni, P, ranks, world_g, out_r));
    for (int i = 0; i < P; i++) {
        const int want = i < no ? 2 * i + 1 : 2 * (i - no);
        CHECKF(out_r[i] == want, "union rank %d is world %d, want %d", i, out_r[i], want);
        mh_i64(&h, out_r[i]);
    }
    MPI_OK(MPI_Group_compare(uni, world_g, &res));
    CHECK(res == (P <= 1 ? MPI_IDENT : MPI_SIMILAR));

    /* Intersections. */
    MPI_OK(MPI_Group_intersection(world_g, evens, &inter));
    MPI_OK(MPI_Group_compare(inter, evens, &res));
    CHECK(res == MPI_IDENT);
    MPI_OK(MPI_Group_intersection(odds, evens, &empty));
    MPI_OK(MPI_Group_size(empty, &sz));
    CHECK(sz == 0);
    MPI_OK(MPI_Group_rank(empty, &rk));
    CHECK(rk == MPI_UNDEFINED);

    /* World ranks into the odd group: evens are MPI_UNDEFINED. */
    MPI_OK(MPI_Group_translate_ranks(world_g, P, ranks, odds, out_r));
    for (int i = 0; i < P; i++) CHECK(out_r[i] == (i % 2 ? i / 2 : MPI_UNDEFINED));

    /* Reversed order. */
    for (int i = 0; i < P; i++) ranks[i] = P - 1 - i;
    MPI_OK(MPI_Group_incl(world_g, P, ranks, &revg));
    MPI_OK(MPI_Group_rank(revg, &rk));
    CHECK(rk == P - 1 - me);
    MPI_OK(MPI_Group_compare(revg, world_g, &res));
    CHECK(res == (P == 1 ? MPI_IDENT : MPI_SIMILAR));

    /* Comm_create over MPI_COMM_WORLD with the evens: odd ranks get MPI_COMM_NULL. */
    MPI_Comm ec, oc = MPI_COMM_NULL, rc;
    MPI_OK(MPI_Comm_create(MPI_COMM_WORLD, evens, &ec));
    if (me % 2 == 0) {
        CHECK(ec != MPI_COMM_NULL);
        MPI_OK(MPI_Comm_rank(ec, &rk));
        MPI_OK(MPI_Comm_size(ec, &sz));
        CHECK(rk == me / 2 && sz == ne);
        int s = 0;
        MPI_OK(MPI_Allreduce(&me, &s, 1, MPI_INT, MPI_SUM, ec));
        CHECK(s == ne * (ne - 1));
        mh_i64(&h, s);
        MPI_OK(MPI_Comm_free(&ec));
    } else {
        CHECK(ec == MPI_COMM_NULL);
    }
    /* Comm_create_group: only the members (odd ranks) call it. */
    if (me % 2 == 1) {
        MPI_OK(MPI_Comm_create_group(MPI_COMM_WORLD, odds, 7, &oc));
        CHECK(oc != MPI_COMM_NULL);
        MPI_OK(MPI_Comm_rank(oc, &rk));
        MPI_OK(MPI_Comm_size(oc, &sz));
        CHECK(rk == me / 2 && sz == no);
        int s = 0;
        MPI_OK(MPI_Allreduce(&me, &s, 1, MPI_INT, MPI_SUM, oc));
        CHECK(s == no * no);
        mh_i64(&h, s);
        MPI_OK(MPI_Comm_free(&oc));
    }
    /* Comm_create with the reversed group: rank order follows the group. */
    MPI_OK(MPI_Comm_create(MPI_COMM_WORLD, revg, &rc));
    MPI_OK(MPI_Comm_rank(rc, &rk));
    CHECK(rk == P - 1 - me);
    int v = me;
    MPI_OK(MPI_Bcast(&v, 1, MPI_INT, 0, rc));
    CHECK(v == P - 1);
    MPI_OK(MPI_Comm_free(&rc));

    MPI_Group *gs[7] = {&world_g, &evens, &odds, &uni, &inter, &empty, &revg};
    for (int i = 0; i < 7; i++) {
        MPI_OK(MPI_Group_free(gs[i]));
        CHECK(*gs[i] == MPI_GROUP_NULL);
    }
    free(ranks), free(out_r);
    mt_end("groups_create", &h);
}

static void t_names_attrs(void)
{
    mt_hash h;
    mh_init(&h);
    char name[MPI_MAX_OBJECT_NAME];
    int len = -1, flag = 0;
    MPI_OK(MPI_Comm_get_name(MPI_COMM_WORLD, name, &len));
    CHECKF(strcmp(name, "MPI_COMM_WORLD") == 0 && len == 14, "world name '%s' (%d)", name, len);
    MPI_OK(MPI_Comm_get_name(MPI_COMM_SELF, name, &len));
    CHECKF(strcmp(name, "MPI_COMM_SELF") == 0 && len == 13, "self name '%s' (%d)", name, len);
    MPI_Comm dup;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    MPI_OK(MPI_Comm_set_name(dup, "test dup #1"));
    MPI_OK(MPI_Comm_get_name(dup, name, &len));
    CHECKF(strcmp(name, "test dup #1") == 0 && len == 11, "dup name '%s' (%d)", name, len);
    MPI_OK(MPI_Comm_set_name(dup, "renamed"));
    MPI_OK(MPI_Comm_get_name(dup, name, &len));
    CHECK(strcmp(name, "renamed") == 0 && len == 7);
    MPI_OK(MPI_Comm_get_name(MPI_COMM_WORLD, name, &len));
    CHECK(strcmp(name, "MPI_COMM_WORLD") == 0);
    MPI_OK(MPI_Comm_free(&dup));

    void *val = NULL;
    MPI_OK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &val, &flag));
    CHECKF(flag && val != NULL, "MPI_TAG_UB not set");
    CHECKF(*(int *)val >= 32767, "MPI_TAG_UB = %d", *(int *)val);
    /* The largest tag works. */
    const int tub = *(int *)val;
    int x = 3, y = 0;
    MPI_Request rq;
    MPI_OK(MPI_Irecv(&y, 1, MPI_INT, mt_rank, tub, MPI_COMM_WORLD, &rq));
    MPI_OK(MPI_Send(&x, 1, MPI_INT, mt_rank, tub, MPI_COMM_WORLD));
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    CHECK(y == 3);
    mh_i64(&h, y);
    out("tag_ub >= 32767: yes\n");
    mt_end("names_attrs", &h);
}

/* The same source and tag on three communicators: receives on each see only their own. */
static void t_interleave(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank, left = (me + P - 1) % P, right = (me + 1) % P;
    MPI_Comm a, b, half;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &a));
    MPI_OK(MPI_Comm_dup(a, &b));
    MPI_OK(MPI_Comm_split(MPI_COMM_WORLD, 0, me, &half)); /* same group as world, new context */
    MPI_Comm comms[4] = {MPI_COMM_WORLD, a, b, half};
    int sv[4][3], rv[3];
    MPI_Request rq[12];
    for (int round = 0; round < 3; round++) {
        for (int c = 0; c < 4; c++) {
            for (int k = 0; k < 3; k++) sv[c][k] = (c + 1) * 1000 + me * 10 + k + round * 100000;
            MPI_OK(MPI_Isend(sv[c], 3, MPI_INT, right, 5, comms[c], &rq[c]));
        }
        /* Receive with wildcards, communicators in the reverse order. */
        for (int c = 3; c >= 0; c--) {
            MPI_Status st;
            MPI_OK(MPI_Recv(rv, 3, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, comms[c], &st));
            CHECKF(st.MPI_SOURCE == left && st.MPI_TAG == 5, "comm %d status", c);
            for (int k = 0; k < 3; k++)
                CHECKF(rv[k] == (c + 1) * 1000 + left * 10 + k + round * 100000,
                       "comm %d received %d: a message of another communicator", c, rv[k]);
            mh_i64(&h, rv[0]);
        }
        MPI_OK(MPI_Waitall(4, rq, MPI_STATUSES_IGNORE));
    }
    /* A message pending on world is invisible to a probe on a. */
    int x = me, flag = 1;
    MPI_OK(MPI_Isend(&me, 1, MPI_INT, right, 6, MPI_COMM_WORLD, &rq[1]));
    MPI_Status st;
    MPI_OK(MPI_Probe(left, 6, MPI_COMM_WORLD, &st));
    MPI_OK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, a, &flag, MPI_STATUS_IGNORE));
    CHECKF(!flag, "Iprobe on a dup found a message sent on MPI_COMM_WORLD");
    MPI_OK(MPI_Recv(&x, 1, MPI_INT, left, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    MPI_OK(MPI_Wait(&rq[1], MPI_STATUS_IGNORE));
    CHECK(x == left);
    /* Collectives on different communicators interleaved with p2p. */
    int s1 = 0, s2 = 0;
    MPI_OK(MPI_Isend(&me, 1, MPI_INT, right, 8, b, &rq[0]));
    MPI_OK(MPI_Allreduce(&me, &s1, 1, MPI_INT, MPI_SUM, a));
    MPI_OK(MPI_Allreduce(&me, &s2, 1, MPI_INT, MPI_MAX, half));
    MPI_OK(MPI_Recv(&x, 1, MPI_INT, left, 8, b, MPI_STATUS_IGNORE));
    MPI_OK(MPI_Wait(&rq[0], MPI_STATUS_IGNORE));
    CHECK(s1 == P * (P - 1) / 2 && s2 == P - 1 && x == left);
    mh_i64(&h, s1 + s2);
    MPI_OK(MPI_Comm_free(&b));
    MPI_OK(MPI_Comm_free(&a));
    MPI_OK(MPI_Comm_free(&half));
    mt_end("interleaved_comms", &h);
}

static void t_self(void)
{
    mt_hash h;
    mh_init(&h);
    int sz = -1, rk = -1, res = -1, v = mt_rank * 3 + 1, r = 0;
    MPI_OK(MPI_Comm_size(MPI_COMM_SELF, &sz));
    MPI_OK(MPI_Comm_rank(MPI_COMM_SELF, &rk));
    CHECK(sz == 1 && rk == 0);
    MPI_OK(MPI_Allreduce(&v, &r, 1, MPI_INT, MPI_SUM, MPI_COMM_SELF));
    CHECK(r == v);
    MPI_OK(MPI_Sendrecv(&v, 1, MPI_INT, 0, 1, &r, 1, MPI_INT, 0, 1, MPI_COMM_SELF, MPI_STATUS_IGNORE));
    CHECK(r == v);
    MPI_OK(MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_SELF));
    MPI_OK(MPI_Barrier(MPI_COMM_SELF));
    MPI_OK(MPI_Comm_compare(MPI_COMM_SELF, MPI_COMM_WORLD, &res));
    CHECK(res == (mt_size == 1 ? MPI_CONGRUENT : MPI_UNEQUAL));
    MPI_Comm d;
    MPI_OK(MPI_Comm_dup(MPI_COMM_SELF, &d));
    MPI_OK(MPI_Comm_compare(MPI_COMM_SELF, d, &res));
    CHECK(res == MPI_CONGRUENT);
    MPI_OK(MPI_Allreduce(&v, &r, 1, MPI_INT, MPI_MAX, d));
    CHECK(r == v);
    MPI_OK(MPI_Comm_free(&d));
    /* A message on self does not show up on world, even from the same process. */
    int flag = 1;
    MPI_Request rq;
    MPI_OK(MPI_Isend(&v, 1, MPI_INT, 0, 2, MPI_COMM_SELF, &rq));
    MPI_OK(MPI_Iprobe(mt_rank, 2, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
    CHECK(!flag);
    MPI_OK(MPI_Recv(&r, 1, MPI_INT, 0, 2, MPI_COMM_SELF, MPI_STATUS_IGNORE));
    MPI_OK(MPI_Wait(&rq, MPI_STATUS_IGNORE));
    CHECK(r == v);
    mh_i64(&h, r);
    mt_end("comm_self", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    out("comm: %d ranks\n", mt_size);
    t_dup_split();
    t_groups();
    t_names_attrs();
    t_interleave();
    t_self();
    out("comm: done\n");
    MPI_Finalize();
    return 0;
}
