// The state machine through engine::Worker: classification (ours or not),
// flow creation with the worker's random flow IDs, ISS and nonces, service
// resolution on every SYN, parse errors counted per reason, replies for
// packets without a flow, flow-table limits and expiry, and the host agent.
#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/reg.h>
#include <svxlat/tcp.h>

#include "fixtures.h"

namespace svxlat::test {
namespace {

using engine::Event;
using engine::Verdict;

constexpr uint8_t kPshAck = SVX_TCP_PSH | SVX_TCP_ACK;
constexpr uint8_t kFinAck = SVX_TCP_FIN | SVX_TCP_ACK;
constexpr std::array<uint8_t, 20> kSynOptionsStripped = {2, 4, 0x05, 0xa8, 1, 1, 1, 1, 1, 1,
                                                         1, 1, 1,    1,    1, 1, 1, 3, 3, 7};
constexpr std::array<uint8_t, 20> kLinuxSynOptions = {
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7};

uint64_t nonce_as_u64(const uint8_t* nonce) {
    uint64_t v = 0;
    for (int i = 0; i < SVX_NONCE_LEN; ++i)
        v = v << 8 | nonce[i];
    return v;
}

// One translator connection through the worker. The worker draws the flow
// ID, ISS and nonce; learn() reads them from its flow table, and every
// expected packet is then built from them.
struct Conn {
    uint16_t client_port = kClientPort;
    uint32_t peer_flow = kPeerFlow;
    uint32_t local_flow = 0;
    uint32_t iss = 0;
    uint64_t nonce = 0;

    void learn(const WorkerRig& rig) {
        auto f = rig.flow_by_tcp_remote_port(client_port);
        if (!f)
            throw std::runtime_error("no flow for client port " + std::to_string(client_port));
        local_flow = f->local_flow;
        iss = f->iss;
        nonce = nonce_as_u64(f->local_nonce);
    }

    Bytes syn() const {
        return PacketBuilder()
            .ipv4(kClient, kPublic)
            .df()
            .tcp(client_port, kPublicPort)
            .seq(kClientIsn)
            .flags(SVX_TCP_SYN)
            .window(64240)
            .tcp_option_raw(kLinuxSynOptions)
            .build();
    }
    Bytes client(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {}) const {
        return PacketBuilder()
            .ipv4(kClient, kPublic)
            .df()
            .tcp(client_port, kPublicPort)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(502)
            .payload(payload)
            .build();
    }
    Bytes synack() const {
        const std::array<Ipv4Addr, 3> source = {kTranslatorSal, kRouter, kInstanceA};
        return PacketBuilder()
            .ipv4(kInstanceA, kTranslatorSal)
            .sal(peer_flow, local_flow)
            .control(SVX_CTL_SYN | SVX_CTL_ACK, kPeerIss, iss + 1, kPeerNonce)
            .source(source)
            .tcp(0, 0)
            .seq(kServerIsn)
            .ack(kClientIsn + 1)
            .flags(SVX_TCP_SYN | SVX_TCP_ACK)
            .window(5792)
            .mss(1460)
            .wscale(7)
            .build();
    }
    Bytes instance(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {}) const {
        return PacketBuilder()
            .ipv4(kInstanceA, kTranslatorSal)
            .sal(peer_flow, local_flow)
            .tcp(0, 0)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(2896)
            .payload(payload)
            .build();
    }
    Bytes instance_control(uint8_t flags, uint32_t verno, uint32_t ackno) const {
        return PacketBuilder()
            .ipv4(kInstanceA, kTranslatorSal)
            .sal(peer_flow, local_flow)
            .control(flags, verno, ackno, kPeerNonce)
            .build();
    }

    Bytes want_syn(Ipv4Addr to) const {
        return PacketBuilder()
            .ipv4(kTranslatorSal, to)
            .df()
            .sal(local_flow, 0)
            .control(SVX_CTL_SYN, iss, 0, nonce)
            .service(service_id())
            .tcp(0, 0)
            .seq(kClientIsn)
            .flags(SVX_TCP_SYN)
            .window(64240)
            .tcp_option_raw(kSynOptionsStripped)
            .build();
    }
    Bytes want_client(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                      uint16_t window = 2896) const {
        return PacketBuilder()
            .ipv4(kPublic, kClient)
            .df()
            .tcp(kPublicPort, client_port)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(window)
            .payload(payload)
            .build();
    }
    Bytes want_client_synack() const {
        return PacketBuilder()
            .ipv4(kPublic, kClient)
            .df()
            .tcp(kPublicPort, client_port)
            .seq(kServerIsn)
            .ack(kClientIsn + 1)
            .flags(SVX_TCP_SYN | SVX_TCP_ACK)
            .window(5792)
            .mss(1448)
            .wscale(7)
            .build();
    }
    Bytes want_client_rst(uint32_t seq, uint32_t ack) const {
        return want_client(seq, ack, SVX_TCP_RST | SVX_TCP_ACK, {}, 0);
    }
    Bytes want_handshake_ack() const {
        return PacketBuilder()
            .ipv4(kTranslatorSal, kInstanceA)
            .df()
            .sal(local_flow, peer_flow)
            .control(SVX_CTL_ACK, iss + 1, kPeerIss + 1, nonce)
            .service(service_id())
            .tcp(0, 0)
            .seq(kClientIsn + 1)
            .ack(kServerIsn + 1)
            .flags(SVX_TCP_ACK)
            .window(502)
            .build();
    }
    Bytes want_sal(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {}) const {
        return PacketBuilder()
            .ipv4(kTranslatorSal, kInstanceA)
            .df()
            .sal(local_flow, peer_flow)
            .tcp(0, 0)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(502)
            .payload(payload)
            .build();
    }
    Bytes want_control(uint8_t flags, uint32_t verno, uint32_t ackno) const {
        return PacketBuilder()
            .ipv4(kTranslatorSal, kInstanceA)
            .df()
            .sal(local_flow, peer_flow)
            .control(flags, verno, ackno, nonce)
            .build();
    }
};

// SYN, SYN-ACK, ACK through the worker, each output checked.
void establish(WorkerRig& rig, Conn& c, uint64_t now_ms = 1000) {
    ASSERT_EQ(rig.process(c.syn(), now_ms), Verdict::drop);
    c.learn(rig);
    ASSERT_TRUE(same_packets(rig.out(), {c.want_syn(kRouter)}));
    ASSERT_EQ(rig.process(c.synack(), now_ms), Verdict::drop);
    ASSERT_TRUE(same_packets(rig.out(), {c.want_client_synack()}));
    ASSERT_EQ(rig.process(c.client(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK), now_ms),
              Verdict::drop);
    ASSERT_TRUE(same_packets(rig.out(), {c.want_handshake_ack()}));
}

svx_flow_state state_of(const WorkerRig& rig, uint16_t client_port) {
    auto f = rig.flow_by_tcp_remote_port(client_port);
    return f ? static_cast<svx_flow_state>(f->state) : SVX_FS__COUNT;
}

// --------------------------------------------------------------- translator

TEST(engine_worker_translator, HandshakeDataAndCounters) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    EXPECT_NE(c.local_flow, 0u);
    EXPECT_EQ(rig.counters().event(Event::flows_created), 1u);
    EXPECT_EQ(rig.counters().event(Event::tcp_to_sal), 2u);
    EXPECT_EQ(rig.counters().event(Event::sal_to_tcp), 1u);

    EXPECT_EQ(rig.process(c.client(kClientIsn + 1, kServerIsn + 1, kPshAck, "ping")),
              Verdict::drop);
    ASSERT_TRUE(
        same_packets(rig.out(), {c.want_sal(kClientIsn + 1, kServerIsn + 1, kPshAck, "ping")}));
    EXPECT_TRUE(sal_checksums_valid(rig.out()[0]));
    EXPECT_EQ(rig.process(c.instance(kServerIsn + 1, kClientIsn + 5, kPshAck, "pong")),
              Verdict::drop);
    ASSERT_TRUE(
        same_packets(rig.out(), {c.want_client(kServerIsn + 1, kClientIsn + 5, kPshAck, "pong")}));
    EXPECT_TRUE(tcp_checksums_valid(rig.out()[0]));
    EXPECT_EQ(rig.counters().event(Event::packets), 5u);
    EXPECT_EQ(rig.counters().event(Event::emitted), 5u);
    EXPECT_EQ(rig.flow_count(), 1u);
}

// Super-packets both ways leave as MTU-size packets, byte for byte what the
// core's own segmentation gives. In the kernel rig the module rewrites the
// headers in place and GSO cuts the pieces at the egress device (our
// protocol-144 offload for the SAL side, TCP's for the other).
TEST(engine_worker_translator, SuperPacketsLeaveInMtuSizePiecesBothWays) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    const std::string up = payload_pattern(30000);
    const uint8_t up_flags = SVX_TCP_CWR | SVX_TCP_ECE | kPshAck;
    ASSERT_EQ(rig.process(c.client(kClientIsn + 1, kServerIsn + 1, up_flags, up), 1000, true),
              Verdict::drop);
    auto want_up = expected_pieces(up, 1500 - 20 - 12 - 20, kClientIsn + 1, up_flags,
                                   [&](uint32_t seq, uint8_t f, std::string_view piece) {
                                       return c.want_sal(seq, kServerIsn + 1, f, piece);
                                   });
    ASSERT_EQ(want_up.size(), 21u);
    EXPECT_TRUE(same_packets(rig.out(), want_up));

