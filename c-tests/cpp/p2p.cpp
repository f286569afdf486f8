// fmi.hpp point to point: typed scalars of every datatype, vectors (eager and
// rendezvous sizes), spans, std::array, C arrays and strings, the value-returning
// forms, wildcards and statuses, tag matching and ordering, sendrecv, probe/iprobe,
// and requests (wait, test, wait_all, moves). Each rank talks to its ring neighbours
// (itself at 1 rank).
#include "check.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace {

enum class Color : short { red = 1, green = 2, blue = -3 };

// The datatype trait, at compile time.
static_assert(fmi::datatype_v<std::int8_t> == FMI_INT8);
static_assert(fmi::datatype_v<std::uint8_t> == FMI_UINT8);
static_assert(fmi::datatype_v<std::int16_t> == FMI_INT16);
static_assert(fmi::datatype_v<std::uint16_t> == FMI_UINT16);
static_assert(fmi::datatype_v<std::int32_t> == FMI_INT32);
static_assert(fmi::datatype_v<std::uint32_t> == FMI_UINT32);
static_assert(fmi::datatype_v<std::int64_t> == FMI_INT64);
static_assert(fmi::datatype_v<std::uint64_t> == FMI_UINT64);
static_assert(fmi::datatype_v<long long> == FMI_INT64);
static_assert(fmi::datatype_v<unsigned long long> == FMI_UINT64);
static_assert(fmi::datatype_v<signed char> == FMI_INT8);
static_assert(fmi::datatype_v<unsigned char> == FMI_UINT8);
static_assert(fmi::datatype_v<float> == FMI_FLOAT);
static_assert(fmi::datatype_v<double> == FMI_DOUBLE);
static_assert(fmi::datatype_v<char> == FMI_CHAR);
static_assert(fmi::datatype_v<std::byte> == FMI_BYTE);
static_assert(fmi::datatype_v<const int> == FMI_INT32);
static_assert(fmi::datatype_v<Color> == FMI_INT16);
static_assert(!fmi::is_datatype_v<bool>);
static_assert(!fmi::is_datatype_v<long double>);
static_assert(!fmi::is_datatype_v<std::string>);
static_assert(!fmi::is_datatype_v<int *>);

int left = 0, right = 0;

template <class T>
bool same(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
        return a == b || (a != a && b != b);
    else
        return a == b;
}

// One scalar of T around the ring (receive posted first, so 1 rank works too).
template <class T>
void ring_scalar(const fmi::Communicator &comm, const char *what, int tag) {
    const T out = t::pat<T>(static_cast<unsigned long>(comm.rank()) * 31 + unsigned(tag), 0);
    T in{};
    fmi::Request req = comm.irecv(in, left, tag);
    CHECK(req.active(), "%s: irecv request not active", what);
    comm.send(out, right, tag);
    fmi::Status st = req.wait();
    CHECK(!req.active(), "%s: request still active after wait", what);
    const T want = t::pat<T>(static_cast<unsigned long>(left) * 31 + unsigned(tag), 0);
    CHECK(same(in, want), "%s: wrong value from rank %d", what, left);
    CHECK(st.source == left && st.tag == tag && st.bytes == sizeof(T) && st.error == FMI_SUCCESS,
          "%s: status source %d tag %d bytes %zu error %d", what, st.source, st.tag, st.bytes,
          st.error);
    CHECK(st.count<T>() == 1, "%s: status count %zu", what, st.count<T>());
}

