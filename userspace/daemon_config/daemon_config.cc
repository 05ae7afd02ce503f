// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "daemon_config/daemon_config.h"

#include "common/field_text.h"

#include <svxlat/flow.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <system_error>
#include <utility>

namespace svxlat::daemon {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kDefaultFileName = "<config>";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::size_t kMaxSocketPathBytes = 107; // sun_path[108] holds the NUL too
constexpr std::size_t kMaxPathBytes = 4095;      // PATH_MAX holds the NUL too

constexpr Duration kMinDuration = 100ms;
constexpr Duration kMaxDuration = std::chrono::days{30};
constexpr std::uint64_t kMinRcvbuf = std::uint64_t{64} << 10;
constexpr std::uint64_t kMaxRcvbuf = std::uint64_t{1} << 30;
constexpr unsigned kMaxQueues = 64;
constexpr std::uint64_t kMaxQueueLength = 1048576;
constexpr std::uint64_t kMaxFlows = 10'000'000;
constexpr std::uint64_t kMinMtu = 576;
constexpr std::uint64_t kMaxPriority = std::uint64_t{1} << 31;
constexpr std::uint64_t kMaxWeight = 65535;
constexpr std::uint64_t kMinFlowPort = 1024;
constexpr unsigned kMinFlowPorts = 64;

// ---------------------------------------------------------------- text helpers

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back()))
        text.remove_suffix(1);
    return text;
}

// ---------------------------------------------------------------- value parsers

// A value error: the reason, or nothing when the value is valid.
using FieldError = std::optional<std::string>;

enum class NumberStatus { ok, not_a_number, leading_zero, too_large };

// Decimal digits only, no sign, no leading zero (so a number has one spelling
// and nobody reads "010" as octal); too_large past 2^64 - 1.
NumberStatus read_decimal(std::string_view text, std::uint64_t& value) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit))
        return NumberStatus::not_a_number;
    if (text.size() > 1 && text.front() == '0')
        return NumberStatus::leading_zero;
    value = 0;
    for (char c : text) {
        auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
            return NumberStatus::too_large;
        value = value * 10 + digit;
    }
    return NumberStatus::ok;
}

std::string out_of_range(std::string_view text, std::string_view range) {
    return quote_field(text) + " is out of range (" + std::string(range) + ")";
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
    return std::to_string(min) + ".." + std::to_string(max);
}

FieldError parse_integer(std::string_view text, std::uint64_t min, std::uint64_t max,
                         std::uint64_t& value) {
    switch (read_decimal(text, value)) {
    case NumberStatus::not_a_number:
        return quote_field(text) + " is not a decimal number";
    case NumberStatus::leading_zero:
        return quote_field(text) + " has a leading zero";
    case NumberStatus::too_large:
        return out_of_range(text, range_text(min, max));
    case NumberStatus::ok:
        break;
    }
    if (value < min || value > max)
        return out_of_range(text, range_text(min, max));
    return std::nullopt;
}

template <typename Integer>
FieldError parse_bounded(std::string_view text, std::uint64_t min, std::uint64_t max,
                         Integer& out) {
    std::uint64_t value = 0;
    if (auto error = parse_integer(text, min, max, value))
        return error;
    out = static_cast<Integer>(value);
    return std::nullopt;
}

int hex_digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// "0x5e1a0001": eight hex digits.
std::string format_hex32(std::uint32_t value) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 28; shift >= 0; shift -= 4)
        out += kHex[(value >> shift) & 0xf];
    return out;
}

// "0x" + hex digits, or decimal; a nonzero 32-bit value.
FieldError parse_mark(std::string_view text, std::uint32_t& mark) {
    constexpr std::string_view kRange = "0x1..0xffffffff";
    std::uint64_t value = 0;
    if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        std::string_view digits = text.substr(2);
        if (digits.empty())
            return quote_field(text) + " is not a number (hex 0x... or decimal)";
        for (char c : digits) {
            int digit = hex_digit_value(c);
            if (digit < 0)
                return quote_field(text) + " is not a number (hex 0x... or decimal)";
            value = value << 4 | static_cast<std::uint64_t>(digit);
            if (value > std::numeric_limits<std::uint32_t>::max())
                return out_of_range(text, kRange);
        }
    } else {
        switch (read_decimal(text, value)) {
        case NumberStatus::not_a_number:
            return quote_field(text) + " is not a number (hex 0x... or decimal)";
        case NumberStatus::leading_zero:
            return quote_field(text) + " has a leading zero (write hex as 0x...)";
        case NumberStatus::too_large:
            return out_of_range(text, kRange);
        case NumberStatus::ok:
            break;
        }
    }
    if (value == 0 || value > std::numeric_limits<std::uint32_t>::max())
        return out_of_range(text, kRange);
    mark = static_cast<std::uint32_t>(value);
    return std::nullopt;
}

// "123abc" as its leading digits and the rest.
struct NumberWithUnit {
    std::string_view digits;
    std::string_view unit;
};

NumberWithUnit split_number_unit(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && is_digit(text[digits]))
        ++digits;
    return {text.substr(0, digits), text.substr(digits)};
}

struct Unit {
    std::string_view name;
    std::uint64_t factor;
};

