// The translator's handshake and data path, driven directly through
// svx_flow_from_tcp / svx_flow_from_sal: each input packet and flow state
// gives exactly the expected output packets, byte for byte.
#include <array>

#include <gtest/gtest.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

// Linux's SYN options with the MSS clamped to 1448 and SACK-permitted and
// timestamps replaced by NOPs (the header length never changes).
constexpr std::array<uint8_t, 20> kSynOptionsStripped = {2, 4, 0x05, 0xa8, 1, 1, 1, 1, 1, 1,
                                                         1, 1, 1,    1,    1, 1, 1, 3, 3, 7};
// The same with SACK-permitted and timestamps kept.
constexpr std::array<uint8_t, 20> kSynOptionsKept = {
    2, 4, 0x05, 0xa8, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7};

TEST(engine_translator_syn, ClientSynBecomesSalSynToTheRouter) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn, {.strip_options = true});
    svx_result r = d.from_tcp(syn, kRouter);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_FALSE(r.established);
    ASSERT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kRouter, kSynOptionsStripped)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.state, SVX_FS_SYN_SENT);
    EXPECT_EQ(d.flow.snd_nxt, kIss + 1);
    EXPECT_EQ(d.flow.tcp_nxt, kClientIsn + 1);
    EXPECT_EQ(d.flow.ctl_pending, 0) << "the client retransmits its SYN, not svxlat";
}

TEST(engine_translator_syn, SackAndTimestampsKeptWhenNotStripping) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn, {.strip_options = false});
    d.from_tcp(syn, kRouter);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kRouter, kSynOptionsKept)}));
}

TEST(engine_translator_syn, MssIsClampedToTheSmallerMtu) {
    struct Case {
        uint16_t sal_mtu, tcp_mtu, client_mss, want_mss;
    };
    for (Case c : {Case{1500, 1500, 1460, 1448}, Case{1400, 1500, 1460, 1348},
                   Case{1500, 1300, 1460, 1260}, Case{1500, 1500, 536, 536}}) {
        SCOPED_TRACE(testing::Message() << "sal_mtu " << c.sal_mtu << " tcp_mtu " << c.tcp_mtu
                                        << " client MSS " << c.client_mss);
        FlowDriver d;
        d.cfg.sal_mtu = c.sal_mtu;
        d.cfg.tcp_mtu = c.tcp_mtu;
        Bytes syn = PacketBuilder()
                        .ipv4(kClient, kPublic)
                        .df()
                        .tcp(kClientPort, kPublicPort)
                        .seq(kClientIsn)
                        .flags(SVX_TCP_SYN)
                        .window(64240)
                        .mss(c.client_mss)
                        .build();
        d.init_translator(syn);
        d.from_tcp(syn, kRouter);
        const std::array<uint8_t, 4> mss = {2, 4, static_cast<uint8_t>(c.want_mss >> 8),
                                            static_cast<uint8_t>(c.want_mss)};
        EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kRouter, mss)}));
    }
}

TEST(engine_translator_syn, RetransmissionKeepsIssAndNonceAndGoesWhereItIsResolved) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kInstanceA);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kInstanceA, kSynOptionsStripped)}));
    d.now_ms += 1000;
    svx_result r = d.from_tcp(syn, kInstanceB);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kInstanceB, kSynOptionsStripped)}));
    d.now_ms += 2000;
    d.from_tcp(syn, kInstanceA);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kInstanceA, kSynOptionsStripped)}));
    EXPECT_EQ(d.flow.snd_nxt, kIss + 1) << "a retransmission consumes no verno";
}

TEST(engine_translator_syn, NoDestinationMeansNoRoute) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    svx_result r = d.from_tcp(syn, std::nullopt);
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NO_ROUTE);
    EXPECT_TRUE(d.out().empty());
}

TEST(engine_translator_syn, NothingElseIsTranslatedBeforeTheSynAck) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    auto before = d.snapshot();
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 1, 0, SVX_TCP_ACK, "early"));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    EXPECT_TRUE(d.out().empty());
    r = d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 1, SVX_TCP_ACK, "early"));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot(), before);
}

TEST(engine_translator_synack, BecomesTheClientsSynAckWithPortsRestoredAndMssClamped) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    svx_result r = d.from_sal(xlt::instance_synack());
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.established);
    ASSERT_TRUE(same_packets(d.out(), {xlt::expected_client_synack()}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.state, SVX_FS_ESTABLISHED);
    EXPECT_EQ(d.flow.peer_flow, kPeerFlow);
    EXPECT_EQ(d.flow.rcv_nxt, kPeerIss + 1);
    EXPECT_EQ(d.flow.snd_una, kIss + 1);
    EXPECT_EQ(d.snapshot().sal_peer, kInstanceA);
    EXPECT_EQ(d.snapshot().peer_nonce, nonce_from_u64(kPeerNonce));
}

// The peer is the last SOURCE address, not the IP source: an instance
// behind a NAT answers from the router's address (protocol section 12).
TEST(engine_translator_synack, PeerIsTheLastSourceAddress) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    d.from_sal(xlt::instance_synack_builder().ipv4(kRouter, kTranslatorSal).build());
    EXPECT_EQ(d.snapshot().sal_peer, kInstanceA);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
}

