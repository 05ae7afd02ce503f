#include "fixtures.h"
#include "kernel_rig.h"

#include <cstdlib>

#include <array>
#include <stdexcept>
#include <string>

#include <svxlat/csum.h>
#include <svxlat/reg.h>

namespace svxlat::test {

svx_sid service_id() {
    return sid_from_text(kServiceText);
}

svx_sid router_id() {
    svx_sid id{};
    svx_reg_sid_from_u32(&id, 0x5e4f);
    return id;
}

svx_flow_cfg default_flow_cfg() {
    svx_flow_cfg cfg{};
    cfg.sal_mtu = 1500;
    cfg.tcp_mtu = 1500;
    cfg.ttl = kTtl;
    cfg.max_retrans = 3;
    cfg.rto_initial_ms = 1000;
    cfg.rto_max_ms = 4000;
    // fin_ack_delay_ms 0: every SAL ACK at once, as the reference answers.
    return cfg;
}

// ------------------------------------------------------------------ outputs

ExactBuffer::ExactBuffer(std::span<const uint8_t> bytes)
    : bytes_(std::make_unique<uint8_t[]>(bytes.size())), size_(bytes.size()) {
    std::copy(bytes.begin(), bytes.end(), bytes_.get());
}

EmitBuffer::EmitBuffer(uint32_t arena_bytes, uint16_t max_packets)
    : arena_(arena_bytes), slots_(max_packets) {
    svx_emit_init(&emit_, arena_.data(), arena_bytes, slots_.data(), max_packets);
}

std::vector<Bytes> EmitBuffer::packets() const {
    std::vector<Bytes> out;
    for (uint16_t i = 0; i < emit_.n_pkts; ++i) {
        const uint8_t* p = arena_.data() + emit_.pkts[i].off;
        out.emplace_back(p, p + emit_.pkts[i].len);
    }
    return out;
}

::testing::AssertionResult same_packet(std::span<const uint8_t> got, std::span<const uint8_t> want,
                                       IpId id) {
    if (got.size() < SVX_IPV4_HDR_LEN || want.size() < SVX_IPV4_HDR_LEN)
        return ::testing::AssertionFailure() << describe_difference(got, want);
    const size_t ihl = static_cast<size_t>(got[0] & 0xf) * 4;
    if (ihl < SVX_IPV4_HDR_LEN || ihl > got.size() || svx_csum(got.data(), ihl) != 0)
        return ::testing::AssertionFailure()
               << "the output's IPv4 header checksum does not verify\n"
               << hexdump(got);
    Bytes adjusted(got.begin(), got.end());
    if (id == IpId::ignore) {
        adjusted[4] = want[4];
        adjusted[5] = want[5];
        svx_ipv4_fill_csum(adjusted.data());
    }
    std::string diff = describe_difference(adjusted, want);
    if (diff.empty())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << diff;
}

::testing::AssertionResult same_packets(const std::vector<Bytes>& got,
                                        const std::vector<Bytes>& want, IpId id) {
    if (got.size() != want.size()) {
        auto failure = ::testing::AssertionFailure();
        failure << "got " << got.size() << " packets, want " << want.size() << "\n";
        for (size_t i = 0; i < got.size(); ++i)
            failure << "got #" << i << ":\n" << hexdump(got[i]);
        for (size_t i = 0; i < want.size(); ++i)
            failure << "want #" << i << ":\n" << hexdump(want[i]);
        return failure;
    }
    for (size_t i = 0; i < got.size(); ++i)
        if (auto r = same_packet(got[i], want[i], id); !r)
            return ::testing::AssertionFailure() << "packet #" << i << ": " << r.message();
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult sal_checksums_valid(std::span<const uint8_t> pkt) {
    svx_pkt_view v{};
    svx_err err =
        svx_pkt_parse(pkt.data(), pkt.size(), SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM, &v);
    if (err == SVX_OK)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "svx_pkt_parse with every check: " << svx_err_name(err) << "\n"
           << hexdump(pkt);
}

::testing::AssertionResult tcp_checksums_valid(std::span<const uint8_t> pkt) {
    svx_tcp_view tv{};
    svx_err err = svx_tcp_parse(pkt.data(), pkt.size(), &tv);
    if (err != SVX_OK)
        return ::testing::AssertionFailure() << "svx_tcp_parse: " << svx_err_name(err) << "\n"
                                             << hexdump(pkt);
    if (svx_csum(pkt.data(), tv.ip_hlen) != 0)
        return ::testing::AssertionFailure() << "IPv4 header checksum\n" << hexdump(pkt);
    if (svx_csum_l4_ipv4(pkt.data() + 12, pkt.data() + 16, SVX_IPPROTO_TCP, pkt.data() + tv.tcp_off,
                         tv.ip_len - tv.tcp_off) != 0)
        return ::testing::AssertionFailure() << "TCP checksum\n" << hexdump(pkt);
    return ::testing::AssertionSuccess();
}

svx_tcp_view tcp_view_of(std::span<const uint8_t> pkt) {
    svx_tcp_view tv{};
    if (svx_err err = svx_tcp_parse(pkt.data(), pkt.size(), &tv); err != SVX_OK)
        throw std::runtime_error(std::string("not a TCP packet: ") + svx_err_name(err) + "\n" +
                                 hexdump(pkt));
    return tv;
}

svx_pkt_view sal_view_of(std::span<const uint8_t> pkt) {
    svx_pkt_view pv{};
    if (svx_err err = svx_pkt_parse(pkt.data(), pkt.size(), 0, &pv); err != SVX_OK)
        throw std::runtime_error(std::string("not a SAL packet: ") + svx_err_name(err) + "\n" +
                                 hexdump(pkt));
    return pv;
}

uint8_t ip_protocol(std::span<const uint8_t> pkt) {
    return pkt.size() >= SVX_IPV4_HDR_LEN ? pkt[9] : 0;
}

Ipv4Addr ip_src(std::span<const uint8_t> pkt) {
    Ipv4Addr a{};
    if (pkt.size() >= SVX_IPV4_HDR_LEN)
        std::copy(pkt.begin() + 12, pkt.begin() + 16, a.begin());
    return a;
}

Ipv4Addr ip_dst(std::span<const uint8_t> pkt) {
    Ipv4Addr a{};
    if (pkt.size() >= SVX_IPV4_HDR_LEN)
        std::copy(pkt.begin() + 16, pkt.begin() + 20, a.begin());
    return a;
}

namespace {

Ipv4Addr addr_of(const uint8_t* p) {
    return {p[0], p[1], p[2], p[3]};
}

} // namespace

FlowSnapshot snapshot_of(const svx_flow& f) {
    FlowSnapshot s{};
    s.state = f.state;
    s.flags = f.flags;
    s.sal_local = addr_of(f.sal_local_addr);
    s.sal_peer = addr_of(f.sal_peer_addr);
    s.sal_new_peer = addr_of(f.sal_new_peer_addr);
    s.local_flow = f.local_flow;
    s.peer_flow = f.peer_flow;
    std::copy(f.peer_nonce, f.peer_nonce + SVX_NONCE_LEN, s.peer_nonce.begin());
    s.snd_una = f.snd_una;
    s.snd_nxt = f.snd_nxt;
    s.rcv_nxt = f.rcv_nxt;
    s.peer_iss = f.peer_iss;
    s.tcp_nxt = f.tcp_nxt;
    s.sal_nxt = f.sal_nxt;
    s.tcp_fin_seq = f.tcp_fin_seq;
    s.sal_fin_seq = f.sal_fin_seq;
    s.ctl_pending = f.ctl_pending;
    s.retrans = f.retrans;
    s.ctl_verno = f.ctl_verno;
    s.rto_deadline_ms = f.rto_deadline_ms;
    return s;
}

void PrintTo(const FlowSnapshot& s, std::ostream* os) {
    *os << "{state " << svx_flow_state_name(static_cast<svx_flow_state>(s.state)) << ", flags 0x"
        << std::hex << s.flags << ", snd_una 0x" << s.snd_una << ", snd_nxt 0x" << s.snd_nxt
        << ", rcv_nxt 0x" << s.rcv_nxt << ", peer_flow 0x" << s.peer_flow << ", tcp_nxt 0x"
        << s.tcp_nxt << ", sal_nxt 0x" << s.sal_nxt << ", ctl_pending 0x" << int{s.ctl_pending}
        << std::dec << ", retrans " << int{s.retrans} << "}";
}

// ------------------------------------------------- driving the core directly

FlowDriver::FlowDriver(const svx_flow_cfg& c) : cfg(c) {}

void FlowDriver::init_translator(const Bytes& client_syn, const TranslatorParams& params) {
    svx_tcp_view tv = tcp_view_of(client_syn);
    Nonce n = nonce_from_u64(params.nonce);
    svx_flow_init_translator(&flow, client_syn.data(), &tv, &params.service,
                             params.sal_local.data(), params.local_flow, params.iss, n.data(),
                             params.strip_options, now_ms);
}

svx_err FlowDriver::init_host(const Bytes& sal_syn, uint16_t local_port, uint16_t flow_port,
                              uint32_t local_flow, uint32_t iss, uint64_t nonce) {
    svx_pkt_view pv = sal_view_of(sal_syn);
    Nonce n = nonce_from_u64(nonce);
    return svx_flow_init_host(&flow, sal_syn.data(), &pv, local_port, flow_port, local_flow, iss,
                              n.data(), now_ms);
}

void FlowDriver::collect() {
    out_ = emit_.packets();
}

svx_result FlowDriver::from_tcp(const Bytes& pkt, std::optional<Ipv4Addr> sal_dst) {
    svx_tcp_view tv = tcp_view_of(pkt);
    ExactBuffer in(pkt);
    emit_.clear();
    svx_result r = svx_flow_from_tcp(&flow, &cfg, in.data(), &tv,
                                     sal_dst ? sal_dst->data() : nullptr, now_ms, emit_.get());
    collect();
    return r;
}

svx_result FlowDriver::from_sal(const Bytes& pkt) {
    svx_pkt_view pv = sal_view_of(pkt);
    ExactBuffer in(pkt);
    emit_.clear();
    svx_result r = svx_flow_from_sal(&flow, &cfg, in.data(), &pv, now_ms, emit_.get());
    collect();
    return r;
}

svx_result FlowDriver::from_icmp(const Bytes& pkt) {
    const size_t ihl = static_cast<size_t>(pkt.at(0) & 0xf) * 4;
    const size_t tot = svx_get_be16(pkt.data() + 2);
    if (tot > pkt.size() || tot < ihl + SVX_ICMP_HDR_LEN)
        throw std::runtime_error("not an ICMP packet");
    ExactBuffer icmp(std::span<const uint8_t>(pkt).subspan(ihl, tot - ihl));
    emit_.clear();
    svx_result r = svx_flow_from_icmp(&flow, &cfg, icmp.data(), icmp.size(), now_ms, emit_.get());
    collect();
    return r;
}

bool FlowDriver::tick(uint64_t at_ms) {
    now_ms = at_ms;
    emit_.clear();
    bool gave_up = svx_flow_tick(&flow, &cfg, at_ms, emit_.get());
    collect();
    return gave_up;
}

void FlowDriver::abort() {
    emit_.clear();
    svx_flow_abort(&flow, &cfg, emit_.get());
    collect();
}

// ------------------------------------------- the standard translator flow

namespace xlt {
namespace {

// MSS 1460, SACK-permitted, timestamps, NOP, window scale 7: Linux's SYN.
constexpr std::array<uint8_t, 20> kLinuxSynOptions = {
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7};

} // namespace

Bytes client_syn(bool linux_options) {
    PacketBuilder b;
    b.ipv4(kClient, kPublic)
        .df()
        .tcp(kClientPort, kPublicPort)
        .seq(kClientIsn)
        .flags(SVX_TCP_SYN)
        .window(64240);
    if (linux_options)
        b.tcp_option_raw(kLinuxSynOptions);
    else
        b.mss(1460);
    return b.build();
}

Bytes client_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                     uint16_t window) {
    return PacketBuilder()
        .ipv4(kClient, kPublic)
        .df()
        .tcp(kClientPort, kPublicPort)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

PacketBuilder instance_synack_builder(uint32_t ackno) {
    const std::array<Ipv4Addr, 3> source = {kTranslatorSal, kRouter, kInstanceA};
    PacketBuilder b;
    b.ipv4(kInstanceA, kTranslatorSal)
        .sal(kPeerFlow, kLocalFlow)
        .control(SVX_CTL_SYN | SVX_CTL_ACK, kPeerIss, ackno, kPeerNonce)
        .source(source)
        .tcp(0, 0)
        .seq(kServerIsn)
        .ack(kClientIsn + 1)
        .flags(SVX_TCP_SYN | SVX_TCP_ACK)
        .window(5792)
        .mss(1460)
        .wscale(7);
    return b;
}

Bytes instance_synack(uint32_t ackno) {
    return instance_synack_builder(ackno).build();
}

Bytes instance_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                       uint16_t window, Ipv4Addr from) {
    return PacketBuilder()
        .ipv4(from, kTranslatorSal)
        .sal(kPeerFlow, kLocalFlow)
        .tcp(0, 0)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes instance_control(uint8_t flags, uint32_t verno, uint32_t ackno, uint64_t nonce,
                       Ipv4Addr from) {
    return PacketBuilder()
        .ipv4(from, kTranslatorSal)
        .sal(kPeerFlow, kLocalFlow)
        .control(flags, verno, ackno, nonce)
        .build();
}

Bytes expected_sal_syn(Ipv4Addr to, std::span<const uint8_t> tcp_options, uint16_t window) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, to)
        .df()
        .sal(kLocalFlow, 0)
        .control(SVX_CTL_SYN, kIss, 0, kNonce)
        .service(service_id())
        .tcp(0, 0)
        .seq(kClientIsn)
        .flags(SVX_TCP_SYN)
        .window(window)
        .tcp_option_raw(tcp_options)
        .build();
}

Bytes expected_client_synack() {
    return PacketBuilder()
        .ipv4(kPublic, kClient)
        .df()
        .tcp(kPublicPort, kClientPort)
        .seq(kServerIsn)
        .ack(kClientIsn + 1)
        .flags(SVX_TCP_SYN | SVX_TCP_ACK)
        .window(5792)
        .mss(1448)
        .wscale(7)
        .build();
}

Bytes expected_handshake_ack(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
                             Ipv4Addr to) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, to)
        .df()
        .sal(kLocalFlow, kPeerFlow)
        .control(SVX_CTL_ACK, kIss + 1, kPeerIss + 1, kNonce)
        .service(service_id())
        .tcp(0, 0)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .build();
}