    const std::string down = payload_pattern(20000);
    const uint8_t down_flags = SVX_TCP_FIN | kPshAck;
    ASSERT_EQ(rig.process(c.instance(kServerIsn + 1, kClientIsn + 30001, down_flags, down)),
              Verdict::drop);
    auto want_down = expected_pieces(down, 1500 - 20 - 20, kServerIsn + 1, down_flags,
                                     [&](uint32_t seq, uint8_t f, std::string_view piece) {
                                         return c.want_client(seq, kClientIsn + 30001, f, piece);
                                     });
    ASSERT_EQ(want_down.size(), 14u);
    EXPECT_TRUE(same_packets(rig.out(), want_down));
}

// Every SYN (retransmissions included) is resolved again: with two equal
// static targets both are chosen, and every copy has the same ISS and nonce.
TEST(engine_worker_translator, SynRetransmissionsAreResolvedAgainAcrossBothTargets) {
    WorkerRig::Options options;
    options.static_two_targets = true;
    WorkerRig rig(options);
    Conn c;
    const Bytes syn = c.syn();
    int to_a = 0, to_b = 0;
    for (int i = 0; i < 64; ++i) {
        ASSERT_EQ(rig.process(syn, 1000 + 1000 * static_cast<uint64_t>(i)), Verdict::drop);
        if (i == 0)
            c.learn(rig);
        ASSERT_EQ(rig.out().size(), 1u);
        const Bytes& got = rig.out()[0];
        if (ip_dst(got) == kInstanceA) {
            EXPECT_TRUE(same_packet(got, c.want_syn(kInstanceA)));
            ++to_a;
        } else {
            EXPECT_TRUE(same_packet(got, c.want_syn(kInstanceB)));
            ++to_b;
        }
    }
    // Both stay zero with probability 2^-63.
    EXPECT_GT(to_a, 0);
    EXPECT_GT(to_b, 0);
    EXPECT_EQ(rig.flow_count(), 1u);
    EXPECT_EQ(rig.counters().event(Event::flows_created), 1u);
}

TEST(engine_worker_translator, CloseThroughTheWorkerWithRetransmissionAndTimeWait) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c, 1000));
    rig.process(c.client(kClientIsn + 1, kServerIsn + 1, kFinAck), 2000);
    EXPECT_TRUE(same_packets(rig.out(), {c.want_sal(kClientIsn + 1, kServerIsn + 1, kFinAck)}));
    rig.process(c.instance(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK), 2000);
    const Bytes fin = c.want_control(SVX_CTL_FIN, c.iss + 1, kPeerIss + 1);
    EXPECT_TRUE(
        same_packets(rig.out(), {fin, c.want_client(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK)}));
    // The worker's timer retransmits it.
    rig.tick(2999);
    EXPECT_TRUE(rig.out().empty());
    rig.tick(3000);
    EXPECT_TRUE(same_packets(rig.out(), {fin}));
    rig.process(c.instance_control(SVX_CTL_ACK, kPeerIss + 1, c.iss + 2), 3100);
    EXPECT_TRUE(rig.out().empty());
    rig.tick(20000);
    EXPECT_TRUE(rig.out().empty());
    rig.process(c.instance(kServerIsn + 1, kClientIsn + 2, kFinAck), 3200);
    rig.process(c.client(kClientIsn + 2, kServerIsn + 2, SVX_TCP_ACK), 3300);
    rig.process(c.instance_control(SVX_CTL_FIN, kPeerIss + 1, c.iss + 2), 3400);
    EXPECT_TRUE(same_packets(rig.out(), {c.want_control(SVX_CTL_ACK, c.iss + 2, kPeerIss + 2)}));
    EXPECT_EQ(state_of(rig, kClientPort), SVX_FS_TIME_WAIT);
    EXPECT_EQ(rig.counters().event(Event::flows_closed), 1u);

    // A new SYN from the same client port is a new connection.
    Conn again;
    rig.process(again.syn(), 4000);
    again.learn(rig);
    EXPECT_NE(again.local_flow, c.local_flow);
    EXPECT_TRUE(same_packets(rig.out(), {again.want_syn(kRouter)}));
    EXPECT_EQ(rig.flow_count(), 1u);
}

// [engine] fin-ack-delay = 40 ms: the instance closes first, the client
// acknowledges its TCP FIN, then the instance's SAL FIN arrives at 2020.
WorkerRig::Options delayed_ack_options() {
    WorkerRig::Options options;
    options.flow.fin_ack_delay_ms = 40;
    return options;
}

void instance_sal_fin_arrives(WorkerRig& rig, Conn& c) {
    ASSERT_NO_FATAL_FAILURE(establish(rig, c, 1000));
    rig.process(c.instance(kServerIsn + 1, kClientIsn + 1, kFinAck), 2000);
    rig.process(c.client(kClientIsn + 1, kServerIsn + 2, SVX_TCP_ACK), 2010);
    rig.process(c.instance_control(SVX_CTL_FIN, kPeerIss + 1, c.iss + 1), 2020);
    EXPECT_TRUE(rig.out().empty()) << "the ACK waits for our SAL FIN";
}

// The ACK of the instance's SAL FIN leaves with our own SAL FIN as one
// FIN|ACK (both engines: no simulated time needed).
TEST(engine_worker_translator, DelayedAckRidesOnOurSalFin) {
    WorkerRig rig(delayed_ack_options());
    Conn c;
    ASSERT_NO_FATAL_FAILURE(instance_sal_fin_arrives(rig, c));
    rig.process(c.client(kClientIsn + 1, kServerIsn + 2, kFinAck), 2030);
    rig.process(c.instance(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK), 2040);
    EXPECT_TRUE(
        same_packets(rig.out(), {c.want_control(SVX_CTL_FIN | SVX_CTL_ACK, c.iss + 1, kPeerIss + 2),
                                 c.want_client(kServerIsn + 2, kClientIsn + 2, SVX_TCP_ACK)}));
    rig.process(c.instance_control(SVX_CTL_ACK, kPeerIss + 2, c.iss + 2), 2050);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(state_of(rig, kClientPort), SVX_FS_TIME_WAIT);
}

// ... or alone from the worker's timer when our SAL FIN does not follow.
TEST(engine_worker_translator, DelayedAckLeavesFromTheWorkerTimer) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig rig(delayed_ack_options());
    Conn c;
    ASSERT_NO_FATAL_FAILURE(instance_sal_fin_arrives(rig, c));
    rig.tick(2059);
    EXPECT_TRUE(rig.out().empty());
    rig.tick(2060);
    EXPECT_TRUE(same_packets(rig.out(), {c.want_control(SVX_CTL_ACK, c.iss + 1, kPeerIss + 2)}));
    rig.tick(30000);
    EXPECT_TRUE(rig.out().empty()) << "a pure ACK is never retransmitted";
    EXPECT_EQ(state_of(rig, kClientPort), SVX_FS_CLOSING);
}

TEST(engine_worker_translator, UnacknowledgedFinGivesUpThroughTheWorkerTimer) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c, 1000));
    rig.process(c.client(kClientIsn + 1, kServerIsn + 1, kFinAck), 1000);
    rig.process(c.instance(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK), 1000);
    for (uint64_t at : {2000u, 4000u, 8000u}) {
        rig.tick(at);
        EXPECT_EQ(rig.out().size(), 1u) << at;
    }
    rig.tick(12000);
    EXPECT_TRUE(
        same_packets(rig.out(), {c.want_control(SVX_CTL_RST | SVX_CTL_ACK, c.iss + 2, kPeerIss + 1),
                                 c.want_client_rst(kServerIsn + 1, kClientIsn + 2)}));
    EXPECT_EQ(state_of(rig, kClientPort), SVX_FS_CLOSED);
    EXPECT_EQ(rig.counters().event(Event::flows_closed), 1u);
}

TEST(engine_worker_translator, SalResetClosesTheFlow) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    rig.process(c.instance_control(SVX_CTL_RST | SVX_CTL_ACK, kPeerIss + 1, c.iss + 1));
    EXPECT_TRUE(same_packets(rig.out(), {c.want_client_rst(kServerIsn + 1, kClientIsn + 1)}));
    EXPECT_EQ(state_of(rig, kClientPort), SVX_FS_CLOSED);
    EXPECT_EQ(rig.counters().event(Event::flows_closed), 1u);
}

