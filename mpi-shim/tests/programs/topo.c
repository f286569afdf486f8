/* topo.c: Cartesian topologies: Dims_create (several sizes, with and without constraints;
 * the results are printed), Cart_create (periodic and not, reorder 0 and 1), Topo_test
 * (MPI_CART; MPI_UNDEFINED on MPI_COMM_WORLD), Cartdim_get, Cart_get, Cart_coords,
 * Cart_rank (also coordinates out of range on periodic dimensions), Cart_shift
 * (displacements 1, -1, 2; MPI_PROC_NULL at non-periodic edges), Cart_sub (2, 1 and 0
 * remaining dimensions), a halo exchange on a 2-D periodic grid with Sendrecv between
 * Cart_shift neighbours (the halos checked, the result gathered and compared with a
 * sequential computation: the same line at every rank count), and Cart_create with fewer
 * processes than the communicator (the others get MPI_COMM_NULL). Any number of ranks.
 * Rank 0 prints the Dims_create results, the layout of the reorder-0 grid (with reorder
 * 0 the ranks are the world ranks, in row-major order) and one "NAME ok HASH" line per
 * section. */
#include "mt.h"

/* Dims_create on (n, ndims, dims in): the product is n, the constraints are kept, the
 * free entries are non-increasing; rank 0 prints the result. */
static void dims_case(mt_hash *h, int n, int nd, const int *in)
{
    int d[8];
    char buf[256];
    int pos = snprintf(buf, sizeof buf, "  dims_create(%d, %d, [", n, nd);
    for (int k = 0; k < nd; k++) {
        d[k] = in ? in[k] : 0;
        pos += snprintf(buf + pos, sizeof buf - (size_t)pos, "%s%d", k ? " " : "", d[k]);
    }
    MPI_OK(MPI_Dims_create(n, nd, d));
    pos += snprintf(buf + pos, sizeof buf - (size_t)pos, "]) = [");
    long prod = 1;
    int last_free = -1;
    for (int k = 0; k < nd; k++) {
        pos += snprintf(buf + pos, sizeof buf - (size_t)pos, "%s%d", k ? " " : "", d[k]);
        CHECKF(d[k] >= 1, "dims_create(%d, %d): dims[%d] = %d", n, nd, k, d[k]);
        prod *= d[k];
        if (in && in[k] > 0) {
            CHECKF(d[k] == in[k], "dims_create(%d, %d): constraint dims[%d] = %d changed to %d", n, nd, k, in[k], d[k]);
        } else {
            CHECKF(last_free < 0 || d[k] <= last_free, "dims_create(%d, %d): free dims not non-increasing", n, nd);
            last_free = d[k];
        }
        mh_i64(h, d[k]);
    }
    CHECKF(prod == n, "dims_create(%d, %d): product %ld", n, nd, prod);
    out("%s]\n", buf);
}

static void t_dims(void)
{
    mt_hash h;
    mh_init(&h);
    static const int plain[][2] = {{1, 1},  {1, 3},  {2, 2},  {4, 2},  {6, 2},   {7, 2},   {8, 3},   {9, 2},
                                   {12, 2}, {12, 3}, {16, 3}, {16, 4}, {18, 3},  {24, 3},  {30, 3},  {36, 2},
                                   {48, 4}, {60, 3}, {64, 3}, {72, 3}, {128, 3}, {210, 4}, {1000, 3}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) dims_case(&h, plain[i][0], plain[i][1], NULL);
    static const int cons[][6] = {{6, 2, 0, 3},     {12, 3, 0, 2, 0}, {24, 3, 0, 0, 4}, {16, 3, 2, 0, 0},
                                  {8, 2, 0, 8},     {8, 2, 8, 0},     {36, 3, 3, 3, 0}, {12, 2, 12, 1},
                                  {60, 4, 0, 0, 3, 0}};
    for (size_t i = 0; i < sizeof cons / sizeof cons[0]; i++) dims_case(&h, cons[i][0], cons[i][1], &cons[i][2]);
    /* The world size in 1, 2 and 3 dimensions. */
    for (int nd = 1; nd <= 3; nd++) dims_case(&h, mt_size, nd, NULL);
    mt_end("dims_create", &h);
}

