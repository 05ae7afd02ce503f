// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "config/table.h"

#include "common/field_text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>

namespace svxlat::config {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kDefaultFileName = "<table>";

constexpr std::string_view kFieldAddress = "address";
constexpr std::string_view kFieldPort = "port";
constexpr std::string_view kFieldService = "service-ID";
constexpr std::string_view kFieldSetting = "setting";
constexpr std::string_view kFieldRow = "row";
constexpr std::string_view kFieldLine = "line";
constexpr std::string_view kKeyMode = "mode";
constexpr std::string_view kKeyTcpOptions = "serval-tcp-options";
constexpr std::string_view kKeyRelayTarget = "relay-target";
constexpr std::string_view kKeyProxyProtocol = "proxy-protocol";

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

std::string describe_size(std::size_t bytes) {
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    if (bytes >= kMiB && bytes % kMiB == 0)
        return std::to_string(bytes / kMiB) + " MiB";
    return std::to_string(bytes) + " bytes";
}

std::uint64_t index_key(Ipv4Address address, std::uint16_t port) {
    std::uint64_t key = 0;
    for (auto byte : address)
        key = key << 8 | byte;
    return key << 16 | port;
}


// A field error: the reason, or nothing when the field is valid.
using FieldError = std::optional<std::string>;


// Decimal 1..65535 without leading zeros, so a port has one spelling.
FieldError parse_port(std::string_view text, std::uint16_t& port) {
    if (!all_digits(text))
        return quote_field(text) + " is not a decimal port number";
    if (text.size() > 1 && text[0] == '0')
        return quote_field(text) + " is not a decimal port number (leading zero)";
    unsigned long value = 0;
    for (char c : text.substr(0, 6)) // 6 digits already exceed 65535
        value = value * 10 + static_cast<unsigned long>(c - '0');
    if (text.size() > 5 || value < 1 || value > 65535)
        return quote_field(text) + " out of range 1..65535";
    port = static_cast<std::uint16_t>(value);
    return std::nullopt;
}

// The core's text form, full IDs only (no "/BITS"): a table row names one
// service. The all-zero ID is the default service, never a connect target.
FieldError parse_service(std::string_view text, svx_sid& service) {
    auto err = svx_sid_parse(text.data(), text.size(), &service, nullptr);
    if (err != SVX_SID_OK)
        return std::string(svx_sid_strerror(err));
    const svx_sid zero{};
    if (svx_sid_cmp(&service, &zero) == 0)
        return quote_field(text) + " is the all-zero (default) service ID, not a connection target";
    return std::nullopt;
}

} // namespace

// Fills a TableLoadResult: counts every diagnostic, stores a bounded number.
class TableLoader {
public:
    TableLoader(std::string_view file_name, const TableLimits& limits) : limits_(limits) {
        result_.file = file_name.empty() ? std::string(kDefaultFileName) : std::string(file_name);
    }

    TableLoadResult parse(std::string_view text) {
        if (text.size() > limits_.max_file_bytes)
            return too_large();
        // Editors on Windows put a byte order mark first; it is not part of the
        // first field.
        if (text.starts_with(kUtf8Bom))
            text.remove_prefix(kUtf8Bom.size());
        unsigned number = 0;
        std::size_t pos = 0;
        while (pos < text.size()) {
            ++number;
            std::size_t end = text.find('\n', pos);
            if (end == std::string_view::npos)
                end = text.size();
            parse_line(text.substr(pos, end - pos), number);
            pos = end + 1;
        }
        return finish();
    }

    TableLoadResult unreadable(std::string_view what, int error_number) {
        result_.readable_ = false;
        report(Diagnostic::Severity::error, 0, "",
               std::string(what) + ": " + std::generic_category().message(error_number));
        return std::move(result_);
    }

    TableLoadResult too_large() {
        report(Diagnostic::Severity::error, 0, "",
               "file is larger than " + describe_size(limits_.max_file_bytes) +
                   "; refusing to load it");
        return finish();
    }

private:
    void report(Diagnostic::Severity severity, unsigned line, std::string_view field,
                std::string reason) {
        if (severity == Diagnostic::Severity::error)
            ++result_.error_count_;
        else
            ++result_.warning_count_;
        if (result_.diagnostics.size() >= limits_.max_diagnostics) {
            ++suppressed_;
            suppressed_errors_ = suppressed_errors_ || severity == Diagnostic::Severity::error;
            return;
        }
        result_.diagnostics.push_back(
            Diagnostic{severity, result_.file, line, std::string(field), std::move(reason)});
    }

