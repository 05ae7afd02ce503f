// Per-packet cost of the shared core, each figure beside the cost of copying
// the same bytes (the memcpy baseline), so ratios survive a noisy machine.
#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// A 1500-byte SAL data packet: IPv4 + 12-byte SAL + TCP + payload.
std::vector<std::uint8_t> make_data_packet() {
    constexpr std::size_t kTotal = 1500;
    std::vector<std::uint8_t> pkt(kTotal, 0x5a);
    svx_ipv4_spec ip{{10, 0, 0, 1}, {10, 0, 0, 2}, SVX_IPPROTO_SAL, 64, 0, 0, true};
    svx_ipv4_build(pkt.data(), &ip, kTotal);
    svx_sal_spec sal{};
    svx_sal_spec_data(&sal, 2, 7);
    int sal_len = svx_sal_build(pkt.data() + SVX_IPV4_HDR_LEN, kTotal - SVX_IPV4_HDR_LEN, &sal);
    std::uint8_t* tcp = pkt.data() + SVX_IPV4_HDR_LEN + sal_len;
    std::memset(tcp, 0, SVX_TCP_HDR_LEN);
    tcp[12] = 5 << 4;
    tcp[13] = SVX_TCP_ACK;
    svx_pkt_view view{};
    svx_pkt_parse(pkt.data(), pkt.size(), SVX_SAL_PARSE_NO_CSUM, &view);
    svx_pkt_fill_l4_csum(pkt.data(), &view);
    return pkt;
}

void BM_MemcpyBaseline(benchmark::State& state) {
    auto pkt = make_data_packet();
    std::vector<std::uint8_t> copy(pkt.size());
    for (auto _ : state) {
        std::memcpy(copy.data(), pkt.data(), pkt.size());
        benchmark::DoNotOptimize(copy.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * pkt.size()));
}
BENCHMARK(BM_MemcpyBaseline);

void BM_ParseDataPacketHeadersOnly(benchmark::State& state) {
    auto pkt = make_data_packet();
    svx_pkt_view view{};
    for (auto _ : state) {
        auto err = svx_pkt_parse(pkt.data(), pkt.size(), SVX_PKT_VERIFY_IP_CSUM, &view);
        benchmark::DoNotOptimize(err);
    }
}
BENCHMARK(BM_ParseDataPacketHeadersOnly);

void BM_ParseDataPacketVerifyAll(benchmark::State& state) {
    auto pkt = make_data_packet();
    svx_pkt_view view{};
    for (auto _ : state) {
        auto err = svx_pkt_parse(pkt.data(), pkt.size(),
                                 SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM, &view);
        benchmark::DoNotOptimize(err);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * pkt.size()));
}
BENCHMARK(BM_ParseDataPacketVerifyAll);

void BM_ChecksumFullSegment(benchmark::State& state) {
    auto pkt = make_data_packet();
    for (auto _ : state) {
        auto sum = svx_csum_partial(pkt.data(), pkt.size(), 0);
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * pkt.size()));
}
BENCHMARK(BM_ChecksumFullSegment);

void BM_ChecksumIncrementalAddress(benchmark::State& state) {
    std::uint16_t check = 0x1234;
    std::uint32_t addr = 0x0a000001;
    for (auto _ : state) {
        check = svx_csum_update32(check, addr, addr + 1);
        benchmark::DoNotOptimize(check);
        ++addr;
    }
}
BENCHMARK(BM_ChecksumIncrementalAddress);

void BM_BuildSyn(benchmark::State& state) {
    std::array<std::uint8_t, SVX_SAL_MAX_LEN> out{};
    const std::uint8_t nonce[SVX_NONCE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    svx_sid sid{};
    sid.b[3] = 0x50;
    svx_sal_spec spec{};
    for (auto _ : state) {
        svx_sal_spec_syn(&spec, 2, 0x12345678, nonce, &sid);
        int len = svx_sal_build(out.data(), out.size(), &spec);
        benchmark::DoNotOptimize(len);
    }
}
BENCHMARK(BM_BuildSyn);

} // namespace

BENCHMARK_MAIN();