Bytes expected_sal_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                           uint16_t window, Ipv4Addr to) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, to)
        .df()
        .sal(kLocalFlow, kPeerFlow)
        .tcp(0, 0)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes expected_client_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                              uint16_t window) {
    return PacketBuilder()
        .ipv4(kPublic, kClient)
        .df()
        .tcp(kPublicPort, kClientPort)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes expected_control(uint8_t flags, uint32_t verno, uint32_t ackno, Ipv4Addr to,
                       uint32_t dst_flow) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, to)
        .df()
        .sal(kLocalFlow, dst_flow)
        .control(flags, verno, ackno, kNonce)
        .build();
}

Bytes expected_client_rst(uint32_t seq, uint32_t ack) {
    return PacketBuilder()
        .ipv4(kPublic, kClient)
        .df()
        .tcp(kPublicPort, kClientPort)
        .seq(seq)
        .ack(ack)
        .flags(SVX_TCP_RST | SVX_TCP_ACK)
        .build();
}

void establish(FlowDriver& d) {
    Bytes syn = client_syn();
    d.init_translator(syn);
    svx_result r = d.from_tcp(syn, kRouter);
    if (r.action != SVX_ACT_CONSUMED || d.out().size() != 1)
        throw std::runtime_error("establish: the SYN was not translated");
    r = d.from_sal(instance_synack());
    if (!r.established || d.out().size() != 1)
        throw std::runtime_error("establish: the SYN-ACK did not establish the flow");
    r = d.from_tcp(client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    if (r.action != SVX_ACT_CONSUMED || d.out().size() != 1 || d.flow.state != SVX_FS_ESTABLISHED)
        throw std::runtime_error("establish: no handshake ACK");
}

} // namespace xlt

