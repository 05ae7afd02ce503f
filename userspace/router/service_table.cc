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


// steady_clock nanoseconds as svx_route_target.expires (0 means never).
std::uint64_t expires_at(TimePoint t) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return ns < 1 ? 1 : static_cast<std::uint64_t>(ns);
}

std::uint64_t now_ns(TimePoint now) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    return ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
}

TimePoint time_of(std::uint64_t expires) {
    return TimePoint(std::chrono::duration_cast<Clock::duration>(
        std::chrono::nanoseconds(static_cast<std::int64_t>(expires))));
}

Ipv4Address address_of(const svx_route_target& t) {
    Ipv4Address a;
    std::memcpy(a.data(), t.addr, a.size());
    return a;
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

std::ptrdiff_t ServiceTable::find_target(const Entry& entry, const Ipv4Address& address) {
    for (std::size_t i = 0; i < entry.targets.size(); ++i)
        if (std::memcmp(entry.targets[i].addr, address.data(), address.size()) == 0)
            return static_cast<std::ptrdiff_t>(i);
    return -1;
}

bool ServiceTable::add_target(Entry& entry, const Ipv4Address& address, TargetOrigin origin,
                              TimePoint now) {
    if (entry.targets.size() >= options_.max_targets_per_entry || targets_ >= max_targets_)
        return false;
    svx_route_target& t = entry.targets.emplace_back();
    std::memcpy(t.addr, address.data(), address.size());
    TargetMeta& m = entry.meta.emplace_back();
    m.origin = origin;
    m.added = now;
    ++targets_;
    return true;
}

void ServiceTable::erase_target(Entry& entry, std::size_t index) {
    entry.targets.erase(entry.targets.begin() + static_cast<std::ptrdiff_t>(index));
    entry.meta.erase(entry.meta.begin() + static_cast<std::ptrdiff_t>(index));
    --targets_;
}

void ServiceTable::limit_total_targets(std::size_t max_targets) {
    std::unique_lock lock(mutex_);
    max_targets_ = max_targets;
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
    std::ptrdiff_t i = find_target(*entry, address);
    if (i < 0) {
        if (!add_target(*entry, address, TargetOrigin::static_config, now)) {
            if (entry->targets.empty())
                erase_entry(key, bits);
            return false;
        }
        i = static_cast<std::ptrdiff_t>(entry->targets.size() - 1);
    }
    svx_route_target& t = entry->targets[static_cast<std::size_t>(i)];
    t.priority = priority;
    t.weight = weight == 0 ? 1 : weight;
    t.expires = 0;
    entry->meta[static_cast<std::size_t>(i)].origin = TargetOrigin::static_config;
    changed();
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
    std::ptrdiff_t i = find_target(*entry, address);
    if (i < 0)
        return false;
    erase_target(*entry, static_cast<std::size_t>(i));
    if (entry->targets.empty())
        erase_entry(key, bits);
    changed();
    return true;
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
        std::ptrdiff_t i = entry ? find_target(*entry, source) : -1;
        if (i < 0)
            return RegistrationOutcome::not_found;
        if (entry->meta[static_cast<std::size_t>(i)].origin == TargetOrigin::static_config)
            return RegistrationOutcome::static_kept;
        erase_target(*entry, static_cast<std::size_t>(i));
        if (entry->targets.empty())
            erase_entry(key, bits);
        changed();
        return RegistrationOutcome::removed;
    }

    Entry* entry = find_or_create(key, bits, now);
    if (!entry)
        return RegistrationOutcome::table_full;
    std::ptrdiff_t current = find_target(*entry, source);
    if (current >= 0 &&
        entry->meta[static_cast<std::size_t>(current)].origin == TargetOrigin::static_config)
        return RegistrationOutcome::static_kept;

    if (msg.flags & SVX_CTRLMSG_REG_FLAG_REREGISTER) {
        Ipv4Address old;
        std::memcpy(old.data(), msg.addr, old.size());
        std::ptrdiff_t prev = old == source ? -1 : find_target(*entry, old);
        if (prev >= 0 &&
            entry->meta[static_cast<std::size_t>(prev)].origin == TargetOrigin::registration) {
            if (current >= 0) {
                // Both addresses are registered: keep the one at source.
                erase_target(*entry, static_cast<std::size_t>(prev));
                current = find_target(*entry, source);
                entry->targets[static_cast<std::size_t>(current)].expires = expires_at(deadline);
            } else {
                svx_route_target& t = entry->targets[static_cast<std::size_t>(prev)];
                std::memcpy(t.addr, source.data(), source.size());
                t.expires = expires_at(deadline);
            }
            changed();
            return RegistrationOutcome::moved;
        }
    }
    if (current >= 0) {
        // A refresh: what resolve() returns is unchanged (no generation bump).
        entry->targets[static_cast<std::size_t>(current)].expires = expires_at(deadline);
        return RegistrationOutcome::refreshed;
    }
    if (!add_target(*entry, source, TargetOrigin::registration, now)) {
        if (entry->targets.empty())
            erase_entry(key, bits);
        return RegistrationOutcome::table_full;
    }
    svx_route_target& t = entry->targets.back();
    t.priority = kRegistrationPriority;
    t.weight = kRegistrationWeight;
    t.expires = expires_at(deadline);
    changed();
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
        const Entry& entry = it->second;
        int i = svx_route_pick(entry.targets.data(), static_cast<std::uint32_t>(entry.targets.size()),
                               now_ns(now), random);
        if (i < 0)
            return result;
        const auto index = static_cast<std::size_t>(i);
        entry.meta[index].chosen.value.fetch_add(1, std::memory_order_relaxed);
        result.status = ResolveResult::Status::ok;
        result.target = address_of(entry.targets[index]);
        return result;
    }
    return result;
}

