#include "daemon/kernel_router.h"

#include "common/log.h"

#include <algorithm>
#include <exception>
#include <map>
#include <tuple>

namespace svxlat::daemon {

std::shared_ptr<router::ServiceTable> make_router_table(const RouterSettings& r, bool kernel) {
    router::ServiceTable::Options o;
    o.registration_lifetime = r.expiry;
    if (kernel) {
        o.max_entries = std::min<std::size_t>(o.max_entries, SVX_NL_MAX_ROUTES);
        o.max_targets_per_entry =
            std::min<std::size_t>(o.max_targets_per_entry, SVX_NL_MAX_TARGETS_PER_ROUTE);
    }
    auto table = std::make_shared<router::ServiceTable>(o);
    if (kernel)
        table->limit_total_targets(SVX_NL_MAX_ROUTE_TARGETS);
    return table;
}

void add_kernel_chosen(std::vector<router::EntryInfo>& snapshot,
                       std::span<const kernel_engine::KernelRoute> routes) {
    using Key = std::tuple<std::array<std::uint8_t, SVX_SID_LEN>, unsigned, router::Ipv4Address>;
    std::map<Key, std::uint64_t> chosen;
    for (const auto& r : routes) {
        std::array<std::uint8_t, SVX_SID_LEN> prefix{};
        std::copy(std::begin(r.prefix.b), std::end(r.prefix.b), prefix.begin());
        for (const auto& t : r.targets)
            if (t.chosen)
                chosen[{prefix, r.bits, t.address}] += t.chosen;
    }
    if (chosen.empty())
        return;
    for (auto& e : snapshot) {
        std::array<std::uint8_t, SVX_SID_LEN> prefix{};
        std::copy(std::begin(e.prefix.b), std::end(e.prefix.b), prefix.begin());
        for (auto& t : e.targets)
            if (auto it = chosen.find({prefix, e.bits, t.address}); it != chosen.end())
                t.chosen += it->second;
    }
}

bool RoutePusher::push(router::ServiceTable& table, router::TimePoint now) {
    table.expire(now);
    // Read before the export: a change in between is pushed on the next tick.
    const std::uint64_t generation = table.generation();
    if (!forced_ && pushed_ == generation)
        return true;
    const auto routes = table.routes();
    try {
        send_(routes.entries, routes.targets, generation);
    } catch (const std::exception& e) {
        ++failures_;
        last_error_ = e.what();
        if (streak_++ == 0)
            log::error("kernel engine: cannot push the service router's table (generation ",
                       generation, ", ", routes.entries.size(), " route(s)): ", e.what(),
                       "; svxlat.ko keeps its previous table, retrying every tick");
        return false;
    }
    if (streak_ != 0)
        log::info("kernel engine: the service router's table is in svxlat.ko again (generation ",
                  generation, ", ", routes.entries.size(), " route(s)) after ", streak_,
                  " failed push(es)");
    else
        log::debug("kernel engine: pushed the service router's table, generation ", generation,
                   ", ", routes.entries.size(), " route(s)");
    streak_ = 0;
    forced_ = false;
    pushed_ = generation;
    pushed_routes_ = routes.entries.size();
    return true;
}

} // namespace svxlat::daemon
