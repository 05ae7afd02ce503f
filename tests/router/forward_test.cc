// The router's forwarding rewrite (svx_router_forward, the core's section 12
// step that both engines' router step runs) against the reference router's
// own output (B-via-router-port-sr.pcap), the handmade V1 -> V2 pair, and
// every reason not to forward. What happens around it (link broadcast, no
// SERVICE, no route) is the engine's, tested with the router fixtures in
// tests/engine/worker_test.cc.
#include <algorithm>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/reg.h>
#include <svxlat/route.h>
#include <svxlat/sal.h>

#include "vectors.h"

namespace svxlat {
namespace {

using test::Bytes;
using test::describe_difference;
using test::hexdump;
using test::PacketBuilder;
namespace hm = test::handmade;

// A copy: read_handmade_vectors() returns a temporary.
Bytes handmade_vector(const char* name) {
    return test::find_vector(test::read_handmade_vectors(), name).bytes;
}

constexpr unsigned kStrict = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;
// What the router step verifies on receive (engine.c): IP, SAL and transport
// checksums, and SAL in UDP (section 13).
constexpr unsigned kRouterParse = kStrict | SVX_PKT_UDP_ENCAP;

// The outcome of forwarding: err is SVX_OK or why not; out is the packet
// (forwarded) or the whole buffer (refused, to show it was left alone).
struct Forwarded {
    svx_err err = SVX_OK;
    std::size_t len = 0;
    Bytes out;
    bool ok() const { return err == SVX_OK; }
};

// Parses pkt as the router step does and rewrites it for target, in a buffer
// of headroom spare bytes (filled with 0xee).
Forwarded forward(const Bytes& pkt, const test::Ipv4Addr& target, size_t headroom = 64) {
    Forwarded f;
    Bytes buf = pkt;
    buf.resize(pkt.size() + headroom, 0xee);
    svx_pkt_view v;
    f.err = svx_pkt_parse(buf.data(), pkt.size(), kRouterParse, &v);
    if (f.ok()) {
        const int len = svx_router_forward(buf.data(), buf.size(), &v, target.data());
        if (len < 0)
            f.err = static_cast<svx_err>(-len);
        else
            f.len = static_cast<std::size_t>(len);
    }
    f.out = f.ok() ? Bytes(buf.begin(), buf.begin() + static_cast<long>(f.len)) : buf;
    return f;
}

Bytes frame(const std::vector<Bytes>& packets, size_t number) {
    return packets.at(number - 1);
}

PacketBuilder syn_c_to(const test::Ipv4Addr& dst) {
    PacketBuilder b;
    b.ipv4(hm::client, dst)
        .sal(hm::client_flow, 0)
        .control(SVX_CTL_SYN, hm::client_iss, 0, hm::client_nonce)
        .service(hm::service_id)
        .tcp(0, 0)
        .seq(hm::client_isn)
        .flags(SVX_TCP_SYN)
        .window(29200)
        .mss(1448);
    return b;
}

TEST(router_forward, CapturedTcpSynMatchesTheReferenceRouter) {
    // B-via-router-port-sr.txt: #6 reaches the router 10.77.1.3 from the
    // client 10.77.1.1; the router sends #7 to the instance 10.77.1.2.
    auto packets =
        test::read_pcap_ipv4(test::vectors_dir() / "reference" / "B-via-router-port-sr.pcap");
    Bytes in = frame(packets, 6), want = frame(packets, 7);
    auto f = forward(in, test::ipv4_addr("10.77.1.2"));
    ASSERT_TRUE(f.ok()) << svx_err_name(f.err);
    // Byte for byte, IP ID, TTL and IP checksum included.
    EXPECT_EQ(f.out, want) << describe_difference(f.out, want);
}

TEST(router_forward, CapturedUdpSynMatchesTheReferenceRouter) {
    // #10 -> #11: a connected Serval-UDP SYN (empty UDP header) through the router.
    auto packets =
        test::read_pcap_ipv4(test::vectors_dir() / "reference" / "B-via-router-port-sr.pcap");
    Bytes in = frame(packets, 10), want = frame(packets, 11);
    auto f = forward(in, test::ipv4_addr("10.77.1.2"));
    ASSERT_TRUE(f.ok()) << svx_err_name(f.err);
    EXPECT_EQ(f.out, want) << describe_difference(f.out, want);
}

TEST(router_forward, HandmadeV1BecomesV2) {
    auto vectors = test::read_handmade_vectors();
    const Bytes& v1 = test::find_vector(vectors, "V1").bytes;
    const Bytes& v2 = test::find_vector(vectors, "V2").bytes;
    auto f = forward(v1, hm::server);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f.len, v2.size());
    EXPECT_EQ(f.out, v2) << describe_difference(f.out, v2);
}

TEST(router_forward, TheViewFollowsTheRewrite) {
    const Bytes v1 = handmade_vector("V1");
    Bytes buf = v1;
    buf.resize(v1.size() + 12);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(buf.data(), v1.size(), kRouterParse, &v), SVX_OK);
    const uint8_t* sid = svx_sal_service(buf.data() + v.sal_off, &v.sal, 0);
    ASSERT_NE(sid, nullptr);
    EXPECT_EQ(test::to_hex(std::span<const uint8_t>(sid, SVX_SID_LEN)), hm::service_id);
    const int len = svx_router_forward(buf.data(), buf.size(), &v, hm::server.data());
    ASSERT_EQ(len, static_cast<int>(v1.size() + 12));
    EXPECT_EQ(v.ip_len, static_cast<std::size_t>(len));
    EXPECT_EQ(v.sal.n_source, 2);
    EXPECT_EQ(buf, handmade_vector("V2"));
}

