/*
 * fmi.hpp - C++17 binding of FMI: fast message passing for serverless functions.
 *
 * Header-only, over the C API in <fmi.h>; needs nothing but libfmi
 * (`target_link_libraries(app PRIVATE FMI::fmi)` or `pkg-config --cflags --libs fmi`).
 *
 *     #include <fmi.hpp>
 *
 *     int main() {
 *         fmi::Communicator comm(fmi::from_env);          // or (rank, size, config, name)
 *         std::vector<double> grad(1024, comm.rank());
 *         comm.allreduce(fmi::in_place, grad, fmi::Op::sum);
 *         // a user reduction, neither commutative nor associative: applied left to
 *         // right in rank order, ((1 op 2) op 3) op 4 = 1234 at 4 ranks
 *         fmi::Function digits([](long a, long b) { return a * 10 + b; }, false, false);
 *         long d = comm.allreduce(long(comm.rank() + 1), digits);
 *     }
 *
 * Buffers. Every operation takes its buffers as a scalar of an FMI datatype (`int`,
 * `double`, `std::byte`, ...; see `datatype_traits`), a `std::vector`, `std::array`,
 * `std::basic_string` or C array of one, or an `fmi::span` (pointer + count). Receive
 * buffers are never resized: their size is the count. Forms that return their result
 * (`allreduce(x, op)`, `gather(x, root)`, ...) give a scalar for a scalar and a
 * `std::vector` otherwise.
 *
 * Errors. Every failure throws `fmi::Error` with the FMI code (`FMI_ERR_*`) and the
 * library's message. Sizes the wrapper can check locally (a receive buffer too small
 * for a gather, a count that does not divide by the number of ranks) are checked
 * before the call and fail with `FMI_ERR_ARG` on the rank that got them wrong; the
 * other ranks of a collective then wait for it (bounded by `FMI_TIMEOUT_MS`), as
 * they would for any rank that does not join.
 *
 * Lifetimes. `Communicator`, `Request` and `UserOp` own their FMI handles and free
 * them in their destructors (which never throw); they are move-only, and a
 * moved-from object is empty.
 */
#ifndef FMI_HPP
#define FMI_HPP

#include <fmi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

/// The C++ binding of FMI. Everything here is a thin layer over the C API in <fmi.h>.
namespace fmi {

/// Receive or probe from any rank (`FMI_ANY_SOURCE`).
inline constexpr int any_source = FMI_ANY_SOURCE;
/// Receive or probe with any tag (`FMI_ANY_TAG`).
inline constexpr int any_tag = FMI_ANY_TAG;
/// Largest user tag (`FMI_TAG_UB`); user tags are 0 ... tag_ub.
inline constexpr int tag_ub = FMI_TAG_UB;

/// Seconds since an arbitrary point in the past (monotonic; `FMI_Wtime`).
inline double wtime() noexcept { return FMI_Wtime(); }

/// Static text for an FMI error code (`FMI_Error_string`).
inline const char *error_string(int code) noexcept {
    const char *s = FMI_Error_string(code);
    return s ? s : "unknown FMI error";
}

// ------------------------------------------------------------------------------------
// Errors

/// An FMI call failed. `code()` is the `FMI_ERR_*` code, `message()` the detailed
/// message the library left (`FMI_Last_error()` right after the failing call), and
/// `what()` is "<call>: <error_string(code)>: <message>" (without repeating the call
/// when the message starts with it).
class Error : public std::runtime_error {
  public:
    /// An error of `code` from `call`; the message is this thread's `FMI_Last_error()`.
    Error(int code, const std::string &call) : Error(code, call, last_error_text()) {}

    /// An error of `code` from `call` with an explicit message (the wrapper's own
    /// checks use this).
    Error(int code, const std::string &call, const std::string &message)
        : std::runtime_error(compose(code, call, message)),
          code_(code), message_(std::make_shared<const std::string>(message)) {}

    /// The FMI error code (`FMI_ERR_ARG`, `FMI_ERR_TIMEOUT`, ...).
    int code() const noexcept { return code_; }

    /// The library's detailed message (may be empty).
    const std::string &message() const noexcept { return *message_; }

  private:
    static std::string compose(int code, const std::string &call, const std::string &message) {
        std::string what = call + ": " + error_string(code);
        if (message.empty())
            return what;
        const std::string prefix = call + ": ";
        const bool repeats = message.compare(0, prefix.size(), prefix) == 0;
        return what + ": " + (repeats ? message.substr(prefix.size()) : message);
    }

    static std::string last_error_text() {
        const char *m = FMI_Last_error();
        return m ? std::string(m) : std::string();
    }