constexpr std::array<Unit, 5> kDurationUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

// DIGITS[UNIT]: the number times its unit's factor (default_factor without
// a unit), within min..max; `what` names the form in the error message.
FieldError parse_scaled(std::string_view text, std::span<const Unit> units,
                        std::uint64_t default_factor, bool unit_any_case, std::uint64_t min,
                        std::uint64_t max, std::string_view what, const std::string& range,
                        std::uint64_t& result) {
    auto [digits, unit] = split_number_unit(text);
    std::uint64_t factor = default_factor;
    if (!unit.empty()) {
        std::string wanted(unit);
        if (unit_any_case)
            for (char& c : wanted)
                if (c >= 'a' && c <= 'z')
                    c = static_cast<char>(c - 'a' + 'A');
        auto found = std::find_if(units.begin(), units.end(),
                                  [&](const Unit& u) { return u.name == wanted; });
        if (found == units.end())
            digits = {}; // not of this form
        else
            factor = found->factor;
    }
    std::uint64_t value = 0;
    switch (read_decimal(digits, value)) {
    case NumberStatus::not_a_number:
        return quote_field(text) + " is not " + std::string(what);
    case NumberStatus::leading_zero:
        return quote_field(text) + " has a leading zero";
    case NumberStatus::too_large:
        return out_of_range(text, range);
    case NumberStatus::ok:
        break;
    }
    if (value > max / factor || value * factor < min)
        return out_of_range(text, range);
    result = value * factor;
    return std::nullopt;
}

// An integer with an optional unit ms, s, m, h or d (none: seconds), within
// min..max (by default 100ms..30d).
FieldError parse_duration(std::string_view text, Duration& duration, Duration min = kMinDuration,
                          Duration max = kMaxDuration) {
    std::uint64_t ms = 0;
    if (auto error =
            parse_scaled(text, kDurationUnits, 1000, false, static_cast<std::uint64_t>(min.count()),
                         static_cast<std::uint64_t>(max.count()),
                         "a duration (an integer with unit ms, s, m, h or d)",
                         format_duration(min) + ".." + format_duration(max), ms))
        return error;
    duration = Duration{static_cast<Duration::rep>(ms)};
    return std::nullopt;
}

constexpr std::array<Unit, 3> kSizeUnits{{
    {"G", std::uint64_t{1} << 30},
    {"M", std::uint64_t{1} << 20},
    {"K", std::uint64_t{1} << 10},
}};

std::string format_size(std::uint64_t bytes) {
    for (const auto& unit : kSizeUnits) {
        if (bytes >= unit.factor && bytes % unit.factor == 0)
            return std::to_string(bytes / unit.factor) + std::string(unit.name);
    }
    return std::to_string(bytes);
}

// Bytes, or an integer with unit K, M or G (powers of 1024, either case).
FieldError parse_size(std::string_view text, std::uint64_t min, std::uint64_t max,
                      std::uint64_t& bytes) {
    return parse_scaled(text, kSizeUnits, 1, true, min, max,
                        "a size (bytes, or an integer with unit K, M or G)",
                        format_size(min) + ".." + format_size(max), bytes);
}

// A service ID (svx_sid_parse's text form); with bits, "/BITS" is allowed and
// the ID is masked to it.
FieldError parse_sid(std::string_view text, svx_sid& id, unsigned* bits) {
    u16 prefix_bits = SVX_SID_BITS;
    auto error = svx_sid_parse(text.data(), text.size(), &id, bits ? &prefix_bits : nullptr);
    if (error != SVX_SID_OK)
        return quote_field(text) + ": " + svx_sid_strerror(error);
    if (bits) {
        svx_sid_mask(&id, prefix_bits);
        *bits = prefix_bits;
    }
    return std::nullopt;
}

bool is_all_zero(const svx_sid& id) {
    return std::all_of(std::begin(id.b), std::end(id.b), [](std::uint8_t b) { return b == 0; });
}

template <typename Enum> struct Keyword {
    std::string_view word;
    Enum value;
};

template <typename Enum, std::size_t N>
FieldError parse_keyword(std::string_view text, const std::array<Keyword<Enum>, N>& keywords,
                         Enum& value) {
    for (const auto& keyword : keywords) {
        if (keyword.word == text) {
            value = keyword.value;
            return std::nullopt;
        }
    }
    std::string reason = quote_field(text) + " is not one of ";
    for (std::size_t i = 0; i < N; ++i)
        reason += (i ? ", " : "") + std::string(keywords[i].word);
    return reason;
}

template <typename Enum, std::size_t N>
std::string_view keyword_of(const std::array<Keyword<Enum>, N>& keywords, Enum value) {
    for (const auto& keyword : keywords) {
        if (keyword.value == value)
            return keyword.word;
    }
    return "?";
}

