/* misc.c: Comm_split_type(MPI_COMM_TYPE_SHARED) (every rank runs on one host here: the
 * new communicator has the world's size; keys order it; MPI_UNDEFINED gives
 * MPI_COMM_NULL), Group_range_incl/Group_range_excl (several ranges, negative strides,
 * strides longer than the range), Status_set_elements/Status_set_cancelled read back by
 * Get_elements/Get_count/Test_cancelled, Type_get_name of predefined types (MPICH's
 * names printed) and Type_set_name/get_name on a derived type, the non-blocking
 * collectives Iscan, Iexscan, Ireduce_scatter_block, Ireduce_scatter, Igatherv,
 * Iscatterv, Iallgatherv, Ialltoallv (all outstanding at once, with gaps and zero counts),
 * and MPI-4's Isendrecv and Isendrecv_replace. Any number of ranks. Rank 0 prints the
 * group layouts, the type names and one "NAME ok HASH" line per section. */
#include "mt.h"

static void t_split_type(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    MPI_Comm node, half;
    int sz = -1, rk = -1, s = -1;
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, P - me, MPI_INFO_NULL, &node));
    CHECK(node != MPI_COMM_NULL);
    MPI_OK(MPI_Comm_size(node, &sz));
    MPI_OK(MPI_Comm_rank(node, &rk));
    CHECKF(sz == P, "MPI_COMM_TYPE_SHARED: size %d, world %d (all ranks are on one host)", sz, P);
    CHECKF(rk == P - 1 - me, "MPI_COMM_TYPE_SHARED with reversing keys: rank %d", rk);
    MPI_OK(MPI_Allreduce(&me, &s, 1, MPI_INT, MPI_SUM, node));
    CHECK(s == P * (P - 1) / 2);
    int root_world = me;
    MPI_OK(MPI_Bcast(&root_world, 1, MPI_INT, 0, node));
    CHECK(root_world == P - 1);
    mh_i64(&h, rk);
    MPI_OK(MPI_Comm_free(&node));
    /* Odd ranks pass MPI_UNDEFINED. */
    MPI_OK(MPI_Comm_split_type(MPI_COMM_WORLD, me % 2 ? MPI_UNDEFINED : MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &half));
    if (me % 2) {
        CHECK(half == MPI_COMM_NULL);
    } else {
        CHECK(half != MPI_COMM_NULL);
        MPI_OK(MPI_Comm_size(half, &sz));
        MPI_OK(MPI_Comm_rank(half, &rk));
        CHECK(sz == (P + 1) / 2 && rk == me / 2);
        mh_i64(&h, rk);
        MPI_OK(MPI_Comm_free(&half));
    }
    out("split_type shared: size equals the world size\n");
    mt_end("split_type", &h);
}

/* Expands ranges the way the standard defines them; returns the number of ranks. */
static int expand(int n, int (*ranges)[3], int *list)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const int f = ranges[i][0], l = ranges[i][1], st = ranges[i][2];
        if (st > 0)
            for (int r = f; r <= l; r += st) list[k++] = r;
        else
            for (int r = f; r >= l; r += st) list[k++] = r;
    }
    return k;
}

/* The group's members as world ranks must be want[0..n). */
static void check_group(MPI_Group world_g, MPI_Group g, const int *want, int n, const char *what, mt_hash *h)
{
    const int P = mt_size;
    int sz = -1, rk = -2, *idx = mt_malloc(sizeof(int) * (size_t)P), *w = mt_malloc(sizeof(int) * (size_t)P);
    MPI_OK(MPI_Group_size(g, &sz));
    CHECKF(sz == n, "%s: size %d, want %d", what, sz, n);
    for (int i = 0; i < n; i++) idx[i] = i;
    if (n > 0) MPI_OK(MPI_Group_translate_ranks(g, n, idx, world_g, w));
    int my = MPI_UNDEFINED;
    for (int i = 0; i < n; i++) {
        CHECKF(w[i] == want[i], "%s: rank %d is world %d, want %d", what, i, w[i], want[i]);
        if (want[i] == mt_rank) my = i;
        mh_i64(h, w[i]);
    }
    MPI_OK(MPI_Group_rank(g, &rk));
    CHECKF(rk == my, "%s: Group_rank %d, want %d", what, rk, my);
    /* The same group by Group_incl. */
    MPI_Group same;
    int res = -1;
    MPI_OK(MPI_Group_incl(world_g, n, want, &same));
    MPI_OK(MPI_Group_compare(g, same, &res));
    CHECKF(res == MPI_IDENT, "%s: compare with Group_incl: %d", what, res);
    MPI_OK(MPI_Group_free(&same));
    free(idx), free(w);
}