    int code_;
    std::shared_ptr<const std::string> message_; // shared: copying an exception must not throw
};

namespace detail {

/// The exception a user reduction threw on this thread, kept until the collective
/// that called it returns (exceptions must not cross the C library).
inline std::exception_ptr &pending_exception() noexcept {
    static thread_local std::exception_ptr e;
    return e;
}

/// Throws `Error(rc, call)` unless `rc` is `FMI_SUCCESS`.
inline void check(int rc, const char *call) {
    if (rc != FMI_SUCCESS)
        throw Error(rc, call);
}

/// Like `check`, for calls that may run user reductions: an exception thrown by the
/// user function wins over the call's own result.
inline void check_op(int rc, const char *call) {
    if (std::exception_ptr e = std::exchange(pending_exception(), nullptr))
        std::rethrow_exception(e);
    check(rc, call);
}

/// Throws `Error(FMI_ERR_ARG)` from the wrapper's own argument checks.
inline void require(bool ok, const char *call, const std::string &what) {
    if (!ok)
        throw Error(FMI_ERR_ARG, call, what);
}

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast" // FMI_IN_PLACE is a C cast
#endif
/// `FMI_IN_PLACE` as a pointer of the C API's type.
inline const void *in_place_ptr() noexcept { return FMI_IN_PLACE; }
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

template <class T>
using remove_cvref_t = std::remove_cv_t<std::remove_reference_t<T>>;

} // namespace detail

// ------------------------------------------------------------------------------------
// Datatypes

/// Maps a C++ type to its FMI datatype through `value`. Defined for `char`
/// (`FMI_CHAR`), `std::byte` (`FMI_BYTE`), `float`, `double`, every integer type of
/// 1, 2, 4 or 8 bytes except `bool` (by size and signedness: `int` -> `FMI_INT32`,
/// `unsigned long` -> `FMI_UINT64`, ...) and enums (through their underlying type).
/// Specialise it for a type of your own whose size is that of one element of the
/// datatype: `template <> struct fmi::datatype_traits<Id> { static constexpr
/// FMI_Datatype value = FMI_UINT64; };`.
template <class T, class Enable = void>
struct datatype_traits {};

/// `char` is `FMI_CHAR`.
template <>
struct datatype_traits<char> {
    /// The FMI datatype.
    static constexpr FMI_Datatype value = FMI_CHAR;
};

/// `std::byte` is `FMI_BYTE`.
template <>
struct datatype_traits<std::byte> {
    /// The FMI datatype.
    static constexpr FMI_Datatype value = FMI_BYTE;
};

/// `float` is `FMI_FLOAT`.
template <>
struct datatype_traits<float> {
    static_assert(sizeof(float) == 4, "FMI_FLOAT is 4 bytes");
    /// The FMI datatype.
    static constexpr FMI_Datatype value = FMI_FLOAT;
};

/// `double` is `FMI_DOUBLE`.
template <>
struct datatype_traits<double> {
    static_assert(sizeof(double) == 8, "FMI_DOUBLE is 8 bytes");
    /// The FMI datatype.
    static constexpr FMI_Datatype value = FMI_DOUBLE;
};

namespace detail {

template <class T>
inline constexpr bool is_plain_integer_v =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

template <class T>
constexpr FMI_Datatype integer_datatype() noexcept {
    constexpr bool s = std::is_signed_v<T>;
    switch (sizeof(T)) {
    case 1: return s ? FMI_INT8 : FMI_UINT8;
    case 2: return s ? FMI_INT16 : FMI_UINT16;
    case 4: return s ? FMI_INT32 : FMI_UINT32;
    default: return s ? FMI_INT64 : FMI_UINT64;
    }
}

/// Size in bytes of one element of an FMI datatype (0 for an unknown one).
constexpr std::size_t datatype_size(FMI_Datatype dt) noexcept {
    switch (dt) {
    case FMI_BYTE: case FMI_CHAR: case FMI_INT8: case FMI_UINT8: return 1;
    case FMI_INT16: case FMI_UINT16: return 2;
    case FMI_INT32: case FMI_UINT32: case FMI_FLOAT: return 4;
    case FMI_INT64: case FMI_UINT64: case FMI_DOUBLE: return 8;
    default: return 0;
    }
}

} // namespace detail

/// Integers other than `bool` and `char`: by size and signedness.
template <class T>
struct datatype_traits<T, std::enable_if_t<detail::is_plain_integer_v<T>>> {
    /// The FMI datatype.
    static constexpr FMI_Datatype value = detail::integer_datatype<T>();
};

/// Enums: as their underlying type.
template <class T>
struct datatype_traits<T, std::enable_if_t<std::is_enum_v<T>>>
    : datatype_traits<std::underlying_type_t<T>> {};

namespace detail {
template <class T, class = void>
struct has_datatype : std::false_type {};
template <class T>
struct has_datatype<T, std::void_t<decltype(datatype_traits<T>::value)>>
    : std::bool_constant<std::is_trivially_copyable_v<T>> {};
} // namespace detail

/// Whether `T` (cv-qualifiers ignored) maps to an FMI datatype.
template <class T>
inline constexpr bool is_datatype_v = detail::has_datatype<std::remove_cv_t<T>>::value;

/// The FMI datatype of `T` (cv-qualifiers ignored).
template <class T>
inline constexpr FMI_Datatype datatype_v = datatype_traits<std::remove_cv_t<T>>::value;

namespace detail {
template <class T>
constexpr FMI_Datatype checked_datatype() noexcept {
    static_assert(is_datatype_v<T>, "fmi: the element type has no FMI datatype "
                                    "(see fmi::datatype_traits)");
    static_assert(sizeof(T) == datatype_size(datatype_v<T>),
                  "fmi: datatype_traits<T>::value names a datatype of another size than T");
    return datatype_v<T>;
}
} // namespace detail

// ------------------------------------------------------------------------------------
// Views

template <class T>
class span;

namespace detail {
template <class T>
struct is_span : std::false_type {};
template <class T>
struct is_span<span<T>> : std::true_type {};
template <class T>
inline constexpr bool is_span_v = is_span<remove_cvref_t<T>>::value;

/// `C` is a contiguous container (has `data()` and `size()`) of elements that a
/// `span<T>` may view.
template <class C, class T, class = void>
struct is_container_of : std::false_type {};
template <class C, class T>
struct is_container_of<C, T,
                       std::void_t<decltype(std::declval<C &>().data()),
                                   decltype(std::declval<C &>().size())>>
    : std::bool_constant<
          !is_span_v<C> && !std::is_array_v<C> &&
          std::is_pointer_v<decltype(std::declval<C &>().data())> &&
          std::is_convertible_v<
              std::remove_pointer_t<decltype(std::declval<C &>().data())> (*)[], T (*)[]>> {};
} // namespace detail

/// A non-owning view of `size()` contiguous elements of `T` (a small C++17 stand-in
/// for `std::span`). `span<const T>` views data that is only read. Build one from a
/// pointer and a count, a C array, or any contiguous container with `data()` and
/// `size()` (`std::vector`, `std::array`, `std::string`); `span<T>` converts to
/// `span<const T>`.
template <class T>
class span {
  public:
    /// The element type, with its cv-qualifiers.
    using element_type = T;
    /// The element type without cv-qualifiers.
    using value_type = std::remove_cv_t<T>;
    /// Type of sizes and indices.
    using size_type = std::size_t;
    /// Pointer to an element.
    using pointer = T *;
    /// Reference to an element.
    using reference = T &;
    /// Iterator (a plain pointer).
    using iterator = T *;

    /// An empty view.
    constexpr span() noexcept = default;
    /// `n` elements from `ptr`.
    constexpr span(T *ptr, std::size_t n) noexcept : data_(ptr), size_(n) {}
    /// A whole C array.
    template <std::size_t N>
    constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
    /// A whole contiguous container (`std::vector`, `std::array`, `std::string`, ...).
    /// As with `std::span`, only a `span<const T>` may view a temporary (for the
    /// duration of a call: `allgatherv(x, out, std::vector<std::size_t>{...})`).
    template <class C,
              std::enable_if_t<detail::is_container_of<std::remove_reference_t<C>, T>::value &&
                                   (std::is_lvalue_reference_v<C> || std::is_const_v<T>),
                               int> = 0>
    constexpr span(C &&container) noexcept(noexcept(container.data()))
        : data_(container.data()), size_(container.size()) {}
    /// `span<U>` to `span<T>` where `U*` converts to `T*` (adds `const`).
    template <class U, std::enable_if_t<!std::is_same_v<U, T> &&
                                            std::is_convertible_v<U (*)[], T (*)[]>,
                                        int> = 0>
    constexpr span(const span<U> &other) noexcept : data_(other.data()), size_(other.size()) {}

