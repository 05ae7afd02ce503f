// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "kernel_engine/messages.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

namespace svxlat::kernel_engine {
namespace {

// Bytes a module message carries before its attributes.
constexpr std::size_t kModuleHeaders = NLMSG_HDRLEN + GENL_HDRLEN + sizeof(svx_nl_hdr);
// An implausible counter array: garbage, not a newer module.
constexpr std::size_t kMaxCounterIds = 4096;
// Longest extended-ACK message quoted in an error.
constexpr std::size_t kMaxKernelMessage = 200;

// Encoded sizes (header + payload, aligned) of a row and a service nest;
// each is one attribute, far below nla_len's 64 KB.
constexpr std::size_t kRowBytes = NLA_HDRLEN + NLA_ALIGN(NLA_HDRLEN + 4) +
                                  NLA_ALIGN(NLA_HDRLEN + 2) + NLA_ALIGN(NLA_HDRLEN + SVX_SID_LEN) +
                                  NLA_ALIGN(NLA_HDRLEN + 1);
constexpr std::size_t kServiceBytes =
    NLA_HDRLEN + NLA_ALIGN(NLA_HDRLEN + SVX_SID_LEN) + 2 * NLA_ALIGN(NLA_HDRLEN + 2);
// Everything of SET_CONFIG but the rows and services, with room to spare.
constexpr std::size_t kSetConfigFixedBytes = 512;
// A ROUTE nest without its targets, one ROUTE_TARGET nest, and everything of
// SET_ROUTES but the routes (headers, ROUTES_GEN) with room to spare.
constexpr std::size_t kRouteBytes =
    NLA_HDRLEN + NLA_ALIGN(NLA_HDRLEN + SVX_SID_LEN) + NLA_ALIGN(NLA_HDRLEN + 2);
constexpr std::size_t kRouteTargetBytes = NLA_HDRLEN + 3 * NLA_ALIGN(NLA_HDRLEN + 4);
constexpr std::size_t kSetRoutesFixedBytes = 64;
// A route nest is one attribute: nla_len is 16 bits.
static_assert(kRouteBytes + SVX_NL_MAX_TARGETS_PER_ROUTE * kRouteTargetBytes <= UINT16_MAX);

[[noreturn]] void malformed(std::string_view what, const std::string& why) {
    throw KernelError(ErrorKind::protocol,
                      "svxlat.ko sent a malformed " + std::string(what) + ": " + why);
}

nlmsghdr load_nlmsghdr(std::span<const std::uint8_t> bytes) {
    nlmsghdr h{};
    std::memcpy(&h, bytes.data(), sizeof(h));
    return h;
}

// Calls fn(type, payload) for each attribute of area; lengths are checked
// against area, and trailing bytes that are not an attribute are an error.
template <typename Fn>
void for_each_attribute(std::span<const std::uint8_t> area, std::string_view what, Fn&& fn) {
    std::size_t off = 0;
    while (off < area.size()) {
        if (area.size() - off < NLA_HDRLEN)
            malformed(what,
                      std::to_string(area.size() - off) + " trailing bytes after the attributes");
        nlattr a{};
        std::memcpy(&a, area.data() + off, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > area.size() - off)
            malformed(what, "attribute " + std::to_string(a.nla_type & NLA_TYPE_MASK) +
                                " of length " + std::to_string(a.nla_len) + " at byte " +
                                std::to_string(off) +
                                (a.nla_len < NLA_HDRLEN ? " is shorter than its header"
                                                        : " overruns its message"));
        fn(static_cast<unsigned>(a.nla_type & NLA_TYPE_MASK),
           area.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN));
        off += NLA_ALIGN(a.nla_len);
    }
}

template <typename T>
T scalar(std::span<const std::uint8_t> payload, std::string_view what, std::string_view name) {
    if (payload.size() != sizeof(T))
        malformed(what, std::string(name) + " is " + std::to_string(payload.size()) +
                            " bytes, expected " + std::to_string(sizeof(T)));
    T value{};
    std::memcpy(&value, payload.data(), sizeof(T));
    return value;
}

std::vector<std::uint64_t> counter_array(std::span<const std::uint8_t> payload,
                                         std::string_view what, std::string_view name) {
    if (payload.size() % sizeof(std::uint64_t) != 0)
        malformed(what, std::string(name) + " is " + std::to_string(payload.size()) +
                            " bytes, not a whole number of u64");
    std::size_t n = payload.size() / sizeof(std::uint64_t);
    if (n > kMaxCounterIds)
        malformed(what, std::string(name) + " holds " + std::to_string(n) + " counters (at most " +
                            std::to_string(kMaxCounterIds) + ")");
    std::vector<std::uint64_t> values(n);
    if (n != 0) // an empty vector's data() may be null
        std::memcpy(values.data(), payload.data(), payload.size());
    return values;
}

// Marks attribute type as seen; a second occurrence is an error.
class SeenOnce {
public:
    void mark(unsigned type, std::string_view what, std::string_view name) {
        if (type < seen_.size()) {
            if (seen_[type])
                malformed(what, std::string(name) + " appears twice");
            seen_[type] = true;
        }
    }
    [[nodiscard]] bool has(unsigned type) const { return type < seen_.size() && seen_[type]; }

private:
    std::array<bool, SVX_NLA__COUNT> seen_{};
};

// The attribute area of one module message after checking its headers.
std::span<const std::uint8_t> module_attributes(std::span<const std::uint8_t> message,
                                                std::uint16_t family_id, std::uint8_t cmd,
                                                std::string_view what) {
    if (message.size() < NLMSG_HDRLEN)
        malformed(what, "message of " + std::to_string(message.size()) + " bytes");
    nlmsghdr h = load_nlmsghdr(message);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > message.size() ||
        message.size() - h.nlmsg_len >= NLMSG_ALIGNTO)
        malformed(what, "message length " + std::to_string(h.nlmsg_len) + " in a buffer of " +
                            std::to_string(message.size()) + " bytes");
    if (h.nlmsg_type != family_id)
        malformed(what, "message type " + std::to_string(h.nlmsg_type) + ", expected family " +
                            std::to_string(family_id));
    if (h.nlmsg_len < kModuleHeaders)
        malformed(what, "message of " + std::to_string(h.nlmsg_len) +
                            " bytes, shorter than its headers (" + std::to_string(kModuleHeaders) +
                            ")");
    genlmsghdr g{};
    std::memcpy(&g, message.data() + NLMSG_HDRLEN, sizeof(g));
    svx_nl_hdr u{};
    std::memcpy(&u, message.data() + NLMSG_HDRLEN + GENL_HDRLEN, sizeof(u));
    if (u.magic != SVX_NL_MAGIC)
        malformed(what, "magic " + std::to_string(u.magic) + ", expected " +
                            std::to_string(SVX_NL_MAGIC));
    if (u.version != SVX_NL_VERSION || g.version != SVX_NL_VERSION)
        throw KernelError(ErrorKind::incompatible,
                          "svxlat.ko speaks netlink protocol version " +
                              std::to_string(u.version != SVX_NL_VERSION ? u.version : g.version) +
                              ", this svxlatd version " + std::to_string(SVX_NL_VERSION));
    if (g.cmd != cmd)
        malformed(what, "reply to " + command_name(g.cmd) + ", expected " + command_name(cmd));
    return message.subspan(kModuleHeaders, h.nlmsg_len - kModuleHeaders);
}

