// fmi.hpp collectives against local references: barrier, bcast, reduce, allreduce,
// scan, exscan, reduce_scatter_block, gather, scatter, allgather, alltoall and the
// v-variants, in their buffer, in-place and value-returning forms; built-in ops over
// several types; user reductions from lambdas (commutative, non-commutative checked
// for rank order, non-associative, stateful, reused through UserOp); and all of that
// on split and duplicated communicators.
#include "check.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace {

int R = 0, N = 1; // rank and size of the communicator under test

// Contribution of rank r at element i.
template <class T>
T x(int r, std::size_t i) {
    return static_cast<T>((r * 7 + int(i % 1000) * 3) % 97 - 40);
}

template <class T>
T sum_upto(int last, std::size_t i) { // x(0,i) + ... + x(last,i)
    T s{};
    for (int r = 0; r <= last; r++)
        s = static_cast<T>(s + x<T>(r, i));
    return s;
}

// Concatenation of decimal digits: associative, not commutative.
std::uint64_t concat(std::uint64_t a, std::uint64_t b) {
    std::uint64_t m = 1;
    for (std::uint64_t c = b; c > 0; c /= 10)
        m *= 10;
    return a * m + b;
}
std::uint64_t digits_upto(int last) { // "12...(last+1)"
    std::uint64_t v = 0;
    for (int r = 0; r <= last; r++)
        v = concat(v, std::uint64_t(r + 1));
    return v;
}
// 3a + b: neither commutative nor associative; left to right in rank order.
std::int64_t affine_upto(int last) {
    std::int64_t v = 1;
    for (int r = 1; r <= last; r++)
        v = 3 * v + (r + 1);
    return v;
}

void test_bcast(const fmi::Communicator &c) {
    for (int root = 0; root < N; root++) {
        int v = R == root ? 1000 + root : -1;
        c.bcast(v, root);
        CHECK(v == 1000 + root, "bcast scalar from %d: %d", root, v);
    }
    std::vector<double> big(100000, R == N - 1 ? 0.0 : -1.0);
    if (R == N - 1)
        for (std::size_t i = 0; i < big.size(); i++)
            big[i] = double(i) * 0.5;
    c.bcast(big, N - 1);
    bool ok = true;
    for (std::size_t i = 0; i < big.size() && ok; i++)
        ok = big[i] == double(i) * 0.5;
    CHECK(ok, "bcast of 100000 doubles");
    std::string s(5, '?');
    if (R == 0)
        s = "fmi++";
    c.bcast(s, 0);
    CHECK(s == "fmi++", "bcast string: %s", s.c_str());
    std::array<std::int16_t, 8> a{};
    if (R == 0)
        a = {1, 2, 3, 4, 5, 6, 7, 8};
    c.bcast(fmi::span(a).subspan(2, 4), 0);
    CHECK(a[2] == 3 && a[5] == 6 && (R == 0 || (a[0] == 0 && a[7] == 0)),
          "bcast of a subspan");
}

void test_reduce(const fmi::Communicator &c) {
    const std::size_t n = 1000;
    std::vector<int> mine(n), out;
    for (std::size_t i = 0; i < n; i++)
        mine[i] = x<int>(R, i);
    for (int root = 0; root < N; root++) {
        // buffer form: recv only needed at the root
        out.assign(R == root ? n : 0, -1);
        c.reduce(mine, out, fmi::Op::sum, root);
        if (R == root) {
            bool ok = true;
            for (std::size_t i = 0; i < n && ok; i++)
                ok = out[i] == sum_upto<int>(N - 1, i);
            CHECK(ok, "reduce sum at root %d", root);
        }
        // value form
        long long s = c.reduce(static_cast<long long>(R + 1), fmi::Op::sum, root);
        CHECK(R != root || s == (long long)N * (N + 1) / 2, "reduce value at root %d: %lld", root, s);
        std::vector<int> v = c.reduce(mine, fmi::Op::max, root);
        CHECK(R == root ? v.size() == n : v.empty(), "reduce value vector size %zu", v.size());
        if (R == root) {
            bool ok = true;
            for (std::size_t i = 0; i < n && ok; i++) {
                int m = x<int>(0, i);
                for (int r = 1; r < N; r++)
                    m = std::max(m, x<int>(r, i));
                ok = v[i] == m;
            }
            CHECK(ok, "reduce max at root %d", root);
        }
    }
    // in place
    std::vector<double> d(n);
    for (std::size_t i = 0; i < n; i++)
        d[i] = x<double>(R, i);
    c.reduce(fmi::in_place, d, fmi::Op::sum, N / 2);
    if (R == N / 2) {
        bool ok = true;
        for (std::size_t i = 0; i < n && ok; i++)
            ok = d[i] == sum_upto<double>(N - 1, i);
        CHECK(ok, "reduce in place at root %d", N / 2);
    } else {
        CHECK(d[0] == x<double>(R, 0), "reduce in place changed a non-root buffer");
    }
}