/* A 2-D grid, Dims_create(P, 2), periodic in dimension 0 only, reorder 0. */
static void t_cart2d(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    int dims[2] = {0, 0}, periods[2] = {1, 0}, t = -1, nd = -1, rk = -1, sz = -1;
    MPI_OK(MPI_Dims_create(P, 2, dims));
    MPI_Comm cart;
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart));
    CHECK(cart != MPI_COMM_NULL);
    MPI_OK(MPI_Topo_test(cart, &t));
    CHECKF(t == MPI_CART, "Topo_test(cart) = %d", t);
    MPI_OK(MPI_Topo_test(MPI_COMM_WORLD, &t));
    CHECKF(t == MPI_UNDEFINED, "Topo_test(MPI_COMM_WORLD) = %d", t);
    MPI_Comm plain;
    MPI_OK(MPI_Comm_dup(MPI_COMM_WORLD, &plain));
    MPI_OK(MPI_Topo_test(plain, &t));
    CHECK(t == MPI_UNDEFINED);
    MPI_OK(MPI_Comm_free(&plain));
    MPI_OK(MPI_Cartdim_get(cart, &nd));
    CHECK(nd == 2);
    MPI_OK(MPI_Comm_rank(cart, &rk));
    MPI_OK(MPI_Comm_size(cart, &sz));
    CHECKF(rk == me && sz == P, "reorder 0: cart rank %d size %d", rk, sz);

    int gd[2], gp[2], gc[2];
    MPI_OK(MPI_Cart_get(cart, 2, gd, gp, gc));
    CHECK(gd[0] == dims[0] && gd[1] == dims[1] && gp[0] == 1 && gp[1] == 0);
    CHECKF(gc[0] == me / dims[1] && gc[1] == me % dims[1], "rank %d at (%d, %d): not row-major", me, gc[0], gc[1]);

    /* Coordinates of every rank and back. */
    for (int r = 0; r < P; r++) {
        int c[2], back = -1;
        MPI_OK(MPI_Cart_coords(cart, r, 2, c));
        CHECK(c[0] == r / dims[1] && c[1] == r % dims[1]);
        MPI_OK(MPI_Cart_rank(cart, c, &back));
        CHECK(back == r);
    }
    /* Out of range on the periodic dimension 0: wraps. */
    {
        const int offs[5] = {-1, dims[0], -dims[0], 2 * dims[0] + 1, -3 * dims[0] - 1};
        for (int k = 0; k < 5; k++) {
            int c[2] = {gc[0] + offs[k], gc[1]}, r = -1;
            MPI_OK(MPI_Cart_rank(cart, c, &r));
            const int w = (((gc[0] + offs[k]) % dims[0]) + dims[0]) % dims[0];
            CHECKF(r == w * dims[1] + gc[1], "Cart_rank(%d, %d) = %d", c[0], c[1], r);
            mh_i64(&h, r);
        }
    }
    /* Shifts: dimension 0 periodic, dimension 1 not. */
    const int disps[3] = {1, -1, 2};
    int layout[15];
    layout[0] = gc[0], layout[1] = gc[1];
    for (int dim = 0; dim < 2; dim++)
        for (int k = 0; k < 3; k++) {
            int src = -5, dst = -5;
            MPI_OK(MPI_Cart_shift(cart, dim, disps[k], &src, &dst));
            int ws, wd;
            if (dim == 0) {
                const int up = ((gc[0] + disps[k]) % dims[0] + dims[0]) % dims[0];
                const int dn = ((gc[0] - disps[k]) % dims[0] + dims[0]) % dims[0];
                wd = up * dims[1] + gc[1], ws = dn * dims[1] + gc[1];
            } else {
                const int up = gc[1] + disps[k], dn = gc[1] - disps[k];
                wd = up >= 0 && up < dims[1] ? gc[0] * dims[1] + up : MPI_PROC_NULL;
                ws = dn >= 0 && dn < dims[1] ? gc[0] * dims[1] + dn : MPI_PROC_NULL;
            }
            CHECKF(src == ws && dst == wd, "Cart_shift(dim %d, disp %d) = (%d, %d), want (%d, %d)", dim, disps[k], src,
                   dst, ws, wd);
            layout[2 + dim * 6 + 2 * k] = src, layout[3 + dim * 6 + 2 * k] = dst;
            /* A message along the shift (MPI_PROC_NULL at the non-periodic edges). */
            int s = me * 100 + dim * 10 + k, r = -7;
            MPI_Status st;
            MPI_OK(MPI_Sendrecv(&s, 1, MPI_INT, dst, 5, &r, 1, MPI_INT, src, 5, cart, &st));
            if (src == MPI_PROC_NULL) CHECK(r == -7);
            else CHECKF(r == src * 100 + dim * 10 + k && st.MPI_SOURCE == src, "shift message %d from %d", r, src);
            mh_i64(&h, r);
        }
    layout[14] = rk;
    int *all = mt_malloc(sizeof(int) * 15 * (size_t)P);
    MPI_OK(MPI_Gather(layout, 15, MPI_INT, all, 15, MPI_INT, 0, MPI_COMM_WORLD));
    out("cart2d: dims %d x %d, periods 1 0\n", dims[0], dims[1]);
    for (int r = 0; r < P; r++) {
        const int *a = &all[15 * r];
        char nb[12][12];
        for (int k = 0; k < 12; k++) {
            if (a[2 + k] == MPI_PROC_NULL) snprintf(nb[k], sizeof nb[k], "null");
            else snprintf(nb[k], sizeof nb[k], "%d", a[2 + k]);
        }
        out("  rank %d (%d, %d): dim0 +1 %s/%s -1 %s/%s +2 %s/%s; dim1 +1 %s/%s -1 %s/%s +2 %s/%s\n", a[14], a[0], a[1],
            nb[0], nb[1], nb[2], nb[3], nb[4], nb[5], nb[6], nb[7], nb[8], nb[9], nb[10], nb[11]);
    }
    free(all);
    MPI_OK(MPI_Comm_free(&cart));
    CHECK(cart == MPI_COMM_NULL);
    mt_end("cart2d", &h);
}