static void t_group_range(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size;
    MPI_Group world_g;
    MPI_OK(MPI_Comm_group(MPI_COMM_WORLD, &world_g));
    int ranges[3][3];
    int *incl = mt_malloc(sizeof(int) * (size_t)P), *excl = mt_malloc(sizeof(int) * (size_t)P),
        *mark = mt_malloc(sizeof(int) * (size_t)P);
    for (int c = 0; c < 9; c++) {
        int n = 0;
#define R(f, l, s) (ranges[n][0] = (f), ranges[n][1] = (l), ranges[n][2] = (s), n++)
        switch (c) {
        case 0: R(0, P - 1, 1); break;
        case 1: R(P - 1, 0, -1); break;
        case 2: R(0, P - 1, 2); break;
        case 3: R(P - 1, 0, -2); break;
        case 4: R(0, P - 1, P + 5); break;
        case 5: R(P - 1, 0, -(P + 5)); break;
        case 6:
            if (P < 2) continue;
            R(P - 1, 0, -2), R(P - 2, 0, -2);
            break;
        case 7:
            if (P < 2) continue;
            R(1, P - 1, 3), R(0, 0, 1);
            break;
        case 8:
            if (P < 3) continue;
            R(P - 1, P - 1, 1), R(1, P - 2, 1), R(0, 0, -1);
            break;
        }
#undef R
        const int ni = expand(n, ranges, incl);
        for (int r = 0; r < P; r++) mark[r] = 0;
        for (int i = 0; i < ni; i++) mark[incl[i]] = 1;
        int ne = 0;
        for (int r = 0; r < P; r++)
            if (!mark[r]) excl[ne++] = r;
        char desc[128], what[160];
        int pos = 0;
        for (int i = 0; i < n; i++)
            pos += snprintf(desc + pos, sizeof desc - (size_t)pos, "%s%d:%d:%d", i ? " " : "", ranges[i][0],
                            ranges[i][1], ranges[i][2]);
        MPI_Group gi, ge;
        MPI_OK(MPI_Group_range_incl(world_g, n, ranges, &gi));
        snprintf(what, sizeof what, "range_incl [%s]", desc);
        check_group(world_g, gi, incl, ni, what, &h);
        MPI_OK(MPI_Group_range_excl(world_g, n, ranges, &ge));
        snprintf(what, sizeof what, "range_excl [%s]", desc);
        check_group(world_g, ge, excl, ne, what, &h);
        char li[256], le[256];
        int pi = 0, pe = 0;
        li[0] = le[0] = 0;
        for (int i = 0; i < ni && pi < 200; i++) pi += snprintf(li + pi, sizeof li - (size_t)pi, " %d", incl[i]);
        for (int i = 0; i < ne && pe < 200; i++) pe += snprintf(le + pe, sizeof le - (size_t)pe, " %d", excl[i]);
        out("  ranges [%s]: incl [%s ] excl [%s ]\n", desc, li, le);
        /* A communicator from the included group. */
        MPI_Comm cc;
        MPI_OK(MPI_Comm_create(MPI_COMM_WORLD, gi, &cc));
        int in = 0;
        for (int i = 0; i < ni; i++) in |= incl[i] == mt_rank;
        CHECK((cc != MPI_COMM_NULL) == in);
        if (cc != MPI_COMM_NULL) {
            int v = mt_rank;
            MPI_OK(MPI_Bcast(&v, 1, MPI_INT, 0, cc));
            CHECK(v == incl[0]);
            MPI_OK(MPI_Comm_free(&cc));
        }
        MPI_OK(MPI_Group_free(&gi));
        MPI_OK(MPI_Group_free(&ge));
    }
    MPI_OK(MPI_Group_free(&world_g));
    free(incl), free(excl), free(mark);
    mt_end("group_range", &h);
}