TEST(router_forward, OutputVerifiesEverywhere) {
    // Handshake ACK with SERVICE, and a registration datagram.
    const auto vectors = test::read_handmade_vectors();
    PacketBuilder hack;
    hack.ipv4(hm::client, hm::router)
        .sal(hm::client_flow, hm::server_flow)
        .control(SVX_CTL_ACK, hm::client_iss + 1, hm::server_iss + 1, hm::client_nonce)
        .service(hm::service_id)
        .tcp(0, 0)
        .flags(SVX_TCP_ACK);
    for (const Bytes& in : {hack.build(), test::find_vector(vectors, "V11").bytes}) {
        auto f = forward(in, hm::server);
        ASSERT_TRUE(f.ok());
        ASSERT_EQ(f.len, in.size() + 12);
        svx_pkt_view v;
        ASSERT_EQ(svx_pkt_parse(f.out.data(), f.out.size(), kStrict, &v), SVX_OK) << hexdump(f.out);
        EXPECT_EQ(f.out[8], 63);
        EXPECT_TRUE(std::equal(f.out.begin() + 12, f.out.begin() + 16, hm::client.begin()));
        EXPECT_TRUE(std::equal(f.out.begin() + 16, f.out.begin() + 20, hm::server.begin()));
        ASSERT_EQ(v.sal.n_source, 2);
        const uint8_t* sal = f.out.data() + v.sal_off;
        EXPECT_EQ(std::memcmp(svx_sal_source_addr(sal, &v.sal, 0), hm::client.data(), 4), 0);
        EXPECT_EQ(std::memcmp(svx_sal_source_addr(sal, &v.sal, 1), hm::router.data(), 4), 0);
    }
    // The forwarded registration still parses as one, sender unchanged.
    auto f = forward(test::find_vector(vectors, "V11").bytes, hm::server);
    svx_reg_datagram d;
    ASSERT_EQ(svx_reg_datagram_parse(f.out.data(), f.len, SVX_REG_PARSE_STRICT, &d), SVX_OK);
    EXPECT_TRUE(std::ranges::equal(d.saddr, hm::client));
}

TEST(router_forward, SecondRouterExtendsSource) {
    // V2 as if its target were another router R2 = 10.0.0.5 forwarding to 10.9.9.9.
    const Bytes v2 = handmade_vector("V2");
    auto f = forward(v2, test::ipv4_addr("10.9.9.9"));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f.len, v2.size() + 4);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(f.out.data(), f.out.size(), kStrict, &v), SVX_OK);
    EXPECT_EQ(v.sal.len, v2[0x1c] * 4 + 4);
    ASSERT_EQ(v.sal.n_source, 3);
    const uint8_t* sal = f.out.data() + v.sal_off;
    EXPECT_EQ(std::memcmp(svx_sal_source_addr(sal, &v.sal, 2), hm::server.data(), 4), 0);
    EXPECT_EQ(f.out[8], 62);
}

