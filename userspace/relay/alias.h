// SPDX-License-Identifier: GPL-2.0 OR MIT
// Dynamic aliasing for the relay (paper section 4.2): adds and removes /32
// IPv4 addresses on an interface over rtnetlink (libmnl), and picks the
// interface when the operator names none. Internal to svxlat_relay; the
// tests include it to check the interface choice.
#ifndef SVXLAT_RELAY_ALIAS_H
#define SVXLAT_RELAY_ALIAS_H

#include "relay/relay.h"

#include <optional>
#include <string>
#include <string_view>

namespace svxlat::relay::detail {

struct Interface {
    int index = 0;
    std::string name;
};

// The interface named `name`, or when it is empty: the interface of the
// IPv4 default route (lowest metric), else the first interface (by index)
// that is up and not a loopback. nullopt with `error` set when there is none.
std::optional<Interface> choose_alias_interface(std::string_view name, std::string& error);

// The interface of the default route in /proc/net/route text (pure, for tests).
std::optional<std::string> default_route_interface(std::string_view proc_net_route);

// Adds address/32 to the interface: 0 on success, else an errno value
// (EEXIST: the interface already has it; it is then not ours to remove).
int add_alias(int ifindex, const Ipv4Address& address);
// Removes address/32 from the interface: 0 or an errno value.
int remove_alias(int ifindex, const Ipv4Address& address);

} // namespace svxlat::relay::detail

#endif // SVXLAT_RELAY_ALIAS_H