static void t_status(void)
{
    mt_hash h;
    mh_init(&h);
    MPI_Status st;
    int n = -1, flag = -1;
    memset(&st, 0, sizeof st);
    MPI_OK(MPI_Status_set_elements(&st, MPI_INT, 5));
    MPI_OK(MPI_Get_elements(&st, MPI_INT, &n));
    CHECKF(n == 5, "Get_elements after set_elements(MPI_INT, 5): %d", n);
    MPI_OK(MPI_Get_count(&st, MPI_INT, &n));
    CHECK(n == 5);
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECK(!flag);
    MPI_OK(MPI_Status_set_cancelled(&st, 1));
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECK(flag);
    MPI_OK(MPI_Get_elements(&st, MPI_INT, &n));
    CHECKF(n == 5, "set_cancelled changed the element count to %d", n);
    MPI_OK(MPI_Status_set_cancelled(&st, 0));
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECK(!flag);

    /* Basic types only: for a derived type MPICH 4.0.2 takes the count as a number of
     * datatype items, not of basic elements (set_elements(contiguous of 3 ints, 6) then
     * Get_elements gives 18), so derived types are not tested. */
    MPI_OK(MPI_Status_set_elements(&st, MPI_DOUBLE, 3));
    MPI_OK(MPI_Get_elements(&st, MPI_DOUBLE, &n));
    CHECK(n == 3);
    MPI_OK(MPI_Get_count(&st, MPI_DOUBLE, &n));
    CHECK(n == 3);
    MPI_OK(MPI_Status_set_elements(&st, MPI_CHAR, 1000));
    MPI_OK(MPI_Get_elements(&st, MPI_CHAR, &n));
    CHECK(n == 1000);
    MPI_OK(MPI_Status_set_cancelled(&st, 1));
    MPI_OK(MPI_Status_set_elements(&st, MPI_DOUBLE, 0));
    MPI_OK(MPI_Get_elements(&st, MPI_DOUBLE, &n));
    CHECK(n == 0);
    MPI_OK(MPI_Test_cancelled(&st, &flag));
    CHECKF(flag, "set_elements cleared the cancelled flag");
    mh_i64(&h, n);
    out("status set/get: ok\n");
    mt_end("status_set", &h);
}