TEST(router_forward, LoopIsDetected) {
    // V2 sent back to the router R, which is already hop #1.
    Bytes looped = syn_c_to(hm::router).source({"192.168.1.10", "192.168.1.1"}).build();
    auto f = forward(looped, hm::server);
    EXPECT_EQ(f.err, SVX_E_SOURCE_LOOP);
    Bytes untouched = looped;
    untouched.resize(looped.size() + 64, 0xee);
    EXPECT_EQ(f.out, untouched);
}

TEST(router_forward, TtlExpiry) {
    for (uint8_t ttl : {0, 1}) {
        Bytes in = syn_c_to(hm::router).ttl(ttl).build();
        auto f = forward(in, hm::server);
        EXPECT_EQ(f.err, SVX_E_TTL) << int{ttl};
        Bytes untouched = in;
        untouched.resize(in.size() + 64, 0xee);
        EXPECT_EQ(f.out, untouched);
    }
    auto f = forward(syn_c_to(hm::router).ttl(2).build(), hm::server);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f.out[8], 1);
}

TEST(router_forward, ParseErrorsComeFromTheParser) {
    auto f = forward(syn_c_to(hm::router).bad_l4_csum().build(), hm::server);
    EXPECT_EQ(f.err, SVX_E_L4_CSUM);
    f = forward(syn_c_to(hm::router).bad_sal_csum().build(), hm::server);
    EXPECT_EQ(f.err, SVX_E_SAL_CSUM);
    f = forward(Bytes{0x45, 0}, hm::server);
    EXPECT_EQ(f.err, SVX_E_IP_TRUNCATED);
}

TEST(router_forward, NoRoomLeavesThePacketAlone) {
    Bytes in = syn_c_to(hm::router).build();
    for (size_t headroom : {0, 11}) {
        auto f = forward(in, hm::server, headroom);
        EXPECT_EQ(f.err, SVX_E_NOSPACE) << headroom;
        EXPECT_TRUE(std::equal(in.begin(), in.end(), f.out.begin()));
    }
    EXPECT_TRUE(forward(in, hm::server, 12).ok());
}

TEST(router_forward, SourceAtItsLimitIsRefused) {
    std::vector<test::Ipv4Addr> hops;
    for (uint8_t i = 0; i < SVX_EXT_SOURCE_MAX_ADDRS; ++i)
        hops.push_back({172, 16, 0, i});
    Bytes in = syn_c_to(hm::router).source(hops).build();
    auto f = forward(in, hm::server);
    EXPECT_EQ(f.err, SVX_E_EXT_LEN);
}

TEST(router_forward, UdpEncapsulatedSynKeepsPortsAndFixesOuterUdp) {
    Bytes in = syn_c_to(hm::router).udp_encap(40000, SVX_UDP_ENCAP_SERVER_PORT).build();
    auto f = forward(in, hm::server);
    ASSERT_TRUE(f.ok()) << svx_err_name(f.err);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(f.out.data(), f.out.size(), kStrict | SVX_PKT_UDP_ENCAP, &v), SVX_OK);
    EXPECT_TRUE(v.udp_encap);
    const uint8_t* udp = f.out.data() + v.ip_hlen;
    EXPECT_EQ(svx_get_be16(udp), 40000);
    EXPECT_EQ(svx_get_be16(udp + 2), SVX_UDP_ENCAP_SERVER_PORT);
    EXPECT_EQ(svx_get_be16(udp + 4), f.len - v.ip_hlen);
    EXPECT_EQ(v.sal.n_source, 2);
    // The inner TCP checksum is computed over the new addresses too.
    const uint8_t* tcp = f.out.data() + v.l4_off;
    EXPECT_EQ(
        svx_csum_l4_ipv4(f.out.data() + 12, f.out.data() + 16, SVX_IPPROTO_TCP, tcp, v.l4_len), 0);
}

TEST(router_forward, IpOptionsAndTrailingBytes) {
    const uint8_t nops[4] = {1, 1, 1, 0};
    Bytes in = syn_c_to(hm::router).ip_options(nops).build();
    in.insert(in.end(), {0xde, 0xad}); // Ethernet padding beyond the IP length
    auto f = forward(in, hm::server);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f.len, in.size() - 2 + 12);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(f.out.data(), f.out.size(), kStrict, &v), SVX_OK);
    EXPECT_EQ(v.ip_hlen, 24);
    EXPECT_EQ(v.sal.n_source, 2);
}

} // namespace
} // namespace svxlat
