#include "engine/worker.h"

#include "router/forward.h"

#include <svxlat/csum.h>
#include <svxlat/reg.h>
#include <svxlat/tcp.h>

#include <cstring>

namespace svxlat::engine {
namespace {

struct EventText {
    const char* name;
    const char* desc;
};

constexpr std::array<EventText, static_cast<unsigned>(Event::count_)> kEventTexts{{
    {"packets", "packets handed to the engine by the kernel"},
    {"not_ours", "packets no role owns, accepted untouched"},
    {"tcp_to_sal", "packets from the plain TCP side translated to SAL"},
    {"sal_to_tcp", "packets from the Serval side translated to plain TCP"},
    {"emitted", "packets the engine sent (translations, segments, originated control)"},
    {"flows_created", "flows created"},
    {"flows_closed", "flows that reached time-wait (orderly close) or closed (reset)"},
    {"flows_expired", "flows removed by their state's timeout"},
    {"embryonic_evicted", "oldest half-open flow evicted to admit a new SYN (SYN flood guard)"},
    {"table_full", "new flows refused because the table holds max-flows flows"},
    {"no_flow_port", "host agent SYNs refused: no free per-flow port"},
    {"tcp_reset_replies", "TCP RSTs sent for segments that match no flow"},
    {"passive_resets", "SAL passive RSTs sent for SAL packets that match no flow"},
    {"router_forwarded", "SYNs and datagrams the service router forwarded to an instance"},
    {"registrations", "service registrations applied (register, refresh, move, unregister)"},
    {"registrations_refused", "registrations the service table refused (default ID, full)"},
    {"emit_overflow", "emitted packets lost because the output buffer was full"},
}};

bool is_pure_tcp_syn(const std::uint8_t* tcp) {
    return (svx_tcp_flags(tcp) & (SVX_TCP_SYN | SVX_TCP_ACK | SVX_TCP_RST)) == SVX_TCP_SYN;
}

Ipv4 addr_at(const std::uint8_t* p) {
    Ipv4 a;
    std::memcpy(a.data(), p, 4);
    return a;
}

bool same_addr(const std::uint8_t* p, const Ipv4& a) { return std::memcmp(p, a.data(), 4) == 0; }

} // namespace

std::string_view event_name(Event event) { return kEventTexts[static_cast<unsigned>(event)].name; }
std::string_view event_desc(Event event) { return kEventTexts[static_cast<unsigned>(event)].desc; }

Worker::Worker(unsigned index, unsigned count, const SettingsHolder& settings,
               const FlowLimits& limits)
    : index_(index), holder_(settings),
      flows_(index, count, limits,
             settings.get()->host ? settings.get()->host->flow_port_low : 20000,
             settings.get()->host ? settings.get()->host->flow_port_high : 59999),
      arena_(kOutputArena), out_pkts_(kMaxOutputPackets), scratch_(65536 + 128) {
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

Verdict Worker::process(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                        bool checksum_partial) {
    refresh_settings();
    counters_.add(Event::packets);
    if (pkt.size() < SVX_IPV4_HDR_LEN || pkt[0] >> 4 != 4) {
        counters_.add(Event::not_ours);
        return Verdict::accept;
    }
    std::lock_guard lock(flows_mutex_);
    switch (pkt[9]) {
    case SVX_IPPROTO_TCP:
        return on_tcp(pkt, now_ms, !checksum_partial);
    case SVX_IPPROTO_SAL:
        return on_sal(pkt, now_ms, !checksum_partial);
    case 1:
        return on_icmp(pkt, now_ms);
    default:
        counters_.add(Event::not_ours);
        return Verdict::accept;
    }
}

void Worker::after_call(FlowEntry* entry, const svx_result& r, Event translated) {
    if (r.action == SVX_ACT_DROP)
        counters_.drop(static_cast<svx_err>(r.reason));
    else
        counters_.add(translated);
    if (r.flow_closed)
        counters_.add(Event::flows_closed);
    flows_.touch(entry);
}

bool Worker::is_host_service_port(const std::uint8_t* addr, std::uint16_t port) const {
    const auto& host = settings_->host;
    if (!host || !same_addr(addr, host->address))
        return false;
    for (const auto& s : host->services)
        if (s.port == port)
            return true;
    return false;
}

std::optional<std::uint16_t> Worker::host_port_for(const svx_sid& service) const {
    // Longest prefix among the host's (few) services.
    const HostService* best = nullptr;
    for (const auto& s : settings_->host->services)
        if (svx_sid_prefix_match(&service, &s.prefix, s.bits) && (!best || s.bits > best->bits))
            best = &s;
    if (!best)
        return std::nullopt;
    return best->port;
}

FlowEntry* Worker::admit_flow() {
    FlowTable::AdmitResult admit{};
    FlowEntry* entry = flows_.allocate(admit, [&](FlowEntry& victim) {
        svx_flow_abort(&victim.flow, &settings_->flow, &emit_);
    });
    if (admit == FlowTable::AdmitResult::evicted_embryonic)
        counters_.add(Event::embryonic_evicted);
    if (!entry)
        counters_.add(Event::table_full);
    return entry;
}

Verdict Worker::on_tcp(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                       bool verify_csum) {
    svx_tcp_view tv{};
    auto err = svx_tcp_parse(pkt.data(), pkt.size(), &tv);
    // Translation recomputes the checksum, so a corrupted segment must be
    // caught here or it would leave with a valid one.
    if (err == SVX_OK && verify_csum &&
        svx_csum_l4_ipv4(svx_ip_saddr(pkt.data()), svx_ip_daddr(pkt.data()), SVX_IPPROTO_TCP,
                         pkt.data() + tv.tcp_off, tv.ip_len - tv.tcp_off) != 0)
        err = SVX_E_L4_CSUM;
    if (err != SVX_OK) {
        // Steering only queues TCP for our pairs, so a malformed one is ours.
        counters_.drop(err);
        return Verdict::drop;
    }
    const std::uint8_t* tcp = pkt.data() + tv.tcp_off;
    const std::uint16_t sport = svx_get_be16(tcp), dport = svx_get_be16(tcp + 2);
    if (settings_->translator) {
        if (const auto* row = settings_->translator->table->find(addr_at(svx_ip_daddr(pkt.data())),
                                                                 dport))
            return translator_tcp(pkt, tv, row, now_ms);
        // A row removed by a reload stops new flows; its live flows go on.
        TcpKey key{addr_at(svx_ip_saddr(pkt.data())), addr_at(svx_ip_daddr(pkt.data())), sport,
                   dport};
        if (FlowEntry* entry = flows_.find_tcp(key); entry && entry->flow.role == SVX_ROLE_TRANSLATOR)
            return translator_tcp(pkt, tv, nullptr, now_ms);
    }
    if (settings_->host && is_host_service_port(svx_ip_saddr(pkt.data()), sport)) {
        TcpKey key{addr_at(svx_ip_saddr(pkt.data())), addr_at(svx_ip_daddr(pkt.data())), sport,
                   dport};
        FlowEntry* entry = flows_.find_tcp(key);
        if (!entry && same_addr(svx_ip_daddr(pkt.data()), settings_->host->address)) {
            // The server talking to a local client (a health check): not ours.
            counters_.add(Event::not_ours);
            return Verdict::accept;
        }
        if (!entry) {
            counters_.drop(SVX_E_NO_FLOW);
            if (svx_emit_tcp_reset_reply(pkt.data(), &tv, settings_->flow.ttl, &emit_))
                counters_.add(Event::tcp_reset_replies);
            return Verdict::drop;
        }
        auto r = svx_flow_from_tcp(&entry->flow, &settings_->flow, pkt.data(), &tv, nullptr,
                                   now_ms, &emit_);
        after_call(entry, r, Event::tcp_to_sal);
        return Verdict::drop;
    }
    counters_.add(Event::not_ours);
    return Verdict::accept;
}

Verdict Worker::translator_tcp(std::span<const std::uint8_t> pkt, const svx_tcp_view& tv,
                               const config::TableRow* row, std::uint64_t now_ms) {
    const auto& xlt = *settings_->translator;
    const std::uint8_t* tcp = pkt.data() + tv.tcp_off;
    TcpKey key{addr_at(svx_ip_saddr(pkt.data())), addr_at(svx_ip_daddr(pkt.data())),
               svx_get_be16(tcp), svx_get_be16(tcp + 2)};
    FlowEntry* entry = flows_.find_tcp(key);
    const bool syn = is_pure_tcp_syn(tcp);
    if (entry && syn &&
        (entry->flow.state == SVX_FS_TIME_WAIT || entry->flow.state == SVX_FS_CLOSED)) {
        flows_.remove(entry); // the client reuses the port: a new connection
        entry = nullptr;
    }
    if (!entry) {
        if (!syn || !row) {
            counters_.drop(SVX_E_NO_FLOW);
            if (svx_emit_tcp_reset_reply(pkt.data(), &tv, settings_->flow.ttl, &emit_))
                counters_.add(Event::tcp_reset_replies);
            return Verdict::drop;
        }
        entry = admit_flow();
        if (!entry)
            return Verdict::drop;
        std::uint8_t nonce[SVX_NONCE_LEN];
        random_.fill(nonce);
        bool strip = row->tcp_options == config::TcpOptionPolicy::unset
                         ? xlt.strip_tcp_options
                         : row->tcp_options == config::TcpOptionPolicy::strip;
        svx_flow_init_translator(&entry->flow, pkt.data(), &tv, &row->service, xlt.address.data(),
                                 flows_.new_local_flow(random_), random_.next_u32(), nonce,
                                 strip, now_ms);
        if (!flows_.insert(entry, std::nullopt)) {
            counters_.drop(SVX_E_STATE);
            return Verdict::drop;
        }
        counters_.add(Event::flows_created);
    }
    // Resolved again for every SYN, retransmissions included (section 11.3).
    std::optional<Ipv4> sal_dst;
    if (syn) {
        if (xlt.static_services) {
            auto res = xlt.static_services->resolve(entry->flow.service, router::Clock::now(),
                                                    static_cast<std::uint64_t>(random_.next_u32())
                                                            << 32 |
                                                        random_.next_u32());
            if (res.ok())
                sal_dst = res.target;
        }
        if (!sal_dst && xlt.router)
            sal_dst = xlt.router;
    }
    auto r = svx_flow_from_tcp(&entry->flow, &settings_->flow, pkt.data(), &tv,
                               sal_dst ? sal_dst->data() : nullptr, now_ms, &emit_);
    after_call(entry, r, Event::tcp_to_sal);
    return Verdict::drop;
}

Verdict Worker::on_sal(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                       bool verify_csum) {
    // Only SAL to one of our addresses is ours: anything else passes
    // untouched (no drop, and no passive RST in another host's name).
    const std::uint8_t* to = svx_ip_daddr(pkt.data());
    if (!(settings_->translator && same_addr(to, settings_->translator->address)) &&
        !(settings_->host && same_addr(to, settings_->host->address)) &&
        !(settings_->router && same_addr(to, settings_->router->address))) {
        counters_.add(Event::not_ours);
        return Verdict::accept;
    }
    svx_pkt_view pv{};
    auto err = svx_pkt_parse(pkt.data(), pkt.size(), verify_csum ? SVX_PKT_VERIFY_L4_CSUM : 0, &pv);
    if (err != SVX_OK) {
        counters_.drop(err);
        return Verdict::drop;
    }
    const std::uint8_t* sal = pkt.data() + pv.sal_off;
    const std::uint8_t* daddr = svx_ip_daddr(pkt.data());
    const std::uint8_t ctl = pv.sal.ctrl_off ? pv.sal.flags : 0;
    const bool pure_syn = (ctl & (SVX_CTL_SYN | SVX_CTL_ACK)) == SVX_CTL_SYN;

    if (pure_syn && settings_->host && same_addr(daddr, settings_->host->address))
        return host_sal_syn(pkt, pv, now_ms);
    if (!pure_syn) {
        if (FlowEntry* entry = flows_.find_local(svx_sal_dst_flow(sal));
            entry && std::memcmp(entry->flow.sal_local_addr, daddr, 4) == 0) {
            auto r = svx_flow_from_sal(&entry->flow, &settings_->flow, pkt.data(), &pv, now_ms,
                                       &emit_);
            after_call(entry, r, Event::sal_to_tcp);
            return Verdict::drop;
        }
    }
    if (settings_->router && same_addr(daddr, settings_->router->address))
        return router_packet(pkt, pv, now_ms);
    // No flow and no service here: a passive RST, except for SYNs, which the
    // reference leaves unanswered (section 6.7).
    counters_.drop(pure_syn ? SVX_E_NO_ROUTE : SVX_E_NO_FLOW);
    if (!pure_syn && svx_emit_passive_rst(pkt.data(), &pv, settings_->flow.ttl, &emit_))
        counters_.add(Event::passive_resets);
    return Verdict::drop;
}

Verdict Worker::host_sal_syn(std::span<const std::uint8_t> pkt, const svx_pkt_view& pv,
                             std::uint64_t now_ms) {
    const std::uint8_t* sal = pkt.data() + pv.sal_off;
    if (!pv.sal.n_service) {
        counters_.drop(SVX_E_NO_ROUTE);
        return Verdict::drop;
    }
    svx_sid service{};
    std::memcpy(service.b, svx_sal_service(sal, &pv.sal, 0), SVX_SID_LEN);
    auto port = host_port_for(service);
    if (!port) {
        counters_.drop(SVX_E_NO_ROUTE);
        return Verdict::drop;
    }
    PeerKey peer{addr_at(pv.sal.n_source ? svx_sal_source_addr(sal, &pv.sal, 0)
                                         : svx_ip_saddr(pkt.data())),
                 svx_sal_src_flow(sal)};
    FlowEntry* entry = flows_.find_peer(peer);
    if (!entry) {
        auto flow_port = flows_.new_flow_port(random_);
        if (!flow_port) {
            counters_.add(Event::no_flow_port);
            return Verdict::drop;
        }
        // Check the SYN before it may cost an embryonic flow its place,
        // and before an entry is taken that a failure would leak.
        std::uint8_t nonce[SVX_NONCE_LEN];
        random_.fill(nonce);
        svx_flow flow{};
        auto err = svx_flow_init_host(&flow, pkt.data(), &pv, *port, *flow_port,
                                      flows_.new_local_flow(random_), random_.next_u32(), nonce,
                                      now_ms);
        if (err != SVX_OK) {
            counters_.drop(err);
            return Verdict::drop;
        }
        entry = admit_flow();
        if (!entry)
            return Verdict::drop;
        entry->flow = flow;
        if (!flows_.insert(entry, peer)) {
            counters_.drop(SVX_E_STATE);
            return Verdict::drop;
        }
        counters_.add(Event::flows_created);
    }
    auto r = svx_flow_from_sal(&entry->flow, &settings_->flow, pkt.data(), &pv, now_ms, &emit_);
    after_call(entry, r, Event::sal_to_tcp);
    return Verdict::drop;
}

Verdict Worker::router_packet(std::span<const std::uint8_t> pkt, const svx_pkt_view& pv,
                              std::uint64_t now_ms) {
    (void)now_ms;
    const auto& rt = *settings_->router;
    const std::uint8_t* sal = pkt.data() + pv.sal_off;
    // Registrations: unconnected datagrams to the router's service ID.
    if (!pv.sal.ctrl_off && pv.sal.protocol == SVX_IPPROTO_UDP && pv.sal.n_service == 2 &&
        std::memcmp(svx_sal_service(sal, &pv.sal, 0), rt.router_id.b, SVX_SID_LEN) == 0) {
        svx_reg_datagram d{};
        auto err = svx_reg_datagram_parse(pkt.data(), pkt.size(), SVX_PKT_VERIFY_L4_CSUM, &d);
        if (err != SVX_OK) {
            counters_.drop(err);
            return Verdict::drop;
        }
        auto outcome =
            rt.services->apply_registration(d.msg, addr_at(d.saddr), router::Clock::now());
        counters_.add(outcome == router::RegistrationOutcome::refused_default ||
                              outcome == router::RegistrationOutcome::table_full
                          ? Event::registrations_refused
                          : Event::registrations);
        return Verdict::drop;
    }
    svx_pkt_view v{};
    svx_sid service{};
    auto inspected = router::inspect_packet(pkt, {}, v, service);
    if (!inspected.ok()) {
        counters_.drop(inspected.drop == router::ForwardDrop::core ? inspected.err
                                                                    : SVX_E_NO_ROUTE);
        return Verdict::drop;
    }
    auto res = rt.services->resolve(service, router::Clock::now(),
                                    static_cast<std::uint64_t>(random_.next_u32()) << 32 |
                                        random_.next_u32());
    if (!res.ok()) {
        counters_.drop(SVX_E_NO_ROUTE); // unanswered, as the reference (section 6.7)
        return Verdict::drop;
    }
    std::memcpy(scratch_.data(), pkt.data(), pkt.size());
    auto fwd = router::forward_inspected(std::span<std::uint8_t>(scratch_), v, res.target);
    if (!fwd.ok()) {
        counters_.drop(fwd.drop == router::ForwardDrop::core          ? fwd.err
                       : fwd.drop == router::ForwardDrop::ttl_expired ? SVX_E_TTL
                                                                      : SVX_E_INVAL);
        return Verdict::drop;
    }
    if (std::uint8_t* out = svx_emit_alloc(&emit_, static_cast<std::uint32_t>(fwd.len))) {
        std::memcpy(out, scratch_.data(), fwd.len);
        svx_emit_commit(&emit_, static_cast<std::uint32_t>(fwd.len));
        counters_.add(Event::router_forwarded);
    }
    return Verdict::drop;
}

Verdict Worker::on_icmp(std::span<const std::uint8_t> pkt, std::uint64_t now_ms) {
    unsigned ihl = static_cast<unsigned>(pkt[0] & 0xf) * 4;
    unsigned tot = svx_get_be16(pkt.data() + 2);
    if (ihl < SVX_IPV4_HDR_LEN || tot > pkt.size() || tot < ihl + SVX_ICMP_HDR_LEN) {
        counters_.add(Event::not_ours);
        return Verdict::accept;
    }
    const std::uint8_t* icmp = pkt.data() + ihl;
    std::uint32_t src_flow = 0;
    if (icmp[0] != SVX_ICMP_DEST_UNREACH ||
        svx_icmp_inner_sal_flow(icmp, tot - ihl, &src_flow) != SVX_OK) {
        counters_.add(Event::not_ours);
        return Verdict::accept;
    }
    FlowEntry* entry = flows_.find_local(src_flow);
    if (!entry) {
        counters_.drop(SVX_E_NO_FLOW);
        return Verdict::drop;
    }
    auto r = svx_flow_from_icmp(&entry->flow, &settings_->flow, icmp, tot - ihl, now_ms, &emit_);
    after_call(entry, r, Event::sal_to_tcp);
    return Verdict::drop;
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
