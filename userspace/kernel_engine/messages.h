// SPDX-License-Identifier: GPL-2.0 OR MIT
// The generic netlink messages between svxlatd and svxlat.ko
// (include/svxlat/nl.h), as pure functions of bytes: building requests
// into a buffer and decoding replies, with no socket involved, so that both
// are tested and fuzzed on a host that cannot load the module. The socket
// side is client.h.
//
// Every message is nlmsghdr, genlmsghdr (version SVX_NL_VERSION), struct
// svx_nl_hdr {SVX_NL_MAGIC, SVX_NL_VERSION, 0}, then attributes. Decoders
// check every length against the buffer and throw KernelError (kind
// protocol) on anything malformed; they never read outside their span.
//
// Include as "kernel_engine/messages.h" (link svxlat_kernel_engine).
#ifndef SVXLAT_KERNEL_ENGINE_MESSAGES_H
#define SVXLAT_KERNEL_ENGINE_MESSAGES_H

#include <svxlat/flow.h>
#include <svxlat/nl.h>
#include <svxlat/route.h>
#include <svxlat/sid.h>
#include <svxlat/stats.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace svxlat::kernel_engine {

// Bytes in the order they are written: 10.0.2.1 is {10, 0, 2, 1}.
using Ipv4Address = std::array<std::uint8_t, 4>;

// Everything SET_CONFIG carries: the whole configuration of the caller's
// network namespace, replaced atomically.
struct KernelConfig {
    struct Row {
        Ipv4Address address{};  // public address
        std::uint16_t port = 0; // public port, nonzero
        svx_sid service{};
        bool strip_tcp_options = true; // SACK-permitted/timestamps out of the client's SYN
        // Relay row: only this host's own connections (the relay's Serval
        // leg) are translated; clients' connections reach the relay.
        bool local_only = false;
    };
    // A route table as svx_route_table holds it (table order, targets of
    // entry e at [e.first, e.first + e.n_targets)); expires is not sent.
    struct Routes {
        std::vector<svx_route_entry> entries;
        std::vector<svx_route_target> targets;
    };
    struct Translator {
        Ipv4Address address{};             // Serval-side source address
        std::optional<Ipv4Address> router; // where SAL SYNs go that no static service takes
        std::vector<Row> rows;             // at most SVX_NL_MAX_ROWS, unique (address, port)
        Routes static_services;            // [translator] service: tried before router
    };
    struct HostService {
        svx_sid prefix{};
        std::uint16_t bits = 256; // 0..256
        std::uint16_t port = 0;   // local TCP port, nonzero
    };
    struct Host {
        Ipv4Address address{};
        std::uint16_t port_low = 20000; // per-flow ports, port_low <= port_high
        std::uint16_t port_high = 59999;
        std::vector<HostService> services; // at most SVX_NL_MAX_SERVICES
    };
    // The service router: the module forwards SAL SYNs sent to address
    // (resolved in the table SET_ROUTES pushes) and lets registrations,
    // datagrams to router_id, pass to svxlatd's NFQUEUE worker.
    struct Router {
        Ipv4Address address{};
        svx_sid router_id{};
    };

    svx_flow_cfg flow{1500, 1500, 64, 8, 1000, 60000, 0};
    std::array<std::uint32_t, SVX_TO__COUNT> timeouts_ms{30000, 7440000, 120000, 60000};
    std::uint32_t max_flows = 262144;     // 1..SVX_NL_MAX_FLOWS
    std::uint32_t max_embryonic = 65536;  // 1..max_flows
    std::optional<Translator> translator; // role on when present
    std::optional<Host> host;             // role on when present
    std::optional<Router> router;         // role on when present
    std::uint64_t generation = 0;         // echoed by GET_INFO
};

