// Every refusal of svx_pkt_parse / svx_sal_parse from a minimal crafted
// input, and the unusual inputs they must accept (PAD, ADDRESS, IP options,
// UDP encapsulation, reserved bits).
#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/err.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "packet_builder.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

svx_err parse(const Bytes& pkt, unsigned opts = kVerifyAll, svx_pkt_view* out = nullptr) {
    svx_pkt_view v;
    svx_err err = svx_pkt_parse(pkt.data(), pkt.size(), opts, out ? out : &v);
    return err;
}

svx_pkt_view parse_ok(const Bytes& pkt, unsigned opts = kVerifyAll) {
    svx_pkt_view v{};
    EXPECT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), opts, &v), SVX_OK) << hexdump(pkt);
    return v;
}

// A SAL packet with a CONTROL extension and no transport; tests add to it.
PacketBuilder sal_packet() {
    PacketBuilder b;
    b.ipv4("192.0.2.1", "192.0.2.2").sal(1, 2);
    return b;
}

PacketBuilder tcp_packet() {
    PacketBuilder b = sal_packet();
    b.tcp(0, 0).seq(1).flags(SVX_TCP_ACK).payload("data");
    return b;
}

Bytes control_ext(uint8_t flags = SVX_CTL_ACK) {
    Bytes ext(SVX_EXT_CONTROL_LEN, 0);
    ext[0] = SVX_EXT_CONTROL << 4;
    ext[1] = SVX_EXT_CONTROL_LEN;
    ext[2] = flags;
    return ext;
}

Bytes service_ext() {
    Bytes ext(SVX_EXT_SERVICE_LEN, 0);
    ext[0] = SVX_EXT_SERVICE << 4;
    ext[1] = SVX_EXT_SERVICE_LEN;
    ext[7] = 5;
    return ext;
}

Bytes source_ext(size_t addrs) {
    Bytes ext(SVX_EXT_SOURCE_LEN(addrs), 0);
    ext[0] = SVX_EXT_SOURCE << 4;
    ext[1] = static_cast<uint8_t>(ext.size());
    for (size_t i = 0; i < addrs; ++i)
        ext[4 + 4 * i] = static_cast<uint8_t>(10 + i);
    return ext;
}