std::string printable(std::span<const std::uint8_t> text) {
    std::string out;
    for (std::uint8_t c : text) {
        if (c == 0 || out.size() >= kMaxKernelMessage)
            break;
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

// The extended ACK's message (and offset) of an NLMSG_ERROR, or "".
std::string extack_text(std::span<const std::uint8_t> message, const nlmsghdr& h) {
    if (!(h.nlmsg_flags & NLM_F_ACK_TLVS) || message.size() < NLMSG_HDRLEN + sizeof(nlmsgerr))
        return {};
    nlmsgerr e{};
    std::memcpy(&e, message.data() + NLMSG_HDRLEN, sizeof(e));
    std::size_t payload = sizeof(nlmsgerr);
    if (!(h.nlmsg_flags & NLM_F_CAPPED)) {
        if (e.msg.nlmsg_len < NLMSG_HDRLEN)
            return {};
        payload += e.msg.nlmsg_len - NLMSG_HDRLEN;
    }
    std::size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(payload);
    if (off >= message.size())
        return {};
    std::string text, offset;
    try {
        for_each_attribute(message.subspan(off), "extended ACK",
                           [&](unsigned type, std::span<const std::uint8_t> p) {
                               if (type == NLMSGERR_ATTR_MSG)
                                   text = printable(p);
                               else if (type == NLMSGERR_ATTR_OFFS && p.size() == 4) {
                                   std::uint32_t at = 0;
                                   std::memcpy(&at, p.data(), 4);
                                   offset = "at byte " + std::to_string(at) + " of the request";
                               }
                           });
    } catch (const KernelError&) {
        return {}; // the errno stands on its own
    }
    if (!text.empty() && !offset.empty())
        return text + ", " + offset;
    return text.empty() ? offset : text;
}

[[noreturn]] void refused(const ReplyContext& c, int error_number, const std::string& detail) {
    std::string text = std::string(c.peer) + " refused " + std::string(c.request) + ": " +
                       std::strerror(error_number);
    if (!detail.empty())
        text += " (" + detail + ")";
    throw KernelError(ErrorKind::refused, text, error_number);
}

// Starts a module request in buffer (sized by the caller, never resized).
nlmsghdr* start_request(std::vector<std::uint8_t>& buffer, std::uint8_t cmd,
                        const RequestHeader& header) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = header.family_id;
    nlh->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | header.flags);
    nlh->nlmsg_seq = header.seq;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = cmd;
    genl->version = SVX_NL_VERSION;
    auto* user = static_cast<svx_nl_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(svx_nl_hdr)));
    user->magic = SVX_NL_MAGIC;
    user->version = SVX_NL_VERSION;
    user->reserved = 0;
    return nlh;
}

