// The core's builders and rewriters reproduce the published packets byte for
// byte: the handmade vectors V1-V9 and V11 from the parameters of section 17,
// and the reference captures' forwarded SYNs, SYN-ACKs and passive RSTs from
// the packets that caused them.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "vectors.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

testing::AssertionResult same_bytes(std::span<const uint8_t> got, std::span<const uint8_t> want) {
    std::string diff = describe_difference(got, want);
    if (diff.empty())
        return testing::AssertionSuccess();
    return testing::AssertionFailure() << diff;
}

const std::vector<HandmadeVector>& vectors() {
    static const std::vector<HandmadeVector> all = read_handmade_vectors();
    return all;
}

const Bytes& vec(std::string_view name) {
    return find_vector(vectors(), name).bytes;
}

const svx_sid& service_id() {
    static const svx_sid sid = sid_from_text(handmade::service_id);
    return sid;
}

const Nonce client_nonce = nonce_from_u64(handmade::client_nonce);
const Nonce server_nonce = nonce_from_u64(handmade::server_nonce);

Ipv4Addr addr_at(std::span<const uint8_t> bytes) {
    Ipv4Addr a;
    std::copy_n(bytes.begin(), 4, a.begin());
    return a;
}

// A whole IP packet with its parsed view.
struct Parsed {
    Bytes pkt;
    svx_pkt_view v{};
    const uint8_t* sal() const { return pkt.data() + v.sal_off; }
    std::span<const uint8_t> sal_bytes() const { return {sal(), v.sal.len}; }
    Ipv4Addr saddr() const { return addr_at(std::span(pkt).subspan(12)); }
    Ipv4Addr daddr() const { return addr_at(std::span(pkt).subspan(16)); }
};

Parsed parse_strict(std::span<const uint8_t> pkt) {
    Parsed p{Bytes(pkt.begin(), pkt.end())};
    svx_err err = svx_pkt_parse(p.pkt.data(), p.pkt.size(), kVerifyAll, &p.v);
    if (err != SVX_OK)
        ADD_FAILURE() << "parse: " << svx_err_name(err) << "\n" << hexdump(pkt);
    return p;
}

std::vector<Parsed> parse_capture(const std::string& name) {
    std::vector<Parsed> out;
    for (const Bytes& pkt : read_pcap_ipv4(vectors_dir() / "reference" / (name + ".pcap")))
        out.push_back(parse_strict(pkt));
    return out;
}

// The steps of a service router (section 12) on a whole IP packet: SOURCE
// append of the address the packet reached, IP destination rewritten to the
// target, TTL decreased, transport and IP checksums recomputed.
Bytes forward_via_router(std::span<const uint8_t> in, const Ipv4Addr& target) {
    Parsed p = parse_strict(in);
    Bytes buf = p.pkt;
    buf.resize(in.size() + SVX_EXT_SOURCE_LEN(SVX_EXT_SOURCE_MIN_ADDRS));
    const Ipv4Addr orig_src = p.saddr();
    const Ipv4Addr hop = p.daddr();
    int n = svx_sal_source_append(buf.data() + p.v.sal_off, in.size() - p.v.sal_off,
                                  buf.size() - p.v.sal_off, &p.v.sal, orig_src.data(), hop.data());
    if (n < 0) {
        ADD_FAILURE() << "svx_sal_source_append: " << svx_err_name(static_cast<svx_err>(-n));
        return {};
    }
    buf.resize(p.v.sal_off + static_cast<size_t>(n));
    svx_put_be16(buf.data() + 2, static_cast<uint16_t>(buf.size()));
    std::copy(target.begin(), target.end(), buf.begin() + 16);
    buf[8]--;
    // No IP/L4 verification yet (both are stale); the SAL checksum must hold.
    svx_pkt_view fwd;
    svx_err err = svx_pkt_parse(buf.data(), buf.size(), 0, &fwd);
    if (err != SVX_OK) {
        ADD_FAILURE() << "forwarded packet: " << svx_err_name(err);
        return {};
    }
    if (fwd.l4_hlen) {
        EXPECT_EQ(svx_pkt_fill_l4_csum(buf.data(), &fwd), SVX_OK);
    }
    svx_ipv4_fill_csum(buf.data());
    return buf;
}

TEST(HandmadeBuild, V1ClientSynFromSpecHelper) {
    svx_sal_spec spec;
    svx_sal_spec_syn(&spec, handmade::client_flow, handmade::client_iss, client_nonce.data(),
                     &service_id());
    Bytes pkt = PacketBuilder()
                    .ipv4(handmade::client, handmade::router)
                    .ttl(64)
                    .id(0)
                    .sal_spec(spec)
                    .tcp(0, 0)
                    .seq(handmade::client_isn)
                    .flags(SVX_TCP_SYN)
                    .window(29200)
                    .mss(1448)
                    .wscale(7)
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V1")));
}