// --------------------------------------------- the standard host-agent flow

namespace host {

Bytes sal_syn(bool via_router) {
    PacketBuilder b;
    b.ipv4(kTranslatorSal, kInstanceA)
        .ttl(via_router ? 63 : 64)
        .sal(kLocalFlow, 0)
        .control(SVX_CTL_SYN, kIss, 0, kNonce)
        .service(service_id());
    if (via_router) {
        const std::array<Ipv4Addr, 2> source = {kTranslatorSal, kRouter};
        b.source(source);
    }
    return b.tcp(0, 0).seq(kClientIsn).flags(SVX_TCP_SYN).window(64240).mss(1448).wscale(7).build();
}

Bytes handshake_ack(uint32_t verno, uint32_t ackno, uint64_t nonce) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, kInstanceA)
        .df()
        .sal(kLocalFlow, kPeerFlow)
        .control(SVX_CTL_ACK, verno, ackno, nonce)
        .service(service_id())
        .tcp(0, 0)
        .seq(kClientIsn + 1)
        .ack(kServerIsn + 1)
        .flags(SVX_TCP_ACK)
        .window(502)
        .build();
}

Bytes client_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                     uint16_t window, Ipv4Addr from) {
    return PacketBuilder()
        .ipv4(from, kInstanceA)
        .df()
        .sal(kLocalFlow, kPeerFlow)
        .tcp(0, 0)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes client_control(uint8_t flags, uint32_t verno, uint32_t ackno, uint64_t nonce, Ipv4Addr from) {
    return PacketBuilder()
        .ipv4(from, kInstanceA)
        .df()
        .sal(kLocalFlow, kPeerFlow)
        .control(flags, verno, ackno, nonce)
        .build();
}

Bytes server_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                     uint16_t window) {
    return PacketBuilder()
        .ipv4(kInstanceA, kTranslatorSal)
        .df()
        .tcp(kServerPort, kFlowPort)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes server_synack() {
    return PacketBuilder()
        .ipv4(kInstanceA, kTranslatorSal)
        .df()
        .tcp(kServerPort, kFlowPort)
        .seq(kServerIsn)
        .ack(kClientIsn + 1)
        .flags(SVX_TCP_SYN | SVX_TCP_ACK)
        .window(65160)
        .mss(1460)
        .wscale(7)
        .build();
}

Bytes expected_server_syn() {
    return PacketBuilder()
        .ipv4(kTranslatorSal, kInstanceA)
        .df()
        .tcp(kFlowPort, kServerPort)
        .seq(kClientIsn)
        .flags(SVX_TCP_SYN)
        .window(64240)
        .mss(1448)
        .wscale(7)
        .build();
}

Bytes expected_server_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                              uint16_t window) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, kInstanceA)
        .df()
        .tcp(kFlowPort, kServerPort)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes expected_sal_synack(bool via_router) {
    PacketBuilder b;
    b.ipv4(kInstanceA, kTranslatorSal)
        .df()
        .sal(kPeerFlow, kLocalFlow)
        .control(SVX_CTL_SYN | SVX_CTL_ACK, kPeerIss, kIss + 1, kPeerNonce);
    if (via_router) {
        const std::array<Ipv4Addr, 3> source = {kTranslatorSal, kRouter, kInstanceA};
        b.source(source);
    }
    return b.tcp(0, 0)
        .seq(kServerIsn)
        .ack(kClientIsn + 1)
        .flags(SVX_TCP_SYN | SVX_TCP_ACK)
        .window(65160)
        .mss(1448)
        .wscale(7)
        .build();
}