void test_allreduce_builtin(const fmi::Communicator &c) {
    // every built-in op on a scalar of a fitting type
    const std::uint32_t bits = 1u << R;
    CHECK(c.allreduce(R + 1, fmi::Op::sum) == N * (N + 1) / 2, "allreduce sum");
    CHECK(c.allreduce(std::int64_t(R % 3 + 1), fmi::Op::prod) ==
              [] { std::int64_t p = 1; for (int r = 0; r < N; r++) p *= r % 3 + 1; return p; }(),
          "allreduce prod");
    CHECK(c.allreduce(float(R) - 2.5f, fmi::Op::min) == -2.5f, "allreduce min");
    CHECK(c.allreduce(double(R) * 1.5, fmi::Op::max) == double(N - 1) * 1.5, "allreduce max");
    CHECK(c.allreduce(std::uint8_t(R == 0), fmi::Op::land) == std::uint8_t(N == 1), "allreduce land");
    CHECK(c.allreduce(std::uint8_t(R == N - 1), fmi::Op::lor) == 1, "allreduce lor");
    CHECK(c.allreduce(std::int16_t(1), fmi::Op::lxor) == std::int16_t(N % 2), "allreduce lxor");
    CHECK(c.allreduce(~bits, fmi::Op::band) == ~((N >= 32 ? 0u : (1u << N)) - 1u), "allreduce band");
    CHECK(c.allreduce(bits, fmi::Op::bor) == (1u << N) - 1u, "allreduce bor");
    CHECK(c.allreduce(std::uint64_t(bits) | 0x100, fmi::Op::bxor) ==
              (std::uint64_t((1u << N) - 1u) | (N % 2 ? 0x100 : 0)),
          "allreduce bxor");
    CHECK(c.allreduce(char(1), fmi::Op::sum) == char(N), "allreduce char");

    // vectors: buffer, in-place and value forms agree
    const std::size_t n = 5000;
    std::vector<std::int64_t> mine(n), out(n), inplace(n);
    for (std::size_t i = 0; i < n; i++)
        inplace[i] = mine[i] = x<std::int64_t>(R, i);
    c.allreduce(mine, out, fmi::Op::sum);
    c.allreduce(fmi::in_place, inplace, fmi::Op::sum);
    std::vector<std::int64_t> val = c.allreduce(mine, fmi::Op::sum);
    bool ok = true;
    for (std::size_t i = 0; i < n && ok; i++)
        ok = out[i] == sum_upto<std::int64_t>(N - 1, i) && inplace[i] == out[i] && val[i] == out[i];
    CHECK(ok, "allreduce of vectors (buffer, in place, value)");
    // a span of part of a buffer
    std::vector<float> f(100, float(R)), g(100, -1.0f);
    c.allreduce(fmi::span<const float>(f).first(10), fmi::span(g).subspan(50, 10), fmi::Op::max);
    CHECK(g[50] == float(N - 1) && g[59] == float(N - 1) && g[49] == -1.0f && g[60] == -1.0f,
          "allreduce into a subspan");
}

