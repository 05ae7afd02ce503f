// SPDX-License-Identifier: GPL-2.0 OR MIT
// Tiny evaluators for the steering rules svxlat generates, so the queue
// selectors are checked against crafted packets without root:
//  - the iptables u32 match with the kernel's semantics (xt_u32.c);
//  - the subset of nft payload expressions the generator writes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace svxlat::test {

using Bytes = std::vector<std::uint8_t>;

// True when packet (starting at the IPv4 header) satisfies the u32
// expression; throws std::invalid_argument on a syntax error.
bool u32_match(std::string_view expression, std::span<const std::uint8_t> packet);

// Walks the rules of one chain of an iptables-restore script in order and
// returns the queue number of the first NFQUEUE rule whose u32 test (if
// any) matches; CT rules are skipped. nullopt: the packet leaves the chain.
std::optional<unsigned> iptables_chain_queue(std::string_view script, std::string_view chain,
                                             std::span<const std::uint8_t> packet);

// The same for a regular chain of an nft table body.
std::optional<unsigned> nft_chain_queue(std::string_view table_body, std::string_view chain,
                                        std::span<const std::uint8_t> packet);

// An IPv4 packet: header of ihl_words*4 bytes (options zero), protocol,
// the fragment offset field (in 8-byte units), addresses 10.0.0.1 -> 10.0.0.2.
Bytes ipv4_packet(std::uint8_t protocol, std::span<const std::uint8_t> transport,
                  unsigned ihl_words = 5, std::uint16_t fragment_offset = 0);
// Transport bytes of a SAL base header start: source and destination flow ID.
Bytes sal_flow_ids(std::uint32_t source_flow, std::uint32_t destination_flow);
// 20 bytes of TCP header with the ports set.
Bytes tcp_ports(std::uint16_t source_port, std::uint16_t destination_port);
// ICMP destination unreachable (code 4) quoting inner (an IPv4 packet).
Bytes icmp_unreachable(std::span<const std::uint8_t> inner);

} // namespace svxlat::test