TEST(engine_worker_translator, AbortAllResetsEveryLiveFlow) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    rig.abort_all();
    EXPECT_TRUE(
        same_packets(rig.out(), {c.want_control(SVX_CTL_RST | SVX_CTL_ACK, c.iss + 1, kPeerIss + 1),
                                 c.want_client_rst(kServerIsn + 1, kClientIsn + 1)}));
}

TEST(engine_worker_tcp, CorruptedSegmentIsDroppedUnlessItsChecksumIsPartial) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    Bytes corrupted = PacketBuilder()
                          .ipv4(kClient, kPublic)
                          .df()
                          .tcp(kClientPort, kPublicPort)
                          .seq(kClientIsn + 1)
                          .ack(kServerIsn + 1)
                          .flags(kPshAck)
                          .window(502)
                          .payload("data")
                          .bad_l4_csum()
                          .build();
    EXPECT_EQ(rig.process(corrupted), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_L4_CSUM), 1u);
    // Locally generated: the kernel has not finished the checksum yet; the
    // translation gets a full one.
    EXPECT_EQ(rig.process(corrupted, 1000, /*partial=*/true), Verdict::drop);
    EXPECT_TRUE(
        same_packets(rig.out(), {c.want_sal(kClientIsn + 1, kServerIsn + 1, kPshAck, "data")}));
}

// ------------------------------------------------------- malformed SAL

struct Malformed {
    const char* what;
    svx_err reason;
    Bytes pkt;
};

// SAL packets to the established flow (dst flow = local_flow, to the
// translator's address), each broken in one way.
std::vector<Malformed> malformed_packets(const Conn& c) {
    auto base = [&] {
        PacketBuilder b;
        b.ipv4(kInstanceA, kTranslatorSal).sal(c.peer_flow, c.local_flow);
        return b;
    };
    auto rst = [&] {
        PacketBuilder b = base();
        b.control(SVX_CTL_RST | SVX_CTL_ACK, kPeerIss + 1, c.iss + 1, kPeerNonce);
        return b;
    };
    std::vector<Malformed> out;
    {
        Bytes p = rst().build();
        p[0] = 0x44; // IHL 4
        out.push_back({"IHL below 5", SVX_E_IP_HDR_LEN, p});
    }
    {
        Bytes p = rst().build();
        p[0] = 0x4f; // IHL 15: 60 bytes, more than the 52 there are
        out.push_back({"IHL beyond the packet", SVX_E_IP_HDR_LEN, p});
    }
    out.push_back(
        {"total length beyond the packet", SVX_E_IP_TOT_LEN, rst().ip_tot_len(53).build()});
    out.push_back(
        {"total length below the header", SVX_E_IP_TOT_LEN, rst().ip_tot_len(19).build()});
    out.push_back({"fragment", SVX_E_IP_FRAGMENT, rst().ip_frag(SVX_IPV4_MF).build()});
    out.push_back({"fragment offset", SVX_E_IP_FRAGMENT, rst().ip_frag(0x0010).build()});
    const std::array<uint8_t, 8> flow_ids_only = {0, 0, 0, 7, 0, 0, 0, 3};
    out.push_back({"shorter than the SAL base header", SVX_E_SAL_TRUNCATED,
                   PacketBuilder().ipv4(kInstanceA, kTranslatorSal).body(flow_ids_only).build()});
    out.push_back({"SHL beyond the packet", SVX_E_SAL_TRUNCATED, rst().sal_shl(9).build()});
    out.push_back({"SHL below 3", SVX_E_SAL_SHL, rst().sal_shl(2).build()});
    out.push_back(
        {"extension type 5", SVX_E_EXT_TYPE, rst().raw_sal_tail({0x50, 4, 0, 0}).build()});
    {
        Bytes short_control = {0x10, 16, SVX_CTL_RST, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        out.push_back(
            {"CONTROL of 16 bytes", SVX_E_EXT_LEN, base().raw_sal_tail(short_control).build()});
    }
    out.push_back(
        {"SOURCE of 3 + 1/4 addresses", SVX_E_EXT_LEN,
         rst().raw_sal_tail({0x40, 13, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0}).build()});
    out.push_back({"SOURCE past the header", SVX_E_EXT_OVERRUN,
                   rst().raw_sal_tail({0x40, 12, 0, 0, 10, 0, 0, 1}).build()});
    out.push_back({"extension header cut by the header end", SVX_E_EXT_OVERRUN,
                   rst().raw_sal_tail({0, 0, 0, 0x20}).build()});
    out.push_back({"eleven elements", SVX_E_EXT_COUNT, rst().pad(12).build()});
    {
        Bytes second_control(SVX_EXT_CONTROL_LEN, 0);
        second_control[0] = 0x10;
        second_control[1] = SVX_EXT_CONTROL_LEN;
        out.push_back({"two CONTROL", SVX_E_EXT_DUP, rst().raw_sal_tail(second_control).build()});
    }
    {
        const std::array<Ipv4Addr, 2> source = {kTranslatorSal, kRouter};
        Bytes second_source = {0x40, 12, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
        PacketBuilder b = rst();
        b.source(source).raw_sal_tail(second_source);
        out.push_back({"two SOURCE", SVX_E_EXT_DUP, b.build()});
    }
    out.push_back({"SAL checksum", SVX_E_SAL_CSUM, rst().bad_sal_csum().build()});
    out.push_back({"SAL checksum of a data packet", SVX_E_SAL_CSUM,
                   base()
                       .tcp(0, 0)
                       .seq(kServerIsn + 1)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_RST | SVX_TCP_ACK)
                       .bad_sal_csum()
                       .build()});
    out.push_back({"transport protocol 99", SVX_E_L4_PROTO,
                   base()
                       .sal_protocol(99)
                       .tcp(0, 0)
                       .seq(kServerIsn + 1)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_RST | SVX_TCP_ACK)
                       .build()});
    out.push_back({"TCP header cut short", SVX_E_L4_TRUNCATED,
                   base().sal_protocol(SVX_IPPROTO_TCP).payload("0123456789").build()});
    out.push_back({"TCP data offset 4", SVX_E_L4_HDR_LEN,
                   base()
                       .tcp(0, 0)
                       .seq(kServerIsn + 1)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_RST | SVX_TCP_ACK)
                       .tcp_doff(4)
                       .build()});
    out.push_back({"TCP data offset beyond the segment", SVX_E_L4_HDR_LEN,
                   base()
                       .tcp(0, 0)
                       .seq(kServerIsn + 1)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_RST | SVX_TCP_ACK)
                       .tcp_doff(15)
                       .payload("abcd")
                       .build()});
    out.push_back({"TCP checksum", SVX_E_L4_CSUM,
                   base()
                       .tcp(0, 0)
                       .seq(kServerIsn + 1)
                       .ack(kClientIsn + 1)
                       .flags(SVX_TCP_RST | SVX_TCP_ACK)
                       .bad_l4_csum()
                       .build()});
    return out;
}

// Each would reset the flow if it were accepted; each is dropped, counted
// under its own reason, answers nothing and leaves the flow as it was.
TEST(engine_worker_malformed, EveryParseErrorIsCountedAndTheFlowUntouched) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    const svx_flow before = *rig.only_flow();
    std::set<svx_err> reasons;
    // The kernel's IPv4 input drops a bad header or total length before any
    // netfilter hook: the module never sees those two.
    const std::set<svx_err> before_hooks = {SVX_E_IP_HDR_LEN, SVX_E_IP_TOT_LEN};
    for (const Malformed& m : malformed_packets(c)) {
        if (WorkerRig::kernel_mode() && before_hooks.contains(m.reason))
            continue;
        SCOPED_TRACE(m.what);
        reasons.insert(m.reason);
        const uint64_t drops = rig.counters().drops(m.reason);
        const uint64_t not_ours = rig.counters().event(Event::not_ours);
        EXPECT_EQ(rig.process(m.pkt), Verdict::drop);
        EXPECT_EQ(rig.counters().drops(m.reason), drops + 1) << hexdump(m.pkt);
        EXPECT_EQ(rig.counters().event(Event::not_ours), not_ours);
        EXPECT_TRUE(rig.out().empty());
        const svx_flow after = *rig.only_flow();
        EXPECT_EQ(snapshot_of(after), snapshot_of(before));
        EXPECT_EQ(after.stats.packets_in[1], before.stats.packets_in[1]);
        EXPECT_EQ(after.last_ms, before.last_ms);
    }
    // Every parse error the worker can see: IP_TRUNCATED and IP_VERSION are
    // "not ours", NOT_SAL cannot happen for protocol 144, and the kernel
    // checks IPv4 header checksums before the queue.
    std::set<svx_err> all = {
        SVX_E_IP_HDR_LEN, SVX_E_IP_TOT_LEN, SVX_E_IP_FRAGMENT,  SVX_E_SAL_TRUNCATED, SVX_E_SAL_SHL,
        SVX_E_EXT_TYPE,   SVX_E_EXT_LEN,    SVX_E_EXT_OVERRUN,  SVX_E_EXT_COUNT,     SVX_E_EXT_DUP,
        SVX_E_SAL_CSUM,   SVX_E_L4_PROTO,   SVX_E_L4_TRUNCATED, SVX_E_L4_HDR_LEN,    SVX_E_L4_CSUM};
    if (WorkerRig::kernel_mode())
        std::erase_if(all, [&](svx_err e) { return before_hooks.contains(e); });
    EXPECT_EQ(reasons, all);
    // The genuine reset still works.
    rig.process(c.instance_control(SVX_CTL_RST | SVX_CTL_ACK, kPeerIss + 1, c.iss + 1));
    EXPECT_TRUE(same_packets(rig.out(), {c.want_client_rst(kServerIsn + 1, kClientIsn + 1)}));
}

