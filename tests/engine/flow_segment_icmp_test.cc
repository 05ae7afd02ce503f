// Super-packets (a GSO segment of up to 64 KB from NFQUEUE) become MTU-size
// packets, and ICMP "fragmentation needed" about our SAL packets becomes the
// same error towards the TCP side (docs/packet-mode.md).
#include <algorithm>
#include <array>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/tcp.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

constexpr uint8_t kPshAck = SVX_TCP_PSH | SVX_TCP_ACK;
constexpr uint8_t kIcmpProto = 1;

TEST(engine_super_packet, TcpSegmentOf64KBecomesMtuSizeSalSegments) {
    FlowDriver d;
    xlt::establish(d);
    const std::string payload = payload_pattern(65000);
    const uint8_t flags = SVX_TCP_CWR | SVX_TCP_ECE | kPshAck;
    Bytes super = xlt::client_segment(kClientIsn + 1, kServerIsn + 1, flags, payload, 501);
    ASSERT_EQ(super.size(), 65040u);
    svx_result r = d.from_tcp(super);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);

    const size_t max_piece = 1500 - 20 - 12 - 20;
    auto want =
        expected_pieces(payload, max_piece, kClientIsn + 1, flags,
                        [](uint32_t seq, uint8_t f, std::string_view piece) {
                            return xlt::expected_sal_segment(seq, kServerIsn + 1, f, piece, 501);
                        });
    ASSERT_EQ(want.size(), 45u);
    ASSERT_TRUE(same_packets(d.out(), want));

    // The same properties, read from the output alone.
    std::string reassembled;
    uint32_t next_seq = kClientIsn + 1;
    for (size_t i = 0; i < d.out().size(); ++i) {
        SCOPED_TRACE(i);
        const Bytes& p = d.out()[i];
        EXPECT_LE(p.size(), d.cfg.sal_mtu);
        ASSERT_TRUE(sal_checksums_valid(p));
        svx_pkt_view pv = sal_view_of(p);
        const uint8_t* tcp = p.data() + pv.l4_off;
        EXPECT_EQ(svx_get_be32(tcp + 4), next_seq);
        const bool first = i == 0, last = i + 1 == d.out().size();
        EXPECT_EQ(bool(tcp[13] & SVX_TCP_CWR), first);
        EXPECT_EQ(bool(tcp[13] & SVX_TCP_PSH), last);
        EXPECT_TRUE(tcp[13] & SVX_TCP_ECE);
        reassembled.append(reinterpret_cast<const char*>(tcp) + pv.l4_hlen, pv.l4_len - pv.l4_hlen);
        next_seq += pv.l4_len - pv.l4_hlen;
    }
    EXPECT_EQ(reassembled, payload);
    EXPECT_EQ(d.flow.tcp_nxt, kClientIsn + 1 + 65000);
}

TEST(engine_super_packet, FinIsOnTheLastPieceAndOptionsOnEvery) {
    FlowDriver d;
    xlt::establish(d);
    const std::string payload = payload_pattern(5000);
    const std::array<uint8_t, 12> ts = {1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0};
    const uint8_t flags = SVX_TCP_FIN | kPshAck;
    Bytes super = PacketBuilder()
                      .ipv4(kClient, kPublic)
                      .df()
                      .tcp(kClientPort, kPublicPort)
                      .seq(kClientIsn + 1)
                      .ack(kServerIsn + 1)
                      .flags(flags)
                      .window(501)
                      .tcp_option_raw(ts)
                      .payload(payload)
                      .build();
    d.from_tcp(super);
    // 32-byte TCP header: 1436 bytes per piece.
    auto want = expected_pieces(payload, 1436, kClientIsn + 1, flags,
                                [&](uint32_t seq, uint8_t f, std::string_view piece) {
                                    return PacketBuilder()
                                        .ipv4(kTranslatorSal, kInstanceA)
                                        .df()
                                        .sal(kLocalFlow, kPeerFlow)
                                        .tcp(0, 0)
                                        .seq(seq)
                                        .ack(kServerIsn + 1)
                                        .flags(f)
                                        .window(501)
                                        .tcp_option_raw(ts)
                                        .payload(piece)
                                        .build();
                                });
    ASSERT_EQ(want.size(), 4u);
    EXPECT_TRUE(same_packets(d.out(), want));
    EXPECT_EQ(d.flow.tcp_fin_seq, kClientIsn + 1 + 5000) << "the FIN follows the whole payload";
}

