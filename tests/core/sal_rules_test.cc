// Behaviour rules of the SAL builders: passive RST (section 6.8), the service
// router's SOURCE append (section 12) and the builder's own limits.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "packet_builder.h"

namespace svxlat::test {
namespace {

constexpr uint32_t kLocalFlow = 0x11111111;
constexpr uint32_t kPeerFlow = 0x22222222;
const Nonce kNonce = nonce_from_u64(0x0a0b0c0d0e0f1011);
const Nonce kZeroNonce{};
const Ipv4Addr kClient = ipv4_addr("192.0.2.1");
const Ipv4Addr kRouter = ipv4_addr("198.51.100.1");
const Ipv4Addr kHop2 = ipv4_addr("198.51.100.2");

// A SAL header built by the core and parsed back.
struct Sal {
    Bytes bytes;
    svx_sal_view v{};
};

Sal build_and_parse(const svx_sal_spec& spec) {
    Sal s{Bytes(svx_sal_spec_len(&spec))};
    EXPECT_EQ(svx_sal_build(s.bytes.data(), s.bytes.size(), &spec),
              static_cast<int>(s.bytes.size()));
    EXPECT_EQ(svx_sal_parse(s.bytes.data(), s.bytes.size(), 0, &s.v), SVX_OK);
    return s;
}

Sal control_sal(uint8_t flags, uint32_t verno, uint32_t ackno) {
    svx_sal_spec spec;
    svx_sal_spec_control(&spec, kLocalFlow, kPeerFlow, flags, verno, ackno, kNonce.data());
    return build_and_parse(spec);
}

// The passive RST answering a header, checked for the fields every RST shares.
svx_sal_spec passive_rst(const Sal& offending) {
    svx_sal_spec rst;
    EXPECT_EQ(svx_sal_spec_passive_rst(&rst, offending.bytes.data(), &offending.v), SVX_OK);
    EXPECT_EQ(rst.src_flow, svx_sal_dst_flow(offending.bytes.data()));
    EXPECT_EQ(rst.dst_flow, svx_sal_src_flow(offending.bytes.data()));
    EXPECT_EQ(rst.protocol, offending.v.protocol);
    EXPECT_TRUE(rst.has_ctrl);
    EXPECT_TRUE(rst.ctrl.flags & SVX_CTL_RST);
    EXPECT_EQ(rst.n_service, 0); // an RST with SERVICE could kill a listener (6.8)
    EXPECT_EQ(rst.n_source, 0);
    EXPECT_EQ(svx_sal_spec_len(&rst), 32u); // SHL = 8
    return rst;
}

TEST(PassiveRst, AckSetMakesItsAcknoTheVerno) {
    for (uint8_t flags : {SVX_CTL_ACK, SVX_CTL_SYN | SVX_CTL_ACK, SVX_CTL_FIN | SVX_CTL_ACK,
                          SVX_CTL_RSYN | SVX_CTL_ACK}) {
        SCOPED_TRACE("flags " + std::to_string(flags));
        svx_sal_spec rst = passive_rst(control_sal(flags, 1000, 0xdeadbeef));
        EXPECT_EQ(rst.ctrl.flags, SVX_CTL_RST); // ACK stays clear
        EXPECT_EQ(rst.ctrl.verno, 0xdeadbeefu);
        EXPECT_EQ(rst.ctrl.ackno, 0u);
        EXPECT_TRUE(std::ranges::equal(rst.ctrl.nonce, kNonce));
    }
}

TEST(PassiveRst, SynIsAcknowledgedAtVernoPlusOne) {
    svx_sal_spec rst = passive_rst(control_sal(SVX_CTL_SYN, 1000, 0));
    EXPECT_EQ(rst.ctrl.flags, SVX_CTL_RST | SVX_CTL_ACK);
    EXPECT_EQ(rst.ctrl.verno, 0u);
    EXPECT_EQ(rst.ctrl.ackno, 1001u);
    EXPECT_TRUE(std::ranges::equal(rst.ctrl.nonce, kNonce));

    // Sequence arithmetic wraps.
    EXPECT_EQ(passive_rst(control_sal(SVX_CTL_SYN, 0xffffffff, 0)).ctrl.ackno, 0u);
}

TEST(PassiveRst, FinAddsThirtyTwoLikeTheReference) {
    svx_sal_spec rst = passive_rst(control_sal(SVX_CTL_FIN, 1000, 0));
    EXPECT_EQ(rst.ctrl.flags, SVX_CTL_RST | SVX_CTL_ACK);
    EXPECT_EQ(rst.ctrl.ackno, 1032u);
    EXPECT_EQ(passive_rst(control_sal(SVX_CTL_SYN | SVX_CTL_FIN, 1000, 0)).ctrl.ackno, 1033u);
}

TEST(PassiveRst, OtherControlFlagsAcknowledgeTheVernoItself) {
    EXPECT_EQ(passive_rst(control_sal(SVX_CTL_RSYN, 77, 0)).ctrl.ackno, 77u);
    EXPECT_EQ(passive_rst(control_sal(0, 77, 0)).ctrl.ackno, 77u);
}

TEST(PassiveRst, NeverAnswersAnRst) {
    for (uint8_t flags : {SVX_CTL_RST, SVX_CTL_RST | SVX_CTL_ACK, SVX_CTL_RST | SVX_CTL_SYN}) {
        Sal offending = control_sal(flags, 1, 2);
        svx_sal_spec rst;
        EXPECT_EQ(svx_sal_spec_passive_rst(&rst, offending.bytes.data(), &offending.v),
                  SVX_E_INVAL);
    }
}

TEST(PassiveRst, WithoutControlFieldsCountAsZeroAndTheNonceIsZero) {
    // An unconnected Serval UDP datagram: two SERVICE, no CONTROL.
    svx_sal_spec spec{};
    spec.src_flow = 3;
    spec.protocol = SVX_IPPROTO_UDP;
    spec.n_service = 2;
    spec.service[0].id = sid_from_text("0x00015b38");
    spec.service[1].id = sid_from_text("0x0000d903");
    svx_sal_spec rst = passive_rst(build_and_parse(spec));
    EXPECT_EQ(rst.ctrl.flags, SVX_CTL_RST | SVX_CTL_ACK);
    EXPECT_EQ(rst.ctrl.verno, 0u);
    EXPECT_EQ(rst.ctrl.ackno, 0u);
    EXPECT_TRUE(std::ranges::equal(rst.ctrl.nonce, kZeroNonce));
    EXPECT_EQ(rst.protocol, SVX_IPPROTO_UDP);
}

// SAL header + transport + payload of a packet, the region
// svx_sal_source_append rewrites, with spare room behind it.
struct Region {
    Bytes buf;
    size_t len = 0;
    svx_sal_view v{};
    std::span<const uint8_t> bytes() const { return {buf.data(), len}; }
};

Region region_of(const Bytes& pkt, size_t spare) {
    svx_pkt_view pv;
    EXPECT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), SVX_PKT_VERIFY_IP_CSUM, &pv), SVX_OK);
    Region r;
    r.buf.assign(pkt.begin() + pv.sal_off, pkt.end());
    r.len = r.buf.size();
    r.buf.resize(r.len + spare, 0xee);
    r.v = pv.sal;
    return r;
}