void test_user_ops(const fmi::Communicator &c) {
    // commutative + associative lambda, element type deduced
    fmi::Function plus([](int a, int b) { return a + b; }, true, true);
    static_assert(std::is_same_v<decltype(plus), fmi::Function<int>>);
    CHECK(c.allreduce(R + 1, plus) == N * (N + 1) / 2, "lambda sum");

    // a stateful lambda: the context pointer reaches it
    long calls = 0;
    fmi::Function<double> absmax([&calls](double a, double b) {
        calls++;
        return std::fabs(a) > std::fabs(b) ? std::fabs(a) : std::fabs(b);
    }, true, true);
    std::vector<double> v(1000);
    for (std::size_t i = 0; i < v.size(); i++)
        v[i] = (R % 2 ? -1.0 : 1.0) * double(R) * double(i);
    c.allreduce(fmi::in_place, v, absmax);
    CHECK(v[999] == double(N - 1) * 999.0 && v[0] == 0.0, "lambda absmax: %g", v[999]);
    long all_calls = c.allreduce(calls, fmi::Op::sum);
    CHECK(N == 1 || all_calls > 0, "the stateful lambda was never called");

    // non-commutative, associative: rank order must be kept by every collective
    fmi::Function<std::uint64_t> cat(concat, false, true);
    const std::uint64_t d = std::uint64_t(R + 1);
    std::uint64_t all = c.allreduce(d, cat);
    CHECK(all == digits_upto(N - 1), "allreduce concat: %llu, expected %llu",
          (unsigned long long)all, (unsigned long long)digits_upto(N - 1));
    for (int root = 0; root < N; root++) {
        std::uint64_t r = c.reduce(d, cat, root);
        CHECK(R != root || r == digits_upto(N - 1), "reduce concat at %d: %llu", root,
              (unsigned long long)r);
    }
    std::uint64_t sc = c.scan(d, cat);
    CHECK(sc == digits_upto(R), "scan concat: %llu, expected %llu", (unsigned long long)sc,
          (unsigned long long)digits_upto(R));
    std::uint64_t ex = c.exscan(d, cat);
    CHECK(R == 0 ? ex == 0 : ex == digits_upto(R - 1), "exscan concat: %llu", (unsigned long long)ex);
    // vectors of it, 3 elements shifted by 0, 1, 2
    std::vector<std::uint64_t> dv{d, d, d}, dout(3);
    c.allreduce(dv, dout, cat);
    CHECK(dout[0] == digits_upto(N - 1) && dout[2] == dout[0], "allreduce concat vector");

    // neither commutative nor associative: strictly left to right, (x0 op x1) op x2 ...
    fmi::Function<std::int64_t> affine([](std::int64_t a, std::int64_t b) { return 3 * a + b; },
                                       false, false);
    std::int64_t af = c.allreduce(std::int64_t(R + 1), affine);
    CHECK(af == affine_upto(N - 1), "allreduce 3a+b: %lld, expected %lld", (long long)af,
          (long long)affine_upto(N - 1));
    std::int64_t afs = c.scan(std::int64_t(R + 1), affine);
    CHECK(afs == affine_upto(R), "scan 3a+b: %lld, expected %lld", (long long)afs,
          (long long)affine_upto(R));
    std::int64_t afr = c.reduce(std::int64_t(R + 1), affine, N - 1);
    CHECK(R != N - 1 || afr == affine_upto(N - 1), "reduce 3a+b at %d", N - 1);

    // a registered op, reused, then moved (the ctx stays valid)
    fmi::UserOp<std::int32_t> mx([](std::int32_t a, std::int32_t b) { return a > b ? a : b; },
                                 true, true);
    CHECK(bool(mx) && mx.handle() >= 100, "UserOp handle %d", int(mx.handle()));
    for (int k = 0; k < 3; k++)
        CHECK(c.allreduce(R * 10 + k, mx) == (N - 1) * 10 + k, "UserOp allreduce %d", k);
    fmi::UserOp<std::int32_t> moved = std::move(mx);
    CHECK(!mx && moved, "moved UserOp"); // NOLINT(bugprone-use-after-move)
    std::vector<std::int32_t> mv(10, R);
    c.allreduce(fmi::in_place, mv, moved);
    CHECK(mv[9] == N - 1, "moved UserOp allreduce");

    // a function pointer: the element type is deduced from its parameters
    fmi::Function fp(&concat, false, true);
    static_assert(std::is_same_v<decltype(fp), fmi::Function<std::uint64_t>>);
    CHECK(c.allreduce(d, fp) == digits_upto(N - 1), "function pointer op");

    // user op with reduce_scatter_block, a noexcept lambda of another type
    fmi::Function<std::uint16_t> add16([](std::uint16_t a, std::uint16_t b) noexcept {
        return std::uint16_t(a + b);
    }, true, true);
    std::vector<std::uint16_t> blocks(std::size_t(N) * 4, std::uint16_t(R + 1));
    std::vector<std::uint16_t> mine = c.reduce_scatter_block(blocks, add16);
    CHECK(mine.size() == 4 && mine[3] == std::uint16_t(N * (N + 1) / 2), "reduce_scatter_block lambda");
}

