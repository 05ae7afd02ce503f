// SPDX-License-Identifier: GPL-2.0 OR MIT
// The translator table (the paper's Figure 1): rows of `IP-address port
// service-ID [key=value...]` mapping a public (IPv4 address, TCP port) to the
// Serval service a connection to it is translated to. The format and every
// message are documented in docs/config.md.
//
// Loading never stops at a bad row: each one is reported as
// `FILE:LINE: field: reason` and skipped; the result is usable as long as one
// row is valid (paper section 4.2).
//
// Include as "config/table.h" (the include root is userspace/; link
// svxlat_config).
#ifndef SVXLAT_CONFIG_TABLE_H
#define SVXLAT_CONFIG_TABLE_H

#include <svxlat/sid.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace svxlat::config {

// Bytes in the order they are written: 128.112.0.1 is {128, 112, 0, 1}.
using Ipv4Address = std::array<std::uint8_t, 4>;

struct Diagnostic {
    enum class Severity { warning, error };

    Severity severity = Severity::error;
    std::string file;
    unsigned line = 0; // 1-based; 0 when it concerns the whole file
    std::string field; // "address", "port", "service-ID", "mode", "serval-tcp-options",
                       // "setting", "row", "line"; empty for whole-file diagnostics
    std::string reason;

    // "FILE:LINE: field: reason"; a warning reads "FILE:LINE: warning: field: reason";
    // ":LINE" is left out for line 0 and "field: " when field is empty.
    std::string to_string() const;
};

// Per-row settings; `unset` means "use the global configuration".
enum class RowMode { unset, packet, relay };
enum class TcpOptionPolicy { unset, keep, strip }; // SACK-permitted/timestamps in the client's SYN

std::string_view to_string(RowMode mode);
std::string_view to_string(TcpOptionPolicy policy);

// An IPv4 address and a TCP port (host order).
struct Endpoint {
    Ipv4Address address{};
    std::uint16_t port = 0;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

struct TableRow {
    Ipv4Address address{};
    std::uint16_t port = 0; // host order, 1..65535
    svx_sid service{};
    RowMode mode = RowMode::unset;
    TcpOptionPolicy tcp_options = TcpOptionPolicy::unset;
    // Relay mode only: where the relay's second leg connects instead of the
    // row's own pair (an ordinary server, for benchmarks), and whether it
    // starts with a PROXY protocol v2 header (the client's address).
    std::optional<Endpoint> relay_target;
    bool proxy_v2 = false;
    unsigned line = 0; // line the row was read from (0: not read from text)
};

// Same address, port, service ID and settings; the line number is ignored.
bool same_entry(const TableRow& a, const TableRow& b);

struct Table {
    // Rows in file order, one per (address, port). Read it freely, but add rows
    // only through insert(): find() relies on an index insert() maintains.
    std::vector<TableRow> rows;

    // O(1) average. The pointer stays valid until the next insert().
    const TableRow* find(Ipv4Address address, std::uint16_t port) const;

    // Adds row unless its (address, port) is present. Returns the row now stored
    // for that pair and whether it is the new one (like std::map::insert).
    std::pair<const TableRow*, bool> insert(const TableRow& row);

private:
    std::unordered_map<std::uint64_t, std::size_t> index_; // (address, port) -> rows[i]
};

// Bounds that keep a hostile or broken file from costing unbounded time or
// memory. Tests lower them; the translator uses the defaults.
struct TableLimits {
    std::size_t max_file_bytes = std::size_t{64} << 20;
    std::size_t max_line_bytes = 4096; // excluding the line end
    std::size_t max_rows = std::size_t{1} << 20;
    std::size_t max_diagnostics = 1000; // stored; later ones are only counted
};

struct TableLoadResult {
    Table table;
    // In line order. Past TableLimits::max_diagnostics one summary line stands
    // for the rest; a missing valid row adds a final "no valid row" error.
    std::vector<Diagnostic> diagnostics;
    std::string file;

    bool usable() const { return !table.rows.empty(); } // at least one valid row
    bool has_errors() const { return error_count_ > 0; }
    bool readable() const { return readable_; } // false: could not open or read the file
    std::size_t error_count() const { return error_count_; } // including unstored ones
    std::size_t warning_count() const { return warning_count_; }

private:
    friend class TableLoader; // table.cc: the only writer of the counters
    bool readable_ = true;
    std::size_t error_count_ = 0;
    std::size_t warning_count_ = 0;
};

// file_name only labels the diagnostics ("<table>" when empty).
TableLoadResult parse_table(std::string_view text, std::string_view file_name,
                            const TableLimits& limits = {});

// An unreadable file gives readable() == false and one error diagnostic with
// line 0: "FILE: cannot open: <strerror>" (or "cannot read: ...").
TableLoadResult load_table_file(const std::string& path, const TableLimits& limits = {});

// "128.112.0.1" / 64 lowercase hex digits (the core's canonical text form).
std::string format_address(Ipv4Address address);
std::string format_service_id(const svx_sid& service);

// One canonical line, no line end: address, port, 64-hex service ID and the
// settings that are set, separated by tabs. parse_table reads it back to a row
// for which same_entry() holds.
std::string format_row(const TableRow& row);

// A header comment, then format_row of every row, each ending in '\n'.
std::string format_table(const Table& table);

} // namespace svxlat::config

#endif // SVXLAT_CONFIG_TABLE_H