void test_scalars(const fmi::Communicator &comm) {
    ring_scalar<std::int8_t>(comm, "int8", 1);
    ring_scalar<std::uint8_t>(comm, "uint8", 2);
    ring_scalar<std::int16_t>(comm, "int16", 3);
    ring_scalar<std::uint16_t>(comm, "uint16", 4);
    ring_scalar<std::int32_t>(comm, "int32", 5);
    ring_scalar<std::uint32_t>(comm, "uint32", 6);
    ring_scalar<std::int64_t>(comm, "int64", 7);
    ring_scalar<std::uint64_t>(comm, "uint64", 8);
    ring_scalar<float>(comm, "float", 9);
    ring_scalar<double>(comm, "double", 10);
    ring_scalar<char>(comm, "char", 11);
    ring_scalar<std::byte>(comm, "byte", 12);
    ring_scalar<long long>(comm, "long long", 13);
    ring_scalar<unsigned long>(comm, "unsigned long", 14);

    // an enum, and the value-returning recv
    const Color mine = comm.rank() % 3 == 0 ? Color::red : comm.rank() % 3 == 1 ? Color::green : Color::blue;
    const Color theirs = left % 3 == 0 ? Color::red : left % 3 == 1 ? Color::green : Color::blue;
    fmi::Request r = comm.isend(mine, right, 20);
    fmi::Status st;
    Color got = comm.recv<Color>(left, 20, &st);
    r.wait();
    CHECK(got == theirs, "enum: got %d, expected %d", int(got), int(theirs));
    CHECK(st.source == left && st.tag == 20 && st.bytes == sizeof(Color), "enum status");

    // value-returning recv with the default wildcards
    const int mine2 = comm.rank() * 1000 + 7; // isend needs an lvalue (or a span)
    fmi::Request r2 = comm.isend(mine2, right, 21);
    int v = comm.recv<int>(left);
    r2.wait();
    CHECK(v == left * 1000 + 7, "recv<int>(left): %d", v);
}

// Vectors of several sizes (0, eager, rendezvous) around the ring.
void test_vectors(const fmi::Communicator &comm) {
    const std::size_t sizes[] = {0, 1, 1000, 70000, 300000};
    for (std::size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const std::size_t n = sizes[k];
        std::vector<double> out(n), in(n, -1.0);
        for (std::size_t i = 0; i < n; i++)
            out[i] = t::pat<double>(unsigned(comm.rank()) * 100 + k, i);
        fmi::Request req = comm.irecv(in, left, 30);
        comm.send(out, right, 30);
        fmi::Status st = req.wait();
        bool ok = true;
        for (std::size_t i = 0; i < n && ok; i++)
            ok = in[i] == t::pat<double>(unsigned(left) * 100 + k, i);
        CHECK(ok, "vector<double> of %zu: data differs", n);
        CHECK(st.count<double>() == n && st.source == left, "vector of %zu: status count %zu source %d",
              n, st.count<double>(), st.source);
    }

    // vector<uint16_t> with the blocking recv (isend first)
    std::vector<std::uint16_t> out(513), in(513);
    std::iota(out.begin(), out.end(), std::uint16_t(comm.rank()));
    fmi::Request req = comm.isend(out, right, 31);
    fmi::Status st = comm.recv(in, left, 31);
    req.wait();
    CHECK(in[0] == std::uint16_t(left) && in[512] == std::uint16_t(left + 512), "vector<uint16_t>");
    CHECK(st.bytes == 513 * 2, "vector<uint16_t> status bytes %zu", st.bytes);

    // receiving fewer elements than the buffer holds: the status tells how many
    std::vector<int> big(100, -1), small(7);
    std::iota(small.begin(), small.end(), comm.rank() * 10);
    req = comm.irecv(big, left, 32);
    comm.send(small, right, 32);
    st = req.wait();
    CHECK(st.count<int>() == 7 && big[0] == left * 10 && big[6] == left * 10 + 6 && big[7] == -1,
          "short message into a larger vector: count %zu", st.count<int>());
}