    /// Pointer to the first element.
    constexpr T *data() const noexcept { return data_; }
    /// Number of elements.
    constexpr std::size_t size() const noexcept { return size_; }
    /// Number of bytes.
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    /// Whether the view has no elements.
    constexpr bool empty() const noexcept { return size_ == 0; }
    /// Iterator to the first element.
    constexpr T *begin() const noexcept { return data_; }
    /// Iterator past the last element.
    constexpr T *end() const noexcept { return data_ + size_; }
    /// Element `i` (unchecked).
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
    /// The first element (the view must not be empty).
    constexpr T &front() const noexcept { return data_[0]; }
    /// The last element (the view must not be empty).
    constexpr T &back() const noexcept { return data_[size_ - 1]; }
    /// The first `n` elements (`n` is clamped to `size()`).
    constexpr span first(std::size_t n) const noexcept { return {data_, n < size_ ? n : size_}; }
    /// The last `n` elements (`n` is clamped to `size()`).
    constexpr span last(std::size_t n) const noexcept {
        std::size_t k = n < size_ ? n : size_;
        return {data_ + (size_ - k), k};
    }
    /// `count` elements from `offset` (both clamped to the view; by default all
    /// elements from `offset`).
    constexpr span subspan(std::size_t offset, std::size_t count = std::size_t(-1)) const noexcept {
        std::size_t o = offset < size_ ? offset : size_;
        std::size_t rest = size_ - o;
        return {data_ + o, count < rest ? count : rest};
    }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

/// `span(array)` views a C array.
template <class T, std::size_t N>
span(T (&)[N]) -> span<T>;
/// `span(container)` views a container's elements (`const` for a const container).
template <class C>
span(C &&) -> span<std::remove_pointer_t<decltype(std::declval<C &>().data())>>;

// ------------------------------------------------------------------------------------
// Buffers: what the operations accept

namespace detail {

template <class T, std::enable_if_t<is_datatype_v<T>, int> = 0>
constexpr span<T> as_buffer(T &x) noexcept {
    return span<T>(&x, 1);
}
template <class T, std::enable_if_t<is_datatype_v<T>, int> = 0>
constexpr span<T> as_buffer(span<T> s) noexcept {
    return s;
}
template <class T, class A, std::enable_if_t<is_datatype_v<T>, int> = 0>
span<T> as_buffer(std::vector<T, A> &v) noexcept {
    return span<T>(v.data(), v.size());
}
template <class T, class A, std::enable_if_t<is_datatype_v<T>, int> = 0>
span<const T> as_buffer(const std::vector<T, A> &v) noexcept {
    return span<const T>(v.data(), v.size());
}
template <class T, std::size_t N, std::enable_if_t<is_datatype_v<T>, int> = 0>
constexpr span<T> as_buffer(std::array<T, N> &a) noexcept {
    return span<T>(a.data(), N);
}
template <class T, std::size_t N, std::enable_if_t<is_datatype_v<T>, int> = 0>
constexpr span<const T> as_buffer(const std::array<T, N> &a) noexcept {
    return span<const T>(a.data(), N);
}
template <class T, class Tr, class A, std::enable_if_t<is_datatype_v<T>, int> = 0>
span<T> as_buffer(std::basic_string<T, Tr, A> &s) noexcept {
    return span<T>(s.data(), s.size());
}
template <class T, class Tr, class A, std::enable_if_t<is_datatype_v<T>, int> = 0>
span<const T> as_buffer(const std::basic_string<T, Tr, A> &s) noexcept {
    return span<const T>(s.data(), s.size());
}
template <class T, std::size_t N, std::enable_if_t<is_datatype_v<T>, int> = 0>
constexpr span<T> as_buffer(T (&a)[N]) noexcept {
    return span<T>(a, N);
}

/// `buffer_of<B>::type` is the span an argument of type `B` (as deduced by a
/// forwarding reference) is viewed as.
template <class B, class = void>
struct buffer_of {};
template <class B>
struct buffer_of<B, std::void_t<decltype(detail::as_buffer(std::declval<B &>()))>> {
    using type = decltype(detail::as_buffer(std::declval<B &>()));
};

template <class B, class = void>
struct is_buffer : std::false_type {};
template <class B>
struct is_buffer<B, std::void_t<typename buffer_of<B>::type>> : std::true_type {};

/// `B` can be used as a buffer.
template <class B>
inline constexpr bool is_buffer_v = is_buffer<B>::value;

/// Element type (without const) of buffer `B`.
template <class B>
using elem_t = typename buffer_of<B>::type::value_type;

/// `B` (deduced by a forwarding reference) is a buffer that outlives the call
/// expression: an lvalue or a span.
template <class B>
inline constexpr bool is_target_v = is_buffer_v<B> && (std::is_lvalue_reference_v<B> || is_span_v<B>);

/// `B`'s elements can be written.
template <class B>
inline constexpr bool is_writable_v =
    !std::is_const_v<typename buffer_of<B>::type::element_type>;

/// The owned type an operation on buffer `B` returns: the scalar for a scalar,
/// otherwise a `std::vector` of the element type.
template <class B>
using owned_t = std::conditional_t<is_datatype_v<remove_cvref_t<B>>, remove_cvref_t<B>,
                                   std::vector<elem_t<B>>>;

/// An owned result for buffer type `B` holding `count` elements (a scalar for a
/// scalar, which ignores `count`).
template <class B>
owned_t<B> make_owned(std::size_t count) {
    if constexpr (is_datatype_v<remove_cvref_t<B>>) {
        (void)count;
        return remove_cvref_t<B>{};
    } else {
        return std::vector<elem_t<B>>(count);
    }
}

} // namespace detail

/// Tag type of `fmi::in_place`.
struct in_place_t {
    explicit in_place_t() = default;
};
/// Pass as the send buffer of a collective to work in the receive buffer, as
/// `FMI_IN_PLACE` (`MPI_IN_PLACE`) does: `comm.allreduce(fmi::in_place, v, op)`.
inline constexpr in_place_t in_place{};

/// Tag type of `fmi::from_env`.
struct from_env_t {
    explicit from_env_t() = default;
};
/// Selects the environment constructor: `fmi::Communicator comm(fmi::from_env);`.
inline constexpr from_env_t from_env{};

// ------------------------------------------------------------------------------------
// Status and requests

/// What a receive, probe or wait found out.
struct Status {
    /// Rank the message came from (`any_source` for an empty status).
    int source = any_source;
    /// Tag of the message (`any_tag` for an empty status).
    int tag = any_tag;
    /// `FMI_SUCCESS` or the error of the operation.
    int error = FMI_SUCCESS;
    /// Bytes received (or, for a probe, the size of the message).
    std::size_t bytes = 0;

    /// Number of whole elements of `T` in `bytes`.
    template <class T>
    std::size_t count() const noexcept {
        return bytes / sizeof(T);
    }

    /// The C status as a `Status`.
    static Status from_c(const FMI_Status &s) noexcept {
        Status r;
        r.source = s.source;
        r.tag = s.tag;
        r.error = s.error;
        r.bytes = s.bytes;
        return r;
    }
};

/// A pending non-blocking operation (`isend`, `irecv`). Complete it with `wait()`
/// or `test()`. Destroying or assigning over a request that is still pending waits
/// for it (errors are then dropped; bounded by `FMI_TIMEOUT_MS`), so its buffer is
/// never written after the request is gone. Move-only; a default-constructed,
/// completed or moved-from request is inactive.
class Request {
  public:
    /// An inactive request.
    Request() noexcept = default;
    /// Takes ownership of a C request handle.
    explicit Request(FMI_Request native) noexcept : r_(native) {}
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;
    /// Takes over `other`'s operation; `other` becomes inactive.
    Request(Request &&other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
    /// Waits for the current operation (if any), then takes over `other`'s.
    Request &operator=(Request &&other) noexcept {
        if (this != &other) {
            drop();
            r_ = std::exchange(other.r_, nullptr);
        }
        return *this;
    }
    /// Waits for a pending operation; never throws.
    ~Request() { drop(); }

    /// Whether an operation is pending (not yet completed by `wait` or `test`).
    bool active() const noexcept { return r_ != nullptr; }
    /// Same as `active()`.
    explicit operator bool() const noexcept { return active(); }

    /// Waits for completion and returns the status (an empty status for an inactive
    /// request). The request is inactive afterwards, also when it throws.
    Status wait() {
        FMI_Status s{};
        detail::check(FMI_Wait(&r_, &s), "FMI_Wait");
        return Status::from_c(s);
    }

    /// The status if the operation has completed (the request is then inactive),
    /// or `std::nullopt` if it is still pending. Throws if it completed with an error.
    std::optional<Status> test() {
        FMI_Status s{};
        int flag = 0;
        detail::check(FMI_Test(&r_, &flag, &s), "FMI_Test");
        if (!flag)
            return std::nullopt;
        return Status::from_c(s);
    }

    /// The C handle (still owned by this object).
    FMI_Request native() const noexcept { return r_; }
    /// Gives up ownership of the C handle; the request becomes inactive.
    FMI_Request release() noexcept { return std::exchange(r_, nullptr); }

  private:
    void drop() noexcept {
        if (r_ != nullptr)
            (void)FMI_Wait(&r_, nullptr);
        r_ = nullptr;
    }

    FMI_Request r_ = nullptr;
};

/// Waits for every request in `requests` (all are inactive afterwards) and returns
/// their statuses in order. If any failed, throws the first failure's error after all
/// have completed.
inline std::vector<Status> wait_all(span<Request> requests) {
    std::vector<FMI_Request> raw(requests.size());
    for (std::size_t i = 0; i < requests.size(); i++)
        raw[i] = requests[i].release();
    std::vector<FMI_Status> st(requests.size());
    int rc = FMI_Waitall(raw.size(), raw.data(), st.data());
    for (std::size_t i = 0; i < raw.size(); i++) // FMI_Waitall frees them all; just in case
        if (raw[i] != nullptr)
            requests[i] = Request(raw[i]);
    detail::check(rc, "FMI_Waitall");
    std::vector<Status> out;
    out.reserve(st.size());
    for (const FMI_Status &s : st)
        out.push_back(Status::from_c(s));
    return out;
}

// ------------------------------------------------------------------------------------
// Reduction operations

/// The built-in reductions. Bitwise ones (`band`, `bor`, `bxor`) are for integer
/// types only; the logical ones treat non-zero as true and give 0 or 1.
enum class Op : FMI_Op {
    sum = FMI_SUM,   ///< a + b
    prod = FMI_PROD, ///< a * b
    min = FMI_MIN,   ///< the smaller
    max = FMI_MAX,   ///< the larger
    land = FMI_LAND, ///< a && b
    lor = FMI_LOR,   ///< a || b
    lxor = FMI_LXOR, ///< !a != !b
    band = FMI_BAND, ///< a & b
    bor = FMI_BOR,   ///< a | b
    bxor = FMI_BXOR, ///< a ^ b
};

/// A user reduction on elements of `T`: a callable `T f(T left, T right)` and whether
/// it is commutative and associative (as the original FMI's
/// `FMI::Utils::Function<T>`). `left` always holds the contribution of lower ranks,
/// so a non-commutative function sees its operands in rank order; a non-associative
/// one is applied strictly left to right (x0 op x1) op x2 ... . Claim a property only
/// if it holds: an associative op may be combined in any grouping (`a * 10 + b` is
/// not associative). The element type is deduced from a function or a non-generic
/// lambda: `fmi::Function f([](int a, int b) { return a + b; }, true, true);`.
template <class T>
class Function {
    static_assert(is_datatype_v<T> && !std::is_const_v<T>,
                  "fmi::Function<T>: T must be an FMI datatype");

