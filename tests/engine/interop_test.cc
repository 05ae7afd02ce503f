// Interoperation with the reference stack: svxlat takes the place of one
// endpoint of a captured connection (tests/vectors/reference/*.pcap) or of
// the handmade vectors (protocol section 17), with the flow IDs, ISS and
// nonce that endpoint used. Fed the other endpoint's packets, it must emit
// the captured endpoint's SAL packets byte for byte from the SAL header on
// (IP identification, DF and TTL are the sender's choice), and on its plain
// TCP side the same segments with ports restored.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <svxlat/tcp.h>

#include "fixtures.h"
#include "vectors.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

struct Frame {
    size_t number = 0; // 1-based, as in the .txt annotations
    Bytes pkt;
    svx_pkt_view pv{};
    const uint8_t* sal() const { return pkt.data() + pv.sal_off; }
    uint32_t src_flow() const { return svx_sal_src_flow(sal()); }
    uint32_t dst_flow() const { return svx_sal_dst_flow(sal()); }
    uint8_t ctl() const { return pv.sal.ctrl_off ? pv.sal.flags : 0; }
    bool has_tcp() const { return pv.l4_hlen != 0; }
};

// The SAL frames of a capture, every checksum verified.
std::vector<Frame> sal_frames(const std::string& capture) {
    std::vector<Frame> out;
    auto packets = read_pcap_ipv4(vectors_dir() / "reference" / (capture + ".pcap"));
    for (size_t i = 0; i < packets.size(); ++i) {
        Frame f;
        f.number = i + 1;
        f.pkt = std::move(packets[i]);
        if (svx_pkt_parse(f.pkt.data(), f.pkt.size(), kVerifyAll, &f.pv) != SVX_OK)
            throw std::runtime_error(capture + " frame #" + std::to_string(f.number) +
                                     " does not verify");
        out.push_back(std::move(f));
    }
    return out;
}

const Frame& frame_number(const std::vector<Frame>& frames, size_t number) {
    for (const Frame& f : frames)
        if (f.number == number)
            return f;
    throw std::out_of_range("no frame #" + std::to_string(number));
}

// Same IP addresses and protocol, same bytes from the SAL header on.
::testing::AssertionResult same_sal_part(std::span<const uint8_t> got, const Frame& ref) {
    if (got.size() < SVX_IPV4_HDR_LEN || got[9] != SVX_IPPROTO_SAL)
        return ::testing::AssertionFailure() << "not a SAL packet\n" << hexdump(got);
    if (ip_src(got) != ip_src(ref.pkt) || ip_dst(got) != ip_dst(ref.pkt))
        return ::testing::AssertionFailure()
               << "addresses differ from frame #" << ref.number << "\n"
               << describe_difference(got.first(SVX_IPV4_HDR_LEN),
                                      std::span(ref.pkt).first(SVX_IPV4_HDR_LEN));
    const size_t ihl = static_cast<size_t>(got[0] & 0xf) * 4;
    std::string diff =
        describe_difference(got.subspan(ihl), std::span(ref.pkt).subspan(ref.pv.sal_off));
    if (diff.empty())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "frame #" << ref.number << " from the SAL header on: " << diff;
}

// MSS options above cap lowered to it (walking the options here, not with
// the core's rewriter).
Bytes clamp_mss(Bytes options, uint16_t cap) {
    for (size_t i = 0; i < options.size();) {
        if (options[i] == SVX_TCPOPT_EOL)
            break;
        if (options[i] == SVX_TCPOPT_NOP) {
            ++i;
            continue;
        }
        if (i + 1 >= options.size() || options[i + 1] < 2)
            break;
        if (options[i] == SVX_TCPOPT_MSS && options[i + 1] == 4 &&
            svx_get_be16(options.data() + i + 2) > cap)
            svx_put_be16(options.data() + i + 2, cap);
        i += options[i + 1];
    }
    return options;
}

struct Endpoint {
    Ipv4Addr addr;
    uint16_t port;
};

// The TCP segment of a SAL frame as a plain TCP packet between from and to.
Bytes plain_tcp(const Frame& f, Endpoint from, Endpoint to, std::optional<uint16_t> mss_cap = {}) {
    const uint8_t* tcp = f.pkt.data() + f.pv.l4_off;
    Bytes options(tcp + SVX_TCP_HDR_LEN, tcp + f.pv.l4_hlen);
    if (mss_cap)
        options = clamp_mss(options, *mss_cap);
    return PacketBuilder()
        .ipv4(from.addr, to.addr)
        .df()
        .tos(f.pkt[1])
        .tcp(from.port, to.port)
        .seq(svx_get_be32(tcp + 4))
        .ack(svx_get_be32(tcp + 8))
        .flags(tcp[13])
        .window(svx_get_be16(tcp + 14))
        .urgent(svx_get_be16(tcp + 18))
        .tcp_option_raw(options)
        .payload(std::span(tcp + f.pv.l4_hlen, f.pv.l4_len - f.pv.l4_hlen))
        .build();
}