void test_scans(const fmi::Communicator &c) {
    const std::size_t n = 777;
    std::vector<int> mine(n), out(n, -1), ex(n, -9);
    for (std::size_t i = 0; i < n; i++)
        mine[i] = x<int>(R, i);
    c.scan(mine, out, fmi::Op::sum);
    c.exscan(mine, ex, fmi::Op::sum);
    bool ok = true, eok = true;
    for (std::size_t i = 0; i < n; i++) {
        ok = ok && out[i] == sum_upto<int>(R, i);
        eok = eok && (R == 0 ? ex[i] == -9 : ex[i] == sum_upto<int>(R - 1, i));
    }
    CHECK(ok, "scan sum");
    CHECK(eok, "exscan sum (rank 0 unchanged)");
    std::vector<int> ip = mine;
    c.scan(fmi::in_place, ip, fmi::Op::sum);
    CHECK(ip == out, "scan in place");
    ip = mine;
    c.exscan(fmi::in_place, ip, fmi::Op::sum);
    CHECK(R == 0 ? ip == mine : ip == ex, "exscan in place");
    CHECK(c.scan(1.0, fmi::Op::sum) == double(R + 1), "scan value");
    CHECK(c.exscan(2, fmi::Op::sum) == 2 * R, "exscan value (0 at rank 0)");
    std::vector<int> ev = c.exscan(mine, fmi::Op::max);
    CHECK(ev.size() == n && (R != 0 || ev[0] == 0), "exscan value vector");
}

void test_reduce_scatter(const fmi::Communicator &c) {
    const std::size_t b = 33;
    std::vector<double> all(b * std::size_t(N)), out(b);
    for (std::size_t i = 0; i < all.size(); i++)
        all[i] = x<double>(R, i);
    c.reduce_scatter_block(all, out, fmi::Op::sum);
    bool ok = true;
    for (std::size_t i = 0; i < b && ok; i++)
        ok = out[i] == sum_upto<double>(N - 1, std::size_t(R) * b + i);
    CHECK(ok, "reduce_scatter_block");
    std::vector<double> ip = all;
    c.reduce_scatter_block(fmi::in_place, ip, fmi::Op::sum);
    CHECK(std::equal(out.begin(), out.end(), ip.begin()), "reduce_scatter_block in place");
    CHECK(c.reduce_scatter_block(all, fmi::Op::sum) == out, "reduce_scatter_block value");
}

void test_gather_scatter(const fmi::Communicator &c) {
    const std::size_t b = 50;
    std::vector<std::int32_t> mine(b);
    for (std::size_t i = 0; i < b; i++)
        mine[i] = x<std::int32_t>(R, i) + 1000 * R;
    for (int root = 0; root < N; root++) {
        std::vector<std::int32_t> all(R == root ? b * std::size_t(N) : 0, -1);
        c.gather(mine, all, root);
        std::vector<std::int32_t> val = c.gather(mine, root);
        if (R == root) {
            bool ok = true;
            for (int r = 0; r < N; r++)
                for (std::size_t i = 0; i < b; i++)
                    ok = ok && all[std::size_t(r) * b + i] == x<std::int32_t>(r, i) + 1000 * r;
            CHECK(ok, "gather at %d", root);
            CHECK(val == all, "gather value at %d", root);
        } else {
            CHECK(val.empty(), "gather value off the root is not empty");
        }
        // scatter it back
        std::vector<std::int32_t> back(b, -1);
        c.scatter(all, back, root);
        CHECK(back == mine, "scatter from %d", root);
        // one element per rank, as the original FMI's scatter
        std::vector<std::int64_t> ids;
        if (R == root)
            for (int r = 0; r < N; r++)
                ids.push_back(r * 100);
        std::int64_t id = c.scatter(ids, root);
        CHECK(id == R * 100, "scatter one per rank from %d: %lld", root, (long long)id);
        std::vector<std::int64_t> ids_back = c.gather(id, root);
        CHECK(R != root || ids_back == ids, "gather of scalars at %d", root);
    }
}

