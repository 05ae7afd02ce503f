// Orderly close (protocol section 6.6) through a translator flow: a TCP FIN
// is translated like data, the SAL FIN follows once the other side's TCP has
// acknowledged it, the peer's SAL FIN is answered with a SAL ACK (duplicates
// included), both done is time-wait; the SAL FIN is retransmitted on the
// timer and the flow is reset on both sides when it is never acknowledged.
// With fin_ack_delay_ms that SAL ACK may wait to ride on our own SAL FIN.
#include <gtest/gtest.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

constexpr uint8_t kFinAck = SVX_TCP_FIN | SVX_TCP_ACK;

// An established translator flow (tcp_nxt = kClientIsn + 1, sal_nxt =
// kServerIsn + 1, snd_nxt = kIss + 1, rcv_nxt = kPeerIss + 1).
class ClosingFlow : public ::testing::Test {
protected:
    void SetUp() override { xlt::establish(d); }

    // Client FIN, the instance's TCP ACK of it: our SAL FIN goes out.
    void client_fin_acknowledged() {
        d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kFinAck));
        d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK));
        ASSERT_EQ(d.flow.ctl_pending, SVX_CTL_FIN);
    }

    FlowDriver d;
};
using engine_close = ClosingFlow;

TEST_F(engine_close, ClientClosesFirst) {
    // The client's TCP FIN is data to the instance.
    svx_result r = d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kFinAck));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(same_packets(d.out(),
                             {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, kFinAck)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSING);
    EXPECT_EQ(d.flow.ctl_pending, 0) << "no SAL FIN before the FIN is acknowledged";

    // The instance's TCP acknowledges it: the SAL FIN (verno = snd_nxt,
    // consumed) comes first, then the translated ACK.
    r = d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1),
                  xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.snd_nxt, kIss + 2);
    EXPECT_EQ(d.flow.ctl_pending, SVX_CTL_FIN);

    // A second ACK of the FIN sends no second SAL FIN.
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK)}));

    // The instance acknowledges our SAL FIN.
    r = d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 2));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.flow.ctl_pending, 0);
    EXPECT_EQ(d.flow.snd_una, kIss + 2);
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSING);
    EXPECT_FALSE(r.flow_closed);

    // The instance closes: TCP FIN, the client's ACK, then its SAL FIN.
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, kFinAck));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 2, kFinAck)}));
    d.from_tcp(xlt::client_segment(kClientIsn + 2, kServerIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 2, kServerIsn + 2, SVX_TCP_ACK)}));
    r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 2));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.flow_closed);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 2, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);

    // Time-wait re-acknowledges a retransmitted FIN.
    r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 2));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_FALSE(r.flow_closed);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 2, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

// The A-direct-tcp_server-3000B order: the instance closes first.
TEST_F(engine_close, InstanceClosesFirst) {
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 1, kFinAck));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 1, kFinAck)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSING);
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK)}));
    EXPECT_EQ(d.flow.ctl_pending, 0);

    // The instance's SAL FIN: a SAL ACK with ackno = verno + 1.
    svx_result r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_FALSE(r.flow_closed);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 1, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.rcv_nxt, kPeerIss + 2);
    EXPECT_EQ(d.flow.snd_nxt, kIss + 1) << "an ACK consumes no verno";

    // Its retransmission is acknowledged again.
    r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 1, kPeerIss + 2)}));

    // The client closes.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 2, kFinAck));
    EXPECT_TRUE(same_packets(d.out(),
                             {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 2, kFinAck)}));
    r = d.from_sal(xlt::instance_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 2),
                  xlt::expected_client_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK)}));
    EXPECT_FALSE(r.flow_closed);
    r = d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 2, kIss + 2));
    EXPECT_TRUE(r.flow_closed);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

// FIN with payload: an ACK of the payload alone does not cover the FIN.
TEST_F(engine_close, AckOfTheDataBeforeTheFinSendsNoSalFin) {
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kFinAck, "bye"));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, kFinAck, "bye")}));
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 4, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 4, SVX_TCP_ACK)}));
    EXPECT_EQ(d.flow.ctl_pending, 0);
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 5, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1),
                  xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 5, SVX_TCP_ACK)}));
}

// The FIN overtakes the data before it: its sequence number lies beyond the
// data, and only an ACK of the FIN itself triggers the SAL FIN.
TEST_F(engine_close, FinArrivingBeforeTheDataIsAcknowledgedOnlyAfterIt) {
    const std::string data(100, 'd');
    d.from_tcp(xlt::client_segment(kClientIsn + 101, kServerIsn + 1, kFinAck));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 101, kServerIsn + 1, kFinAck)}));
    EXPECT_EQ(d.flow.tcp_fin_seq, kClientIsn + 101);
    // The instance only acknowledges what it has: nothing new.
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 1, SVX_TCP_ACK));
    EXPECT_EQ(d.out().size(), 1u);
    // The data arrives late and is still translated.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK, data));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_sal_segment(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK, data)}));
    EXPECT_EQ(d.flow.tcp_nxt, kClientIsn + 102) << "sequence tracking never moves back";
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 101, SVX_TCP_ACK));
    EXPECT_EQ(d.out().size(), 1u) << "the data is acknowledged, the FIN is not";
    EXPECT_EQ(d.flow.ctl_pending, 0);
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 102, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1),
                  xlt::expected_client_segment(kServerIsn + 1, kClientIsn + 102, SVX_TCP_ACK)}));
}