Bytes expected_sal_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload,
                           uint16_t window, Ipv4Addr to) {
    return PacketBuilder()
        .ipv4(kInstanceA, to)
        .df()
        .sal(kPeerFlow, kLocalFlow)
        .tcp(0, 0)
        .seq(seq)
        .ack(ack)
        .flags(flags)
        .window(window)
        .payload(payload)
        .build();
}

Bytes expected_control(uint8_t flags, uint32_t verno, uint32_t ackno, Ipv4Addr to) {
    return PacketBuilder()
        .ipv4(kInstanceA, to)
        .df()
        .sal(kPeerFlow, kLocalFlow)
        .control(flags, verno, ackno, kPeerNonce)
        .build();
}

Bytes expected_server_rst(uint32_t seq, uint32_t ack) {
    return PacketBuilder()
        .ipv4(kTranslatorSal, kInstanceA)
        .df()
        .tcp(kFlowPort, kServerPort)
        .seq(seq)
        .ack(ack)
        .flags(SVX_TCP_RST | SVX_TCP_ACK)
        .build();
}

void establish(FlowDriver& d) {
    Bytes syn = sal_syn();
    if (d.init_host(syn) != SVX_OK)
        throw std::runtime_error("establish: svx_flow_init_host refused the SYN");
    svx_result r = d.from_sal(syn);
    if (r.action != SVX_ACT_CONSUMED || d.out().size() != 1)
        throw std::runtime_error("establish: the SYN was not delivered");
    r = d.from_tcp(server_synack());
    if (r.action != SVX_ACT_CONSUMED || d.out().size() != 1)
        throw std::runtime_error("establish: no SAL SYN-ACK");
    r = d.from_sal(handshake_ack());
    if (!r.established || d.out().size() != 1)
        throw std::runtime_error("establish: the handshake ACK did not establish the flow");
}

} // namespace host

