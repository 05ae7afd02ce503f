// Every published packet parses with all checksums verified, is in the
// reference's canonical layout, and its SAL header survives decode + build
// byte for byte.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "vectors.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;
// What vectors/reference holds; a missing or extra file fails the count.
constexpr size_t kReferencePcaps = 8;
constexpr size_t kReferenceFrames = 161;

// The SAL header of a parsed view re-encoded through the field-level spec.
Bytes rebuild_sal(const uint8_t* sal, const svx_sal_view& view) {
    svx_sal_spec spec;
    if (svx_sal_decode(sal, &view, &spec) != SVX_OK)
        return {};
    Bytes out(svx_sal_spec_len(&spec));
    int built = svx_sal_build(out.data(), out.size(), &spec);
    if (built < 0)
        return {};
    out.resize(static_cast<size_t>(built));
    return out;
}

void expect_vector_packet(std::span<const uint8_t> pkt, const std::string& what) {
    SCOPED_TRACE(what);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_OK) << hexdump(pkt);
    EXPECT_EQ(v.ip_len, pkt.size());
    EXPECT_EQ(v.ip_proto, SVX_IPPROTO_SAL);
    EXPECT_FALSE(v.udp_encap);
    EXPECT_TRUE(v.sal.canonical);
    EXPECT_EQ(v.sal.n_pad, 0);
    EXPECT_EQ(v.sal.address_off, 0);
    // Transport: what the SAL says, or nothing (control-only packets).
    if (v.l4_len > 0) {
        EXPECT_TRUE(v.sal.protocol == SVX_IPPROTO_TCP || v.sal.protocol == SVX_IPPROTO_UDP);
        EXPECT_GE(v.l4_hlen, v.sal.protocol == SVX_IPPROTO_TCP ? SVX_TCP_HDR_LEN : SVX_UDP_HDR_LEN);
    }
    auto sal = pkt.subspan(v.sal_off, v.sal.len);
    Bytes rebuilt = rebuild_sal(sal.data(), v.sal);
    EXPECT_TRUE(std::ranges::equal(rebuilt, sal)) << describe_difference(rebuilt, sal);
}

TEST(ReferenceCaptures, EveryFrameParsesVerifiesAndRebuilds) {
    auto pcaps = reference_pcaps();
    ASSERT_EQ(pcaps.size(), kReferencePcaps);
    size_t frames = 0;
    for (const auto& file : pcaps) {
        auto packets = read_pcap_ipv4(file);
        EXPECT_FALSE(packets.empty()) << file;
        for (size_t i = 0; i < packets.size(); ++i)
            expect_vector_packet(packets[i],
                                 file.filename().string() + " frame #" + std::to_string(i + 1));
        frames += packets.size();
    }
    EXPECT_EQ(frames, kReferenceFrames);
}

// The pcap reader and the annotated dumps agree frame for frame, so the
// annotations can be trusted when a test quotes them.
TEST(ReferenceCaptures, FramesMatchTheirAnnotatedDumps) {
    for (const auto& file : reference_pcaps()) {
        SCOPED_TRACE(file.filename().string());
        auto frames = read_pcap(file);
        auto txt = file;
        auto annotated = read_annotated_frames(txt.replace_extension(".txt"));
        ASSERT_EQ(frames.size(), annotated.size());
        for (size_t i = 0; i < frames.size(); ++i) {
            EXPECT_EQ(frames[i].number, i + 1);
            EXPECT_FALSE(frames[i].truncated);
            EXPECT_EQ(frames[i].ethertype, 0x0800);
            EXPECT_TRUE(std::ranges::equal(frames[i].frame, annotated[i]))
                << "frame #" << i + 1 << "\n"
                << describe_difference(frames[i].frame, annotated[i]);
            // Ethernet: the network packet is the frame minus 14 bytes.
            EXPECT_EQ(frames[i].network.size() + 14, frames[i].frame.size());
        }
    }
}

