// The registration codec (include/svxlat/reg.h) against the handmade vectors
// V10/V11, every registration datagram of the reference captures, and
// malformed bodies and datagrams made with the independent packet builder.
#include <algorithm>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/err.h>
#include <svxlat/pkt.h>
#include <svxlat/reg.h>

#include "vectors.h"

namespace svxlat::test {
namespace {

// A copy: read_handmade_vectors() returns a temporary.
Bytes handmade_vector(const char* name) {
    return find_vector(read_handmade_vectors(), name).bytes;
}

svx_sid sid_u32(uint32_t n) {
    svx_sid id;
    svx_reg_sid_from_u32(&id, n);
    return id;
}

// V10: REGISTER, xid 1, full-length prefix, no REREGISTER.
svx_reg_msg v10_msg() {
    svx_reg_msg m{};
    m.type = SVX_CTRLMSG_REGISTER;
    m.prefix_bits = 256;
    m.xid = 1;
    m.service_id = sid_from_text(handmade::service_id);
    return m;
}

svx_reg_datagram v11_datagram() {
    svx_reg_datagram d{};
    d.src_flow = 3;
    d.dst_service = sid_u32(SVX_REG_DEFAULT_ROUTER_ID);
    d.src_service = sid_u32(SVX_REG_DEFAULT_CLIENT_ID);
    d.msg = v10_msg();
    return d;
}

svx_ipv4_spec v11_ip() {
    svx_ipv4_spec ip{};
    std::memcpy(ip.saddr, handmade::client.data(), 4);
    std::memcpy(ip.daddr, handmade::router.data(), 4);
    ip.ttl = 64;
    return ip;
}

Bytes build_body(const svx_reg_msg& m) {
    Bytes out(SVX_REG_MSG_LEN);
    EXPECT_EQ(svx_reg_msg_build(out.data(), &m), SVX_OK);
    return out;
}

// An unconnected Serval-UDP datagram built without the codec under test.
PacketBuilder datagram_with(std::span<const uint8_t> payload) {
    PacketBuilder b;
    b.ipv4(handmade::client, handmade::router)
        .sal(3, 0)
        .service(sid_u32(SVX_REG_DEFAULT_ROUTER_ID))
        .service(sid_u32(SVX_REG_DEFAULT_CLIENT_ID))
        .udp(0, 0)
        .payload(payload);
    return b;
}

svx_err parse_datagram(std::span<const uint8_t> pkt, svx_reg_datagram& d) {
    return svx_reg_datagram_parse(pkt.data(), pkt.size(), SVX_REG_PARSE_STRICT, &d);
}

TEST(router_reg_codec, DefaultServiceIds) {
    EXPECT_EQ(to_hex(sid_u32(SVX_REG_DEFAULT_ROUTER_ID).b), "00015b38" + std::string(56, '0'));
    EXPECT_EQ(to_hex(sid_u32(SVX_REG_DEFAULT_CLIENT_ID).b), "0000d903" + std::string(56, '0'));
}

TEST(router_reg_codec, BuildsV10ByteForByte) {
    const Bytes v10 = handmade_vector("V10");
    Bytes body = build_body(v10_msg());
    EXPECT_EQ(body, v10) << describe_difference(body, v10);
}

TEST(router_reg_codec, ParsesV10) {
    const Bytes v10 = handmade_vector("V10");
    svx_reg_msg m;
    ASSERT_EQ(svx_reg_msg_parse(v10.data(), v10.size(), &m), SVX_OK);
    EXPECT_EQ(m.type, SVX_CTRLMSG_REGISTER);
    EXPECT_EQ(m.flags, 0);
    EXPECT_EQ(m.prefix_bits, 256);
    EXPECT_EQ(m.xid, 1u);
    EXPECT_EQ(to_hex(m.service_id.b), handmade::service_id);
}

TEST(router_reg_codec, BuildsV11ByteForByte) {
    const Bytes v11 = handmade_vector("V11");
    ASSERT_EQ(v11.size(), size_t{SVX_REG_DATAGRAM_LEN});
    Bytes out(SVX_REG_DATAGRAM_LEN + 7, 0xee);
    svx_ipv4_spec ip = v11_ip();
    svx_reg_datagram d = v11_datagram();
    ASSERT_EQ(svx_reg_datagram_build(out.data(), out.size(), &ip, &d), SVX_REG_DATAGRAM_LEN);
    EXPECT_EQ(out[SVX_REG_DATAGRAM_LEN], 0xee); // nothing written past the datagram
    out.resize(SVX_REG_DATAGRAM_LEN);
    EXPECT_EQ(out, v11) << describe_difference(out, v11);
}

TEST(router_reg_codec, ParsesV11) {
    const Bytes v11 = handmade_vector("V11");
    svx_reg_datagram d;
    ASSERT_EQ(parse_datagram(v11, d), SVX_OK);
    EXPECT_TRUE(std::ranges::equal(d.saddr, handmade::client));
    EXPECT_TRUE(std::ranges::equal(d.daddr, handmade::router));
    EXPECT_EQ(d.src_flow, 3u);
    EXPECT_EQ(to_hex(d.dst_service.b), to_hex(sid_u32(88888).b));
    EXPECT_EQ(to_hex(d.src_service.b), to_hex(sid_u32(55555).b));
    EXPECT_EQ(d.msg.type, SVX_CTRLMSG_REGISTER);
    EXPECT_EQ(d.msg.xid, 1u);
    EXPECT_EQ(d.msg.prefix_bits, 256);
    EXPECT_EQ(to_hex(d.msg.service_id.b), handmade::service_id);
}

TEST(router_reg_codec, BuildRejectsSmallBuffer) {
    svx_ipv4_spec ip = v11_ip();
    svx_reg_datagram d = v11_datagram();
    Bytes out(SVX_REG_DATAGRAM_LEN - 1);
    EXPECT_EQ(svx_reg_datagram_build(out.data(), out.size(), &ip, &d), -SVX_E_NOSPACE);
    d.msg.prefix_bits = 0;
    out.resize(SVX_REG_DATAGRAM_LEN);
    EXPECT_EQ(svx_reg_datagram_build(out.data(), out.size(), &ip, &d), -SVX_E_INVAL);
}

TEST(router_reg_codec, XidIsLittleEndianLenIsBigEndian) {
    svx_reg_msg m = v10_msg();
    m.xid = 0x01020304;
    Bytes body = build_body(m);
    EXPECT_EQ(to_hex(std::span(body).subspan(0, 8)), "0000003004030201");
    svx_reg_msg back;
    ASSERT_EQ(svx_reg_msg_parse(body.data(), body.size(), &back), SVX_OK);
    EXPECT_EQ(back.xid, 0x01020304u);
}

TEST(router_reg_codec, RoundTripsEveryFieldAndPrefix) {
    for (unsigned bits = 1; bits <= 256; ++bits) {
        svx_reg_msg m{};
        m.type = bits % 2 ? SVX_CTRLMSG_REGISTER : SVX_CTRLMSG_UNREGISTER;
        m.flags = bits % 3 ? SVX_CTRLMSG_REG_FLAG_REREGISTER : 0;
        m.retval = static_cast<uint8_t>(bits);
        m.srvid_flags = static_cast<uint8_t>(bits * 7);
        m.prefix_bits = static_cast<uint16_t>(bits);
        m.xid = 0x9e3779b9u * bits;
        m.addr[0] = 10;
        m.addr[3] = static_cast<uint8_t>(bits);
        for (size_t i = 0; i < SVX_SID_LEN; ++i)
            m.service_id.b[i] = static_cast<uint8_t>(i * bits);
        Bytes body = build_body(m);
        EXPECT_EQ(body[10], bits == 256 ? 0 : bits) << "wire prefix of " << bits;
        EXPECT_EQ(body[9], 0) << "pad";
        svx_reg_msg back;
        ASSERT_EQ(svx_reg_msg_parse(body.data(), body.size(), &back), SVX_OK);
        EXPECT_EQ(std::memcmp(&back, &m, sizeof m), 0) << "prefix " << bits;
    }
}

TEST(router_reg_codec, BuildRefusesInvalidFields) {
    Bytes out(SVX_REG_MSG_LEN);
    svx_reg_msg m = v10_msg();
    for (unsigned bits : {0u, 257u, 300u, 65535u}) {
        m.prefix_bits = static_cast<uint16_t>(bits);
        EXPECT_EQ(svx_reg_msg_build(out.data(), &m), SVX_E_INVAL) << "prefix " << bits;
    }
    m = v10_msg();
    m.type = 2;
    EXPECT_EQ(svx_reg_msg_build(out.data(), &m), SVX_E_INVAL);
    m = v10_msg();
    m.flags = 0x02;
    EXPECT_EQ(svx_reg_msg_build(out.data(), &m), SVX_E_INVAL);
}

TEST(router_reg_codec, BodyEveryTruncationAndExtension) {
    Bytes body = build_body(v10_msg());
    svx_reg_msg m;
    for (size_t len = 0; len < body.size(); ++len)
        EXPECT_EQ(svx_reg_msg_parse(body.data(), len, &m), SVX_E_REG_LEN) << len;
    Bytes longer = body;
    longer.push_back(0);
    EXPECT_EQ(svx_reg_msg_parse(longer.data(), longer.size(), &m), SVX_E_REG_LEN);
}

TEST(router_reg_codec, BodyWrongLenField) {
    Bytes body = build_body(v10_msg());
    svx_reg_msg m;
    for (uint16_t len : {0, 1, 12, 47, 49, 60, 0x3000 /* host order from x86 */, 0xffff}) {
        svx_put_be16(body.data() + 2, len);
        EXPECT_EQ(svx_reg_msg_parse(body.data(), body.size(), &m), SVX_E_REG_LEN) << len;
    }
}

TEST(router_reg_codec, BodyWrongType) {
    Bytes body = build_body(v10_msg());
    svx_reg_msg m;
    for (unsigned type = 0; type < 256; ++type) {
        body[0] = static_cast<uint8_t>(type);
        svx_err want = type <= 1 ? SVX_OK : SVX_E_REG_TYPE;
        EXPECT_EQ(svx_reg_msg_parse(body.data(), body.size(), &m), want) << type;
    }
}

TEST(router_reg_codec, BodyUnknownFlags) {
    Bytes body = build_body(v10_msg());
    svx_reg_msg m;
    for (unsigned flags = 0; flags < 256; ++flags) {
        body[8] = static_cast<uint8_t>(flags);
        svx_err want = flags <= 1 ? SVX_OK : SVX_E_REG_FLAGS;
        EXPECT_EQ(svx_reg_msg_parse(body.data(), body.size(), &m), want) << flags;
    }
}

TEST(router_reg_codec, BodyEveryWirePrefixIsValid) {
    // The wire field is one byte: "more than 256" cannot be expressed, 0 is 256.
    Bytes body = build_body(v10_msg());
    svx_reg_msg m;
    for (unsigned p = 0; p < 256; ++p) {
        body[10] = static_cast<uint8_t>(p);
        ASSERT_EQ(svx_reg_msg_parse(body.data(), body.size(), &m), SVX_OK);
        EXPECT_EQ(m.prefix_bits, p == 0 ? 256 : p);
    }
}

TEST(router_reg_codec, BodyIgnoresPadRetvalAndServiceFlags) {
    Bytes body = build_body(v10_msg());
    body[1] = 3;
    body[9] = 0xaa;
    body[11] = 0xff;
    svx_reg_msg m;
    ASSERT_EQ(svx_reg_msg_parse(body.data(), body.size(), &m), SVX_OK);
    EXPECT_EQ(m.retval, 3);
    EXPECT_EQ(m.srvid_flags, 0xff);
}

TEST(router_reg_codec, DatagramEveryTruncationFails) {
    const Bytes v11 = handmade_vector("V11");
    svx_reg_datagram d;
    for (size_t len = 0; len < v11.size(); ++len) {
        EXPECT_NE(svx_reg_datagram_parse(v11.data(), len, 0, &d), SVX_OK) << len;
        // Lengths fixed up consistently: the body itself is short.
        Bytes body = build_body(v10_msg());
        if (len < body.size()) {
            Bytes pkt = datagram_with(std::span(body).first(len)).build();
            EXPECT_EQ(parse_datagram(pkt, d), SVX_E_REG_LEN) << "body of " << len;
        }
    }
}

TEST(router_reg_codec, DatagramBuiltIndependentlyParses) {
    Bytes body = build_body(v10_msg());
    Bytes pkt = datagram_with(body).build();
    const Bytes v11 = handmade_vector("V11");
    EXPECT_EQ(pkt, v11) << describe_difference(pkt, v11); // the builder agrees with V11
    svx_reg_datagram d;
    EXPECT_EQ(parse_datagram(pkt, d), SVX_OK);
}

TEST(router_reg_codec, DatagramLongerPayload) {
    Bytes body = build_body(v10_msg());
    body.push_back(0);
    Bytes pkt = datagram_with(body).build();
    svx_reg_datagram d;
    EXPECT_EQ(parse_datagram(pkt, d), SVX_E_REG_LEN);
}

TEST(router_reg_codec, DatagramNotUnconnectedUdp) {
    Bytes body = build_body(v10_msg());
    const svx_sid router = sid_u32(88888), client = sid_u32(55555);
    svx_reg_datagram d;
    struct Case {
        const char* what;
        PacketBuilder b;
    };
    std::vector<Case> cases;
    cases.push_back({"TCP", PacketBuilder{}});
    cases.back()
        .b.ipv4(handmade::client, handmade::router)
        .sal(3, 0)
        .service(router)
        .service(client)
        .tcp(0, 0)
        .payload(body);
    cases.push_back({"CONTROL", PacketBuilder{}});
    cases.back()
        .b.ipv4(handmade::client, handmade::router)
        .sal(3, 0)
        .control(SVX_CTL_SYN, 1, 0)
        .service(router)
        .service(client)
        .udp(0, 0)
        .payload(body);
    cases.push_back({"dst flow", PacketBuilder{}});
    cases.back()
        .b.ipv4(handmade::client, handmade::router)
        .sal(3, 9)
        .service(router)
        .service(client)
        .udp(0, 0)
        .payload(body);
    cases.push_back({"one SERVICE", PacketBuilder{}});
    cases.back()
        .b.ipv4(handmade::client, handmade::router)
        .sal(3, 0)
        .service(router)
        .udp(0, 0)
        .payload(body);
    cases.push_back({"no SERVICE", PacketBuilder{}});
    cases.back().b.ipv4(handmade::client, handmade::router).sal(3, 0).udp(0, 0).payload(body);
    cases.push_back({"no transport", PacketBuilder{}});
    cases.back()
        .b.ipv4(handmade::client, handmade::router)
        .sal(3, 0)
        .sal_protocol(17)
        .service(router)
        .service(client);
    for (const auto& c : cases) {
        Bytes pkt = c.b.build();
        EXPECT_EQ(parse_datagram(pkt, d), SVX_E_REG_DATAGRAM) << c.what << "\n" << hexdump(pkt);
    }
}

TEST(router_reg_codec, DatagramChecksumsAndEncapsulation) {
    Bytes body = build_body(v10_msg());
    svx_reg_datagram d;
    EXPECT_EQ(parse_datagram(datagram_with(body).bad_ip_csum().build(), d), SVX_E_IP_CSUM);
    EXPECT_EQ(parse_datagram(datagram_with(body).bad_sal_csum().build(), d), SVX_E_SAL_CSUM);
    EXPECT_EQ(parse_datagram(datagram_with(body).bad_l4_csum().build(), d), SVX_E_L4_CSUM);
    // Without the checksum options only the SAL checksum is still verified.
    Bytes bad_udp = datagram_with(body).bad_l4_csum().build();
    EXPECT_EQ(svx_reg_datagram_parse(bad_udp.data(), bad_udp.size(), 0, &d), SVX_OK);

    Bytes encap = datagram_with(body).udp_encap().build();
    EXPECT_EQ(parse_datagram(encap, d), SVX_E_NOT_SAL);
    EXPECT_EQ(svx_reg_datagram_parse(encap.data(), encap.size(),
                                     SVX_REG_PARSE_STRICT | SVX_PKT_UDP_ENCAP, &d),
              SVX_OK);
    EXPECT_EQ(d.msg.xid, 1u);
}

TEST(router_reg_codec, DatagramThroughAnotherForwarderKeepsSender) {
    Bytes body = build_body(v10_msg());
    PacketBuilder b = datagram_with(body);
    b.source({"192.168.1.10", "192.168.1.1"});
    svx_reg_datagram d;
    ASSERT_EQ(parse_datagram(b.build(), d), SVX_OK);
    EXPECT_TRUE(std::ranges::equal(d.saddr, handmade::client));
}

TEST(router_reg_codec, ErrorTableNamesTheNewReasons) {
    for (svx_err e : {SVX_E_REG_DATAGRAM, SVX_E_REG_LEN, SVX_E_REG_TYPE, SVX_E_REG_FLAGS}) {
        std::string name = svx_err_name(e);
        EXPECT_EQ(name.rfind("reg_", 0), 0u) << name;
        EXPECT_STRNE(svx_err_desc(e), "unknown error code");
    }
}

// Frames of the reference captures that carry a registration: unconnected
// Serval-UDP datagrams (SAL protocol 17, two SERVICE, no CONTROL).
struct CapturedRegistration {
    std::string where;
    Bytes pkt;
};

std::vector<CapturedRegistration> captured_registrations(size_t& others) {
    std::vector<CapturedRegistration> out;
    others = 0;
    for (const auto& file : reference_pcaps()) {
        auto packets = read_pcap_ipv4(file);
        for (size_t i = 0; i < packets.size(); ++i) {
            svx_pkt_view v;
            const Bytes& p = packets[i];
            bool reg = svx_pkt_parse(p.data(), p.size(), 0, &v) == SVX_OK &&
                       v.sal.protocol == SVX_IPPROTO_UDP && v.sal.n_service == 2 &&
                       v.sal.ctrl_off == 0;
            if (reg)
                out.push_back({file.filename().string() + " #" + std::to_string(i + 1), p});
            else
                ++others;
        }
    }
    return out;
}

TEST(router_reg_codec, EveryCapturedRegistrationParsesAndRebuilds) {
    size_t others = 0;
    auto regs = captured_registrations(others);
    ASSERT_EQ(regs.size(), 16u); // see docs/router.md
    for (const auto& r : regs) {
        SCOPED_TRACE(r.where);
        svx_reg_datagram d;
        ASSERT_EQ(parse_datagram(r.pkt, d), SVX_OK) << hexdump(r.pkt);
        EXPECT_EQ(d.msg.prefix_bits, 256);
        EXPECT_EQ(d.msg.flags, 0);
        // Rebuilt from the decoded fields and the capture's IP ID/TTL/DF/TOS.
        svx_ipv4_spec ip{};
        std::memcpy(ip.saddr, d.saddr, 4);
        std::memcpy(ip.daddr, d.daddr, 4);
        ip.tos = r.pkt[1];
        ip.id = svx_get_be16(r.pkt.data() + 4);
        ip.df = (svx_get_be16(r.pkt.data() + 6) & SVX_IPV4_DF) != 0;
        ip.ttl = r.pkt[8];
        Bytes out(SVX_REG_DATAGRAM_LEN);
        ASSERT_EQ(svx_reg_datagram_build(out.data(), out.size(), &ip, &d), SVX_REG_DATAGRAM_LEN);
        EXPECT_EQ(out, r.pkt) << describe_difference(out, r.pkt);
    }
}

TEST(router_reg_codec, EveryOtherCapturedPacketIsRefused) {
    size_t others = 0;
    captured_registrations(others);
    ASSERT_GT(others, 100u);
    for (const auto& file : reference_pcaps()) {
        for (const Bytes& p : read_pcap_ipv4(file)) {
            svx_reg_datagram d;
            svx_pkt_view v;
            if (svx_pkt_parse(p.data(), p.size(), 0, &v) == SVX_OK && v.sal.n_service == 2 &&
                v.sal.protocol == SVX_IPPROTO_UDP && !v.sal.ctrl_off)
                continue;
            EXPECT_NE(parse_datagram(p, d), SVX_OK) << file.filename() << "\n" << hexdump(p);
        }
    }
}

TEST(router_reg_codec, RouterSrCaptureDecodesAsAnnotated) {
    // B-via-router-port-sr.txt frames #1, #4, #5, #8, #9.
    auto packets = read_pcap_ipv4(vectors_dir() / "reference" / "B-via-router-port-sr.pcap");
    struct Want {
        size_t frame;
        const char* saddr;
        uint8_t type;
        uint32_t xid;
        uint32_t service;
        uint32_t dst_service;
    };
    const Want wants[] = {
        {1, "10.77.1.3", SVX_CTRLMSG_REGISTER, 1, 88888, 55555},
        {4, "10.77.1.2", SVX_CTRLMSG_REGISTER, 1, 55555, 88888},
        {5, "10.77.1.2", SVX_CTRLMSG_REGISTER, 2, 16385, 88888},
        {8, "10.77.1.2", SVX_CTRLMSG_UNREGISTER, 3, 16385, 88888},
        {9, "10.77.1.2", SVX_CTRLMSG_REGISTER, 4, 16385, 88888},
    };
    for (const Want& w : wants) {
        SCOPED_TRACE("frame #" + std::to_string(w.frame));
        svx_reg_datagram d;
        ASSERT_EQ(parse_datagram(packets.at(w.frame - 1), d), SVX_OK);
        EXPECT_TRUE(std::ranges::equal(d.saddr, ipv4_addr(w.saddr)));
        EXPECT_EQ(d.msg.type, w.type);
        EXPECT_EQ(d.msg.xid, w.xid);
        EXPECT_EQ(to_hex(d.msg.service_id.b), to_hex(sid_u32(w.service).b));
        EXPECT_EQ(to_hex(d.dst_service.b), to_hex(sid_u32(w.dst_service).b));
        EXPECT_EQ(d.src_flow, 2u);
    }
}

} // namespace
} // namespace svxlat::test
