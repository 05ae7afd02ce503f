// Service IDs: text form (section 10.2 and the derivable checks of section
// 17) and the bit-prefix operations the service table is built on.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/sid.h>

#include "packet_builder.h"

namespace svxlat::test {
namespace {

struct Parsed {
    svx_sid_err err;
    svx_sid id;
    uint16_t bits;
};

// Parses with "/BITS" allowed; id and bits start poisoned so that what the
// parser leaves behind is visible.
Parsed parse(std::string_view text) {
    Parsed p{SVX_SID_OK, {}, 0xbeef};
    std::fill(std::begin(p.id.b), std::end(p.id.b), 0xff);
    p.err = svx_sid_parse(text.data(), text.size(), &p.id, &p.bits);
    return p;
}

std::string format(const svx_sid& id) {
    char out[SVX_SID_TEXT_LEN + 1];
    svx_sid_format(&id, out);
    return out;
}

svx_sid from_bytes_hex(std::string_view hex) {
    Bytes b = from_hex(hex);
    svx_sid id{};
    std::copy(b.begin(), b.end(), id.b);
    return id;
}

bool is_zero(const svx_sid& id) {
    return std::all_of(std::begin(id.b), std::end(id.b), [](uint8_t b) { return b == 0; });
}

TEST(ServiceIdText, FormatIsSixtyFourLowercaseDigitsByteZeroFirst) {
    svx_sid id{};
    id.b[0] = 0xab;
    id.b[31] = 0x0c;
    std::string text = format(id);
    ASSERT_EQ(text.size(), 64u);
    EXPECT_EQ(text, "ab" + std::string(60, '0') + "0c");
}

TEST(ServiceIdText, RoundTripsRandomIds) {
    const uint32_t seed = test_seed(0x5eed0002);
    std::cout << "seed " << seed << " (replay with SVXLAT_TEST_SEED=" << seed << ")\n";
    std::mt19937 rng(seed);
    for (int i = 0; i < 1000; ++i) {
        svx_sid id;
        for (uint8_t& b : id.b)
            b = static_cast<uint8_t>(rng());
        std::string text = format(id);
        Parsed p = parse(text);
        ASSERT_EQ(p.err, SVX_SID_OK) << text;
        EXPECT_EQ(svx_sid_cmp(&p.id, &id), 0) << text;
        EXPECT_EQ(p.bits, SVX_SID_BITS);

        std::string upper = "0X" + text;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        Parsed q = parse(upper);
        ASSERT_EQ(q.err, SVX_SID_OK) << upper;
        EXPECT_EQ(svx_sid_cmp(&q.id, &id), 0) << upper;
    }
}

// Section 17: the translator default "0x0000005" is 00 00 00 50 ...: an odd
// last digit is the high nibble of its byte, and bytes fill from byte 0.
TEST(ServiceIdText, OddDigitCountFillsTheHighNibble) {
    Parsed p = parse("0x0000005");
    ASSERT_EQ(p.err, SVX_SID_OK);
    EXPECT_EQ(format(p.id), "0000005000000000000000000000000000000000000000000000000000000000");
    Parsed five = parse("5");
    ASSERT_EQ(five.err, SVX_SID_OK);
    EXPECT_EQ(five.id.b[0], 0x50);
    EXPECT_TRUE(
        std::all_of(five.id.b + 1, five.id.b + SVX_SID_LEN, [](uint8_t b) { return b == 0; }));
}

TEST(ServiceIdText, HexPrefixIsOptional) {
    Parsed with = parse("0x00001f90");
    Parsed without = parse("00001f90");
    ASSERT_EQ(with.err, SVX_SID_OK);
    ASSERT_EQ(without.err, SVX_SID_OK);
    EXPECT_EQ(svx_sid_cmp(&with.id, &without.id), 0);
    EXPECT_EQ(format(with.id).substr(0, 8), "00001f90");
    EXPECT_EQ(parse("0X1f90").err, SVX_SID_OK);
    // A lone "0" is a digit, not half a prefix.
    Parsed zero = parse("0");
    EXPECT_EQ(zero.err, SVX_SID_OK);
    EXPECT_TRUE(is_zero(zero.id));
}

TEST(ServiceIdText, SixtyFourDigitsFitSixtyFiveDoNot) {
    const std::string digits64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    Parsed full = parse(digits64);
    ASSERT_EQ(full.err, SVX_SID_OK);
    EXPECT_EQ(format(full.id), digits64);
    EXPECT_EQ(parse("0x" + digits64).err, SVX_SID_OK);

    Parsed too_long = parse(digits64 + "0");
    EXPECT_EQ(too_long.err, SVX_SID_E_TOO_LONG);
    EXPECT_TRUE(is_zero(too_long.id));
    EXPECT_EQ(parse("0x" + digits64 + "0").err, SVX_SID_E_TOO_LONG);
}

TEST(ServiceIdText, EmptyAndInvalidCharacters) {
    for (std::string_view empty : {"", "0x", "0X", "/8", "0x/8"}) {
        Parsed p = parse(empty);
        EXPECT_EQ(p.err, SVX_SID_E_EMPTY) << empty;
        EXPECT_TRUE(is_zero(p.id)) << empty;
    }
    for (std::string_view bad : {"00g1", "12 34", "-1", "0x0x1", "1f90 ", "x12", "12\n", "+5"}) {
        Parsed p = parse(bad);
        EXPECT_EQ(p.err, SVX_SID_E_CHAR) << bad;
        EXPECT_TRUE(is_zero(p.id)) << bad; // no half-parsed ID left behind
    }
}

TEST(ServiceIdText, PrefixLength) {
    for (uint16_t bits : {0, 1, 7, 8, 9, 255, 256}) {
        Parsed p = parse("0x4001/" + std::to_string(bits));
        ASSERT_EQ(p.err, SVX_SID_OK) << bits;
        EXPECT_EQ(p.bits, bits);
        EXPECT_EQ(p.id.b[1], 0x01);
    }
    Parsed none = parse("4001");
    EXPECT_EQ(none.bits, SVX_SID_BITS);
    for (std::string_view bad : {"4001/", "4001/257", "4001/1000", "4001/-1", "4001/1a", "4001/ 8",
                                 "4001/8/8", "4001/0x8"}) {
        Parsed p = parse(bad);
        EXPECT_EQ(p.err, SVX_SID_E_PREFIX) << bad;
        EXPECT_TRUE(is_zero(p.id)) << bad;
    }
}

TEST(ServiceIdText, PrefixRefusedWhereAFullIdIsRequired) {
    svx_sid id;
    std::fill(std::begin(id.b), std::end(id.b), 0xff);
    const std::string text = "0x4001/16";
    EXPECT_EQ(svx_sid_parse(text.data(), text.size(), &id, nullptr), SVX_SID_E_PREFIX_NOT_ALLOWED);
    EXPECT_TRUE(is_zero(id));
    const std::string plain = "0x4001";
    EXPECT_EQ(svx_sid_parse(plain.data(), plain.size(), &id, nullptr), SVX_SID_OK);
    EXPECT_EQ(id.b[1], 0x01);
}

// The text is not NUL-terminated: only len bytes count.
TEST(ServiceIdText, ReadsExactlyLenBytes) {
    const char text[] = "12345678zz";
    svx_sid id;
    ASSERT_EQ(svx_sid_parse(text, 4, &id, nullptr), SVX_SID_OK);
    EXPECT_EQ(format(id).substr(0, 8), "12340000");
}

TEST(ServiceIdText, ErrorMessagesAreDistinct) {
    std::set<std::string> seen;
    for (int e = 0; e < SVX_SID_E__COUNT; ++e)
        EXPECT_TRUE(seen.insert(svx_sid_strerror(static_cast<svx_sid_err>(e))).second) << e;
    EXPECT_FALSE(seen.contains(svx_sid_strerror(SVX_SID_E__COUNT)));
}

// An ID and the same ID with bit k flipped share exactly k leading bits.
TEST(ServiceIdPrefix, EdgeBitPositions) {
    const svx_sid base =
        from_bytes_hex("a5c3f00f0123456789abcdef5a5a5a5a00ff00ff123456789abcdef0deadbeef");
    for (unsigned k : {0u, 1u, 7u, 8u, 9u, 255u}) {
        SCOPED_TRACE("bit " + std::to_string(k));
        svx_sid other = base;
        other.b[k / 8] ^= static_cast<uint8_t>(0x80 >> (k % 8));
        EXPECT_NE(svx_sid_bit(&base, k), svx_sid_bit(&other, k));
        EXPECT_EQ(svx_sid_common_bits(&base, &other), k);
        EXPECT_EQ(svx_sid_common_bits(&other, &base), k);
        EXPECT_TRUE(svx_sid_prefix_match(&other, &base, k));
        EXPECT_FALSE(svx_sid_prefix_match(&other, &base, k + 1));
        EXPECT_FALSE(svx_sid_prefix_match(&other, &base, SVX_SID_BITS));
        EXPECT_TRUE(svx_sid_prefix_match(&other, &base, 0)); // the default route
    }
    EXPECT_EQ(svx_sid_common_bits(&base, &base), SVX_SID_BITS);
    EXPECT_TRUE(svx_sid_prefix_match(&base, &base, SVX_SID_BITS));
}

TEST(ServiceIdPrefix, BitNumberingIsMsbOfByteZeroFirst) {
    svx_sid id{};
    id.b[0] = 0x80;
    id.b[1] = 0x01;
    id.b[31] = 0x01;
    for (unsigned k = 0; k < SVX_SID_BITS; ++k)
        EXPECT_EQ(svx_sid_bit(&id, k), (k == 0 || k == 15 || k == 255) ? 1u : 0u) << k;
}

TEST(ServiceIdPrefix, MaskKeepsExactlyTheLeadingBits) {
    svx_sid ones;
    std::fill(std::begin(ones.b), std::end(ones.b), 0xff);
    for (unsigned bits : {0u, 1u, 7u, 8u, 9u, 255u, 256u}) {
        svx_sid m = ones;
        svx_sid_mask(&m, bits);
        for (unsigned k = 0; k < SVX_SID_BITS; ++k)
            ASSERT_EQ(svx_sid_bit(&m, k), k < bits ? 1u : 0u) << "mask " << bits << " bit " << k;
        // A masked ID still matches its prefix, and has one spelling.
        EXPECT_TRUE(svx_sid_prefix_match(&ones, &m, bits));
        svx_sid again = m;
        svx_sid_mask(&again, bits);
        EXPECT_EQ(svx_sid_cmp(&again, &m), 0);
    }
}

TEST(ServiceIdPrefix, OrderIsWireByteOrder) {
    svx_sid low = from_bytes_hex("00ff");
    svx_sid high = from_bytes_hex("0100");
    EXPECT_LT(svx_sid_cmp(&low, &high), 0);
    EXPECT_GT(svx_sid_cmp(&high, &low), 0);
    EXPECT_EQ(svx_sid_cmp(&low, &low), 0);
}

} // namespace
} // namespace svxlat::test