void test_allgather_alltoall(const fmi::Communicator &c) {
    const std::size_t b = 20;
    std::vector<float> mine(b), all(b * std::size_t(N));
    for (std::size_t i = 0; i < b; i++)
        mine[i] = float(R) + float(i) / 64.0f;
    c.allgather(mine, all);
    bool ok = true;
    for (int r = 0; r < N; r++)
        for (std::size_t i = 0; i < b; i++)
            ok = ok && all[std::size_t(r) * b + i] == float(r) + float(i) / 64.0f;
    CHECK(ok, "allgather");
    std::vector<float> ip(b * std::size_t(N), -1.0f);
    std::copy(mine.begin(), mine.end(), ip.begin() + std::ptrdiff_t(std::size_t(R) * b));
    c.allgather(fmi::in_place, ip);
    CHECK(ip == all, "allgather in place");
    CHECK(c.allgather(mine) == all, "allgather value");
    std::vector<int> ranks = c.allgather(R);
    std::vector<int> want(static_cast<std::size_t>(N));
    std::iota(want.begin(), want.end(), 0);
    CHECK(ranks == want, "allgather of scalars");

    // alltoall: block j of rank i is {i, j, k}
    const std::size_t k = 3;
    std::vector<std::int64_t> s(k * std::size_t(N)), r(k * std::size_t(N), -1);
    for (int j = 0; j < N; j++)
        for (std::size_t e = 0; e < k; e++)
            s[std::size_t(j) * k + e] = R * 10000 + j * 10 + std::int64_t(e);
    c.alltoall(s, r);
    ok = true;
    for (int i = 0; i < N; i++)
        for (std::size_t e = 0; e < k; e++)
            ok = ok && r[std::size_t(i) * k + e] == i * 10000 + R * 10 + std::int64_t(e);
    CHECK(ok, "alltoall");
    std::vector<std::int64_t> ip2 = s;
    c.alltoall(fmi::in_place, ip2);
    CHECK(ip2 == r, "alltoall in place");
    CHECK(c.alltoall(s) == r, "alltoall value");
}