TEST(engine_super_packet, FirstSegmentAfterTheSynAckIsHandshakeAckThenPieces) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    d.from_sal(xlt::instance_synack());
    const std::string payload = payload_pattern(3000);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, payload));
    std::vector<Bytes> want = {
        xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)};
    for (Bytes& p : expected_pieces(payload, 1448, kClientIsn + 1, kPshAck,
                                    [](uint32_t seq, uint8_t f, std::string_view piece) {
                                        return xlt::expected_sal_segment(seq, kServerIsn + 1, f,
                                                                         piece);
                                    }))
        want.push_back(std::move(p));
    EXPECT_TRUE(same_packets(d.out(), want));
}

TEST(engine_super_packet, SalSegmentIsCutToASmallerTcpMtu) {
    FlowDriver d;
    xlt::establish(d);
    d.cfg.tcp_mtu = 576;
    const std::string payload = payload_pattern(1448);
    Bytes in = xlt::instance_segment(kServerIsn + 1, kClientIsn + 1, kPshAck, payload);
    ASSERT_EQ(in.size(), 1500u);
    d.from_sal(in);
    auto want = expected_pieces(
        payload, 536, kServerIsn + 1, kPshAck, [](uint32_t seq, uint8_t f, std::string_view piece) {
            return xlt::expected_client_segment(seq, kClientIsn + 1, f, piece);
        });
    ASSERT_EQ(want.size(), 3u);
    ASSERT_TRUE(same_packets(d.out(), want));
    for (const Bytes& p : d.out()) {
        EXPECT_LE(p.size(), 576u);
        EXPECT_TRUE(tcp_checksums_valid(p));
    }
    EXPECT_EQ(d.flow.sal_nxt, kServerIsn + 1 + 1448);
}

// ------------------------------------------------------------------- ICMP

// ICMP message (header + body) with its checksum.
Bytes icmp_message(uint8_t type, uint8_t code, uint16_t mtu, std::span<const uint8_t> quoted) {
    Bytes m(SVX_ICMP_HDR_LEN + quoted.size(), 0);
    m[0] = type;
    m[1] = code;
    svx_put_be16(m.data() + 6, mtu);
    std::copy(quoted.begin(), quoted.end(), m.begin() + SVX_ICMP_HDR_LEN);
    svx_put_be16(m.data() + 2, svx_csum(m.data(), m.size()));
    return m;
}

Bytes icmp_packet(Ipv4Addr from, Ipv4Addr to, uint8_t type, uint8_t code, uint16_t mtu,
                  std::span<const uint8_t> quoted) {
    return PacketBuilder()
        .ipv4(from, to)
        .ip_proto(kIcmpProto)
        .body(icmp_message(type, code, mtu, quoted))
        .build();
}

// The ICMP error the TCP side should get: about its own packet (from
// quoted_src:sport to quoted_dst:dport, seq), IP total length as it sent it.
Bytes expected_icmp(Ipv4Addr from, Ipv4Addr to, uint8_t code, uint16_t mtu, uint16_t quoted_len,
                    uint16_t sport, uint16_t dport, uint32_t seq) {
    Bytes tcp_start(8);
    svx_put_be16(tcp_start.data(), sport);
    svx_put_be16(tcp_start.data() + 2, dport);
    svx_put_be32(tcp_start.data() + 4, seq);
    Bytes quoted = PacketBuilder()
                       .ipv4(to, from)
                       .df()
                       .ip_proto(SVX_IPPROTO_TCP)
                       .ip_tot_len(quoted_len)
                       .body(tcp_start)
                       .build();
    return icmp_packet(from, to, SVX_ICMP_DEST_UNREACH, code, mtu, quoted);
}

::testing::AssertionResult icmp_checksums_valid(std::span<const uint8_t> pkt) {
    if (pkt.size() < 56 || pkt[9] != kIcmpProto)
        return ::testing::AssertionFailure() << "not ICMP\n" << hexdump(pkt);
    if (svx_csum(pkt.data(), 20) != 0)
        return ::testing::AssertionFailure() << "IPv4 header checksum";
    if (svx_csum(pkt.data() + 20, pkt.size() - 20) != 0)
        return ::testing::AssertionFailure() << "ICMP checksum";
    if (svx_csum(pkt.data() + 28, 20) != 0)
        return ::testing::AssertionFailure() << "quoted IPv4 header checksum";
    return ::testing::AssertionSuccess();
}

