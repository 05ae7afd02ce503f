// SPDX-License-Identifier: GPL-2.0 OR MIT
// Counters of the NFQUEUE glue: written by the one thread that owns the
// queue or injector, read by any thread (the stats reporter, `svxlat`).
//
// Include as "nfq/counter.h" (link svxlat_nfq).
#ifndef SVXLAT_NFQ_COUNTER_H
#define SVXLAT_NFQ_COUNTER_H

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace svxlat::nfq {

// A counter's name (snake_case, stable: scripts parse it) and a one-line
// explanation for operators.
struct CounterInfo {
    std::string_view name;
    std::string_view description;
};

// Single-writer counter. The owner adds with a relaxed load + store, which
// compiles to a plain add (no locked instruction on the packet path); other
// threads read a value that is at worst slightly old, never torn.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// A fixed set of counters indexed by an enum whose last value is `count`.
template <class Enum> class CounterSet {
public:
    static constexpr std::size_t size = static_cast<std::size_t>(Enum::count);
    using Snapshot = std::array<std::uint64_t, size>;

    void add(Enum which, std::uint64_t n = 1) noexcept {
        counters_[static_cast<std::size_t>(which)].add(n);
    }
    std::uint64_t get(Enum which) const noexcept {
        return counters_[static_cast<std::size_t>(which)].get();
    }
    Snapshot snapshot() const noexcept {
        Snapshot values{};
        for (std::size_t i = 0; i < size; ++i)
            values[i] = counters_[i].get();
        return values;
    }

private:
    std::array<Counter, size> counters_{};
};

} // namespace svxlat::nfq

#endif // SVXLAT_NFQ_COUNTER_H
