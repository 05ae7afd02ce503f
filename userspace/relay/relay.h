// SPDX-License-Identifier: GPL-2.0 OR MIT
// Stream-relay mode (the paper's prototype translator, sections 4.2-4.4):
// for every table row in relay mode the client's TCP connection ends here, on
// a listening socket bound to the row's (IP, port); a second, ordinary TCP
// connection goes to the service, and bytes move between the two through a
// pair of pipes with splice(), never through user space. The Serval leg is
// connect()ed to the row's own (IP, port): the packet engine's OUTPUT
// steering turns that locally originated connection into SAL on the wire, so
// the relay never speaks SAL itself. A row may name another target instead
// (tests, benchmarks, or a plain TCP back end).
//
// Threads: one acceptor (epoll over the listeners) hands each accepted
// connection to the least loaded of a fixed set of workers; each worker has
// its own epoll (level-triggered) and owns its connections. The design, the
// backpressure and close rules and every counter are in docs/relay.md.
//
// Include as "relay/relay.h" (link svxlat_relay).
#ifndef SVXLAT_RELAY_RELAY_H
#define SVXLAT_RELAY_RELAY_H

#include "config/table.h"

#include <svxlat/sid.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace svxlat::relay {

using Ipv4Address = config::Ipv4Address; // {10, 0, 0, 1} is 10.0.0.1

using Endpoint = config::Endpoint;

// "10.0.0.1:80".
std::string format_endpoint(const Endpoint& endpoint);
// Strict dotted quad (no leading zeros), ':', port 1..65535; nullopt otherwise.
std::optional<Endpoint> parse_endpoint(std::string_view text);

// One table row in relay mode.
struct RelayRow {
    Endpoint listen;                // the public (IP, port) the relay binds
    svx_sid service{};              // for display: the service the row maps to
    std::optional<Endpoint> target; // where the Serval leg connects; unset: `listen`
    bool proxy_v2 = false;          // send a PROXY protocol v2 header first on the Serval leg
    std::string file;               // where the row was read, for diagnostics
    unsigned line = 0;

    // Where new connections of this row go.
    [[nodiscard]] Endpoint effective_target() const { return target.value_or(listen); }
};

// Same service, target and PROXY setting (listen endpoint, file, line ignored).
bool same_settings(const RelayRow& a, const RelayRow& b);

// A translator-table row as a relay row (no target override, no PROXY header).
RelayRow relay_row_from_table(const config::TableRow& row, std::string_view file);

struct RelayOptions {
    unsigned workers = 0;             // 0: one per online CPU
    std::size_t pipe_size = 1u << 20; // F_SETPIPE_SZ of each pipe; 0: the kernel default
    std::chrono::milliseconds idle_timeout = std::chrono::minutes{10}; // 0: never
    std::chrono::milliseconds connect_timeout = std::chrono::seconds{10};
    bool dynamic_aliasing = false; // add a /32 for row addresses that are not local
    std::string alias_interface;   // "": the default route's interface, else the first
                                   // non-loopback interface that is up
    // Beyond the brief's knobs (defaults are the production choice):
    bool use_splice = true;              // false: recv/send only (benchmarks, tests)
    std::size_t copy_buffer = 64u << 10; // per direction, recv/send fallback only
    std::uint32_t serval_mark = 0;       // SO_MARK on the Serval leg (0: none)
    int backlog = 1024;
};

// The row diff apply() performs, by listen endpoint. Indices into the spans
// given to diff_rows; a duplicate endpoint in `next` (after its first
// occurrence) is listed in `duplicates` and otherwise ignored.
struct RowDiff {
    std::vector<std::size_t> added;     // in next, not in old
    std::vector<std::size_t> removed;   // in old, not in next
    std::vector<std::size_t> changed;   // in next; in old with other settings
    std::vector<std::size_t> unchanged; // in next; in old with the same settings
    std::vector<std::size_t> duplicates;
};
RowDiff diff_rows(std::span<const RelayRow> old_rows, std::span<const RelayRow> next_rows);

struct ApplyResult {
    // `FILE:LINE: address: cannot bind 10.9.9.9:80: Cannot assign requested
    // address`, one per row that was skipped, in row order.
    std::vector<config::Diagnostic> diagnostics;
    std::size_t listeners = 0; // rows listening after the apply
    std::size_t added = 0, removed = 0, changed = 0, unchanged = 0, failed = 0;

    [[nodiscard]] bool usable() const { return listeners > 0; } // the relay serves
};

// PROXY protocol v2, TCP over IPv4: signature, 0x21 (v2, PROXY), 0x11
// (AF_INET, STREAM), length 12, then source address, destination address,
// source port, destination port, all big-endian.
inline constexpr std::size_t kProxyV2HeaderSize = 28;
std::array<std::uint8_t, kProxyV2HeaderSize> proxy_v2_header(const Endpoint& source,
                                                             const Endpoint& destination);

