// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "rule_eval.h"

#include <cstdlib>
#include <stdexcept>

namespace svxlat::test {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, std::string_view separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = s.find(separator);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        s = s.substr(at + separator.size());
    }
}

std::uint32_t number(std::string_view text) {
    text = trim(text);
    if (text.empty())
        throw std::invalid_argument("empty number");
    const std::string copy(text);
    char* end = nullptr;
    const unsigned long value = std::strtoul(copy.c_str(), &end, 0);
    if (end != copy.c_str() + copy.size())
        throw std::invalid_argument("bad number: " + copy);
    return static_cast<std::uint32_t>(value);
}

std::uint32_t load_be32(std::span<const std::uint8_t> p, std::size_t at) {
    return (std::uint32_t{p[at]} << 24) | (std::uint32_t{p[at + 1]} << 16) |
           (std::uint32_t{p[at + 2]} << 8) | std::uint32_t{p[at + 3]};
}

// One "location=values" test, evaluated as xt_u32.c does.
bool u32_test(std::string_view test, std::span<const std::uint8_t> packet) {
    const auto eq = test.find('=');
    if (eq == std::string_view::npos)
        throw std::invalid_argument("u32 test without '='");
    std::string_view location = trim(test.substr(0, eq));
    std::string_view values = trim(test.substr(eq + 1));

    // Tokenise location into numbers and operators.
    std::size_t i = 0;
    auto next_number = [&]() {
        std::size_t j = i;
        while (j < location.size() &&
               std::string_view("&<>@").find(location[j]) == std::string_view::npos)
            ++j;
        const std::uint32_t n = number(location.substr(i, j - i));
        i = j;
        return n;
    };
    const std::size_t len = packet.size();
    std::uint32_t pos = next_number();
    std::uint64_t at = 0;
    if (len < 4 || pos > len - 4)
        return false;
    std::uint32_t val = load_be32(packet, pos);
    while (i < location.size()) {
        char op = location[i];
        if (op == '<' || op == '>') {
            if (i + 1 >= location.size() || location[i + 1] != op)
                throw std::invalid_argument("bad shift");
            i += 2;
        } else {
            ++i;
        }
        const std::uint32_t n = next_number();
        switch (op) {
        case '&':
            val &= n;
            break;
        case '<':
            val <<= n;
            break;
        case '>':
            val >>= n;
            break;
        case '@':
            at += val;
            pos = n;
            if (at + 4 > len || pos > len - at - 4)
                return false;
            val = load_be32(packet, static_cast<std::size_t>(at + pos));
            break;
        default:
            throw std::invalid_argument("bad operator");
        }
    }
    for (auto range : split(values, ",")) {
        const auto colon = range.find(':');
        const std::uint32_t min = number(range.substr(0, colon));
        const std::uint32_t max =
            colon == std::string_view::npos ? min : number(range.substr(colon + 1));
        if (min <= val && val <= max)
            return true;
    }
    return false;
}

// Lines of one chain: iptables "-A CHAIN rest" -> rest.
std::vector<std::string_view> iptables_rules(std::string_view script, std::string_view chain) {
    std::vector<std::string_view> rules;
    const std::string prefix = "-A " + std::string(chain) + " ";
    for (auto line : split(script, "\n"))
        if (line.starts_with(prefix))
            rules.push_back(line.substr(prefix.size()));
    return rules;
}

std::vector<std::string_view> nft_rules(std::string_view body, std::string_view chain) {
    std::vector<std::string_view> rules;
    const std::string header = "chain " + std::string(chain) + " {";
    bool inside = false;
    for (auto line : split(body, "\n")) {
        line = trim(line);
        if (!inside) {
            inside = line == header;
            continue;
        }
        if (line == "}")
            break;
        if (!line.empty() && !line.starts_with("#") && !line.starts_with("type "))
            rules.push_back(line);
    }
    if (!inside)
        throw std::invalid_argument("no chain " + std::string(chain));
    return rules;
}

// The transport header offset, or nullopt when nft would not load from it
// (non-first fragment, short packet).
std::optional<std::size_t> transport_offset(std::span<const std::uint8_t> packet) {
    if (packet.size() < 20)
        return std::nullopt;
    const std::size_t ihl = (packet[0] & 0x0f) * 4u;
    const unsigned fragment = ((packet[6] & 0x1f) << 8) | packet[7];
    if (fragment != 0 || ihl < 20 || ihl > packet.size())
        return std::nullopt;
    return ihl;
}

// Bits [offset, offset+length) of the transport header, byte aligned.
std::optional<std::uint32_t> load_th(std::span<const std::uint8_t> packet, unsigned bit_offset,
                                     unsigned bit_length) {
    const auto th = transport_offset(packet);
    if (!th || bit_offset % 8 || bit_length % 8 || bit_length > 32)
        throw std::invalid_argument("unsupported load");
    const std::size_t start = *th + bit_offset / 8;
    if (start + bit_length / 8 > packet.size())
        return std::nullopt;
    std::uint32_t value = 0;
    for (unsigned i = 0; i < bit_length / 8; ++i)
        value = (value << 8) | packet[start + i];
    return value;
}

} // namespace

bool u32_match(std::string_view expression, std::span<const std::uint8_t> packet) {
    for (auto test : split(expression, "&&"))
        if (!u32_test(trim(test), packet))
            return false;
    return true;
}