// Spans (sub-ranges), std::array, C arrays and strings.
void test_views(const fmi::Communicator &comm) {
    std::vector<std::int32_t> out(50), in(60, -5);
    std::iota(out.begin(), out.end(), comm.rank() * 100);
    // send elements 10..29 into elements 5..24 of the receiver's buffer
    fmi::span<std::int32_t> dst = fmi::span(in).subspan(5, 20);
    fmi::Request req = comm.irecv(dst, left, 40);
    comm.send(fmi::span<const std::int32_t>(out).subspan(10, 20), right, 40);
    req.wait();
    bool ok = true;
    for (std::size_t i = 0; i < in.size(); i++) {
        const int want = (i >= 5 && i < 25) ? left * 100 + 10 + int(i - 5) : -5;
        ok = ok && in[i] == want;
    }
    CHECK(ok, "span: subspan transfer wrong or wrote outside the view");

    // pointer + count span
    double raw_out[3] = {1.5, 2.5, double(comm.rank())}, raw_in[3] = {0, 0, 0};
    req = comm.irecv(fmi::span<double>(raw_in, 3), left, 41);
    comm.send(fmi::span<const double>(raw_out, 3), right, 41);
    req.wait();
    CHECK(raw_in[0] == 1.5 && raw_in[1] == 2.5 && raw_in[2] == double(left), "pointer+count span");

    // C arrays directly
    std::int64_t arr_out[4] = {comm.rank(), -1, 1LL << 40, 0}, arr_in[4] = {};
    req = comm.irecv(arr_in, left, 42);
    comm.send(arr_out, right, 42);
    req.wait();
    CHECK(arr_in[0] == left && arr_in[1] == -1 && arr_in[2] == (1LL << 40), "C array");

    // std::array
    std::array<float, 5> a_out{}, a_in{};
    for (std::size_t i = 0; i < 5; i++)
        a_out[i] = float(comm.rank()) + 0.25f * float(i);
    req = comm.irecv(a_in, left, 43);
    comm.send(a_out, right, 43);
    req.wait();
    CHECK(a_in[4] == float(left) + 1.0f, "std::array<float>");

    // std::string (chars), sized by the receiver
    std::string s_out = "hello from " + std::to_string(comm.rank());
    std::string s_in(s_out.size() + 4, '.');
    req = comm.irecv(s_in, left, 44);
    comm.send(s_out, right, 44);
    fmi::Status st = req.wait();
    s_in.resize(st.count<char>());
    CHECK(s_in == "hello from " + std::to_string(left), "string: got \"%s\"", s_in.c_str());

    // std::byte buffer
    std::vector<std::byte> b_out(77), b_in(77);
    for (std::size_t i = 0; i < b_out.size(); i++)
        b_out[i] = std::byte(i ^ unsigned(comm.rank()));
    req = comm.irecv(b_in, left, 45);
    comm.send(b_out, right, 45);
    req.wait();
    CHECK(b_in[76] == std::byte(76 ^ unsigned(left)), "vector<std::byte>");

    // span<T> converts to span<const T>; a span of a const vector is read-only
    const std::vector<int> cv{1, 2, 3};
    fmi::span<const int> cs = fmi::span(cv);
    fmi::span<int> ms = fmi::span(in);
    fmi::span<const int> ms_c = ms;
    CHECK(cs.size() == 3 && cs[2] == 3 && ms_c.size() == in.size() && ms.first(2).size() == 2 &&
              ms.last(3).data() == in.data() + in.size() - 3 && ms.subspan(1000).empty(),
          "span members");
    static_assert(std::is_same_v<decltype(fmi::span(cv)), fmi::span<const int>>);
    static_assert(std::is_same_v<decltype(fmi::span(in)), fmi::span<std::int32_t>>);
}

// recv_vector: a message of unknown length.
void test_recv_vector(const fmi::Communicator &comm) {
    for (int round = 0; round < 3; round++) {
        std::vector<std::uint32_t> out(std::size_t(comm.rank() * 7 + round * 1000));
        for (std::size_t i = 0; i < out.size(); i++)
            out[i] = std::uint32_t(i * 3 + unsigned(round));
        fmi::Request req = comm.isend(out, right, 50 + round);
        fmi::Status st;
        std::vector<std::uint32_t> in = comm.recv_vector<std::uint32_t>(left, 50 + round, &st);
        req.wait();
        const std::size_t want = std::size_t(left * 7 + round * 1000);
        CHECK(in.size() == want, "recv_vector round %d: %zu elements, expected %zu", round, in.size(), want);
        CHECK(in.empty() || in.back() == std::uint32_t((want - 1) * 3 + unsigned(round)),
              "recv_vector round %d: data", round);
        CHECK(st.source == left && st.tag == 50 + round, "recv_vector status");
    }
}