TEST(HandmadeVectors, AllElevenArePresent) {
    auto vectors = read_handmade_vectors();
    ASSERT_EQ(vectors.size(), 11u);
    for (size_t i = 0; i < vectors.size(); ++i) {
        EXPECT_EQ(vectors[i].name, "V" + std::to_string(i + 1));
        EXPECT_FALSE(vectors[i].bytes.empty()) << vectors[i].name;
    }
    // Lengths quoted by the document (IP total length fields and V9/V10).
    EXPECT_EQ(find_vector(vectors, "V1").bytes.size(), 0x74u);
    EXPECT_EQ(find_vector(vectors, "V5").bytes.size(), 0x46u);
    EXPECT_EQ(find_vector(vectors, "V9").bytes.size(), 12u);
    EXPECT_EQ(find_vector(vectors, "V10").bytes.size(), 48u);
    EXPECT_EQ(find_vector(vectors, "V11").bytes.size(), 0xa0u);
}

TEST(HandmadeVectors, IpPacketsParseVerifyAndRebuild) {
    auto vectors = read_handmade_vectors();
    for (const char* name : {"V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V11"})
        expect_vector_packet(find_vector(vectors, name).bytes, name);
}

TEST(HandmadeVectors, V9IsABareBaseHeader) {
    auto vectors = read_handmade_vectors();
    const Bytes& v9 = find_vector(vectors, "V9").bytes;
    svx_sal_view v;
    ASSERT_EQ(svx_sal_parse(v9.data(), v9.size(), 0, &v), SVX_OK);
    EXPECT_EQ(v.len, SVX_SAL_BASE_LEN);
    EXPECT_EQ(v.n_elems, 0);
    EXPECT_EQ(v.protocol, SVX_IPPROTO_TCP);
    EXPECT_EQ(svx_sal_src_flow(v9.data()), 1u);
    EXPECT_EQ(svx_sal_dst_flow(v9.data()), 2u);
    EXPECT_EQ(svx_get_be16(v9.data() + 10), 0xfcf6); // section 3's example
    Bytes rebuilt = rebuild_sal(v9.data(), v);
    EXPECT_TRUE(std::ranges::equal(rebuilt, v9)) << describe_difference(rebuilt, v9);
}

TEST(HandmadeVectors, V10MatchesTheCtrlmsgRegisterLayout) {
    auto vectors = read_handmade_vectors();
    const Bytes& v10 = find_vector(vectors, "V10").bytes;
    ASSERT_EQ(v10.size(), sizeof(svx_ctrlmsg_register));
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, len), 2u);
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, xid), 4u);
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, flags), 8u);
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, srvid_prefix_bits), 10u);
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, addr), 12u);
    EXPECT_EQ(offsetof(svx_ctrlmsg_register, service_id), 16u);

    svx_ctrlmsg_register msg;
    std::memcpy(&msg, v10.data(), sizeof(msg));
    EXPECT_EQ(msg.type, SVX_CTRLMSG_REGISTER);
    EXPECT_EQ(msg.retval, 0);
    EXPECT_EQ(svx_get_be16(msg.len), sizeof(msg));    // big-endian on the remote channel
    const uint8_t xid_one_from_x86[4] = {1, 0, 0, 0}; // host order of the sender
    EXPECT_TRUE(std::ranges::equal(msg.xid, xid_one_from_x86));
    EXPECT_EQ(msg.flags, 0);
    EXPECT_EQ(msg.srvid_prefix_bits, 0); // 0 = full length
    EXPECT_TRUE(std::ranges::all_of(msg.addr, [](uint8_t b) { return b == 0; }));
    svx_sid sid = sid_from_text(handmade::service_id);
    EXPECT_TRUE(std::ranges::equal(msg.service_id, sid.b));

    // V11 carries V10 as its UDP payload.
    const Bytes& v11 = find_vector(vectors, "V11").bytes;
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(v11.data(), v11.size(), kVerifyAll, &v), SVX_OK);
    std::span<const uint8_t> payload(v11.data() + v.l4_off + v.l4_hlen, v.l4_len - v.l4_hlen);
    EXPECT_TRUE(std::ranges::equal(payload, v10));
}

} // namespace
} // namespace svxlat::test