  public:
    /// The element type.
    using value_type = T;

    /// Wraps `f` (called as `f(const T&, const T&)`, result convertible to `T`).
    template <class F,
              std::enable_if_t<std::is_invocable_r_v<T, const F &, const T &, const T &>, int> = 0>
    Function(F f, bool is_commutative, bool is_associative)
        : f_(std::move(f)), commutative_(is_commutative), associative_(is_associative) {}

    /// `f(left, right)`.
    T operator()(const T &left, const T &right) const { return f_(left, right); }
    /// Whether `f(a, b) == f(b, a)` may be assumed.
    bool commutative() const noexcept { return commutative_; }
    /// Whether `f(f(a, b), c) == f(a, f(b, c))` may be assumed.
    bool associative() const noexcept { return associative_; }

  private:
    std::function<T(const T &, const T &)> f_;
    bool commutative_;
    bool associative_;
};

namespace detail {
template <class F>
struct first_arg {};
template <class R, class A, class B>
struct first_arg<R (*)(A, B)> {
    using type = remove_cvref_t<A>;
};
template <class R, class A, class B>
struct first_arg<R (*)(A, B) noexcept> {
    using type = remove_cvref_t<A>;
};
template <class C, class R, class A, class B>
struct first_arg<R (C::*)(A, B)> {
    using type = remove_cvref_t<A>;
};
template <class C, class R, class A, class B>
struct first_arg<R (C::*)(A, B) const> {
    using type = remove_cvref_t<A>;
};
template <class C, class R, class A, class B>
struct first_arg<R (C::*)(A, B) noexcept> {
    using type = remove_cvref_t<A>;
};
template <class C, class R, class A, class B>
struct first_arg<R (C::*)(A, B) const noexcept> {
    using type = remove_cvref_t<A>;
};
template <class F, class = void>
struct callable_arg : first_arg<std::decay_t<F>> {};
template <class F>
struct callable_arg<F, std::void_t<decltype(&std::decay_t<F>::operator())>>
    : first_arg<decltype(&std::decay_t<F>::operator())> {};
} // namespace detail

/// Deduces `Function<T>` from a function or non-generic lambda taking two `T`s.
template <class F>
Function(F, bool, bool) -> Function<typename detail::callable_arg<F>::type>;

/// A user reduction registered with FMI (`FMI_Op_create`) for reuse across many
/// collectives; freed (`FMI_Op_free`) on destruction. Collectives also accept a
/// `Function<T>` directly and register it for the call. Move-only.
///
/// The function runs on the thread that calls the collective. An exception it throws
/// is caught (it must not cross the C library), the rest of that call's elements are
/// left uncombined, and the collective rethrows it on that rank once it returns.
template <class T>
class UserOp {
    static_assert(is_datatype_v<T> && !std::is_const_v<T>,
                  "fmi::UserOp<T>: T must be an FMI datatype");

  public:
    /// The element type.
    using value_type = T;

    /// Registers `f`.
    explicit UserOp(Function<T> f) : fn_(std::make_unique<Function<T>>(std::move(f))) {
        detail::check(FMI_Op_create(&UserOp::trampoline, fn_->commutative() ? 1 : 0,
                                    fn_->associative() ? 1 : 0, fn_.get(), &h_),
                      "FMI_Op_create");
    }
    /// Registers `f` with the given flags.
    template <class F,
              std::enable_if_t<std::is_invocable_r_v<T, const F &, const T &, const T &>, int> = 0>
    UserOp(F f, bool is_commutative, bool is_associative)
        : UserOp(Function<T>(std::move(f), is_commutative, is_associative)) {}

    UserOp(const UserOp &) = delete;
    UserOp &operator=(const UserOp &) = delete;
    /// Takes over `other`'s registration; `other` becomes empty.
    UserOp(UserOp &&other) noexcept
        : fn_(std::move(other.fn_)), h_(std::exchange(other.h_, FMI_OP_NULL)) {}
    /// Frees the current registration, then takes over `other`'s.
    UserOp &operator=(UserOp &&other) noexcept {
        if (this != &other) {
            reset();
            fn_ = std::move(other.fn_);
            h_ = std::exchange(other.h_, FMI_OP_NULL);
        }
        return *this;
    }
    /// Frees the op; never throws.
    ~UserOp() { reset(); }

    /// The C op handle (`FMI_OP_NULL` when empty).
    FMI_Op handle() const noexcept { return h_; }
    /// Whether the op is registered (not moved from).
    explicit operator bool() const noexcept { return h_ != FMI_OP_NULL; }

  private:
    void reset() noexcept {
        if (h_ != FMI_OP_NULL)
            (void)FMI_Op_free(&h_);
        h_ = FMI_OP_NULL;
        fn_.reset();
    }

    // inout[i] = f(in[i], inout[i]); the buffers need not be aligned for T.
    static void trampoline(const void *in, void *inout, std::size_t count, FMI_Datatype,
                           void *ctx) noexcept {
        if (detail::pending_exception())
            return; // an earlier call on this thread threw: leave the rest alone
        try {
            const Function<T> &f = *static_cast<const Function<T> *>(ctx);
            const unsigned char *a = static_cast<const unsigned char *>(in);
            unsigned char *b = static_cast<unsigned char *>(inout);
            for (std::size_t i = 0; i < count; i++) {
                T x, y;
                std::memcpy(&x, a + i * sizeof(T), sizeof(T));
                std::memcpy(&y, b + i * sizeof(T), sizeof(T));
                const T r = f(x, y);
                std::memcpy(b + i * sizeof(T), &r, sizeof(T));
            }
        } catch (...) {
            detail::pending_exception() = std::current_exception();
        }
    }

    std::unique_ptr<Function<T>> fn_; // the ctx pointer: stays put when the UserOp moves
    FMI_Op h_ = FMI_OP_NULL;
};

namespace detail {

template <class O, class T>
inline constexpr bool is_op_for_v =
    std::is_same_v<O, Op> || std::is_same_v<O, Function<T>> || std::is_same_v<O, UserOp<T>>;

/// The C handle of a reduction argument for elements of `T`; registers a `Function`
/// for the duration of the call.
template <class T>
class OpArg {
  public:
    explicit OpArg(Op op) noexcept : h_(static_cast<FMI_Op>(op)) {}
    explicit OpArg(const UserOp<T> &op) noexcept : h_(op.handle()) {}
    explicit OpArg(const Function<T> &f) : tmp_(std::in_place, f), h_(tmp_->handle()) {}
    FMI_Op handle() const noexcept { return h_; }

  private:
    std::optional<UserOp<T>> tmp_;
    FMI_Op h_;
};

template <class T, class O>
OpArg<T> op_arg(const O &op) {
    static_assert(is_op_for_v<O, T>,
                  "fmi: a reduction takes fmi::Op, fmi::Function<T> or fmi::UserOp<T> "
                  "with T the buffers' element type");
    pending_exception() = nullptr;
    return OpArg<T>(op);
}

template <class S, class R>
constexpr void same_elements() {
    static_assert(std::is_same_v<elem_t<S>, elem_t<R>>,
                  "fmi: send and receive buffers must have the same element type");
}

} // namespace detail

// ------------------------------------------------------------------------------------
// Communicator

/// A communicator: a group of ranks that exchange messages (`FMI_Comm`). Owns its
/// handle and frees it on destruction (`FMI_Comm_free`: freeing the last one of a
/// process sends what is queued; see README). Move-only; a moved-from or freed
/// communicator is empty and its operations throw `Error(FMI_ERR_ARG)`.
///
/// All operations are `const` (they do not change which communicator this is) and
/// throw `fmi::Error` on failure. Tags of sends are 0 ... `tag_ub`.
class Communicator {
  public:
    /// An empty communicator (only good for assigning to).
    Communicator() noexcept = default;