/* Reorder 1, not periodic: MPICH may keep the ranks; whatever the mapping, the
 * coordinates are a permutation, Cart_rank inverts Cart_coords, Cart_shift agrees with
 * the coordinates and a message along dimension 0 arrives from the right process (its
 * world rank is checked). Nothing rank-specific is printed. */
static void t_reorder(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    int dims[2] = {0, 0}, periods[2] = {0, 0}, rk = -1, sz = -1;
    MPI_OK(MPI_Dims_create(P, 2, dims));
    MPI_Comm cart;
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 1, &cart));
    CHECK(cart != MPI_COMM_NULL);
    MPI_OK(MPI_Comm_rank(cart, &rk));
    MPI_OK(MPI_Comm_size(cart, &sz));
    CHECK(sz == P);
    int gd[2], gp[2], gc[2];
    MPI_OK(MPI_Cart_get(cart, 2, gd, gp, gc));
    CHECK(gd[0] == dims[0] && gd[1] == dims[1] && gp[0] == 0 && gp[1] == 0);
    int c[2], back = -1;
    MPI_OK(MPI_Cart_coords(cart, rk, 2, c));
    CHECK(c[0] == gc[0] && c[1] == gc[1]);
    MPI_OK(MPI_Cart_rank(cart, gc, &back));
    CHECK(back == rk);
    /* Every position taken once. */
    int pos = gc[0] * dims[1] + gc[1], *seen = mt_malloc(sizeof(int) * (size_t)P), *wr = mt_malloc(sizeof(int) * (size_t)P);
    MPI_OK(MPI_Allgather(&pos, 1, MPI_INT, seen, 1, MPI_INT, cart));
    for (int r = 0; r < P; r++) {
        MPI_OK(MPI_Cart_coords(cart, r, 2, c));
        CHECKF(seen[r] == c[0] * dims[1] + c[1], "cart rank %d reports position %d, Cart_coords says (%d, %d)", r,
               seen[r], c[0], c[1]);
        for (int q = 0; q < r; q++) CHECK(seen[q] != seen[r]);
    }
    MPI_OK(MPI_Allgather(&me, 1, MPI_INT, wr, 1, MPI_INT, cart)); /* world rank of each cart rank */
    int src = -5, dst = -5;
    MPI_OK(MPI_Cart_shift(cart, 0, 1, &src, &dst));
    int want_src = MPI_PROC_NULL, want_dst = MPI_PROC_NULL;
    if (gc[0] > 0) {
        int cc[2] = {gc[0] - 1, gc[1]};
        MPI_OK(MPI_Cart_rank(cart, cc, &want_src));
    }
    if (gc[0] < dims[0] - 1) {
        int cc[2] = {gc[0] + 1, gc[1]};
        MPI_OK(MPI_Cart_rank(cart, cc, &want_dst));
    }
    CHECK(src == want_src && dst == want_dst);
    int s = me, r = -1;
    MPI_OK(MPI_Sendrecv(&s, 1, MPI_INT, dst, 6, &r, 1, MPI_INT, src, 6, cart, MPI_STATUS_IGNORE));
    if (src == MPI_PROC_NULL) CHECK(r == -1);
    else CHECKF(r == wr[src], "received world rank %d from cart rank %d, which is world rank %d", r, src, wr[src]);
    mh_i64(&h, dims[0]); /* the mapping may differ between implementations: hash no position */
    mh_i64(&h, dims[1]);
    free(seen), free(wr);
    MPI_OK(MPI_Comm_free(&cart));
    out("cart reorder 1: %d x %d, consistent\n", dims[0], dims[1]);
    mt_end("cart_reorder", &h);
}