PacketBuilder syn_builder() {
    PacketBuilder b;
    b.ipv4(kClient, kRouter)
        .sal(kLocalFlow, 0)
        .control(SVX_CTL_SYN, 1, 0, kNonce)
        .service("0x4001")
        .tcp(0, 0)
        .seq(5)
        .flags(SVX_TCP_SYN)
        .payload("transport bytes must move intact");
    return b;
}

int append(Region& r, const Ipv4Addr& orig_src, const Ipv4Addr& hop) {
    int n =
        svx_sal_source_append(r.buf.data(), r.len, r.buf.size(), &r.v, orig_src.data(), hop.data());
    if (n > 0)
        r.len = static_cast<size_t>(n);
    return n;
}

std::vector<Ipv4Addr> source_list(const Region& r) {
    std::vector<Ipv4Addr> out;
    for (unsigned i = 0; i < r.v.n_source; ++i) {
        Ipv4Addr a;
        std::copy_n(svx_sal_source_addr(r.buf.data(), &r.v, i), 4, a.begin());
        out.push_back(a);
    }
    return out;
}

TEST(SourceAppend, AddsSourceAtTheEndWhenThereIsNone) {
    Region r = region_of(syn_builder().build(), 64);
    const Bytes before(r.buf.begin(), r.buf.begin() + static_cast<std::ptrdiff_t>(r.len));
    const size_t old_sal = r.v.len;

    ASSERT_EQ(append(r, kClient, kRouter), static_cast<int>(before.size() + 12));
    EXPECT_EQ(r.v.len, old_sal + 12);
    EXPECT_EQ(r.buf[8], (old_sal + 12) / 4);
    EXPECT_EQ(r.v.source_off, old_sal);
    EXPECT_EQ(source_list(r), (std::vector<Ipv4Addr>{kClient, kRouter}));
    const uint8_t source_hdr[] = {0x40, 12, 0, 0};
    EXPECT_TRUE(std::ranges::equal(std::span(r.buf).subspan(old_sal, 4), source_hdr));
    EXPECT_TRUE(r.v.canonical);

    // The view handed back is the parse of the new header, checksum included.
    svx_sal_view reparsed;
    ASSERT_EQ(svx_sal_parse(r.buf.data(), r.len, 0, &reparsed), SVX_OK);
    EXPECT_EQ(reparsed.source_off, r.v.source_off);
    EXPECT_EQ(reparsed.n_source, r.v.n_source);
    // Everything before the insertion point (bar SHL and checksum) and the
    // whole transport after it are unchanged.
    EXPECT_TRUE(std::equal(before.begin() + 12,
                           before.begin() + static_cast<std::ptrdiff_t>(old_sal),
                           r.buf.begin() + 12));
    EXPECT_TRUE(std::equal(before.begin() + static_cast<std::ptrdiff_t>(old_sal), before.end(),
                           r.buf.begin() + static_cast<std::ptrdiff_t>(old_sal + 12)));
}

