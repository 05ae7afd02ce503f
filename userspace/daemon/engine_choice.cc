#include "daemon/engine_choice.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

namespace svxlat::daemon {
namespace {

struct SidBitsLess {
    bool operator()(const std::pair<svx_sid, unsigned>& a,
                    const std::pair<svx_sid, unsigned>& b) const {
        if (a.second != b.second)
            return a.second < b.second;
        return svx_sid_cmp(&a.first, &b.first) < 0;
    }
};

std::uint32_t milliseconds(Duration d) {
    // The parser bounds every timeout to 30 days, well within 32 bits.
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(d.count(), 1, UINT32_MAX));
}

// Why the module cannot hold the router's static services (nl.h's table
// bounds; registrations beyond them are refused at run time), or "".
std::string router_unsupported_by_kernel(const RouterSettings& r) {
    std::map<std::pair<svx_sid, unsigned>, std::size_t, SidBitsLess> routes;
    for (const auto& svc : r.services)
        if (++routes[{svc.id, svc.prefix_bits}] > SVX_NL_MAX_TARGETS_PER_ROUTE)
            return "[router] service (line " + std::to_string(svc.line) + "): more than " +
                   std::to_string(SVX_NL_MAX_TARGETS_PER_ROUTE) +
                   " targets for one prefix, the kernel engine's limit";
    if (routes.size() > SVX_NL_MAX_ROUTES)
        return "[router] has " + std::to_string(routes.size()) +
               " static service prefixes, above the kernel engine's limit (" +
               std::to_string(SVX_NL_MAX_ROUTES) + ")";
    if (r.services.size() > SVX_NL_MAX_ROUTE_TARGETS)
        return "[router] has " + std::to_string(r.services.size()) +
               " static service targets, above the kernel engine's limit (" +
               std::to_string(SVX_NL_MAX_ROUTE_TARGETS) + ")";
    return {};
}

// Why the kernel engine cannot run config (before building its message), or "".
std::string unsupported_by_kernel(const Config& c) {
    if (c.translator && !c.translator->router && c.translator->services.empty())
        return "[translator] has neither a router nor a static service: no SAL SYN could leave";
    if (c.engine.max_flows > SVX_NL_MAX_FLOWS)
        return "[engine] max-flows = " + std::to_string(c.engine.max_flows) +
               " is above the kernel engine's limit (" + std::to_string(SVX_NL_MAX_FLOWS) + ")";
    if (c.router)
        return router_unsupported_by_kernel(*c.router);
    return {};
}

} // namespace

std::string_view to_string(PacketEngine engine) {
    return engine == PacketEngine::kernel ? "kernel" : "nfqueue";
}

bool is_relay_row(const Config& c, const config::TableRow& row) {
    return row.mode == config::RowMode::relay ||
           (row.mode == config::RowMode::unset && c.translator &&
            c.translator->mode == TranslationMode::relay);
}

KernelPlan plan_kernel_config(const Config& c, const engine::RoleSettings& s,
                              std::uint64_t generation) {
    KernelPlan plan;
    const config::Table* table = s.translator ? s.translator->table.get() : nullptr;
    plan.unsupported = unsupported_by_kernel(c);
    if (!plan.unsupported.empty())
        return plan;

    kernel_engine::KernelConfig k;
    k.flow = s.flow;
    k.timeouts_ms = {
        milliseconds(c.engine.timeout_embryonic), milliseconds(c.engine.timeout_established),
        milliseconds(c.engine.timeout_closing), milliseconds(c.engine.timeout_time_wait)};
    // One table for the whole namespace (the NFQUEUE workers split it).
    k.max_flows = c.engine.max_flows;
    k.max_embryonic = c.engine.max_embryonic;
    k.generation = generation;
    if (s.translator && c.translator) {
        kernel_engine::KernelConfig::Translator t;
        t.address = s.translator->address;
        t.router = c.translator->router;
        // Static services: the same table the workers resolve in, as the
        // module's route table (limits checked by validate() below).
        if (s.translator->static_services) {
            auto routes = s.translator->static_services->routes();
            t.static_services = {std::move(routes.entries), std::move(routes.targets)};
        }
        if (table) {
            t.rows.reserve(table->rows.size());
            for (const auto& row : table->rows) {
                bool strip = row.tcp_options == config::TcpOptionPolicy::unset
                                 ? s.translator->strip_tcp_options
                                 : row.tcp_options == config::TcpOptionPolicy::strip;
                // A relay row: the module translates only this host's own
                // connections to it (the relay's Serval leg), in LOCAL_OUT.
                t.rows.push_back(
                    {row.address, row.port, row.service, strip, is_relay_row(c, row)});
            }
        }
        k.translator = std::move(t);
    }
    if (s.host) {
        kernel_engine::KernelConfig::Host h;
        h.address = s.host->address;
        h.port_low = s.host->flow_port_low;
        h.port_high = s.host->flow_port_high;
        for (const auto& svc : s.host->services)
            h.services.push_back({svc.prefix, static_cast<std::uint16_t>(svc.bits), svc.port});
        k.host = std::move(h);
    }
    // The module forwards the router's SYNs; its table follows (SET_ROUTES).
    if (c.router)
        k.router = kernel_engine::KernelConfig::Router{c.router->address, c.router->router_id};
    if (auto why = kernel_engine::validate(k)) {
        plan.unsupported = *why;
        return plan;
    }
    plan.config = std::move(k);
    return plan;
}

EngineChoice choose_engine(const Config& c, const KernelPlan& plan, const KernelProbe& probe) {
    EngineChoice choice;
    const EngineKind asked = c.engine.engine;
    const std::string setting = "engine = " + std::string(to_string(asked));
    if (!has_kernel_roles(c)) {
        choice.reason = setting + ": no role to run";
        return choice;
    }
    if (asked == EngineKind::nfqueue) {
        choice.reason = setting;
        return choice;
    }
    auto module_state = [&] {
        return probe.state == KernelProbe::State::missing
                   ? probe.detail
                   : "svxlat.ko cannot be used: " + probe.detail;
    };
    if (asked == EngineKind::kernel) {
        if (probe.state != KernelProbe::State::loaded)
            choice.error = c.file + ": [engine] " + setting + ": " + module_state() +
                           " (load it with `modprobe svxlat`, or set engine = auto or nfqueue)";
        else if (!plan.config)
            choice.error = c.file + ": [engine] " + setting +
                           ": this configuration needs the NFQUEUE engine: " + plan.unsupported +
                           " (set engine = auto or nfqueue)";
        else {
            choice.engine = PacketEngine::kernel;
            choice.reason = setting;
        }
        return choice;
    }
    // auto: the module when it is there and can run this configuration.
    if (probe.state != KernelProbe::State::loaded)
        choice.reason = setting + ": " + module_state();
    else if (!plan.config)
        choice.reason =
            setting + ": the kernel engine cannot run this configuration: " + plan.unsupported;
    else {
        choice.engine = PacketEngine::kernel;
        choice.reason = setting + ": svxlat.ko is loaded";
    }
    return choice;
}

} // namespace svxlat::daemon
