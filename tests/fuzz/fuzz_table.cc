// parse_table on arbitrary bytes. Besides the sanitizers' checks, every row
// it accepts must survive format_row -> parse_table unchanged, and the table
// must find each of its rows; anything else traps.
#include "config/table.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace svxlat::config;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = parse_table(text, "fuzz.conf");

    require(result.usable() == !result.table.rows.empty());
    require(result.usable() || result.has_errors());
    require(result.diagnostics.size() <= TableLimits{}.max_diagnostics + 2);
    for (const auto& diagnostic : result.diagnostics)
        require(!diagnostic.to_string().empty() && !diagnostic.reason.empty());

    for (const auto& row : result.table.rows) {
        require(result.table.find(row.address, row.port) == &row);
        const auto again = parse_table(format_row(row), "fuzz.conf");
        require(again.diagnostics.empty());
        require(again.table.rows.size() == 1);
        require(same_entry(again.table.rows.front(), row));
    }
    if (result.usable()) {
        const auto canonical = parse_table(format_table(result.table), "fuzz.conf");
        require(canonical.diagnostics.empty());
        require(canonical.table.rows.size() == result.table.rows.size());
        for (std::size_t i = 0; i < canonical.table.rows.size(); ++i)
            require(same_entry(canonical.table.rows[i], result.table.rows[i]));
    }
    return 0;
}
