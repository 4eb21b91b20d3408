// The pipes and the call loop of the C++ bridge (see bridge.hpp): compiled once per host by the
// service, from this fixed source, and linked into the program's and the test's executables.
// Raw system calls: the program may define its own `read` or `write`.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "bridge.hpp"

namespace referee_bridge {
namespace {

long sys3(long number, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
[[noreturn]] void leave(int status) {
    sys3(231, status, 0, 0);  // exit_group
    __builtin_unreachable();
}

bool read_exact(int fd, char *buf, std::size_t n) {
    while (n) {
        long got = sys3(0, fd, (long)buf, (long)n);
        if (got == -4) continue;  // EINTR
        if (got <= 0) return false;
        buf += got;
        n -= (std::size_t)got;
    }
    return true;
}
bool write_all(int fd, const char *buf, std::size_t n) {
    while (n) {
        long put = sys3(1, fd, (long)buf, (long)n);
        if (put == -4) continue;
        if (put <= 0) return false;
        buf += put;
        n -= (std::size_t)put;
    }
    return true;
}

[[noreturn]] void gone(const char *why) {  // the test's stderr carries the reason to its verdict
    write_all(2, "referee: ", 9);
    write_all(2, why, std::strlen(why));
    write_all(2, "\n", 1);
    leave(86);
}

constexpr std::uint32_t kMaxFrame = 64u << 20;
constexpr int kCallsIn = 3, kResultsOut = 5;  // the program's side
constexpr int kToProgram = 3, kFromProgram = 4;  // the test's side

void reserve(Buffer &buffer, std::size_t n) {
    if (n <= buffer.capacity) return;
    std::size_t capacity = buffer.capacity ? buffer.capacity : 256;
    while (capacity < n) capacity *= 2;
    char *data = static_cast<char *>(std::realloc(buffer.data, capacity));
    if (!data) gone("out of memory in the bridge");
    buffer.data = data;
    buffer.capacity = capacity;
}

bool send_frame(int fd, const Buffer &buffer) {
    if (buffer.size > kMaxFrame) return false;
    std::uint32_t n = (std::uint32_t)buffer.size;
    return write_all(fd, reinterpret_cast<const char *>(&n), sizeof n) && write_all(fd, buffer.data, buffer.size);
}
bool recv_frame(int fd, Buffer &buffer) {
    std::uint32_t n;
    if (!read_exact(fd, reinterpret_cast<char *>(&n), sizeof n) || n > kMaxFrame) return false;
    reserve(buffer, n);
    buffer.size = n;
    buffer.at = 0;
    return read_exact(fd, buffer.data, n);
}

}  // namespace

Buffer::~Buffer() { std::free(data); }

void put_bytes(Buffer &out, const void *bytes, std::size_t n) {
    reserve(out, out.size + n);
    std::memcpy(out.data + out.size, bytes, n);
    out.size += n;
}

void get_bytes(Buffer &in, void *bytes, std::size_t n) {
    if (n > in.size - in.at) gone("a value ended early");
    std::memcpy(bytes, in.data + in.at, n);
    in.at += n;
}

std::uint64_t get_count(Buffer &in) {
    std::uint64_t n;
    get_bytes(in, &n, sizeof n);
    if (n > in.size - in.at) gone("a count longer than the value");
    return n;
}

int serve(void (*answer)(Buffer &in, Buffer &out)) {
    for (;;) {
        Buffer in, out;
        if (!recv_frame(kCallsIn, in)) return 0;  // the test is over
        const char ok = 0, threw = 1;
        put_bytes(out, &ok, 1);
        try {
            answer(in, out);
        } catch (const std::exception &err) {
            out.size = 0;
            put_bytes(out, &threw, 1);
            put_bytes(out, err.what(), std::strlen(err.what()));
        } catch (...) {
            out.size = 0;
            put_bytes(out, &threw, 1);
            const char *what = "an exception that is not a std::exception";
            put_bytes(out, what, std::strlen(what));
        }
        if (!send_frame(kResultsOut, out)) return 0;
    }
}

void call(const Buffer &args, Buffer &reply) {
    if (!send_frame(kToProgram, args) || !recv_frame(kFromProgram, reply) || reply.size == 0)
        gone("the program exited during the tests");
    reply.at = 1;
    if (reply.data[0] != 0)
        throw std::runtime_error("the program threw: " + std::string(reply.data + 1, reply.size - 1 < 400 ? reply.size - 1 : 400));
}

}  // namespace referee_bridge