// Appends attributes to a buffer of fixed capacity; running out of room is
// a bug in the size computation, reported rather than overrun.
class AttributeWriter {
public:
    AttributeWriter(std::vector<std::uint8_t>& buffer, nlmsghdr* nlh)
        : nlh_(nlh), capacity_(buffer.size()) {}
    void put(std::uint16_t type, const void* data, std::size_t len) {
        check(mnl_attr_put_check(nlh_, capacity_, type, len, data));
    }
    void u8(std::uint16_t type, std::uint8_t v) {
        check(mnl_attr_put_u8_check(nlh_, capacity_, type, v));
    }
    void u16(std::uint16_t type, std::uint16_t v) {
        check(mnl_attr_put_u16_check(nlh_, capacity_, type, v));
    }
    void u32(std::uint16_t type, std::uint32_t v) {
        check(mnl_attr_put_u32_check(nlh_, capacity_, type, v));
    }
    void u64(std::uint16_t type, std::uint64_t v) {
        check(mnl_attr_put_u64_check(nlh_, capacity_, type, v));
    }
    nlattr* nest_start(std::uint16_t type) {
        nlattr* nest = mnl_attr_nest_start_check(nlh_, capacity_, type);
        check(nest != nullptr);
        return nest;
    }
    void nest_end(nlattr* nest) { mnl_attr_nest_end(nlh_, nest); }

private:
    static void check(bool ok) {
        if (!ok)
            throw std::logic_error("request encoding ran out of room (size computation)");
    }
    nlmsghdr* nlh_;
    std::size_t capacity_;
};

} // namespace

std::string command_name(std::uint8_t cmd) {
    switch (cmd) {
    case SVX_NL_CMD_GET_INFO:
        return "GET_INFO";
    case SVX_NL_CMD_SET_CONFIG:
        return "SET_CONFIG";
    case SVX_NL_CMD_CLEAR_CONFIG:
        return "CLEAR_CONFIG";
    case SVX_NL_CMD_GET_STATS:
        return "GET_STATS";
    case SVX_NL_CMD_GET_FLOWS:
        return "GET_FLOWS";
    case SVX_NL_CMD_SET_ROUTES:
        return "SET_ROUTES";
    case SVX_NL_CMD_GET_ROUTES:
        return "GET_ROUTES";
    default:
        return "command " + std::to_string(cmd);
    }
}

std::optional<std::string> validate(const KernelConfig& c) {
    if (!c.translator && !c.host && !c.router)
        return "no role: the kernel engine runs a translator, a host agent or a service router";
    if (c.flow.sal_mtu < 576 || c.flow.tcp_mtu < 576)
        return "sal-mtu and tcp-mtu must be at least 576";
    if (c.flow.ttl == 0)
        return "the TTL of originated packets must be at least 1";
    if (c.flow.rto_initial_ms == 0 || c.flow.rto_max_ms < c.flow.rto_initial_ms)
        return "retransmission timeouts: initial must be at least 1 ms and at most the maximum";
    if (c.flow.fin_ack_delay_ms > SVX_FIN_ACK_DELAY_MAX_MS)
        return "fin-ack-delay " + std::to_string(c.flow.fin_ack_delay_ms) + " ms is above " +
               std::to_string(SVX_FIN_ACK_DELAY_MAX_MS) + " ms";
    if (std::find(c.timeouts_ms.begin(), c.timeouts_ms.end(), 0u) != c.timeouts_ms.end())
        return "every flow timeout must be at least 1 ms";
    if (c.max_flows < 1 || c.max_flows > SVX_NL_MAX_FLOWS)
        return "max-flows " + std::to_string(c.max_flows) + " is outside the kernel engine's 1.." +
               std::to_string(SVX_NL_MAX_FLOWS);
    if (c.max_embryonic < 1 || c.max_embryonic > c.max_flows)
        return "max-embryonic " + std::to_string(c.max_embryonic) + " is outside 1..max-flows (" +
               std::to_string(c.max_flows) + ")";
    if (c.translator) {
        const auto& rows = c.translator->rows;
        if (rows.size() > SVX_NL_MAX_ROWS)
            return "the translator table has " + std::to_string(rows.size()) +
                   " rows; the kernel engine takes at most " + std::to_string(SVX_NL_MAX_ROWS);
        std::set<std::pair<Ipv4Address, std::uint16_t>> pairs;
        for (const auto& row : rows) {
            if (row.port == 0)
                return "a translator row has port 0";
            if (!pairs.insert({row.address, row.port}).second)
                return "the translator table has two rows for one address and port";
        }
        const auto& st = c.translator->static_services;
        if (auto why = validate_routes(st.entries, st.targets, "the static services"))
            return why;
    }
    if (c.host) {
        if (c.host->services.size() > SVX_NL_MAX_SERVICES)
            return "the host agent has " + std::to_string(c.host->services.size()) +
                   " services; the kernel engine takes at most " +
                   std::to_string(SVX_NL_MAX_SERVICES);
        if (c.host->port_low > c.host->port_high)
            return "the host agent's flow-ports range is empty";
        for (const auto& s : c.host->services) {
            if (s.bits > SVX_SID_BITS)
                return "a host service has a prefix longer than 256 bits";
            if (s.port == 0)
                return "a host service has port 0";
        }
    }
    return std::nullopt;
}