    TableLoadResult finish() {
        // Summary lines are not counted: the diagnostics they stand for were.
        if (suppressed_ > 0)
            result_.diagnostics.push_back(Diagnostic{
                suppressed_errors_ ? Diagnostic::Severity::error : Diagnostic::Severity::warning,
                result_.file, 0, "",
                std::to_string(suppressed_) + " more diagnostics not shown (limit " +
                    std::to_string(limits_.max_diagnostics) + ")"});
        if (result_.table.rows.empty()) {
            ++result_.error_count_;
            result_.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, result_.file, 0,
                                                     "", "no valid row; the table is unusable"});
        }
        return std::move(result_);
    }

    void parse_line(std::string_view line, unsigned number) {
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        if (line.size() > limits_.max_line_bytes) {
            seen_content_ = true;
            report(Diagnostic::Severity::error, number, kFieldLine,
                   std::to_string(line.size()) + " bytes, longer than the limit of " +
                       std::to_string(limits_.max_line_bytes));
            return;
        }
        if (auto nul = line.find('\0'); nul != std::string_view::npos) {
            seen_content_ = true;
            report(Diagnostic::Severity::error, number, kFieldLine,
                   "NUL byte at column " + std::to_string(nul + 1) + " (not a text file?)");
            return;
        }
        line = line.substr(0, line.find('#'));
        split_fields(line, fields_);
        if (fields_.empty())
            return;
        if (looks_like_header(fields_)) {
            if (std::exchange(seen_content_, true))
                // A second header (e.g. two tables pasted together): one clear
                // message instead of one per field.
                report(Diagnostic::Severity::error, number, kFieldRow,
                       "looks like a header; a header is only allowed as the first "
                       "non-comment line");
            return;
        }
        seen_content_ = true;
        parse_row(number);
    }

    // A header ("IP address Port Service ID", "IP-address port service-ID",
    // "ip") has no field that starts with a digit or holds a setting. That is
    // stricter than "the first field does not start with a digit" on purpose:
    // "::1 80 1", "web.example 80 1" or "mode=relay" on the first line are
    // rows or settings gone wrong and get an error instead of vanishing.
    static bool looks_like_header(const std::vector<std::string_view>& fields) {
        return std::none_of(fields.begin(), fields.end(), [](std::string_view field) {
            return is_digit(field[0]) || field.find('=') != std::string_view::npos;
        });
    }

    void parse_row(unsigned number) {
        std::size_t positional = 0;
        while (positional < fields_.size() && positional < 3 &&
               fields_[positional].find('=') == std::string_view::npos)
            ++positional;
        if (positional < 3) {
            std::string reason = "expected 3 fields 'IP-address port service-ID'";
            if (positional < fields_.size())
                reason += " before the settings";
            report(Diagnostic::Severity::error, number, kFieldRow,
                   reason + ", got " + std::to_string(positional));
            return;
        }

        TableRow row;
        row.line = number;
        bool valid = true;
        auto check = [&](std::string_view field, FieldError error) {
            if (error) {
                report(Diagnostic::Severity::error, number, field, std::move(*error));
                valid = false;
            }
        };
        check(kFieldAddress, parse_unicast_ipv4(fields_[0], row.address));
        check(kFieldPort, parse_port(fields_[1], row.port));
        check(kFieldService, parse_service(fields_[2], row.service));
        SeenKeys seen;
        for (std::size_t i = 3; i < fields_.size(); ++i)
            valid = parse_setting(fields_[i], number, row, seen) && valid;
        if (valid)
            add_row(row);
    }

    // Keys a row has named, counted even when the value was bad, so a repeat
    // is reported as a duplicate rather than judged on its own.
    struct SeenKeys {
        bool mode = false;
        bool tcp_options = false;
        bool relay_target = false;
        bool proxy_protocol = false;
    };

    bool parse_setting(std::string_view setting, unsigned number, TableRow& row, SeenKeys& seen) {
        auto fail = [&](std::string_view field, std::string reason) {
            report(Diagnostic::Severity::error, number, field, std::move(reason));
            return false;
        };
        auto eq = setting.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return fail(kFieldSetting, quote_field(setting) + " is not a key=value setting");
        auto key = setting.substr(0, eq);
        auto value = setting.substr(eq + 1);
        if (key == kKeyMode) {
            if (std::exchange(seen.mode, true))
                return fail(kFieldSetting, "duplicate key 'mode'");
            if (value == "packet")
                row.mode = RowMode::packet;
            else if (value == "relay")
                row.mode = RowMode::relay;
            else
                return fail(kKeyMode, quote_field(value) + " is not packet or relay");
            return true;
        }
        if (key == kKeyTcpOptions) {
            if (std::exchange(seen.tcp_options, true))
                return fail(kFieldSetting, "duplicate key 'serval-tcp-options'");
            if (value == "keep")
                row.tcp_options = TcpOptionPolicy::keep;
            else if (value == "strip")
                row.tcp_options = TcpOptionPolicy::strip;
            else
                return fail(kKeyTcpOptions, quote_field(value) + " is not keep or strip");
            return true;
        }
        if (key == kKeyRelayTarget) {
            if (std::exchange(seen.relay_target, true))
                return fail(kFieldSetting, "duplicate key 'relay-target'");
            Endpoint target;
            if (auto error = parse_unicast_endpoint(value, target.address, target.port))
                return fail(kKeyRelayTarget, *error);
            row.relay_target = target;
            return true;
        }
        if (key == kKeyProxyProtocol) {
            if (std::exchange(seen.proxy_protocol, true))
                return fail(kFieldSetting, "duplicate key 'proxy-protocol'");
            if (value == "v2")
                row.proxy_v2 = true;
            else if (value == "none")
                row.proxy_v2 = false;
            else
                return fail(kKeyProxyProtocol, quote_field(value) + " is not v2 or none");
            return true;
        }
        return fail(kFieldSetting,
                    "unknown key " + quote_field(key) +
                        " (known: mode, serval-tcp-options, relay-target, proxy-protocol)");
    }

    void add_row(const TableRow& row) {
        if (const TableRow* first = result_.table.find(row.address, row.port)) {
            auto pair = "(" + format_address(row.address) + ", " + std::to_string(row.port) + ")";
            auto first_line = "(first at line " + std::to_string(first->line) + ")";
            if (same_entry(*first, row))
                report(Diagnostic::Severity::warning, row.line, kFieldRow,
                       "duplicate of the row at line " + std::to_string(first->line) +
                           "; kept once");
            else if (svx_sid_cmp(&first->service, &row.service) != 0)
                report(Diagnostic::Severity::error, row.line, kFieldRow,
                       "duplicate " + pair + " with a different service ID " + first_line);
            else
                report(Diagnostic::Severity::error, row.line, kFieldRow,
                       "duplicate " + pair + " with different settings " + first_line);
            return;
        }
        if (result_.table.rows.size() >= limits_.max_rows) {
            report(Diagnostic::Severity::error, row.line, kFieldRow,
                   "the table is full (limit of " + std::to_string(limits_.max_rows) + " rows)");
            return;
        }
        result_.table.insert(row);
    }

    const TableLimits limits_;
    TableLoadResult result_;
    std::vector<std::string_view> fields_; // reused for every line
    bool seen_content_ = false;            // a header is only allowed before it
    std::size_t suppressed_ = 0;
    bool suppressed_errors_ = false;
};