// An extension header with an arbitrary declared length, zero-filled to
// fill bytes.
Bytes ext_with_length(uint8_t type, uint8_t declared, size_t fill) {
    Bytes ext(fill, 0);
    ext[0] = static_cast<uint8_t>(type << 4);
    ext[1] = declared;
    return ext;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// --- IPv4 -----------------------------------------------------------------

TEST(ParseIp, Truncated) {
    Bytes pkt = tcp_packet().build();
    for (size_t len = 0; len < SVX_IPV4_HDR_LEN; ++len) {
        Bytes cut(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(parse(cut), SVX_E_IP_TRUNCATED) << len;
    }
}

TEST(ParseIp, Version) {
    for (uint8_t version : {0, 5, 6, 15}) {
        Bytes pkt = tcp_packet().build();
        pkt[0] = static_cast<uint8_t>(version << 4 | 5);
        svx_ipv4_fill_csum(pkt.data());
        EXPECT_EQ(parse(pkt), SVX_E_IP_VERSION) << int{version};
    }
}

TEST(ParseIp, HeaderLength) {
    Bytes pkt = tcp_packet().build();
    for (uint8_t ihl : {0, 1, 4}) {
        Bytes bad = pkt;
        bad[0] = static_cast<uint8_t>(0x40 | ihl);
        EXPECT_EQ(parse(bad, 0), SVX_E_IP_HDR_LEN) << int{ihl};
    }
    // IHL 15 = 60 bytes, more than the 40-byte packet holds.
    Bytes shorty(pkt.begin(), pkt.begin() + 40);
    shorty[0] = 0x4f;
    EXPECT_EQ(parse(shorty, 0), SVX_E_IP_HDR_LEN);
}

TEST(ParseIp, TotalLength) {
    Bytes pkt = tcp_packet().build();
    EXPECT_EQ(parse(tcp_packet().ip_tot_len(static_cast<uint16_t>(pkt.size() + 1)).build()),
              SVX_E_IP_TOT_LEN);
    EXPECT_EQ(parse(tcp_packet().ip_tot_len(SVX_IPV4_HDR_LEN - 1).build()), SVX_E_IP_TOT_LEN);

    // Bytes after the total length (link padding) are not the packet's.
    Bytes padded = pkt;
    padded.insert(padded.end(), 6, 0xff);
    svx_pkt_view v = parse_ok(padded);
    EXPECT_EQ(v.ip_len, pkt.size());
    EXPECT_EQ(v.l4_off + v.l4_len, pkt.size());
}

TEST(ParseIp, HeaderChecksum) {
    Bytes pkt = tcp_packet().bad_ip_csum().build();
    EXPECT_EQ(parse(pkt), SVX_E_IP_CSUM);
    EXPECT_EQ(parse(pkt, SVX_PKT_VERIFY_IP_CSUM), SVX_E_IP_CSUM);
    EXPECT_EQ(parse(pkt, SVX_PKT_VERIFY_L4_CSUM), SVX_OK); // not asked to check it
}

TEST(ParseIp, Fragments) {
    EXPECT_EQ(parse(tcp_packet().ip_frag(SVX_IPV4_MF).build()), SVX_E_IP_FRAGMENT);
    EXPECT_EQ(parse(tcp_packet().ip_frag(1).build()), SVX_E_IP_FRAGMENT);
    EXPECT_EQ(parse(tcp_packet().ip_frag(SVX_IPV4_OFFMASK).build()), SVX_E_IP_FRAGMENT);
    EXPECT_EQ(parse(tcp_packet().df().build()), SVX_OK); // DF alone is no fragment
}

TEST(ParseIp, OptionsAreSkippedThroughIhl) {
    const uint8_t options[] = {0x94, 0x04, 0x00, 0x00}; // router alert
    Bytes pkt = tcp_packet().ip_options(options).build();
    svx_pkt_view v = parse_ok(pkt);
    EXPECT_EQ(v.ip_hlen, 24);
    EXPECT_EQ(v.sal_off, 24);
    EXPECT_EQ(svx_sal_src_flow(pkt.data() + v.sal_off), 1u);
}

TEST(ParseIp, NotSal) {
    EXPECT_EQ(parse(PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 2).build()),
              SVX_E_NOT_SAL);
    EXPECT_EQ(parse(PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(1, 2).build()),
              SVX_E_NOT_SAL);
    EXPECT_EQ(parse(tcp_packet().ip_proto(1).build()), SVX_E_NOT_SAL);
    // Encapsulated SAL is only looked for when asked.
    Bytes encap = tcp_packet().udp_encap().build();
    EXPECT_EQ(parse(encap), SVX_E_NOT_SAL);
    EXPECT_EQ(parse(encap, SVX_PKT_UDP_ENCAP), SVX_OK);
    // UDP, but neither port is an encapsulation port.
    EXPECT_EQ(parse(tcp_packet().udp_encap(1000, 2000).build(), SVX_PKT_UDP_ENCAP), SVX_E_NOT_SAL);
    // UDP too short to hold a UDP header.
    Bytes stub = {0xd4, 0x34, 0xd4, 0x35};
    EXPECT_EQ(parse(PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").ip_proto(17).body(stub).build(),
                    SVX_PKT_UDP_ENCAP),
              SVX_E_NOT_SAL);
}

// --- UDP encapsulation (section 13) ----------------------------------------

TEST(ParseUdpEncap, EitherPortIsEnough) {
    for (auto [sport, dport] :
         {std::pair<uint16_t, uint16_t>{54324, 54325}, {54325, 40000}, {40000, 54324}}) {
        Bytes pkt = tcp_packet().udp_encap(sport, dport).build();
        svx_pkt_view v = parse_ok(pkt, kVerifyAll | SVX_PKT_UDP_ENCAP);
        EXPECT_TRUE(v.udp_encap);
        EXPECT_EQ(v.ip_proto, SVX_IPPROTO_UDP);
        EXPECT_EQ(v.sal_off, SVX_IPV4_HDR_LEN + SVX_UDP_HDR_LEN);
        EXPECT_EQ(v.l4_hlen, SVX_TCP_HDR_LEN);
    }
}

TEST(ParseUdpEncap, OuterLengthMustMatch) {
    Bytes pkt = tcp_packet().udp_encap().build();
    svx_put_be16(pkt.data() + 24, static_cast<uint16_t>(svx_get_be16(pkt.data() + 24) - 1));
    EXPECT_EQ(parse(pkt, SVX_PKT_UDP_ENCAP), SVX_E_L4_HDR_LEN);
}

TEST(ParseUdpEncap, OuterChecksumIsVerifiedUnlessZero) {
    Bytes pkt = tcp_packet().udp_encap().build();
    pkt[27] ^= 1;
    EXPECT_EQ(parse(pkt, kVerifyAll | SVX_PKT_UDP_ENCAP), SVX_E_L4_CSUM);
    EXPECT_EQ(parse(pkt, SVX_PKT_UDP_ENCAP), SVX_OK);
    pkt[26] = pkt[27] = 0; // "no checksum"
    EXPECT_EQ(parse(pkt, kVerifyAll | SVX_PKT_UDP_ENCAP), SVX_OK);
}

// A NAT rewrites the outer addresses but not the inner checksum (section 13).
TEST(ParseUdpEncap, InnerChecksumIsNotReverified) {
    EXPECT_EQ(parse(tcp_packet().udp_encap().bad_l4_csum().build(), kVerifyAll | SVX_PKT_UDP_ENCAP),
              SVX_OK);
    EXPECT_EQ(parse(tcp_packet().bad_l4_csum().build()), SVX_E_L4_CSUM);
}

// --- SAL header (section 4.7) ----------------------------------------------

TEST(ParseSal, Truncated) {
    Bytes sal = sal_packet().build();
    sal.erase(sal.begin(), sal.begin() + SVX_IPV4_HDR_LEN);
    svx_sal_view v;
    for (size_t len = 0; len < SVX_SAL_BASE_LEN; ++len)
        EXPECT_EQ(svx_sal_parse(sal.data(), len, 0, &v), SVX_E_SAL_TRUNCATED) << len;
    // SHL says more than there is.
    EXPECT_EQ(parse(sal_packet().sal_shl(4).build()), SVX_E_SAL_TRUNCATED);
    // Fewer than 12 bytes after the IP header.
    Bytes stub(SVX_SAL_BASE_LEN - 1, 0);
    EXPECT_EQ(parse(PacketBuilder().body(stub).build()), SVX_E_SAL_TRUNCATED);
}

TEST(ParseSal, ShlBelowThreeWords) {
    for (uint8_t shl : {0, 1, 2})
        EXPECT_EQ(parse(sal_packet().sal_shl(shl).build()), SVX_E_SAL_SHL) << int{shl};
}

TEST(ParseSal, UndefinedExtensionTypes) {
    for (uint8_t type = 5; type <= 15; ++type)
        EXPECT_EQ(parse(sal_packet().raw_sal_tail(ext_with_length(type, 4, 4)).build()),
                  SVX_E_EXT_TYPE)
            << int{type};
}

TEST(ParseSal, ExtensionLengths) {
    struct Case {
        const char* what;
        Bytes tail;
    };
    const Case cases[] = {
        {"CONTROL len 24", ext_with_length(SVX_EXT_CONTROL, 24, 24)},
        {"CONTROL len 19", ext_with_length(SVX_EXT_CONTROL, 19, 20)},
        {"CONTROL len 0", ext_with_length(SVX_EXT_CONTROL, 0, 4)},
        {"SERVICE len 35", ext_with_length(SVX_EXT_SERVICE, 35, 36)},
        {"SERVICE len 40", ext_with_length(SVX_EXT_SERVICE, 40, 40)},
        {"SOURCE len 8", ext_with_length(SVX_EXT_SOURCE, 8, 8)},
        {"SOURCE len 14", ext_with_length(SVX_EXT_SOURCE, 14, 16)},
        {"SOURCE len 4", ext_with_length(SVX_EXT_SOURCE, 4, 4)},
        {"ADDRESS len 11", ext_with_length(SVX_EXT_ADDRESS, 11, 12)},
    };
    for (const Case& c : cases)
        EXPECT_EQ(parse(sal_packet().raw_sal_tail(c.tail).build()), SVX_E_EXT_LEN) << c.what;
}

TEST(ParseSal, ExtensionsMustEndAtShl) {
    // CONTROL (20 bytes) declared in a 4-byte extension area.
    EXPECT_EQ(parse(sal_packet().raw_sal_tail(ext_with_length(SVX_EXT_CONTROL, 20, 4)).build()),
              SVX_E_EXT_OVERRUN);
    // 3 PADs, then an extension header whose length byte is past SHL.
    EXPECT_EQ(parse(sal_packet().raw_sal_tail({0, 0, 0, SVX_EXT_SOURCE << 4}).build()),
              SVX_E_EXT_OVERRUN);
    // SOURCE of 3 addresses in 12 bytes; the transport bytes behind it do not count.
    Bytes source3 = source_ext(3);
    Bytes pkt = sal_packet().raw_sal_tail(source3).sal_shl(6).payload("1234").build();
    EXPECT_EQ(parse(pkt, SVX_SAL_PARSE_NO_CSUM), SVX_E_EXT_OVERRUN);
}

TEST(ParseSal, AtMostTenElements) {
    EXPECT_EQ(parse(sal_packet().pad(12).build()), SVX_E_EXT_COUNT); // the 11th fails
    EXPECT_EQ(parse(sal_packet().raw_sal_tail(control_ext()).pad(12).build()), SVX_E_EXT_COUNT);
    svx_pkt_view v =
        parse_ok(sal_packet().control(SVX_CTL_ACK, 1, 2).service("0x5").pad(8).build());
    EXPECT_EQ(v.sal.n_elems, 10);
    EXPECT_EQ(v.sal.n_pad, 8);
}

TEST(ParseSal, Duplicates) {
    EXPECT_EQ(parse(sal_packet().control(SVX_CTL_ACK, 1, 2).raw_sal_tail(control_ext()).build()),
              SVX_E_EXT_DUP);
    EXPECT_EQ(parse(sal_packet().service("0x5").service("0x6").raw_sal_tail(service_ext()).build()),
              SVX_E_EXT_DUP);
    EXPECT_EQ(
        parse(sal_packet().source({"10.0.0.1", "10.0.0.2"}).raw_sal_tail(source_ext(2)).build()),
        SVX_E_EXT_DUP);
    Bytes address = ext_with_length(SVX_EXT_ADDRESS, 12, 12);
    EXPECT_EQ(parse(sal_packet().raw_sal_tail(cat({address, address})).build()), SVX_E_EXT_DUP);
}

TEST(ParseSal, Checksum) {
    Bytes pkt = tcp_packet().control(SVX_CTL_ACK, 1, 2).bad_sal_csum().build();
    EXPECT_EQ(parse(pkt), SVX_E_SAL_CSUM);
    EXPECT_EQ(parse(pkt, 0), SVX_E_SAL_CSUM); // verified unless told not to
    EXPECT_EQ(parse(pkt, kVerifyAll | SVX_SAL_PARSE_NO_CSUM), SVX_OK);
    svx_sal_view v;
    const uint8_t* sal = pkt.data() + SVX_IPV4_HDR_LEN;
    size_t len = pkt.size() - SVX_IPV4_HDR_LEN;
    EXPECT_EQ(svx_sal_parse(sal, len, 0, &v), SVX_E_SAL_CSUM);
    EXPECT_EQ(svx_sal_parse(sal, len, SVX_SAL_PARSE_NO_CSUM, &v), SVX_OK);
}

// Rule 6 of 4.7: a malformed header is refused as such before its checksum.
TEST(ParseSal, StructureIsCheckedBeforeTheChecksum) {
    EXPECT_EQ(parse(sal_packet().raw_sal_tail(ext_with_length(9, 4, 4)).bad_sal_csum().build()),
              SVX_E_EXT_TYPE);
}

TEST(ParseSal, PadsAreAcceptedAndCounted) {
    // PADs before, between and after extensions; any byte 0x00..0x0f is one.
    Bytes tail =
        cat({{0x00, 0x0f}, control_ext(), {0x07}, service_ext(), {0x00, 0x01, 0x02, 0x03, 0x04}});
    svx_pkt_view v = parse_ok(sal_packet().raw_sal_tail(tail).build());
    EXPECT_EQ(v.sal.n_pad, 8);
    EXPECT_EQ(v.sal.n_elems, 10);
    EXPECT_EQ(v.sal.ctrl_off, SVX_SAL_BASE_LEN + 2);
    EXPECT_EQ(v.sal.service_off[0], SVX_SAL_BASE_LEN + 2 + SVX_EXT_CONTROL_LEN + 1);
    EXPECT_EQ(v.sal.flags, SVX_CTL_ACK);
    EXPECT_FALSE(v.sal.canonical);
}

TEST(ParseSal, AddressIsAcceptedAndIgnored) {
    Bytes address = ext_with_length(SVX_EXT_ADDRESS, 16, 16); // at least 12 is enough
    svx_pkt_view v =
        parse_ok(sal_packet().control(SVX_CTL_ACK, 1, 2).raw_sal_tail(address).build());
    EXPECT_EQ(v.sal.address_off, SVX_SAL_BASE_LEN + SVX_EXT_CONTROL_LEN);
    EXPECT_EQ(v.sal.n_elems, 2);
    EXPECT_FALSE(v.sal.canonical);
    EXPECT_EQ(v.sal.flags, SVX_CTL_ACK);
}

TEST(ParseSal, CanonicalOrderIsControlServiceSource) {
    EXPECT_TRUE(parse_ok(sal_packet()
                             .control(SVX_CTL_SYN, 1, 0)
                             .service("0x5")
                             .service("0x6")
                             .source({"10.0.0.1", "10.0.0.2"})
                             .build())
                    .sal.canonical);
    EXPECT_TRUE(parse_ok(sal_packet().build()).sal.canonical);
    // SERVICE before CONTROL.
    EXPECT_FALSE(
        parse_ok(sal_packet().service("0x5").raw_sal_tail(control_ext()).build()).sal.canonical);
    // SOURCE before SERVICE.
    EXPECT_FALSE(
        parse_ok(sal_packet().source({"10.0.0.1", "10.0.0.2"}).raw_sal_tail(service_ext()).build())
            .sal.canonical);
}

TEST(ParseSal, ViewLocatesEveryExtension) {
    Bytes pkt = sal_packet()
                    .control(SVX_CTL_SYN, 0x01020304, 0x05060708, 0x1112131415161718)
                    .service("0xaa")
                    .service("0xbb")
                    .source({"10.0.0.1", "10.0.0.2", "10.0.0.3"})
                    .build();
    svx_pkt_view v = parse_ok(pkt);
    const uint8_t* sal = pkt.data() + v.sal_off;
    EXPECT_EQ(v.sal.len, 12 + 20 + 72 + 16);
    EXPECT_EQ(v.sal.ctrl_off, 12);
    EXPECT_EQ(v.sal.service_off[0], 32);
    EXPECT_EQ(v.sal.service_off[1], 68);
    EXPECT_EQ(v.sal.source_off, 104);
    EXPECT_EQ(v.sal.n_source, 3);
    EXPECT_EQ(svx_sal_verno(sal, &v.sal), 0x01020304u);
    EXPECT_EQ(svx_sal_ackno(sal, &v.sal), 0x05060708u);
    EXPECT_EQ(svx_sal_nonce(sal, &v.sal)[7], 0x18);
    EXPECT_EQ(svx_sal_service(sal, &v.sal, 0)[0], 0xaa);
    EXPECT_EQ(svx_sal_service(sal, &v.sal, 1)[0], 0xbb);
    EXPECT_EQ(svx_sal_source_addr(sal, &v.sal, 2)[3], 3);
    EXPECT_EQ(v.l4_off, v.ip_len); // no transport
    EXPECT_EQ(v.l4_hlen, 0);

    svx_pkt_view bare = parse_ok(sal_packet().build());
    EXPECT_EQ(svx_sal_nonce(pkt.data(), &bare.sal), nullptr);
    EXPECT_EQ(svx_sal_verno(pkt.data(), &bare.sal), 0u);
    EXPECT_EQ(svx_sal_service(pkt.data(), &bare.sal, 0), nullptr);
}

// Reserved bits are neither validated nor lost (sections 4.3, 19.1).
TEST(ParseSal, ReservedBitsAreAcceptedAndKept) {
    Bytes ctrl = control_ext(SVX_CTL_ACK | SVX_CTL_RESERVED);
    ctrl[0] |= 0x0f;
    ctrl[3] = 0xa5;
    Bytes svc = service_ext();
    svc[0] |= 0x03;
    svc[2] = 0x12;
    svc[3] = 0x34;
    Bytes pkt = sal_packet().raw_sal_tail(cat({ctrl, svc})).build();
    svx_pkt_view v = parse_ok(pkt);
    EXPECT_TRUE(v.sal.canonical);
    EXPECT_EQ(v.sal.flags, SVX_CTL_ACK | SVX_CTL_RESERVED);
    svx_sal_spec spec;
    ASSERT_EQ(svx_sal_decode(pkt.data() + v.sal_off, &v.sal, &spec), SVX_OK);
    EXPECT_EQ(spec.ctrl.res_nibble, 0x0f);
    EXPECT_EQ(spec.ctrl.reserved2, 0xa5);
    EXPECT_EQ(spec.service[0].res_nibble, 0x03);
    EXPECT_EQ(spec.service[0].reserved, 0x1234);
    Bytes rebuilt(svx_sal_spec_len(&spec));
    ASSERT_EQ(svx_sal_build(rebuilt.data(), rebuilt.size(), &spec), v.sal.len);
    EXPECT_TRUE(std::ranges::equal(rebuilt, std::span(pkt).subspan(v.sal_off, v.sal.len)));
}

// --- Transport after the SAL ------------------------------------------------

TEST(ParseL4, UnknownProtocolWithBytesBehindTheSal) {
    EXPECT_EQ(parse(sal_packet().sal_protocol(1).payload("x").build()), SVX_E_L4_PROTO);
    // Control-only packets carry no transport, whatever the protocol byte says.
    svx_pkt_view v = parse_ok(sal_packet().sal_protocol(1).build());
    EXPECT_EQ(v.l4_len, 0);
    EXPECT_EQ(v.l4_hlen, 0);
}

TEST(ParseL4, Truncated) {
    Bytes nineteen(SVX_TCP_HDR_LEN - 1, 0);
    EXPECT_EQ(parse(sal_packet().payload(nineteen).build()), SVX_E_L4_TRUNCATED);
    Bytes seven(SVX_UDP_HDR_LEN - 1, 0);
    EXPECT_EQ(parse(sal_packet().sal_protocol(SVX_IPPROTO_UDP).payload(seven).build()),
              SVX_E_L4_TRUNCATED);
}

TEST(ParseL4, HeaderLength) {
    EXPECT_EQ(parse(tcp_packet().tcp_doff(4).build(), 0), SVX_E_L4_HDR_LEN);
    EXPECT_EQ(parse(tcp_packet().tcp_doff(0).build(), 0), SVX_E_L4_HDR_LEN);
    // Data offset beyond the segment ("data" is 4 bytes, doff 7 needs 28).
    EXPECT_EQ(parse(tcp_packet().tcp_doff(7).build(), 0), SVX_E_L4_HDR_LEN);
    EXPECT_EQ(parse(tcp_packet().tcp_doff(6).build(), 0), SVX_OK);

    auto udp = [] { return sal_packet().udp(0, 0).payload("abc"); };
    EXPECT_EQ(parse(udp().udp_len(12).build(), 0), SVX_E_L4_HDR_LEN);
    EXPECT_EQ(parse(udp().udp_len(10).build(), 0), SVX_E_L4_HDR_LEN);
    EXPECT_EQ(parse(udp().udp_len(11).build(), 0), SVX_OK);
}

TEST(ParseL4, Checksum) {
    Bytes tcp = tcp_packet().bad_l4_csum().build();
    EXPECT_EQ(parse(tcp), SVX_E_L4_CSUM);
    EXPECT_EQ(parse(tcp, SVX_PKT_VERIFY_IP_CSUM), SVX_OK);
    Bytes udp = sal_packet().udp(0, 0).payload("abc").bad_l4_csum().build();
    EXPECT_EQ(parse(udp), SVX_E_L4_CSUM);
    EXPECT_EQ(parse(udp, SVX_PKT_VERIFY_IP_CSUM), SVX_OK);
}

// Zero means "no checksum" in UDP; the reference sends it in connected
// Serval UDP SYN-ACKs and ACKs.
TEST(ParseL4, UdpWithoutChecksumIsAccepted) {
    Bytes udp = sal_packet().udp(0, 0).payload("abc").build();
    svx_pkt_view v = parse_ok(udp);
    udp[v.l4_off + 6] = udp[v.l4_off + 7] = 0;
    EXPECT_EQ(parse(udp), SVX_OK);
}

TEST(ParseL4, ViewOfATcpSegment) {
    Bytes pkt = tcp_packet().mss(1448).wscale(7).build();
    svx_pkt_view v = parse_ok(pkt);
    EXPECT_EQ(v.l4_off, SVX_IPV4_HDR_LEN + SVX_SAL_BASE_LEN);
    EXPECT_EQ(v.l4_hlen, 28);
    EXPECT_EQ(v.l4_len, 28 + 4);
    EXPECT_EQ(v.l4_off + v.l4_len, v.ip_len);
}

TEST(ErrorNames, EveryCodeHasADistinctNameAndADescription) {
    std::set<std::string> names;
    for (int e = 0; e < SVX_E__COUNT; ++e) {
        auto err = static_cast<svx_err>(e);
        std::string name = svx_err_name(err);
        EXPECT_NE(name, "unknown") << e;
        EXPECT_NE(std::string(svx_err_desc(err)), "unknown error code") << e;
        EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    }
    EXPECT_STREQ(svx_err_name(SVX_E__COUNT), "unknown");
    EXPECT_STREQ(svx_err_name(static_cast<svx_err>(-1)), "unknown");
}

} // namespace
} // namespace svxlat::test