class FlowWithLargeSegmentSent : public ::testing::Test {
protected:
    void SetUp() override {
        xlt::establish(d);
        d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, full));
        sent = xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, full);
        ASSERT_TRUE(same_packets(d.out(), {sent}));
        ASSERT_EQ(sent.size(), 1500u);
    }

    // The first n bytes of our SAL packet, as a router quotes it.
    std::span<const uint8_t> quote(size_t n) const { return std::span(sent).first(n); }

    FlowDriver d;
    const std::string full = payload_pattern(1448);
    Bytes sent;
};
using engine_icmp = FlowWithLargeSegmentSent;

TEST_F(engine_icmp, FragNeededBecomesFragNeededToTheClientWithTheSalOverheadRemoved) {
    // Linux routers quote up to 576 bytes in all.
    svx_result r = d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH,
                                           SVX_ICMP_FRAG_NEEDED, 1400, quote(548)));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(d.out(),
                             {expected_icmp(kPublic, kClient, SVX_ICMP_FRAG_NEEDED, 1388, 1488,
                                            kClientPort, kPublicPort, kClientIsn + 1)},
                             IpId::compare));
    EXPECT_TRUE(icmp_checksums_valid(d.out()[0]));
}

// RFC 792 routers quote the IP header and 8 bytes: the two flow IDs, no TCP.
// The core may read those 28 bytes and no more; the sequence number is then
// the client's next one.
TEST_F(engine_icmp, ShortestQuoteIsEnough) {
    svx_result r = d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH,
                                           SVX_ICMP_FRAG_NEEDED, 1400, quote(28)));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(same_packets(d.out(),
                             {expected_icmp(kPublic, kClient, SVX_ICMP_FRAG_NEEDED, 1388, 1488,
                                            kClientPort, kPublicPort, kClientIsn + 1 + 1448)},
                             IpId::compare));
}

TEST_F(engine_icmp, MtuTooSmallIsDropped) {
    for (uint16_t mtu : {0, 68, 79}) {
        SCOPED_TRACE(mtu);
        svx_result r = d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH,
                                               SVX_ICMP_FRAG_NEEDED, mtu, quote(548)));
        EXPECT_EQ(r.action, SVX_ACT_DROP);
        EXPECT_EQ(r.reason, SVX_E_INVAL);
        EXPECT_TRUE(d.out().empty());
    }
    // 80 leaves the smallest IPv4 MTU, 68, for the client.
    d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH, SVX_ICMP_FRAG_NEEDED,
                            80, quote(548)));
    EXPECT_TRUE(same_packets(d.out(),
                             {expected_icmp(kPublic, kClient, SVX_ICMP_FRAG_NEEDED, 68, 1488,
                                            kClientPort, kPublicPort, kClientIsn + 1)},
                             IpId::compare));
}

TEST_F(engine_icmp, OtherUnreachableCodesPassWithoutMtu) {
    const uint8_t host_unreachable = 1;
    d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH, host_unreachable, 0,
                            quote(548)));
    EXPECT_TRUE(same_packets(d.out(),
                             {expected_icmp(kPublic, kClient, host_unreachable, 0, 1488,
                                            kClientPort, kPublicPort, kClientIsn + 1)},
                             IpId::compare));
}

TEST_F(engine_icmp, AboutAnotherFlowOrNotAboutSalIsRefused) {
    Bytes other = sent;
    svx_put_be32(other.data() + 20, kLocalFlow + 1);
    svx_result r =
        d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH,
                                SVX_ICMP_FRAG_NEEDED, 1400, std::span(other).first(548)));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NO_FLOW);
    EXPECT_TRUE(d.out().empty());
    Bytes plain_tcp = xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, "x");
    r = d.from_icmp(icmp_packet(kRouter, kTranslatorSal, SVX_ICMP_DEST_UNREACH,
                                SVX_ICMP_FRAG_NEEDED, 1400, plain_tcp));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_TRUE(d.out().empty());
}

// The host agent's flow: the error goes to the local server about its own
// segment (server:kServerPort -> client:kFlowPort).
TEST(engine_icmp_host, FragNeededReachesTheLocalServer) {
    FlowDriver d;
    host::establish(d);
    const std::string payload = payload_pattern(1448);
    d.from_tcp(host::server_segment(kServerIsn + 1, kClientIsn + 1, kPshAck, payload));
    Bytes sent = host::expected_sal_segment(kServerIsn + 1, kClientIsn + 1, kPshAck, payload);
    ASSERT_TRUE(same_packets(d.out(), {sent}));
    svx_result r = d.from_icmp(icmp_packet(kRouter, kInstanceA, SVX_ICMP_DEST_UNREACH,
                                           SVX_ICMP_FRAG_NEEDED, 1400, std::span(sent).first(548)));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(same_packets(d.out(),
                             {expected_icmp(kTranslatorSal, kInstanceA, SVX_ICMP_FRAG_NEEDED, 1388,
                                            1488, kServerPort, kFlowPort, kServerIsn + 1)},
                             IpId::compare));
    EXPECT_TRUE(icmp_checksums_valid(d.out()[0]));
}

} // namespace
} // namespace svxlat::test