void test_v_variants(const fmi::Communicator &c) {
    // rank r contributes r + 1 elements
    std::vector<std::size_t> counts(static_cast<std::size_t>(N)), displs(static_cast<std::size_t>(N));
    std::size_t total = 0;
    for (int r = 0; r < N; r++) {
        counts[std::size_t(r)] = std::size_t(r + 1);
        displs[std::size_t(r)] = total + std::size_t(r); // a gap of r elements before block r
        total += std::size_t(r + 1);
    }
    const std::size_t gapped = total + std::size_t(N * (N - 1) / 2);
    std::vector<double> mine(std::size_t(R + 1));
    for (std::size_t i = 0; i < mine.size(); i++)
        mine[i] = R * 100.0 + double(i);
    auto packed_ok = [&](const std::vector<double> &v) {
        if (v.size() != total)
            return false;
        std::size_t at = 0;
        for (int r = 0; r < N; r++)
            for (int i = 0; i <= r; i++)
                if (v[at++] != r * 100.0 + i)
                    return false;
        return true;
    };
    auto gapped_ok = [&](const std::vector<double> &v) {
        for (int r = 0; r < N; r++)
            for (int i = 0; i <= r; i++)
                if (v[displs[std::size_t(r)] + std::size_t(i)] != r * 100.0 + i)
                    return false;
        return true;
    };

    for (int root = 0; root < N; root++) {
        std::vector<double> g(R == root ? gapped : 0, -1.0);
        c.gatherv(mine, g, counts, displs, root);
        CHECK(R != root || gapped_ok(g), "gatherv with displacements at %d", root);
        std::vector<double> gp = c.gatherv(mine, counts, root);
        CHECK(R == root ? packed_ok(gp) : gp.empty(), "gatherv value at %d", root);
        // scatterv it back (packed layout: empty displacements)
        std::vector<double> back(std::size_t(R + 1), -1.0);
        c.scatterv(gp, counts, {}, back, root);
        CHECK(back == mine, "scatterv from %d", root);
        std::vector<double> back2(std::size_t(R + 1), -1.0);
        c.scatterv(g, counts, displs, back2, root);
        CHECK(back2 == mine, "scatterv with displacements from %d", root);
    }
    std::vector<double> ag(gapped, -1.0);
    c.allgatherv(mine, ag, counts, displs);
    CHECK(gapped_ok(ag), "allgatherv with displacements");
    CHECK(packed_ok(c.allgatherv(mine, counts)), "allgatherv value");

    // alltoallv: rank i sends j + 1 elements {i, j} to rank j
    std::vector<std::size_t> sc(static_cast<std::size_t>(N)), rc(std::size_t(N), std::size_t(R + 1));
    std::vector<int> sbuf;
    for (int j = 0; j < N; j++) {
        sc[std::size_t(j)] = std::size_t(j + 1);
        for (int e = 0; e <= j; e++)
            sbuf.push_back(R * 1000 + j);
    }
    std::vector<int> rbuf(std::size_t(N * (R + 1)), -1);
    c.alltoallv(sbuf, sc, {}, rbuf, rc, {});
    bool ok = true;
    for (int i = 0; i < N; i++)
        for (int e = 0; e <= R; e++)
            ok = ok && rbuf[std::size_t(i * (R + 1) + e)] == i * 1000 + R;
    CHECK(ok, "alltoallv");
    // counts as temporaries
    std::vector<double> tmp = c.allgatherv(mine, std::vector<std::size_t>(counts));
    CHECK(packed_ok(tmp), "allgatherv with temporary counts");
}

void run_all(const fmi::Communicator &c) {
    R = c.rank();
    N = c.size();
    c.barrier();
    test_bcast(c);
    test_reduce(c);
    test_allreduce_builtin(c);
    test_user_ops(c);
    test_scans(c);
    test_reduce_scatter(c);
    test_gather_scatter(c);
    test_allgather_alltoall(c);
    test_v_variants(c);
    c.barrier();
}

} // namespace

int main() {
    return t::run("cpp_coll", [](fmi::Communicator &world) {
        run_all(world);
        // the same on a duplicate and on halves ordered backwards (key = -rank), so
        // rank order inside a communicator differs from rank order in the world
        fmi::Communicator d = world.dup();
        CHECK(d.size() == world.size() && d.rank() == world.rank(), "dup rank/size");
        run_all(d);
        std::optional<fmi::Communicator> half = world.split(world.rank() % 2, -world.rank());
        CHECK(half.has_value(), "split with a colour gave no communicator");
        if (half) {
            const int want = (world.size() - world.rank() % 2 + 1) / 2;
            CHECK(half->size() == want, "split size %d, expected %d", half->size(), want);
            const std::uint64_t order = half->allreduce(
                std::uint64_t(world.rank() + 1),
                fmi::Function<std::uint64_t>(concat, false, true));
            // members in descending world rank, each contributing world rank + 1
            std::uint64_t expect = 0;
            for (int r = world.size() - 1; r >= 0; r--)
                if (r % 2 == world.rank() % 2)
                    expect = concat(expect, std::uint64_t(r + 1));
            CHECK(order == expect, "split: rank order %llu, expected %llu",
                  (unsigned long long)order, (unsigned long long)expect);
            run_all(*half);
        }
        // a negative colour: no communicator
        std::optional<fmi::Communicator> none = world.split(world.rank() == 0 ? -1 : 0, 0);
        CHECK(world.rank() == 0 ? !none : (none && none->size() == world.size() - 1),
              "split with a negative colour");
        R = world.rank();
        N = world.size();
    });
}
