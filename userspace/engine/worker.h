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

#include <svxlat/flow.h>

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

// Engine events worth counting besides the drop reasons (enum svx_err).
enum class Event : unsigned {
    packets,               // packets handed to the engine
    not_ours,              // accepted untouched: no role owns them
    tcp_to_sal,            // packets from the TCP side translated
    sal_to_tcp,            // packets from the SAL side translated
    emitted,               // packets the engine emitted (translated, segmented, originated)
    flows_created,         //
    flows_closed,          // reached time-wait or closed
    flows_expired,         // removed by their state's timeout
    embryonic_evicted,     // oldest embryonic flow evicted for a new SYN
    table_full,            // new flow refused: table at max-flows
    no_flow_port,          // host agent: no free per-flow port
    tcp_reset_replies,     // RST sent for a TCP segment without a flow
    passive_resets,        // SAL passive RST sent for a SAL packet without a flow
    router_forwarded,      // SYNs/datagrams the service router forwarded
    registrations,         // registration messages applied
    registrations_refused, // registration messages the table refused
    emit_overflow,         // emitted packets that did not fit the output buffer
    count_,
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
        bool strip_tcp_options = true; // rows without their own setting
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
    svx_flow_cfg flow{1500, 1500, 64, 8, 1000, 60000};
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
    Verdict process(std::span<const std::uint8_t> pkt, std::uint64_t now_ms,
                    bool checksum_partial = false);
    // Retransmissions and expiry; call every few hundred milliseconds.
    void tick(std::uint64_t now_ms);
    // Resets every flow (shutdown); the resets are in outputs().
    void abort_all();

    template <typename Fn> void for_each_output(Fn&& fn) const {
        for (std::uint16_t i = 0; i < emit_.n_pkts; ++i)
            fn(std::span<const std::uint8_t>(arena_.data() + emit_.pkts[i].off,
                                             emit_.pkts[i].len));
    }
    void clear_outputs();
    [[nodiscard]] std::uint16_t output_count() const { return emit_.n_pkts; }

    [[nodiscard]] const Counters& counters() const { return counters_; }
    std::vector<FlowInfo> snapshot_flows() const;
    [[nodiscard]] std::size_t flow_count() const;
    void set_limits(const FlowLimits& limits);

private:
    Verdict on_tcp(std::span<const std::uint8_t> pkt, std::uint64_t now_ms, bool verify_csum);
    Verdict on_sal(std::span<const std::uint8_t> pkt, std::uint64_t now_ms, bool verify_csum);
    Verdict on_icmp(std::span<const std::uint8_t> pkt, std::uint64_t now_ms);
    Verdict translator_tcp(std::span<const std::uint8_t> pkt, const svx_tcp_view& tv,
                           const config::TableRow* row, std::uint64_t now_ms);
    Verdict host_sal_syn(std::span<const std::uint8_t> pkt, const svx_pkt_view& pv,
                         std::uint64_t now_ms);
    Verdict router_packet(std::span<const std::uint8_t> pkt, const svx_pkt_view& pv,
                          std::uint64_t now_ms);
    void after_call(FlowEntry* entry, const svx_result& r, Event translated);
    // A table entry for a new flow (evicting the oldest half-open one when
    // the embryonic limit is reached), or nullptr when the table is full.
    FlowEntry* admit_flow();
    void refresh_settings();
    std::optional<std::uint16_t> host_port_for(const svx_sid& service) const;
    bool is_host_service_port(const std::uint8_t* addr, std::uint16_t port) const;

    unsigned index_;
    const SettingsHolder& holder_;
    std::uint64_t settings_generation_ = ~std::uint64_t{0};
    std::shared_ptr<const RoleSettings> settings_;
    mutable std::mutex flows_mutex_; // held by the worker while it runs; briefly by snapshots
    FlowTable flows_;
    RandomSource random_;
    Counters counters_;
    std::vector<std::uint8_t> arena_;
    std::vector<svx_emit_pkt> out_pkts_;
    svx_emit emit_{};
    std::vector<std::uint8_t> scratch_; // router forwarding copy
};

} // namespace svxlat::engine
