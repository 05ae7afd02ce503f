// SPDX-License-Identifier: GPL-2.0 OR MIT
// The relay's pure parts: endpoints, row diffing, the PROXY v2 header, the
// state names.
#include "relay/relay.h"

#include "common/field_text.h"

#include <algorithm>
#include <charconv>
#include <map>

namespace svxlat::relay {

std::string format_endpoint(const Endpoint& endpoint) {
    return config::format_address(endpoint.address) + ":" + std::to_string(endpoint.port);
}


std::optional<Endpoint> parse_endpoint(std::string_view text) {
    Endpoint e;
    if (parse_unicast_endpoint(text, e.address, e.port))
        return std::nullopt;
    return e;
}

bool same_settings(const RelayRow& a, const RelayRow& b) {
    return svx_sid_cmp(&a.service, &b.service) == 0 && a.target == b.target &&
           a.proxy_v2 == b.proxy_v2;
}

RelayRow relay_row_from_table(const config::TableRow& row, std::string_view file) {
    RelayRow r;
    r.listen = {row.address, row.port};
    r.service = row.service;
    r.target = row.relay_target;
    r.proxy_v2 = row.proxy_v2;
    r.file = std::string(file);
    r.line = row.line;
    return r;
}

RowDiff diff_rows(std::span<const RelayRow> old_rows, std::span<const RelayRow> next_rows) {
    RowDiff d;
    std::map<Endpoint, std::size_t> old_index;
    for (std::size_t i = 0; i < old_rows.size(); ++i)
        old_index.emplace(old_rows[i].listen, i); // first occurrence wins
    std::map<Endpoint, std::size_t> seen;
    for (std::size_t i = 0; i < next_rows.size(); ++i) {
        const RelayRow& row = next_rows[i];
        if (!seen.emplace(row.listen, i).second) {
            d.duplicates.push_back(i);
            continue;
        }
        auto it = old_index.find(row.listen);
        if (it == old_index.end())
            d.added.push_back(i);
        else if (same_settings(old_rows[it->second], row))
            d.unchanged.push_back(i);
        else
            d.changed.push_back(i);
    }
    for (const auto& [endpoint, i] : old_index)
        if (!seen.contains(endpoint))
            d.removed.push_back(i);
    std::sort(d.removed.begin(), d.removed.end());
    return d;
}

std::array<std::uint8_t, kProxyV2HeaderSize> proxy_v2_header(const Endpoint& source,
                                                             const Endpoint& destination) {
    std::array<std::uint8_t, kProxyV2HeaderSize> h{};
    static constexpr std::array<std::uint8_t, 12> kSignature{0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                             0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    std::size_t at = 0;
    for (auto b : kSignature)
        h[at++] = b;
    h[at++] = 0x21; // version 2, command PROXY
    h[at++] = 0x11; // AF_INET, SOCK_STREAM
    h[at++] = 0x00; // address block length, big-endian: 12
    h[at++] = 0x0c;
    for (auto b : source.address)
        h[at++] = b;
    for (auto b : destination.address)
        h[at++] = b;
    h[at++] = static_cast<std::uint8_t>(source.port >> 8);
    h[at++] = static_cast<std::uint8_t>(source.port);
    h[at++] = static_cast<std::uint8_t>(destination.port >> 8);
    h[at++] = static_cast<std::uint8_t>(destination.port);
    return h;
}

std::string_view to_string(ConnectionState state) {
    switch (state) {
    case ConnectionState::connecting:
        return "connecting";
    case ConnectionState::relaying:
        return "relaying";
    case ConnectionState::half_closed:
        return "half-closed";
    }
    return "?";
}

} // namespace svxlat::relay
