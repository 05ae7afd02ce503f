// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "router/service_table.h"

#include "common/hash.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace svxlat::router {

std::string_view to_string(TargetOrigin origin) {
    switch (origin) {
    case TargetOrigin::static_config:
        return "static";
    case TargetOrigin::registration:
        return "registration";
    }
    return "?";
}

std::string_view to_string(ResolveResult::Status status) {
    switch (status) {
    case ResolveResult::Status::ok:
        return "ok";
    case ResolveResult::Status::no_entry:
        return "no entry";
    case ResolveResult::Status::no_live_target:
        return "no live target";
    }
    return "?";
}

std::string_view to_string(RegistrationOutcome outcome) {
    switch (outcome) {
    case RegistrationOutcome::added:
        return "added";
    case RegistrationOutcome::refreshed:
        return "refreshed";
    case RegistrationOutcome::moved:
        return "moved";
    case RegistrationOutcome::removed:
        return "removed";
    case RegistrationOutcome::not_found:
        return "not found";
    case RegistrationOutcome::static_kept:
        return "static target kept";
    case RegistrationOutcome::refused_default:
        return "default service refused";
    case RegistrationOutcome::table_full:
        return "table full";
    }
    return "?";
}

namespace {


// floor(random * total / 2^64): a uniform point in [0, total).
std::uint64_t scale(std::uint64_t random, std::uint64_t total) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(random) * total) >> 64);
}

bool is_default_id(const svx_sid& id) {
    static constexpr svx_sid zero{};
    return svx_sid_cmp(&id, &zero) == 0;
}

} // namespace

std::size_t ServiceTable::KeyHash::operator()(const Key& key) const noexcept {
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < key.b.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, key.b.data() + i, sizeof w);
        h = mix64(h ^ w);
    }
    return static_cast<std::size_t>(h);
}

ServiceTable::ServiceTable() : ServiceTable(Options{}) {}
ServiceTable::ServiceTable(const Options& options) : options_(options) {}
ServiceTable::~ServiceTable() = default;

ServiceTable::Key ServiceTable::make_key(const svx_sid& id, unsigned bits) {
    svx_sid masked = id;
    svx_sid_mask(&masked, bits);
    Key key;
    std::memcpy(key.b.data(), masked.b, SVX_SID_LEN);
    return key;
}

ServiceTable::Entry* ServiceTable::find_exact(const Key& key, unsigned bits) {
    auto it = by_length_[bits].find(key);
    return it == by_length_[bits].end() ? nullptr : &it->second;
}

ServiceTable::Entry* ServiceTable::find_or_create(const Key& key, unsigned bits, TimePoint now) {
    if (Entry* e = find_exact(key, bits))
        return e;
    if (entries_ >= options_.max_entries)
        return nullptr;
    Map& map = by_length_[bits];
    if (map.empty()) {
        auto pos = std::lower_bound(lengths_.begin(), lengths_.end(), bits, std::greater<>{});
        lengths_.insert(pos, bits);
    }
    Entry& e = map[key];
    e.created = now;
    ++entries_;
    return &e;
}

void ServiceTable::erase_entry(const Key& key, unsigned bits) {
    Map& map = by_length_[bits];
    if (map.erase(key) == 0)
        return;
    --entries_;
    if (map.empty())
        std::erase(lengths_, bits);
}

ServiceTable::Target* ServiceTable::find_target(Entry& entry, const Ipv4Address& address) {
    for (Target& t : entry.targets)
        if (t.address == address)
            return &t;
    return nullptr;
}

