// Text helpers shared by every svxlat parser (the translator table, the
// daemon configuration): how a field is quoted in a message, and the one
// strict spelling of an IPv4 address.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svxlat {

inline constexpr std::size_t kMaxQuotedBytes = 64;

// Splits a line at runs of spaces and tabs into fields (views into line).
void split_fields(std::string_view line, std::vector<std::string_view>& fields);

// A field as it appears in a diagnostic: non-printable bytes as \xNN, cut
// after 64 bytes with "...", so a message is always one readable line.
std::string printable_field(std::string_view text);
// The same in single quotes.
std::string quote_field(std::string_view text);

// Parses a dotted quad: four decimal parts 0..255 without leading zeros
// (inet_aton reads "010" as octal 8, so such an address means different
// things to different tools), and only addresses a TCP peer can use (not
// 0.0.0.0/8, multicast or broadcast). Returns nullopt on success (address
// set), else the reason, starting with the quoted field.
std::optional<std::string> parse_unicast_ipv4(std::string_view text,
                                              std::array<std::uint8_t, 4>& address);

// "a.b.c.d:PORT" with the address rules above and a decimal port 1..65535
// without leading zeros. Returns nullopt on success, else the reason.
std::optional<std::string> parse_unicast_endpoint(std::string_view text,
                                                  std::array<std::uint8_t, 4>& address,
                                                  std::uint16_t& port);

// "10.0.2.1".
std::string format_ipv4(const std::array<std::uint8_t, 4>& address);

// Reads a whole file of at most max_bytes. error is 0 on success, else the
// errno of the step named by failed_step ("cannot open", "cannot read");
// too_large when the file holds more than max_bytes.
struct FileText {
    std::string text;
    int error = 0;
    const char* failed_step = nullptr;
    bool too_large = false;
};
FileText read_file_bounded(const std::string& path, std::size_t max_bytes);

} // namespace svxlat