TEST(SourceAppend, ExtendsAnExistingSource) {
    Region r = region_of(syn_builder().source({"192.0.2.1", "198.51.100.1"}).build(), 64);
    const size_t old_len = r.len;
    const size_t old_sal = r.v.len;
    ASSERT_EQ(append(r, kClient, kHop2), static_cast<int>(old_len + 4));
    EXPECT_EQ(r.v.len, old_sal + 4);
    EXPECT_EQ(source_list(r), (std::vector<Ipv4Addr>{kClient, kRouter, kHop2}));
    EXPECT_EQ(r.buf[r.v.source_off + 1], 16);
    svx_sal_view reparsed;
    EXPECT_EQ(svx_sal_parse(r.buf.data(), r.len, 0, &reparsed), SVX_OK);
}

// SOURCE in the middle of the header (not canonical): the hop goes right
// behind its last address and what follows moves along.
TEST(SourceAppend, ExtendsASourceThatIsNotLast) {
    svx_sid sid = sid_from_text("0xabcdef");
    Bytes service_ext = {0x20, 36, 0, 0};
    service_ext.insert(service_ext.end(), std::begin(sid.b), std::end(sid.b));
    Bytes pkt = PacketBuilder()
                    .ipv4(kClient, kRouter)
                    .sal(kLocalFlow, 0)
                    .control(SVX_CTL_SYN, 1, 0, kNonce)
                    .source({"192.0.2.1", "198.51.100.1"})
                    .raw_sal_tail(service_ext)
                    .tcp(0, 0)
                    .build();
    Region r = region_of(pkt, 16);
    ASSERT_FALSE(r.v.canonical);
    ASSERT_GT(append(r, kClient, kHop2), 0);
    EXPECT_EQ(source_list(r), (std::vector<Ipv4Addr>{kClient, kRouter, kHop2}));
    ASSERT_EQ(r.v.n_service, 1);
    EXPECT_TRUE(std::ranges::equal(std::span(svx_sal_service(r.buf.data(), &r.v, 0), 32), sid.b));
}