// Wildcards: every rank sends to rank 0, which receives with any_source/any_tag, then
// with any_source and one tag.
void test_wildcards(const fmi::Communicator &comm) {
    const int n = comm.size();
    if (comm.rank() != 0) {
        comm.send(comm.rank() * 11, 0, 100 + comm.rank());
        comm.barrier(); // rank 0 has them all: the next ones cannot match its any_tag receives
        comm.send(std::vector<short>(std::size_t(comm.rank()), short(comm.rank())), 0, 200);
    } else {
        std::vector<int> seen(std::size_t(n), 0);
        for (int k = 1; k < n; k++) {
            int v = -1;
            fmi::Status st = comm.recv(v, fmi::any_source, fmi::any_tag);
            CHECK(st.source >= 1 && st.source < n && st.tag == 100 + st.source &&
                      v == st.source * 11,
                  "wildcard recv: source %d tag %d value %d", st.source, st.tag, v);
            if (st.source >= 1 && st.source < n)
                seen[std::size_t(st.source)]++;
        }
        for (int k = 1; k < n; k++)
            CHECK(seen[std::size_t(k)] == 1, "wildcard: rank %d seen %d times", k, seen[std::size_t(k)]);
        comm.barrier();
        // any source, a given tag
        for (int k = 1; k < n; k++) {
            fmi::Status st;
            std::vector<short> v = comm.recv_vector<short>(fmi::any_source, 200, &st);
            CHECK(int(v.size()) == st.source && st.tag == 200 &&
                      (v.empty() || v[0] == short(st.source)),
                  "any_source with tag 200: source %d size %zu", st.source, v.size());
        }
    }
    comm.barrier();
}

// Tags select messages; one tag keeps the send order.
void test_tags_and_order(const fmi::Communicator &comm) {
    int outs[3];
    std::vector<fmi::Request> reqs;
    for (int tag = 1; tag <= 3; tag++) {
        outs[tag - 1] = comm.rank() * 10 + tag;
        reqs.push_back(comm.isend(outs[tag - 1], right, 300 + tag));
    }
    for (int tag = 3; tag >= 1; tag--) {
        int v = comm.recv<int>(left, 300 + tag);
        CHECK(v == left * 10 + tag, "tag %d: got %d", 300 + tag, v);
    }
    fmi::wait_all(reqs);
    int seq[20];
    reqs.clear();
    for (int i = 0; i < 20; i++) {
        seq[i] = i;
        reqs.push_back(comm.isend(fmi::span<const int>(&seq[i], 1), right, 310));
    }
    bool ordered = true;
    for (int i = 0; i < 20; i++)
        ordered = ordered && comm.recv<int>(left, fmi::any_tag) == i;
    CHECK(ordered, "messages with one tag overtook each other");
    fmi::wait_all(reqs);
}

void test_sendrecv(const fmi::Communicator &comm) {
    // owned forms: scalar and vector
    int got = comm.sendrecv(comm.rank(), right, left);
    CHECK(got == left, "sendrecv scalar: %d", got);
    std::vector<double> v(1000, double(comm.rank()));
    std::vector<double> w = comm.sendrecv(v, right, left, 7, 7);
    CHECK(w.size() == 1000 && w[999] == double(left), "sendrecv vector");
    // the general form, other direction, with a status
    std::array<std::int16_t, 3> out{std::int16_t(comm.rank()), 1, 2}, in{};
    fmi::Status st = comm.sendrecv(out, left, 9, in, right, 9);
    CHECK(in[0] == std::int16_t(right) && st.source == right && st.tag == 9 && st.bytes == 6,
          "sendrecv general: in[0] %d source %d", in[0], st.source);
    // large, both ways at once
    std::vector<std::uint8_t> big(1 << 20, std::uint8_t(comm.rank())), big_in(1 << 20);
    comm.sendrecv(big, right, 11, big_in, left, 11);
    CHECK(big_in.front() == std::uint8_t(left) && big_in.back() == std::uint8_t(left), "sendrecv 1 MiB");
}

