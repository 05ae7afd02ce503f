#include "engine/worker.h"


#include <svxlat/csum.h>
#include <svxlat/reg.h>
#include <svxlat/tcp.h>

#include <cstring>

namespace svxlat::engine {
namespace {

Ipv4 addr_at(const std::uint8_t* p) {
    Ipv4 a;
    std::memcpy(a.data(), p, 4);
    return a;
}

Worker& worker_of(void* ctx) { return *static_cast<Worker*>(ctx); }

} // namespace

std::string_view event_name(Event event) { return svx_stat_name(static_cast<svx_stat>(event)); }
std::string_view event_desc(Event event) { return svx_stat_desc(static_cast<svx_stat>(event)); }

Worker::Worker(unsigned index, unsigned count, const SettingsHolder& settings,
               const FlowLimits& limits)
    : index_(index), holder_(settings),
      flows_(index, count, limits,
             settings.get()->host ? settings.get()->host->flow_port_low : 20000,
             settings.get()->host ? settings.get()->host->flow_port_high : 59999),
      arena_(kOutputArena), out_pkts_(kMaxOutputPackets) {
    svx_emit_init(&emit_, arena_.data(), static_cast<std::uint32_t>(arena_.size()),
                  out_pkts_.data(), kMaxOutputPackets);
    refresh_settings();
}

void Worker::refresh_settings() {
    auto generation = holder_.generation();
    if (generation == settings_generation_)
        return;
    settings_ = holder_.get();
    settings_generation_ = generation;
    roles_ = svx_engine_roles{};
    roles_.steered = true;
    roles_.flow = settings_->flow;
    if (const auto& xlt = settings_->translator) {
        roles_.translator = true;
        std::memcpy(roles_.xlt_addr, xlt->address.data(), 4);
    }
    host_services_.clear();
    if (const auto& host = settings_->host) {
        roles_.host = true;
        std::memcpy(roles_.host_addr, host->address.data(), 4);
        for (const auto& s : host->services) {
            svx_host_service hs{};
            hs.prefix = s.prefix;
            hs.bits = static_cast<std::uint16_t>(s.bits);
            hs.port = s.port;
            host_services_.push_back(hs);
        }
    }
    roles_.host_services = host_services_.data();
    roles_.n_host_services = static_cast<std::uint32_t>(host_services_.size());
    if (const auto& rt = settings_->router) {
        roles_.router = true;
        std::memcpy(roles_.router_addr, rt->address.data(), 4);
        roles_.router_id = rt->router_id;
    }
}

void Worker::clear_outputs() {
    if (emit_.overflow)
        counters_.add(Event::emit_overflow, emit_.overflow);
    counters_.add(Event::emitted, emit_.n_pkts);
    svx_emit_reset(&emit_);
}

std::size_t Worker::flow_count() const {
    std::lock_guard lock(flows_mutex_);
    return flows_.size();
}

void Worker::set_limits(const FlowLimits& limits) {
    std::lock_guard lock(flows_mutex_);
    flows_.set_limits(limits);
}

std::vector<FlowInfo> Worker::snapshot_flows() const {
    std::lock_guard lock(flows_mutex_);
    std::vector<FlowInfo> out;
    out.reserve(flows_.size());
    flows_.for_each([&](const FlowEntry& e) { out.push_back({e.flow, index_}); });
    return out;
}

FlowEntry* Worker::entry_of(svx_flow* flow) {
    // flow is FlowEntry's first member (a standard-layout struct).
    static_assert(offsetof(FlowEntry, flow) == 0);
    return reinterpret_cast<FlowEntry*>(flow);
}

const svx_engine_ops Worker::kOps = {
    .find_tcp = [](void* ctx, const std::uint8_t* remote, const std::uint8_t* self,
                   std::uint16_t remote_port, std::uint16_t self_port) -> svx_flow* {
        FlowEntry* e = worker_of(ctx).flows_.find_tcp(
            TcpKey{addr_at(remote), addr_at(self), remote_port, self_port});
        return e ? &e->flow : nullptr;
    },
    .find_local = [](void* ctx, std::uint32_t local_flow) -> svx_flow* {
        FlowEntry* e = worker_of(ctx).flows_.find_local(local_flow);
        return e ? &e->flow : nullptr;
    },
    .find_peer = [](void* ctx, const std::uint8_t* peer, std::uint32_t peer_flow) -> svx_flow* {
        FlowEntry* e = worker_of(ctx).flows_.find_peer(PeerKey{addr_at(peer), peer_flow});
        return e ? &e->flow : nullptr;
    },
    .admit = [](void* ctx, svx_emit*) -> svx_flow* {
        FlowEntry* e = worker_of(ctx).admit_flow();
        return e ? &e->flow : nullptr;
    },
    .insert = [](void* ctx, svx_flow* f, const std::uint8_t* peer, std::uint32_t peer_flow) {
        std::optional<PeerKey> key;
        if (peer)
            key = PeerKey{addr_at(peer), peer_flow};
        return worker_of(ctx).flows_.insert(entry_of(f), key);
    },
    .remove = [](void* ctx, svx_flow* f) { worker_of(ctx).flows_.remove(entry_of(f)); },
    .done = [](void* ctx, svx_flow* f) { worker_of(ctx).flows_.touch(entry_of(f)); },
    .new_local_flow = [](void* ctx) {
        Worker& w = worker_of(ctx);
        return w.flows_.new_local_flow(w.random_);
    },
    .new_flow_port = [](void* ctx, std::uint16_t* port) {
        Worker& w = worker_of(ctx);
        auto p = w.flows_.new_flow_port(w.random_);
        if (p)
            *port = *p;
        return p.has_value();
    },
    .random = [](void* ctx, void* buf, std::uint32_t len) {
        worker_of(ctx).random_.fill(std::span(static_cast<std::uint8_t*>(buf), len));
    },
    .xlt_row = [](void* ctx, const std::uint8_t* addr, std::uint16_t port, svx_xlt_match* m) {
        const auto& xlt = *worker_of(ctx).settings_->translator;
        const auto* row = xlt.table->find(addr_at(addr), port);
        if (!row)
            return false;
        m->service = row->service;
        m->strip_opts = row->tcp_options == config::TcpOptionPolicy::unset
                            ? xlt.strip_tcp_options
                            : row->tcp_options == config::TcpOptionPolicy::strip;
        return true;
    },
    .xlt_sal_dst = [](void* ctx, const svx_sid* service, std::uint8_t* target) {
        Worker& w = worker_of(ctx);
        const auto& xlt = *w.settings_->translator;
        if (xlt.static_services) {
            auto res = xlt.static_services->resolve(
                *service, router::Clock::now(),
                static_cast<std::uint64_t>(w.random_.next_u32()) << 32 | w.random_.next_u32());
            if (res.ok()) {
                std::memcpy(target, res.target.data(), 4);
                return true;
            }
        }
        if (!xlt.router)
            return false;
        std::memcpy(target, xlt.router->data(), 4);
        return true;
    },
    .router_register = [](void* ctx, const svx_reg_datagram* d) {
        Worker& w = worker_of(ctx);
        auto outcome = w.settings_->router->services->apply_registration(
            d->msg, addr_at(d->saddr), router::Clock::now());
        w.counters_.add(outcome == router::RegistrationOutcome::refused_default ||
                                outcome == router::RegistrationOutcome::table_full
                            ? Event::registrations_refused
                            : Event::registrations);
    },
    .router_resolve = [](void* ctx, const svx_sid* service, std::uint8_t* target) {
        Worker& w = worker_of(ctx);
        auto res = w.settings_->router->services->resolve(
            *service, router::Clock::now(),
            static_cast<std::uint64_t>(w.random_.next_u32()) << 32 | w.random_.next_u32());
        if (!res.ok())
            return false;
        std::memcpy(target, res.target.data(), 4);
        return true;
    },
    .count = [](void* ctx, svx_stat stat, std::uint64_t n) {
        worker_of(ctx).counters_.add(static_cast<Event>(stat), n);
    },
    .drop = [](void* ctx, svx_err reason) { worker_of(ctx).counters_.drop(reason); },
};

Verdict Worker::process(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                        bool checksum_partial, bool link_broadcast) {
    refresh_settings();
    std::lock_guard lock(flows_mutex_);
    const unsigned in_flags = (checksum_partial ? 0u : SVX_IN_VERIFY_CSUM) |
                              (link_broadcast ? SVX_IN_LINK_BROADCAST : 0u);
    auto verdict =
        svx_engine_process(&roles_, &kOps, this, pkt.data(), pkt.size(), in_flags, now_ms, &emit_);
    return verdict == SVX_VERDICT_PASS ? Verdict::accept : Verdict::drop;
}

FlowEntry* Worker::admit_flow() {
    FlowTable::AdmitResult admit{};
    FlowEntry* entry = flows_.allocate(admit, [&](FlowEntry& victim) {
        svx_flow_abort(&victim.flow, &settings_->flow, &emit_);
    });
    if (admit == FlowTable::AdmitResult::evicted_embryonic)
        counters_.add(Event::embryonic_evicted);
    return entry;
}

void Worker::tick(std::uint64_t now_ms) {
    refresh_settings();
    std::lock_guard lock(flows_mutex_);
    flows_.for_each_timer([&](FlowEntry& e) {
        const auto cls = svx_flow_timeout_class(static_cast<svx_flow_state>(e.flow.state));
        if (svx_flow_tick(&e.flow, &settings_->flow, now_ms, &emit_))
            counters_.add(Event::flows_closed);
        // A retransmission is no traffic: the flow keeps its place in the
        // time-ordered list (expiry stops at the first unexpired flow).
        if (!e.flow.ctl_pending ||
            svx_flow_timeout_class(static_cast<svx_flow_state>(e.flow.state)) != cls)
            flows_.touch(&e);
    });
    counters_.add(Event::flows_expired, flows_.expire(now_ms, [&](FlowEntry& e) {
        svx_flow_abort(&e.flow, &settings_->flow, &emit_);
    }));
}

void Worker::abort_all() {
    std::lock_guard lock(flows_mutex_);
    flows_.for_each_mutable(
        [&](FlowEntry& e) { svx_flow_abort(&e.flow, &settings_->flow, &emit_); });
}

} // namespace svxlat::engine