TEST(engine_worker_malformed, TooShortOrNotIpv4IsNotOurs) {
    SKIP_IN_KERNEL_RIG("the kernel's IPv4 input drops these before any hook");
    WorkerRig rig;
    Bytes ipv6_like = xlt::instance_control(SVX_CTL_ACK, 1, 2);
    ipv6_like[0] = 0x65;
    const Bytes stub = {0x45, 0, 0, 19, 0, 0, 0, 0, 64, SVX_IPPROTO_SAL};
    for (const Bytes* p : {static_cast<const Bytes*>(&ipv6_like), &stub}) {
        EXPECT_EQ(rig.process(*p), Verdict::accept);
        EXPECT_TRUE(rig.out().empty());
    }
    EXPECT_EQ(rig.counters().event(Event::not_ours), 2u);
}

// ------------------------------------------------- packets without a flow

TEST(engine_worker_no_flow, SalPacketForAnUnknownFlowGetsThePassiveRst) {
    WorkerRig rig;
    const uint32_t unknown = 0x4242, src = 0x77;
    // Data (no CONTROL): RST|ACK, ackno 0, zero nonce.
    Bytes data = PacketBuilder()
                     .ipv4(kInstanceA, kTranslatorSal)
                     .df()
                     .sal(src, unknown)
                     .tcp(0, 0)
                     .seq(5)
                     .ack(6)
                     .flags(SVX_TCP_ACK)
                     .payload("stale")
                     .build();
    EXPECT_EQ(rig.process(data), Verdict::drop);
    Bytes want = PacketBuilder()
                     .ipv4(kTranslatorSal, kInstanceA)
                     .sal(unknown, src)
                     .control(SVX_CTL_RST | SVX_CTL_ACK, 0, 0, uint64_t{0})
                     .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    // A SAL ACK: RST with verno = its ackno, its nonce echoed.
    rig.process(PacketBuilder()
                    .ipv4(kInstanceA, kTranslatorSal)
                    .sal(src, unknown)
                    .control(SVX_CTL_ACK, 100, 200, 0x0102030405060708)
                    .build());
    want = PacketBuilder()
               .ipv4(kTranslatorSal, kInstanceA)
               .sal(unknown, src)
               .control(SVX_CTL_RST, 200, 0, 0x0102030405060708)
               .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    // A FIN: the reference's "+32" in the ackno.
    rig.process(PacketBuilder()
                    .ipv4(kInstanceA, kTranslatorSal)
                    .sal(src, unknown)
                    .control(SVX_CTL_FIN, 100, 200, 0x0102030405060708)
                    .build());
    want = PacketBuilder()
               .ipv4(kTranslatorSal, kInstanceA)
               .sal(unknown, src)
               .control(SVX_CTL_RST | SVX_CTL_ACK, 0, 132, 0x0102030405060708)
               .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    EXPECT_EQ(rig.counters().event(Event::passive_resets), 3u);
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_FLOW), 3u);
    EXPECT_EQ(rig.flow_count(), 0u);
}

TEST(engine_worker_no_flow, NoPassiveRstForAResetOrAPureSyn) {
    WorkerRig rig;
    rig.process(PacketBuilder()
                    .ipv4(kInstanceA, kTranslatorSal)
                    .sal(0x77, 0x4242)
                    .control(SVX_CTL_RST | SVX_CTL_ACK, 1, 2, 3)
                    .build());
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_FLOW), 1u);
    // A SYN to the translator's address: nothing here serves it, and SYNs are
    // left unanswered as by the reference.
    Bytes syn_to_us = PacketBuilder()
                          .ipv4(kInstanceB, kTranslatorSal)
                          .sal(0x55, 0)
                          .control(SVX_CTL_SYN, 9, 0, 9)
                          .service(service_id())
                          .tcp(0, 0)
                          .seq(1)
                          .flags(SVX_TCP_SYN)
                          .build();
    EXPECT_EQ(rig.process(syn_to_us), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().event(Event::passive_resets), 0u);
    EXPECT_EQ(rig.flow_count(), 0u);
}

TEST(engine_worker_no_flow, TcpSegmentWithoutAFlowGetsAReset) {
    WorkerRig rig;
    // With ACK: RST, seq = its ack.
    EXPECT_EQ(rig.process(xlt::client_segment(1000, 5000, SVX_TCP_ACK, "late")), Verdict::drop);
    Bytes want = PacketBuilder()
                     .ipv4(kPublic, kClient)
                     .df()
                     .tcp(kPublicPort, kClientPort)
                     .seq(5000)
                     .flags(SVX_TCP_RST)
                     .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    EXPECT_TRUE(tcp_checksums_valid(rig.out()[0]));
    // Without ACK: RST|ACK, ack = seq + length (FIN counts one).
    rig.process(xlt::client_segment(1000, 0, SVX_TCP_FIN, "ab"));
    want = PacketBuilder()
               .ipv4(kPublic, kClient)
               .df()
               .tcp(kPublicPort, kClientPort)
               .ack(1003)
               .flags(SVX_TCP_RST | SVX_TCP_ACK)
               .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    // A reset is never answered.
    rig.process(xlt::client_segment(1000, 0, SVX_TCP_RST));
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().event(Event::tcp_reset_replies), 2u);
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_FLOW), 3u);
    EXPECT_EQ(rig.flow_count(), 0u);
}

// ------------------------------------------------------------ not ours

struct Foreign {
    const char* what;
    Bytes pkt;
};

void expect_all_accepted_untouched(WorkerRig& rig, const std::vector<Foreign>& packets) {
    for (const Foreign& f : packets) {
        SCOPED_TRACE(f.what);
        const uint64_t not_ours = rig.counters().event(Event::not_ours);
        EXPECT_EQ(rig.process(f.pkt), Verdict::accept);
        EXPECT_TRUE(rig.out().empty());
        EXPECT_EQ(rig.counters().event(Event::not_ours), not_ours + 1);
    }
    EXPECT_EQ(rig.flow_count(), 0u);
}

TEST(engine_worker_not_ours, OtherProtocolAddressOrPortIsAcceptedUntouched) {
    WorkerRig::Options options;
    options.host = true;
    WorkerRig rig(options);
    const std::array<uint8_t, 8> echo = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};
    expect_all_accepted_untouched(
        rig, {{"UDP", PacketBuilder().ipv4(kClient, kPublic).udp(5353, 53).payload("q").build()},
              {"ICMP echo", PacketBuilder().ipv4(kClient, kPublic).ip_proto(1).body(echo).build()},
              {"TCP to another port", PacketBuilder()
                                          .ipv4(kClient, kPublic)
                                          .tcp(kClientPort, 443)
                                          .seq(1)
                                          .flags(SVX_TCP_SYN)
                                          .build()},
              {"TCP to another address", PacketBuilder()
                                             .ipv4(kClient, kElsewhere)
                                             .tcp(kClientPort, kPublicPort)
                                             .seq(1)
                                             .flags(SVX_TCP_SYN)
                                             .build()},
              {"local server talking to a local client", PacketBuilder()
                                                             .ipv4(kInstanceA, kInstanceA)
                                                             .tcp(kServerPort, 33333)
                                                             .seq(1)
                                                             .ack(2)
                                                             .flags(SVX_TCP_ACK)
                                                             .build()}});
}