std::optional<unsigned> iptables_chain_queue(std::string_view script, std::string_view chain,
                                             std::span<const std::uint8_t> packet) {
    for (auto rule : iptables_rules(script, chain)) {
        if (rule.find("-j CT ") != std::string_view::npos)
            continue;
        const auto target = rule.find("-j NFQUEUE --queue-num ");
        if (target == std::string_view::npos)
            throw std::invalid_argument("unexpected rule: " + std::string(rule));
        const auto u32 = rule.find("-m u32 --u32 \"");
        if (u32 != std::string_view::npos) {
            const auto start = u32 + 14;
            const auto end = rule.find('"', start);
            if (!u32_match(rule.substr(start, end - start), packet))
                continue;
        }
        std::string_view queue = rule.substr(target + 23);
        return number(queue.substr(0, queue.find(' ')));
    }
    return std::nullopt;
}

std::optional<unsigned> nft_chain_queue(std::string_view body, std::string_view chain,
                                        std::span<const std::uint8_t> packet) {
    for (auto rule : nft_rules(body, chain)) {
        std::vector<std::string_view> tokens;
        for (auto token : split(rule, " "))
            if (!token.empty())
                tokens.push_back(token);
        bool match = true;
        std::optional<unsigned> queue;
        for (std::size_t i = 0; i < tokens.size() && match;) {
            std::optional<std::uint32_t> value;
            if (tokens[i].starts_with("@th,")) {
                const auto parts = split(tokens[i].substr(4), ",");
                if (parts.size() != 2)
                    throw std::invalid_argument("bad raw payload");
                const auto th = transport_offset(packet);
                value = th ? load_th(packet, number(parts[0]), number(parts[1])) : std::nullopt;
                ++i;
            } else if (tokens[i] == "tcp" && i + 1 < tokens.size()) {
                const auto th = transport_offset(packet);
                const unsigned offset = tokens[i + 1] == "sport" ? 0 : 16;
                value = th ? load_th(packet, offset, 16) : std::nullopt;
                i += 2;
            } else if (tokens[i] == "queue" && i + 2 < tokens.size() && tokens[i + 1] == "num") {
                queue = number(tokens[i + 2]);
                break;
            } else {
                throw std::invalid_argument("unsupported token: " + std::string(tokens[i]));
            }
            if (!value) {
                match = false; // nft: a failed load ends the rule
                break;
            }
            // Comparison: "V", "!= V" or "& M == V".
            if (tokens.at(i) == "!=") {
                match = *value != number(tokens.at(i + 1));
                i += 2;
            } else if (tokens.at(i) == "&") {
                if (tokens.at(i + 2) != "==")
                    throw std::invalid_argument("expected ==");
                match = (*value & number(tokens.at(i + 1))) == number(tokens.at(i + 3));
                i += 4;
            } else {
                match = *value == number(tokens.at(i));
                i += 1;
            }
        }
        if (match && queue)
            return queue;
    }
    return std::nullopt;
}

Bytes ipv4_packet(std::uint8_t protocol, std::span<const std::uint8_t> transport,
                  unsigned ihl_words, std::uint16_t fragment_offset) {
    Bytes packet(ihl_words * 4, 0);
    packet[0] = static_cast<std::uint8_t>(0x40 | ihl_words);
    const std::size_t total = packet.size() + transport.size();
    packet[2] = static_cast<std::uint8_t>(total >> 8);
    packet[3] = static_cast<std::uint8_t>(total);
    packet[6] = static_cast<std::uint8_t>((fragment_offset >> 8) & 0x1f);
    packet[7] = static_cast<std::uint8_t>(fragment_offset);
    packet[8] = 64;
    packet[9] = protocol;
    const std::uint8_t addresses[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::copy(addresses, addresses + 8, packet.begin() + 12);
    packet.insert(packet.end(), transport.begin(), transport.end());
    return packet;
}

Bytes sal_flow_ids(std::uint32_t source_flow, std::uint32_t destination_flow) {
    Bytes sal(12, 0);
    for (int i = 0; i < 4; ++i) {
        sal[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(source_flow >> (24 - 8 * i));
        sal[static_cast<std::size_t>(4 + i)] =
            static_cast<std::uint8_t>(destination_flow >> (24 - 8 * i));
    }
    sal[8] = 6; // transport protocol TCP
    sal[9] = 3; // SHL
    return sal;
}

Bytes tcp_ports(std::uint16_t source_port, std::uint16_t destination_port) {
    Bytes tcp(20, 0);
    tcp[0] = static_cast<std::uint8_t>(source_port >> 8);
    tcp[1] = static_cast<std::uint8_t>(source_port);
    tcp[2] = static_cast<std::uint8_t>(destination_port >> 8);
    tcp[3] = static_cast<std::uint8_t>(destination_port);
    tcp[12] = 0x50;
    tcp[13] = 0x02; // SYN
    return tcp;
}

Bytes icmp_unreachable(std::span<const std::uint8_t> inner) {
    Bytes icmp(8, 0);
    icmp[0] = 3;
    icmp[1] = 4;
    icmp.insert(icmp.end(), inner.begin(), inner.end());
    return icmp;
}

} // namespace svxlat::test
