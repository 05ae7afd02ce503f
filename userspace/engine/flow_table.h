// The user-space engine's flow table: one instance per worker (shard), so no
// locking on the packet path except the short lock the control thread takes
// to list flows. Flows are found by their TCP 4-tuple, by their local SAL
// flow ID and (host agent) by the peer's (address, flow ID). Expiry walks
// time-ordered lists (one per timeout class), never the whole table.
#pragma once

#include "engine/random_source.h"

#include <svxlat/flow.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

namespace svxlat::engine {

using Ipv4 = std::array<std::uint8_t, 4>;

struct TcpKey {
    Ipv4 remote_addr{};
    Ipv4 self_addr{};
    std::uint16_t remote_port = 0;
    std::uint16_t self_port = 0;
    bool operator==(const TcpKey&) const = default;
};

struct PeerKey {
    Ipv4 peer_addr{};
    std::uint32_t peer_flow = 0;
    bool operator==(const PeerKey&) const = default;
};

TcpKey tcp_key_of(const svx_flow& flow);

struct FlowEntry {
    svx_flow flow{};
    FlowEntry* prev = nullptr; // in the list of its timeout class, oldest first
    FlowEntry* next = nullptr;
    FlowEntry* timer_prev = nullptr; // in the list of flows with a pending SAL control packet
    FlowEntry* timer_next = nullptr;
    std::int8_t list = -1;
    bool on_timer_list = false;
    bool in_use = false;
    bool has_peer_key = false;
    PeerKey peer_key{};
};

struct FlowLimits {
    std::size_t max_flows = 262144;
    std::size_t max_embryonic = 65536;
    std::array<std::uint64_t, SVX_TO__COUNT> timeout_ms{30'000, 7'440'000, 120'000, 60'000};
};

class FlowTable {
public:
    FlowTable(unsigned shard, unsigned shard_count, const FlowLimits& limits,
              std::uint16_t flow_port_low, std::uint16_t flow_port_high);
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    FlowEntry* find_tcp(const TcpKey& key);
    FlowEntry* find_local(std::uint32_t local_flow);
    FlowEntry* find_peer(const PeerKey& key);

    enum class AdmitResult { admitted, evicted_embryonic, table_full };
    // A free entry for a new (embryonic) flow. When the embryonic limit is
    // reached the oldest embryonic flow is evicted (a SYN flood of spoofed
    // sources churns embryonic flows only); established flows are never
    // evicted: a full table refuses the new flow instead. The evicted flow
    // is handed to on_evict before its entry is reused.
    template <typename OnEvict>
    FlowEntry* allocate(AdmitResult& result, OnEvict&& on_evict) {
        result = AdmitResult::admitted;
        if (embryonic_count() >= limits_.max_embryonic && lists_[SVX_TO_EMBRYONIC].head) {
            FlowEntry* victim = lists_[SVX_TO_EMBRYONIC].head;
            on_evict(*victim);
            remove(victim);
            result = AdmitResult::evicted_embryonic;
        }
        if (size_ >= limits_.max_flows) {
            result = AdmitResult::table_full;
            return nullptr;
        }
        return take_free_entry();
    }

    // Registers an initialised flow under its keys; false (and the entry is
    // released) when a key is already taken.
    bool insert(FlowEntry* entry, std::optional<PeerKey> peer_key);
    // Call after every state-machine call on the flow: moves it to the tail
    // of its timeout class and updates its timer membership.
    void touch(FlowEntry* entry);
    void remove(FlowEntry* entry);

    // A fresh local flow ID: nonzero, unused, and == shard (mod shard count)
    // so that the steering rules send the SAL side to this worker's queue.
    std::uint32_t new_local_flow(RandomSource& random);
    // A free per-flow port for the host agent, == shard (mod shard count).
    std::optional<std::uint16_t> new_flow_port(RandomSource& random);

    // Removes flows idle past their class timeout, oldest first; on_expired
    // sees each before removal. Returns how many expired.
    template <typename OnExpired>
    std::size_t expire(std::uint64_t now_ms, OnExpired&& on_expired) {
        std::size_t expired = 0;
        for (int cls = 0; cls < SVX_TO__COUNT; ++cls) {
            while (FlowEntry* head = lists_[cls].head) {
                if (head->flow.last_ms + limits_.timeout_ms[cls] > now_ms)
                    break;
                on_expired(*head);
                remove(head);
                ++expired;
            }
        }
        return expired;
    }

    template <typename Fn> void for_each_timer(Fn&& fn) {
        for (FlowEntry* e = timer_head_; e;) {
            FlowEntry* next = e->timer_next;
            fn(*e);
            e = next;
        }
    }

    template <typename Fn> void for_each(Fn&& fn) const {
        for (const auto& list : lists_)
            for (const FlowEntry* e = list.head; e; e = e->next)
                fn(*e);
    }
    template <typename Fn> void for_each_mutable(Fn&& fn) {
        for (auto& list : lists_)
            for (FlowEntry* e = list.head; e; e = e->next)
                fn(*e);
    }

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t embryonic_count() const { return lists_[SVX_TO_EMBRYONIC].count; }
    [[nodiscard]] std::size_t count_in(svx_timeout cls) const { return lists_[cls].count; }
    [[nodiscard]] const FlowLimits& limits() const { return limits_; }
    void set_limits(const FlowLimits& limits) { limits_ = limits; }

private:
    struct List {
        FlowEntry* head = nullptr;
        FlowEntry* tail = nullptr;
        std::size_t count = 0;
    };
    struct KeyHash {
        std::uint64_t seed;
        std::size_t operator()(const TcpKey& k) const;
        std::size_t operator()(const PeerKey& k) const;
        std::size_t operator()(std::uint32_t k) const;
    };

    FlowEntry* take_free_entry();
    void unlink(FlowEntry* e);
    void link_tail(FlowEntry* e, int cls);
    void update_timer(FlowEntry* e);

    unsigned shard_;
    unsigned shard_count_;
    FlowLimits limits_;
    std::uint16_t port_low_;
    std::uint16_t port_high_;
    std::deque<FlowEntry> storage_; // stable addresses
    std::vector<FlowEntry*> free_;
    std::size_t size_ = 0;
    std::array<List, SVX_TO__COUNT> lists_{};
    FlowEntry* timer_head_ = nullptr;
    KeyHash hash_;
    std::unordered_map<TcpKey, FlowEntry*, KeyHash> by_tcp_;
    std::unordered_map<std::uint32_t, FlowEntry*, KeyHash> by_local_;
    std::unordered_map<PeerKey, FlowEntry*, KeyHash> by_peer_;
    std::vector<bool> port_used_;
};

} // namespace svxlat::engine
