// The host agent's side of the state machine (the Serval server, protocol
// section 6.3), driven directly: SAL SYN -> TCP SYN to the local server,
// its SYN-ACK -> SAL SYN-ACK with SOURCE echoed, the handshake ACK checked,
// data, and the local server closing first.
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

constexpr uint8_t kPshAck = SVX_TCP_PSH | SVX_TCP_ACK;
constexpr uint8_t kFinAck = SVX_TCP_FIN | SVX_TCP_ACK;

TEST(engine_host_syn, BecomesATcpSynToTheLocalServer) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    svx_result r = d.from_sal(syn);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_FALSE(r.established);
    // From the client's address and the per-flow port, to the service port.
    ASSERT_TRUE(same_packets(d.out(), {host::expected_server_syn()}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
    auto s = d.snapshot();
    EXPECT_EQ(s.state, SVX_FS_SYN_RECV);
    EXPECT_EQ(s.sal_peer, kTranslatorSal) << "SOURCE #0, not the router";
    EXPECT_EQ(s.sal_local, kInstanceA);
    EXPECT_EQ(s.peer_flow, kLocalFlow);
    EXPECT_EQ(s.rcv_nxt, kIss + 1);
    EXPECT_EQ(s.peer_nonce, nonce_from_u64(kNonce));
    EXPECT_EQ(s.sal_nxt, kClientIsn + 1);
}

TEST(engine_host_syn, DuplicateIsDeliveredAgain) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    auto before = d.snapshot();
    d.now_ms += 1000;
    svx_result r = d.from_sal(syn);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(same_packets(d.out(), {host::expected_server_syn()}));
    EXPECT_EQ(d.snapshot(), before);
    // Also after the server answered: its SYN-ACK goes out again then.
    d.from_tcp(host::server_synack());
    d.from_sal(syn);
    EXPECT_TRUE(same_packets(d.out(), {host::expected_server_syn()}));
    d.from_tcp(host::server_synack());
    EXPECT_TRUE(same_packets(d.out(), {host::expected_sal_synack()}));
}

TEST(engine_host_syn, SynFromAnotherClientFlowIsNotThisFlows) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    auto before = d.snapshot();
    Bytes other = PacketBuilder()
                      .ipv4(kTranslatorSal, kInstanceA)
                      .sal(kLocalFlow + 1, 0)
                      .control(SVX_CTL_SYN, kIss, 0, kNonce)
                      .service(service_id())
                      .tcp(0, 0)
                      .seq(kClientIsn)
                      .flags(SVX_TCP_SYN)
                      .build();
    svx_result r = d.from_sal(other);
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot(), before);
}

TEST(engine_host_syn, SourceLongerThanTheFlowKeepsIsRefused) {
    std::vector<Ipv4Addr> hops;
    for (uint8_t i = 0; i < SVX_FLOW_MAX_SOURCE + 1; ++i)
        hops.push_back({10, 1, 0, static_cast<uint8_t>(i + 1)});
    Bytes syn = PacketBuilder()
                    .ipv4(kTranslatorSal, kInstanceA)
                    .sal(kLocalFlow, 0)
                    .control(SVX_CTL_SYN, kIss, 0, kNonce)
                    .service(service_id())
                    .source(hops)
                    .tcp(0, 0)
                    .seq(kClientIsn)
                    .flags(SVX_TCP_SYN)
                    .build();
    FlowDriver d;
    EXPECT_EQ(d.init_host(syn), SVX_E_EXT_LEN);
}

TEST(engine_host_synack, ServerSynAckBecomesSalSynAckWithSourceEchoedAndSelfAppended) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    svx_result r = d.from_tcp(host::server_synack());
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(d.out(), {host::expected_sal_synack()}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(ip_dst(d.out()[0]), kTranslatorSal) << "to SOURCE #0, past the router";
    EXPECT_EQ(d.flow.state, SVX_FS_SYN_RECV);
    EXPECT_EQ(d.flow.tcp_nxt, kServerIsn + 1);
}

TEST(engine_host_synack, WithoutSourceTheSynAckHasNone) {
    FlowDriver d;
    Bytes syn = host::sal_syn(/*via_router=*/false);
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    EXPECT_TRUE(same_packets(d.out(), {host::expected_server_syn()}));
    d.from_tcp(host::server_synack());
    EXPECT_TRUE(same_packets(d.out(), {host::expected_sal_synack(/*via_router=*/false)}));
}