constexpr std::array<Keyword<bool>, 2> kYesNo{{{"yes", true}, {"no", false}}};
constexpr std::array<Keyword<SteeringBackend>, 3> kBackends{{
    {"auto", SteeringBackend::automatic},
    {"nft", SteeringBackend::nft},
    {"iptables", SteeringBackend::iptables},
}};
constexpr std::array<Keyword<EngineKind>, 3> kEngines{{
    {"auto", EngineKind::automatic},
    {"nfqueue", EngineKind::nfqueue},
    {"kernel", EngineKind::kernel},
}};
constexpr std::array<Keyword<LogLevel>, 4> kLogLevels{{
    {"error", LogLevel::error},
    {"warning", LogLevel::warning},
    {"info", LogLevel::info},
    {"debug", LogLevel::debug},
}};
constexpr std::array<Keyword<TcpOptionPolicy>, 2> kTcpOptionPolicies{{
    {"keep", TcpOptionPolicy::keep},
    {"strip", TcpOptionPolicy::strip},
}};
constexpr std::array<Keyword<TranslationMode>, 2> kTranslationModes{{
    {"packet", TranslationMode::packet},
    {"relay", TranslationMode::relay},
}};

FieldError parse_socket_path(std::string_view text, std::string& path) {
    if (text.front() != '/')
        return quote_field(text) + " is not an absolute path";
    if (text.size() > kMaxSocketPathBytes)
        return quote_field(text) + " is " + std::to_string(text.size()) +
               " bytes long; a socket path must be shorter than 108 bytes";
    path = std::string(text);
    return std::nullopt;
}

// "LOW-HIGH", 1024..65535, at least 64 ports.
FieldError parse_port_range(std::string_view text, std::uint16_t& low, std::uint16_t& high) {
    auto dash = text.find('-');
    if (dash == std::string_view::npos)
        return quote_field(text) + " is not a port range (LOW-HIGH)";
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    if (auto error = parse_bounded(text.substr(0, dash), kMinFlowPort, 65535, first))
        return error;
    if (auto error = parse_bounded(text.substr(dash + 1), kMinFlowPort, 65535, last))
        return error;
    if (last < first || last - first + 1u < kMinFlowPorts)
        return quote_field(text) + " has fewer than " + std::to_string(kMinFlowPorts) + " ports";
    low = first;
    high = last;
    return std::nullopt;
}

// `SID[/BITS] IPv4 [priority N] [weight N]`.
FieldError parse_static_service(std::string_view text, StaticService& service) {
    std::vector<std::string_view> fields;
    split_fields(text, fields);
    if (fields.size() < 2)
        return quote_field(text) + " is not 'SID[/BITS] IPv4 [priority N] [weight N]'";
    if (auto error = parse_sid(fields[0], service.id, &service.prefix_bits))
        return error;
    if (auto error = parse_unicast_ipv4(fields[1], service.address))
        return error;
    bool priority_seen = false;
    bool weight_seen = false;
    for (std::size_t i = 2; i < fields.size(); i += 2) {
        const std::string_view option = fields[i];
        const bool is_priority = option == "priority";
        if (!is_priority && option != "weight")
            return "unknown option " + quote_field(option) + " (expected priority or weight)";
        bool& seen = is_priority ? priority_seen : weight_seen;
        if (seen)
            return quote_field(option) + " given twice";
        seen = true;
        if (i + 1 >= fields.size())
            return quote_field(option) + " needs a value";
        if (is_priority) {
            if (auto error = parse_bounded(fields[i + 1], 0, kMaxPriority, service.priority))
                return "priority " + *error;
        } else {
            if (auto error = parse_bounded(fields[i + 1], 0, kMaxWeight, service.weight))
                return "weight " + *error;
            if (service.weight == 0)
                service.weight = 1;
        }
    }
    return std::nullopt;
}

// `SID[/BITS] PORT`.
FieldError parse_host_service(std::string_view text, HostService& service) {
    std::vector<std::string_view> fields;
    split_fields(text, fields);
    if (fields.size() != 2)
        return quote_field(text) + " is not 'SID[/BITS] PORT'";
    if (auto error = parse_sid(fields[0], service.id, &service.prefix_bits))
        return error;
    if (service.prefix_bits == 0)
        return quote_field(fields[0]) + ": a registration needs a prefix length of 1..256";
    if (is_all_zero(service.id))
        return quote_field(fields[0]) + ": the all-zero (default) service ID cannot be registered";
    if (auto error = parse_bounded(fields[1], 1, 65535, service.port))
        return "port " + *error;
    return std::nullopt;
}

std::string dedupe_key(const svx_sid& id, unsigned bits, const Ipv4Address* address) {
    std::string key(reinterpret_cast<const char*>(id.b), sizeof(id.b));
    key += std::to_string(bits);
    if (address)
        key += "@" + format_address(*address);
    return key;
}

// ---------------------------------------------------------------- the parser

enum class Section { engine, translator, router, host };
constexpr std::size_t kSectionCount = 4;
constexpr std::array<std::string_view, kSectionCount> kSectionNames{"engine", "translator",
                                                                    "router", "host"};

struct KeySpec {
    std::string_view name;
    bool repeatable = false;
    bool required = false;
};

