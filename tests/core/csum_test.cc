// Internet checksum: known answers, a plain RFC 1071 model as oracle for the
// optimised svx_csum_partial, and property tests showing that the RFC 1624
// incremental updates agree with full recomputation on random packets.
#include <algorithm>
#include <iostream>
#include <random>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "packet_builder.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

// The textbook algorithm: big-endian 16-bit words, an odd last byte padded
// with zero on the right, carries folded back in.
uint16_t model_fold(std::span<const uint8_t> bytes, uint32_t initial = 0) {
    uint64_t sum = initial;
    for (size_t i = 0; i < bytes.size(); i += 2) {
        uint16_t word = static_cast<uint16_t>(bytes[i] << 8);
        if (i + 1 < bytes.size())
            word |= bytes[i + 1];
        sum += word;
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

class ChecksumProperty : public testing::Test {
protected:
    void SetUp() override {
        seed_ = test_seed(0x5eed0001);
        rng_.seed(seed_);
        RecordProperty("seed", std::to_string(seed_));
        std::cout << "seed " << seed_ << " (replay with SVXLAT_TEST_SEED=" << seed_ << ")\n";
    }

    Bytes random_bytes(size_t n) {
        Bytes out(n);
        for (uint8_t& b : out)
            b = static_cast<uint8_t>(rng_());
        return out;
    }

    size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

    uint32_t seed_ = 0;
    std::mt19937 rng_;
};

TEST(Checksum, KnownAnswers) {
    // RFC 1071 section 3: the sum of these words is ddf2.
    const uint8_t rfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(svx_csum(rfc1071, sizeof(rfc1071)), static_cast<uint16_t>(~0xddf2));
    // Section 3 of the protocol: base header 00000001 00000002 03 06 -> fcf6.
    const uint8_t sal[] = {0, 0, 0, 1, 0, 0, 0, 2, 3, 6, 0, 0};
    EXPECT_EQ(svx_csum(sal, sizeof(sal)), 0xfcf6);
    EXPECT_EQ(svx_csum(sal, 0), 0xffff);
    const uint8_t odd[] = {0xab};
    EXPECT_EQ(svx_csum(odd, 1), static_cast<uint16_t>(~0xab00));
}

TEST(Checksum, AddAndFoldCarryAroundTheEnd) {
    EXPECT_EQ(svx_csum_add(0xffffffff, 1), 1u);
    EXPECT_EQ(svx_csum_add(0x80000000, 0x80000000), 1u);
    EXPECT_EQ(svx_csum_add(5, 7), 12u);
    EXPECT_EQ(svx_csum_fold(0), 0xffff);
    EXPECT_EQ(svx_csum_fold(0xffff), 0);
    EXPECT_EQ(svx_csum_fold(0x1fffe), 0);         // fffe + 1
    EXPECT_EQ(svx_csum_fold(0xffffffff), 0);      // ffff + ffff -> 1fffe -> ffff
    EXPECT_EQ(svx_csum_fold(0x00010000), 0xfffe); // 1
}

TEST(Checksum, PseudoHeaderOfIpv4) {
    const uint8_t src[4] = {192, 168, 1, 10};
    const uint8_t dst[4] = {10, 0, 0, 5};
    const uint8_t pseudo[] = {192, 168, 1, 10, 10, 0, 0, 5, 0, 6, 0x01, 0x2c};
    EXPECT_EQ(svx_csum_fold(svx_csum_pseudo_ipv4(src, dst, 6, 300)), model_fold(pseudo));
}

TEST_F(ChecksumProperty, PartialSumMatchesTheModelAtAnyLengthAndAlignment) {
    Bytes storage = random_bytes(600);
    for (int i = 0; i < 5000; ++i) {
        size_t align = below(8);
        size_t len = below(storage.size() - 8);
        uint32_t initial = static_cast<uint32_t>(rng_()) & 0xffff;
        std::span<const uint8_t> buf(storage.data() + align, len);
        ASSERT_EQ(svx_csum_fold(svx_csum_partial(buf.data(), buf.size(), initial)),
                  model_fold(buf, initial))
            << "len " << len << " align " << align;
    }
}

TEST_F(ChecksumProperty, ChainedPartialSumsEqualOneShot) {
    for (int i = 0; i < 3000; ++i) {
        Bytes buf = random_bytes(1 + below(400)); // odd lengths included
        const uint16_t one_shot = svx_csum(buf.data(), buf.size());

        // Even-length pieces chained through the sum argument; the last piece
        // may be odd.
        uint32_t chained = 0;
        uint32_t added = 0;
        for (size_t off = 0; off < buf.size();) {
            size_t piece = std::min(buf.size() - off, 2 + 2 * below(40));
            chained = svx_csum_partial(buf.data() + off, piece, chained);
            added = svx_csum_add(added, svx_csum_partial(buf.data() + off, piece, 0));
            off += piece;
        }
        ASSERT_EQ(svx_csum_fold(chained), one_shot);
        ASSERT_EQ(svx_csum_fold(added), one_shot);
    }
}

// Where the checksum field of each header region sits and how to recompute
// the region's checksum in full.
enum class Region { ip, sal, tcp };

struct Layout {
    size_t off;       // region start in the packet
    size_t len;       // region length
    size_t check_off; // check field, relative to off
};

Layout layout_of(const svx_pkt_view& v, Region r) {
    switch (r) {
    case Region::ip:
        return {0, v.ip_hlen, 10};
    case Region::sal:
        return {v.sal_off, v.sal.len, 10};
    default:
        return {v.l4_off, v.l4_hlen, 16};
    }
}

uint16_t full_checksum(Bytes pkt, const svx_pkt_view& v, Region r) {
    switch (r) {
    case Region::ip:
        // Over the parsed header length: the change may have hit the IHL.
        pkt[10] = pkt[11] = 0;
        return svx_csum(pkt.data(), v.ip_hlen);
    case Region::sal:
        svx_sal_fill_csum(pkt.data() + v.sal_off, v.sal.len);
        return svx_get_be16(pkt.data() + v.sal_off + 10);
    default:
        svx_pkt_fill_l4_csum(pkt.data(), &v);
        return svx_get_be16(pkt.data() + v.l4_off + 16);
    }
}

// Random packets, random 16-bit, 32-bit and n-byte changes at random even
// offsets of the IP, SAL and TCP headers (never over the check field): the
// incremental update of the old checksum equals full recomputation.
TEST_F(ChecksumProperty, IncrementalUpdatesEqualFullRecomputation) {
    int checked = 0;
    for (int i = 0; i < 4000; ++i) {
        Bytes pkt = random_sal_packet(rng_, 64);
        svx_pkt_view v;
        ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll | SVX_PKT_UDP_ENCAP, &v),
                  SVX_OK);
        Region region = static_cast<Region>(below(3));
        if (region == Region::tcp && (v.sal.protocol != SVX_IPPROTO_TCP || v.l4_hlen == 0))
            region = Region::sal;
        const Layout at = layout_of(v, region);

        for (int change = 0; change < 4; ++change) {
            const size_t width = std::array<size_t, 3>{2, 4, 1 + below(12)}[below(3)];
            if (width > at.len)
                continue;
            size_t field = 2 * below((at.len - width) / 2 + 1);
            // Keep clear of the check field.
            if (field < at.check_off + 2 && field + width > at.check_off)
                continue;
            uint8_t* p = pkt.data() + at.off + field;
            uint8_t* check = pkt.data() + at.off + at.check_off;
            const Bytes old(p, p + width);
            Bytes fresh = random_bytes(width);
            const uint16_t old_check = svx_get_be16(check);

            uint16_t incremental;
            if (width == 2) {
                incremental = svx_csum_update16(old_check, svx_get_be16(old.data()),
                                                svx_get_be16(fresh.data()));
            } else if (width == 4 && change % 2 == 0) {
                incremental = svx_csum_update32(old_check, svx_get_be32(old.data()),
                                                svx_get_be32(fresh.data()));
            } else {
                uint8_t field_check[2];
                svx_put_be16(field_check, old_check);
                svx_csum_update_bytes(field_check, old.data(), fresh.data(), width);
                incremental = svx_get_be16(field_check);
            }
            std::copy(fresh.begin(), fresh.end(), p);
            svx_put_be16(check, incremental);
            ASSERT_EQ(incremental, full_checksum(pkt, v, region))
                << "region " << static_cast<int>(region) << " field " << field << " width " << width
                << "\n"
                << hexdump(pkt);
            ++checked;
        }
    }
    EXPECT_GT(checked, 8000);
}