static void t_type_names(void)
{
    mt_hash h;
    mh_init(&h);
    static const struct { MPI_Datatype t; const char *label; } ts[] = {
        {MPI_INT, "MPI_INT"},           {MPI_DOUBLE, "MPI_DOUBLE"},
        {MPI_CHAR, "MPI_CHAR"},         {MPI_BYTE, "MPI_BYTE"},
        {MPI_FLOAT, "MPI_FLOAT"},       {MPI_LONG, "MPI_LONG"},
        {MPI_UNSIGNED, "MPI_UNSIGNED"}, {MPI_SHORT, "MPI_SHORT"},
        {MPI_LONG_LONG, "MPI_LONG_LONG"}, {MPI_UNSIGNED_CHAR, "MPI_UNSIGNED_CHAR"},
        {MPI_INT64_T, "MPI_INT64_T"},   {MPI_2INT, "MPI_2INT"},
        {MPI_DOUBLE_INT, "MPI_DOUBLE_INT"}, {MPI_C_BOOL, "MPI_C_BOOL"},
        {MPI_PACKED, "MPI_PACKED"},
    };
    char name[MPI_MAX_OBJECT_NAME];
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        int len = -1;
        memset(name, 'x', sizeof name);
        MPI_OK(MPI_Type_get_name(ts[i].t, name, &len));
        CHECKF(len == (int)strlen(name) && len > 0, "Type_get_name(%s): length %d for '%s'", ts[i].label, len, name);
        out("  type_get_name(%s) = \"%s\"\n", ts[i].label, name);
        mh_bytes(&h, name, (size_t)len);
    }
    /* The names asked for by name must be the standard ones (rank 0 printed all). */
    int len = -1;
    MPI_OK(MPI_Type_get_name(MPI_INT, name, &len));
    CHECK(strcmp(name, "MPI_INT") == 0 && len == 7);
    MPI_OK(MPI_Type_get_name(MPI_DOUBLE, name, &len));
    CHECK(strcmp(name, "MPI_DOUBLE") == 0 && len == 10);
    MPI_OK(MPI_Type_get_name(MPI_CHAR, name, &len));
    CHECK(strcmp(name, "MPI_CHAR") == 0 && len == 8);

    /* A derived type: no name at first, then the one set, then a new one. */
    MPI_Datatype vec;
    MPI_OK(MPI_Type_vector(3, 2, 4, MPI_DOUBLE, &vec));
    len = -1;
    name[0] = 'x', name[1] = 0;
    MPI_OK(MPI_Type_get_name(vec, name, &len));
    CHECKF(len == 0 && name[0] == 0, "unnamed derived type: '%s' (%d)", name, len);
    MPI_OK(MPI_Type_set_name(vec, "column block"));
    MPI_OK(MPI_Type_get_name(vec, name, &len));
    CHECKF(strcmp(name, "column block") == 0 && len == 12, "derived type name '%s' (%d)", name, len);
    MPI_OK(MPI_Type_commit(&vec));
    MPI_OK(MPI_Type_get_name(vec, name, &len));
    CHECK(strcmp(name, "column block") == 0);
    MPI_OK(MPI_Type_set_name(vec, "renamed"));
    MPI_OK(MPI_Type_get_name(vec, name, &len));
    CHECK(strcmp(name, "renamed") == 0 && len == 7);
    /* Still usable. */
    double a[12], b[12];
    for (int i = 0; i < 12; i++) a[i] = mt_rank * 100 + i, b[i] = -1;
    MPI_OK(MPI_Sendrecv(a, 1, vec, 0, 3, b, 1, vec, 0, 3, MPI_COMM_SELF, MPI_STATUS_IGNORE));
    for (int i = 0; i < 12; i++) CHECK(b[i] == (i % 4 < 2 && i < 10 ? a[i] : -1));
    MPI_OK(MPI_Type_free(&vec));
    /* The predefined names are unchanged. */
    MPI_OK(MPI_Type_get_name(MPI_DOUBLE, name, &len));
    CHECK(strcmp(name, "MPI_DOUBLE") == 0);
    mh_i64(&h, len);
    mt_end("type_names", &h);
}

/* Non-blocking collectives, all eleven requests outstanding at once, completed by one
 * Waitall over a scrambled order, then every result checked. */