std::size_t ServiceTable::expire(TimePoint now) {
    const std::uint64_t now_at = now_ns(now);
    std::unique_lock lock(mutex_);
    std::size_t removed = 0;
    for (unsigned bits : std::vector<unsigned>(lengths_)) {
        Map& map = by_length_[bits];
        for (auto it = map.begin(); it != map.end();) {
            Entry& entry = it->second;
            for (std::size_t i = entry.targets.size(); i-- > 0;) {
                const std::uint64_t expires = entry.targets[i].expires;
                if (expires != 0 && expires <= now_at) {
                    erase_target(entry, i);
                    ++removed;
                }
            }
            if (entry.targets.empty()) {
                it = map.erase(it);
                --entries_;
            } else {
                ++it;
            }
        }
        if (map.empty())
            std::erase(lengths_, bits);
    }
    if (removed)
        changed();
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
                for (std::size_t i = 0; i < entry.targets.size(); ++i) {
                    const svx_route_target& t = entry.targets[i];
                    const TargetMeta& m = entry.meta[i];
                    TargetInfo& ti = e.targets.emplace_back();
                    ti.address = address_of(t);
                    ti.priority = t.priority;
                    ti.weight = t.weight;
                    ti.origin = m.origin;
                    ti.age = now - m.added;
                    if (t.expires)
                        ti.remaining = time_of(t.expires) - now;
                    ti.chosen = m.chosen.value.load(std::memory_order_relaxed);
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

ServiceTable::Routes ServiceTable::routes() const {
    Routes out;
    std::shared_lock lock(mutex_);
    out.entries.reserve(entries_);
    out.targets.reserve(targets_);
    for (unsigned bits : lengths_) {
        for (const auto& [key, entry] : by_length_[bits]) {
            svx_route_entry& e = out.entries.emplace_back();
            std::memcpy(e.prefix.b, key.b.data(), SVX_SID_LEN);
            e.bits = static_cast<std::uint16_t>(bits);
            e.first = static_cast<std::uint32_t>(out.targets.size());
            e.n_targets = static_cast<std::uint32_t>(entry.targets.size());
            for (const svx_route_target& t : entry.targets) {
                svx_route_target& k = out.targets.emplace_back(t);
                k.expires = 0;
            }
        }
    }
    lock.unlock();
    // lengths_ descend; within one length, order by ID (the targets stay
    // where they are: entries point at them).
    std::sort(out.entries.begin(), out.entries.end(),
              [](const svx_route_entry& a, const svx_route_entry& b) {
                  return svx_route_entry_cmp(&a, &b) < 0;
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
