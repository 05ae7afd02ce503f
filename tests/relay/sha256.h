// SPDX-License-Identifier: GPL-2.0 OR MIT
// SHA-256 (FIPS 180-4) for the relay tests: both ends of a transfer hash
// what they sent and what they received. Test-only; not constant time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace svxlat::relay::test {

class Sha256 {
public:
    Sha256();
    void update(std::span<const std::uint8_t> data);
    // Lowercase hex of the digest; the object is spent afterwards.
    std::string hex_digest();

private:
    void block(const std::uint8_t* p);
    std::array<std::uint32_t, 8> h_{};
    std::array<std::uint8_t, 64> buf_{};
    std::size_t used_ = 0;
    std::uint64_t length_ = 0; // bytes
};

} // namespace svxlat::relay::test