/* A 3-D grid (Dims_create(P, 3), periods 1 1 0) and Cart_sub keeping dimensions {0, 2},
 * {1} and none: sizes, ranks in row-major order of the kept coordinates, dims, periods
 * and coordinates of the subgrid, traffic and a reduction on each. */
static void t_sub(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    int d[3] = {0, 0, 0}, periods[3] = {1, 1, 0}, c[3], rk = -1, sz = -1, nd = -1, t = -1;
    MPI_OK(MPI_Dims_create(P, 3, d));
    MPI_Comm cart, s02, s1, s0d;
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 3, d, periods, 0, &cart));
    MPI_OK(MPI_Cart_coords(cart, me, 3, c));
    CHECK(c[0] == me / (d[1] * d[2]) && c[1] == (me / d[2]) % d[1] && c[2] == me % d[2]);
    MPI_OK(MPI_Cartdim_get(cart, &nd));
    CHECK(nd == 3);

    const int keep02[3] = {1, 0, 1};
    MPI_OK(MPI_Cart_sub(cart, keep02, &s02));
    MPI_OK(MPI_Topo_test(s02, &t));
    CHECK(t == MPI_CART);
    MPI_OK(MPI_Cartdim_get(s02, &nd));
    CHECK(nd == 2);
    MPI_OK(MPI_Comm_size(s02, &sz));
    MPI_OK(MPI_Comm_rank(s02, &rk));
    CHECKF(sz == d[0] * d[2] && rk == c[0] * d[2] + c[2], "Cart_sub {0, 2}: rank %d size %d", rk, sz);
    int sd[2], sp[2], sc[2];
    MPI_OK(MPI_Cart_get(s02, 2, sd, sp, sc));
    CHECK(sd[0] == d[0] && sd[1] == d[2] && sp[0] == 1 && sp[1] == 0 && sc[0] == c[0] && sc[1] == c[2]);
    int sum = -1, want = 0;
    for (int r = 0; r < P; r++)
        if ((r / d[2]) % d[1] == c[1]) want += r;
    MPI_OK(MPI_Allreduce(&me, &sum, 1, MPI_INT, MPI_SUM, s02));
    CHECK(sum == want);
    mh_i64(&h, sum);
    /* A periodic shift inside the subgrid. */
    int src = -5, dst = -5, x = -1;
    MPI_OK(MPI_Cart_shift(s02, 0, 1, &src, &dst));
    CHECK(dst == ((c[0] + 1) % d[0]) * d[2] + c[2] && src == ((c[0] + d[0] - 1) % d[0]) * d[2] + c[2]);
    MPI_OK(MPI_Sendrecv(&me, 1, MPI_INT, dst, 7, &x, 1, MPI_INT, src, 7, s02, MPI_STATUS_IGNORE));
    CHECK(x == ((c[0] + d[0] - 1) % d[0]) * d[1] * d[2] + c[1] * d[2] + c[2]);
    mh_i64(&h, x);

    const int keep1[3] = {0, 1, 0};
    MPI_OK(MPI_Cart_sub(cart, keep1, &s1));
    MPI_OK(MPI_Comm_size(s1, &sz));
    MPI_OK(MPI_Comm_rank(s1, &rk));
    CHECK(sz == d[1] && rk == c[1]);
    MPI_OK(MPI_Cart_get(s1, 1, sd, sp, sc));
    CHECK(sd[0] == d[1] && sp[0] == 1 && sc[0] == c[1]);
    MPI_OK(MPI_Allreduce(&me, &sum, 1, MPI_INT, MPI_MAX, s1));
    CHECK(sum == c[0] * d[1] * d[2] + (d[1] - 1) * d[2] + c[2]);
    mh_i64(&h, sum);

    /* No dimension kept: a zero-dimensional Cartesian communicator of one process. MPICH
     * 4.0.2 gives it to rank 0 only (the others get MPI_COMM_NULL, as from Cart_create
     * with ndims 0); the standard does not say, so the other ranks accept both. */
    const int keep0[3] = {0, 0, 0};
    MPI_OK(MPI_Cart_sub(cart, keep0, &s0d));
    CHECKF(me != 0 || s0d != MPI_COMM_NULL, "Cart_sub keeping nothing: MPI_COMM_NULL on rank 0");
    if (s0d != MPI_COMM_NULL) {
        MPI_OK(MPI_Comm_size(s0d, &sz));
        MPI_OK(MPI_Cartdim_get(s0d, &nd));
        MPI_OK(MPI_Topo_test(s0d, &t));
        CHECKF(sz == 1 && nd == 0 && t == MPI_CART, "Cart_sub keeping nothing: size %d ndims %d topo %d", sz, nd, t);
        MPI_OK(MPI_Comm_free(&s0d));
    }

    int mine[3] = {c[0] * d[2] + c[2], c[1], me}, *all = mt_malloc(sizeof(int) * 3 * (size_t)P);
    MPI_OK(MPI_Gather(mine, 3, MPI_INT, all, 3, MPI_INT, 0, MPI_COMM_WORLD));
    out("cart3d: dims %d x %d x %d, periods 1 1 0\n", d[0], d[1], d[2]);
    for (int r = 0; r < P; r++) out("  rank %d: sub{0,2} rank %d, sub{1} rank %d\n", all[3 * r + 2], all[3 * r], all[3 * r + 1]);
    free(all);
    MPI_Comm *cs[3] = {&s1, &s02, &cart};
    for (int k = 0; k < 3; k++) MPI_OK(MPI_Comm_free(cs[k]));
    mt_end("cart_sub", &h);
}