std::optional<std::string> validate_routes(std::span<const svx_route_entry> entries,
                                           std::span<const svx_route_target> targets,
                                           std::string_view what) {
    const std::string table(what);
    if (entries.size() > SVX_NL_MAX_ROUTES)
        return table + " has " + std::to_string(entries.size()) +
               " entries; the kernel engine takes at most " + std::to_string(SVX_NL_MAX_ROUTES);
    if (targets.size() > UINT32_MAX)
        return table + " has more than 2^32 targets";
    std::size_t total = 0;
    for (const auto& e : entries) {
        if (e.n_targets > SVX_NL_MAX_TARGETS_PER_ROUTE)
            return "a route has " + std::to_string(e.n_targets) +
                   " targets; the kernel engine takes at most " +
                   std::to_string(SVX_NL_MAX_TARGETS_PER_ROUTE) + " per route";
        total += e.n_targets;
    }
    if (total > SVX_NL_MAX_ROUTE_TARGETS)
        return table + " has " + std::to_string(total) +
               " targets; the kernel engine takes at most " +
               std::to_string(SVX_NL_MAX_ROUTE_TARGETS);
    // Entries in table order (so unique), masked prefixes, targets in range
    // and non-empty, weights >= 1: what the module checks after sorting.
    const svx_route_table checked{entries.data(), static_cast<std::uint32_t>(entries.size()),
                                  targets.data(), static_cast<std::uint32_t>(targets.size())};
    if (svx_route_table_check(&checked) != SVX_OK)
        return table + " is not a valid route table (order, masking, target ranges or weights)";
    for (const auto& e : entries) {
        std::set<Ipv4Address> seen;
        for (const auto& t : targets.subspan(e.first, e.n_targets))
            if (!seen.insert({t.addr[0], t.addr[1], t.addr[2], t.addr[3]}).second)
                return "a route of " + table + " lists one target address twice";
    }
    return std::nullopt;
}

std::optional<std::string> incompatibility(const KernelInfo& info) {
    if (info.version != SVX_NL_VERSION)
        return "svxlat.ko speaks netlink protocol version " + std::to_string(info.version) +
               ", this svxlatd version " + std::to_string(SVX_NL_VERSION);
    if (info.flow_size != sizeof(svx_flow))
        return "svxlat.ko keeps flows of " + std::to_string(info.flow_size) +
               " bytes, this svxlatd " + std::to_string(sizeof(svx_flow)) +
               ": the module was built from another svxlat version";
    return std::nullopt;
}