namespace svxlat::test {
namespace {

// The kernel engine's header plan (flow.h): the same translation as the
// copy, told as new headers + the input's own payload + the MSS that GSO
// cuts it by. Applied by hand here (headers, payload, then the pieces of
// mss bytes with checksums), it must give exactly the copied packets.
TEST(engine_super_packet, HeaderPlanDescribesTheSamePackets) {
    FlowDriver copy;
    xlt::establish(copy);
    FlowDriver planned;
    xlt::establish(planned);
    const std::string payload = payload_pattern(20000);
    const uint8_t flags = SVX_TCP_CWR | kPshAck;
    Bytes super = xlt::client_segment(kClientIsn + 1, kServerIsn + 1, flags, payload, 501);
    copy.from_tcp(super);

    svx_tcp_view tv = tcp_view_of(super);
    // Only the headers are handed over (an exact-size heap block, so that
    // AddressSanitizer would catch a read of the payload).
    ExactBuffer headers(std::span<const uint8_t>(super.data(), 200));
    EmitBuffer emit;
    svx_emit_allow_plan(emit.get(), headers.data(), 200);
    svx_result r = svx_flow_from_tcp(&planned.flow, &planned.cfg, headers.data(), &tv, nullptr,
                                     planned.now_ms, emit.get());
    ASSERT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(emit.get()->planned);
    EXPECT_TRUE(emit.packets().empty()) << "nothing but the plan";
    const svx_emit_plan& plan = emit.get()->plan;
    EXPECT_EQ(plan.payload_off, 40u); // of the input: the payload stays where it is
    EXPECT_EQ(plan.payload_len, 20000u);
    EXPECT_EQ(plan.mss, 1500 - 20 - 12 - 20);
    EXPECT_EQ(plan.l4_off, 20 + 12);

    // Apply it: cut into mss pieces as TCP's GSO does.
    const uint8_t* hdr = emit.get()->arena + plan.hdr_off;
    std::vector<Bytes> pieces;
    for (uint32_t off = 0; off < plan.payload_len; off += plan.mss) {
        const uint32_t n = std::min<uint32_t>(plan.mss, plan.payload_len - off);
        Bytes p(hdr, hdr + plan.hdr_len);
        p.insert(p.end(), super.begin() + plan.payload_off + off,
                 super.begin() + plan.payload_off + off + n);
        svx_put_be16(p.data() + 2, static_cast<uint16_t>(p.size()));
        uint8_t* tcp = p.data() + plan.l4_off;
        svx_put_be32(tcp + 4, svx_tcp_seq(tcp) + off);
        if (off + n < plan.payload_len)
            tcp[13] &= static_cast<uint8_t>(~(SVX_TCP_FIN | SVX_TCP_PSH));
        if (off)
            tcp[13] &= static_cast<uint8_t>(~SVX_TCP_CWR);
        svx_put_be16(tcp + 16, svx_csum_l4_ipv4(p.data() + 12, p.data() + 16, SVX_IPPROTO_TCP,
                                                tcp, static_cast<uint32_t>(p.size()) - plan.l4_off));
        svx_ipv4_fill_csum(p.data());
        pieces.push_back(std::move(p));
    }
    EXPECT_TRUE(same_packets(pieces, copy.out()));
    EXPECT_EQ(snapshot_of(planned.flow), snapshot_of(copy.flow));
}

// A payload that was not copied in is never read: a translation that has
// to copy it (the plan already taken) fails cleanly instead.
TEST(engine_super_packet, UncopiedPayloadIsNeverRead) {
    FlowDriver d;
    xlt::establish(d);
    Bytes seg = xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, payload_pattern(3000));
    svx_tcp_view tv = tcp_view_of(seg);
    ExactBuffer headers(std::span<const uint8_t>(seg.data(), 100));
    EmitBuffer emit;
    svx_emit_allow_plan(emit.get(), headers.data(), 100);
    emit.get()->planned = true; // as if the plan were used up
    svx_result r =
        svx_flow_from_tcp(&d.flow, &d.cfg, headers.data(), &tv, nullptr, d.now_ms, emit.get());
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NOSPACE);
    EXPECT_TRUE(emit.packets().empty());
}

} // namespace
} // namespace svxlat::test