Ipv4Addr addr_at(const uint8_t* p) {
    return {p[0], p[1], p[2], p[3]};
}

uint64_t nonce_of(const Frame& f) {
    const uint8_t* n = svx_sal_nonce(f.sal(), &f.pv.sal);
    uint64_t v = 0;
    for (int i = 0; i < SVX_NONCE_LEN; ++i)
        v = v << 8 | n[i];
    return v;
}

svx_sid service_of(const Frame& f) {
    svx_sid sid{};
    std::copy_n(svx_sal_service(f.sal(), &f.pv.sal, 0), SVX_SID_LEN, sid.b);
    return sid;
}

const Frame& first_tcp_syn(const std::vector<Frame>& frames) {
    for (const Frame& f : frames)
        if (f.pv.sal.protocol == SVX_IPPROTO_TCP &&
            (f.ctl() & (SVX_CTL_SYN | SVX_CTL_ACK)) == SVX_CTL_SYN && f.has_tcp())
            return f;
    throw std::runtime_error("no TCP SYN in the capture");
}

const Frame& synack_for(const std::vector<Frame>& frames, uint32_t client_flow) {
    for (const Frame& f : frames)
        if ((f.ctl() & (SVX_CTL_SYN | SVX_CTL_ACK)) == (SVX_CTL_SYN | SVX_CTL_ACK) &&
            f.dst_flow() == client_flow)
            return f;
    throw std::runtime_error("no SYN-ACK in the capture");
}

// Outputs of one replay, by side.
struct Replay {
    std::vector<Bytes> sal_out; // what svxlat sent on the Serval side
    std::vector<Bytes> tcp_out; // ... and on the plain TCP side
    void take(const std::vector<Bytes>& out) {
        for (const Bytes& p : out)
            (ip_protocol(p) == SVX_IPPROTO_SAL ? sal_out : tcp_out).push_back(p);
    }
};

void expect_replay_matches(const Replay& got, const std::vector<const Frame*>& want_sal,
                           const std::vector<Bytes>& want_tcp) {
    ASSERT_EQ(got.sal_out.size(), want_sal.size()) << "SAL packets emitted";
    for (size_t i = 0; i < want_sal.size(); ++i) {
        EXPECT_TRUE(same_sal_part(got.sal_out[i], *want_sal[i]));
        EXPECT_TRUE(sal_checksums_valid(got.sal_out[i]));
    }
    EXPECT_TRUE(same_packets(got.tcp_out, want_tcp));
}

// -------------------------------------------- svxlat as the Serval client