// ------------------------------------------------ driving the engine worker

std::string payload_pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
    return s;
}

WorkerRig::WorkerRig() : WorkerRig(Options{}) {}
WorkerRig::~WorkerRig() = default;

bool WorkerRig::kernel_mode() {
    const char* rig = std::getenv("SVXLAT_RIG");
    return rig && std::string_view(rig) == "kernel";
}

namespace {

// The rig's settings as svxlatd would send them to the module.
kernel_engine::KernelConfig kernel_config_of(const WorkerRig::Options& options,
                                             const router::ServiceTable* static_services) {
    if (options.count != 1)
        throw std::runtime_error("kernel rig: shards are user-space only");
    kernel_engine::KernelConfig config;
    config.flow = options.flow;
    for (int i = 0; i < SVX_TO__COUNT; ++i)
        config.timeouts_ms[i] = static_cast<std::uint32_t>(options.limits.timeout_ms[i]);
    config.max_flows = static_cast<std::uint32_t>(options.limits.max_flows);
    config.max_embryonic = static_cast<std::uint32_t>(options.limits.max_embryonic);
    if (options.translator) {
        kernel_engine::KernelConfig::Translator xlt;
        xlt.address = kTranslatorSal;
        xlt.router = kRouter;
        xlt.rows.push_back({kPublic, kPublicPort, service_id(), true});
        if (static_services) {
            auto routes = static_services->routes();
            xlt.static_services = {std::move(routes.entries), std::move(routes.targets)};
        }
        config.translator = xlt;
    }
    if (options.router)
        config.router = kernel_engine::KernelConfig::Router{kRouter, router_id()};
    if (options.host) {
        kernel_engine::KernelConfig::Host host;
        host.address = options.host_address;
        host.services.push_back({service_id(), SVX_SID_BITS, kServerPort});
        config.host = host;
    }
    return config;
}

} // namespace