bool ServiceTable::add_static(const svx_sid& id, unsigned bits, const Ipv4Address& address,
                              std::uint32_t priority, std::uint32_t weight, TimePoint now) {
    if (bits > kMaxPrefixBits)
        return false;
    const Key key = make_key(id, bits);
    std::unique_lock lock(mutex_);
    Entry* entry = find_or_create(key, bits, now);
    if (!entry)
        return false;
    Target* t = find_target(*entry, address);
    if (!t) {
        if (entry->targets.size() >= options_.max_targets_per_entry)
            return false;
        t = &entry->targets.emplace_back();
        t->address = address;
        t->added = now;
        ++targets_;
    }
    t->priority = priority;
    t->weight = weight == 0 ? 1 : weight;
    t->origin = TargetOrigin::static_config;
    t->expiry.reset();
    return true;
}

bool ServiceTable::remove_target(const svx_sid& id, unsigned bits, const Ipv4Address& address) {
    if (bits > kMaxPrefixBits)
        return false;
    const Key key = make_key(id, bits);
    std::unique_lock lock(mutex_);
    Entry* entry = find_exact(key, bits);
    if (!entry)
        return false;
    auto n = std::erase_if(entry->targets, [&](const Target& t) { return t.address == address; });
    targets_ -= n;
    if (entry->targets.empty())
        erase_entry(key, bits);
    return n != 0;
}

RegistrationOutcome ServiceTable::apply_registration(const svx_reg_msg& msg,
                                                     const Ipv4Address& source, TimePoint now) {
    if (is_default_id(msg.service_id))
        return RegistrationOutcome::refused_default;
    // The codec reports 1..256; a hand-made 0 or > 256 means the full length.
    const unsigned bits =
        msg.prefix_bits == 0 || msg.prefix_bits > kMaxPrefixBits ? kMaxPrefixBits : msg.prefix_bits;
    const Key key = make_key(msg.service_id, bits);
    const TimePoint deadline = now + options_.registration_lifetime;

    std::unique_lock lock(mutex_);
    if (msg.type == SVX_CTRLMSG_UNREGISTER) {
        Entry* entry = find_exact(key, bits);
        Target* t = entry ? find_target(*entry, source) : nullptr;
        if (!t)
            return RegistrationOutcome::not_found;
        if (t->origin == TargetOrigin::static_config)
            return RegistrationOutcome::static_kept;
        std::erase_if(entry->targets, [&](const Target& x) { return x.address == source; });
        --targets_;
        if (entry->targets.empty())
            erase_entry(key, bits);
        return RegistrationOutcome::removed;
    }

    Entry* entry = find_or_create(key, bits, now);
    if (!entry)
        return RegistrationOutcome::table_full;
    Target* current = find_target(*entry, source);
    if (current && current->origin == TargetOrigin::static_config)
        return RegistrationOutcome::static_kept;

    if (msg.flags & SVX_CTRLMSG_REG_FLAG_REREGISTER) {
        Ipv4Address old;
        std::memcpy(old.data(), msg.addr, old.size());
        Target* prev = old == source ? nullptr : find_target(*entry, old);
        if (prev && prev->origin == TargetOrigin::registration) {
            if (current) {
                // Both addresses are registered: keep the one at source.
                std::erase_if(entry->targets, [&](const Target& x) { return x.address == old; });
                --targets_;
                current = find_target(*entry, source);
                current->expiry = deadline;
            } else {
                prev->address = source;
                prev->expiry = deadline;
            }
            return RegistrationOutcome::moved;
        }
    }
    if (current) {
        current->expiry = deadline;
        return RegistrationOutcome::refreshed;
    }
    if (entry->targets.size() >= options_.max_targets_per_entry) {
        if (entry->targets.empty())
            erase_entry(key, bits);
        return RegistrationOutcome::table_full;
    }
    Target& t = entry->targets.emplace_back();
    t.address = source;
    t.priority = kRegistrationPriority;
    t.weight = kRegistrationWeight;
    t.origin = TargetOrigin::registration;
    t.expiry = deadline;
    t.added = now;
    ++targets_;
    return RegistrationOutcome::added;
}