// The captured client becomes the translator: its SAL address, flow ID, ISS
// and nonce; its TCP segments come from a plain client instead.
void replay_as_translator(const std::string& capture) {
    const auto frames = sal_frames(capture);
    const Frame& syn = first_tcp_syn(frames);
    const Ipv4Addr us = ip_src(syn.pkt);
    const uint32_t flow = syn.src_flow();
    const Endpoint client{kClient, kClientPort}, pub{kPublic, kPublicPort};

    FlowDriver d;
    d.init_translator(plain_tcp(syn, client, pub), {.strip_options = true,
                                                    .local_flow = flow,
                                                    .iss = svx_sal_verno(syn.sal(), &syn.pv.sal),
                                                    .nonce = nonce_of(syn),
                                                    .service = service_of(syn),
                                                    .sal_local = us});
    const uint16_t mss_cap = static_cast<uint16_t>(d.cfg.sal_mtu - 52);

    Replay got;
    std::vector<const Frame*> want_sal;
    std::vector<Bytes> want_tcp;
    bool started = false;
    for (const Frame& f : frames) {
        if (&f == &syn)
            started = true;
        if (!started || f.pv.sal.protocol != SVX_IPPROTO_TCP)
            continue;
        const bool ours = ip_src(f.pkt) == us && f.src_flow() == flow;
        const bool theirs = ip_dst(f.pkt) == us && f.dst_flow() == flow;
        SCOPED_TRACE(testing::Message() << capture << " frame #" << f.number);
        if (ours) {
            want_sal.push_back(&f);
            if (f.has_tcp()) {
                std::optional<Ipv4Addr> dst;
                if (&f == &syn)
                    dst = ip_dst(f.pkt);
                svx_result r = d.from_tcp(plain_tcp(f, client, pub), dst);
                EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
                got.take(d.out());
            }
        } else if (theirs) {
            if (f.has_tcp())
                want_tcp.push_back(plain_tcp(f, pub, client, mss_cap));
            svx_result r = d.from_sal(f.pkt);
            EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
            got.take(d.out());
        }
    }
    SCOPED_TRACE(capture);
    ASSERT_GE(want_sal.size(), 5u);
    ASSERT_GE(want_tcp.size(), 5u);
    expect_replay_matches(got, want_sal, want_tcp);
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

std::string capture_test_name(const ::testing::TestParamInfo<const char*>& param) {
    std::string name = param.param;
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

class TranslatorReplay : public ::testing::TestWithParam<const char*> {};

TEST_P(TranslatorReplay, EmitsTheReferenceClientsPackets) {
    replay_as_translator(GetParam());
}

INSTANTIATE_TEST_SUITE_P(engine_reference_replay, TranslatorReplay,
                         ::testing::Values("A-direct-tcp_server-3000B", "A-direct-bcast-echo",
                                           "B-via-router-port-cli", "direct-static-servd-echo"),
                         capture_test_name);

// --------------------------------------------- svxlat as the Serval server

// The captured service instance becomes the host agent: its flow ID, ISS
// and nonce; its TCP segments come from a plain local server instead.
void replay_as_host(const std::string& capture) {
    const auto frames = sal_frames(capture);
    const Frame& syn = first_tcp_syn(frames);
    const Ipv4Addr us = ip_dst(syn.pkt);
    const uint32_t client_flow = syn.src_flow();
    const Frame& synack = synack_for(frames, client_flow);
    const uint32_t flow = synack.src_flow();
    const Ipv4Addr client_addr = syn.pv.sal.n_source
                                     ? addr_at(svx_sal_source_addr(syn.sal(), &syn.pv.sal, 0))
                                     : ip_src(syn.pkt);
    const Endpoint server{us, kServerPort}, peer{client_addr, kFlowPort};

    FlowDriver d;
    ASSERT_EQ(d.init_host(syn.pkt, kServerPort, kFlowPort, flow,
                          svx_sal_verno(synack.sal(), &synack.pv.sal), nonce_of(synack)),
              SVX_OK);
    const uint16_t mss_cap = static_cast<uint16_t>(d.cfg.sal_mtu - 52);

    Replay got;
    std::vector<const Frame*> want_sal;
    std::vector<Bytes> want_tcp;
    bool started = false;
    for (const Frame& f : frames) {
        if (&f == &syn)
            started = true;
        if (!started || f.pv.sal.protocol != SVX_IPPROTO_TCP)
            continue;
        const bool ours = ip_src(f.pkt) == us && f.src_flow() == flow;
        const bool theirs = ip_dst(f.pkt) == us && (f.src_flow() == client_flow);
        SCOPED_TRACE(testing::Message() << capture << " frame #" << f.number);
        if (ours) {
            want_sal.push_back(&f);
            if (f.has_tcp()) {
                svx_result r = d.from_tcp(plain_tcp(f, server, peer));
                EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
                got.take(d.out());
            }
        } else if (theirs) {
            if (f.has_tcp())
                want_tcp.push_back(plain_tcp(f, peer, server, mss_cap));
            svx_result r = d.from_sal(f.pkt);
            EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
            got.take(d.out());
        }
    }
    SCOPED_TRACE(capture);
    ASSERT_GE(want_sal.size(), 5u);
    ASSERT_GE(want_tcp.size(), 5u);
    expect_replay_matches(got, want_sal, want_tcp);
    EXPECT_EQ(d.flow.state, SVX_FS_TIME_WAIT);
}

class HostReplay : public ::testing::TestWithParam<const char*> {};

TEST_P(HostReplay, EmitsTheReferenceServersPackets) {
    replay_as_host(GetParam());
}

INSTANTIATE_TEST_SUITE_P(engine_reference_replay, HostReplay,
                         ::testing::Values("B-via-router-port-srv", "direct-static-servd-echo"),
                         capture_test_name);

// ------------------------------------------------------ focused captures

// A-direct-tcp_server-3000B: #3 the client's SYN (flow 3, ISS 0x38e1ab66,
// nonce c80ec8b9fdddb8ae), #4 the instance's SYN-ACK.
TEST(engine_reference_synack, EstablishesATranslatorFlowSetUpWithTheCapturedSynValues) {
    const auto frames = sal_frames("A-direct-tcp_server-3000B");
    const Ipv4Addr client_sal = {10, 77, 0, 1}, instance = {10, 77, 0, 2};
    FlowDriver d;
    // The fixtures' client SYN has the capture's TCP ISN, 0x66fc882c.
    d.init_translator(
        xlt::client_syn(),
        {.local_flow = 3, .iss = 0x38e1ab66, .nonce = 0xc80ec8b9fdddb8ae, .sal_local = client_sal});
    svx_result r = d.from_sal(frame_number(frames, 4).pkt);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    EXPECT_TRUE(r.established);
    EXPECT_EQ(d.flow.state, SVX_FS_ESTABLISHED);
    EXPECT_EQ(d.flow.peer_flow, 7u);
    EXPECT_EQ(d.flow.rcv_nxt, 0xc9af5b19u);
    EXPECT_EQ(d.snapshot().sal_peer, instance);
    EXPECT_EQ(d.snapshot().peer_nonce, nonce_from_u64(0xea05efd327a23370));
    // TCP SYN-ACK: seq 0x1e98bd10, ack 0x66fc882d, window 5792, MSS 1448,
    // NOP, WS 1, from the public address and port.
    Bytes want = PacketBuilder()
                     .ipv4(kPublic, kClient)
                     .df()
                     .tcp(kPublicPort, kClientPort)
                     .seq(0x1e98bd10)
                     .ack(0x66fc882d)
                     .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                     .window(5792)
                     .mss(1448)
                     .wscale(1)
                     .build();
    EXPECT_TRUE(same_packets(d.out(), {want}));
}

// A-direct-tcp_server-3000B: the instance closes first; its SAL FIN #14 is
// answered by the reference client with #15, and so must svxlat.
TEST(engine_reference_sal_fin, IsAnsweredWithTheReferencesOwnSalAck) {
    const auto frames = sal_frames("A-direct-tcp_server-3000B");
    FlowDriver d;
    d.init_translator(xlt::client_syn(), {.local_flow = 3,
                                          .iss = 0x38e1ab66,
                                          .nonce = 0xc80ec8b9fdddb8ae,
                                          .sal_local = {10, 77, 0, 1}});
    ASSERT_TRUE(d.from_sal(frame_number(frames, 4).pkt).established);
    const Frame& fin = frame_number(frames, 14);
    ASSERT_EQ(fin.ctl(), SVX_CTL_FIN);
    svx_result r = d.from_sal(fin.pkt);
    EXPECT_EQ(r.action, SVX_ACT_CONSUMED);
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], frame_number(frames, 15)));
    // Its retransmission gets the same answer.
    d.from_sal(fin.pkt);
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], frame_number(frames, 15)));
}