WorkerRig::WorkerRig(const Options& options) {
    auto settings = std::make_shared<engine::RoleSettings>();
    if (options.translator) {
        table_ = std::make_shared<config::Table>();
        config::TableRow row;
        row.address = kPublic;
        row.port = kPublicPort;
        row.service = service_id();
        table_->insert(row);
        engine::RoleSettings::Translator translator;
        translator.address = kTranslatorSal;
        translator.router = kRouter;
        translator.table = table_;
        translator.strip_tcp_options = true;
        if (options.static_two_targets) {
            static_services_ = std::make_shared<router::ServiceTable>();
            auto now = router::Clock::now();
            static_services_->add_static(service_id(), SVX_SID_BITS, kInstanceA,
                                         router::kStaticPriority, 1, now);
            static_services_->add_static(service_id(), SVX_SID_BITS, kInstanceB,
                                         router::kStaticPriority, 1, now);
            translator.static_services = static_services_;
        }
        settings->translator = translator;
    }
    if (options.host) {
        engine::RoleSettings::Host host;
        host.address = options.host_address;
        host.services.push_back({service_id(), SVX_SID_BITS, kServerPort});
        settings->host = host;
    }
    if (options.router) {
        router_services_ = std::make_shared<router::ServiceTable>();
        settings->router = engine::RoleSettings::Router{kRouter, router_id(), router_services_};
    }
    settings->flow = options.flow;
    if (kernel_mode()) {
        kernel_ = std::make_unique<KernelRig>(kernel_config_of(options, static_services_.get()));
        return;
    }
    holder_ = std::make_unique<engine::SettingsHolder>(std::move(settings));
    worker_ =
        std::make_unique<engine::Worker>(options.index, options.count, *holder_, options.limits);
}

