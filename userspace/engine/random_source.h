// Unpredictable values for flow IDs, ISSs and nonces: bytes from the
// kernel's CSPRNG (getrandom), fetched in blocks so a new flow costs no
// system call most of the time. One instance per worker thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace svxlat::engine {

class RandomSource {
public:
    void fill(std::span<std::uint8_t> out);
    std::uint32_t next_u32();
    // Uniform in [0, bound) for bound > 0 (Lemire's multiply-shift, bias
    // below 2^-32 per draw, irrelevant for load balancing).
    std::uint32_t uniform(std::uint32_t bound);

private:
    void refill();
    std::array<std::uint8_t, 4096> pool_{};
    std::size_t used_ = pool_.size();
};

} // namespace svxlat::engine