// SAL that is not addressed to any of our addresses (translator, host
// agent, router) belongs to someone else: the engine must let it pass, not
// drop it and certainly not answer it with a passive RST in the other
// host's name.
TEST(engine_worker_not_ours, SalToAnotherAddressIsAcceptedUntouched) {
    WorkerRig::Options options;
    options.host = true;
    WorkerRig rig(options);
    expect_all_accepted_untouched(rig, {{"SAL data", PacketBuilder()
                                                         .ipv4(kInstanceB, kElsewhere)
                                                         .sal(0x77, 0x4242)
                                                         .tcp(0, 0)
                                                         .seq(1)
                                                         .ack(2)
                                                         .flags(SVX_TCP_ACK)
                                                         .build()},
                                        {"SAL FIN", PacketBuilder()
                                                        .ipv4(kInstanceB, kElsewhere)
                                                        .sal(0x77, 0x4242)
                                                        .control(SVX_CTL_FIN, 1, 2, 3)
                                                        .build()},
                                        {"SAL SYN", PacketBuilder()
                                                        .ipv4(kInstanceB, kElsewhere)
                                                        .sal(0x77, 0)
                                                        .control(SVX_CTL_SYN, 1, 0, 3)
                                                        .service(service_id())
                                                        .tcp(0, 0)
                                                        .seq(1)
                                                        .flags(SVX_TCP_SYN)
                                                        .build()}});
    EXPECT_EQ(rig.counters().event(Event::passive_resets), 0u);
}

// --------------------------------------------------------- table limits

TEST(engine_worker_limits, OldestEmbryonicFlowIsEvictedForANewSyn) {
    WorkerRig::Options options;
    options.limits.max_embryonic = 2;
    WorkerRig rig(options);
    Conn first{.client_port = 40001}, second{.client_port = 40002}, third{.client_port = 40003};
    rig.process(first.syn(), 1000);
    first.learn(rig);
    rig.process(second.syn(), 1001);
    rig.process(third.syn(), 1002);
    third.learn(rig);
    EXPECT_EQ(rig.counters().event(Event::embryonic_evicted), 1u);
    // The victim's client is refused; the new SYN goes out.
    EXPECT_TRUE(same_packets(rig.out(),
                             {first.want_client_rst(0, kClientIsn + 1), third.want_syn(kRouter)}));
    EXPECT_EQ(rig.flow_count(), 2u);
    EXPECT_FALSE(rig.flow_by_tcp_remote_port(40001));
    EXPECT_TRUE(rig.flow_by_tcp_remote_port(40002));
    EXPECT_TRUE(rig.flow_by_tcp_remote_port(40003));
    // The evicted flow is gone: its SYN-ACK gets a passive RST.
    rig.process(first.synack(), 1003);
    ASSERT_EQ(rig.out().size(), 1u);
    EXPECT_EQ(rig.counters().event(Event::passive_resets), 1u);
}

TEST(engine_worker_limits, EstablishedFlowsAreNeverEvictedAndAFullTableRefuses) {
    WorkerRig::Options options;
    options.limits.max_flows = 3;
    options.limits.max_embryonic = 1;
    WorkerRig rig(options);
    Conn a{.client_port = 40001, .peer_flow = 11}, b{.client_port = 40002, .peer_flow = 12},
        c{.client_port = 40003, .peer_flow = 13}, d{.client_port = 40004, .peer_flow = 14},
        e{.client_port = 40005, .peer_flow = 15};
    ASSERT_NO_FATAL_FAILURE(establish(rig, a, 1000));
    ASSERT_NO_FATAL_FAILURE(establish(rig, b, 1001));
    rig.process(c.syn(), 1002); // embryonic
    // d's SYN evicts c, whose client is refused.
    rig.process(d.syn(), 1003);
    d.learn(rig);
    EXPECT_TRUE(
        same_packets(rig.out(), {c.want_client_rst(0, kClientIsn + 1), d.want_syn(kRouter)}));
    EXPECT_EQ(rig.counters().event(Event::embryonic_evicted), 1u);
    rig.process(d.synack(), 1003);
    rig.process(d.client(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK), 1003);
    EXPECT_TRUE(same_packets(rig.out(), {d.want_handshake_ack()}));
    EXPECT_FALSE(rig.flow_by_tcp_remote_port(40003));
    // Three established flows: the next SYN finds no embryonic flow to evict.
    EXPECT_EQ(rig.process(e.syn(), 1004), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().event(Event::table_full), 1u);
    EXPECT_EQ(rig.counters().event(Event::embryonic_evicted), 1u);
    EXPECT_EQ(rig.flow_count(), 3u);
    for (uint16_t port : {40001, 40002, 40004})
        EXPECT_EQ(state_of(rig, port), SVX_FS_ESTABLISHED) << port;
}

TEST(engine_worker_limits, FlowsExpireByTheirStatesTimeout) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig::Options options;
    options.limits.timeout_ms = {1000, 5000, 2000,
                                 500}; // embryonic, established, closing, time-wait
    WorkerRig rig(options);
    const uint64_t t = 10000;
    Conn embryonic{.client_port = 40001, .peer_flow = 11},
        established{.client_port = 40002, .peer_flow = 12},
        closing{.client_port = 40003, .peer_flow = 13},
        time_wait{.client_port = 40004, .peer_flow = 14};
    rig.process(embryonic.syn(), t);
    embryonic.learn(rig);
    ASSERT_NO_FATAL_FAILURE(establish(rig, established, t));
    ASSERT_NO_FATAL_FAILURE(establish(rig, closing, t));
    rig.process(closing.client(kClientIsn + 1, kServerIsn + 1, kFinAck), t);
    ASSERT_NO_FATAL_FAILURE(establish(rig, time_wait, t));
    const Conn& w = time_wait;
    rig.process(w.client(kClientIsn + 1, kServerIsn + 1, kFinAck), t);
    rig.process(w.instance(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK), t);
    rig.process(w.instance_control(SVX_CTL_ACK, kPeerIss + 1, w.iss + 2), t);
    rig.process(w.instance_control(SVX_CTL_FIN, kPeerIss + 1, w.iss + 2), t);
    ASSERT_EQ(state_of(rig, 40003), SVX_FS_CLOSING);
    ASSERT_EQ(state_of(rig, 40004), SVX_FS_TIME_WAIT);
    ASSERT_EQ(rig.flow_count(), 4u);

    rig.tick(t + 499);
    EXPECT_EQ(rig.flow_count(), 4u);
    EXPECT_TRUE(rig.out().empty());
    rig.tick(t + 500); // time-wait: removed silently
    EXPECT_EQ(rig.flow_count(), 3u);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_FALSE(rig.flow_by_tcp_remote_port(40004));
    rig.tick(t + 1000); // embryonic: the client is refused
    EXPECT_EQ(rig.flow_count(), 2u);
    EXPECT_TRUE(same_packets(rig.out(), {embryonic.want_client_rst(0, kClientIsn + 1)}));
    rig.tick(t + 1999);
    EXPECT_EQ(rig.flow_count(), 2u);
    rig.tick(t + 2000); // closing: reset on both sides
    EXPECT_TRUE(same_packets(
        rig.out(), {closing.want_control(SVX_CTL_RST | SVX_CTL_ACK, closing.iss + 1, kPeerIss + 1),
                    closing.want_client_rst(kServerIsn + 1, kClientIsn + 2)}));
    EXPECT_EQ(rig.flow_count(), 1u);
    rig.tick(t + 5000); // established
    EXPECT_TRUE(same_packets(
        rig.out(),
        {established.want_control(SVX_CTL_RST | SVX_CTL_ACK, established.iss + 1, kPeerIss + 1),
         established.want_client_rst(kServerIsn + 1, kClientIsn + 1)}));
    EXPECT_EQ(rig.flow_count(), 0u);
    EXPECT_EQ(rig.counters().event(Event::flows_expired), 4u);
}

// Traffic keeps a flow alive: the timeout counts from its last packet.
TEST(engine_worker_limits, TrafficRestartsTheTimeout) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig::Options options;
    options.limits.timeout_ms = {1000, 5000, 2000, 500};
    WorkerRig rig(options);
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c, 10000));
    rig.process(c.client(kClientIsn + 1, kServerIsn + 1, kPshAck, "x"), 14000);
    rig.tick(15000);
    EXPECT_EQ(rig.flow_count(), 1u);
    rig.tick(19000);
    EXPECT_EQ(rig.flow_count(), 0u);
}

// A flow retransmitting its SAL FIN expires at its own closing timeout even
// when a younger closing flow exists: the retransmission timer must not
// push it behind that flow in the time-ordered list (expiry stops at the
// first flow that has not expired).
TEST(engine_worker_limits, RetransmittingFlowExpiresOnTime) {
    SKIP_IN_KERNEL_RIG("simulated time (tick)");
    WorkerRig::Options options;
    options.limits.timeout_ms = {1000, 5000, 2000, 500};
    WorkerRig rig(options);
    Conn old_flow{.client_port = 40001, .peer_flow = 11},
        young_flow{.client_port = 40002, .peer_flow = 12};
    ASSERT_NO_FATAL_FAILURE(establish(rig, old_flow, 10000));
    ASSERT_NO_FATAL_FAILURE(establish(rig, young_flow, 10000));
    // Old: its client's FIN is acknowledged at 10000, the SAL FIN pending.
    rig.process(old_flow.client(kClientIsn + 1, kServerIsn + 1, kFinAck), 10000);
    rig.process(old_flow.instance(kServerIsn + 1, kClientIsn + 2, SVX_TCP_ACK), 10000);
    ASSERT_EQ(rig.flow_by_tcp_remote_port(40001)->ctl_pending, SVX_CTL_FIN);
    // Young: closing since 10500, nothing pending.
    rig.process(young_flow.client(kClientIsn + 1, kServerIsn + 1, kFinAck), 10500);
    rig.tick(11000); // the SAL FIN is retransmitted
    EXPECT_EQ(rig.out().size(), 1u);
    rig.tick(12000); // old: 10000 + 2000
    EXPECT_FALSE(rig.flow_by_tcp_remote_port(40001)) << "expired late";
    EXPECT_TRUE(rig.flow_by_tcp_remote_port(40002));
    EXPECT_EQ(rig.counters().event(Event::flows_expired), 1u);
}

