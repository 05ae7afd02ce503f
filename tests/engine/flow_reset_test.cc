// Resets in every state (protocol section 6.8) and migration (section 7):
// a SAL RST becomes an in-window TCP RST|ACK towards the TCP side (seq = the
// SAL side's next sequence number, ack = the TCP side's), a TCP RST becomes
// the active SAL RST (RST|ACK, verno = snd_nxt, ackno = rcv_nxt, our nonce);
// a SAL RST is checked against the verno acceptance test but not the nonce;
// an RSYN moves the peer to its new address once the RSYN-ACK is confirmed.
#include <gtest/gtest.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

constexpr uint8_t kRstAck = SVX_CTL_RST | SVX_CTL_ACK;
constexpr uint8_t kPshAck = SVX_TCP_PSH | SVX_TCP_ACK;

// A translator flow in SYN_SENT.
void syn_sent(FlowDriver& d) {
    Bytes syn = xlt::client_syn();
    d.init_translator(syn);
    d.from_tcp(syn, kRouter);
}

// Established, 10 bytes each way: tcp_nxt = kClientIsn + 11, sal_nxt =
// kServerIsn + 11.
void established_with_data(FlowDriver& d) {
    xlt::establish(d);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kPshAck, "0123456789"));
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 11, kPshAck, "abcdefghij"));
}

// Closing: the client's FIN was acknowledged, our SAL FIN is out (snd_nxt =
// kIss + 2); tcp_nxt = kClientIsn + 12.
void closing(FlowDriver& d) {
    established_with_data(d);
    d.from_tcp(xlt::client_segment(kClientIsn + 11, kServerIsn + 11, SVX_TCP_FIN | SVX_TCP_ACK));
    d.from_sal(xlt::instance_segment(kServerIsn + 11, kClientIsn + 12, SVX_TCP_ACK));
}

// Time-wait: closing, then our FIN acknowledged and the instance's SAL FIN
// (rcv_nxt = kPeerIss + 2).
void time_wait(FlowDriver& d) {
    closing(d);
    d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 2));
    d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 2));
    if (d.flow.state != SVX_FS_TIME_WAIT)
        throw std::runtime_error("time_wait: not in time-wait");
}

void expect_closed_by(const svx_result& r, const FlowDriver& d) {
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.flow_closed);
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    EXPECT_EQ(d.flow.ctl_pending, 0);
}

// ------------------------------------------------------ SAL RST -> TCP RST

TEST(engine_sal_rst, InSynSentRefusesTheClient) {
    FlowDriver d;
    syn_sent(d);
    // What a reference host without the service answers (a passive RST):
    // flows swapped, RST|ACK, ackno = SYN verno + 1, our nonce echoed.
    Bytes refused = PacketBuilder()
                        .ipv4(kInstanceA, kTranslatorSal)
                        .sal(0, kLocalFlow)
                        .control(kRstAck, 0, kIss + 1, kNonce)
                        .build();
    svx_result r = d.from_sal(refused);
    expect_closed_by(r, d);
    // The RST acknowledges the client's SYN, as a refusing server would.
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_client_rst(0, kClientIsn + 1)}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
}

TEST(engine_sal_rst, InSynRecvResetsTheLocalServer) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    d.from_tcp(host::server_synack());
    ASSERT_EQ(d.flow.state, SVX_FS_SYN_RECV);
    svx_result r = d.from_sal(host::client_control(kRstAck, kIss + 1, kPeerIss + 1));
    expect_closed_by(r, d);
    EXPECT_TRUE(same_packets(d.out(), {host::expected_server_rst(kClientIsn + 1, kServerIsn + 1)}));
    EXPECT_TRUE(tcp_checksums_valid(d.out()[0]));
}

TEST(engine_sal_rst, InEstablishedIsAnInWindowTcpRst) {
    FlowDriver d;
    established_with_data(d);
    svx_result r = d.from_sal(xlt::instance_control(kRstAck, kPeerIss + 1, kIss + 1));
    expect_closed_by(r, d);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_client_rst(kServerIsn + 11, kClientIsn + 11)}));
    // Nothing passes a closed flow.
    r = d.from_sal(xlt::instance_segment(kServerIsn + 11, kClientIsn + 11, kPshAck, "late"));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_STATE);
    EXPECT_TRUE(d.out().empty());
    r = d.from_sal(xlt::instance_control(kRstAck, kPeerIss + 1, kIss + 1));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_TRUE(d.out().empty());
}