TEST(SourceAppend, DetectsLoops) {
    Region r = region_of(syn_builder().source({"192.0.2.1", "198.51.100.1"}).build(), 64);
    const Region before = r;
    for (const Ipv4Addr& listed : {kClient, kRouter}) {
        EXPECT_EQ(append(r, kClient, listed), -SVX_E_SOURCE_LOOP);
        EXPECT_EQ(r.buf, before.buf); // untouched
        EXPECT_EQ(r.v.len, before.v.len);
    }
}

TEST(SourceAppend, StopsAtTwentyAddresses) {
    std::vector<Ipv4Addr> nineteen;
    for (uint8_t i = 1; i <= 19; ++i)
        nineteen.push_back({10, 0, 0, i});
    Region r = region_of(syn_builder().source(nineteen).build(), 64);
    ASSERT_GT(append(r, kClient, kHop2), 0);
    EXPECT_EQ(r.v.n_source, SVX_EXT_SOURCE_MAX_ADDRS);
    const Region full = r;
    EXPECT_EQ(append(r, kClient, ipv4_addr("203.0.113.9")), -SVX_E_EXT_LEN);
    EXPECT_EQ(r.buf, full.buf);
}

// The parser accepts SOURCE beyond 20 addresses (the reference does not
// enforce its maximum) but nothing re-emits one.
TEST(SourceAppend, MoreThanTwentyAddressesParseButAreNotReemitted) {
    Bytes source_ext = {0x40, static_cast<uint8_t>(SVX_EXT_SOURCE_LEN(21)), 0, 0};
    for (uint8_t i = 1; i <= 21; ++i)
        source_ext.insert(source_ext.end(), {10, 0, 0, i});
    Bytes pkt = syn_builder().raw_sal_tail(source_ext).build();
    Region r = region_of(pkt, 64);
    EXPECT_EQ(r.v.n_source, 21);

    svx_sal_spec spec;
    EXPECT_EQ(svx_sal_decode(r.buf.data(), &r.v, &spec), SVX_E_EXT_LEN);
    EXPECT_EQ(append(r, kClient, kHop2), -SVX_E_EXT_LEN);
    EXPECT_EQ(svx_sal_spec_synack(&spec, 1, 2, kNonce.data(), r.buf.data(), &r.v, kHop2.data()),
              SVX_E_EXT_LEN);
}

TEST(SourceAppend, SynAckOfATwentyAddressSynWouldNeedTwentyOne) {
    std::vector<Ipv4Addr> twenty;
    for (uint8_t i = 1; i <= 20; ++i)
        twenty.push_back({10, 0, 0, i});
    Region r = region_of(syn_builder().source(twenty).build(), 0);
    svx_sal_spec spec;
    EXPECT_EQ(svx_sal_spec_synack(&spec, 1, 2, kNonce.data(), r.buf.data(), &r.v, kHop2.data()),
              SVX_E_EXT_LEN);
}

TEST(SourceAppend, NeedsRoomInTheBuffer) {
    Region fresh = region_of(syn_builder().build(), 12);
    Region r = fresh;
    EXPECT_EQ(svx_sal_source_append(r.buf.data(), r.len, r.len + 11, &r.v, kClient.data(),
                                    kRouter.data()),
              -SVX_E_NOSPACE);
    EXPECT_EQ(r.buf, fresh.buf);
    EXPECT_EQ(append(r, kClient, kRouter), static_cast<int>(fresh.len + 12)); // exactly fits

    Region extended = region_of(syn_builder().source({"192.0.2.1", "198.51.100.1"}).build(), 4);
    EXPECT_EQ(svx_sal_source_append(extended.buf.data(), extended.len, extended.len + 3,
                                    &extended.v, kClient.data(), kHop2.data()),
              -SVX_E_NOSPACE);
    EXPECT_EQ(append(extended, kClient, kHop2), static_cast<int>(extended.buf.size()));
}

