// One packet worker of the user-space engine: classifies each queued packet
// (translator TCP, SAL to one of our addresses, ICMP about our SAL packets,
// registrations and SYNs for the service router), runs the shared core's
// state machine on it and collects what must be injected. The NFQUEUE glue
// (engine/queue_loop) feeds it; tests feed it directly.
#pragma once

#include "config/table.h"
#include "engine/flow_table.h"
#include "engine/random_source.h"
#include "router/service_table.h"

#include <svxlat/engine.h>
#include <svxlat/flow.h>
#include <svxlat/stats.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace svxlat::engine {

// Engine events worth counting besides the drop reasons (enum svx_err): the
// shared ids of include/svxlat/stats.h, which the kernel engine counts too.
enum class Event : unsigned {
    packets = SVX_ST_PACKETS,
    not_ours = SVX_ST_NOT_OURS,
    tcp_to_sal = SVX_ST_TCP_TO_SAL,
    sal_to_tcp = SVX_ST_SAL_TO_TCP,
    emitted = SVX_ST_EMITTED,
    flows_created = SVX_ST_FLOWS_CREATED,
    flows_closed = SVX_ST_FLOWS_CLOSED,
    flows_expired = SVX_ST_FLOWS_EXPIRED,
    embryonic_evicted = SVX_ST_EMBRYONIC_EVICTED,
    table_full = SVX_ST_TABLE_FULL,
    no_flow_port = SVX_ST_NO_FLOW_PORT,
    tcp_reset_replies = SVX_ST_TCP_RESET_REPLIES,
    passive_resets = SVX_ST_PASSIVE_RESETS,
    router_forwarded = SVX_ST_ROUTER_FORWARDED,
    registrations = SVX_ST_REGISTRATIONS,
    registrations_refused = SVX_ST_REGISTRATIONS_REFUSED,
    emit_overflow = SVX_ST_EMIT_OVERFLOW,
    xmit_errors = SVX_ST_XMIT_ERRORS,
    nl_rejected = SVX_ST_NL_REJECTED,
    gso_malformed = SVX_ST_GSO_MALFORMED,
    count_ = SVX_ST__COUNT,
};

std::string_view event_name(Event event);
std::string_view event_desc(Event event);

// Single-writer counters (the worker) read by the control thread.
class Counters {
public:
    void add(Event e, std::uint64_t n = 1) { bump(events_[static_cast<unsigned>(e)], n); }
    void drop(svx_err reason) {
        if (static_cast<unsigned>(reason) < drops_.size())
            bump(drops_[reason], 1);
    }
    [[nodiscard]] std::uint64_t event(Event e) const {
        return events_[static_cast<unsigned>(e)].load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t drops(svx_err reason) const {
        return drops_[reason].load(std::memory_order_relaxed);
    }

private:
    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::array<std::atomic<std::uint64_t>, static_cast<unsigned>(Event::count_)> events_{};
    std::array<std::atomic<std::uint64_t>, SVX_E__COUNT> drops_{};
};

struct HostService {
    svx_sid prefix{};
    unsigned bits = 256;
    std::uint16_t port = 0;
};

// What the roles need, shared by all workers. Replaced as a whole on reload
// (workers pick the new one up between packets), so it is immutable.
struct RoleSettings {
    struct Translator {
        Ipv4 address{}; // Serval-side source address
        std::optional<Ipv4> router;
        std::shared_ptr<const config::Table> table;
        std::shared_ptr<router::ServiceTable> static_services; // may be empty
        bool strip_tcp_options = true;                         // rows without their own setting
    };
    struct Router {
        Ipv4 address{};
        svx_sid router_id{};
        std::shared_ptr<router::ServiceTable> services;
    };
    struct Host {
        Ipv4 address{};
        std::vector<HostService> services;
        std::uint16_t flow_port_low = 20000;
        std::uint16_t flow_port_high = 59999;
    };
    std::optional<Translator> translator;
    std::optional<Router> router;
    std::optional<Host> host;
    svx_flow_cfg flow{1500, 1500, 64, 8, 1000, 60000, 0};
};

class SettingsHolder {
public:
    explicit SettingsHolder(std::shared_ptr<const RoleSettings> s) : current_(std::move(s)) {}
    void replace(std::shared_ptr<const RoleSettings> s) {
        std::lock_guard lock(mutex_);
        current_ = std::move(s);
        generation_.fetch_add(1, std::memory_order_release);
    }
    [[nodiscard]] std::uint64_t generation() const {
        return generation_.load(std::memory_order_acquire);
    }
    [[nodiscard]] std::shared_ptr<const RoleSettings> get() const {
        std::lock_guard lock(mutex_);
        return current_;
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const RoleSettings> current_;
    std::atomic<std::uint64_t> generation_{0};
};

enum class Verdict { accept, drop };

// A flow as the operator sees it (svxlat flows).
struct FlowInfo {
    svx_flow flow{};
    unsigned worker = 0;
};

class Worker {
public:
    static constexpr std::uint16_t kMaxOutputPackets = 256;
    static constexpr std::uint32_t kOutputArena = 512 * 1024;

    Worker(unsigned index, unsigned count, const SettingsHolder& settings,
           const FlowLimits& limits);

    // Handles one IPv4 packet. drop: the original is consumed (its
    // translation, if any, is in outputs()); accept: not ours, untouched.
    // checksum_partial: the kernel left the transport checksum unfinished
    // (locally generated or offloaded), so it cannot be verified here.
    // link_broadcast: it arrived in a link-layer broadcast or multicast
    // frame (the steering rules' broadcast mark); the service router then
    // never forwards it (protocol section 12 step 1).
    Verdict process(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                    bool checksum_partial = false, bool link_broadcast = false);
    // Retransmissions and expiry; call every few hundred milliseconds.
    void tick(std::uint64_t now_ms);
    // Resets every flow (shutdown); the resets are in outputs().
    void abort_all();

    template <typename Fn> void for_each_output(Fn&& fn) const {
        for (std::uint16_t i = 0; i < emit_.n_pkts; ++i)
            fn(std::span<const std::uint8_t>(arena_.data() + emit_.pkts[i].off, emit_.pkts[i].len));
    }
    void clear_outputs();
    [[nodiscard]] std::uint16_t output_count() const { return emit_.n_pkts; }

    [[nodiscard]] const Counters& counters() const { return counters_; }
    std::vector<FlowInfo> snapshot_flows() const;
    [[nodiscard]] std::size_t flow_count() const;
    void set_limits(const FlowLimits& limits);

private:
    // The shared dispatcher's callbacks (svx_engine_ops), ctx = this.
    static const svx_engine_ops kOps;
    static FlowEntry* entry_of(svx_flow* flow);
    // A table entry for a new flow (evicting the oldest half-open one when
    // the embryonic limit is reached), or nullptr when the table is full.
    FlowEntry* admit_flow();
    void refresh_settings();

    unsigned index_;
    const SettingsHolder& holder_;
    std::uint64_t settings_generation_ = ~std::uint64_t{0};
    std::shared_ptr<const RoleSettings> settings_;
    // settings_ in the dispatcher's terms (host_services points into it).
    svx_engine_roles roles_{};
    std::vector<svx_host_service> host_services_;
    mutable std::mutex flows_mutex_; // held by the worker while it runs; briefly by snapshots
    FlowTable flows_;
    RandomSource random_;
    Counters counters_;
    std::vector<std::uint8_t> arena_;
    std::vector<svx_emit_pkt> out_pkts_;
    svx_emit emit_{};
};

} // namespace svxlat::engine
