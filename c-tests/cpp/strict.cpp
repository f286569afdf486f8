// fmi.hpp under strict warnings (-Wshadow -Wconversion -Wsign-conversion
// -Wold-style-cast ... -Werror, see CMakeLists.txt): instantiates the whole API for
// several element types so that a user who compiles with these flags gets no warning
// from the header. Compiled only (-fsyntax-only), never run.
#include <fmi.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

enum class Level : std::uint8_t { low, high };

template <class T>
void every_operation(const fmi::Communicator &c, T one) {
    std::vector<T> v(8, one), w(8, one);
    std::array<T, 4> a{};
    T raw[3] = {one, one, one};
    T s = one;
    const std::vector<std::size_t> counts(static_cast<std::size_t>(c.size()), 1);

    c.send(s, 0);
    c.send(v, 0, 1);
    c.send(a, 0, 2);
    c.send(raw, 0, 3);
    c.send(fmi::span<const T>(v).subspan(1, 2), 0, 4);
    fmi::Status st = c.recv(s, fmi::any_source, fmi::any_tag);
    st = c.recv(v);
    st = c.recv(fmi::span(w).first(2), 0, 5);
    s = c.recv<T>(0, 1, &st);
    v = c.recv_vector<T>(0);
    st = c.sendrecv(v, 0, 1, w, 0, 1);
    s = c.sendrecv(s, 0, 0);
    w = c.sendrecv(v, 0, 0, 1, 1);
    fmi::Request r = c.isend(v, 0, 1);
    fmi::Request q = c.irecv(fmi::span(w), 0, 1);
    std::optional<fmi::Status> t = r.test();
    st = q.wait();
    std::vector<fmi::Request> rs;
    rs.push_back(c.isend(s, 0));
    std::vector<fmi::Status> sts = fmi::wait_all(rs);
    st = c.probe();
    t = c.iprobe(0, 1);

    c.bcast(s, 0);
    c.bcast(v, 0);
    fmi::Function<T> f([](const T &x, const T &y) { return x < y ? y : x; }, true, true);
    fmi::UserOp<T> u(f);
    c.reduce(v, w, f, 0);
    c.reduce(fmi::in_place, v, u, 0);
    s = c.reduce(s, fmi::Op::max, 0);
    c.allreduce(v, w, fmi::Op::min);
    c.allreduce(fmi::in_place, v, f);
    s = c.allreduce(s, u);
    w = c.allreduce(v, fmi::Op::max);
    c.scan(v, w, f);
    c.scan(fmi::in_place, v, fmi::Op::max);
    s = c.scan(s, u);
    c.exscan(v, w, f);
    c.exscan(fmi::in_place, v, fmi::Op::max);
    s = c.exscan(s, u);
    c.reduce_scatter_block(v, w, fmi::Op::max);
    c.reduce_scatter_block(fmi::in_place, v, f);
    w = c.reduce_scatter_block(v, u);
    c.gather(s, v, 0);
    w = c.gather(v, 0);
    c.scatter(v, s, 0);
    s = c.scatter(v, 0);
    c.allgather(s, v);
    c.allgather(fmi::in_place, v);
    w = c.allgather(s);
    c.alltoall(v, w);
    c.alltoall(fmi::in_place, v);
    w = c.alltoall(v);
    c.gatherv(v, w, counts, {}, 0);
    w = c.gatherv(v, counts, 0);
    c.scatterv(v, counts, {}, w, 0);
    c.allgatherv(v, w, counts);
    w = c.allgatherv(v, counts);
    c.alltoallv(v, counts, {}, w, counts, {});
    (void)st;
    (void)sts;
    (void)t;
}

} // namespace

void use(fmi::Communicator &c) {
    every_operation<std::int8_t>(c, 1);
    every_operation<std::uint16_t>(c, 1);
    every_operation<int>(c, 1);
    every_operation<unsigned long>(c, 1);
    every_operation<float>(c, 1.0f);
    every_operation<double>(c, 1.0);
    every_operation<char>(c, 'a');
    every_operation<Level>(c, Level::high);
    std::vector<std::byte> bytes(4);
    c.bcast(bytes, 0);
    std::string text = "x";
    c.bcast(text, 0);
    fmi::Function sum([](long a, long b) { return a + b; }, true, true);
    long total = c.allreduce(1L, sum);
    (void)total;
    c.set_hint(fmi::Hint::cheap);
    fmi::Communicator d = c.dup();
    std::optional<fmi::Communicator> e = d.split(0, 0);
    fmi::Communicator f(0, 1, "", "name");
    fmi::Communicator g(fmi::from_env);
    fmi::Communicator h = fmi::Communicator::from_env();
    g = std::move(h);
    g.free();
    (void)fmi::wtime();
}

int main() { return 0; }