/* A 5-point integer stencil on a GR x GC periodic grid over a 2-D periodic process grid
 * (reorder 1), halos exchanged with Sendrecv between Cart_shift neighbours (rows
 * contiguous, columns packed); the first exchange's halos are checked against the global
 * initial values; the result is gathered by coordinates and rank 0 compares it with a
 * sequential computation and prints its hash (the same at every rank count). */
enum { GR = 24, GC = 18, HITERS = 12, HMOD = 65521 };
static int init_val(int i, int j) { return (i * 31 + j * 17 + (i * j) % 7) % 1000; }
static int stencil(int n, int s, int w, int e, int c, int i, int j)
{
    return (n + 2 * s + 3 * w + 5 * e + 7 * c + i * GC + j) % HMOD;
}
static void block(int g, int parts, int p, int *n, int *off)
{
    const int base = g / parts, rem = g % parts;
    *n = base + (p < rem);
    *off = p * base + (p < rem ? p : rem);
}

static void t_halo2d(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size;
    int dims[2] = {0, 0}, periods[2] = {1, 1}, c[2], rk = -1;
    MPI_OK(MPI_Dims_create(P, 2, dims));
    MPI_Comm cart;
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 1, &cart));
    MPI_OK(MPI_Comm_rank(cart, &rk));
    MPI_OK(MPI_Cart_coords(cart, rk, 2, c));
    int nr, r0, nc, c0;
    block(GR, dims[0], c[0], &nr, &r0);
    block(GC, dims[1], c[1], &nc, &c0);
    const int W = nc + 2;