// A router's address rewrite: one 32-bit change updates both the IP header
// checksum and the transport checksum (pseudo-header).
TEST_F(ChecksumProperty, AddressRewriteUpdatesIpAndTransportChecksums) {
    int checked = 0;
    for (int i = 0; i < 2000; ++i) {
        Bytes pkt = random_sal_packet(rng_, 64);
        svx_pkt_view v;
        ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll | SVX_PKT_UDP_ENCAP, &v),
                  SVX_OK);
        if (v.l4_hlen == 0 || v.udp_encap)
            continue;
        const size_t addr_off = below(2) ? 12 : 16;
        const uint32_t old_addr = svx_get_be32(pkt.data() + addr_off);
        const uint32_t new_addr = static_cast<uint32_t>(rng_());
        const size_t l4_check_off = v.l4_off + (v.sal.protocol == SVX_IPPROTO_TCP ? 16 : 6);
        const uint16_t old_l4 = svx_get_be16(pkt.data() + l4_check_off);

        svx_put_be32(pkt.data() + addr_off, new_addr);
        svx_put_be16(pkt.data() + 10,
                     svx_csum_update32(svx_get_be16(pkt.data() + 10), old_addr, new_addr));
        uint16_t new_l4 = svx_csum_update32(old_l4, old_addr, new_addr);
        // UDP keeps 0 for "none": a computed zero goes out as ffff.
        if (v.sal.protocol == SVX_IPPROTO_UDP && new_l4 == 0)
            new_l4 = 0xffff;
        svx_put_be16(pkt.data() + l4_check_off, new_l4);
        ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_OK) << hexdump(pkt);
        Bytes full = pkt;
        svx_ipv4_fill_csum(full.data());
        svx_pkt_fill_l4_csum(full.data(), &v);
        ASSERT_EQ(full, pkt);
        ++checked;
    }
    EXPECT_GT(checked, 500);
}

TEST_F(ChecksumProperty, StoredChecksumsVerifyToZero) {
    for (int i = 0; i < 2000; ++i) {
        Bytes pkt = random_sal_packet(rng_);
        svx_pkt_view v;
        ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), SVX_PKT_UDP_ENCAP, &v), SVX_OK);
        EXPECT_EQ(svx_csum(pkt.data(), v.ip_hlen), 0);
        EXPECT_EQ(svx_csum(pkt.data() + v.sal_off, v.sal.len), 0);
        if (v.l4_hlen) {
            EXPECT_EQ(svx_csum_l4_ipv4(pkt.data() + 12, pkt.data() + 16, v.sal.protocol,
                                       pkt.data() + v.l4_off, v.l4_len),
                      0);
        }
    }
}

} // namespace
} // namespace svxlat::test