TEST_F(engine_close, SalAckThatDoesNotCoverTheFinLeavesItPending) {
    client_fin_acknowledged();
    d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 1));
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.flow.ctl_pending, SVX_CTL_FIN);
    EXPECT_FALSE(d.flow.flags & SVX_FF_OUR_SALFIN_ACKED);
}

TEST_F(engine_close, SalFinIsRetransmittedWithBackoffUntilAcknowledged) {
    const uint64_t sent = d.now_ms;
    client_fin_acknowledged();
    const Bytes fin = xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1);
    EXPECT_FALSE(d.tick(sent + 999));
    EXPECT_TRUE(d.out().empty());
    EXPECT_FALSE(d.tick(sent + 1000));
    EXPECT_TRUE(same_packets(d.out(), {fin}));
    EXPECT_EQ(d.flow.retrans, 1);
    // The interval doubles: next at +1000 + 2000.
    EXPECT_FALSE(d.tick(sent + 2999));
    EXPECT_TRUE(d.out().empty());
    EXPECT_FALSE(d.tick(sent + 3000));
    EXPECT_TRUE(same_packets(d.out(), {fin}));
    EXPECT_EQ(d.snapshot().snd_nxt, kIss + 2) << "a retransmission consumes no verno";
    // Acknowledged: no more retransmissions.
    d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 2));
    EXPECT_FALSE(d.tick(sent + 100000));
    EXPECT_TRUE(d.out().empty());
}

// The header is rebuilt for every retransmission: the ackno follows rcv_nxt.
TEST_F(engine_close, RetransmittedSalFinCarriesTheCurrentAckno) {
    const uint64_t sent = d.now_ms;
    client_fin_acknowledged();
    // The instance's own SAL FIN crosses ours, without acknowledging it.
    d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1));
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 2, kPeerIss + 2)}));
    d.tick(sent + 1000);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 2)}));
    svx_result r = d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 2, kIss + 2));
    EXPECT_TRUE(r.flow_closed);
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

TEST_F(engine_close, UnacknowledgedSalFinGivesUpWithResetsOnBothSides) {
    const uint64_t sent = d.now_ms;
    client_fin_acknowledged();
    const Bytes fin = xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 1);
    // max_retrans 3, rto 1 s doubling, capped at 4 s: +1, +3, +7, give up at +11.
    for (uint64_t at : {1000u, 3000u, 7000u}) {
        SCOPED_TRACE(at);
        EXPECT_FALSE(d.tick(sent + at - 1));
        EXPECT_TRUE(d.out().empty());
        EXPECT_FALSE(d.tick(sent + at));
        EXPECT_TRUE(same_packets(d.out(), {fin}));
    }
    EXPECT_FALSE(d.tick(sent + 10999));
    EXPECT_TRUE(d.out().empty());
    EXPECT_TRUE(d.tick(sent + 11000));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_RST | SVX_CTL_ACK, kIss + 2, kPeerIss + 1),
                  xlt::expected_client_rst(kServerIsn + 1, kClientIsn + 2)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    EXPECT_EQ(d.flow.ctl_pending, 0);
    EXPECT_FALSE(d.tick(sent + 100000));
    EXPECT_TRUE(d.out().empty());
}

// With fin_ack_delay_ms, the ACK of the peer's SAL FIN waits for our own
// SAL FIN and goes out with it as FIN|ACK (6.6 step 5), or alone at the
// deadline (never retransmitted).
svx_flow_cfg delayed_ack_cfg() {
    svx_flow_cfg cfg = default_flow_cfg();
    cfg.fin_ack_delay_ms = 40;
    return cfg;
}

class DelayedAckFlow : public ::testing::Test {
protected:
    void SetUp() override { xlt::establish(d); }

    // The instance closes first and the client acknowledges its TCP FIN;
    // then the instance's SAL FIN arrives.
    void instance_fin_arrives() {
        d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 1, kFinAck));
        d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK));
        fin_at = d.now_ms;
        svx_result r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1));
        EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
        EXPECT_TRUE(d.out().empty()) << "the ACK waits for our SAL FIN";
        EXPECT_EQ(d.flow.ctl_pending, SVX_CTL_ACK);
        EXPECT_EQ(d.flow.rcv_nxt, kPeerIss + 2);
    }

    FlowDriver d{delayed_ack_cfg()};
    uint64_t fin_at = 0;
};
using engine_close_delayed_ack = DelayedAckFlow;