static void t_nbc(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank, K = 3;
    CHECKF(P <= 60, "t_nbc: at most 60 ranks");
    MPI_Request rq[11];
    const int SENT = -99;

    /* Iscan (SUM) and Iscan in place (MAX). */
    int scan_s[3] = {me + 1, 2 * me, me * me - 3 * me}, scan_r[3] = {SENT, SENT, SENT};
    int scan_ip[2] = {(me * 7) % 5, -me};
    /* Iexscan (SUM, and PROD of small values). */
    long ex_s[2] = {me + 1, (me % 3) + 1}, ex_r[2] = {SENT, SENT};
    /* Ireduce_scatter_block: K per rank. */
    int *rsb_s = mt_malloc(sizeof(int) * (size_t)(P * K)), rsb_r[3] = {SENT, SENT, SENT};
    for (int i = 0; i < P * K; i++) rsb_s[i] = me * 1000 + i;
    /* Ireduce_scatter: counts r + 1, but 0 when r % 3 == 1. */
    int *rs_cnt = mt_malloc(sizeof(int) * (size_t)P), rs_tot = 0;
    for (int r = 0; r < P; r++) rs_cnt[r] = r % 3 == 1 ? 0 : r + 1, rs_tot += rs_cnt[r];
    int *rs_s = mt_malloc(sizeof(int) * (size_t)(rs_tot + 1)), *rs_r = mt_malloc(sizeof(int) * (size_t)(P + 8));
    for (int i = 0; i < rs_tot; i++) rs_s[i] = (me + 1) * (i + 1);
    for (int i = 0; i < P + 8; i++) rs_r[i] = SENT;
    /* Igatherv to the last rank: rank r sends r + 1 values, placed in reverse rank order
     * with one unused slot before each block. */
    const int groot = P - 1;
    int *gv_cnt = mt_malloc(sizeof(int) * (size_t)P), *gv_dis = mt_malloc(sizeof(int) * (size_t)P), gv_tot = 0;
    for (int r = P - 1; r >= 0; r--) gv_cnt[r] = r + 1, gv_dis[r] = gv_tot + 1, gv_tot += r + 2;
    int *gv_r = mt_malloc(sizeof(int) * (size_t)gv_tot), gv_s[64];
    for (int i = 0; i < gv_tot; i++) gv_r[i] = SENT;
    for (int i = 0; i <= me; i++) gv_s[i] = me * 100 + i;
    /* Iscatterv from rank P / 2: rank r gets P - r values from offset 2 * r * P (gaps). */
    const int sroot = P / 2;
    int *sv_cnt = mt_malloc(sizeof(int) * (size_t)P), *sv_dis = mt_malloc(sizeof(int) * (size_t)P);
    for (int r = 0; r < P; r++) sv_cnt[r] = P - r, sv_dis[r] = 2 * r * P;
    int *sv_s = mt_malloc(sizeof(int) * (size_t)(2 * P * P)), sv_r[64];
    for (int i = 0; i < 2 * P * P; i++) sv_s[i] = me == sroot ? 5000 + i : SENT;
    for (int i = 0; i < 64; i++) sv_r[i] = SENT;
    /* Iallgatherv: rank r contributes r % 2 + 1 values at offset 3 * r; and in place. */
    int *ag_cnt = mt_malloc(sizeof(int) * (size_t)P), *ag_dis = mt_malloc(sizeof(int) * (size_t)P);
    for (int r = 0; r < P; r++) ag_cnt[r] = r % 2 + 1, ag_dis[r] = 3 * r;
    int ag_s[2] = {me * 10, me * 10 + 1}, *ag_r = mt_malloc(sizeof(int) * (size_t)(3 * P)),
        *ag_ip = mt_malloc(sizeof(int) * (size_t)(3 * P));
    for (int i = 0; i < 3 * P; i++) ag_r[i] = SENT, ag_ip[i] = SENT;
    for (int k = 0; k < ag_cnt[me]; k++) ag_ip[ag_dis[me] + k] = me * 10 + k + 7;
    /* Ialltoallv: rank i sends c(i, j) = (i + 2j) % 3 + (i == j) values to j; the send
     * blocks in reverse order, the receive blocks with a gap of 2. */
#define C(i, j) (((i) + 2 * (j)) % 3 + ((i) == (j)))
    int *a_sc = mt_malloc(sizeof(int) * (size_t)P), *a_sd = mt_malloc(sizeof(int) * (size_t)P);
    int *a_rc = mt_malloc(sizeof(int) * (size_t)P), *a_rd = mt_malloc(sizeof(int) * (size_t)P);
    int stot = 0, rtot = 0;
    for (int j = P - 1; j >= 0; j--) a_sc[j] = C(me, j), a_sd[j] = stot, stot += a_sc[j];
    for (int i = 0; i < P; i++) a_rc[i] = C(i, me), a_rd[i] = rtot, rtot += a_rc[i] + 2;
    int *a_s = mt_malloc(sizeof(int) * (size_t)(stot + 1)), *a_r = mt_malloc(sizeof(int) * (size_t)rtot);
    for (int j = 0; j < P; j++)
        for (int k = 0; k < a_sc[j]; k++) a_s[a_sd[j] + k] = me * 10000 + j * 100 + k;
    for (int i = 0; i < rtot; i++) a_r[i] = SENT;

    MPI_OK(MPI_Iscan(scan_s, scan_r, 3, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Iscan(MPI_IN_PLACE, scan_ip, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Iexscan(&ex_s[0], &ex_r[0], 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &rq[2]));
    MPI_OK(MPI_Iexscan(&ex_s[1], &ex_r[1], 1, MPI_LONG, MPI_PROD, MPI_COMM_WORLD, &rq[3]));
    MPI_OK(MPI_Ireduce_scatter_block(rsb_s, rsb_r, K, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[4]));
    MPI_OK(MPI_Ireduce_scatter(rs_s, rs_r, rs_cnt, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[5]));
    MPI_OK(MPI_Igatherv(gv_s, me + 1, MPI_INT, gv_r, gv_cnt, gv_dis, MPI_INT, groot, MPI_COMM_WORLD, &rq[6]));
    MPI_OK(MPI_Iscatterv(sv_s, sv_cnt, sv_dis, MPI_INT, sv_r, P - me, MPI_INT, sroot, MPI_COMM_WORLD, &rq[7]));
    MPI_OK(MPI_Iallgatherv(ag_s, ag_cnt[me], MPI_INT, ag_r, ag_cnt, ag_dis, MPI_INT, MPI_COMM_WORLD, &rq[8]));
    MPI_OK(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_INT, ag_ip, ag_cnt, ag_dis, MPI_INT, MPI_COMM_WORLD, &rq[9]));
    MPI_OK(MPI_Ialltoallv(a_s, a_sc, a_sd, MPI_INT, a_r, a_rc, a_rd, MPI_INT, MPI_COMM_WORLD, &rq[10]));
    MPI_Request scr[11];
    for (int i = 0; i < 11; i++) scr[i] = rq[(i * 4 + 3) % 11];
    MPI_OK(MPI_Waitall(11, scr, MPI_STATUSES_IGNORE));
    for (int i = 0; i < 11; i++) CHECK(scr[i] == MPI_REQUEST_NULL);

    /* Iscan. */
    for (int k = 0; k < 3; k++) {
        int want = 0;
        for (int r = 0; r <= me; r++) want += k == 0 ? r + 1 : k == 1 ? 2 * r : r * r - 3 * r;
        CHECKF(scan_r[k] == want, "Iscan[%d] = %d, want %d", k, scan_r[k], want);
        mh_i64(&h, scan_r[k]);
    }
    {
        int w0 = -1000, w1 = -1000;
        for (int r = 0; r <= me; r++) {
            if ((r * 7) % 5 > w0) w0 = (r * 7) % 5;
            if (-r > w1) w1 = -r;
        }
        CHECKF(scan_ip[0] == w0 && scan_ip[1] == w1, "Iscan in place: %d %d", scan_ip[0], scan_ip[1]);
        mh_i64(&h, scan_ip[0]);
    }
    /* Iexscan: rank 0's result is undefined. */
    if (me > 0) {
        long ws = 0, wp = 1;
        for (int r = 0; r < me; r++) ws += r + 1, wp *= (r % 3) + 1;
        CHECKF(ex_r[0] == ws && ex_r[1] == wp, "Iexscan: %ld %ld, want %ld %ld", ex_r[0], ex_r[1], ws, wp);
        mh_i64(&h, ex_r[0] + ex_r[1]);
    }
    /* Ireduce_scatter_block. */
    for (int k = 0; k < K; k++) {
        const int want = 1000 * P * (P - 1) / 2 + P * (me * K + k);
        CHECKF(rsb_r[k] == want, "Ireduce_scatter_block[%d] = %d, want %d", k, rsb_r[k], want);
        mh_i64(&h, rsb_r[k]);
    }
    /* Ireduce_scatter. */
    {
        int off = 0;
        for (int r = 0; r < me; r++) off += rs_cnt[r];
        for (int k = 0; k < rs_cnt[me]; k++) {
            const int want = P * (P + 1) / 2 * (off + k + 1);
            CHECKF(rs_r[k] == want, "Ireduce_scatter[%d] = %d, want %d", k, rs_r[k], want);
            mh_i64(&h, rs_r[k]);
        }
        for (int k = rs_cnt[me]; k < P + 8; k++) CHECK(rs_r[k] == SENT);
    }
    /* Igatherv. */
    if (me == groot) {
        int *mark = mt_malloc(sizeof(int) * (size_t)gv_tot);
        for (int i = 0; i < gv_tot; i++) mark[i] = 0;
        for (int r = 0; r < P; r++)
            for (int k = 0; k < gv_cnt[r]; k++) {
                CHECKF(gv_r[gv_dis[r] + k] == r * 100 + k, "Igatherv from %d [%d] = %d", r, k, gv_r[gv_dis[r] + k]);
                mark[gv_dis[r] + k] = 1;
                mh_i64(&h, gv_r[gv_dis[r] + k]);
            }
        for (int i = 0; i < gv_tot; i++) CHECKF(mark[i] || gv_r[i] == SENT, "Igatherv wrote into gap %d", i);
        free(mark);
    } else {
        for (int i = 0; i < gv_tot; i++) CHECK(gv_r[i] == SENT);
    }
    /* Iscatterv. */
    for (int k = 0; k < 64; k++) {
        const int want = k < P - me ? 5000 + 2 * me * P + k : SENT;
        CHECKF(sv_r[k] == want, "Iscatterv[%d] = %d, want %d", k, sv_r[k], want);
        if (k < P - me) mh_i64(&h, sv_r[k]);
    }
    /* Iallgatherv (both). */
    for (int r = 0; r < P; r++)
        for (int k = 0; k < 3; k++) {
            const int in = k < ag_cnt[r];
            CHECKF(ag_r[3 * r + k] == (in ? r * 10 + k : SENT), "Iallgatherv from %d [%d] = %d", r, k, ag_r[3 * r + k]);
            CHECKF(ag_ip[3 * r + k] == (in ? r * 10 + k + 7 : SENT), "Iallgatherv in place from %d [%d] = %d", r, k,
                   ag_ip[3 * r + k]);
            if (in) mh_i64(&h, ag_r[3 * r + k] + ag_ip[3 * r + k]);
        }
    /* Ialltoallv. */
    for (int i = 0; i < P; i++) {
        for (int k = 0; k < a_rc[i]; k++) {
            CHECKF(a_r[a_rd[i] + k] == i * 10000 + me * 100 + k, "Ialltoallv from %d [%d] = %d", i, k, a_r[a_rd[i] + k]);
            mh_i64(&h, a_r[a_rd[i] + k]);
        }
        CHECK(a_r[a_rd[i] + a_rc[i]] == SENT && a_r[a_rd[i] + a_rc[i] + 1] == SENT);
    }
#undef C
    free(rsb_s), free(rs_cnt), free(rs_s), free(rs_r), free(gv_cnt), free(gv_dis), free(gv_r), free(sv_cnt), free(sv_dis);
    free(sv_s), free(ag_cnt), free(ag_dis), free(ag_r), free(ag_ip), free(a_sc), free(a_sd), free(a_rc), free(a_rd);
    free(a_s), free(a_r);
    mt_end("nbc_v_scan", &h);
}

/* MPI_Isendrecv and MPI_Isendrecv_replace (MPI 4.0): a ring with distance 1 and 2, a
 * receive buffer larger than the message, MPI_ANY_SOURCE, several outstanding at once,
 * 1 MiB replace completed by Test. Only the data is checked: MPICH 4.0.2 leaves the
 * status of an Isendrecv(_replace) at source 0, tag 0, count 0 (its blocking Sendrecv
 * fills it in). No MPI_PROC_NULL: MPICH 4.0.2's Isendrecv/Isendrecv_replace with
 * MPI_PROC_NULL as the destination or the source hangs in the Wait at 1 rank and
 * crashes in UCX (ucp_tag_send_nbx) at 2 ranks when both are MPI_PROC_NULL. */
static void t_isendrecv(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    const int r1 = (me + 1) % P, l1 = (me + P - 1) % P, r2 = (me + 2) % P, l2 = (me + 2 * P - 2) % P;
    MPI_Request rq[4];
    int s1[5], g1[10], s2[3], g2[3], rep[4];
    for (int i = 0; i < 5; i++) s1[i] = me * 10 + i;
    for (int i = 0; i < 10; i++) g1[i] = -1;
    for (int i = 0; i < 3; i++) s2[i] = me * 1000 + i, g2[i] = -1;
    for (int i = 0; i < 4; i++) rep[i] = me * 7 + i;
    MPI_OK(MPI_Isendrecv(s1, 5, MPI_INT, r1, 11, g1, 10, MPI_INT, l1, 11, MPI_COMM_WORLD, &rq[0]));
    MPI_OK(MPI_Isendrecv(s2, 3, MPI_INT, r2, 12, g2, 3, MPI_INT, MPI_ANY_SOURCE, 12, MPI_COMM_WORLD, &rq[1]));
    MPI_OK(MPI_Isendrecv_replace(rep, 4, MPI_INT, l1, 13, r1, 13, MPI_COMM_WORLD, &rq[2]));
    MPI_OK(MPI_Waitall(3, rq, MPI_STATUSES_IGNORE));
    for (int i = 0; i < 3; i++) CHECK(rq[i] == MPI_REQUEST_NULL);
    for (int i = 0; i < 10; i++) CHECKF(g1[i] == (i < 5 ? l1 * 10 + i : -1), "Isendrecv [%d] = %d", i, g1[i]);
    for (int i = 0; i < 3; i++) CHECKF(g2[i] == l2 * 1000 + i, "Isendrecv from MPI_ANY_SOURCE [%d] = %d", i, g2[i]);
    for (int i = 0; i < 4; i++) CHECKF(rep[i] == r1 * 7 + i, "Isendrecv_replace [%d] = %d", i, rep[i]);
    mh_i64(&h, g1[4] + g2[2] + rep[3]);

    /* 1 MiB replace with distance 2, completed by Test. */
    enum { BIG = 262144 };
    int *big = mt_malloc(sizeof(int) * BIG), flag = 0;
    for (int i = 0; i < BIG; i++) big[i] = me * 3 + i;
    MPI_OK(MPI_Isendrecv_replace(big, BIG, MPI_INT, r2, 14, l2, 14, MPI_COMM_WORLD, &rq[0]));
    while (!flag) MPI_OK(MPI_Test(&rq[0], &flag, MPI_STATUS_IGNORE));
    CHECK(rq[0] == MPI_REQUEST_NULL);
    for (int i = 0; i < BIG; i++) CHECKF(big[i] == l2 * 3 + i, "big replace [%d] = %d", i, big[i]);
    mh_i64(&h, big[BIG - 1]);
    free(big);
    mt_end("isendrecv", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    out("misc: %d ranks\n", mt_size);
    t_split_type();
    t_group_range();
    t_status();
    t_type_names();
    t_nbc();
    t_isendrecv();
    out("misc: done\n");
    MPI_Finalize();
    return 0;
}