TEST(engine_worker_shards, FlowIdsAndPortsAreCongruentToTheWorkerIndex) {
    SKIP_IN_KERNEL_RIG("NFQUEUE worker shards");
    constexpr unsigned kIndex = 2, kCount = 4;
    {
        WorkerRig::Options options;
        options.index = kIndex;
        options.count = kCount;
        WorkerRig rig(options);
        for (uint16_t i = 0; i < 32; ++i)
            rig.process(Conn{.client_port = static_cast<uint16_t>(41000 + i)}.syn());
        auto flows = rig.flows();
        ASSERT_EQ(flows.size(), 32u);
        std::set<uint32_t> ids;
        for (const auto& f : flows) {
            EXPECT_EQ(f.flow.local_flow % kCount, kIndex) << f.flow.local_flow;
            EXPECT_NE(f.flow.local_flow, 0u);
            EXPECT_EQ(f.worker, kIndex);
            ids.insert(f.flow.local_flow);
        }
        EXPECT_EQ(ids.size(), flows.size());
    }
    {
        WorkerRig::Options options;
        options.translator = false;
        options.host = true;
        options.index = kIndex;
        options.count = kCount;
        WorkerRig rig(options);
        for (uint32_t i = 0; i < 32; ++i) {
            Bytes syn = PacketBuilder()
                            .ipv4(kTranslatorSal, kInstanceA)
                            .sal(0x1000 + i, 0)
                            .control(SVX_CTL_SYN, kIss, 0, kNonce)
                            .service(service_id())
                            .tcp(0, 0)
                            .seq(kClientIsn)
                            .flags(SVX_TCP_SYN)
                            .build();
            rig.process(syn);
            ASSERT_EQ(rig.out().size(), 1u);
        }
        auto flows = rig.flows();
        ASSERT_EQ(flows.size(), 32u);
        std::set<uint16_t> ports;
        for (const auto& f : flows) {
            EXPECT_EQ(f.flow.local_flow % kCount, kIndex);
            EXPECT_EQ(f.flow.tcp_self_port % kCount, kIndex) << f.flow.tcp_self_port;
            EXPECT_GE(f.flow.tcp_self_port, 20000);
            EXPECT_LE(f.flow.tcp_self_port, 59999);
            ports.insert(f.flow.tcp_self_port);
        }
        EXPECT_EQ(ports.size(), flows.size());
    }
}

// ------------------------------------------------------------------- ICMP

// ICMP destination unreachable with its checksum.
Bytes icmp_unreachable(uint8_t code, uint16_t mtu, std::span<const uint8_t> quoted) {
    Bytes m(SVX_ICMP_HDR_LEN + quoted.size(), 0);
    m[0] = SVX_ICMP_DEST_UNREACH;
    m[1] = code;
    svx_put_be16(m.data() + 6, mtu);
    std::copy(quoted.begin(), quoted.end(), m.begin() + SVX_ICMP_HDR_LEN);
    svx_put_be16(m.data() + 2, svx_csum(m.data(), m.size()));
    return m;
}

Bytes icmp_frag_needed(uint16_t mtu, std::span<const uint8_t> quoted) {
    return PacketBuilder()
        .ipv4(kRouter, kTranslatorSal)
        .ip_proto(1)
        .body(icmp_unreachable(SVX_ICMP_FRAG_NEEDED, mtu, quoted))
        .build();
}

TEST(engine_worker_icmp, FragNeededReachesTheClient) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    const std::string payload(1448, 'z');
    rig.process(c.client(kClientIsn + 1, kServerIsn + 1, kPshAck, payload));
    const Bytes sent = c.want_sal(kClientIsn + 1, kServerIsn + 1, kPshAck, payload);
    ASSERT_TRUE(same_packets(rig.out(), {sent}));
    EXPECT_EQ(rig.process(icmp_frag_needed(1400, std::span(sent).first(548))), Verdict::drop);
    // Built field by field: ICMP 3/4, MTU 1388, quoting the client's packet.
    Bytes quoted = PacketBuilder()
                       .ipv4(kClient, kPublic)
                       .df()
                       .ip_proto(SVX_IPPROTO_TCP)
                       .ip_tot_len(1488)
                       .body(std::array<uint8_t, 8>{0x9c, 0x40, 0, 80, 0x66, 0xfc, 0x88, 0x2d})
                       .build();
    Bytes want = PacketBuilder()
                     .ipv4(kPublic, kClient)
                     .ip_proto(1)
                     .body(icmp_unreachable(SVX_ICMP_FRAG_NEEDED, 1388, quoted))
                     .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
    EXPECT_EQ(rig.counters().event(Event::sal_to_tcp), 2u);
}

// The minimal RFC 792 quote through the worker (the packet sits in an
// exact-size buffer, so an over-read shows under AddressSanitizer).
TEST(engine_worker_icmp, ShortestQuoteAboutOurFlow) {
    WorkerRig rig;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(establish(rig, c));
    const Bytes sent = c.want_sal(kClientIsn + 1, kServerIsn + 1, kPshAck, std::string(1448, 'z'));
    EXPECT_EQ(rig.process(icmp_frag_needed(1400, std::span(sent).first(28))), Verdict::drop);
    EXPECT_EQ(rig.out().size(), 1u);
}

TEST(engine_worker_icmp, AboutAnUnknownFlowIsDroppedAndOtherIcmpIsNotOurs) {
    WorkerRig rig;
    Bytes unknown = PacketBuilder()
                        .ipv4(kTranslatorSal, kInstanceA)
                        .sal(0x4242, 7)
                        .tcp(0, 0)
                        .payload(std::string(100, 'q'))
                        .build();
    EXPECT_EQ(rig.process(icmp_frag_needed(1400, unknown)), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_FLOW), 1u);
    const std::array<uint8_t, 8> echo = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};
    EXPECT_EQ(
        rig.process(PacketBuilder().ipv4(kRouter, kTranslatorSal).ip_proto(1).body(echo).build()),
        Verdict::accept);
    EXPECT_EQ(rig.counters().event(Event::not_ours), 1u);
}

// ------------------------------------------------------------- host agent

struct HostConn {
    uint16_t flow_port = 0;
    uint32_t local_flow = 0;
    uint32_t iss = 0;
    uint64_t nonce = 0;

    void learn(const WorkerRig& rig) {
        auto f = rig.only_flow();
        if (!f)
            throw std::runtime_error("not exactly one flow");
        flow_port = f->tcp_self_port;
        local_flow = f->local_flow;
        iss = f->iss;
        nonce = nonce_as_u64(f->local_nonce);
    }
    Bytes want_server(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                      uint16_t window = 502) const {
        PacketBuilder b;
        b.ipv4(kTranslatorSal, kInstanceA)
            .df()
            .tcp(flow_port, kServerPort)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(window)
            .payload(payload);
        if (flags & SVX_TCP_SYN)
            b.window(64240).mss(1448).wscale(7);
        return b.build();
    }
    Bytes server(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {}) const {
        PacketBuilder b;
        b.ipv4(kInstanceA, kTranslatorSal)
            .df()
            .tcp(kServerPort, flow_port)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(65160)
            .payload(payload);
        if (flags & SVX_TCP_SYN)
            b.mss(1460).wscale(7);
        return b.build();
    }
    Bytes want_synack() const {
        const std::array<Ipv4Addr, 3> source = {kTranslatorSal, kRouter, kInstanceA};
        return PacketBuilder()
            .ipv4(kInstanceA, kTranslatorSal)
            .df()
            .sal(local_flow, kLocalFlow)
            .control(SVX_CTL_SYN | SVX_CTL_ACK, iss, kIss + 1, nonce)
            .source(source)
            .tcp(0, 0)
            .seq(kServerIsn)
            .ack(kClientIsn + 1)
            .flags(SVX_TCP_SYN | SVX_TCP_ACK)
            .window(65160)
            .mss(1448)
            .wscale(7)
            .build();
    }
    Bytes handshake_ack(uint64_t with_nonce = kNonce) const {
        return PacketBuilder()
            .ipv4(kTranslatorSal, kInstanceA)
            .df()
            .sal(kLocalFlow, local_flow)
            .control(SVX_CTL_ACK, kIss + 1, iss + 1, with_nonce)
            .service(service_id())
            .tcp(0, 0)
            .seq(kClientIsn + 1)
            .ack(kServerIsn + 1)
            .flags(SVX_TCP_ACK)
            .window(502)
            .build();
    }
    Bytes want_sal(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {}) const {
        return PacketBuilder()
            .ipv4(kInstanceA, kTranslatorSal)
            .df()
            .sal(local_flow, kLocalFlow)
            .tcp(0, 0)
            .seq(seq)
            .ack(ack)
            .flags(flags)
            .window(65160)
            .payload(payload)
            .build();
    }
};

