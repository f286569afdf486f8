// C++17 use of <fmi.h>: RAII communicators, std::vector buffers, neighbour exchange,
// split. Proves the header compiles and links from C++ (extern "C" guards).
#include <fmi.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

int failures = 0;

void fail(int rank, const char *file, int line, const std::string &what) {
    std::fprintf(stderr, "[cxx_p2p rank %d] FAIL %s:%d: %s (last error: \"%s\")\n", rank, file,
                 line, what.c_str(), FMI_Last_error());
    ++failures;
}

#define CXX_CHECK(rank, cond, what)                                                        \
    do {                                                                                   \
        if (!(cond)) fail((rank), __FILE__, __LINE__, std::string(what) + " [" #cond "]"); \
    } while (0)

class Error : public std::runtime_error {
  public:
    Error(int code, const char *call)
        : std::runtime_error(std::string(call) + ": " + FMI_Error_string(code) + ": " +
                             FMI_Last_error()),
          code_(code) {}
    int code() const { return code_; }

  private:
    int code_;
};

inline void check(int rc, const char *call) {
    if (rc != FMI_SUCCESS) throw Error(rc, call);
}
#define FMI_CALL(x) check((x), #x)

// Owns an FMI_Comm; frees it on destruction.
class Comm {
  public:
    explicit Comm(FMI_Comm c) : c_(c) {}
    Comm(const Comm &) = delete;
    Comm &operator=(const Comm &) = delete;
    Comm(Comm &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    ~Comm() {
        if (c_) FMI_Comm_free(&c_);
    }

    static Comm from_env() {
        FMI_Comm c = nullptr;
        FMI_CALL(FMI_Comm_from_env(&c));
        return Comm(c);
    }
    int rank() const {
        int r = -1;
        FMI_CALL(FMI_Comm_rank(c_, &r));
        return r;
    }
    int size() const {
        int s = -1;
        FMI_CALL(FMI_Comm_size(c_, &s));
        return s;
    }
    std::optional<Comm> split(int color, int key) const {
        FMI_Comm out = nullptr;
        FMI_CALL(FMI_Comm_split(c_, color, key, &out));
        if (!out) return std::nullopt;
        return Comm(out);
    }
    void barrier() const { FMI_CALL(FMI_Barrier(c_)); }

    // send `out` to dest and receive into `in` from source in one call
    template <typename T>
    FMI_Status sendrecv(const std::vector<T> &out, int dest, std::vector<T> &in, int source,
                        int tag, FMI_Datatype dt) const {
        FMI_Status st{};
        FMI_CALL(FMI_Sendrecv(out.data(), out.size(), dest, tag, in.data(), in.size(), source,
                              tag, dt, c_, &st));
        return st;
    }
    FMI_Comm get() const { return c_; }

  private:
    FMI_Comm c_;
};

}  // namespace

int main() {
    int rank = -1;
    try {
        Comm world = Comm::from_env();
        rank = world.rank();
        const int size = world.size();
        const double t0 = FMI_Wtime();
        const int left = (rank + size - 1) % size, right = (rank + 1) % size;

        // neighbour exchange in both directions with vectors of doubles
        constexpr std::size_t n = 100000;
        std::vector<double> mine(n), from_left(n), from_right(n);
        std::iota(mine.begin(), mine.end(), rank * 1e6);
        auto st = world.sendrecv(mine, right, from_left, left, 1, FMI_DOUBLE);
        CXX_CHECK(rank, st.source == left && st.bytes == n * sizeof(double), "status from left");
        st = world.sendrecv(mine, left, from_right, right, 2, FMI_DOUBLE);
        CXX_CHECK(rank, st.source == right, "status from right");
        for (std::size_t i = 0; i < n; ++i) {
            if (from_left[i] != left * 1e6 + double(i) || from_right[i] != right * 1e6 + double(i)) {
                CXX_CHECK(rank, false, "exchange: wrong value at element " + std::to_string(i));
                break;
            }
        }

        // non-blocking with a vector of requests
        std::vector<int> tokens(8, -1);
        std::vector<FMI_Request> reqs(16, FMI_REQUEST_NULL);
        std::vector<int> outv(8);
        for (int i = 0; i < 8; ++i) {
            outv[i] = rank * 100 + i;
            FMI_CALL(FMI_Irecv(&tokens[i], 1, FMI_INT32, left, 10 + i, world.get(), &reqs[i]));
        }
        for (int i = 0; i < 8; ++i)
            FMI_CALL(FMI_Isend(&outv[i], 1, FMI_INT32, right, 10 + i, world.get(), &reqs[8 + i]));
        std::vector<FMI_Status> sts(reqs.size());
        FMI_CALL(FMI_Waitall(reqs.size(), reqs.data(), sts.data()));
        for (int i = 0; i < 8; ++i)
            CXX_CHECK(rank, tokens[i] == left * 100 + i, "token " + std::to_string(i));

        // split into lower and upper halves; sum world ranks inside each half at its rank 0
        const int color = rank < size / 2 ? 0 : 1;
        if (auto half = world.split(color, rank)) {
            const int hr = half->rank(), hs = half->size();
            const int lo = color == 0 ? 0 : size / 2, hi = color == 0 ? size / 2 : size;
            CXX_CHECK(rank, hs == hi - lo && hr == rank - lo, "half rank/size");
            std::vector<long> one{static_cast<long>(rank)};
            if (hr == 0) {
                long sum = rank;
                for (int src = 1; src < hs; ++src) {
                    std::vector<long> v(1, -1);
                    FMI_CALL(FMI_Recv(v.data(), 1, FMI_INT64, src, 5, half->get(), nullptr));
                    sum += v[0];
                }
                long want = 0;
                for (int r = lo; r < hi; ++r) want += r;
                CXX_CHECK(rank, sum == want, "half sum " + std::to_string(sum) + " != " + std::to_string(want));
            } else {
                FMI_CALL(FMI_Send(one.data(), 1, FMI_INT64, 0, 5, half->get()));
            }
            half->barrier();
        } else {
            CXX_CHECK(rank, false, "split gave no communicator");
        }

        // failure counts to rank 0
        long f = failures, total = failures;
        if (rank == 0) {
            for (int src = 1; src < size; ++src) {
                long v = 0;
                FMI_CALL(FMI_Recv(&v, 1, FMI_INT64, src, 32000, world.get(), nullptr));
                total += v;
            }
        } else {
            FMI_CALL(FMI_Send(&f, 1, FMI_INT64, 0, 32000, world.get()));
        }
        world.barrier();
        if (rank == 0)
            std::printf("cxx_p2p: %s: %d ranks, %ld failures (%.2f s)\n",
                        total ? "FAILED" : "PASSED", size, total, FMI_Wtime() - t0);
        return total ? 1 : 0;
    } catch (const Error &e) {
        std::fprintf(stderr, "[cxx_p2p rank %d] FAIL: %s\n", rank, e.what());
        return 1;
    }
}