    /// Joins a job as rank `peer_id` of `num_peers`, as the original FMI's
    /// `Communicator(peer_id, num_peers, config_path, comm_name)`: `config_path` is a
    /// JSON file in the original FMI's shape (empty: environment only; the environment
    /// overrides the file), `comm_name` the job name (empty: `FMI_JOB`).
    explicit Communicator(int peer_id, int num_peers,
                          const std::string &config_path = std::string(),
                          const std::string &comm_name = std::string()) {
        FMI_Comm c = nullptr;
        detail::check(FMI_Comm_create(peer_id, num_peers,
                                      comm_name.empty() ? nullptr : comm_name.c_str(),
                                      config_path.empty() ? nullptr : config_path.c_str(), &c),
                      "FMI_Comm_create");
        adopt_(c);
    }

    /// Joins the job the environment describes (`fmirun`, mpiexec, Slurm, a Kubernetes
    /// indexed job; a world of one without any): `FMI_Comm_from_env`.
    explicit Communicator(from_env_t) {
        FMI_Comm c = nullptr;
        detail::check(FMI_Comm_from_env(&c), "FMI_Comm_from_env");
        adopt_(c);
    }

    /// Same as `Communicator(fmi::from_env)`.
    static Communicator from_env() { return Communicator(fmi::from_env); }

    /// Takes ownership of a C handle (NULL gives an empty communicator).
    static Communicator adopt(FMI_Comm native) {
        Communicator c;
        if (native)
            c.adopt_(native);
        return c;
    }

    Communicator(const Communicator &) = delete;
    Communicator &operator=(const Communicator &) = delete;
    /// Takes over `other`'s handle; `other` becomes empty.
    Communicator(Communicator &&other) noexcept
        : c_(std::exchange(other.c_, nullptr)), rank_(std::exchange(other.rank_, -1)),
          size_(std::exchange(other.size_, 0)) {}
    /// Frees the current communicator, then takes over `other`'s.
    Communicator &operator=(Communicator &&other) noexcept {
        if (this != &other) {
            drop();
            c_ = std::exchange(other.c_, nullptr);
            rank_ = std::exchange(other.rank_, -1);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    /// Frees the communicator; errors are dropped (call `free()` to see them).
    ~Communicator() { drop(); }

    /// Frees the communicator now and reports a failure; it is empty afterwards.
    void free() {
        FMI_Comm c = std::exchange(c_, nullptr);
        rank_ = -1;
        size_ = 0;
        if (c)
            detail::check(FMI_Comm_free(&c), "FMI_Comm_free");
    }

    /// Whether this holds a communicator (not empty, moved from or freed).
    bool valid() const noexcept { return c_ != nullptr; }
    /// Same as `valid()`.
    explicit operator bool() const noexcept { return valid(); }
    /// The C handle (still owned by this object).
    FMI_Comm native() const noexcept { return c_; }
    /// Gives up ownership of the C handle; this becomes empty.
    FMI_Comm release() noexcept {
        rank_ = -1;
        size_ = 0;
        return std::exchange(c_, nullptr);
    }

    /// This process's rank, 0 ... size() - 1.
    int rank() const {
        need("fmi::Communicator::rank");
        return rank_;
    }
    /// Number of ranks.
    int size() const {
        need("fmi::Communicator::size");
        return size_;
    }

    /// Collective: a communicator with the same ranks whose traffic never matches
    /// this one's (`FMI_Comm_dup`).
    Communicator dup() const {
        FMI_Comm out = nullptr;
        detail::check(FMI_Comm_dup(c_, &out), "FMI_Comm_dup");
        return adopt(out);
    }

    /// Collective: ranks passing the same `color` form a new communicator, ordered by
    /// `key` (ties by rank here). A negative color takes no part: `std::nullopt`.
    std::optional<Communicator> split(int color, int key) const {
        FMI_Comm out = nullptr;
        detail::check(FMI_Comm_split(c_, color, key, &out), "FMI_Comm_split");
        if (!out)
            return std::nullopt;
        return adopt(out);
    }

    /// Kind of channel `set_hint` asks for.
    enum class Hint : int {
        fast = FMI_HINT_FAST,   ///< the fastest channel
        cheap = FMI_HINT_CHEAP, ///< the cheapest channel
    };

    /// Chooses the fastest or the cheapest channel for later operations.
    void set_hint(Hint hint) const {
        detail::check(FMI_Comm_set_hint(c_, static_cast<int>(hint)), "FMI_Comm_set_hint");
    }

    /// Modelled cost in US dollars of this rank's share of the job when it runs for
    /// `seconds` (`FMI_Comm_cost`); sum it over the ranks for the job's.
    double cost(double seconds) const {
        double usd = 0.0;
        detail::check(FMI_Comm_cost(c_, seconds, &usd), "FMI_Comm_cost");
        return usd;
    }

    /// Ends every rank of the job with exit status `errorcode` (`FMI_Abort`); returns
    /// only by throwing if that fails.
    void abort(int errorcode) const {
        detail::check(FMI_Abort(c_, errorcode), "FMI_Abort");
    }

    // -------------------------------------------------------------------- point to point

    /// Sends `buf` (scalar, container or span) to `dest` with `tag`; returns once the
    /// buffer may be reused.
    template <class B, std::enable_if_t<detail::is_buffer_v<const B>, int> = 0>
    void send(const B &buf, int dest, int tag = 0) const {
        auto s = detail::as_buffer(buf);
        detail::check(FMI_Send(s.data(), s.size(), dt<decltype(s)>(), dest, tag, c_), "FMI_Send");
    }

    /// Receives into `buf` (an lvalue scalar or container, or a span: at most its size)
    /// from `source` (or `any_source`) with `tag` (or `any_tag`). A larger message
    /// throws `FMI_ERR_TRUNCATE` (the buffer holds its first part).
    template <class B, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    Status recv(B &&buf, int source = any_source, int tag = any_tag) const {
        auto s = writable(buf);
        FMI_Status st{};
        detail::check(FMI_Recv(s.data(), s.size(), dt<decltype(s)>(), source, tag, c_, &st),
                      "FMI_Recv");
        return Status::from_c(st);
    }

    /// Receives one `T` and returns it: `int x = comm.recv<int>(0, 7);`. The status
    /// goes to `*status` if given.
    template <class T, std::enable_if_t<is_datatype_v<T> && !std::is_const_v<T>, int> = 0>
    T recv(int source = any_source, int tag = any_tag, Status *status = nullptr) const {
        T value{};
        Status st = recv(value, source, tag);
        if (status)
            *status = st;
        return value;
    }

    /// Receives a whole message of unknown length as a vector of `T`: probes for it,
    /// sizes the vector and receives exactly that message.
    template <class T, std::enable_if_t<is_datatype_v<T> && !std::is_const_v<T>, int> = 0>
    std::vector<T> recv_vector(int source = any_source, int tag = any_tag,
                               Status *status = nullptr) const {
        Status p = probe(source, tag);
        std::vector<T> v(p.count<T>());
        Status st = recv(v, p.source, p.tag);
        if (status)
            *status = st;
        return v;
    }

    /// Sends `sendbuf` to `dest` and receives into `recvbuf` from `source` at once (no
    /// deadlock when pairs exchange). Both hold the same element type.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    Status sendrecv(const S &sendbuf, int dest, int sendtag, R &&recvbuf, int source,
                    int recvtag) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        FMI_Status st{};
        detail::check(FMI_Sendrecv(s.data(), s.size(), dest, sendtag, r.data(), r.size(), source,
                                   recvtag, dt<decltype(s)>(), c_, &st),
                      "FMI_Sendrecv");
        return Status::from_c(st);
    }

