#include "common/field_text.h"

#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace svxlat {

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    fields.clear();
    std::size_t pos = 0;
    while (pos < line.size()) {
        while (pos < line.size() && blank(line[pos]))
            ++pos;
        std::size_t start = pos;
        while (pos < line.size() && !blank(line[pos]))
            ++pos;
        if (pos > start)
            fields.push_back(line.substr(start, pos - start));
    }
}

std::string printable_field(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < kMaxQuotedBytes; ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f) {
            out += static_cast<char>(byte);
        } else {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    if (text.size() > kMaxQuotedBytes)
        out += "...";
    return out;
}

std::string quote_field(std::string_view text) { return "'" + printable_field(text) + "'"; }

std::optional<std::string> parse_unicast_ipv4(std::string_view text,
                                              std::array<std::uint8_t, 4>& address) {
    std::array<std::uint8_t, 4> parsed{};
    std::size_t pos = 0;
    std::string_view zero_part; // the first part with a leading zero
    std::size_t parts = 0;
    for (; parts < parsed.size(); ++parts) {
        if (parts > 0) {
            if (pos >= text.size() || text[pos] != '.')
                break;
            ++pos;
        }
        std::size_t start = pos;
        unsigned value = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 4)
            value = value * 10 + static_cast<unsigned>(text[pos++] - '0');
        std::size_t digits = pos - start;
        if (digits == 0 || digits > 3 || value > 255)
            break;
        if (digits > 1 && text[start] == '0' && zero_part.empty())
            zero_part = text.substr(start, digits);
        parsed[parts] = static_cast<std::uint8_t>(value);
    }
    const std::string quoted = quote_field(text);
    if (parts != parsed.size() || pos != text.size()) {
        std::string reason = quoted + " is not an IPv4 address";
        if (text.find(':') != std::string_view::npos)
            reason += " (IPv6 is not supported)";
        return reason;
    }
    if (!zero_part.empty())
        return quoted + " is not an IPv4 address (leading zero in '" + std::string(zero_part) +
               "': some tools read it as octal)";
    if (parsed[0] == 0)
        return quoted + " is in 0.0.0.0/8 (unspecified, 'this network'), " +
               "not an address clients can connect to";
    if (parsed == std::array<std::uint8_t, 4>{255, 255, 255, 255})
        return quoted + " is the broadcast address, not an address clients can connect to";
    if ((parsed[0] & 0xf0) == 224)
        return quoted + " is a multicast address (224.0.0.0/4), " +
               "not an address TCP clients can connect to";
    address = parsed;
    return std::nullopt;
}

std::optional<std::string> parse_unicast_endpoint(std::string_view text,
                                                  std::array<std::uint8_t, 4>& address,
                                                  std::uint16_t& port) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return quote_field(text) + " is not IPv4-address:port";
    std::array<std::uint8_t, 4> parsed{};
    if (auto error = parse_unicast_ipv4(text.substr(0, colon), parsed))
        return error;
    std::string_view digits = text.substr(colon + 1);
    unsigned value = 0;
    bool ok = !digits.empty() && digits.size() <= 5 && digits[0] != '0';
    for (char c : digits) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || value == 0 || value > 65535)
        return quote_field(digits) + " is not a port number 1..65535";
    address = parsed;
    port = static_cast<std::uint16_t>(value);
    return std::nullopt;
}

std::string format_ipv4(const std::array<std::uint8_t, 4>& address) {
    return std::to_string(address[0]) + "." + std::to_string(address[1]) + "." +
           std::to_string(address[2]) + "." + std::to_string(address[3]);
}

FileText read_file_bounded(const std::string& path, std::size_t max_bytes) {
    FileText out;
    auto fail = [&](const char* step) {
        out.error = errno;
        out.failed_step = step;
        out.text.clear();
        return out;
    };
    UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!file)
        return fail("cannot open");
    struct stat info {};
    if (::fstat(file.get(), &info) != 0)
        return fail("cannot read");
    // An oversized regular file is refused before reading; for pipes and the
    // like the read stops one byte past the limit.
    std::size_t capacity = max_bytes + 1;
    if (S_ISREG(info.st_mode)) {
        if (static_cast<std::uintmax_t>(info.st_size) > max_bytes) {
            out.too_large = true;
            return out;
        }
        capacity = std::min(capacity, static_cast<std::size_t>(info.st_size) + 1);
    }
    out.text.resize(std::min<std::size_t>(capacity, 64 * 1024));
    std::size_t used = 0;
    for (;;) {
        if (used == out.text.size()) {
            if (out.text.size() > max_bytes) {
                out.too_large = true;
                out.text.clear();
                return out;
            }
            out.text.resize(std::min(out.text.size() * 2, max_bytes + 1));
        }
        ssize_t got = ::read(file.get(), out.text.data() + used, out.text.size() - used);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return fail("cannot read");
        }
        if (got == 0)
            break;
        used += static_cast<std::size_t>(got);
    }
    out.text.resize(used);
    return out;
}

} // namespace svxlat