std::string Diagnostic::to_string() const {
    std::string out = file;
    if (line > 0)
        out += ":" + std::to_string(line);
    out += ": ";
    if (severity == Severity::warning)
        out += "warning: ";
    if (!field.empty())
        out += field + ": ";
    out += reason;
    return out;
}

std::string_view to_string(RowMode mode) {
    switch (mode) {
    case RowMode::packet:
        return "packet";
    case RowMode::relay:
        return "relay";
    case RowMode::unset:
        break;
    }
    return "unset";
}

std::string_view to_string(TcpOptionPolicy policy) {
    switch (policy) {
    case TcpOptionPolicy::keep:
        return "keep";
    case TcpOptionPolicy::strip:
        return "strip";
    case TcpOptionPolicy::unset:
        break;
    }
    return "unset";
}

bool same_entry(const TableRow& a, const TableRow& b) {
    return a.address == b.address && a.port == b.port && svx_sid_cmp(&a.service, &b.service) == 0 &&
           a.mode == b.mode && a.tcp_options == b.tcp_options && a.relay_target == b.relay_target &&
           a.proxy_v2 == b.proxy_v2;
}

const TableRow* Table::find(Ipv4Address address, std::uint16_t port) const {
    auto it = index_.find(index_key(address, port));
    return it == index_.end() ? nullptr : &rows[it->second];
}

std::pair<const TableRow*, bool> Table::insert(const TableRow& row) {
    auto [it, inserted] = index_.try_emplace(index_key(row.address, row.port), rows.size());
    if (inserted)
        rows.push_back(row);
    return {&rows[it->second], inserted};
}

TableLoadResult parse_table(std::string_view text, std::string_view file_name,
                            const TableLimits& limits) {
    return TableLoader(file_name, limits).parse(text);
}


TableLoadResult load_table_file(const std::string& path, const TableLimits& limits) {
    TableLoader loader(path, limits);
    auto file = read_file_bounded(path, limits.max_file_bytes);
    if (file.failed_step)
        return loader.unreadable(file.failed_step, file.error);
    if (file.too_large)
        return loader.too_large();
    return loader.parse(file.text);
}

std::string format_address(Ipv4Address address) { return format_ipv4(address); }

std::string format_service_id(const svx_sid& service) {
    char text[SVX_SID_TEXT_LEN + 1];
    svx_sid_format(&service, text);
    return std::string(text, SVX_SID_TEXT_LEN);
}

std::string format_row(const TableRow& row) {
    std::string out = format_address(row.address);
    out += '\t';
    out += std::to_string(row.port);
    out += '\t';
    out += format_service_id(row.service);
    if (row.mode != RowMode::unset) {
        out += "\tmode=";
        out += to_string(row.mode);
    }
    if (row.tcp_options != TcpOptionPolicy::unset) {
        out += "\tserval-tcp-options=";
        out += to_string(row.tcp_options);
    }
    if (row.relay_target) {
        out += "\trelay-target=";
        out += format_address(row.relay_target->address) + ":" +
               std::to_string(row.relay_target->port);
    }
    if (row.proxy_v2)
        out += "\tproxy-protocol=v2";
    return out;
}

std::string format_table(const Table& table) {
    std::string out = "# IP-address\tport\tservice-ID\t[settings]\n";
    for (const auto& row : table.rows) {
        out += format_row(row);
        out += '\n';
    }
    return out;
}

} // namespace svxlat::config