constexpr std::array<KeySpec, 20> kEngineKeys{{
    {"queues"},
    {"queue-num"},
    {"queue-length"},
    {"fail-open"},
    {"rcvbuf"},
    {"mark"},
    {"broadcast-mark"},
    {"backend"},
    {"engine"},
    {"max-flows"},
    {"max-embryonic"},
    {"timeout-embryonic"},
    {"timeout-established"},
    {"timeout-closing"},
    {"timeout-time-wait"},
    {"fin-ack-delay"},
    {"sal-mtu"},
    {"tcp-mtu"},
    {"control-socket"},
    {"log-level"},
}};
constexpr std::array<KeySpec, 12> kTranslatorKeys{{
    {"table", false, true},
    {"address", false, true},
    {"router"},
    {"service", true},
    {"tcp-options"},
    {"mode"},
    {"relay-workers"},
    {"relay-pipe-size"},
    {"relay-idle-timeout"},
    {"relay-connect-timeout"},
    {"dynamic-aliasing"},
    {"alias-interface"},
}};
constexpr std::array<KeySpec, 4> kRouterKeys{{
    {"address", false, true},
    {"router-id"},
    {"expiry"},
    {"service", true},
}};
constexpr std::array<KeySpec, 7> kHostKeys{{
    {"address", false, true},
    {"router", false, true},
    {"router-id"},
    {"client-id"},
    {"refresh"},
    {"flow-ports"},
    {"service", true},
}};

std::span<const KeySpec> keys_of(Section section) {
    switch (section) {
    case Section::engine:
        return kEngineKeys;
    case Section::translator:
        return kTranslatorKeys;
    case Section::router:
        return kRouterKeys;
    case Section::host:
        return kHostKeys;
    }
    return {};
}

std::string section_label(Section section) {
    return "[" + std::string(kSectionNames[static_cast<std::size_t>(section)]) + "]";
}

// Where a key was set and whether its value was valid.
struct KeyUse {
    unsigned line = 0;
    bool valid = false;
};

struct SectionState {
    unsigned header_line = 0;                 // 0: the section is absent
    std::map<std::string_view, KeyUse> keys;  // first use; names point into the KeySpec tables
    std::map<std::string, unsigned> services; // dedupe_key -> line

    bool present() const { return header_line != 0; }
    const KeyUse* find(std::string_view key) const {
        auto it = keys.find(key);
        return it == keys.end() ? nullptr : &it->second;
    }
    bool valid(std::string_view key) const { // set and valid
        const KeyUse* use = find(key);
        return use && use->valid;
    }
};

std::string directory_of(std::string_view file_name) {
    auto slash = file_name.rfind('/');
    if (slash == std::string_view::npos)
        return {};
    return std::string(file_name.substr(0, slash == 0 ? 1 : slash));
}

std::string resolve_path(std::string_view path, std::string_view base_directory) {
    if (path.front() == '/' || base_directory.empty())
        return std::string(path);
    std::string resolved(base_directory);
    if (resolved.back() != '/')
        resolved += '/';
    resolved += path;
    return resolved;
}

class Parser {
public:
    Parser(std::string_view file_name, std::string_view base_directory)
        : file_(file_name.empty() ? kDefaultFileName : file_name),
          base_directory_(base_directory.empty() ? directory_of(file_name)
                                                 : std::string(base_directory)) {
        config_.file = file_;
    }

    ConfigParseResult run(std::string_view text) {
        if (text.size() > kMaxFileBytes) {
            error(0, {}, "file is larger than 1 MiB");
            return finish_result();
        }
        if (text.starts_with(kUtf8Bom))
            text.remove_prefix(kUtf8Bom.size());
        unsigned line_number = 0;
        while (!text.empty()) {
            auto end = text.find('\n');
            std::string_view line = text.substr(0, end);
            text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
            ++line_number;
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            parse_line(line, line_number);
        }
        finish_sections();
        return finish_result();
    }

private:
    void error(unsigned line, std::string key, std::string reason) {
        errors_.push_back({file_, line, std::move(key), std::move(reason)});
    }

    SectionState& state(Section section) { return sections_[static_cast<std::size_t>(section)]; }