#define U(a, i, j) (a)[(size_t)(i) * (size_t)W + (size_t)(j)]
    int *u = mt_malloc(sizeof(int) * (size_t)(nr + 2) * (size_t)W), *v = mt_malloc(sizeof(int) * (size_t)(nr + 2) * (size_t)W);
    int *sb = mt_malloc(sizeof(int) * (size_t)nr), *rb = mt_malloc(sizeof(int) * (size_t)nr);
    for (int i = 0; i < nr + 2; i++)
        for (int j = 0; j < W; j++) U(u, i, j) = -1;
    for (int i = 1; i <= nr; i++)
        for (int j = 1; j <= nc; j++) U(u, i, j) = init_val(r0 + i - 1, c0 + j - 1);
    long long halo_sum = 0, all_halo = -1;
    int north, south, west, east; /* north: the row above (dimension 0, -1) */
    MPI_OK(MPI_Cart_shift(cart, 0, 1, &north, &south));
    MPI_OK(MPI_Cart_shift(cart, 1, 1, &west, &east));
    for (int it = 0; it <= HITERS; it++) {
        /* Rows: my last row to the south, the north's last row into row 0; and back. */
        MPI_OK(MPI_Sendrecv(&U(u, nr, 1), nc, MPI_INT, south, 1, &U(u, 0, 1), nc, MPI_INT, north, 1, cart,
                            MPI_STATUS_IGNORE));
        MPI_OK(MPI_Sendrecv(&U(u, 1, 1), nc, MPI_INT, north, 2, &U(u, nr + 1, 1), nc, MPI_INT, south, 2, cart,
                            MPI_STATUS_IGNORE));
        /* Columns: packed. */
        for (int i = 0; i < nr; i++) sb[i] = U(u, i + 1, nc);
        MPI_OK(MPI_Sendrecv(sb, nr, MPI_INT, east, 3, rb, nr, MPI_INT, west, 3, cart, MPI_STATUS_IGNORE));
        for (int i = 0; i < nr; i++) U(u, i + 1, 0) = rb[i];
        for (int i = 0; i < nr; i++) sb[i] = U(u, i + 1, 1);
        MPI_OK(MPI_Sendrecv(sb, nr, MPI_INT, west, 4, rb, nr, MPI_INT, east, 4, cart, MPI_STATUS_IGNORE));
        for (int i = 0; i < nr; i++) U(u, i + 1, nc + 1) = rb[i];
        if (it == 0) {
            /* The halos hold the initial values of the wrapped global neighbours. */
            for (int j = 1; j <= nc; j++) {
                const int gj = c0 + j - 1;
                CHECKF(U(u, 0, j) == init_val((r0 - 1 + GR) % GR, gj), "north halo at column %d", gj);
                CHECKF(U(u, nr + 1, j) == init_val((r0 + nr) % GR, gj), "south halo at column %d", gj);
                halo_sum += U(u, 0, j) + 2 * U(u, nr + 1, j);
            }
            for (int i = 1; i <= nr; i++) {
                const int gi = r0 + i - 1;
                CHECKF(U(u, i, 0) == init_val(gi, (c0 - 1 + GC) % GC), "west halo at row %d", gi);
                CHECKF(U(u, i, nc + 1) == init_val(gi, (c0 + nc) % GC), "east halo at row %d", gi);
                halo_sum += 3 * U(u, i, 0) + 5 * U(u, i, nc + 1);
            }
        }
        if (it == HITERS) break;
        for (int i = 1; i <= nr; i++)
            for (int j = 1; j <= nc; j++)
                U(v, i, j) = stencil(U(u, i - 1, j), U(u, i + 1, j), U(u, i, j - 1), U(u, i, j + 1), U(u, i, j),
                                     r0 + i - 1, c0 + j - 1);
        for (int i = 1; i <= nr; i++)
            for (int j = 1; j <= nc; j++) U(u, i, j) = U(v, i, j);
    }
    /* The ranks' positions may depend on the implementation (reorder 1): hash only the
     * total of the first halos, which does not. */
    MPI_OK(MPI_Allreduce(&halo_sum, &all_halo, 1, MPI_LONG_LONG, MPI_SUM, cart));
    mh_i64(&h, all_halo);
    /* Gather: each rank sends its origin, size and block (row-major) to rank 0 of the world. */
    int *mine = mt_malloc(sizeof(int) * (size_t)(4 + nr * nc));
    mine[0] = r0, mine[1] = nr, mine[2] = c0, mine[3] = nc;
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) mine[4 + i * nc + j] = U(u, i + 1, j + 1);
    const int cnt = 4 + nr * nc;
    int *cnts = mt_malloc(sizeof(int) * (size_t)P), *displs = mt_malloc(sizeof(int) * (size_t)P);
    MPI_OK(MPI_Gather(&cnt, 1, MPI_INT, cnts, 1, MPI_INT, 0, MPI_COMM_WORLD));
    int total = 0;
    if (mt_rank == 0)
        for (int r = 0; r < P; r++) displs[r] = total, total += cnts[r];
    int *all = mt_malloc(sizeof(int) * (size_t)(total > 0 ? total : 1));
    MPI_OK(MPI_Gatherv(mine, cnt, MPI_INT, all, cnts, displs, MPI_INT, 0, MPI_COMM_WORLD));
    if (mt_rank == 0) {
        int *g = mt_malloc(sizeof(int) * GR * GC), *a = mt_malloc(sizeof(int) * GR * GC), *b = mt_malloc(sizeof(int) * GR * GC);
        for (int k = 0; k < GR * GC; k++) g[k] = -1;
        for (int r = 0; r < P; r++) {
            const int *q = &all[displs[r]];
            for (int i = 0; i < q[1]; i++)
                for (int j = 0; j < q[3]; j++) {
                    CHECKF(g[(q[0] + i) * GC + q[2] + j] == -1, "point (%d, %d) computed twice", q[0] + i, q[2] + j);
                    g[(q[0] + i) * GC + q[2] + j] = q[4 + i * q[3] + j];
                }
        }
        for (int i = 0; i < GR; i++)
            for (int j = 0; j < GC; j++) a[i * GC + j] = init_val(i, j);
        for (int it = 0; it < HITERS; it++) {
            for (int i = 0; i < GR; i++)
                for (int j = 0; j < GC; j++)
                    b[i * GC + j] = stencil(a[((i + GR - 1) % GR) * GC + j], a[((i + 1) % GR) * GC + j],
                                            a[i * GC + (j + GC - 1) % GC], a[i * GC + (j + 1) % GC], a[i * GC + j], i, j);
            int *t = a;
            a = b, b = t;
        }
        mt_hash gh;
        mh_init(&gh);
        for (int k = 0; k < GR * GC; k++) {
            CHECKF(g[k] == a[k], "grid point (%d, %d) = %d, sequential %d", k / GC, k % GC, g[k], a[k]);
            mh_i64(&gh, g[k]);
        }
        out("halo2d: %d x %d periodic grid, %d iterations, result %016llx\n", GR, GC, HITERS, mh_get(&gh));
        free(g), free(a), free(b);
    }
