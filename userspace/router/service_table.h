// SPDX-License-Identifier: GPL-2.0 OR MIT
// The service router's table (docs/router.md, protocol sections 11, 12 and
// 14.4): entries keyed by a service-ID prefix (0..256 bits), each holding
// FORWARD targets; resolution is a longest-prefix match, then a weighted
// random choice in the highest-priority group of live targets.
//
// Storage: one hash map per prefix length plus the list of lengths in use,
// longest first. A lookup masks the ID once per length in use and probes that
// map, so it costs O(number of distinct prefix lengths) hash probes (in
// practice 1..3: full IDs, a few service groups, the default route),
// independent of the number of entries. A one-bit-per-level trie would chase
// up to 256 pointers per lookup.
//
// Threads: resolve() is called from several packet workers while
// registrations and expiry run. A std::shared_mutex guards the table:
// resolutions share it, updates take it exclusively. Updates are O(1) (no
// copy of the table per registration, as an atomically swapped immutable
// snapshot would need), and the per-target "chosen" counters are relaxed
// atomics that readers bump under the shared lock.
//
// Time is always passed in (`now`), so tests drive expiry without sleeping.
//
// Include as "router/service_table.h" (link svxlat_router).
#ifndef SVXLAT_ROUTER_SERVICE_TABLE_H
#define SVXLAT_ROUTER_SERVICE_TABLE_H

#include <svxlat/reg.h>
#include <svxlat/route.h>
#include <svxlat/sid.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace svxlat::router {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
// Bytes in wire order: 10.77.1.2 is {10, 77, 1, 2}.
using Ipv4Address = std::array<std::uint8_t, 4>;

// servd's timers (section 14.4); both are settable (ServiceTable::Options,
// the host agent's configuration).
inline constexpr std::chrono::seconds kDefaultRefreshInterval{SVX_REG_DEFAULT_REFRESH_SEC};
inline constexpr std::chrono::seconds kDefaultRegistrationLifetime{SVX_REG_DEFAULT_EXPIRY_SEC};
// What a registration installs (section 11.1): priority 0, weight 0 stored as 1.
inline constexpr std::uint32_t kRegistrationPriority = 0;
inline constexpr std::uint32_t kRegistrationWeight = 1;
// `serv service add` defaults for configured targets.
inline constexpr std::uint32_t kStaticPriority = 1;
inline constexpr unsigned kMaxPrefixBits = SVX_SID_BITS;

enum class TargetOrigin : std::uint8_t { static_config, registration };

std::string_view to_string(TargetOrigin origin);

struct ResolveResult {
    enum class Status : std::uint8_t {
        ok,             // target is the chosen address
        no_entry,       // no prefix matches the ID
        no_live_target, // the longest match has no live target; shorter ones are NOT tried
    };
    Status status = Status::no_entry;
    Ipv4Address target{};
    unsigned matched_bits = 0; // prefix length of the longest match (not no_entry)

    bool ok() const { return status == Status::ok; }
};

std::string_view to_string(ResolveResult::Status status);

enum class RegistrationOutcome : std::uint8_t {
    added,           // new registration target
    refreshed,       // known (prefix, address): timer restarted
    moved,           // REREGISTER from a new address: the old target now points there
    removed,         // UNREGISTER removed the target
    not_found,       // UNREGISTER of a (prefix, address) with no registration target
    static_kept,     // the address is a static target there: left as configured
    refused_default, // the all-zero (default) service ID cannot be registered
    table_full,      // Options::max_entries / max_targets_per_entry reached
};

std::string_view to_string(RegistrationOutcome outcome);

// One row of snapshot().
struct TargetInfo {
    Ipv4Address address{};
    std::uint32_t priority = 0;
    std::uint32_t weight = 1;
    TargetOrigin origin = TargetOrigin::static_config;
    Clock::duration age{}; // since the target was added
    std::optional<Clock::duration>
        remaining{};          // lifetime left; none for static (negative: expired)
    std::uint64_t chosen = 0; // times resolve() picked it
};

struct EntryInfo {
    svx_sid prefix{}; // masked to bits
    unsigned bits = 0;
    Clock::duration age{};           // since the entry was created
    std::vector<TargetInfo> targets; // highest priority first, then by address
};

class ServiceTable {
public:
    struct Options {
        Clock::duration registration_lifetime = kDefaultRegistrationLifetime;
        std::size_t max_entries = std::size_t{1} << 20;
        std::size_t max_targets_per_entry = 1024;
    };

    ServiceTable();
    explicit ServiceTable(const Options& options);
    ServiceTable(const ServiceTable&) = delete;
    ServiceTable& operator=(const ServiceTable&) = delete;
    ~ServiceTable();

    // Adds the static FORWARD target address to (id / bits), or replaces its
    // priority and weight (weight 0 is stored as 1) when the address is there
    // already; a registration target with that address becomes static. The
    // ID is masked to bits. False when bits > 256 or a limit is reached.
    bool add_static(const svx_sid& id, unsigned bits, const Ipv4Address& address,
                    std::uint32_t priority, std::uint32_t weight, TimePoint now);

