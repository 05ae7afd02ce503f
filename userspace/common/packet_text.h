// Human-readable text for packets, service IDs and addresses, built on the
// core's parser (one line per packet, as the demo and debug logs print them).
#pragma once

#include <svxlat/sid.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace svxlat {

std::string ipv4_to_string(std::span<const std::uint8_t, 4> address);
std::string ipv4_to_string(const std::array<std::uint8_t, 4>& address);
std::string sid_to_string(const svx_sid& id);

// Names of the CONTROL flags set in flags, e.g. "SYN|ACK", or "-" when none.
std::string sal_flags_to_string(std::uint8_t flags);

// One line describing an IPv4 packet carrying SAL: addresses, flow IDs, SAL
// control fields and extensions, transport summary; or the parse error.
std::string describe_sal_packet(std::span<const std::uint8_t> ip_packet);

} // namespace svxlat