TEST(HandmadeBuild, V1ClientSynFromFluentFields) {
    Bytes pkt = PacketBuilder()
                    .ipv4("192.168.1.10", "192.168.1.1")
                    .sal(handmade::client_flow, 0)
                    .control(SVX_CTL_SYN, handmade::client_iss, 0, handmade::client_nonce)
                    .service(handmade::service_id)
                    .tcp(0, 0)
                    .seq(handmade::client_isn)
                    .flags(SVX_TCP_SYN)
                    .window(29200)
                    .mss(1448)
                    .wscale(7)
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V1")));
}

TEST(HandmadeBuild, V2IsV1ForwardedByTheRouter) {
    Bytes pkt = forward_via_router(vec("V1"), handmade::server);
    EXPECT_TRUE(same_bytes(pkt, vec("V2")));
    Parsed v2 = parse_strict(pkt);
    ASSERT_EQ(v2.v.sal.n_source, 2);
    EXPECT_TRUE(std::ranges::equal(std::span(svx_sal_source_addr(v2.sal(), &v2.v.sal, 0), 4),
                                   handmade::client));
    EXPECT_TRUE(std::ranges::equal(std::span(svx_sal_source_addr(v2.sal(), &v2.v.sal, 1), 4),
                                   handmade::router));
}

// The same rewrite done incrementally (RFC 1624) lands on V2's checksums.
TEST(HandmadeBuild, V2ChecksumsFollowIncrementally) {
    const Bytes& v1 = vec("V1");
    const Bytes& v2 = vec("V2");
    Parsed p1 = parse_strict(v1);
    Parsed p2 = parse_strict(v2);

    uint16_t ip_check = svx_get_be16(v1.data() + 10);
    ip_check =
        svx_csum_update16(ip_check, svx_get_be16(v1.data() + 2), svx_get_be16(v2.data() + 2));
    ip_check =
        svx_csum_update16(ip_check, svx_get_be16(v1.data() + 8), svx_get_be16(v2.data() + 8));
    ip_check =
        svx_csum_update32(ip_check, svx_get_be32(v1.data() + 16), svx_get_be32(v2.data() + 16));
    EXPECT_EQ(ip_check, svx_get_be16(v2.data() + 10));

    // The TCP segment is unchanged; only its pseudo-header destination moved.
    uint16_t tcp_check = svx_get_be16(v1.data() + p1.v.l4_off + 16);
    tcp_check =
        svx_csum_update32(tcp_check, svx_get_be32(v1.data() + 16), svx_get_be32(v2.data() + 16));
    EXPECT_EQ(tcp_check, svx_get_be16(v2.data() + p2.v.l4_off + 16));
    EXPECT_EQ(tcp_check, 0x365d);
}

TEST(HandmadeBuild, V3SynAckEchoesSourceWithServerAppended) {
    Parsed syn = parse_strict(vec("V2"));
    svx_sal_spec spec;
    ASSERT_EQ(svx_sal_spec_synack(&spec, handmade::server_flow, handmade::server_iss,
                                  server_nonce.data(), syn.sal(), &syn.v.sal,
                                  handmade::server.data()),
              SVX_OK);
    Bytes pkt = PacketBuilder()
                    .ipv4(handmade::server, handmade::client)
                    .sal_spec(spec)
                    .tcp(0, 0)
                    .seq(handmade::server_isn)
                    .ack(handmade::client_isn + 1)
                    .flags(SVX_TCP_SYN | SVX_TCP_ACK)
                    .window(28960)
                    .mss(1460)
                    .wscale(7)
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V3")));
}

TEST(HandmadeBuild, SynAckWithoutSourceWhenTheSynHadNone) {
    Parsed syn = parse_strict(vec("V1"));
    svx_sal_spec spec;
    ASSERT_EQ(svx_sal_spec_synack(&spec, handmade::server_flow, handmade::server_iss,
                                  server_nonce.data(), syn.sal(), &syn.v.sal,
                                  handmade::server.data()),
              SVX_OK);
    EXPECT_EQ(spec.n_source, 0);
    EXPECT_EQ(spec.n_service, 0);
    EXPECT_EQ(spec.dst_flow, handmade::client_flow);
    EXPECT_EQ(spec.ctrl.flags, SVX_CTL_SYN | SVX_CTL_ACK);
    EXPECT_EQ(spec.ctrl.ackno, handmade::client_iss + 1);
    EXPECT_EQ(svx_sal_spec_len(&spec), 32u);
}