void test_probe(const fmi::Communicator &comm) {
    std::vector<int> out(5, comm.rank());
    fmi::Request r = comm.isend(out, right, 77);
    fmi::Status p = comm.probe(left, 77);
    CHECK(p.source == left && p.tag == 77 && p.bytes == 20 && p.count<int>() == 5,
          "probe: source %d tag %d bytes %zu", p.source, p.tag, p.bytes);
    std::optional<fmi::Status> ip = comm.iprobe(fmi::any_source, 77);
    CHECK(ip && ip->bytes == 20, "iprobe after probe found nothing");
    CHECK(!comm.iprobe(left, 78), "iprobe found a message that was never sent");
    std::vector<int> in(5);
    comm.recv(in, left, 77);
    r.wait();
    CHECK(in[4] == left, "probed message data");
    // iprobe loop until a message arrives
    const double one = 1.0;
    r = comm.isend(one, right, 79);
    double t0 = fmi::wtime();
    std::optional<fmi::Status> found;
    while (!(found = comm.iprobe(left, 79)) && fmi::wtime() - t0 < 60) {
    }
    CHECK(found && found->source == left, "iprobe never saw the message");
    double d = comm.recv<double>(left, 79);
    r.wait();
    CHECK(d == 1.0, "iprobed message");
}

void test_requests(const fmi::Communicator &comm) {
    // many outstanding both ways, completed by wait_all
    const int k = 16;
    std::vector<std::vector<int>> outs(k), ins(k);
    std::vector<fmi::Request> reqs;
    for (int i = 0; i < k; i++) {
        outs[std::size_t(i)].assign(std::size_t(100 * i + 1), comm.rank() * 1000 + i);
        ins[std::size_t(i)].assign(std::size_t(100 * i + 1), -1);
        reqs.push_back(comm.irecv(ins[std::size_t(i)], left, 400 + i));
    }
    for (int i = k - 1; i >= 0; i--)
        reqs.push_back(comm.isend(outs[std::size_t(i)], right, 400 + i));
    std::vector<fmi::Status> sts = fmi::wait_all(reqs);
    CHECK(sts.size() == std::size_t(2 * k), "wait_all: %zu statuses", sts.size());
    bool ok = true, inactive = true;
    for (int i = 0; i < k; i++) {
        const auto &in = ins[std::size_t(i)];
        ok = ok && in.front() == left * 1000 + i && in.back() == left * 1000 + i &&
             sts[std::size_t(i)].source == left && sts[std::size_t(i)].tag == 400 + i &&
             sts[std::size_t(i)].count<int>() == in.size();
    }
    for (const auto &r : reqs)
        inactive = inactive && !r.active();
    CHECK(ok, "wait_all: data or statuses wrong");
    CHECK(inactive, "wait_all left active requests");

    // test() until done
    std::vector<float> fin(3000), fout(3000, float(comm.rank()));
    fmi::Request rr = comm.irecv(fin, left, 450);
    std::optional<fmi::Status> st = rr.test();
    CHECK(!st || st->bytes == fin.size() * sizeof(float), "test() before the send");
    comm.send(fout, right, 450);
    double t0 = fmi::wtime();
    while (!st && fmi::wtime() - t0 < 60)
        st = rr.test();
    CHECK(st && st->source == left && st->count<float>() == 3000 && !rr.active(),
          "test() never completed the receive");
    CHECK(fin[2999] == float(left), "test(): data");
    // an inactive request: wait and test complete at once with an empty status
    fmi::Status empty = rr.wait();
    CHECK(empty.source == fmi::any_source && empty.bytes == 0, "wait on an inactive request");
    std::optional<fmi::Status> again = rr.test();
    CHECK(again.has_value(), "test on an inactive request");

    // requests move; a moved-from request is inactive
    int a = -1;
    fmi::Request r1 = comm.irecv(a, left, 460);
    fmi::Request r2 = std::move(r1);
    CHECK(!r1.active() && r2.active(), "moved request"); // NOLINT(bugprone-use-after-move)
    comm.send(comm.rank(), right, 460);
    fmi::Request r3;
    r3 = std::move(r2);
    fmi::Status s3 = r3.wait();
    CHECK(a == left && s3.source == left, "moved request completed: %d", a);
}

} // namespace

int main() {
    return t::run("cpp_p2p", [](fmi::Communicator &comm) {
        left = (comm.rank() + comm.size() - 1) % comm.size();
        right = (comm.rank() + 1) % comm.size();
        test_scalars(comm);
        test_vectors(comm);
        test_views(comm);
        test_recv_vector(comm);
        test_wildcards(comm);
        test_tags_and_order(comm);
        test_sendrecv(comm);
        test_probe(comm);
        test_requests(comm);
        comm.barrier();
    });
}