// A-direct-bcast-echo: the client closed first; the instance's SAL FIN #19
// comes after the client's own (#15, acknowledged by #16) and is answered
// with #20, whose verno counts the client's consumed FIN.
TEST(engine_reference_sal_fin, AfterOurOwnFinIsAnsweredWithTheReferencesAck) {
    const auto frames = sal_frames("A-direct-bcast-echo");
    const Frame& syn = frame_number(frames, 3);
    const Endpoint client{kClient, kClientPort}, pub{kPublic, kPublicPort};
    FlowDriver d;
    d.init_translator(plain_tcp(syn, client, pub), {.local_flow = 2,
                                                    .iss = 0x406cf483,
                                                    .nonce = 0x73f1b986b7a826d7,
                                                    .sal_local = {10, 77, 0, 1}});
    ASSERT_TRUE(d.from_sal(frame_number(frames, 4).pkt).established);
    // The client's TCP FIN (#13) and the instance's ACK of it (#14): our
    // SAL FIN is #15.
    d.from_tcp(plain_tcp(frame_number(frames, 5), client, pub)); // handshake ACK
    d.from_tcp(plain_tcp(frame_number(frames, 13), client, pub));
    d.from_sal(frame_number(frames, 14).pkt);
    ASSERT_EQ(d.out().size(), 2u);
    EXPECT_TRUE(same_sal_part(d.out()[0], frame_number(frames, 15)));
    d.from_sal(frame_number(frames, 16).pkt);
    EXPECT_TRUE(d.out().empty());
    svx_result r = d.from_sal(frame_number(frames, 19).pkt);
    EXPECT_TRUE(r.flow_closed);
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], frame_number(frames, 20)));
}

// ------------------------------------------------------- handmade vectors

Frame frame_of(const HandmadeVector& v) {
    Frame f;
    f.pkt = v.bytes;
    if (svx_pkt_parse(f.pkt.data(), f.pkt.size(), kVerifyAll, &f.pv) != SVX_OK)
        throw std::runtime_error(v.name + " does not verify");
    return f;
}