TEST(HandmadeBuild, V4HandshakeAck) {
    svx_sal_spec spec;
    svx_sal_spec_handshake_ack(&spec, handmade::client_flow, handmade::server_flow,
                               handmade::client_iss + 1, handmade::server_iss + 1,
                               client_nonce.data(), &service_id());
    Bytes pkt = PacketBuilder()
                    .ipv4(handmade::client, handmade::server)
                    .sal_spec(spec)
                    .tcp(0, 0)
                    .seq(handmade::client_isn + 1)
                    .ack(handmade::server_isn + 1)
                    .flags(SVX_TCP_ACK)
                    .window(229)
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V4")));
}

TEST(HandmadeBuild, V5DataSegment) {
    svx_sal_spec spec;
    svx_sal_spec_data(&spec, handmade::client_flow, handmade::server_flow);
    Bytes pkt = PacketBuilder()
                    .ipv4(handmade::client, handmade::server)
                    .sal_spec(spec)
                    .tcp(0, 0)
                    .seq(handmade::client_isn + 1)
                    .ack(handmade::server_isn + 1)
                    .flags(SVX_TCP_PSH | SVX_TCP_ACK)
                    .window(229)
                    .payload("GET / HTTP/1.0\r\n\r\n")
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V5")));
}

TEST(HandmadeBuild, V6SalFin) {
    svx_sal_spec spec;
    svx_sal_spec_fin(&spec, handmade::client_flow, handmade::server_flow, handmade::client_iss + 1,
                     handmade::server_iss + 1, client_nonce.data());
    Bytes pkt = PacketBuilder().ipv4(handmade::client, handmade::server).sal_spec(spec).build();
    EXPECT_TRUE(same_bytes(pkt, vec("V6")));
}

TEST(HandmadeBuild, V7SalAckOfTheFin) {
    svx_sal_spec spec;
    svx_sal_spec_ack(&spec, handmade::server_flow, handmade::client_flow, handmade::server_iss + 1,
                     handmade::client_iss + 2, server_nonce.data());
    Bytes pkt = PacketBuilder().ipv4(handmade::server, handmade::client).sal_spec(spec).build();
    EXPECT_TRUE(same_bytes(pkt, vec("V7")));
}

TEST(HandmadeBuild, V8PassiveRstAnsweringV4) {
    Parsed v4 = parse_strict(vec("V4"));
    svx_sal_spec spec;
    ASSERT_EQ(svx_sal_spec_passive_rst(&spec, v4.sal(), &v4.v.sal), SVX_OK);
    Bytes pkt = PacketBuilder().ipv4(v4.daddr(), v4.saddr()).sal_spec(spec).build();
    EXPECT_TRUE(same_bytes(pkt, vec("V8")));
}

TEST(HandmadeBuild, V9BaseHeader) {
    svx_sal_spec spec;
    svx_sal_spec_data(&spec, 1, 2);
    Bytes sal(svx_sal_spec_len(&spec));
    ASSERT_EQ(svx_sal_build(sal.data(), sal.size(), &spec), SVX_SAL_BASE_LEN);
    EXPECT_TRUE(same_bytes(sal, vec("V9")));
}

TEST(HandmadeBuild, V11UnconnectedDatagramCarryingV10) {
    Bytes pkt = PacketBuilder()
                    .ipv4(handmade::client, handmade::router)
                    .sal(3, 0)
                    .service("0x00015b38") // router ID 88888: destination first
                    .service("0x0000d903") // client ID 55555: the sender's
                    .udp(0, 0)
                    .payload(vec("V10"))
                    .build();
    EXPECT_TRUE(same_bytes(pkt, vec("V11")));
}

// B-via-router port sr: the router's port sees each SYN arrive and leave.
// Appending SOURCE to the arriving one gives the leaving one's SAL header,
// and the full router rewrite gives the whole leaving packet.
TEST(ReferenceRewrite, RouterForwardedSynsMatchTheCapture) {
    auto packets = parse_capture("B-via-router-port-sr");
    size_t pairs = 0;
    for (const Parsed& in : packets) {
        if (!(in.v.sal.flags & SVX_CTL_SYN) || in.v.sal.n_source != 0)
            continue;
        for (const Parsed& out : packets) {
            // The same SYN: flow ID, verno and nonce, now carrying SOURCE.
            if (out.v.sal.n_source == 0 || !(out.v.sal.flags & SVX_CTL_SYN) ||
                svx_sal_src_flow(out.sal()) != svx_sal_src_flow(in.sal()) ||
                svx_sal_verno(out.sal(), &out.v.sal) != svx_sal_verno(in.sal(), &in.v.sal) ||
                !std::equal(svx_sal_nonce(out.sal(), &out.v.sal),
                            svx_sal_nonce(out.sal(), &out.v.sal) + SVX_NONCE_LEN,
                            svx_sal_nonce(in.sal(), &in.v.sal)))
                continue;
            SCOPED_TRACE("flow " + std::to_string(svx_sal_src_flow(in.sal())));
            ++pairs;

            Bytes buf = in.pkt;
            buf.resize(buf.size() + 64);
            svx_sal_view sal_view = in.v.sal;
            const Ipv4Addr orig_src = in.saddr();
            const Ipv4Addr hop = in.daddr();
            int n = svx_sal_source_append(buf.data() + in.v.sal_off, in.pkt.size() - in.v.sal_off,
                                          buf.size() - in.v.sal_off, &sal_view, orig_src.data(),
                                          hop.data());
            ASSERT_GT(n, 0) << svx_err_name(static_cast<svx_err>(-n));
            EXPECT_TRUE(
                same_bytes(std::span(buf).subspan(in.v.sal_off, sal_view.len), out.sal_bytes()));

            EXPECT_TRUE(same_bytes(forward_via_router(in.pkt, out.daddr()), out.pkt));
        }
    }
    EXPECT_EQ(pairs, 2u); // one Serval TCP and one Serval UDP connection
}