TEST_F(engine_close_delayed_ack, RidesOnOurFinAsFinAck) {
    instance_fin_arrives();
    // The client closes in turn; the instance's TCP acknowledges that FIN:
    // one FIN|ACK instead of an ACK and a FIN.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 2, kFinAck));
    svx_result r = d.from_sal(xlt::instance_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN | SVX_CTL_ACK, kIss + 1, kPeerIss + 2),
                  xlt::expected_client_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK)}));
    EXPECT_TRUE(sal_checksums_valid(d.out()[0]));
    EXPECT_EQ(d.flow.ctl_pending, SVX_CTL_FIN | SVX_CTL_ACK);
    EXPECT_FALSE(r.flow_closed);
    // No ACK alone at the old deadline; the FIN|ACK is what is retransmitted.
    EXPECT_FALSE(d.tick(fin_at + 40));
    EXPECT_TRUE(d.out().empty());
    EXPECT_FALSE(d.tick(d.now_ms + 1000));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN | SVX_CTL_ACK, kIss + 1, kPeerIss + 2)}));
    // The instance acknowledges it: both FINs done.
    r = d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 2, kIss + 2));
    EXPECT_TRUE(r.flow_closed);
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
    EXPECT_EQ(d.flow.ctl_pending, 0);
}

TEST_F(engine_close_delayed_ack, GoesAloneAtTheDeadlineAndOnlyOnce) {
    instance_fin_arrives();
    EXPECT_FALSE(d.tick(fin_at + 39));
    EXPECT_TRUE(d.out().empty());
    EXPECT_FALSE(d.tick(fin_at + 40));
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 1, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.ctl_pending, 0);
    EXPECT_EQ(d.flow.retrans, 0);
    EXPECT_FALSE(d.tick(fin_at + 100000));
    EXPECT_TRUE(d.out().empty()) << "pure ACKs are never retransmitted";
    // Our SAL FIN, later, is a plain FIN.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 2, kFinAck));
    d.from_sal(xlt::instance_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK));
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_FIN, kIss + 1, kPeerIss + 2),
                  xlt::expected_client_segment(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK)}));
}

TEST_F(engine_close_delayed_ack, RetransmittedFinIsAcknowledgedAtOnce) {
    instance_fin_arrives();
    svx_result r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1));
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 1, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.ctl_pending, 0) << "that ACK was the one owed";
    EXPECT_FALSE(d.tick(fin_at + 40));
    EXPECT_TRUE(d.out().empty());
}

TEST_F(engine_close_delayed_ack, NotDelayedOnceOurFinIsOut) {
    // Our SAL FIN went first: the peer's FIN is answered at once.
    d.from_tcp(xlt::client_segment(kClientIsn + 1, kServerIsn + 1, kFinAck));
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK));
    ASSERT_EQ(d.flow.ctl_pending, SVX_CTL_FIN);
    d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 2));
    d.from_sal(xlt::instance_segment(kServerIsn + 1, kClientIsn + 2, kFinAck));
    d.from_tcp(xlt::client_segment(kClientIsn + 2, kServerIsn + 2, SVX_TCP_ACK));
    svx_result r = d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 2));
    EXPECT_TRUE(r.flow_closed);
    EXPECT_TRUE(
        same_packets(d.out(), {xlt::expected_control(SVX_CTL_ACK, kIss + 2, kPeerIss + 2)}));
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

TEST_F(engine_close_delayed_ack, ResetWhileDelayingDropsTheOwedAck) {
    instance_fin_arrives();
    d.from_sal(xlt::instance_control(SVX_CTL_RST | SVX_CTL_ACK, kPeerIss + 2, kIss + 1));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    EXPECT_EQ(d.flow.ctl_pending, 0);
    EXPECT_FALSE(d.tick(fin_at + 40));
    EXPECT_TRUE(d.out().empty());
}

TEST_F(engine_close, FinWithTheWrongNonceIsDropped) {
    auto before = d.snapshot();
    svx_result r =
        d.from_sal(xlt::instance_control(SVX_CTL_FIN, kPeerIss + 1, kIss + 1, kPeerNonce ^ 1));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NONCE);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.snapshot(), before);
}

TEST_F(engine_close, AckOfOurFinWithTheWrongNonceIsIgnored) {
    client_fin_acknowledged();
    auto before = d.snapshot();
    svx_result r =
        d.from_sal(xlt::instance_control(SVX_CTL_ACK, kPeerIss + 1, kIss + 2, 0x1111111111111111));
    EXPECT_EQ(r.action, SVX_ACT_DROP);
    EXPECT_EQ(r.reason, SVX_E_NONCE);
    EXPECT_EQ(d.snapshot(), before);
}

TEST_F(engine_close, AbortResetsBothSidesOnce) {
    d.abort();
    EXPECT_TRUE(same_packets(
        d.out(), {xlt::expected_control(SVX_CTL_RST | SVX_CTL_ACK, kIss + 1, kPeerIss + 1),
                  xlt::expected_client_rst(kServerIsn + 1, kClientIsn + 1)}));
    EXPECT_EQ(d.flow.state, SVX_FS_CLOSED);
    d.abort();
    EXPECT_TRUE(d.out().empty());
}

} // namespace
} // namespace svxlat::test