TEST(engine_translator_synack, WithoutSourceThePeerIsTheIpSource) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kInstanceB);
    Bytes synack = PacketBuilder()
                       .ipv4(kInstanceB, kTranslatorSal)
                       .sal(kPeerFlow, kLocalFlow)
                       .control(SVX_CTL_SYN | SVX_CTL_ACK, kPeerIss, kIss + 1, kPeerNonce)
                       .tcp(0, 0)
                       .seq(kServerIsn)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                       .window(5792)
                       .mss(1460)
                       .wscale(7)
                       .build();
    EXPECT_TRUE(d.from_sal(synack).established);
    EXPECT_EQ(d.snapshot().sal_peer, kInstanceB);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1,
                                                                   SVX_TCP_ACK, 502, kInstanceB)}));
}

TEST(engine_translator_synack, SackAndTimestampsOfTheInstanceFollowTheStripSetting) {
    // A Linux instance behind a host agent answers with SACK and timestamps.
    const std::array<uint8_t, 20> synack_options = {2, 4, 0x05, 0xb4, 4,    2,    8, 10, 0, 0,
                                                    0, 9, 0x11, 0x22, 0x33, 0x44, 1, 3,  3, 7};
    const std::array<uint8_t, 20> stripped = {2, 4, 0x05, 0xa8, 1, 1, 1, 1, 1, 1,
                                              1, 1, 1,    1,    1, 1, 1, 3, 3, 7};
    const std::array<uint8_t, 20> kept = {2, 4, 0x05, 0xa8, 4,    2,    8, 10, 0, 0,
                                          0, 9, 0x11, 0x22, 0x33, 0x44, 1, 3,  3, 7};
    for (bool strip : {true, false}) {
        SCOPED_TRACE(strip ? "strip" : "keep");
        FlowDriver d;
        Bytes syn = xlt::client_syn();
        d.init_translator(syn, {.strip_options = strip});
        d.from_tcp(syn, kRouter);
        const std::array<Ipv4Addr, 3> source = {kTranslatorSal, kRouter, kInstanceA};
        d.from_sal(PacketBuilder()
                       .ipv4(kInstanceA, kTranslatorSal)
                       .sal(kPeerFlow, kLocalFlow)
                       .control(SVX_CTL_SYN | SVX_CTL_ACK, kPeerIss, kIss + 1, kPeerNonce)
                       .source(source)
                       .tcp(0, 0)
                       .seq(kServerIsn)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                       .window(65160)
                       .tcp_option_raw(synack_options)
                       .build());
        Bytes want = PacketBuilder()
                         .ipv4(kPublic, kClient)
                         .df()
                         .tcp(kPublicPort, kClientPort)
                         .seq(kServerIsn)
                         .ack(kClientIsn + 1)
                         .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                         .window(65160)
                         .tcp_option_raw(strip ? stripped : kept)
                         .build();
        EXPECT_TRUE(same_packets(d.out(), {want}));
    }
}

TEST(engine_translator_synack, WrongAcknoIsRefused) {
    for (uint32_t ackno : {kIss, kIss + 2, 0u, kIss + 0x80000000u}) {
        SCOPED_TRACE(testing::Message() << "ackno 0x" << std::hex << ackno);
        FlowDriver d;
        Bytes syn = xlt::client_syn();
        d.init_translator(syn);
        d.from_tcp(syn, kRouter);
        auto before = d.snapshot();
        svx_result r = d.from_sal(xlt::instance_synack(ackno));
        EXPECT_EQ(r.action, SVX_ACT_DROP);
        EXPECT_EQ(r.reason, SVX_E_VERNO);
        EXPECT_FALSE(r.established);
        EXPECT_TRUE(d.out().empty());
        EXPECT_EQ(d.snapshot(), before);
    }
}

TEST(engine_translator_handshake_ack, ClientAckBecomesHandshakeAck) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    d.from_sal(xlt::instance_synack());
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(
        d.out(), {xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    svx_pkt_view pv = sal_view_of(d.out()[0]);
    EXPECT_EQ(pv.l4_hlen, SVX_TCP_HDR_LEN);
    EXPECT_EQ(pv.l4_len, SVX_TCP_HDR_LEN) << "a 20-byte TCP ACK without payload";
    // Only the first segment completes the handshake.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
}

TEST(engine_translator_handshake_ack, PayloadFollowsTheHandshakeAckAsData) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    d.from_sal(xlt::instance_synack());
    const uint8_t psh_ack = SVX_TCP_PSH | SVX_TCP_ACK;
    svx_result r = d.from_tcp(
        xlt::client_segment(kClientIsn + 1, kServerIsn + 1, psh_ack, "GET / HTTP/1.0\r\n\r\n"));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(
        d.out(), {xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK),
                  xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, psh_ack,
                                            "GET / HTTP/1.0\r\n\r\n")}));
    for (const Bytes& p : d.out())
        EXPECT_TRUE(sal_checksums_valid(p));
    EXPECT_EQ(d.flow.tcp_nxt, kClientIsn + 1 + 18);
}

