// SPDX-License-Identifier: GPL-2.0 OR MIT
// The service router's forwarding step (protocol section 12, docs/router.md)
// as pure functions on a packet buffer: no sockets, no table, no clock.
//
//   inspect_packet()    parse a received IPv4+SAL packet and check that a
//                       router resolves it (it carries a destination SERVICE
//                       and did not arrive as link broadcast);
//   forward_inspected() rewrite it for the chosen target: append SOURCE
//                       (svx_sal_source_append: orig_src = IP source, hop =
//                       the IP destination = the router's own address), set
//                       the IP destination, decrement the TTL, recompute the
//                       TCP/UDP checksum, the outer UDP header when the packet
//                       came UDP-encapsulated, the IP total length and the IP
//                       checksum. The IP source, ID and DF are left alone;
//   forward_packet()    both.
//
// Include as "router/forward.h" (link svxlat_router).
#ifndef SVXLAT_ROUTER_FORWARD_H
#define SVXLAT_ROUTER_FORWARD_H

#include <svxlat/err.h>
#include <svxlat/pkt.h>
#include <svxlat/sid.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace svxlat::router {

// Router-level reasons not to forward (the core's parse and rewrite errors
// are reported as svx_err, under ForwardDrop::core).
enum class ForwardDrop : std::uint8_t {
    none,           // forwarded
    core,           // the core refused it; ForwardResult::err says why
    link_broadcast, // arrived as link broadcast or multicast (section 12 step 1)
    no_service,     // no SERVICE extension: not a packet resolved by service ID
    ttl_expired,    // IP TTL <= 1
    count_,
};

std::string_view forward_drop_name(ForwardDrop drop);
std::string_view forward_drop_desc(ForwardDrop drop);

struct ForwardResult {
    ForwardDrop drop = ForwardDrop::none;
    svx_err err = SVX_OK; // with ForwardDrop::core
    std::size_t len = 0;  // forward_*: the packet's new length; inspect: its IP length

    bool ok() const { return drop == ForwardDrop::none; }
    static ForwardResult dropped(ForwardDrop why) { return {why, SVX_OK, 0}; }
    static ForwardResult core_error(svx_err e) { return {ForwardDrop::core, e, 0}; }
};

// What a router verifies on receive: IP, SAL and transport checksums, and
// SAL in UDP (section 13).
inline constexpr unsigned kForwardParseOpts =
    SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM | SVX_PKT_UDP_ENCAP;

struct ForwardOptions {
    bool link_broadcast = false; // the frame was link-layer broadcast/multicast
    unsigned parse_opts = kForwardParseOpts;
};

// Parses pkt and checks it is forwardable. On success v is its view and
// service the destination service ID to resolve.
ForwardResult inspect_packet(std::span<const std::uint8_t> pkt, const ForwardOptions& options,
                             svx_pkt_view& v, svx_sid& service);

// Rewrites the packet inspect_packet() accepted (buf.size() is the capacity,
// at least v.ip_len; it needs 12 more bytes when the packet has no SOURCE, 4
// otherwise) for target. Errors leave buf unchanged: ttl_expired, and core
// SVX_E_SOURCE_LOOP (the router's address is already a hop), SVX_E_NOSPACE,
// SVX_E_EXT_LEN (SHL or SOURCE at its limit). v is updated on success.
ForwardResult forward_inspected(std::span<std::uint8_t> buf, svx_pkt_view& v,
                                const std::array<std::uint8_t, 4>& target);

// inspect_packet() + forward_inspected() on buf[0..len).
ForwardResult forward_packet(std::span<std::uint8_t> buf, std::size_t len,
                             const std::array<std::uint8_t, 4>& target,
                             const ForwardOptions& options = {});

} // namespace svxlat::router

#endif // SVXLAT_ROUTER_FORWARD_H