// A new SOURCE is one more extension element; ten is the most a header holds.
TEST(SourceAppend, RespectsTheElementLimit) {
    Region ten = region_of(syn_builder().pad(8).build(), 64); // CONTROL, SERVICE, 8 PADs
    ASSERT_EQ(ten.v.n_elems, SVX_SAL_MAX_ELEMS);
    EXPECT_EQ(append(ten, kClient, kRouter), -SVX_E_EXT_LEN);

    // CONTROL, SERVICE, a 14-byte ADDRESS and 6 PADs: 88 bytes, 9 elements.
    Region nine = region_of(
        syn_builder().raw_sal_tail({0x30, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).pad(6).build(),
        64);
    ASSERT_EQ(nine.v.n_elems, SVX_SAL_MAX_ELEMS - 1);
    EXPECT_GT(append(nine, kClient, kRouter), 0);
    EXPECT_EQ(nine.v.n_elems, SVX_SAL_MAX_ELEMS);
}

TEST(SourceAppend, RefusesARegionShorterThanItsHeader) {
    Region r = region_of(syn_builder().build(), 64);
    EXPECT_EQ(svx_sal_source_append(r.buf.data(), r.v.len - 1, r.buf.size(), &r.v, kClient.data(),
                                    kRouter.data()),
              -SVX_E_SAL_TRUNCATED);
}

TEST(SalBuild, RefusesSpecsItCannotEncode) {
    svx_sal_spec spec;
    svx_sal_spec_data(&spec, 1, 2);
    uint8_t out[SVX_SAL_MAX_LEN];

    svx_sal_spec bad = spec;
    bad.n_service = 3;
    EXPECT_EQ(svx_sal_build(out, sizeof(out), &bad), -SVX_E_INVAL);
    bad = spec;
    bad.n_source = 1; // SOURCE needs two addresses
    EXPECT_EQ(svx_sal_build(out, sizeof(out), &bad), -SVX_E_INVAL);
    bad = spec;
    bad.n_source = SVX_EXT_SOURCE_MAX_ADDRS + 1;
    EXPECT_EQ(svx_sal_build(out, sizeof(out), &bad), -SVX_E_INVAL);

    EXPECT_EQ(svx_sal_build(out, SVX_SAL_BASE_LEN - 1, &spec), -SVX_E_NOSPACE);
    EXPECT_EQ(svx_sal_build(out, SVX_SAL_BASE_LEN, &spec), SVX_SAL_BASE_LEN);
}

TEST(SalBuild, DataHeaderIsTheDataSpecBuilt) {
    // The data path's builder must emit exactly what the spec route does.
    for (const auto& [local, peer] :
         {std::pair<uint32_t, uint32_t>{1, 2}, {0xdeadbeef, 0x01020304}, {0xffffffff, 0}}) {
        svx_sal_spec spec;
        svx_sal_spec_data(&spec, local, peer);
        uint8_t want[SVX_SAL_BASE_LEN];
        ASSERT_EQ(svx_sal_build(want, sizeof(want), &spec), SVX_SAL_BASE_LEN);
        uint8_t got[SVX_SAL_BASE_LEN];
        std::memset(got, 0xa5, sizeof(got));
        svx_sal_build_data(got, local, peer);
        EXPECT_EQ(std::memcmp(got, want, sizeof(want)), 0) << local << " " << peer;
        svx_sal_view v;
        EXPECT_EQ(svx_sal_parse(got, sizeof(got), 0, &v), SVX_OK);
    }
}

TEST(SalBuild, LengthsFollowTheExtensions) {
    svx_sal_spec spec;
    svx_sal_spec_data(&spec, 1, 2);
    EXPECT_EQ(svx_sal_spec_len(&spec), 12u);
    spec.has_ctrl = true;
    EXPECT_EQ(svx_sal_spec_len(&spec), 32u);
    spec.n_service = 2;
    EXPECT_EQ(svx_sal_spec_len(&spec), 104u);
    spec.n_source = SVX_EXT_SOURCE_MAX_ADDRS;
    EXPECT_EQ(svx_sal_spec_len(&spec), 104u + 84u);
    Sal s = build_and_parse(spec);
    EXPECT_EQ(s.v.len, 188);
    EXPECT_EQ(s.v.n_source, SVX_EXT_SOURCE_MAX_ADDRS);
    EXPECT_TRUE(s.v.canonical);
}

} // namespace
} // namespace svxlat::test