void WorkerRig::push_routes() {
    if (!kernel_)
        return;
    router_services_->expire(router::Clock::now());
    auto routes = router_services_->routes();
    kernel_->client().set_routes(routes.entries, routes.targets, router_services_->generation());
}

std::uint64_t WorkerRig::router_chosen(const svx_sid& prefix, unsigned bits, Ipv4Addr target) {
    // The module's dump and the table's snapshot have the same shape.
    auto chosen_in = [&](const auto& entries) -> std::uint64_t {
        for (const auto& e : entries)
            if (e.bits == bits && svx_sid_cmp(&e.prefix, &prefix) == 0)
                for (const auto& t : e.targets)
                    if (t.address == target)
                        return t.chosen;
        return 0;
    };
    if (kernel_)
        return chosen_in(kernel_->client().routes());
    return chosen_in(router_services_->snapshot(router::Clock::now()));
}

void WorkerRig::collect() {
    out_.clear();
    worker_->for_each_output(
        [this](std::span<const uint8_t> p) { out_.emplace_back(p.begin(), p.end()); });
    worker_->clear_outputs();
}

engine::Verdict WorkerRig::process(const Bytes& pkt, uint64_t now_ms, bool partial,
                                   bool link_broadcast) {
    if (kernel_) {
        if (link_broadcast)
            throw std::runtime_error("kernel rig: no link layer (SKIP_IN_KERNEL_RIG)");
        return kernel_->process(pkt, partial, out_) ? engine::Verdict::accept
                                                    : engine::Verdict::drop;
    }
    ExactBuffer in(pkt);
    engine::Verdict v = worker_->process(in.span(), now_ms, partial, link_broadcast);
    collect();
    return v;
}

void WorkerRig::tick(uint64_t now_ms) {
    if (kernel_)
        throw std::runtime_error("kernel rig: no simulated time (SKIP_IN_KERNEL_RIG)");
    worker_->tick(now_ms);
    collect();
}

void WorkerRig::abort_all() {
    if (kernel_) {
        kernel_->abort_all(out_);
        return;
    }
    worker_->abort_all();
    collect();
}

const engine::Counters& WorkerRig::counters() const {
    if (!kernel_)
        return worker_->counters();
    // The module's counters, read now, in the worker's type.
    auto stats = kernel_->stats();
    kernel_counters_ = std::make_unique<engine::Counters>();
    for (unsigned e = 0; e < static_cast<unsigned>(engine::Event::count_); ++e)
        kernel_counters_->add(static_cast<engine::Event>(e), stats.stat(e));
    for (unsigned r = 0; r < SVX_E__COUNT; ++r)
        for (std::uint64_t n = stats.drop(r); n > 0; --n)
            kernel_counters_->drop(static_cast<svx_err>(r));
    return *kernel_counters_;
}

std::vector<engine::FlowInfo> WorkerRig::flows() const {
    if (!kernel_)
        return worker_->snapshot_flows();
    std::vector<engine::FlowInfo> out;
    for (const auto& f : kernel_->flows())
        out.push_back({f, 0});
    return out;
}

std::optional<svx_flow> WorkerRig::flow_by_tcp_remote_port(uint16_t port) const {
    for (const auto& info : flows())
        if (info.flow.tcp_remote_port == port)
            return info.flow;
    return std::nullopt;
}

std::optional<svx_flow> WorkerRig::only_flow() const {
    auto all = flows();
    if (all.size() != 1)
        return std::nullopt;
    return all.front().flow;
}

} // namespace svxlat::test