WorkerRig host_rig(engine::FlowLimits limits = {}) {
    WorkerRig::Options options;
    options.translator = false;
    options.host = true;
    options.limits = limits;
    return WorkerRig(options);
}

TEST(engine_worker_host, SynToTheLocalServerAndTheWholeHandshake) {
    WorkerRig rig = host_rig();
    const Bytes syn = host::sal_syn();
    EXPECT_EQ(rig.process(syn), Verdict::drop);
    HostConn h;
    h.learn(rig);
    ASSERT_TRUE(same_packets(rig.out(), {h.want_server(kClientIsn, 0, SVX_TCP_SYN)}));
    EXPECT_TRUE(tcp_checksums_valid(rig.out()[0]));
    // A duplicate SYN is delivered again to the same flow.
    rig.process(syn, 2000);
    EXPECT_TRUE(same_packets(rig.out(), {h.want_server(kClientIsn, 0, SVX_TCP_SYN)}));
    EXPECT_EQ(rig.flow_count(), 1u);
    EXPECT_EQ(rig.counters().event(Event::flows_created), 1u);

    // The server's SYN-ACK: SOURCE echoed, self appended, to SOURCE #0.
    EXPECT_EQ(rig.process(h.server(kServerIsn, kClientIsn + 1, SVX_TCP_SYN | SVX_TCP_ACK)),
              Verdict::drop);
    ASSERT_TRUE(same_packets(rig.out(), {h.want_synack()}));
    EXPECT_TRUE(sal_checksums_valid(rig.out()[0]));

    // A handshake ACK with the wrong nonce is refused...
    EXPECT_EQ(rig.process(h.handshake_ack(kNonce ^ 0xff)), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NONCE), 1u);
    EXPECT_EQ(rig.only_flow()->state, SVX_FS_SYN_RECV);
    // ... the right one completes it.
    rig.process(h.handshake_ack());
    EXPECT_TRUE(
        same_packets(rig.out(), {h.want_server(kClientIsn + 1, kServerIsn + 1, SVX_TCP_ACK)}));
    EXPECT_EQ(rig.only_flow()->state, SVX_FS_ESTABLISHED);

    rig.process(PacketBuilder()
                    .ipv4(kTranslatorSal, kInstanceA)
                    .df()
                    .sal(kLocalFlow, h.local_flow)
                    .tcp(0, 0)
                    .seq(kClientIsn + 1)
                    .ack(kServerIsn + 1)
                    .flags(kPshAck)
                    .window(502)
                    .payload("GET /")
                    .build());
    EXPECT_TRUE(
        same_packets(rig.out(), {h.want_server(kClientIsn + 1, kServerIsn + 1, kPshAck, "GET /")}));
    rig.process(h.server(kServerIsn + 1, kClientIsn + 6, kPshAck, "200 OK"));
    EXPECT_TRUE(
        same_packets(rig.out(), {h.want_sal(kServerIsn + 1, kClientIsn + 6, kPshAck, "200 OK")}));
}

TEST(engine_worker_host, SegmentFromTheServiceWithoutAFlowIsReset) {
    WorkerRig rig = host_rig();
    Bytes stray = PacketBuilder()
                      .ipv4(kInstanceA, kTranslatorSal)
                      .df()
                      .tcp(kServerPort, 20002)
                      .seq(100)
                      .ack(200)
                      .flags(kPshAck)
                      .payload("x")
                      .build();
    EXPECT_EQ(rig.process(stray), Verdict::drop);
    Bytes want = PacketBuilder()
                     .ipv4(kTranslatorSal, kInstanceA)
                     .df()
                     .tcp(20002, kServerPort)
                     .seq(200)
                     .flags(SVX_TCP_RST)
                     .build();
    EXPECT_TRUE(same_packets(rig.out(), {want}, IpId::compare));
}

TEST(engine_worker_host, SynForAServiceNotHereIsDroppedSilently) {
    WorkerRig rig = host_rig();
    Bytes syn = PacketBuilder()
                    .ipv4(kTranslatorSal, kInstanceA)
                    .sal(kLocalFlow, 0)
                    .control(SVX_CTL_SYN, kIss, 0, kNonce)
                    .service("00009999")
                    .tcp(0, 0)
                    .seq(kClientIsn)
                    .flags(SVX_TCP_SYN)
                    .build();
    EXPECT_EQ(rig.process(syn), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_ROUTE), 1u);
    EXPECT_EQ(rig.flow_count(), 0u);
}

// A SYN the host agent refuses (SOURCE longer than a flow keeps) must not
// cost a half-open connection its place: today the embryonic limit evicts
// the oldest one before the SYN is even checked.
TEST(engine_worker_host, RefusedSynDoesNotEvictAnEmbryonicFlow) {
    engine::FlowLimits limits;
    limits.max_embryonic = 1;
    WorkerRig rig = host_rig(limits);
    rig.process(host::sal_syn());
    ASSERT_EQ(rig.flow_count(), 1u);
    std::vector<Ipv4Addr> hops;
    for (uint8_t i = 0; i < SVX_FLOW_MAX_SOURCE + 1; ++i)
        hops.push_back({10, 1, 0, static_cast<uint8_t>(i + 1)});
    Bytes long_source = PacketBuilder()
                            .ipv4(kTranslatorSal, kInstanceA)
                            .sal(kLocalFlow + 1, 0)
                            .control(SVX_CTL_SYN, kIss, 0, kNonce)
                            .service(service_id())
                            .source(hops)
                            .tcp(0, 0)
                            .seq(kClientIsn)
                            .flags(SVX_TCP_SYN)
                            .build();
    EXPECT_EQ(rig.process(long_source), Verdict::drop);
    EXPECT_EQ(rig.counters().drops(SVX_E_EXT_LEN), 1u);
    EXPECT_EQ(rig.counters().event(Event::embryonic_evicted), 0u);
    EXPECT_TRUE(rig.out().empty()) << "the embryonic flow's server got a reset";
    EXPECT_EQ(rig.flow_count(), 1u);
}

// ------------------------------------------------------ the service router

// The translator's SAL SYN for service: to dst with ttl, and once through
// the router (forwarded) with SOURCE [translator, router].
Bytes router_syn(std::string_view service, Ipv4Addr dst, uint8_t ttl, bool forwarded) {
    PacketBuilder b;
    b.ipv4(kTranslatorSal, dst)
        .ttl(ttl)
        .sal(kLocalFlow, 0)
        .control(SVX_CTL_SYN, kIss, 0, kNonce)
        .service(service);
    if (forwarded) {
        const std::array<Ipv4Addr, 2> source = {kTranslatorSal, kRouter};
        b.source(source);
    }
    return b.tcp(0, 0).seq(kClientIsn).flags(SVX_TCP_SYN).window(64240).mss(1448).wscale(7).build();
}

// As the translator sends it to the router (no SOURCE yet).
Bytes syn_to_router(std::string_view service, uint8_t ttl = 64) {
    return router_syn(service, kRouter, ttl, /*forwarded=*/false);
}

// The same SYN after the router: to target, TTL - 1, SOURCE [translator, router].
Bytes syn_from_router(std::string_view service, Ipv4Addr target) {
    return router_syn(service, target, 63, /*forwarded=*/true);
}

svx_sid sid_of(std::string_view text) {
    return sid_from_text(text);
}

WorkerRig router_rig() {
    WorkerRig::Options options;
    options.translator = false;
    options.router = true;
    return WorkerRig(options);
}

constexpr std::string_view kServiceX = "00aa0001";
constexpr std::string_view kServiceY = "00aa0002";
constexpr std::string_view kServiceZ = "00bb0001";

TEST(engine_worker_router, SynIsForwardedToTheInstanceWithSource) {
    WorkerRig rig = router_rig();
    rig.router_table().add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA,
                                  router::kStaticPriority, 1, router::Clock::now());
    rig.push_routes();
    EXPECT_EQ(rig.process(syn_to_router(kServiceX)), Verdict::drop);
    ASSERT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}));
    EXPECT_EQ(rig.counters().event(Event::router_forwarded), 1u);
    EXPECT_EQ(rig.flow_count(), 0u) << "the router keeps no flow";
    // A checksum left partial (a local sender) is not checked but recomputed.
    EXPECT_EQ(rig.process(syn_to_router(kServiceX), 1000, /*partial=*/true), Verdict::drop);
    EXPECT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}));
}

