#include "engine/random_source.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace svxlat::engine {

void RandomSource::refill() {
    std::size_t got = 0;
    while (got < pool_.size()) {
        ssize_t n = getrandom(pool_.data() + got, pool_.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
    used_ = 0;
}

void RandomSource::fill(std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
        if (used_ == pool_.size())
            refill();
        std::size_t n = std::min(out.size() - done, pool_.size() - used_);
        std::memcpy(out.data() + done, pool_.data() + used_, n);
        used_ += n;
        done += n;
    }
}

std::uint32_t RandomSource::next_u32() {
    std::uint32_t v = 0;
    fill({reinterpret_cast<std::uint8_t*>(&v), sizeof(v)});
    return v;
}

std::uint32_t RandomSource::uniform(std::uint32_t bound) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(next_u32()) * bound) >> 32);
}

} // namespace svxlat::engine