std::vector<std::uint8_t> encode_request(std::uint8_t cmd, const RequestHeader& header) {
    std::vector<std::uint8_t> buffer(MNL_ALIGN(kModuleHeaders));
    nlmsghdr* nlh = start_request(buffer, cmd, header);
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

namespace {

// Bytes of a table's route nests (targets counted as the entries reference them).
std::size_t routes_bytes(std::span<const svx_route_entry> entries) {
    std::size_t bytes = entries.size() * kRouteBytes;
    for (const auto& e : entries)
        bytes += e.n_targets * kRouteTargetBytes;
    return bytes;
}

// One top-level nest of type (ROUTE or XLT_ROUTE) per entry, in order.
void write_routes(AttributeWriter& w, std::uint16_t type, std::span<const svx_route_entry> entries,
                  std::span<const svx_route_target> targets) {
    for (const auto& e : entries) {
        nlattr* route = w.nest_start(type);
        w.put(SVX_NLA_ROUTE_PREFIX, e.prefix.b, SVX_SID_LEN);
        w.u16(SVX_NLA_ROUTE_BITS, e.bits);
        for (const auto& t : targets.subspan(e.first, e.n_targets)) {
            nlattr* target = w.nest_start(SVX_NLA_ROUTE_TARGET);
            w.put(SVX_NLA_TGT_ADDR, t.addr, sizeof(t.addr));
            w.u32(SVX_NLA_TGT_PRIORITY, t.priority);
            w.u32(SVX_NLA_TGT_WEIGHT, t.weight);
            w.nest_end(target);
        }
        w.nest_end(route);
    }
}

} // namespace

std::vector<std::uint8_t> encode_set_config(const KernelConfig& c, const RequestHeader& header) {
    if (auto why = validate(c))
        throw KernelError(ErrorKind::invalid_config, "kernel engine configuration: " + *why);
    const std::size_t rows = c.translator ? c.translator->rows.size() : 0;
    const std::size_t services = c.host ? c.host->services.size() : 0;
    std::vector<std::uint8_t> buffer(
        kSetConfigFixedBytes + rows * kRowBytes + services * kServiceBytes +
        (c.translator ? routes_bytes(c.translator->static_services.entries) : 0));
    nlmsghdr* nlh = start_request(buffer, SVX_NL_CMD_SET_CONFIG, header);
    AttributeWriter w(buffer, nlh);

    w.u16(SVX_NLA_SAL_MTU, c.flow.sal_mtu);
    w.u16(SVX_NLA_TCP_MTU, c.flow.tcp_mtu);
    w.u8(SVX_NLA_TTL, c.flow.ttl);
    w.u8(SVX_NLA_MAX_RETRANS, c.flow.max_retrans);
    w.u32(SVX_NLA_RTO_INITIAL_MS, c.flow.rto_initial_ms);
    w.u32(SVX_NLA_RTO_MAX_MS, c.flow.rto_max_ms);
    w.u32(SVX_NLA_FIN_ACK_DELAY_MS, c.flow.fin_ack_delay_ms);
    w.put(SVX_NLA_TIMEOUTS_MS, c.timeouts_ms.data(), sizeof(c.timeouts_ms));
    w.u32(SVX_NLA_MAX_FLOWS, c.max_flows);
    w.u32(SVX_NLA_MAX_EMBRYONIC, c.max_embryonic);
    w.u64(SVX_NLA_CONFIG_GEN, c.generation);
    if (const auto& t = c.translator) {
        w.put(SVX_NLA_XLT_ADDR, t->address.data(), t->address.size());
        if (t->router)
            w.put(SVX_NLA_XLT_ROUTER, t->router->data(), t->router->size());
        for (const auto& row : t->rows) {
            nlattr* entry = w.nest_start(SVX_NLA_ROW);
            w.put(SVX_NLA_ROW_ADDR, row.address.data(), row.address.size());
            w.u16(SVX_NLA_ROW_PORT, row.port);
            w.put(SVX_NLA_ROW_SERVICE, row.service.b, SVX_SID_LEN);
            w.u8(SVX_NLA_ROW_STRIP, row.strip_tcp_options ? 1 : 0);
            if (row.local_only)
                w.u8(SVX_NLA_ROW_LOCAL_ONLY, 1);
            w.nest_end(entry);
        }
        write_routes(w, SVX_NLA_XLT_ROUTE, t->static_services.entries, t->static_services.targets);
    }
    if (const auto& h = c.host) {
        w.put(SVX_NLA_HOST_ADDR, h->address.data(), h->address.size());
        w.u16(SVX_NLA_HOST_PORT_LOW, h->port_low);
        w.u16(SVX_NLA_HOST_PORT_HIGH, h->port_high);
        for (const auto& s : h->services) {
            nlattr* entry = w.nest_start(SVX_NLA_SERVICE);
            w.put(SVX_NLA_SVC_PREFIX, s.prefix.b, SVX_SID_LEN);
            w.u16(SVX_NLA_SVC_BITS, s.bits);
            w.u16(SVX_NLA_SVC_PORT, s.port);
            w.nest_end(entry);
        }
    }
    if (const auto& r = c.router) {
        w.put(SVX_NLA_ROUTER_ADDR, r->address.data(), r->address.size());
        w.put(SVX_NLA_ROUTER_ID, r->router_id.b, SVX_SID_LEN);
    }
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

std::vector<std::uint8_t> encode_set_routes(std::span<const svx_route_entry> entries,
                                            std::span<const svx_route_target> targets,
                                            std::uint64_t generation, const RequestHeader& header) {
    if (auto why = validate_routes(entries, targets))
        throw KernelError(ErrorKind::invalid_config, "kernel engine route table: " + *why);
    std::vector<std::uint8_t> buffer(kSetRoutesFixedBytes + routes_bytes(entries));
    nlmsghdr* nlh = start_request(buffer, SVX_NL_CMD_SET_ROUTES, header);
    AttributeWriter w(buffer, nlh);
    w.u64(SVX_NLA_ROUTES_GEN, generation);
    write_routes(w, SVX_NLA_ROUTE, entries, targets);
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

std::vector<std::uint8_t> encode_get_routes(std::uint8_t table, const RequestHeader& header) {
    std::vector<std::uint8_t> buffer(MNL_ALIGN(kModuleHeaders) + MNL_ALIGN(NLA_HDRLEN + 1));
    nlmsghdr* nlh = start_request(buffer, SVX_NL_CMD_GET_ROUTES, header);
    AttributeWriter w(buffer, nlh);
    w.u8(SVX_NLA_ROUTES_TABLE, table);
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

KernelInfo decode_info(std::span<const std::uint8_t> message, std::uint16_t family_id) {
    constexpr std::string_view what = "GET_INFO reply";
    KernelInfo info;
    SeenOnce seen;
    for_each_attribute(
        module_attributes(message, family_id, SVX_NL_CMD_GET_INFO, what), what,
        [&](unsigned type, std::span<const std::uint8_t> p) {
            switch (type) {
            case SVX_NLA_VERSION:
                seen.mark(type, what, "VERSION");
                info.version = scalar<std::uint32_t>(p, what, "VERSION");
                break;
            case SVX_NLA_FLOW_SIZE:
                seen.mark(type, what, "FLOW_SIZE");
                info.flow_size = scalar<std::uint32_t>(p, what, "FLOW_SIZE");
                break;
            case SVX_NLA_CONFIGURED:
                seen.mark(type, what, "CONFIGURED");
                info.configured = scalar<std::uint8_t>(p, what, "CONFIGURED") != 0;
                break;
            case SVX_NLA_FLOW_COUNT:
                seen.mark(type, what, "FLOW_COUNT");
                info.flow_count = scalar<std::uint32_t>(p, what, "FLOW_COUNT");
                break;
            case SVX_NLA_CONFIG_GEN:
                seen.mark(type, what, "CONFIG_GEN");
                info.config_generation = scalar<std::uint64_t>(p, what, "CONFIG_GEN");
                break;
            case SVX_NLA_ROUTE_COUNT:
                seen.mark(type, what, "ROUTE_COUNT");
                info.route_count = scalar<std::uint32_t>(p, what, "ROUTE_COUNT");
                break;
            case SVX_NLA_ROUTES_GEN:
                seen.mark(type, what, "ROUTES_GEN");
                info.routes_generation = scalar<std::uint64_t>(p, what, "ROUTES_GEN");
                break;
            case SVX_NLA_XLT_ROUTE_COUNT:
                seen.mark(type, what, "XLT_ROUTE_COUNT");
                info.xlt_route_count = scalar<std::uint32_t>(p, what, "XLT_ROUTE_COUNT");
                break;
            default: // a newer module's attribute
                break;
            }
        });
    for (auto [type, name] : {std::pair{SVX_NLA_VERSION, "VERSION"},
                              {SVX_NLA_FLOW_SIZE, "FLOW_SIZE"},
                              {SVX_NLA_CONFIGURED, "CONFIGURED"},
                              {SVX_NLA_FLOW_COUNT, "FLOW_COUNT"}})
        if (!seen.has(type))
            malformed(what, std::string("no ") + name + " attribute");
    return info;
}

KernelStats decode_stats(std::span<const std::uint8_t> message, std::uint16_t family_id) {
    constexpr std::string_view what = "GET_STATS reply";
    KernelStats stats;
    SeenOnce seen;
    for_each_attribute(module_attributes(message, family_id, SVX_NL_CMD_GET_STATS, what), what,
                       [&](unsigned type, std::span<const std::uint8_t> p) {
                           if (type == SVX_NLA_STATS) {
                               seen.mark(type, what, "STATS");
                               stats.stats = counter_array(p, what, "STATS");
                           } else if (type == SVX_NLA_DROPS) {
                               seen.mark(type, what, "DROPS");
                               stats.drops = counter_array(p, what, "DROPS");
                           }
                       });
    if (!seen.has(SVX_NLA_STATS) || !seen.has(SVX_NLA_DROPS))
        malformed(what, "STATS or DROPS missing");
    return stats;
}

svx_flow decode_flow(std::span<const std::uint8_t> message, std::uint16_t family_id) {
    constexpr std::string_view what = "GET_FLOWS record";
    std::optional<svx_flow> flow;
    for_each_attribute(module_attributes(message, family_id, SVX_NL_CMD_GET_FLOWS, what), what,
                       [&](unsigned type, std::span<const std::uint8_t> p) {
                           if (type != SVX_NLA_FLOW)
                               return;
                           if (flow)
                               malformed(what, "two FLOW attributes in one message");
                           if (p.size() != sizeof(svx_flow))
                               throw KernelError(
                                   ErrorKind::incompatible,
                                   "svxlat.ko sends flows of " + std::to_string(p.size()) +
                                       " bytes, this svxlatd expects " +
                                       std::to_string(sizeof(svx_flow)) +
                                       ": the module was built from another svxlat version");
                           svx_flow f{};
                           std::memcpy(&f, p.data(), sizeof(f));
                           flow = f;
                       });
    if (!flow)
        malformed(what, "no FLOW attribute");
    if (flow->role != SVX_ROLE_TRANSLATOR && flow->role != SVX_ROLE_HOST)
        malformed(what, "flow role " + std::to_string(flow->role));
    if (flow->state >= SVX_FS__COUNT)
        malformed(what, "flow state " + std::to_string(flow->state));
    if (flow->n_source > SVX_FLOW_MAX_SOURCE)
        malformed(what, "flow with " + std::to_string(flow->n_source) + " SOURCE addresses");
    return *flow;
}

namespace {

KernelRouteTarget decode_route_target(std::span<const std::uint8_t> nest, std::string_view what) {
    KernelRouteTarget t;
    SeenOnce seen;
    for_each_attribute(nest, what, [&](unsigned type, std::span<const std::uint8_t> p) {
        switch (type) {
        case SVX_NLA_TGT_ADDR:
            seen.mark(type, what, "TGT_ADDR");
            if (p.size() != t.address.size())
                malformed(what, "TGT_ADDR is " + std::to_string(p.size()) + " bytes, expected 4");
            std::memcpy(t.address.data(), p.data(), t.address.size());
            break;
        case SVX_NLA_TGT_PRIORITY:
            seen.mark(type, what, "TGT_PRIORITY");
            t.priority = scalar<std::uint32_t>(p, what, "TGT_PRIORITY");
            break;
        case SVX_NLA_TGT_WEIGHT:
            seen.mark(type, what, "TGT_WEIGHT");
            t.weight = scalar<std::uint32_t>(p, what, "TGT_WEIGHT");
            if (t.weight == 0)
                malformed(what, "a target of weight 0");
            break;
        case SVX_NLA_TGT_CHOSEN:
            seen.mark(type, what, "TGT_CHOSEN");
            t.chosen = scalar<std::uint64_t>(p, what, "TGT_CHOSEN");
            break;
        default: // a newer module's attribute, or nla_put_u64_64bit's pad
            break;
        }
    });
    for (auto [type, name] : {std::pair{SVX_NLA_TGT_ADDR, "TGT_ADDR"},
                              {SVX_NLA_TGT_PRIORITY, "TGT_PRIORITY"},
                              {SVX_NLA_TGT_WEIGHT, "TGT_WEIGHT"},
                              {SVX_NLA_TGT_CHOSEN, "TGT_CHOSEN"}})
        if (!seen.has(type))
            malformed(what, std::string("a ROUTE_TARGET without ") + name);
    return t;
}

} // namespace

KernelRoute decode_route(std::span<const std::uint8_t> message, std::uint16_t family_id) {
    constexpr std::string_view what = "GET_ROUTES record";
    std::optional<std::span<const std::uint8_t>> nest;
    for_each_attribute(module_attributes(message, family_id, SVX_NL_CMD_GET_ROUTES, what), what,
                       [&](unsigned type, std::span<const std::uint8_t> p) {
                           if (type != SVX_NLA_ROUTE)
                               return;
                           if (nest)
                               malformed(what, "two ROUTE attributes in one message");
                           nest = p;
                       });
    if (!nest)
        malformed(what, "no ROUTE attribute");
    KernelRoute route;
    SeenOnce seen;
    std::set<Ipv4Address> addresses;
    for_each_attribute(*nest, what, [&](unsigned type, std::span<const std::uint8_t> p) {
        switch (type) {
        case SVX_NLA_ROUTE_PREFIX:
            seen.mark(type, what, "ROUTE_PREFIX");
            if (p.size() != SVX_SID_LEN)
                malformed(what, "ROUTE_PREFIX is " + std::to_string(p.size()) +
                                    " bytes, expected " + std::to_string(SVX_SID_LEN));
            std::memcpy(route.prefix.b, p.data(), SVX_SID_LEN);
            break;
        case SVX_NLA_ROUTE_BITS:
            seen.mark(type, what, "ROUTE_BITS");
            route.bits = scalar<std::uint16_t>(p, what, "ROUTE_BITS");
            if (route.bits > SVX_SID_BITS)
                malformed(what, "ROUTE_BITS " + std::to_string(route.bits));
            break;
        case SVX_NLA_ROUTE_TARGET: {
            if (route.targets.size() >= SVX_NL_MAX_TARGETS_PER_ROUTE)
                malformed(what, "more than " + std::to_string(SVX_NL_MAX_TARGETS_PER_ROUTE) +
                                    " targets in one route");
            KernelRouteTarget t = decode_route_target(p, what);
            if (!addresses.insert(t.address).second)
                malformed(what, "a route lists one target address twice");
            route.targets.push_back(t);
            break;
        }
        default:
            break;
        }
    });
    if (!seen.has(SVX_NLA_ROUTE_PREFIX) || !seen.has(SVX_NLA_ROUTE_BITS))
        malformed(what, "a ROUTE without ROUTE_PREFIX or ROUTE_BITS");
    if (route.targets.empty())
        malformed(what, "a ROUTE without targets");
    svx_sid masked = route.prefix;
    svx_sid_mask(&masked, route.bits);
    if (svx_sid_cmp(&masked, &route.prefix) != 0)
        malformed(what, "ROUTE_PREFIX has bits set past ROUTE_BITS");
    return route;
}

void RouteDump::add(KernelRoute route) {
    constexpr std::string_view what = "GET_ROUTES dump";
    if (targets_ + route.targets.size() > SVX_NL_MAX_ROUTE_TARGETS)
        malformed(what, "more than " + std::to_string(SVX_NL_MAX_ROUTE_TARGETS) + " targets");
    targets_ += route.targets.size();
    if (routes_.empty() || routes_.back().bits != route.bits ||
        svx_sid_cmp(&routes_.back().prefix, &route.prefix) != 0) {
        if (routes_.size() >= SVX_NL_MAX_ROUTES)
            malformed(what, "more than " + std::to_string(SVX_NL_MAX_ROUTES) + " routes");
        routes_.push_back(std::move(route));
        return;
    }
    // The next targets of the route the previous message began.
    KernelRoute& last = routes_.back();
    if (last.targets.size() + route.targets.size() > SVX_NL_MAX_TARGETS_PER_ROUTE)
        malformed(what, "more than " + std::to_string(SVX_NL_MAX_TARGETS_PER_ROUTE) +
                            " targets in one route");
    std::set<Ipv4Address> addresses;
    for (const auto& t : last.targets)
        addresses.insert(t.address);
    for (const auto& t : route.targets)
        if (!addresses.insert(t.address).second)
            malformed(what, "a route lists one target address twice");
    last.targets.insert(last.targets.end(), route.targets.begin(), route.targets.end());
}

std::vector<std::uint8_t> encode_get_family(std::string_view name, std::uint32_t seq) {
    std::vector<std::uint8_t> buffer(MNL_ALIGN(NLMSG_HDRLEN + GENL_HDRLEN) +
                                     MNL_ALIGN(NLA_HDRLEN + name.size() + 1));
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = GENL_ID_CTRL;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = CTRL_CMD_GETFAMILY;
    genl->version = 1;
    std::string terminated(name);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, terminated.c_str());
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

FamilyInfo decode_family(std::span<const std::uint8_t> message) {
    constexpr std::string_view what = "generic netlink family reply";
    auto bad = [&](const std::string& why) {
        throw KernelError(ErrorKind::protocol, "malformed " + std::string(what) + ": " + why);
    };
    if (message.size() < NLMSG_HDRLEN + GENL_HDRLEN)
        bad("message of " + std::to_string(message.size()) + " bytes");
    nlmsghdr h = load_nlmsghdr(message);
    if (h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN || h.nlmsg_len > message.size())
        bad("message length " + std::to_string(h.nlmsg_len));
    genlmsghdr g{};
    std::memcpy(&g, message.data() + NLMSG_HDRLEN, sizeof(g));
    if (h.nlmsg_type != GENL_ID_CTRL || g.cmd != CTRL_CMD_NEWFAMILY)
        bad("type " + std::to_string(h.nlmsg_type) + " command " + std::to_string(g.cmd));
    FamilyInfo family;
    bool has_id = false;
    try {
        for_each_attribute(
            message.subspan(NLMSG_HDRLEN + GENL_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN),
            what, [&](unsigned type, std::span<const std::uint8_t> p) {
                if (type == CTRL_ATTR_FAMILY_ID) {
                    family.id = scalar<std::uint16_t>(p, what, "FAMILY_ID");
                    has_id = true;
                } else if (type == CTRL_ATTR_VERSION) {
                    family.version = scalar<std::uint32_t>(p, what, "VERSION");
                } else if (type == CTRL_ATTR_HDRSIZE) {
                    family.header_size = scalar<std::uint32_t>(p, what, "HDRSIZE");
                }
            });
    } catch (const KernelError& e) {
        bad(e.what());
    }
    if (!has_id || family.id < NLMSG_MIN_TYPE)
        bad("no valid family ID");
    return family;
}

bool read_reply(std::span<const std::uint8_t> datagram, const ReplyContext& c,
                const std::function<void(std::span<const std::uint8_t>)>& on_message) {
    const std::string what = std::string(c.request) + " reply";
    std::size_t off = 0;
    while (off < datagram.size()) {
        if (datagram.size() - off < NLMSG_HDRLEN)
            malformed(what, std::to_string(datagram.size() - off) + " trailing bytes");
        auto rest = datagram.subspan(off);
        nlmsghdr h = load_nlmsghdr(rest);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > rest.size())
            malformed(what, "message length " + std::to_string(h.nlmsg_len) + " with " +
                                std::to_string(rest.size()) + " bytes left in the datagram");
        auto message = rest.first(h.nlmsg_len);
        off += std::min<std::size_t>(NLMSG_ALIGN(h.nlmsg_len), rest.size());
        // A late answer to an abandoned request, or not for this socket.
        if (h.nlmsg_seq != c.seq || (h.nlmsg_pid != 0 && c.portid != 0 && h.nlmsg_pid != c.portid))
            continue;
        switch (h.nlmsg_type) {
        case NLMSG_NOOP:
            continue;
        case NLMSG_OVERRUN:
            malformed(what, "NLMSG_OVERRUN: replies were lost");
        case NLMSG_ERROR: {
            if (message.size() < NLMSG_HDRLEN + sizeof(int))
                malformed(what, "truncated error message");
            int error = 0;
            std::memcpy(&error, message.data() + NLMSG_HDRLEN, sizeof(error));
            if (error == 0)
                return true; // the ACK
            if (error > 0 || error < -4095)
                malformed(what, "error code " + std::to_string(error));
            refused(c, -error, extack_text(message, h));
        }
        case NLMSG_DONE: {
            if (message.size() >= NLMSG_HDRLEN + sizeof(int)) {
                int status = 0;
                std::memcpy(&status, message.data() + NLMSG_HDRLEN, sizeof(status));
                if (status < 0 && status >= -4095)
                    refused(c, -status, {});
            }
            return true;
        }
        default:
            if (h.nlmsg_type < NLMSG_MIN_TYPE)
                continue; // another control message: nothing to act on
            if (h.nlmsg_type != c.family_id)
                malformed(what, "message type " + std::to_string(h.nlmsg_type) +
                                    ", expected family " + std::to_string(c.family_id));
            on_message(message);
        }
    }
    return false;
}

} // namespace svxlat::kernel_engine