ResolveResult ServiceTable::resolve(const svx_sid& id, TimePoint now, std::uint64_t random) const {
    ResolveResult result;
    svx_sid masked = id;
    std::shared_lock lock(mutex_);
    for (unsigned bits : lengths_) {
        // Lengths descend, so masking the same buffer again only clears more.
        svx_sid_mask(&masked, bits);
        Key key;
        std::memcpy(key.b.data(), masked.b, SVX_SID_LEN);
        const Map& map = by_length_[bits];
        auto it = map.find(key);
        if (it == map.end())
            continue;

        // The longest match decides, even without a live target (section 11.2).
        result.matched_bits = bits;
        result.status = ResolveResult::Status::no_live_target;
        const auto& targets = it->second.targets;
        bool any = false;
        std::uint32_t top = 0;
        for (const Target& t : targets) {
            if (t.live(now) && (!any || t.priority > top)) {
                top = t.priority;
                any = true;
            }
        }
        if (!any)
            return result;
        std::uint64_t total = 0;
        for (const Target& t : targets)
            if (t.live(now) && t.priority == top)
                total += t.weight;
        std::uint64_t point = scale(random, total);
        for (const Target& t : targets) {
            if (!t.live(now) || t.priority != top)
                continue;
            if (point < t.weight) {
                t.chosen.value.fetch_add(1, std::memory_order_relaxed);
                result.status = ResolveResult::Status::ok;
                result.target = t.address;
                return result;
            }
            point -= t.weight;
        }
        return result; // not reached: point < total
    }
    return result;
}

std::size_t ServiceTable::expire(TimePoint now) {
    std::unique_lock lock(mutex_);
    std::size_t removed = 0;
    for (unsigned bits : std::vector<unsigned>(lengths_)) {
        Map& map = by_length_[bits];
        for (auto it = map.begin(); it != map.end();) {
            auto n = std::erase_if(it->second.targets,
                                   [&](const Target& t) { return t.expiry && *t.expiry <= now; });
            removed += n;
            if (it->second.targets.empty()) {
                it = map.erase(it);
                --entries_;
            } else {
                ++it;
            }
        }
        if (map.empty())
            std::erase(lengths_, bits);
    }
    targets_ -= removed;
    return removed;
}

std::vector<EntryInfo> ServiceTable::snapshot(TimePoint now) const {
    std::vector<EntryInfo> out;
    {
        std::shared_lock lock(mutex_);
        out.reserve(entries_);
        for (unsigned bits : lengths_) {
            for (const auto& [key, entry] : by_length_[bits]) {
                EntryInfo& e = out.emplace_back();
                std::memcpy(e.prefix.b, key.b.data(), SVX_SID_LEN);
                e.bits = bits;
                e.age = now - entry.created;
                e.targets.reserve(entry.targets.size());
                for (const Target& t : entry.targets) {
                    TargetInfo& ti = e.targets.emplace_back();
                    ti.address = t.address;
                    ti.priority = t.priority;
                    ti.weight = t.weight;
                    ti.origin = t.origin;
                    ti.age = now - t.added;
                    if (t.expiry)
                        ti.remaining = *t.expiry - now;
                    ti.chosen = t.chosen.value.load(std::memory_order_relaxed);
                }
            }
        }
    }
    for (EntryInfo& e : out)
        std::sort(e.targets.begin(), e.targets.end(), [](const TargetInfo& a, const TargetInfo& b) {
            if (a.priority != b.priority)
                return a.priority > b.priority;
            return a.address < b.address;
        });
    std::sort(out.begin(), out.end(), [](const EntryInfo& a, const EntryInfo& b) {
        if (a.bits != b.bits)
            return a.bits > b.bits;
        return svx_sid_cmp(&a.prefix, &b.prefix) < 0;
    });
    return out;
}

std::size_t ServiceTable::entry_count() const {
    std::shared_lock lock(mutex_);
    return entries_;
}

std::size_t ServiceTable::target_count() const {
    std::shared_lock lock(mutex_);
    return targets_;
}

} // namespace svxlat::router