TEST(engine_sal_rst, InClosingIsAnInWindowTcpRst) {
    FlowDriver d;
    closing(d);
    ASSERT_EQ(d.flow.state, SVX_FS_CLOSING);
    svx_result r = d.from_sal(xlt::instance_control(kRstAck, kPeerIss + 1, kIss + 2));
    expect_closed_by(r, d);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_client_rst(kServerIsn + 11, kClientIsn + 12)}));
    EXPECT_FALSE(d.tick(d.now_ms + 60000)) << "the pending SAL FIN went with the reset";
    EXPECT_TRUE(d.out().empty());
}

// Both sides have closed: the client is told nothing more.
TEST(engine_sal_rst, InTimeWaitClosesSilently) {
    FlowDriver d;
    time_wait(d);
    svx_result r = d.from_sal(xlt::instance_control(kRstAck, kPeerIss + 2, kIss + 2));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    EXPECT_TRUE(d.out().empty());
}

TEST(engine_sal_rst, OutOfWindowVernoIsIgnored) {
    FlowDriver d;
    established_with_data(d);
    auto before = d.snapshot();
    for (uint32_t verno : {kPeerIss, kPeerIss - 1000, kPeerIss + 1 - 0x40000000u}) {
        SCOPED_TRACE(verno);
        svx_result r = d.from_sal(xlt::instance_control(kRstAck, verno, kIss + 1));
        EXPECT_EQ(r.action, SVX_ACT_DROP);
        EXPECT_EQ(r.reason, SVX_E_VERNO);
        EXPECT_TRUE(d.out().empty());
        EXPECT_EQ(d.snapshot(), before);
    }
}

// Reference behaviour (section 6.8): the nonce of an RST is not checked.
TEST(engine_sal_rst, NonceIsNotChecked) {
    FlowDriver d;
    established_with_data(d);
    svx_result r = d.from_sal(xlt::instance_control(kRstAck, kPeerIss + 1, kIss + 1, 0));
    expect_closed_by(r, d);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_client_rst(kServerIsn + 11, kClientIsn + 11)}));
}

// Serval TCP accepts a TCP-level RST too (section 6.8): it passes to the
// client and closes the flow.
TEST(engine_sal_rst, TcpRstInsideSalIsPassedOn) {
    FlowDriver d;
    established_with_data(d);
    svx_result r = d.from_sal(
        xlt::instance_segment(kServerIsn + 11, kClientIsn + 11, SVX_TCP_RST | SVX_TCP_ACK, {}, 0));
    expect_closed_by(r, d);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_client_rst(kServerIsn + 11, kClientIsn + 11)}));
}

// ------------------------------------------------ TCP RST -> SAL active RST

TEST(engine_tcp_rst, InSynSentClosesWithNobodyToTell) {
    FlowDriver d;
    syn_sent(d);
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 1, 0, SVX_TCP_RST));
    expect_closed_by(r, d);
    EXPECT_TRUE(d.out().empty()) << "the peer's flow ID is not known yet";
}

TEST(engine_tcp_rst, LocalServerRefusingTheSynResetsTheClient) {
    FlowDriver d;
    Bytes syn = host::sal_syn();
    ASSERT_EQ(d.init_host(syn), SVX_OK);
    d.from_sal(syn);
    // Nothing listens on the port: the server answers RST|ACK.
    svx_result r =
        d.from_tcp(host::server_segment(0, kClientIsn + 1, SVX_TCP_RST | SVX_TCP_ACK, {}, 0));
    expect_closed_by(r, d);
    EXPECT_TRUE(same_packets(d.out(), {host::expected_control(kRstAck, kPeerIss + 1, kIss + 1)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
}

TEST(engine_tcp_rst, InEstablishedIsAnActiveSalRst) {
    FlowDriver d;
    established_with_data(d);
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 11, 0, SVX_TCP_RST));
    expect_closed_by(r, d);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_control(kRstAck, kIss + 1, kPeerIss + 1)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    r = d.from_tcp(xlt::client_segment(kClientIsn + 11, 0, SVX_TCP_RST));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_TRUE(d.out().empty()) << "one reset only";
}

TEST(engine_tcp_rst, InClosingCarriesTheConsumedFinVerno) {
    FlowDriver d;
    closing(d);
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 12, 0, SVX_TCP_RST));
    expect_closed_by(r, d);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_control(kRstAck, kIss + 2, kPeerIss + 1)}));
    EXPECT_FALSE(d.tick(d.now_ms + 60000));
    EXPECT_TRUE(d.out().empty());
}

