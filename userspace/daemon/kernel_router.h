// The service router on the kernel engine: svxlat.ko forwards the SYNs
// with its own copy of the table, svxlatd keeps the table of record
// (registrations arrive at an NFQUEUE worker, expiry runs on the main
// thread) and pushes the whole table (SET_ROUTES) whenever what it resolves
// changes. Pure pieces, so they are tested without the module: the table's
// limits, the pushing policy, and the merge of the module's "chosen"
// counts into what `svxlat services` shows.
#pragma once

#include "daemon_config/daemon_config.h"
#include "kernel_engine/messages.h"
#include "router/service_table.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace svxlat::daemon {

// The router's ServiceTable (registration lifetime from its settings). With
// kernel set it holds no more than the module does: SVX_NL_MAX_ROUTES
// entries, SVX_NL_MAX_TARGETS_PER_ROUTE targets per entry and
// SVX_NL_MAX_ROUTE_TARGETS in all; registrations beyond are refused
// (table_full, counted as registrations_refused).
std::shared_ptr<router::ServiceTable> make_router_table(const RouterSettings& router, bool kernel);

// Adds the module's per-target counts (GET_ROUTES) to a snapshot of the
// table, for the same (prefix, bits, address): SYNs are counted by
// whichever engine forwarded them. Targets the module has and the snapshot
// lacks (expired since the last push) are left out.
void add_kernel_chosen(std::vector<router::EntryInfo>& snapshot,
                       std::span<const kernel_engine::KernelRoute> routes);

// Keeps the module's table equal to the ServiceTable's. push() runs on
// every tick of the main thread: it expires registrations and sends the
// table when its generation moved since the last successful push (or after
// invalidate()), so a change reaches the module within one tick. A failed
// push leaves the module's previous table in place and is retried on the
// next tick; the first failure of a streak is logged as an error, the
// recovery as info.
class RoutePusher {
public:
    // What sends the table: KernelClient::set_routes.
    using Send = std::function<void(std::span<const svx_route_entry>,
                                    std::span<const svx_route_target>, std::uint64_t generation)>;

    explicit RoutePusher(Send send) : send_(std::move(send)) {}

    // The next push() sends the table whatever its generation: after a
    // SET_CONFIG that turned the router on or changed it.
    void invalidate() { forced_ = true; }

    // True when the module holds the table's current generation.
    bool push(router::ServiceTable& table, router::TimePoint now);

    // The generation the module holds from us, none before the first push.
    [[nodiscard]] std::optional<std::uint64_t> pushed_generation() const { return pushed_; }
    [[nodiscard]] std::size_t pushed_routes() const { return pushed_routes_; }
    [[nodiscard]] std::uint64_t failures() const { return failures_; } // in all
    [[nodiscard]] bool failing() const { return streak_ != 0; }
    [[nodiscard]] const std::string& last_error() const { return last_error_; }

private:
    Send send_;
    bool forced_ = true;
    std::optional<std::uint64_t> pushed_;
    std::size_t pushed_routes_ = 0;
    std::uint64_t failures_ = 0;
    std::uint64_t streak_ = 0; // failures since the last success
    std::string last_error_;
};

} // namespace svxlat::daemon