    /// Sends `value` to `dest` and returns what arrives from `source` in its place
    /// (as many elements as `value` has: a scalar for a scalar, a vector otherwise).
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::owned_t<const S> sendrecv(const S &value, int dest, int source, int sendtag = 0,
                                      int recvtag = any_tag) const {
        auto out = detail::make_owned<const S>(detail::as_buffer(value).size());
        sendrecv(value, dest, sendtag, out, source, recvtag);
        return out;
    }

    /// Starts sending `buf` (an lvalue or a span, which must stay unchanged until the
    /// request completes).
    template <class B>
    Request isend(B &&buf, int dest, int tag = 0) const {
        static_assert(detail::is_target_v<B>,
                      "fmi::Communicator::isend: pass an lvalue buffer or an fmi::span; the "
                      "buffer must outlive the request");
        auto s = detail::as_buffer(buf);
        FMI_Request r = nullptr;
        detail::check(FMI_Isend(s.data(), s.size(), dt<decltype(s)>(), dest, tag, c_, &r),
                      "FMI_Isend");
        return Request(r);
    }

    /// Starts receiving into `buf` (an lvalue or a span, not to be touched until the
    /// request completes).
    template <class B>
    Request irecv(B &&buf, int source = any_source, int tag = any_tag) const {
        static_assert(detail::is_target_v<B>,
                      "fmi::Communicator::irecv: pass an lvalue buffer or an fmi::span; the "
                      "buffer must outlive the request");
        auto s = writable(buf);
        FMI_Request r = nullptr;
        detail::check(FMI_Irecv(s.data(), s.size(), dt<decltype(s)>(), source, tag, c_, &r),
                      "FMI_Irecv");
        return Request(r);
    }

    /// Blocks until a message from `source`/`tag` (wildcards allowed) can be received
    /// and describes it without receiving it.
    Status probe(int source = any_source, int tag = any_tag) const {
        FMI_Status st{};
        detail::check(FMI_Probe(source, tag, c_, &st), "FMI_Probe");
        return Status::from_c(st);
    }

    /// Like `probe` but returns at once: `std::nullopt` when there is no such message.
    std::optional<Status> iprobe(int source = any_source, int tag = any_tag) const {
        FMI_Status st{};
        int flag = 0;
        detail::check(FMI_Iprobe(source, tag, c_, &flag, &st), "FMI_Iprobe");
        if (!flag)
            return std::nullopt;
        return Status::from_c(st);
    }

    // ---------------------------------------------------------------------- collectives

    /// Collective: returns once every rank has entered it.
    void barrier() const { detail::check(FMI_Barrier(c_), "FMI_Barrier"); }

    /// Collective: `buf` at `root` is copied into `buf` everywhere (the same number of
    /// elements on every rank).
    template <class B, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void bcast(B &&buf, int root) const {
        auto s = writable(buf);
        detail::check(FMI_Bcast(s.data(), s.size(), dt<decltype(s)>(), root, c_), "FMI_Bcast");
    }

    /// Collective: reduces every rank's `sendbuf` with `op` (an `Op`, `Function<T>` or
    /// `UserOp<T>`) into `recvbuf` at `root` (which must hold as many elements;
    /// `recvbuf` is not used elsewhere and may be empty there).
    template <class S, class R, class O,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void reduce(const S &sendbuf, R &&recvbuf, const O &op, int root) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        if (rank() == root)
            detail::require(r.size() >= s.size(), "fmi::Communicator::reduce",
                            "the receive buffer at the root holds " + std::to_string(r.size()) +
                                " elements, fewer than the " + std::to_string(s.size()) + " sent");
        auto o = detail::op_arg<detail::elem_t<R>>(op);
        detail::check_op(FMI_Reduce(s.data(), rank() == root ? r.data() : nullptr, s.size(),
                                    dt<decltype(s)>(), o.handle(), root, c_),
                         "FMI_Reduce");
    }

    /// Collective: every rank contributes `buf`; the result replaces `buf` at `root`
    /// (elsewhere `buf` is unchanged).
    template <class B, class O, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void reduce(in_place_t, B &&buf, const O &op, int root) const {
        auto s = writable(buf);
        auto o = detail::op_arg<detail::elem_t<B>>(op);
        const bool at_root = rank() == root;
        detail::check_op(FMI_Reduce(at_root ? detail::in_place_ptr() : s.data(),
                                    at_root ? s.data() : nullptr, s.size(), dt<decltype(s)>(),
                                    o.handle(), root, c_),
                         "FMI_Reduce");
    }

    /// Collective: returns the reduction of every rank's `value` at `root`; elsewhere
    /// a value-initialised scalar or an empty vector.
    template <class S, class O, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::owned_t<const S> reduce(const S &value, const O &op, int root) const {
        const std::size_t n = detail::as_buffer(value).size();
        auto out = detail::make_owned<const S>(rank() == root ? n : 0);
        reduce(value, out, op, root);
        return out;
    }

    /// Collective: reduces every rank's `sendbuf` with `op` into every rank's
    /// `recvbuf` (at least as many elements); bit-identical everywhere.
    template <class S, class R, class O,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void allreduce(const S &sendbuf, R &&recvbuf, const O &op) const {
        reduce_like<const S, R>(&FMI_Allreduce, "FMI_Allreduce", "fmi::Communicator::allreduce",
                                sendbuf, recvbuf, op);
    }

    /// Collective: `buf` is replaced by the reduction of every rank's `buf`.
    template <class B, class O, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void allreduce(in_place_t, B &&buf, const O &op) const {
        reduce_in_place<B>(&FMI_Allreduce, "FMI_Allreduce", buf, op);
    }

    /// Collective: returns the reduction of every rank's `value` (scalar or buffer).
    template <class S, class O, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::owned_t<const S> allreduce(const S &value, const O &op) const {
        auto out = detail::make_owned<const S>(detail::as_buffer(value).size());
        allreduce(value, out, op);
        return out;
    }

    /// Collective: inclusive prefix reduction; rank r gets x0 op ... op xr in `recvbuf`.
    template <class S, class R, class O,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void scan(const S &sendbuf, R &&recvbuf, const O &op) const {
        reduce_like<const S, R>(&FMI_Scan, "FMI_Scan", "fmi::Communicator::scan", sendbuf,
                                recvbuf, op);
    }

    /// Collective: `buf` is replaced by the inclusive prefix reduction.
    template <class B, class O, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void scan(in_place_t, B &&buf, const O &op) const {
        reduce_in_place<B>(&FMI_Scan, "FMI_Scan", buf, op);
    }

    /// Collective: returns the inclusive prefix reduction of `value`.
    template <class S, class O, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::owned_t<const S> scan(const S &value, const O &op) const {
        auto out = detail::make_owned<const S>(detail::as_buffer(value).size());
        scan(value, out, op);
        return out;
    }

    /// Collective: exclusive prefix reduction; rank r > 0 gets x0 op ... op x(r-1) in
    /// `recvbuf`, rank 0's `recvbuf` is left unchanged.
    template <class S, class R, class O,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void exscan(const S &sendbuf, R &&recvbuf, const O &op) const {
        reduce_like<const S, R>(&FMI_Exscan, "FMI_Exscan", "fmi::Communicator::exscan", sendbuf,
                                recvbuf, op);
    }

    /// Collective: `buf` is replaced by the exclusive prefix reduction (unchanged at
    /// rank 0).
    template <class B, class O, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void exscan(in_place_t, B &&buf, const O &op) const {
        reduce_in_place<B>(&FMI_Exscan, "FMI_Exscan", buf, op);
    }

    /// Collective: returns the exclusive prefix reduction of `value`; rank 0 gets a
    /// value-initialised result (zeros).
    template <class S, class O, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::owned_t<const S> exscan(const S &value, const O &op) const {
        auto out = detail::make_owned<const S>(detail::as_buffer(value).size());
        exscan(value, out, op);
        return out;
    }