TEST(engine_translator_data, BothWaysWithBaseHeaderOnlyAndValidChecksums) {
    FlowDriver d;
    xlt::establish(d);
    const uint8_t psh_ack = SVX_TCP_PSH | SVX_TCP_ACK;

    // Client -> instance, the client's TOS kept.
    Bytes from_client = PacketBuilder()
                            .ipv4(kClient, kPublic)
                            .df()
                            .tos(0x10)
                            .tcp(kClientPort, kPublicPort)
                            .seq(kClientIsn + 1)
                            .ack(kServerIsn + 1)
                            .flags(psh_ack)
                            .window(502)
                            .payload("ping")
                            .build();
    EXPECT_EQ(d.from_tcp(from_client).action, SVX_ACT_CONSUMED);
    Bytes want_sal = PacketBuilder()
                         .ipv4(kTranslatorSal, kInstanceA)
                         .df()
                         .tos(0x10)
                         .sal(kLocalFlow, kPeerFlow)
                         .tcp(0, 0)
                         .seq(kClientIsn + 1)
                         .ack(kServerIsn + 1)
                         .flags(psh_ack)
                         .window(502)
                         .payload("ping")
                         .build();
    ASSERT_TRUE(same_packets(d.out(), {want_sal}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(sal_view_of(d.out()[0]).sal.len, SVX_SAL_BASE_LEN);

    // Instance -> client.
    EXPECT_EQ(
        d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 5, psh_ack, "pong")).action,
        SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 5, psh_ack, "pong")}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.tcp_nxt, kClientIsn + 5);
    EXPECT_EQ(d.flow.sal_nxt, kServerIsn + 5);
    // SYN, ACK, "ping" from the client; SYN-ACK, "pong" from the instance.
    EXPECT_EQ(d.flow.stats.packets_in[0], 3u);
    EXPECT_EQ(d.flow.stats.packets_in[1], 2u);
    EXPECT_EQ(d.flow.stats.bytes_in[0], 4u);
    EXPECT_EQ(d.flow.stats.bytes_in[1], 4u);
}

TEST(engine_translator_synack, DuplicateIsResentAndTheNextAckIsAHandshakeAckAgain) {
    FlowDriver d;
    xlt::establish(d);
    auto before = d.snapshot();
    // The instance did not get the handshake ACK and its SYN-ACK came again
    // (svxlat's own host agent resends it on a duplicate SYN).
    svx_result r = d.from_sal(xlt::instance_synack());
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_FALSE(r.established);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_client_synack()}));
    EXPECT_EQ(d.flow.state, SVX_FS_ESTABLISHED);
    EXPECT_EQ(d.flow.rcv_nxt, before.rcv_nxt);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_handshake_ack(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
}

// Protocol section 19.5: a SYN retransmission reached a second instance.
TEST(engine_translator_synack, LateSynAckFromAnotherInstanceIsResetAndTheFlowKept) {
    FlowDriver d;
    xlt::establish(d);
    auto before = d.snapshot();
    const uint32_t other_flow = 0x99, other_iss = 0x5000;
    Bytes late = PacketBuilder()
                     .ipv4(kInstanceB, kTranslatorSal)
                     .sal(other_flow, kLocalFlow)
                     .control(SVX_CTL_SYN | SVX_CTL_ACK, other_iss, kIss + 1, 0x0b0b0b0b0b0b0b0b)
                     .tcp(0, 0)
                     .seq(0x7000)
                     .ack(kClientIsn + 1)
                     .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                     .window(5792)
                     .mss(1460)
                     .build();
    svx_result r = d.from_sal(late);
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    ASSERT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_RST | SVX_CTL_ACK, kIss + 1,
                                                     other_iss + 1, kInstanceB, other_flow)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.snapshot(), before);
    // Traffic still goes to instance A.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK, "x"));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK, "x")}));
}

// The TCP SYN-ACK towards the client is lost. The client retransmits its SYN
// (with the same ISN); the flow is already established, and the instance
// sends its SYN-ACK only once (reference section 6.3: again only on a
// duplicate SYN). Unless the SYN reaches the instance again, nothing ever
// answers the client and the connection hangs until the established timeout.
// Expected: the retransmitted SYN is sent again, unchanged, to the instance
// that answered, whose duplicate SYN-ACK is then passed to the client.
TEST(engine_translator_synack, ClientSynRetransmittedAfterALostSynAckReachesTheInstance) {
    FlowDriver d;
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
    d.from_sal(xlt::instance_synack()); // the SYN-ACK to the client is lost
    d.now_ms += 1000;
    svx_result r = d.from_tcp(syn, kRouter);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED) << "dropped: " << svx_err_name(svx_err(r.reason));
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_sal_syn(kInstanceA, kSynOptionsStripped)}));
    d.from_sal(xlt::instance_synack());
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_client_synack()}));
}

} // namespace
} // namespace svxlat::test