// Counters, summed over the workers. Names are stable (scripts parse them).
enum class Counter : unsigned {
    accepted,
    accept_errors,
    connected,
    connect_failed,
    connect_timeout,
    client_aborted,
    setup_failed,
    closed,
    half_closes,
    resets_propagated,
    idle_closed,
    aborted_on_stop,
    splice_fallback,
    pipe_size_refused,
    proxy_headers,
    bytes_to_service,
    bytes_to_client,
    bind_failed,
    aliases_added,
    aliases_removed,
    alias_errors,
    reloads,
    loops_refused,
    count,
};

struct CounterInfo {
    std::string_view name;
    std::string_view description;
};

inline constexpr std::array<CounterInfo, static_cast<std::size_t>(Counter::count)> kCounterInfo{{
    {"accepted", "client connections accepted on a relay row's listener"},
    {"accept_errors", "accept() failures other than EAGAIN (EMFILE, ENFILE, ENOBUFS...); the "
                      "listener pauses for 100 ms"},
    {"connected", "Serval-leg connections established (relaying began)"},
    {"connect_failed", "Serval-leg connects refused or failed; the client got a reset"},
    {"connect_timeout",
     "Serval-leg connects not done within connect_timeout; the client got a reset"},
    {"client_aborted", "clients that reset while their Serval leg was connecting"},
    {"setup_failed", "connections reset because a socket or pipe could not be created"},
    {"closed", "connections that ended cleanly: both directions finished and drained"},
    {"half_closes", "shutdown(SHUT_WR) sent after EOF from the other side, its pipe drained"},
    {"resets_propagated", "a reset or write error on one side turned into a reset of the other"},
    {"idle_closed", "connections reset after idle_timeout without a byte either way"},
    {"aborted_on_stop", "live connections reset because the relay stopped"},
    {"splice_fallback",
     "directions moved to recv/send with a bounded buffer because splice was refused (EINVAL)"},
    {"pipe_size_refused", "pipes left at the kernel default size: F_SETPIPE_SZ was refused"},
    {"proxy_headers", "PROXY protocol v2 headers sent on the Serval leg"},
    {"bytes_to_service", "bytes relayed from clients to services"},
    {"bytes_to_client", "bytes relayed from services to clients"},
    {"bind_failed", "rows skipped because their address could not be bound (apply)"},
    {"aliases_added", "/32 aliases added by dynamic aliasing"},
    {"aliases_removed", "aliases removed again on stop"},
    {"alias_errors", "aliases that could not be added or removed"},
    {"reloads", "apply() calls after the first"},
    {"loops_refused", "connections reset because the relay's Serval leg came back to its own "
                      "listener: the engine is not translating it (steering missing or failing "
                      "open)"},
}};

using CounterValues = std::array<std::uint64_t, static_cast<std::size_t>(Counter::count)>;

enum class ConnectionState { connecting, relaying, half_closed };
std::string_view to_string(ConnectionState state);

// A connection as the operator sees it.
struct ConnectionInfo {
    Endpoint client; // the client's address and port
    Endpoint row;    // the row (public IP, port) it connected to
    Endpoint target; // the address the Serval leg connected (or connects) to
    svx_sid service{};
    ConnectionState state = ConnectionState::connecting;
    std::uint64_t bytes_to_service = 0; // relayed client -> service
    std::uint64_t bytes_to_client = 0;
    std::size_t pipe_to_service = 0; // bytes held now (pipe, or buffer on the fallback path)
    std::size_t pipe_to_client = 0;
    std::size_t pipe_capacity = 0; // of each pipe (F_GETPIPE_SZ); 0 while connecting
    std::chrono::milliseconds age{0};
    std::chrono::milliseconds idle{0};
    unsigned worker = 0;
    bool proxy_v2 = false;
    bool copy_fallback = false; // a direction runs on recv/send
};

// A listening row.
struct ListenerInfo {
    RelayRow row;
    bool alias_added = false; // its address is one of our aliases
    std::uint64_t accepted = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (the relay needs six
// descriptors per connection). Returns the new soft limit.
std::uint64_t raise_nofile_limit();

class Relay {
public:
    // Starts the acceptor and the workers; no row listens until apply().
    explicit Relay(RelayOptions options = {});
    ~Relay(); // stop()
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // Makes `rows` the relay's rows, incrementally: new rows get a listener,
    // removed rows lose theirs (their live connections go on), rows whose
    // service, target or PROXY setting changed apply it to new connections.
    // A row that cannot be bound is reported and skipped. Call from one thread
    // at a time (any thread); safe while the workers run.
    ApplyResult apply(std::span<const RelayRow> rows);

    // Closes the listeners, resets live connections, joins the threads and
    // removes exactly the aliases this relay added. Idempotent.
    void stop();

    [[nodiscard]] CounterValues counters() const;
    [[nodiscard]] std::uint64_t counter(Counter which) const;
    [[nodiscard]] std::vector<ConnectionInfo> connections() const;
    [[nodiscard]] std::vector<ListenerInfo> listeners() const;
    [[nodiscard]] std::size_t connection_count() const;
    [[nodiscard]] const RelayOptions& options() const;
    [[nodiscard]] unsigned worker_count() const;
    // Addresses dynamic aliasing added (and stop() will remove), with the interface.
    [[nodiscard]] std::vector<std::pair<Ipv4Address, std::string>> aliases() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace svxlat::relay

#endif // SVXLAT_RELAY_RELAY_H