// What GET_INFO reports.
struct KernelInfo {
    std::uint32_t version = 0;   // the module's SVX_NL_VERSION
    std::uint32_t flow_size = 0; // its sizeof(struct svx_flow)
    bool configured = false;     // this namespace has a configuration
    std::uint32_t flow_count = 0;
    std::optional<std::uint64_t> config_generation;
    std::optional<std::uint32_t> route_count;       // entries in the router's table
    std::optional<std::uint64_t> routes_generation; // of the last SET_ROUTES (none before one)
    std::optional<std::uint32_t> xlt_route_count;   // entries of the translator's static services
};

// One route of the GET_ROUTES dump, with what the module counted per target.
struct KernelRouteTarget {
    Ipv4Address address{};
    std::uint32_t priority = 0;
    std::uint32_t weight = 1;
    std::uint64_t chosen = 0; // SYNs the module forwarded to it
};
struct KernelRoute {
    svx_sid prefix{}; // masked to bits
    std::uint16_t bits = 0;
    std::vector<KernelRouteTarget> targets; // at least one, unique addresses
};

// GET_STATS: the module's arrays as sent, indexed by enum svx_stat and enum
// svx_err. Either may be shorter (an older module: the rest is zero) or
// longer (a newer one: ids this daemon has no name for) than ours.
struct KernelStats {
    std::vector<std::uint64_t> stats;
    std::vector<std::uint64_t> drops;

    [[nodiscard]] std::uint64_t stat(unsigned id) const {
        return id < stats.size() ? stats[id] : 0;
    }
    [[nodiscard]] std::uint64_t drop(unsigned id) const {
        return id < drops.size() ? drops[id] : 0;
    }
};

enum class ErrorKind {
    family_missing, // no generic netlink family "svxlat": the module is not loaded
    incompatible,   // the module speaks another protocol version or struct layout
    refused,        // the module (or the kernel) answered a request with an error
    io,             // the socket failed, or no answer came in time
    protocol,       // a reply that is malformed or not what was asked for
    invalid_config, // a KernelConfig or route table outside nl.h's bounds; nothing was sent
};

class KernelError : public std::runtime_error {
public:
    KernelError(ErrorKind kind, const std::string& what, int error_number = 0)
        : std::runtime_error(what), kind_(kind), errno_(error_number) {}
    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
    // The errno of a refused or failed request; 0 when there is none.
    [[nodiscard]] int error_number() const noexcept { return errno_; }

private:
    ErrorKind kind_;
    int errno_;
};

// "GET_INFO", "SET_CONFIG", ...; "command N" for another value.
std::string command_name(std::uint8_t cmd);

// Why config cannot be sent (nl.h's bounds, the order of limits, duplicate
// rows), or nullopt when it can.
std::optional<std::string> validate(const KernelConfig& config);

// Why a router table cannot be sent, or nullopt: nl.h's bounds (routes,
// targets per route and in all), svx_route_table_check() (table order, so
// unique prefixes; masked; weights >= 1) and one address at most once per
// route. Only the targets the entries reference are sent. what names the
// table in the text ("the router's table", "the static services").
std::optional<std::string> validate_routes(std::span<const svx_route_entry> entries,
                                           std::span<const svx_route_target> targets,
                                           std::string_view what = "the router's table");

struct RequestHeader {
    std::uint16_t family_id = 0;
    std::uint32_t seq = 0;
    std::uint16_t flags = 0; // NLM_F_*; NLM_F_REQUEST is always set
};

// A request without attributes (GET_INFO, CLEAR_CONFIG, GET_STATS,
// GET_FLOWS, GET_ROUTES).
std::vector<std::uint8_t> encode_request(std::uint8_t cmd, const RequestHeader& header);
// SET_CONFIG. Rows, host services and the translator's static services are
// repeated top-level SVX_NLA_ROW, SVX_NLA_SERVICE and SVX_NLA_XLT_ROUTE
// nests, in order (one list attribute could not exceed 64 KB). Throws
// KernelError (invalid_config) when validate() refuses.
std::vector<std::uint8_t> encode_set_config(const KernelConfig& config,
                                            const RequestHeader& header);