TEST(engine_tcp_rst, InTimeWaitIsStillPassedOn) {
    FlowDriver d;
    time_wait(d);
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 12, 0, SVX_TCP_RST));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    EXPECT_TRUE(same_packets(d.out(), {xlt::expected_control(kRstAck, kIss + 2, kPeerIss + 2)}));
}

// ----------------------------------------------------------------- RSYN

class MigratingFlow : public ::testing::Test {
protected:
    void SetUp() override { established_with_data(d); }

    // The instance moved to kInstanceB and says so.
    svx_result rsyn() {
        return d.from_sal(
            xlt::instance_control(SVX_CTL_RSYN, kPeerIss + 1, kIss + 1, kPeerNonce, kInstanceB));
    }

    FlowDriver d;
};
using engine_migration = MigratingFlow;

TEST_F(engine_migration, RsynIsAnsweredAtTheNewAddressAndDataSwitchesAfterTheAck) {
    const uint64_t at = d.now_ms;
    svx_result r = rsyn();
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    // RSYN-ACK: verno = snd_nxt (not consumed), ackno = RSYN verno + 1.
    const Bytes rsyn_ack =
        xlt::expected_control(SVX_CTL_RSYN | SVX_CTL_ACK, kIss + 1, kPeerIss + 2, kInstanceB);
    ASSERT_TRUE(same_packets(d.out(), {rsyn_ack}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.snd_nxt, kIss + 1);
    EXPECT_EQ(d.flow.rcv_nxt, kPeerIss + 2);

    // Until the mobile side confirms, data still goes to the old address...
    d.from_tcp(xlt::client_segment(kClientIsn + 11, kServerIsn + 11, kPshAck, "old"));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 11, kServerIsn + 11, kPshAck, "old")}));
    // ... while its data from the new one is accepted.
    d.from_sal(
        xlt::instance_segment(kServerIsn + 11, kClientIsn + 14, kPshAck, "new", 2896, kInstanceB));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 11, kClientIsn + 14, kPshAck, "new")}));

    // The RSYN-ACK is retransmitted to the new address on the timer.
    EXPECT_FALSE(d.tick(at + 999));
    EXPECT_TRUE(d.out().empty());
    EXPECT_FALSE(d.tick(at + 1000));
    EXPECT_TRUE(same_packets(d.out(), {rsyn_ack}));

    // The confirming ACK switches the flow.
    r = d.from_sal(
        xlt::instance_control(SVX_CTL_ACK, kPeerIss + 2, kIss + 1, kPeerNonce, kInstanceB));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot().sal_peer, kInstanceB);
    EXPECT_EQ(d.flow.ctl_pending, 0);
    d.from_tcp(xlt::client_segment(kClientIsn + 14, kServerIsn + 14, kPshAck, "moved"));
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_sal_segment(kClientIsn + 14, kServerIsn + 14, kPshAck,
                                                         "moved", 502, kInstanceB)}));
    EXPECT_FALSE(d.tick(at + 100000));
    EXPECT_TRUE(d.out().empty());
}

TEST_F(engine_migration, RsynWithTheWrongNonceIsIgnored) {
    auto before = d.snapshot();
    svx_result r = d.from_sal(
        xlt::instance_control(SVX_CTL_RSYN, kPeerIss + 1, kIss + 1, kPeerNonce + 1, kInstanceB));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NONCE);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot(), before);
}

TEST_F(engine_migration, UnconfirmedRsynAckGivesUp) {
    const uint64_t at = d.now_ms;
    rsyn();
    for (uint64_t t : {1000u, 3000u, 7000u}) {
        EXPECT_FALSE(d.tick(at + t));
        EXPECT_EQ(d.out().size(), 1u);
    }
    EXPECT_TRUE(d.tick(at + 11000));
    // The reset goes to the confirmed address.
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(kRstAck, kIss + 1, kPeerIss + 2),
                               xlt::expected_client_rst(kServerIsn + 11, kClientIsn + 11)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
}

} // namespace
} // namespace svxlat::test