    /// Collective: reduces `size()` blocks of `recvbuf.size()` elements (`sendbuf`
    /// holds them all); rank i gets block i of the result.
    template <class S, class R, class O,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void reduce_scatter_block(const S &sendbuf, R &&recvbuf, const O &op) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        detail::require(s.size() >= r.size() * std::size_t(size()),
                        "fmi::Communicator::reduce_scatter_block",
                        "the send buffer holds " + std::to_string(s.size()) +
                            " elements, fewer than size() blocks of " + std::to_string(r.size()));
        auto o = detail::op_arg<detail::elem_t<R>>(op);
        detail::check_op(FMI_Reduce_scatter_block(s.data(), r.data(), r.size(), dt<decltype(s)>(),
                                                  o.handle(), c_),
                         "FMI_Reduce_scatter_block");
    }

    /// Collective: `buf` holds `size()` blocks; block i of the result lands in the
    /// first block of rank i's `buf` (the rest of `buf` is scratch).
    template <class B, class O, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void reduce_scatter_block(in_place_t, B &&buf, const O &op) const {
        auto s = writable(buf);
        const std::size_t count = blocks(s.size(), "fmi::Communicator::reduce_scatter_block");
        auto o = detail::op_arg<detail::elem_t<B>>(op);
        detail::check_op(FMI_Reduce_scatter_block(detail::in_place_ptr(), s.data(), count,
                                                  dt<decltype(s)>(), o.handle(), c_),
                         "FMI_Reduce_scatter_block");
    }

    /// Collective: returns this rank's block of the reduction of every rank's
    /// `sendbuf` (whose size must divide by `size()`).
    template <class S, class O, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> reduce_scatter_block(const S &sendbuf,
                                                              const O &op) const {
        const std::size_t n = blocks(detail::as_buffer(sendbuf).size(),
                                     "fmi::Communicator::reduce_scatter_block");
        std::vector<detail::elem_t<const S>> out(n);
        reduce_scatter_block(sendbuf, out, op);
        return out;
    }

    /// Collective: every rank's `sendbuf` lands in `recvbuf` at `root` in rank order
    /// (`recvbuf` needs `size()` times as many elements there; elsewhere it is unused
    /// and may be empty).
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void gather(const S &sendbuf, R &&recvbuf, int root) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        const bool at_root = rank() == root;
        if (at_root)
            need_blocks(r.size(), s.size(), "fmi::Communicator::gather", "receive");
        detail::check(FMI_Gather(s.data(), at_root ? r.data() : nullptr, s.size(),
                                 dt<decltype(s)>(), root, c_),
                      "FMI_Gather");
    }

    /// Collective: returns every rank's `value` in rank order at `root` (a vector of
    /// `size()` blocks); elsewhere an empty vector.
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> gather(const S &value, int root) const {
        const std::size_t n = detail::as_buffer(value).size();
        std::vector<detail::elem_t<const S>> out(rank() == root ? n * std::size_t(size()) : 0);
        gather(value, out, root);
        return out;
    }