    // Removes the target address of the exact entry (id / bits), whatever its
    // origin; the entry goes with its last target. False when absent.
    bool remove_target(const svx_sid& id, unsigned bits, const Ipv4Address& address);

    // A parsed REGISTER / UNREGISTER (svx_reg_datagram_parse) whose datagram
    // came from source (its IP source address). REGISTER adds or refreshes a
    // target {source, priority 0, weight 1, expiry now + lifetime}; with
    // REREGISTER and a registration target at msg.addr, that target moves to
    // source (timer restarted), otherwise it is a REGISTER. UNREGISTER removes
    // the registration target source at once. msg.prefix_bits is 1..256 (0
    // or more than 256 are taken as 256, the wire's meaning of 0).
    RegistrationOutcome apply_registration(const svx_reg_msg& msg, const Ipv4Address& source,
                                           TimePoint now);

    // Longest-prefix match on id, then among the entry's live targets (no
    // expiry, or expiry after now) those of the highest priority, and one of
    // them with probability weight / sum of weights. random is a uniform
    // 64-bit value from the caller (the same value gives the same choice).
    ResolveResult resolve(const svx_sid& id, TimePoint now, std::uint64_t random) const;

    template <std::uniform_random_bit_generator Generator>
    ResolveResult resolve(const svx_sid& id, TimePoint now, Generator& generator) const {
        return resolve(id, now, std::uniform_int_distribution<std::uint64_t>{}(generator));
    }

    // Removes every target whose expiry is at or before now (and entries left
    // empty). Returns the number of targets removed.
    std::size_t expire(TimePoint now);

    // Entries ordered by prefix length (longest first), then by ID.
    std::vector<EntryInfo> snapshot(TimePoint now) const;

    std::size_t entry_count() const;
    std::size_t target_count() const;

    // Bumped by every change of what resolve() can return: a target added,
    // removed, moved or reweighted, an expiry; not by a refresh. svxlatd
    // pushes the table to svxlat.ko when it moves (routes()).
    std::uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }

    // The whole table as the kernel module's immutable table takes it
    // (svx_route_table order, every stored target with expires 0): call
    // expire() first, the module does not expire targets itself.
    struct Routes {
        std::vector<svx_route_entry> entries;
        std::vector<svx_route_target> targets;
    };
    Routes routes() const;

    // A cap on targets over all entries (besides Options), for a table the
    // kernel module mirrors: registrations beyond it are refused (table_full).
    void limit_total_targets(std::size_t max_targets);

    const Options& options() const { return options_; }

private:
    struct Key {
        std::array<std::uint8_t, SVX_SID_LEN> b{};
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept;
    };
    // Relaxed counter that can live in a vector (copied only under the
    // exclusive lock).
    struct Counter {
        mutable std::atomic<std::uint64_t> value{0};
        Counter() = default;
        Counter(const Counter& other) : value(other.value.load(std::memory_order_relaxed)) {}
        Counter& operator=(const Counter& other) {
            value.store(other.value.load(std::memory_order_relaxed), std::memory_order_relaxed);
            return *this;
        }
    };
    // What a target is beyond what svx_route_pick() reads.
    struct TargetMeta {
        TargetOrigin origin = TargetOrigin::static_config;
        TimePoint added{};
        Counter chosen;
    };
    // targets[i] and meta[i] describe one target: svx_route_pick() reads
    // the first array as it is. expires is steady_clock nanoseconds, 0 for
    // a static target.
    struct Entry {
        TimePoint created{};
        std::vector<svx_route_target> targets;
        std::vector<TargetMeta> meta;
    };
    using Map = std::unordered_map<Key, Entry, KeyHash>;

    static Key make_key(const svx_sid& id, unsigned bits);
    Entry* find_exact(const Key& key, unsigned bits);
    // Creates the entry when absent; nullptr when max_entries is reached.
    Entry* find_or_create(const Key& key, unsigned bits, TimePoint now);
    void erase_entry(const Key& key, unsigned bits);
    // Index of address among entry's targets, or -1.
    static std::ptrdiff_t find_target(const Entry& entry, const Ipv4Address& address);
    // Appends a target; false when the entry is at max_targets_per_entry.
    bool add_target(Entry& entry, const Ipv4Address& address, TargetOrigin origin, TimePoint now);
    void erase_target(Entry& entry, std::size_t index);
    void changed() { generation_.fetch_add(1, std::memory_order_relaxed); }

    Options options_;
    mutable std::shared_mutex mutex_;
    std::array<Map, kMaxPrefixBits + 1> by_length_;
    std::vector<unsigned> lengths_; // lengths with entries, descending
    std::size_t entries_ = 0;
    std::size_t targets_ = 0;
    std::size_t max_targets_ = SIZE_MAX;
    std::atomic<std::uint64_t> generation_{0};
};

} // namespace svxlat::router

#endif // SVXLAT_ROUTER_SERVICE_TABLE_H