// Every SYN-ACK of every capture whose SYN is in the same capture (matched by
// flow ID and verno) is what svx_sal_spec_synack builds from that SYN, with
// the responder's flow ID, ISS and nonce taken from the SYN-ACK.
TEST(ReferenceRewrite, SynAcksMatchTheCore) {
    size_t checked = 0;
    for (const auto& file : reference_pcaps()) {
        auto packets = parse_capture(file.stem().string());
        for (const Parsed& synack : packets) {
            const svx_sal_view& sv = synack.v.sal;
            if (sv.flags != (SVX_CTL_SYN | SVX_CTL_ACK))
                continue;
            for (const Parsed& syn : packets) {
                // The SYN that reached the responder: SOURCE one address shorter.
                if (syn.v.sal.flags != SVX_CTL_SYN ||
                    svx_sal_src_flow(syn.sal()) != svx_sal_dst_flow(synack.sal()) ||
                    svx_sal_verno(syn.sal(), &syn.v.sal) + 1 != svx_sal_ackno(synack.sal(), &sv) ||
                    (sv.n_source ? sv.n_source - 1 : 0) != syn.v.sal.n_source)
                    continue;
                SCOPED_TRACE(file.filename().string());
                svx_sal_spec spec;
                const Ipv4Addr self = synack.saddr();
                ASSERT_EQ(svx_sal_spec_synack(&spec, svx_sal_src_flow(synack.sal()),
                                              svx_sal_verno(synack.sal(), &sv),
                                              svx_sal_nonce(synack.sal(), &sv), syn.sal(),
                                              &syn.v.sal, self.data()),
                          SVX_OK);
                Bytes sal(svx_sal_spec_len(&spec));
                ASSERT_GT(svx_sal_build(sal.data(), sal.size(), &spec), 0);
                EXPECT_TRUE(same_bytes(sal, synack.sal_bytes()));
                ++checked;
            }
        }
    }
    // Both sides of a handshake: the two A captures, B-srv (TCP and UDP),
    // direct-static and udp-srv.
    EXPECT_EQ(checked, 6u);
}

// Every RST in the captures answers an earlier packet of the same capture
// (IP addresses and flow IDs swapped); svx_sal_spec_passive_rst on that packet
// builds the captured RST's SAL header.
TEST(ReferenceRewrite, PassiveRstsMatchTheCore) {
    size_t checked = 0;
    for (const auto& file : reference_pcaps()) {
        auto packets = parse_capture(file.stem().string());
        for (size_t i = 0; i < packets.size(); ++i) {
            const Parsed& rst = packets[i];
            if (!(rst.v.sal.flags & SVX_CTL_RST))
                continue;
            SCOPED_TRACE(file.filename().string() + " frame #" + std::to_string(i + 1));
            const Parsed* cause = nullptr;
            for (size_t j = 0; j < i; ++j) {
                const Parsed& p = packets[j];
                if (p.saddr() == rst.daddr() && p.daddr() == rst.saddr() &&
                    svx_sal_src_flow(p.sal()) == svx_sal_dst_flow(rst.sal()) &&
                    svx_sal_dst_flow(p.sal()) == svx_sal_src_flow(rst.sal()) &&
                    !(p.v.sal.flags & SVX_CTL_RST))
                    cause = &p; // the latest one
            }
            ASSERT_NE(cause, nullptr) << "no packet in the capture explains this RST";
            svx_sal_spec spec;
            ASSERT_EQ(svx_sal_spec_passive_rst(&spec, cause->sal(), &cause->v.sal), SVX_OK);
            Bytes sal(svx_sal_spec_len(&spec));
            ASSERT_GT(svx_sal_build(sal.data(), sal.size(), &spec), 0);
            EXPECT_TRUE(same_bytes(sal, rst.sal_bytes()));
            ++checked;
        }
    }
    EXPECT_EQ(checked, 8u); // the eight RSTs the annotations list
}

} // namespace
} // namespace svxlat::test
