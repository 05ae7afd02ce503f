// Hashing for the engine's and the router's hash tables.
#pragma once

#include <cstdint>

namespace svxlat {

// splitmix64's finaliser: every input bit reaches the low bits a bucket
// index is taken from (keys often differ in a few bytes only). Tables mix a
// random seed in first, so a remote sender cannot choose the bucket.
constexpr std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

} // namespace svxlat