TEST(engine_worker_router, LongestPrefixPriorityAndNoRoute) {
    WorkerRig rig = router_rig();
    auto now = router::Clock::now();
    auto& table = rig.router_table();
    // X exactly: A at priority 2 beats B at 1; everything under 00aa/16: B.
    table.add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA, 2, 1, now);
    table.add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceB, 1, 100, now);
    table.add_static(sid_of("00aa"), 16, kInstanceB, 1, 1, now);
    rig.push_routes();
    for (int i = 0; i < 8; ++i) {
        rig.process(syn_to_router(kServiceX));
        ASSERT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}));
    }
    EXPECT_EQ(rig.router_chosen(sid_of(kServiceX), SVX_SID_BITS, kInstanceA), 8u);
    // A new table keeps the counts of the targets it keeps.
    table.add_static(sid_of(kServiceZ), SVX_SID_BITS, kInstanceB, 1, 1, now);
    rig.push_routes();
    EXPECT_EQ(rig.router_chosen(sid_of(kServiceX), SVX_SID_BITS, kInstanceA), 8u);
    table.remove_target(sid_of(kServiceZ), SVX_SID_BITS, kInstanceB);
    rig.push_routes();
    rig.process(syn_to_router(kServiceY));
    EXPECT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceY, kInstanceB)}));
    EXPECT_EQ(rig.router_chosen(sid_of("00aa"), 16, kInstanceB), 1u);
    // No prefix matches Z: dropped unanswered.
    EXPECT_EQ(rig.process(syn_to_router(kServiceZ)), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_ROUTE), 1u);
    EXPECT_EQ(rig.counters().event(Event::router_forwarded), 9u);
}

TEST(engine_worker_router, EqualTargetsShareTheSyns) {
    WorkerRig rig = router_rig();
    auto now = router::Clock::now();
    rig.router_table().add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA, 1, 1, now);
    rig.router_table().add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceB, 1, 1, now);
    rig.push_routes();
    int to_a = 0, to_b = 0;
    for (int i = 0; i < 60; ++i) {
        rig.process(syn_to_router(kServiceX));
        ASSERT_EQ(rig.out().size(), 1u);
        if (same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}))
            ++to_a;
        else if (same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceB)}))
            ++to_b;
    }
    EXPECT_EQ(to_a + to_b, 60);
    // Binomial(60, 1/2): below 10 on either side has probability < 1e-6.
    EXPECT_GE(to_a, 10);
    EXPECT_GE(to_b, 10);
}

TEST(engine_worker_router, ANewTableAppliesToTheNextSyn) {
    WorkerRig rig = router_rig();
    auto now = router::Clock::now();
    auto& table = rig.router_table();
    table.add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA, 1, 1, now);
    rig.push_routes();
    rig.process(syn_to_router(kServiceX));
    EXPECT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}));
    table.remove_target(sid_of(kServiceX), SVX_SID_BITS, kInstanceA);
    table.add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceB, 1, 1, now);
    rig.push_routes();
    rig.process(syn_to_router(kServiceX));
    EXPECT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceB)}));
    table.remove_target(sid_of(kServiceX), SVX_SID_BITS, kInstanceB);
    rig.push_routes();
    EXPECT_EQ(rig.process(syn_to_router(kServiceX)), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_NO_ROUTE), 1u);
}

TEST(engine_worker_router, TtlAndSourceLoopAreDroppedAndCounted) {
    WorkerRig rig = router_rig();
    rig.router_table().add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA, 1, 1,
                                  router::Clock::now());
    rig.push_routes();
    EXPECT_EQ(rig.process(syn_to_router(kServiceX, /*ttl=*/1)), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_TTL), 1u);
    // A SYN that already passed this router: forwarding it again would loop.
    const std::array<Ipv4Addr, 2> looped = {kTranslatorSal, kRouter};
    Bytes again = PacketBuilder()
                      .ipv4(kTranslatorSal, kRouter)
                      .sal(kLocalFlow, 0)
                      .control(SVX_CTL_SYN, kIss, 0, kNonce)
                      .service(kServiceX)
                      .source(looped)
                      .tcp(0, 0)
                      .seq(kClientIsn)
                      .flags(SVX_TCP_SYN)
                      .build();
    EXPECT_EQ(rig.process(again), Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_SOURCE_LOOP), 1u);
    EXPECT_EQ(rig.counters().event(Event::router_forwarded), 0u);
}

// Section 12 step 1: a SYN that came in a link-layer broadcast or multicast
// frame (on NFQUEUE, the steering rules' broadcast mark) is never forwarded,
// even with a route; the same SYN in a unicast frame is.
TEST(engine_worker_router, SynInABroadcastFrameIsDroppedNotForwarded) {
    SKIP_IN_KERNEL_RIG("a TUN device has no link layer (tests/e2e/t-broadcast.sh covers it)");
    WorkerRig rig = router_rig();
    rig.router_table().add_static(sid_of(kServiceX), SVX_SID_BITS, kInstanceA,
                                  router::kStaticPriority, 1, router::Clock::now());
    rig.push_routes();
    EXPECT_EQ(rig.process(syn_to_router(kServiceX), 1000, /*partial=*/false,
                          /*link_broadcast=*/true),
              Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().drops(SVX_E_LINK_BROADCAST), 1u);
    EXPECT_EQ(rig.counters().event(Event::router_forwarded), 0u);
    EXPECT_EQ(rig.router_chosen(sid_of(kServiceX), SVX_SID_BITS, kInstanceA), 0u);

    EXPECT_EQ(rig.process(syn_to_router(kServiceX), 1000, /*partial=*/false,
                          /*link_broadcast=*/false),
              Verdict::drop);
    ASSERT_TRUE(same_packets(rig.out(), {syn_from_router(kServiceX, kInstanceA)}));
    EXPECT_EQ(rig.counters().event(Event::router_forwarded), 1u);
    EXPECT_EQ(rig.counters().drops(SVX_E_LINK_BROADCAST), 1u);
}

// Registrations are the daemon's: the worker applies them to the table; the
// module lets them pass to the daemon's queue.
// Instance A's REGISTER of service X, to the router.
Bytes registration_to_router() {
    svx_reg_datagram d{};
    d.src_flow = 7;
    d.dst_service = router_id();
    svx_reg_sid_from_u32(&d.src_service, 0x1234);
    d.msg.type = SVX_CTRLMSG_REGISTER;
    d.msg.prefix_bits = SVX_SID_BITS;
    d.msg.service_id = sid_of(kServiceX);
    svx_ipv4_spec ip{};
    std::copy(kInstanceA.begin(), kInstanceA.end(), ip.saddr);
    std::copy(kRouter.begin(), kRouter.end(), ip.daddr);
    ip.ttl = 64;
    Bytes reg(SVX_REG_DATAGRAM_LEN);
    EXPECT_EQ(svx_reg_datagram_build(reg.data(), reg.size(), &ip, &d), SVX_REG_DATAGRAM_LEN);
    return reg;
}

TEST(engine_worker_router, RegistrationIsAppliedByTheWorkerAndPassedByTheModule) {
    WorkerRig rig = router_rig();
    const Verdict v = rig.process(registration_to_router());
    EXPECT_TRUE(rig.out().empty());
    if (WorkerRig::kernel_mode()) {
        EXPECT_EQ(v, Verdict::accept) << "the module passes registrations to svxlatd";
        return;
    }
    EXPECT_EQ(v, Verdict::drop);
    EXPECT_EQ(rig.counters().event(Event::registrations), 1u);
    auto res = rig.router_table().resolve(sid_of(kServiceX), router::Clock::now(), 0);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res.target, kInstanceA);
}

// Step 1 is about forwarding: a registration in a broadcast frame (the
// steering rules mark every SAL packet to the router that came so) is
// still applied.
TEST(engine_worker_router, RegistrationInABroadcastFrameIsStillApplied) {
    SKIP_IN_KERNEL_RIG("a TUN device has no link layer");
    WorkerRig rig = router_rig();
    EXPECT_EQ(rig.process(registration_to_router(), 1000, /*partial=*/false,
                          /*link_broadcast=*/true),
              Verdict::drop);
    EXPECT_TRUE(rig.out().empty());
    EXPECT_EQ(rig.counters().event(Event::registrations), 1u);
    EXPECT_EQ(rig.counters().drops(SVX_E_LINK_BROADCAST), 0u);
    auto res = rig.router_table().resolve(sid_of(kServiceX), router::Clock::now(), 0);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res.target, kInstanceA);
}

} // namespace
} // namespace svxlat::test
