#include "engine/flow_table.h"

#include "common/hash.h"

#include <cstring>

namespace svxlat::engine {
namespace {


std::uint32_t load32(const Ipv4& a) {
    std::uint32_t v = 0;
    std::memcpy(&v, a.data(), 4);
    return v;
}

std::uint64_t random_seed() {
    RandomSource random;
    return static_cast<std::uint64_t>(random.next_u32()) << 32 | random.next_u32();
}

} // namespace

TcpKey tcp_key_of(const svx_flow& flow) {
    TcpKey key;
    std::memcpy(key.remote_addr.data(), flow.tcp_remote_addr, 4);
    std::memcpy(key.self_addr.data(), flow.tcp_self_addr, 4);
    key.remote_port = flow.tcp_remote_port;
    key.self_port = flow.tcp_self_port;
    return key;
}

std::size_t FlowTable::KeyHash::operator()(const TcpKey& k) const {
    std::uint64_t a = static_cast<std::uint64_t>(load32(k.remote_addr)) << 32 | load32(k.self_addr);
    std::uint64_t b = static_cast<std::uint64_t>(k.remote_port) << 16 | k.self_port;
    return mix64(mix64(a ^ seed) ^ b);
}

std::size_t FlowTable::KeyHash::operator()(const PeerKey& k) const {
    return mix64((static_cast<std::uint64_t>(load32(k.peer_addr)) << 32 | k.peer_flow) ^ seed);
}

std::size_t FlowTable::KeyHash::operator()(std::uint32_t k) const { return mix64(k ^ seed); }

FlowTable::FlowTable(unsigned shard, unsigned shard_count, const FlowLimits& limits,
                     std::uint16_t flow_port_low, std::uint16_t flow_port_high)
    : shard_(shard), shard_count_(shard_count ? shard_count : 1), limits_(limits),
      port_low_(flow_port_low), port_high_(flow_port_high), hash_{random_seed()},
      by_tcp_(16, hash_), by_local_(16, hash_), by_peer_(16, hash_),
      port_used_(static_cast<std::size_t>(flow_port_high) + 1, false) {}

FlowEntry* FlowTable::find_tcp(const TcpKey& key) {
    auto it = by_tcp_.find(key);
    return it == by_tcp_.end() ? nullptr : it->second;
}

FlowEntry* FlowTable::find_local(std::uint32_t local_flow) {
    auto it = by_local_.find(local_flow);
    return it == by_local_.end() ? nullptr : it->second;
}

FlowEntry* FlowTable::find_peer(const PeerKey& key) {
    auto it = by_peer_.find(key);
    return it == by_peer_.end() ? nullptr : it->second;
}

FlowEntry* FlowTable::take_free_entry() {
    FlowEntry* e;
    if (!free_.empty()) {
        e = free_.back();
        free_.pop_back();
    } else {
        e = &storage_.emplace_back();
    }
    *e = FlowEntry{};
    return e;
}

bool FlowTable::insert(FlowEntry* entry, std::optional<PeerKey> peer_key) {
    TcpKey key = tcp_key_of(entry->flow);
    if (by_tcp_.contains(key) || by_local_.contains(entry->flow.local_flow) ||
        (peer_key && by_peer_.contains(*peer_key))) {
        free_.push_back(entry);
        return false;
    }
    by_tcp_.emplace(key, entry);
    by_local_.emplace(entry->flow.local_flow, entry);
    if (peer_key) {
        by_peer_.emplace(*peer_key, entry);
        entry->has_peer_key = true;
        entry->peer_key = *peer_key;
    }
    if (entry->flow.role == SVX_ROLE_HOST && entry->flow.tcp_self_port <= port_high_)
        port_used_[entry->flow.tcp_self_port] = true;
    entry->in_use = true;
    ++size_;
    touch(entry);
    return true;
}

void FlowTable::unlink(FlowEntry* e) {
    if (e->list < 0)
        return;
    List& l = lists_[e->list];
    (e->prev ? e->prev->next : l.head) = e->next;
    (e->next ? e->next->prev : l.tail) = e->prev;
    e->prev = e->next = nullptr;
    --l.count;
    e->list = -1;
}

void FlowTable::link_tail(FlowEntry* e, int cls) {
    List& l = lists_[cls];
    e->prev = l.tail;
    e->next = nullptr;
    (l.tail ? l.tail->next : l.head) = e;
    l.tail = e;
    ++l.count;
    e->list = static_cast<std::int8_t>(cls);
}

void FlowTable::update_timer(FlowEntry* e) {
    bool wanted = e->in_use && e->flow.ctl_pending != 0;
    if (wanted == e->on_timer_list)
        return;
    if (wanted) {
        e->timer_prev = nullptr;
        e->timer_next = timer_head_;
        if (timer_head_)
            timer_head_->timer_prev = e;
        timer_head_ = e;
    } else {
        (e->timer_prev ? e->timer_prev->timer_next : timer_head_) = e->timer_next;
        if (e->timer_next)
            e->timer_next->timer_prev = e->timer_prev;
        e->timer_prev = e->timer_next = nullptr;
    }
    e->on_timer_list = wanted;
}

void FlowTable::touch(FlowEntry* entry) {
    unlink(entry);
    link_tail(entry, svx_flow_timeout_class(static_cast<svx_flow_state>(entry->flow.state)));
    update_timer(entry);
}

void FlowTable::remove(FlowEntry* entry) {
    if (!entry->in_use)
        return;
    unlink(entry);
    entry->in_use = false;
    update_timer(entry);
    by_tcp_.erase(tcp_key_of(entry->flow));
    by_local_.erase(entry->flow.local_flow);
    if (entry->has_peer_key)
        by_peer_.erase(entry->peer_key);
    if (entry->flow.role == SVX_ROLE_HOST && entry->flow.tcp_self_port <= port_high_)
        port_used_[entry->flow.tcp_self_port] = false;
    --size_;
    free_.push_back(entry);
}

std::uint32_t FlowTable::new_local_flow(RandomSource& random) {
    for (;;) {
        std::uint32_t id = random.next_u32();
        id = id - id % shard_count_ + shard_;
        if (id != 0 && !by_local_.contains(id))
            return id;
    }
}

std::optional<std::uint16_t> FlowTable::new_flow_port(RandomSource& random) {
    // Ports of this shard: low..high with port % shard_count == shard.
    unsigned first = port_low_ + (shard_ + shard_count_ - port_low_ % shard_count_) % shard_count_;
    if (first > port_high_)
        return std::nullopt;
    unsigned slots = (port_high_ - first) / shard_count_ + 1;
    unsigned start = random.uniform(slots);
    for (unsigned i = 0; i < slots; ++i) {
        unsigned port = first + ((start + i) % slots) * shard_count_;
        if (!port_used_[port])
            return static_cast<std::uint16_t>(port);
    }
    return std::nullopt;
}

} // namespace svxlat::engine
