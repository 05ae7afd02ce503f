// bench_flowmem: memory per tracked flow of the user-space engine.
//
//   bench_flowmem [FLOWS]      (default 100000)
//
// Builds FLOWS translator flows in one engine::Worker (one FlowTable) by
// driving that many client SYNs (distinct source address/port) through
// Worker::process with a translator RoleSettings, exactly as svxlatd's
// packet loop does, and reports the resident-set growth per flow (from
// /proc/self/statm before and after), beside sizeof(svx_flow) and
// sizeof(FlowEntry). The growth includes everything a flow costs: its
// FlowEntry in the table's storage, its two hash-index nodes (TCP 4-tuple
// and local flow ID), bucket arrays and allocator overhead.
#include "config/table.h"
#include "engine/flow_table.h"
#include "engine/worker.h"

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/wire.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

using namespace svxlat;

namespace {

long rss_pages() {
    std::ifstream f("/proc/self/statm");
    long size = 0, resident = 0;
    f >> size >> resident;
    return resident;
}

// A client SYN from 198.51.<i> to 192.0.2.10:80 with an MSS option.
void make_syn(std::vector<std::uint8_t>& pkt, std::uint32_t i) {
    constexpr unsigned kTcpLen = SVX_TCP_HDR_LEN + 4;
    pkt.assign(SVX_IPV4_HDR_LEN + kTcpLen, 0);
    svx_ipv4_spec ip{};
    ip.saddr[0] = 10;
    ip.saddr[1] = static_cast<std::uint8_t>(100 + (i >> 24));
    ip.saddr[2] = static_cast<std::uint8_t>(i >> 16);
    ip.saddr[3] = static_cast<std::uint8_t>(i >> 8);
    const std::uint8_t dst[4] = {192, 0, 2, 10};
    std::memcpy(ip.daddr, dst, 4);
    ip.protocol = SVX_IPPROTO_TCP;
    ip.ttl = 64;
    ip.df = true;
    svx_ipv4_build(pkt.data(), &ip, static_cast<std::uint16_t>(pkt.size()));
    std::uint8_t* tcp = pkt.data() + SVX_IPV4_HDR_LEN;
    const std::uint16_t sport = static_cast<std::uint16_t>(1024 + (i & 0xff));
    svx_put_be16(tcp, sport);
    svx_put_be16(tcp + 2, 80);
    svx_put_be32(tcp + 4, 0x10000000u + i * 7919u); // ISS
    tcp[12] = static_cast<std::uint8_t>((kTcpLen / 4) << 4);
    tcp[13] = SVX_TCP_SYN;
    svx_put_be16(tcp + 14, 64240); // window
    tcp[20] = 2;                   // MSS option
    tcp[21] = 4;
    svx_put_be16(tcp + 22, 1460);
    svx_put_be16(tcp + 16, svx_csum_l4_ipv4(ip.saddr, ip.daddr, SVX_IPPROTO_TCP, tcp, kTcpLen));
}

} // namespace

int main(int argc, char** argv) {
    const std::uint32_t flows = argc > 1 ? static_cast<std::uint32_t>(std::atol(argv[1])) : 100000;
    if (flows == 0)
        return 2;

    auto table = std::make_shared<config::Table>();
    config::TableRow row;
    row.address = {192, 0, 2, 10};
    row.port = 80;
    row.service.b[31] = 0x01;
    table->insert(row);

    auto settings = std::make_shared<engine::RoleSettings>();
    engine::RoleSettings::Translator t;
    t.address = {10, 0, 2, 1};
    t.router = engine::Ipv4{10, 0, 2, 2};
    t.table = table;
    t.strip_tcp_options = false;
    settings->translator = std::move(t);
    engine::SettingsHolder holder(settings);

    engine::FlowLimits limits;
    limits.max_flows = flows + 16;
    limits.max_embryonic = flows + 16; // keep every half-open flow (no SYN-flood eviction)
    limits.timeout_ms.fill(~std::uint64_t{0} / 4);

    std::vector<std::uint8_t> pkt;
    make_syn(pkt, 0); // warm the packet buffer before the first reading
    auto worker = std::make_unique<engine::Worker>(0, 1, holder, limits);

    const long page = sysconf(_SC_PAGESIZE);
    const long before = rss_pages();
    std::uint64_t now_ms = 1000;
    for (std::uint32_t i = 0; i < flows; ++i) {
        make_syn(pkt, i);
        worker->process(pkt, now_ms, false);
        worker->clear_outputs();
    }
    const long after = rss_pages();
    const std::size_t tracked = worker->flow_count();
    const std::uint64_t emitted = worker->counters().event(engine::Event::emitted);

    const double per_flow =
        static_cast<double>(after - before) * static_cast<double>(page) / static_cast<double>(flows);
    std::printf("flows_requested=%u flows_tracked=%zu sal_syns_emitted=%llu\n", flows, tracked,
                static_cast<unsigned long long>(emitted));
    std::printf("rss_before_kib=%ld rss_after_kib=%ld\n", before * page / 1024,
                after * page / 1024);
    std::printf("bytes_per_flow=%.0f sizeof_svx_flow=%zu sizeof_FlowEntry=%zu\n", per_flow,
                sizeof(svx_flow), sizeof(engine::FlowEntry));
    return tracked == flows ? 0 : 1;
}