    void parse_line(std::string_view line, unsigned line_number) {
        if (line.size() > kMaxLineBytes) {
            error(line_number, {},
                  "line is longer than " + std::to_string(kMaxLineBytes) + " bytes");
            return;
        }
        for (std::size_t i = 0; i < line.size(); ++i) {
            auto byte = static_cast<unsigned char>(line[i]);
            if (byte == 0) {
                error(line_number, {}, "NUL byte in line");
                return;
            }
            if ((byte < 0x20 && byte != '\t') || byte == 0x7f) {
                error(line_number, {},
                      "control character " + printable_field(line.substr(i, 1)) + " in line");
                return;
            }
        }
        // A comment starts at a '#' that begins the line or follows a blank
        // (so "a#b" stays one value); parse_key_value also drops a value
        // that starts with '#'.
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '#' && (i == 0 || is_blank(line[i - 1]))) {
                line = line.substr(0, i);
                break;
            }
        }
        line = trim(line);
        if (line.empty())
            return;
        if (line.front() == '[')
            parse_header(line, line_number);
        else
            parse_key_value(line, line_number);
    }

    void parse_header(std::string_view line, unsigned line_number) {
        current_.reset();
        in_section_ = true;
        if (line.size() < 2 || line.back() != ']') {
            error(line_number, {},
                  "malformed section header " + quote_field(line) + " (expected '[name]')");
            return;
        }
        std::string_view name = trim(line.substr(1, line.size() - 2));
        auto found = std::find(kSectionNames.begin(), kSectionNames.end(), name);
        if (found == kSectionNames.end()) {
            error(line_number, "[" + printable_field(name) + "]",
                  "unknown section (expected engine, translator, router or host)");
            return;
        }
        auto section = static_cast<Section>(found - kSectionNames.begin());
        SectionState& section_state = state(section);
        if (section_state.present()) {
            error(line_number, section_label(section),
                  "repeated section (first at line " + std::to_string(section_state.header_line) +
                      ")");
            return;
        }
        section_state.header_line = line_number;
        current_ = section;
        switch (section) {
        case Section::engine:
            break;
        case Section::translator:
            config_.translator.emplace().line = line_number;
            break;
        case Section::router:
            config_.router.emplace().line = line_number;
            break;
        case Section::host:
            config_.host.emplace().line = line_number;
            break;
        }
    }

    void parse_key_value(std::string_view line, unsigned line_number) {
        auto equals = line.find('=');
        if (equals == std::string_view::npos) {
            error(line_number, {},
                  "expected '[section]' or 'key = value', got " + quote_field(line));
            return;
        }
        std::string_view key = trim(line.substr(0, equals));
        std::string_view value = trim(line.substr(equals + 1));
        if (value.starts_with('#'))
            value = {}; // "key =# comment"
        if (key.empty()) {
            error(line_number, {}, "missing key before '='");
            return;
        }
        if (!in_section_) {
            error(line_number, printable_field(key),
                  "key outside any section (a [section] header must come first)");
            return;
        }
        if (!current_)
            return; // inside an unknown or repeated section, reported at its header
        const Section section = *current_;
        auto keys = keys_of(section);
        auto spec =
            std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.name == key; });
        if (spec == keys.end()) {
            error(line_number, printable_field(key), "unknown key in " + section_label(section));
            return;
        }
        SectionState& section_state = state(section);
        const KeyUse* previous = section_state.find(spec->name);
        if (previous && !spec->repeatable) {
            error(line_number, std::string(spec->name),
                  "repeated (first set at line " + std::to_string(previous->line) + ")");
            return;
        }
        FieldError reason;
        if (value.empty())
            reason = "missing value";
        else
            reason = apply(section, spec->name, value, line_number);
        if (!previous)
            section_state.keys[spec->name] = KeyUse{line_number, !reason};
        else if (reason)
            section_state.keys[spec->name].valid = false;
        if (reason)
            error(line_number, std::string(spec->name), std::move(*reason));
    }

    FieldError apply(Section section, std::string_view key, std::string_view value, unsigned line) {
        switch (section) {
        case Section::engine:
            return apply_engine(key, value);
        case Section::translator:
            return apply_translator(key, value, line);
        case Section::router:
            return apply_router(key, value, line);
        case Section::host:
            return apply_host(key, value, line);
        }
        return std::nullopt;
    }

    FieldError apply_engine(std::string_view key, std::string_view value) {
        EngineSettings& engine = config_.engine;
        if (key == "queues") {
            if (auto error = parse_bounded(value, 1, kMaxQueues, engine.queues))
                return error;
            if ((engine.queues & (engine.queues - 1)) != 0)
                return quote_field(value) + " is not a power of two (1, 2, 4, 8, 16, 32 or 64)";
            return std::nullopt;
        }
        if (key == "queue-num")
            return parse_bounded(value, 0, 65535, engine.queue_num);
        if (key == "queue-length")
            return parse_bounded(value, 1, kMaxQueueLength, engine.queue_length);
        if (key == "fail-open")
            return parse_keyword(value, kYesNo, engine.fail_open);
        if (key == "rcvbuf")
            return parse_size(value, kMinRcvbuf, kMaxRcvbuf, engine.rcvbuf_bytes);
        if (key == "mark")
            return parse_mark(value, engine.mark);
        if (key == "broadcast-mark")
            return parse_mark(value, engine.broadcast_mark);
        if (key == "backend")
            return parse_keyword(value, kBackends, engine.backend);
        if (key == "engine")
            return parse_keyword(value, kEngines, engine.engine);
        if (key == "max-flows")
            return parse_bounded(value, 1, kMaxFlows, engine.max_flows);
        if (key == "max-embryonic")
            return parse_bounded(value, 1, kMaxFlows, engine.max_embryonic);
        if (key == "timeout-embryonic")
            return parse_duration(value, engine.timeout_embryonic);
        if (key == "timeout-established")
            return parse_duration(value, engine.timeout_established);
        if (key == "timeout-closing")
            return parse_duration(value, engine.timeout_closing);
        if (key == "timeout-time-wait")
            return parse_duration(value, engine.timeout_time_wait);
        if (key == "fin-ack-delay")
            return parse_duration(value, engine.fin_ack_delay, Duration{0},
                                  Duration{SVX_FIN_ACK_DELAY_MAX_MS});
        if (key == "sal-mtu")
            return parse_bounded(value, kMinMtu, 65535, engine.sal_mtu);
        if (key == "tcp-mtu")
            return parse_bounded(value, kMinMtu, 65535, engine.tcp_mtu);
        if (key == "control-socket")
            return parse_socket_path(value, engine.control_socket);
        if (key == "log-level")
            return parse_keyword(value, kLogLevels, engine.log_level);
        return "unhandled key"; // unreachable: keys_of() lists exactly the keys above
    }

    // A static service not given twice in its section (same prefix and address).
    FieldError add_static_service(Section section, std::string_view value, unsigned line,
                                  std::vector<StaticService>& services) {
        StaticService service;
        if (auto error = parse_static_service(value, service))
            return error;
        service.line = line;
        auto [it, added] = state(section).services.emplace(
            dedupe_key(service.id, service.prefix_bits, &service.address), line);
        if (!added)
            return "duplicates the service at line " + std::to_string(it->second);
        services.push_back(service);
        return std::nullopt;
    }

    FieldError apply_translator(std::string_view key, std::string_view value, unsigned line) {
        TranslatorSettings& translator = *config_.translator;
        if (key == "table") {
            std::string path = resolve_path(value, base_directory_);
            if (path.size() > kMaxPathBytes)
                return quote_field(path) + " is longer than " + std::to_string(kMaxPathBytes) +
                       " bytes";
            translator.table = std::move(path);
            return std::nullopt;
        }
        if (key == "address")
            return parse_unicast_ipv4(value, translator.address);
        if (key == "router")
            return parse_unicast_ipv4(value, translator.router.emplace());
        if (key == "service")
            return add_static_service(Section::translator, value, line, translator.services);
        if (key == "tcp-options")
            return parse_keyword(value, kTcpOptionPolicies, translator.tcp_options);
        if (key == "mode")
            return parse_keyword(value, kTranslationModes, translator.mode);
        if (key == "relay-workers")
            return parse_bounded(value, 0, kMaxQueues, translator.relay_workers);
        if (key == "relay-pipe-size")
            return parse_size(value, std::uint64_t{4} << 10, std::uint64_t{64} << 20,
                              translator.relay_pipe_size);
        if (key == "relay-idle-timeout")
            return parse_duration(value, translator.relay_idle_timeout);
        if (key == "relay-connect-timeout")
            return parse_duration(value, translator.relay_connect_timeout);
        if (key == "dynamic-aliasing")
            return parse_keyword(value, kYesNo, translator.dynamic_aliasing);
        if (key == "alias-interface") {
            // An interface name: 1..15 bytes, no '/' or blanks (IFNAMSIZ).
            if (value.empty() || value.size() > 15 ||
                value.find_first_of("/ \t") != std::string_view::npos)
                return quote_field(value) + " is not an interface name (1..15 bytes, no '/')";
            translator.alias_interface = std::string(value);
            return std::nullopt;
        }
        return "unhandled key";
    }

    FieldError apply_router(std::string_view key, std::string_view value, unsigned line) {
        RouterSettings& router = *config_.router;
        if (key == "address")
            return parse_unicast_ipv4(value, router.address);
        if (key == "router-id")
            return parse_sid(value, router.router_id, nullptr);
        if (key == "expiry")
            return parse_duration(value, router.expiry);
        if (key == "service")
            return add_static_service(Section::router, value, line, router.services);
        return "unhandled key";
    }

    FieldError apply_host(std::string_view key, std::string_view value, unsigned line) {
        HostSettings& host = *config_.host;
        if (key == "address")
            return parse_unicast_ipv4(value, host.address);
        if (key == "router")
            return parse_unicast_ipv4(value, host.router);
        if (key == "router-id")
            return parse_sid(value, host.router_id, nullptr);
        if (key == "client-id")
            return parse_sid(value, host.client_id, nullptr);
        if (key == "refresh")
            return parse_duration(value, host.refresh);
        if (key == "flow-ports")
            return parse_port_range(value, host.flow_port_low, host.flow_port_high);
        if (key == "service") {
            HostService service;
            if (auto error = parse_host_service(value, service))
                return error;
            service.line = line;
            auto [it, added] =
                state(Section::host)
                    .services.emplace(dedupe_key(service.id, service.prefix_bits, nullptr), line);
            if (!added)
                return "duplicates the service at line " + std::to_string(it->second);
            host.services.push_back(service);
            return std::nullopt;
        }
        return "unhandled key";
    }

    // Required keys, then checks that involve more than one key.
    void finish_sections() {
        for (std::size_t i = 0; i < kSectionCount; ++i) {
            const auto section = static_cast<Section>(i);
            const SectionState& section_state = sections_[i];
            if (!section_state.present())
                continue;
            for (const KeySpec& spec : keys_of(section)) {
                if (spec.required && !section_state.find(spec.name))
                    error(section_state.header_line, section_label(section),
                          "missing required key '" + std::string(spec.name) + "'");
            }
        }
        finish_engine();
        const SectionState& translator = state(Section::translator);
        if (translator.present() && !translator.find("router") && !translator.find("service"))
            error(translator.header_line, section_label(Section::translator),
                  "needs 'router' or at least one 'service'");
        const SectionState& host = state(Section::host);
        if (host.present() && !host.find("service"))
            error(host.header_line, section_label(Section::host), "needs at least one 'service'");
        finish_refresh_expiry();
        if (!translator.present() && !state(Section::router).present() && !host.present())
            error(0, {},
                  "no role section: at least one of [translator], [router], [host] is required");
    }

    void finish_engine() {
        EngineSettings& engine = config_.engine;
        const SectionState& section_state = state(Section::engine);
        const bool queues_valid = !section_state.find("queues") || section_state.valid("queues");
        if (const KeyUse* queue_num = section_state.find("queue-num");
            queue_num && queue_num->valid && queues_valid &&
            engine.queue_num > 65535u - engine.queues) {
            error(queue_num->line, "queue-num",
                  "'" + std::to_string(engine.queue_num) + "' is out of range (0.." +
                      std::to_string(65535u - engine.queues) +
                      " with queues = " + std::to_string(engine.queues) + ")");
        }
        finish_marks();
        const bool max_flows_valid =
            !section_state.find("max-flows") || section_state.valid("max-flows");
        const KeyUse* max_embryonic = section_state.find("max-embryonic");
        if (!max_embryonic) {
            engine.max_embryonic = std::max<std::uint32_t>(1, engine.max_flows / 4);
        } else if (max_embryonic->valid && max_flows_valid &&
                   engine.max_embryonic > engine.max_flows) {
            error(max_embryonic->line, "max-embryonic",
                  "'" + std::to_string(engine.max_embryonic) + "' exceeds max-flows (" +
                      std::to_string(engine.max_flows) + ")");
        }
    }

    // The two marks must differ: `mark` says "the engine's own packet, never
    // queue it", and a received broadcast frame must not pass for one (nor
    // an injected packet for a broadcast frame). Reported on broadcast-mark
    // when it is given, else on mark.
    void finish_marks() {
        const EngineSettings& engine = config_.engine;
        const SectionState& section_state = state(Section::engine);
        const KeyUse* mark = section_state.find("mark");
        const KeyUse* broadcast_mark = section_state.find("broadcast-mark");
        if ((mark && !mark->valid) || (broadcast_mark && !broadcast_mark->valid) ||
            engine.mark != engine.broadcast_mark)
            return;
        if (broadcast_mark)
            error(broadcast_mark->line, "broadcast-mark",
                  "'" + format_hex32(engine.broadcast_mark) + "' equals mark; they must differ");
        else
            error(mark->line, "mark",
                  "'" + format_hex32(engine.mark) +
                      "' equals the default broadcast-mark; they must differ");
    }

    void finish_refresh_expiry() {
        const SectionState& router = state(Section::router);
        const SectionState& host = state(Section::host);
        if (!router.present() || !host.present())
            return;
        const KeyUse* refresh = host.find("refresh");
        const KeyUse* expiry = router.find("expiry");
        if ((refresh && !refresh->valid) || (expiry && !expiry->valid))
            return;
        const Duration refresh_value = config_.host->refresh;
        const Duration expiry_value = config_.router->expiry;
        if (refresh_value < expiry_value)
            return;
        if (refresh || !expiry)
            error(refresh ? refresh->line : host.header_line, "refresh",
                  "'" + format_duration(refresh_value) +
                      "' must be shorter than [router] expiry (" + format_duration(expiry_value) +
                      ")");
        else
            error(expiry->line, "expiry",
                  "'" + format_duration(expiry_value) + "' must be longer than [host] refresh (" +
                      format_duration(refresh_value) + ")");
    }

    ConfigParseResult finish_result() {
        ConfigParseResult result;
        if (errors_.empty()) {
            result.config = std::move(config_);
            return result;
        }
        auto order = [](const ConfigDiagnostic& d) {
            return d.line == 0 ? std::numeric_limits<unsigned>::max() : d.line;
        };
        std::stable_sort(errors_.begin(), errors_.end(),
                         [&](const auto& a, const auto& b) { return order(a) < order(b); });
        if (errors_.size() > kMaxDiagnostics) {
            const std::size_t hidden = errors_.size() - kMaxDiagnostics;
            errors_.resize(kMaxDiagnostics);
            error(0, {}, "and " + std::to_string(hidden) + " more errors");
        }
        result.errors = std::move(errors_);
        return result;
    }

    std::string file_;
    std::string base_directory_;
    Config config_;
    std::array<SectionState, kSectionCount> sections_{};
    std::optional<Section> current_; // the section keys go to; none inside a bad header's
    bool in_section_ = false;        // a header (good or bad) was seen
    std::vector<ConfigDiagnostic> errors_;
};