// SET_ROUTES: ROUTES_GEN, then one top-level SVX_NLA_ROUTE nest per entry in
// order (ROUTE_PREFIX, ROUTE_BITS, one ROUTE_TARGET nest per target:
// TGT_ADDR, TGT_PRIORITY, TGT_WEIGHT; expires is not sent). Throws
// KernelError (invalid_config) when validate_routes() refuses.
std::vector<std::uint8_t> encode_set_routes(std::span<const svx_route_entry> entries,
                                            std::span<const svx_route_target> targets,
                                            std::uint64_t generation, const RequestHeader& header);
// GET_ROUTES of one table (enum svx_nl_routes): a dump request with
// ROUTES_TABLE.
std::vector<std::uint8_t> encode_get_routes(std::uint8_t table, const RequestHeader& header);

// Why a module with this GET_INFO answer cannot work with this svxlatd
// (another protocol version, another struct svx_flow), or nullopt.
std::optional<std::string> incompatibility(const KernelInfo& info);

// One reply message (its netlink header included) of the family: checks the
// headers (type, command, magic, version) and decodes the attributes.
KernelInfo decode_info(std::span<const std::uint8_t> message, std::uint16_t family_id);
KernelStats decode_stats(std::span<const std::uint8_t> message, std::uint16_t family_id);
// One message of a GET_FLOWS dump. A record whose size is not
// sizeof(svx_flow) is refused (kind incompatible): the module was built from
// another svxlat version.
svx_flow decode_flow(std::span<const std::uint8_t> message, std::uint16_t family_id);
// One message of a GET_ROUTES dump: one ROUTE with its prefix, bits and
// 1..SVX_NL_MAX_TARGETS_PER_ROUTE targets, each with address, priority,
// weight and chosen, no address twice.
KernelRoute decode_route(std::span<const std::uint8_t> message, std::uint16_t family_id);

// Assembles a GET_ROUTES dump. The module sends a route with more targets
// than fit one message as consecutive messages with the same prefix and
// bits; they are merged here. Throws KernelError (protocol) on an address
// repeated across such messages and beyond nl.h's bounds.
class RouteDump {
public:
    void add(KernelRoute route);
    [[nodiscard]] const std::vector<KernelRoute>& routes() const { return routes_; }
    std::vector<KernelRoute> take() { return std::move(routes_); }

private:
    std::vector<KernelRoute> routes_;
    std::size_t targets_ = 0;
};

// The generic netlink controller's answer to CTRL_CMD_GETFAMILY.
struct FamilyInfo {
    std::uint16_t id = 0;
    std::uint32_t version = 0;
    std::uint32_t header_size = 0;
};
std::vector<std::uint8_t> encode_get_family(std::string_view name, std::uint32_t seq);
FamilyInfo decode_family(std::span<const std::uint8_t> message);

// Walks one received datagram of replies to request seq from socket portid.
// Messages with another sequence number (late answers to an abandoned
// request) are skipped. Calls on_message for each message of type
// family_id. Returns true when the reply is complete: the ACK of a request
// sent with NLM_F_ACK, or NLMSG_DONE of a dump. Throws KernelError: refused
// (NLMSG_ERROR with an errno, or a failed dump; the text has the kernel's
// extended-ACK message when it sent one) or protocol (malformed).
struct ReplyContext {
    std::uint16_t family_id = 0;
    std::uint32_t seq = 0;
    std::uint32_t portid = 0;
    std::string_view peer = "svxlat.ko"; // for error texts: "PEER refused REQUEST: ..."
    std::string_view request;            // "SET_CONFIG"
};
bool read_reply(std::span<const std::uint8_t> datagram, const ReplyContext& context,
                const std::function<void(std::span<const std::uint8_t>)>& on_message);

} // namespace svxlat::kernel_engine

#endif // SVXLAT_KERNEL_ENGINE_MESSAGES_H