// The translator as the section-17 client C: V1, V4, V5 and V6 byte for
// byte from the SAL header on, driven by a plain client and S's V3 and V7.
TEST(engine_handmade_vectors, TranslatorEmitsTheClientsVectors) {
    const auto vectors = read_handmade_vectors();
    const Frame v1 = frame_of(find_vector(vectors, "V1")),
                v3 = frame_of(find_vector(vectors, "V3")),
                v4 = frame_of(find_vector(vectors, "V4")),
                v5 = frame_of(find_vector(vectors, "V5")),
                v6 = frame_of(find_vector(vectors, "V6")),
                v7 = frame_of(find_vector(vectors, "V7"));
    const Endpoint client{kClient, kClientPort}, pub{kPublic, kPublicPort};
    FlowDriver d;
    d.init_translator(plain_tcp(v1, client, pub), {.local_flow = handmade::client_flow,
                                                   .iss = handmade::client_iss,
                                                   .nonce = handmade::client_nonce,
                                                   .service = sid_from_text(handmade::service_id),
                                                   .sal_local = handmade::client});
    d.from_tcp(plain_tcp(v1, client, pub), handmade::router);
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v1));

    EXPECT_TRUE(d.from_sal(v3.pkt).established);
    // V3 advertises MSS 1460: the client sees it clamped.
    EXPECT_TRUE(same_packets(d.out(), {plain_tcp(v3, pub, client, 1448)}));
    EXPECT_EQ(d.snapshot().sal_peer, handmade::server);

    d.from_tcp(plain_tcp(v4, client, pub));
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v4));
    d.from_tcp(plain_tcp(v5, client, pub));
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v5));

    // V6 follows the client's TCP FIN and S's ACK of it (not in the vectors).
    const uint32_t fin_seq = handmade::client_isn + 1 + 18;
    d.from_tcp(xlt::client_segment(fin_seq, handmade::server_isn + 1, SVX_TCP_FIN | SVX_TCP_ACK));
    Bytes ack_of_fin = PacketBuilder()
                           .ipv4(handmade::server, handmade::client)
                           .sal(handmade::server_flow, handmade::client_flow)
                           .tcp(0, 0)
                           .seq(handmade::server_isn + 1)
                           .ack(fin_seq + 1)
                           .flags(SVX_TCP_ACK)
                           .window(229)
                           .build();
    d.from_sal(ack_of_fin);
    ASSERT_EQ(d.out().size(), 2u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v6));
    d.from_sal(v7.pkt);
    EXPECT_TRUE(d.out().empty());
    EXPECT_EQ(d.flow.ctl_pending, 0);
    EXPECT_TRUE(d.flow.flags & SVX_FF_OUR_SALFIN_ACKED);
}

// The host agent as the section-17 server S: V3 from the forwarded SYN V2
// and a local server's SYN-ACK, V7 in answer to V6. The reference kernel
// advertises MSS 1460 unreduced; a 1512-byte SAL MTU makes svxlat's clamp
// let it through.
TEST(engine_handmade_vectors, HostAgentEmitsTheServersVectors) {
    const auto vectors = read_handmade_vectors();
    const Frame v2 = frame_of(find_vector(vectors, "V2")),
                v3 = frame_of(find_vector(vectors, "V3")),
                v4 = frame_of(find_vector(vectors, "V4")),
                v5 = frame_of(find_vector(vectors, "V5")),
                v6 = frame_of(find_vector(vectors, "V6")),
                v7 = frame_of(find_vector(vectors, "V7"));
    const Endpoint server{handmade::server, kServerPort}, peer{handmade::client, kFlowPort};
    FlowDriver d;
    d.cfg.sal_mtu = 1512;
    ASSERT_EQ(d.init_host(v2.pkt, kServerPort, kFlowPort, handmade::server_flow,
                          handmade::server_iss, handmade::server_nonce),
              SVX_OK);
    d.from_sal(v2.pkt);
    EXPECT_TRUE(same_packets(d.out(), {plain_tcp(v2, peer, server)}));
    d.from_tcp(plain_tcp(v3, server, peer));
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v3));
    EXPECT_TRUE(d.from_sal(v4.pkt).established);
    EXPECT_TRUE(same_packets(d.out(), {plain_tcp(v4, peer, server)}));
    d.from_sal(v5.pkt);
    EXPECT_TRUE(same_packets(d.out(), {plain_tcp(v5, peer, server)}));
    d.from_sal(v6.pkt);
    ASSERT_EQ(d.out().size(), 1u);
    EXPECT_TRUE(same_sal_part(d.out()[0], v7));
}

} // namespace
} // namespace svxlat::test
