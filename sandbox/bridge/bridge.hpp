// Values as data between a C++ program and its trusted test process (see sandbox/cpp_bridge.py).
// The program's process only answers calls ("call the entry function with these arguments");
// the test process holds the test, its expected values and its verdict. Values cross as bytes
// of the declared types and are rebuilt there, so nothing of the program's (an operator==, a
// macro, a class) takes part in a comparison.
//
// Appended after the program or after the test's declarations: it declares nothing outside
// `referee_bridge`. Only the per-type encoding is here; the pipes and the call loop are in
// bridge_runtime.cpp, compiled once per host (a header-only bridge doubled a small build).
// Light headers only: containers are recognised by their member types, not by name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace referee_bridge {

struct Buffer {  // a growable byte buffer with a read position (bridge_runtime.cpp)
    char *data = nullptr;
    std::size_t size = 0, capacity = 0, at = 0;
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer();
};
void put_bytes(Buffer &out, const void *bytes, std::size_t n);
void get_bytes(Buffer &in, void *bytes, std::size_t n);  // ends the process on a short value
std::uint64_t get_count(Buffer &in);                   // a count no longer than what is left
int serve(void (*answer)(Buffer &in, Buffer &out));     // the program's side: until the test ends
void call(const Buffer &args, Buffer &reply);           // the test's side: throws what the program threw

template <class T, class = void> struct has_key : std::false_type {};
template <class T> struct has_key<T, std::void_t<typename T::key_type>> : std::true_type {};
template <class T, class = void> struct has_mapped : std::false_type {};
template <class T> struct has_mapped<T, std::void_t<typename T::mapped_type>> : std::true_type {};
template <class T, class = void> struct is_sequence : std::false_type {};  // vector, deque, list
template <class T>
struct is_sequence<T, std::void_t<typename T::value_type, decltype(std::declval<T &>().push_back(
                          std::declval<typename T::value_type>()))>> : std::true_type {};
template <class T, class = void> struct is_pair : std::false_type {};
template <class T>
struct is_pair<T, std::void_t<typename T::first_type, typename T::second_type>>
    : std::is_same<T, std::pair<typename T::first_type, typename T::second_type>> {};
template <class T> struct unsupported : std::false_type {};

template <class T> void put(Buffer &out, const T &value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
        put_bytes(out, &value, sizeof value);
    } else if constexpr (std::is_same_v<T, std::string>) {
        std::uint64_t n = value.size();
        put_bytes(out, &n, sizeof n);
        put_bytes(out, value.data(), value.size());
    } else if constexpr (has_key<T>::value && has_mapped<T>::value) {  // map, unordered_map
        std::uint64_t n = value.size();
        put_bytes(out, &n, sizeof n);
        for (const auto &item : value) { put(out, item.first); put(out, item.second); }
    } else if constexpr (has_key<T>::value || is_sequence<T>::value) {  // set, unordered_set; vector
        std::uint64_t n = value.size();
        put_bytes(out, &n, sizeof n);
        for (const auto &item : value) put(out, static_cast<typename T::value_type>(item));
    } else if constexpr (is_pair<T>::value) {
        put(out, value.first);
        put(out, value.second);
    } else {
        static_assert(unsupported<T>::value, "this type cannot cross between the program and its test");
    }
}

template <class T> T get(Buffer &in) {
    if constexpr (std::is_same_v<T, bool>) {
        unsigned char byte;
        get_bytes(in, &byte, 1);
        return byte != 0;
    } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
        T value;
        get_bytes(in, &value, sizeof value);
        return value;
    } else if constexpr (std::is_same_v<T, std::string>) {
        std::string value(get_count(in), '\0');
        get_bytes(in, value.data(), value.size());
        return value;
    } else if constexpr (has_key<T>::value && has_mapped<T>::value) {
        T value;
        for (std::uint64_t n = get_count(in); n; --n) {
            auto key = get<typename T::key_type>(in);
            value.emplace(std::move(key), get<typename T::mapped_type>(in));
        }
        return value;
    } else if constexpr (has_key<T>::value) {
        T value;
        for (std::uint64_t n = get_count(in); n; --n) value.insert(get<typename T::value_type>(in));
        return value;
    } else if constexpr (is_sequence<T>::value) {
        T value;
        for (std::uint64_t n = get_count(in); n; --n) value.push_back(get<typename T::value_type>(in));
        return value;
    } else if constexpr (is_pair<T>::value) {
        auto first = get<typename T::first_type>(in);
        return T(std::move(first), get<typename T::second_type>(in));
    } else {
        static_assert(unsupported<T>::value, "this type cannot cross between the program and its test");
    }
}

}  // namespace referee_bridge