TEST(engine_host_handshake, AckEstablishesAndReachesTheServer) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    d.from_tcp(host::server_synack());
    svx_result r = d.from_sal(host::handshake_ack());
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.established);
    EXPECT_TRUE(same_packets(
        d.out(), {host::expected_server_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
    EXPECT_EQ(d.flow.state, SVX_FS_ESTABLISHED);
    EXPECT_EQ(d.flow.snd_una, kPeerIss + 1);
}

TEST(engine_host_handshake, AckWithWrongNonceVernoOrAcknoIsRefused) {
    struct Case {
        const char* what;
        uint32_t verno, ackno;
        uint64_t nonce;
        svx_err reason;
    };
    for (const Case& c : {Case{"nonce", kIss + 1, kPeerIss + 1, kNonce ^ 0x100, SVX_E_NONCE},
                          Case{"verno", kIss + 2, kPeerIss + 1, kNonce, SVX_E_VERNO},
                          Case{"verno (the SYN's)", kIss, kPeerIss + 1, kNonce, SVX_E_VERNO},
                          Case{"ackno", kIss + 1, kPeerIss, kNonce, SVX_E_VERNO},
                          Case{"ackno ahead", kIss + 1, kPeerIss + 2, kNonce, SVX_E_VERNO}}) {
        SCOPED_TRACE(c.what);
        FlowDriver d;
        Bytes syn = host::sal_syn();
        ASSERT_EQ(d.init_host(syn), SVX_OK);
        d.from_sal(syn);
        d.from_tcp(host::server_synack());
        auto before = d.snapshot();
        svx_result r = d.from_sal(host::handshake_ack(c.verno, c.ackno, c.nonce));
        EXPECT_EQ(r.action, SVX_ACT_DROP);
        EXPECT_EQ(r.reason, c.reason);
        EXPECT_FALSE(r.established);
        EXPECT_TRUE(d.out().empty());
        EXPECT_EQ(d.snapshot(), before);
        // The genuine one still works.
        EXPECT_TRUE(d.from_sal(host::handshake_ack()).established);
    }
}

// The handshake ACK was lost (protocol section 19.4): the client's data,
// which carries no CONTROL, proves the handshake and establishes the flow.
TEST(engine_host_handshake, DataBeforeTheHandshakeAckEstablishes) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    d.from_tcp(host::server_synack());
    svx_result r = d.from_sal(host::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, "hi"));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.established);
    EXPECT_TRUE(same_packets(
        d.out(), {host::expected_server_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, "hi")}));
    EXPECT_EQ(d.flow.state, SVX_FS_ESTABLISHED);
}

TEST(engine_host_handshake, ResetOrSynAckInsteadOfTheAckDoNotEstablish) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    d.from_tcp(host::server_synack());
    auto before = d.snapshot();
    // A SYN-ACK is the client's business, never the host agent's.
    svx_result r = d.from_sal(PacketBuilder()
                                  .ipv4(kTranslatorSal, kInstanceA)
                                  .sal(kLocalFlow, kPeerFlow)
                                  .control(SVX_CTL_SYN | SVX_CTL_ACK, kIss, kPeerIss + 1, kNonce)
                                  .tcp(0, 0)
                                  .seq(kClientIsn)
                                  .ack(kServerIsn + 1)
                                  .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                                  .build());
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot(), before);
    // A FIN without ACK is not a handshake ACK either.
    r = d.from_sal(host::client_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(d.snapshot(), before);
}

TEST(engine_host_data, BothWays) {
    FlowDriver d;
    host::establish(d);
    d.from_sal(host::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, "request"));
    ASSERT_TRUE(same_packets(d.out(), {host::expected_server_segment(kClientIsn + 1, kServerIsn + 1,
                                                                     kPshAck, "request")}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
    d.from_tcp(host::server_segment(kServerIsn + 1, kClientIsn + 8, kPshAck, "response"));
    ASSERT_TRUE(same_packets(d.out(), {host::expected_sal_segment(kServerIsn + 1, kClientIsn + 8,
                                                                  kPshAck, "response")}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
}

TEST(engine_host_close, LocalServerClosesFirst) {
    FlowDriver d;
    host::establish(d);
    // The server's FIN is data to the client.
    d.from_tcp(host::server_segment(kServerIsn + 1, kClientIsn + 1, kFinAck));
    EXPECT_TRUE(same_packets(
        d.out(), {host::expected_sal_segment(kServerIsn + 1, kClientIsn + 1, kFinAck)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSING);
    // The client's TCP acknowledges it: our SAL FIN, then the ACK.
    d.from_sal(host::client_segment(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK));
    ASSERT_TRUE(same_packets(
        d.out(), {host::expected_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1),
                  host::expected_server_segment(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    // Retransmitted until the client acknowledges it.
    const uint64_t sent = d.now_ms;
    EXPECT_FALSE(d.tick(sent + 1000));
    EXPECT_TRUE(
        same_packets(d.out(), {host::expected_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1)}));
    d.from_sal(host::client_control(SVX_CTL_ACK, kIss + 1, kPeerIss + 2));
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.flow.ctl_pending, 0);
    // The client closes its side.
    d.from_sal(host::client_segment(kClientIsn + 1, kServerIsn + 2, kFinAck));
    EXPECT_TRUE(same_packets(
        d.out(), {host::expected_server_segment(kClientIsn + 1, kServerIsn + 2, kFinAck)}));
    d.from_tcp(host::server_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {host::expected_sal_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK)}));
    svx_result r = d.from_sal(host::client_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 2));
    EXPECT_TRUE(r.flow_closed);
    EXPECT_TRUE(
        same_packets(d.out(), {host::expected_control(SVX_CTL_ACK, kPeerIss + 2, kIss + 2)}));
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
    EXPECT_FALSE(d.tick(sent + 100000));
    EXPECT_TRUE(d.out().empty());
}

} // namespace
} // namespace svxlat::test