ConfigParseResult unreadable(const std::string& path, std::string_view what, int error_number) {
    ConfigParseResult result;
    result.errors.push_back(
        {path, 0, {}, std::string(what) + ": " + std::generic_category().message(error_number)});
    return result;
}

} // namespace

std::string_view to_string(SteeringBackend backend) {
    return keyword_of(kBackends, backend);
}
std::string_view to_string(EngineKind engine) {
    return keyword_of(kEngines, engine);
}
std::string_view to_string(LogLevel level) {
    return keyword_of(kLogLevels, level);
}
std::string_view to_string(TcpOptionPolicy policy) {
    return keyword_of(kTcpOptionPolicies, policy);
}
std::string_view to_string(TranslationMode mode) {
    return keyword_of(kTranslationModes, mode);
}

std::string ConfigDiagnostic::to_string() const {
    std::string out = file.empty() ? std::string(kDefaultFileName) : file;
    if (line != 0)
        out += ":" + std::to_string(line);
    out += ": ";
    if (!key.empty())
        out += key + ": ";
    out += reason;
    return out;
}

ConfigParseResult parse_daemon_config(std::string_view text, std::string_view file_name,
                                      std::string_view base_directory) {
    return Parser(file_name, base_directory).run(text);
}

ConfigParseResult load_daemon_config(const std::string& path) {
    auto file = read_file_bounded(path, kMaxFileBytes);
    if (file.failed_step)
        return unreadable(path, file.failed_step, file.error);
    if (file.too_large) {
        ConfigParseResult result;
        result.errors.push_back({path, 0, {}, "file is larger than 1 MiB"});
        return result;
    }
    std::error_code error;
    auto absolute = std::filesystem::absolute(path, error);
    std::string base_directory;
    if (!error)
        base_directory = absolute.lexically_normal().parent_path().string();
    return parse_daemon_config(file.text, path, base_directory);
}