    /// Collective: block i (`recvbuf.size()` elements) of `sendbuf` at `root` goes to
    /// rank i's `recvbuf` (`sendbuf` is only used at the root and may be empty
    /// elsewhere).
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void scatter(const S &sendbuf, R &&recvbuf, int root) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        const bool at_root = rank() == root;
        if (at_root)
            need_blocks(s.size(), r.size(), "fmi::Communicator::scatter", "send");
        detail::check(FMI_Scatter(at_root ? s.data() : nullptr, r.data(), r.size(),
                                  dt<decltype(s)>(), root, c_),
                      "FMI_Scatter");
    }

    /// Collective: returns element i of `values` at `root` on rank i (`values` needs
    /// `size()` elements at the root and is unused elsewhere), as the original FMI's
    /// `scatter` of a vector.
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    detail::elem_t<const S> scatter(const S &values, int root) const {
        detail::elem_t<const S> out{};
        scatter(values, out, root);
        return out;
    }

    /// Collective: every rank gets every rank's `sendbuf` in rank order in `recvbuf`
    /// (`size()` times as many elements).
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void allgather(const S &sendbuf, R &&recvbuf) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        need_blocks(r.size(), s.size(), "fmi::Communicator::allgather", "receive");
        detail::check(FMI_Allgather(s.data(), r.data(), s.size(), dt<decltype(s)>(), c_),
                      "FMI_Allgather");
    }

    /// Collective: `buf` holds `size()` blocks, this rank's already in place; all of
    /// them are filled in.
    template <class B, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void allgather(in_place_t, B &&buf) const {
        auto s = writable(buf);
        const std::size_t count = blocks(s.size(), "fmi::Communicator::allgather");
        detail::check(FMI_Allgather(detail::in_place_ptr(), s.data(), count, dt<decltype(s)>(), c_),
                      "FMI_Allgather");
    }

    /// Collective: returns every rank's `value` in rank order (`size()` blocks).
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> allgather(const S &value) const {
        std::vector<detail::elem_t<const S>> out(detail::as_buffer(value).size() *
                                                 std::size_t(size()));
        allgather(value, out);
        return out;
    }

    /// Collective: block j of this rank's `sendbuf` goes to block (this rank) of rank
    /// j's `recvbuf`. `sendbuf` holds `size()` blocks; `recvbuf` at least as many
    /// elements.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void alltoall(const S &sendbuf, R &&recvbuf) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        const std::size_t count = blocks(s.size(), "fmi::Communicator::alltoall");
        detail::require(r.size() >= s.size(), "fmi::Communicator::alltoall",
                        "the receive buffer holds " + std::to_string(r.size()) +
                            " elements, fewer than the " + std::to_string(s.size()) + " sent");
        detail::check(FMI_Alltoall(s.data(), r.data(), count, dt<decltype(s)>(), c_),
                      "FMI_Alltoall");
    }

    /// Collective: alltoall within `buf` (`size()` blocks).
    template <class B, std::enable_if_t<detail::is_target_v<B>, int> = 0>
    void alltoall(in_place_t, B &&buf) const {
        auto s = writable(buf);
        const std::size_t count = blocks(s.size(), "fmi::Communicator::alltoall");
        detail::check(FMI_Alltoall(detail::in_place_ptr(), s.data(), count, dt<decltype(s)>(), c_),
                      "FMI_Alltoall");
    }

    /// Collective: returns the blocks the other ranks sent this one, in rank order.
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> alltoall(const S &sendbuf) const {
        std::vector<detail::elem_t<const S>> out(detail::as_buffer(sendbuf).size());
        alltoall(sendbuf, out);
        return out;
    }

    /// Collective: rank i's `sendbuf` lands at `recvbuf + displs[i]` at `root`, where
    /// rank i sends `recvcounts[i]` elements. `recvcounts` and `displs` (one entry per
    /// rank; empty `displs`: packed in rank order) and `recvbuf` are only used at the
    /// root.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void gatherv(const S &sendbuf, R &&recvbuf, span<const std::size_t> recvcounts,
                 span<const std::size_t> displs, int root) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        std::vector<std::size_t> packed;
        const bool at_root = rank() == root;
        if (at_root)
            displs = layout(recvcounts, displs, r.size(), packed, "fmi::Communicator::gatherv",
                            "receive");
        detail::check(FMI_Gatherv(s.data(), s.size(), at_root ? r.data() : nullptr,
                                  at_root ? recvcounts.data() : nullptr,
                                  at_root ? displs.data() : nullptr, dt<decltype(s)>(), root, c_),
                      "FMI_Gatherv");
    }

    /// Collective: returns every rank's `value` packed in rank order at `root` (rank i
    /// sends `recvcounts[i]` elements; `recvcounts` is only needed at the root);
    /// elsewhere an empty vector.
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> gatherv(const S &value, span<const std::size_t> recvcounts,
                                                 int root) const {
        std::size_t total = 0;
        if (rank() == root)
            for (std::size_t c : recvcounts)
                total += c;
        std::vector<detail::elem_t<const S>> out(total);
        gatherv(value, out, recvcounts, span<const std::size_t>(), root);
        return out;
    }

    /// Collective: rank i gets `sendcounts[i]` elements from `sendbuf + displs[i]` at
    /// `root` into its `recvbuf` (all of it). `sendbuf`, `sendcounts` and `displs` (empty:
    /// packed in rank order) are only used at the root.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void scatterv(const S &sendbuf, span<const std::size_t> sendcounts,
                  span<const std::size_t> displs, R &&recvbuf, int root) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        std::vector<std::size_t> packed;
        const bool at_root = rank() == root;
        if (at_root)
            displs = layout(sendcounts, displs, s.size(), packed, "fmi::Communicator::scatterv",
                            "send");
        detail::check(FMI_Scatterv(at_root ? s.data() : nullptr,
                                   at_root ? sendcounts.data() : nullptr,
                                   at_root ? displs.data() : nullptr, r.data(), r.size(),
                                   dt<decltype(s)>(), root, c_),
                      "FMI_Scatterv");
    }

    /// Collective: every rank gets rank i's `sendbuf` (`recvcounts[i]` elements) at
    /// `recvbuf + displs[i]`; the same counts (and displacements; empty: packed) on
    /// every rank.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void allgatherv(const S &sendbuf, R &&recvbuf, span<const std::size_t> recvcounts,
                    span<const std::size_t> displs = span<const std::size_t>()) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        std::vector<std::size_t> packed;
        displs = layout(recvcounts, displs, r.size(), packed, "fmi::Communicator::allgatherv",
                        "receive");
        detail::check(FMI_Allgatherv(s.data(), s.size(), r.data(), recvcounts.data(),
                                     displs.data(), dt<decltype(s)>(), c_),
                      "FMI_Allgatherv");
    }

    /// Collective: returns every rank's `value` packed in rank order (rank i sends
    /// `recvcounts[i]` elements).
    template <class S, std::enable_if_t<detail::is_buffer_v<const S>, int> = 0>
    std::vector<detail::elem_t<const S>> allgatherv(const S &value,
                                                    span<const std::size_t> recvcounts) const {
        std::size_t total = 0;
        for (std::size_t c : recvcounts)
            total += c;
        std::vector<detail::elem_t<const S>> out(total);
        allgatherv(value, out, recvcounts);
        return out;
    }

    /// Collective: `sendcounts[j]` elements at `sendbuf + sdispls[j]` go to rank j,
    /// which receives `recvcounts[i]` elements from rank i at `recvbuf + rdispls[i]`.
    /// Empty displacements: packed in rank order.
    template <class S, class R,
              std::enable_if_t<detail::is_buffer_v<const S> && detail::is_target_v<R>, int> = 0>
    void alltoallv(const S &sendbuf, span<const std::size_t> sendcounts,
                   span<const std::size_t> sdispls, R &&recvbuf,
                   span<const std::size_t> recvcounts, span<const std::size_t> rdispls) const {
        detail::same_elements<const S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        std::vector<std::size_t> spacked, rpacked;
        sdispls = layout(sendcounts, sdispls, s.size(), spacked, "fmi::Communicator::alltoallv",
                         "send");
        rdispls = layout(recvcounts, rdispls, r.size(), rpacked, "fmi::Communicator::alltoallv",
                         "receive");
        detail::check(FMI_Alltoallv(s.data(), sendcounts.data(), sdispls.data(), r.data(),
                                    recvcounts.data(), rdispls.data(), dt<decltype(s)>(), c_),
                      "FMI_Alltoallv");
    }

  private:
    // Takes `c` over, caching its rank and size; frees it if they cannot be had.
    void adopt_(FMI_Comm c) {
        int r = -1, n = 0;
        const char *call = "FMI_Comm_rank";
        int rc = FMI_Comm_rank(c, &r);
        if (rc == FMI_SUCCESS) {
            call = "FMI_Comm_size";
            rc = FMI_Comm_size(c, &n);
        }
        if (rc != FMI_SUCCESS) {
            Error e(rc, call);
            (void)FMI_Comm_free(&c);
            throw e;
        }
        c_ = c;
        rank_ = r;
        size_ = n;
    }

    void drop() noexcept {
        if (c_)
            (void)FMI_Comm_free(&c_);
        c_ = nullptr;
        rank_ = -1;
        size_ = 0;
    }

    void need(const char *call) const {
        if (!c_)
            throw Error(FMI_ERR_ARG, call, "the communicator is empty (moved from or freed)");
    }

    template <class Span>
    static constexpr FMI_Datatype dt() noexcept {
        return detail::checked_datatype<typename Span::value_type>();
    }

    template <class B>
    static auto writable(B &buf) noexcept {
        auto s = detail::as_buffer(buf);
        static_assert(!std::is_const_v<typename decltype(s)::element_type>,
                      "fmi: a receive buffer must be writable (not const)");
        return s;
    }

    /// `n` elements as `size()` equal blocks: the block size.
    std::size_t blocks(std::size_t n, const char *call) const {
        const std::size_t p = std::size_t(size());
        detail::require(n % p == 0, call,
                        "the buffer holds " + std::to_string(n) +
                            " elements, which do not divide into " + std::to_string(p) +
                            " blocks (one per rank)");
        return n / p;
    }

    void need_blocks(std::size_t have, std::size_t count, const char *call,
                     const char *which) const {
        const std::size_t want = count * std::size_t(size());
        detail::require(have >= want, call,
                        std::string("the ") + which + " buffer holds " + std::to_string(have) +
                            " elements, fewer than size() * " + std::to_string(count) + " = " +
                            std::to_string(want));
    }

    /// Checks per-rank counts and displacements against a buffer of `extent`
    /// elements; empty `displs` are computed as the packed layout (in `packed`).
    span<const std::size_t> layout(span<const std::size_t> counts, span<const std::size_t> displs,
                                   std::size_t extent, std::vector<std::size_t> &packed,
                                   const char *call, const char *which) const {
        const std::size_t p = std::size_t(size());
        detail::require(counts.size() == p, call,
                        std::string(which) + " counts have " + std::to_string(counts.size()) +
                            " entries, not one per rank (" + std::to_string(p) + ")");
        if (displs.empty()) {
            packed.resize(p);
            std::size_t at = 0;
            for (std::size_t i = 0; i < p; i++) {
                packed[i] = at;
                at += counts[i];
            }
            displs = span<const std::size_t>(packed.data(), packed.size());
        }
        detail::require(displs.size() == p, call,
                        std::string(which) + " displacements have " +
                            std::to_string(displs.size()) + " entries, not one per rank (" +
                            std::to_string(p) + ")");
        for (std::size_t i = 0; i < p; i++)
            detail::require(counts[i] == 0 || (displs[i] <= extent && counts[i] <= extent - displs[i]),
                            call,
                            std::string("block ") + std::to_string(i) + " (" +
                                std::to_string(counts[i]) + " elements at " +
                                std::to_string(displs[i]) + ") lies outside the " + which +
                                " buffer of " + std::to_string(extent) + " elements");
        return displs;
    }

    using reduce_fn = int (*)(const void *, void *, std::size_t, FMI_Datatype, FMI_Op, FMI_Comm);

    template <class S, class R, class O>
    void reduce_like(reduce_fn fn, const char *c_name, const char *cxx_name, S &sendbuf,
                     R &recvbuf, const O &op) const {
        detail::same_elements<S, R>();
        auto s = detail::as_buffer(sendbuf);
        auto r = writable(recvbuf);
        detail::require(r.size() >= s.size(), cxx_name,
                        "the receive buffer holds " + std::to_string(r.size()) +
                            " elements, fewer than the " + std::to_string(s.size()) + " sent");
        auto o = detail::op_arg<detail::elem_t<R>>(op);
        detail::check_op(fn(s.data(), r.data(), s.size(), dt<decltype(s)>(), o.handle(), c_), c_name);
    }

    template <class B, class O>
    void reduce_in_place(reduce_fn fn, const char *c_name, B &buf, const O &op) const {
        auto s = writable(buf);
        auto o = detail::op_arg<detail::elem_t<B>>(op);
        detail::check_op(fn(detail::in_place_ptr(), s.data(), s.size(), dt<decltype(s)>(),
                            o.handle(), c_),
                         c_name);
    }

    FMI_Comm c_ = nullptr;
    int rank_ = -1;
    int size_ = 0;
};

/// The channel hint of `Communicator::set_hint`.
using Hint = Communicator::Hint;

} // namespace fmi

#endif /* FMI_HPP */
