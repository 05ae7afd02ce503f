// parse_table and Table::find on a generated 10,000-row table (the size the
// load-time target is stated for: well under 100 ms).
#include "config/table.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

namespace {

constexpr int kRows = 10000;

// Distinct (address, port) pairs, full 64-hex service IDs and some settings,
// so every code path of a row is taken.
std::string generate_table(int rows) {
    std::string text = "IP address\tPort\tService ID\n";
    for (int i = 0; i < rows; ++i) {
        text += "10." + std::to_string(i >> 16 & 0xff) + "." + std::to_string(i >> 8 & 0xff) + "." +
                std::to_string(i & 0xff) + "\t" + std::to_string(1 + i % 65535) + "\t";
        std::string hex = std::to_string(std::int64_t{1000003} * (i + 1));
        text += hex + std::string(64 - hex.size(), '0');
        if (i % 3 == 0)
            text += "\tmode=relay";
        if (i % 5 == 0)
            text += "\tserval-tcp-options=strip";
        text += "\n";
    }
    return text;
}

void BM_ParseTable(benchmark::State& state) {
    const std::string text = generate_table(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto result = svxlat::config::parse_table(text, "bench.conf");
        if (result.has_errors() ||
            result.table.rows.size() != static_cast<std::size_t>(state.range(0)))
            state.SkipWithError("generated table did not load cleanly");
        benchmark::DoNotOptimize(result);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ParseTable)->Arg(kRows)->Unit(benchmark::kMillisecond);

void BM_FindRow(benchmark::State& state) {
    const auto result = svxlat::config::parse_table(generate_table(kRows), "bench.conf");
    const auto& rows = result.table.rows;
    std::size_t next = 0;
    for (auto _ : state) {
        const auto& row = rows[next];
        benchmark::DoNotOptimize(result.table.find(row.address, row.port));
        next = next + 1 == rows.size() ? 0 : next + 1;
    }
}
BENCHMARK(BM_FindRow);

} // namespace

BENCHMARK_MAIN();