std::string format_address(const Ipv4Address& address) {
    return format_ipv4(address);
}

std::string format_duration(Duration duration) {
    const auto ms = static_cast<std::uint64_t>(duration.count());
    if (duration.count() > 0) {
        for (const auto& unit : kDurationUnits) {
            if (ms % unit.factor == 0)
                return std::to_string(ms / unit.factor) + std::string(unit.name);
        }
    }
    return std::to_string(duration.count()) + "ms";
}

namespace {

std::string format_sid(const svx_sid& id) {
    char text[SVX_SID_TEXT_LEN + 1];
    svx_sid_format(&id, text);
    return text;
}

void format_static_services(const std::vector<StaticService>& services, std::string& out) {
    for (const auto& service : services)
        out += "service = " + format_sid(service.id) + "/" + std::to_string(service.prefix_bits) +
               " " + format_address(service.address) + " priority " +
               std::to_string(service.priority) + " weight " + std::to_string(service.weight) +
               "\n";
}

} // namespace

std::string format_daemon_config(const Config& config) {
    const EngineSettings& engine = config.engine;
    std::string out = "# svxlatd configuration (effective values)\n[engine]\n";
    auto line = [&out](std::string_view key, const std::string& value) {
        out += std::string(key) + " = " + value + "\n";
    };
    line("queues", std::to_string(engine.queues));
    line("queue-num", std::to_string(engine.queue_num));
    line("queue-length", std::to_string(engine.queue_length));
    line("fail-open", engine.fail_open ? "yes" : "no");
    line("rcvbuf", format_size(engine.rcvbuf_bytes));
    line("mark", format_hex32(engine.mark));
    line("broadcast-mark", format_hex32(engine.broadcast_mark));
    line("backend", std::string(to_string(engine.backend)));
    line("engine", std::string(to_string(engine.engine)));
    line("max-flows", std::to_string(engine.max_flows));
    line("max-embryonic", std::to_string(engine.max_embryonic));
    line("timeout-embryonic", format_duration(engine.timeout_embryonic));
    line("timeout-established", format_duration(engine.timeout_established));
    line("timeout-closing", format_duration(engine.timeout_closing));
    line("timeout-time-wait", format_duration(engine.timeout_time_wait));
    line("fin-ack-delay", format_duration(engine.fin_ack_delay));
    line("sal-mtu", std::to_string(engine.sal_mtu));
    line("tcp-mtu", std::to_string(engine.tcp_mtu));
    line("control-socket", engine.control_socket);
    line("log-level", std::string(to_string(engine.log_level)));
    if (const auto& translator = config.translator) {
        out += "\n[translator]\n";
        line("table", translator->table);
        line("address", format_address(translator->address));
        if (translator->router)
            line("router", format_address(*translator->router));
        format_static_services(translator->services, out);
        line("tcp-options", std::string(to_string(translator->tcp_options)));
        line("mode", std::string(to_string(translator->mode)));
        line("relay-workers", std::to_string(translator->relay_workers));
        line("relay-pipe-size", std::to_string(translator->relay_pipe_size));
        line("relay-idle-timeout", format_duration(translator->relay_idle_timeout));
        line("relay-connect-timeout", format_duration(translator->relay_connect_timeout));
        line("dynamic-aliasing", translator->dynamic_aliasing ? "yes" : "no");
        if (!translator->alias_interface.empty())
            line("alias-interface", translator->alias_interface);
    }
    if (const auto& router = config.router) {
        out += "\n[router]\n";
        line("address", format_address(router->address));
        line("router-id", format_sid(router->router_id));
        line("expiry", format_duration(router->expiry));
        format_static_services(router->services, out);
    }
    if (const auto& host = config.host) {
        out += "\n[host]\n";
        line("address", format_address(host->address));
        line("router", format_address(host->router));
        line("router-id", format_sid(host->router_id));
        line("client-id", format_sid(host->client_id));
        line("refresh", format_duration(host->refresh));
        line("flow-ports",
             std::to_string(host->flow_port_low) + "-" + std::to_string(host->flow_port_high));
        for (const auto& service : host->services)
            line("service", format_sid(service.id) + "/" + std::to_string(service.prefix_bits) +
                                " " + std::to_string(service.port));
    }
    return out;
}

} // namespace svxlat::daemon