#undef U
    free(u), free(v), free(sb), free(rb), free(mine), free(cnts), free(displs), free(all);
    MPI_OK(MPI_Comm_free(&cart));
    mt_end("halo2d", &h);
}

/* Cart_create with fewer processes than the communicator: a 1-D ring of max(P - 1, 1)
 * processes and a 2-D grid of Dims_create(max(P - 2, 1), 2); the ranks left out get
 * MPI_COMM_NULL, the others work on the grid. */
static void t_leftout(void)
{
    mt_hash h;
    mh_init(&h);
    const int P = mt_size, me = mt_rank;
    const int n1 = P > 1 ? P - 1 : 1, n2 = P > 2 ? P - 2 : 1;
    int d1[1] = {n1}, p1[1] = {1}, d2[2] = {0, 0}, p2[2] = {0, 1};
    MPI_Comm ring, grid;
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 1, d1, p1, 0, &ring));
    if (me >= n1) {
        CHECKF(ring == MPI_COMM_NULL, "rank %d of %d: not in a ring of %d but got a communicator", me, P, n1);
    } else {
        CHECK(ring != MPI_COMM_NULL);
        int sz = -1, rk = -1, src, dst, x = -1;
        MPI_OK(MPI_Comm_size(ring, &sz));
        MPI_OK(MPI_Comm_rank(ring, &rk));
        CHECK(sz == n1 && rk == me);
        MPI_OK(MPI_Cart_shift(ring, 0, 1, &src, &dst));
        CHECK(src == (me + n1 - 1) % n1 && dst == (me + 1) % n1);
        MPI_OK(MPI_Sendrecv(&me, 1, MPI_INT, dst, 8, &x, 1, MPI_INT, src, 8, ring, MPI_STATUS_IGNORE));
        CHECK(x == src);
        mh_i64(&h, x);
        MPI_OK(MPI_Comm_free(&ring));
    }
    MPI_OK(MPI_Dims_create(n2, 2, d2));
    MPI_OK(MPI_Cart_create(MPI_COMM_WORLD, 2, d2, p2, 0, &grid));
    if (me >= n2) {
        CHECK(grid == MPI_COMM_NULL);
    } else {
        CHECK(grid != MPI_COMM_NULL);
        int sz = -1, s = -1;
        MPI_OK(MPI_Comm_size(grid, &sz));
        CHECK(sz == n2);
        MPI_OK(MPI_Allreduce(&me, &s, 1, MPI_INT, MPI_SUM, grid));
        CHECK(s == n2 * (n2 - 1) / 2);
        mh_i64(&h, s);
        MPI_OK(MPI_Comm_free(&grid));
    }
    out("left out: ring of %d, grid %d x %d\n", n1, d2[0], d2[1]);
    mt_end("left_out", &h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mt_init();
    out("topo: %d ranks\n", mt_size);
    t_dims();
    t_cart2d();
    t_reorder();
    t_sub();
    t_halo2d();
    t_leftout();
    out("topo: done\n");
    MPI_Finalize();
    return 0;
}
