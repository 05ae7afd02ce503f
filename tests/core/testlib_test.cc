// The test library itself: hex helpers, the packet builder's layout and
// knobs, and the vector readers on crafted files. Fixtures elsewhere trust
// these, so they get their own checks.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>

#include "packet_builder.h"
#include "vectors.h"

namespace svxlat::test {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

// A file in the temporary directory, removed when the test ends.
class TempFile {
public:
    explicit TempFile(std::string_view name)
        : path_(fs::temp_directory_path() /
                ("svxlat-testlib-" + std::to_string(getpid()) + "-" + std::string(name))) {}
    ~TempFile() {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const fs::path& path() const { return path_; }
    void write(std::string_view text) const { std::ofstream(path_) << text; }

private:
    fs::path path_;
};

// Writes frames to a pcap file of the given link type with libpcap.
void write_pcap(const fs::path& file, int linktype, const std::vector<Bytes>& frames) {
    std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(linktype, 65535),
                                                        &pcap_close);
    ASSERT_TRUE(dead);
    std::unique_ptr<pcap_dumper_t, decltype(&pcap_dump_close)> dumper(
        pcap_dump_open(dead.get(), file.c_str()), &pcap_dump_close);
    ASSERT_TRUE(dumper) << pcap_geterr(dead.get());
    for (const Bytes& f : frames) {
        pcap_pkthdr hdr{};
        hdr.caplen = hdr.len = static_cast<bpf_u_int32>(f.size());
        pcap_dump(reinterpret_cast<u_char*>(dumper.get()), &hdr, f.data());
    }
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

PacketBuilder sal_tcp() {
    PacketBuilder b;
    b.ipv4("192.0.2.1", "192.0.2.2").sal(1, 2).tcp(7, 8).seq(9).flags(SVX_TCP_ACK).payload("xyz");
    return b;
}

TEST(Hex, RoundTripAndWhitespace) {
    const Bytes bytes = {0x00, 0x45, 0xab, 0xff};
    EXPECT_EQ(to_hex(bytes), "0045abff");
    EXPECT_EQ(from_hex("0045abff"), bytes);
    EXPECT_EQ(from_hex(" 00 45\tAB\nfF "), bytes);
    EXPECT_TRUE(from_hex("").empty());
    EXPECT_THROW(from_hex("123"), std::invalid_argument);
    EXPECT_THROW(from_hex("12:34"), std::invalid_argument);
    EXPECT_THROW(from_hex("0x12"), std::invalid_argument);
}

TEST(Hex, DumpAndDifference) {
    Bytes bytes(17);
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(hexdump(bytes), "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n0010  10\n");
    EXPECT_EQ(describe_difference(bytes, bytes), "");
    Bytes other = bytes;
    other[0x11 - 1] = 0x99;
    EXPECT_NE(describe_difference(bytes, other).find("offset 0x10"), std::string::npos);
    Bytes shorter(bytes.begin(), bytes.end() - 1);
    EXPECT_NE(describe_difference(shorter, bytes).find("got 16 bytes, want 17"), std::string::npos);
}

TEST(Helpers, AddressesNoncesAndServiceIds) {
    EXPECT_EQ(ipv4_addr("192.168.1.10"), (Ipv4Addr{192, 168, 1, 10}));
    EXPECT_THROW(ipv4_addr("192.168.1"), std::invalid_argument);
    EXPECT_THROW(ipv4_addr("example.org"), std::invalid_argument);
    EXPECT_EQ(nonce_from_u64(0x0102030405060708), (Nonce{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(sid_from_text("0x4001").b[1], 0x01);
    EXPECT_THROW(sid_from_text("zz"), std::invalid_argument);
}

TEST(Builder, PlainTcpHasNoSal) {
    Bytes pkt = PacketBuilder()
                    .ipv4("192.0.2.1", "192.0.2.2")
                    .tcp(1234, 80)
                    .seq(1)
                    .flags(SVX_TCP_SYN)
                    .payload("hi")
                    .build();
    ASSERT_EQ(pkt.size(), 20u + 20u + 2u);
    EXPECT_EQ(pkt[9], SVX_IPPROTO_TCP);
    EXPECT_EQ(svx_get_be16(pkt.data() + 2), pkt.size());
    EXPECT_EQ(svx_csum(pkt.data(), 20), 0);
    EXPECT_EQ(svx_get_be16(pkt.data() + 20), 1234);
    EXPECT_EQ(svx_get_be16(pkt.data() + 22), 80);
    EXPECT_EQ(
        svx_csum_l4_ipv4(pkt.data() + 12, pkt.data() + 16, SVX_IPPROTO_TCP, pkt.data() + 20, 22),
        0);
    svx_pkt_view v;
    EXPECT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_E_NOT_SAL);
}

TEST(Builder, PlainUdp) {
    Bytes pkt =
        PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").udp(53, 5353).payload("abcd").build();
    ASSERT_EQ(pkt.size(), 20u + 8u + 4u);
    EXPECT_EQ(pkt[9], SVX_IPPROTO_UDP);
    EXPECT_EQ(svx_get_be16(pkt.data() + 24), 12);
    EXPECT_NE(svx_get_be16(pkt.data() + 26), 0);
    EXPECT_EQ(
        svx_csum_l4_ipv4(pkt.data() + 12, pkt.data() + 16, SVX_IPPROTO_UDP, pkt.data() + 20, 12),
        0);
}

TEST(Builder, TcpOptionsGoOutInCallOrderAligned) {
    Bytes pkt =
        sal_tcp().mss(1460).wscale(7).sack_permitted().timestamps(0x11223344, 0x55667788).build();
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_OK);
    ASSERT_EQ(v.l4_hlen, 20 + 4 + 4 + 4 + 12);
    Bytes options(pkt.begin() + v.l4_off + 20, pkt.begin() + v.l4_off + v.l4_hlen);
    EXPECT_EQ(to_hex(options), "020405b4"
                               "01030307"
                               "01010402"
                               "0101080a1122334455667788");

    Bytes raw = sal_tcp().tcp_option_raw(Bytes{0xfe, 0x03, 0x01}).build();
    ASSERT_EQ(svx_pkt_parse(raw.data(), raw.size(), kVerifyAll, &v), SVX_OK);
    EXPECT_EQ(v.l4_hlen, 24);
    EXPECT_EQ(raw[v.l4_off + 23], 0); // EOL padding
}

TEST(Builder, TcpFieldsLandWhereTheyBelong) {
    Bytes pkt = sal_tcp().ack(0xa1b2c3d4).window(0x1234).urgent(0x5678).build();
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_OK);
    const uint8_t* tcp = pkt.data() + v.l4_off;
    EXPECT_EQ(svx_get_be16(tcp), 7);
    EXPECT_EQ(svx_get_be16(tcp + 2), 8);
    EXPECT_EQ(svx_get_be32(tcp + 4), 9u);
    EXPECT_EQ(svx_get_be32(tcp + 8), 0xa1b2c3d4u);
    EXPECT_EQ(tcp[12], 0x50);
    EXPECT_EQ(tcp[13], SVX_TCP_ACK);
    EXPECT_EQ(svx_get_be16(tcp + 14), 0x1234);
    EXPECT_EQ(svx_get_be16(tcp + 18), 0x5678);
    EXPECT_EQ(std::string(tcp + 20, tcp + 23), "xyz");
}

// The fixture style later suites use: every SAL and TCP knob in one chain.
TEST(Builder, FullChainMatchesTheCoreSpec) {
    const Ipv4Addr a = ipv4_addr("192.0.2.1");
    const Ipv4Addr b = ipv4_addr("198.51.100.1");
    const svx_sid sid = sid_from_text("0x4001");
    Bytes pkt = PacketBuilder()
                    .ipv4("192.168.1.10", "10.0.0.5")
                    .ttl(64)
                    .id(0)
                    .sal(2, 7)
                    .control(SVX_CTL_ACK, 10, 20, 0x0102030405060708)
                    .service(sid)
                    .source({a, b})
                    .tcp(0, 0)
                    .seq(0x1000)
                    .ack(0x2001)
                    .flags(SVX_TCP_ACK)
                    .window(229)
                    .mss(1448)
                    .wscale(7)
                    .sack_permitted()
                    .timestamps(1, 2)
                    .payload("GET / HTTP/1.0\r\n\r\n")
                    .build();
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll, &v), SVX_OK);
    svx_sal_spec want;
    svx_sal_spec_control(&want, 2, 7, SVX_CTL_ACK, 10, 20,
                         nonce_from_u64(0x0102030405060708).data());
    want.n_service = 1;
    want.service[0].id = sid;
    want.n_source = 2;
    std::copy(a.begin(), a.end(), want.source[0]);
    std::copy(b.begin(), b.end(), want.source[1]);
    Bytes sal(svx_sal_spec_len(&want));
    ASSERT_EQ(svx_sal_build(sal.data(), sal.size(), &want), static_cast<int>(sal.size()));
    EXPECT_TRUE(std::equal(sal.begin(), sal.end(), pkt.begin() + v.sal_off)) << hexdump(pkt);
    EXPECT_EQ(v.l4_hlen, 44);
    EXPECT_EQ(v.l4_len - v.l4_hlen, 18);
}

TEST(Builder, IpFields) {
    Bytes pkt = sal_tcp().ttl(3).tos(0x10).id(0xbeef).df().build();
    EXPECT_EQ(pkt[1], 0x10);
    EXPECT_EQ(svx_get_be16(pkt.data() + 4), 0xbeef);
    EXPECT_EQ(svx_get_be16(pkt.data() + 6), SVX_IPV4_DF);
    EXPECT_EQ(pkt[8], 3);
    EXPECT_EQ(pkt[9], SVX_IPPROTO_SAL);
    EXPECT_EQ(PacketBuilder().build()[8], 64); // default TTL
}

// Each corruption knob breaks exactly its checksum and nothing else.
TEST(Builder, CorruptedChecksumsAreOneFieldOff) {
    const Bytes good = sal_tcp().control(SVX_CTL_ACK, 1, 2).build();
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(good.data(), good.size(), kVerifyAll, &v), SVX_OK);
    struct Case {
        Bytes pkt;
        svx_err err;
        size_t check_off;
    };
    const Case cases[] = {
        {sal_tcp().control(SVX_CTL_ACK, 1, 2).bad_ip_csum().build(), SVX_E_IP_CSUM, 10},
        {sal_tcp().control(SVX_CTL_ACK, 1, 2).bad_sal_csum().build(), SVX_E_SAL_CSUM,
         v.sal_off + 10u},
        {sal_tcp().control(SVX_CTL_ACK, 1, 2).bad_l4_csum().build(), SVX_E_L4_CSUM, v.l4_off + 16u},
    };
    for (const Case& c : cases) {
        svx_pkt_view bad;
        EXPECT_EQ(svx_pkt_parse(c.pkt.data(), c.pkt.size(), kVerifyAll, &bad), c.err);
        ASSERT_EQ(c.pkt.size(), good.size());
        for (size_t i = 0; i < good.size(); ++i) {
            if (i != c.check_off && i != c.check_off + 1) {
                EXPECT_EQ(c.pkt[i], good[i]) << "offset " << i;
            }
        }
    }
}

TEST(Builder, SalLengthMustBeWholeWordsUnlessShlIsGiven) {
    EXPECT_THROW(sal_tcp().raw_sal_tail({0, 0, 0}).build(), std::invalid_argument);
    Bytes pkt = sal_tcp().raw_sal_tail({0, 0, 0}).sal_shl(3).build();
    EXPECT_EQ(pkt[20 + 8], 3);
    EXPECT_THROW(sal_tcp().source({"10.0.0.1"}), std::invalid_argument);
    EXPECT_THROW(sal_tcp().service("0x1").service("0x2").service("0x3"), std::invalid_argument);
}

TEST(Builder, UdpEncapsulationAndBody) {
    Bytes inner = sal_tcp().build();
    Bytes encap = sal_tcp().udp_encap().build();
    ASSERT_EQ(encap.size(), inner.size() + 8);
    EXPECT_EQ(encap[9], SVX_IPPROTO_UDP);
    EXPECT_EQ(svx_get_be16(encap.data() + 20), SVX_UDP_ENCAP_CLIENT_PORT);
    EXPECT_EQ(svx_get_be16(encap.data() + 22), SVX_UDP_ENCAP_SERVER_PORT);
    EXPECT_EQ(svx_csum_l4_ipv4(encap.data() + 12, encap.data() + 16, SVX_IPPROTO_UDP,
                               encap.data() + 20, encap.size() - 20),
              0);
    svx_pkt_view v;
    ASSERT_EQ(svx_pkt_parse(encap.data(), encap.size(), kVerifyAll | SVX_PKT_UDP_ENCAP, &v),
              SVX_OK);
    EXPECT_TRUE(v.udp_encap);
    // Same SAL and transport bytes inside.
    EXPECT_TRUE(std::equal(inner.begin() + 20, inner.end(), encap.begin() + 28));

    // body() wraps existing bytes verbatim.
    Bytes wrapped = PacketBuilder()
                        .ipv4("192.0.2.1", "192.0.2.2")
                        .udp_encap()
                        .body(std::span(inner).subspan(20))
                        .build();
    EXPECT_EQ(wrapped, encap);
}

TEST(Builder, RandomPacketsAreValid) {
    std::mt19937 rng(test_seed(7));
    for (int i = 0; i < 500; ++i) {
        Bytes pkt = random_sal_packet(rng);
        svx_pkt_view v;
        ASSERT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kVerifyAll | SVX_PKT_UDP_ENCAP, &v), SVX_OK)
            << hexdump(pkt);
        EXPECT_TRUE(v.sal.canonical);
    }
}

TEST(HandmadeReader, BlocksInlineHexAndOffsets) {
    TempFile file("handmade.txt");
    file.write("Service id: 00\n"
               "\n"
               "### V1: first, C->R\n"
               "  SAL checksum 0x7043, shl=17 (68 bytes)\n"
               "  0000  45 00 00 14 00 00 00 00 40 90 00 00 00 00 00 00\n"
               "  0010  00 00 00 01\n"
               "\n"
               "### V2: inline: 0a0b0c\n"
               "### V3: no bytes at all\n");
    auto vectors = read_handmade_vectors(file.path());
    ASSERT_EQ(vectors.size(), 3u);
    EXPECT_EQ(vectors[0].name, "V1");
    EXPECT_EQ(vectors[0].title, "first, C->R");
    EXPECT_EQ(vectors[0].bytes.size(), 20u);
    EXPECT_EQ(vectors[0].bytes[19], 1);
    EXPECT_EQ(vectors[1].title, "inline");
    EXPECT_EQ(vectors[1].bytes, (Bytes{0x0a, 0x0b, 0x0c}));
    EXPECT_TRUE(vectors[2].bytes.empty());
    EXPECT_EQ(&find_vector(vectors, "V2"), &vectors[1]);
    EXPECT_THROW(find_vector(vectors, "V4"), std::out_of_range);

    TempFile gap("gap.txt");
    gap.write("### V1: x\n  0000  01 02\n  0010  03\n");
    EXPECT_THROW(read_handmade_vectors(gap.path()), std::runtime_error);
    EXPECT_THROW(read_handmade_vectors(fs::path("/nonexistent/handmade.txt")), std::runtime_error);
}

TEST(PcapReader, LinkTypes) {
    const Bytes ip = sal_tcp().build();
    const Bytes mac(12, 0xaa);
    struct Case {
        const char* what;
        int linktype;
        Bytes frame;
    };
    const Case cases[] = {
        {"ethernet", DLT_EN10MB, cat({mac, {0x08, 0x00}, ip})},
        {"ethernet+vlan", DLT_EN10MB, cat({mac, {0x81, 0x00, 0x00, 0x05, 0x08, 0x00}, ip})},
        {"raw", DLT_RAW, ip},
        {"linux cooked", DLT_LINUX_SLL, cat({Bytes(14, 0), {0x08, 0x00}, ip})},
        {"linux cooked v2", 276, cat({{0x08, 0x00}, Bytes(18, 0), ip})},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        TempFile file(std::string(c.what) + ".pcap");
        write_pcap(file.path(), c.linktype, {c.frame, c.frame});
        auto frames = read_pcap(file.path());
        ASSERT_EQ(frames.size(), 2u);
        EXPECT_EQ(frames[1].number, 2u);
        EXPECT_EQ(frames[0].ethertype, 0x0800);
        EXPECT_EQ(frames[0].frame, c.frame);
        EXPECT_EQ(frames[0].network, ip);
        auto packets = read_pcap_ipv4(file.path());
        ASSERT_EQ(packets.size(), 2u);
        EXPECT_EQ(packets[0], ip);
    }
}

TEST(PcapReader, EthernetPaddingIsCutAndNonIpIsRefused) {
    const Bytes ip = PacketBuilder().ipv4("192.0.2.1", "192.0.2.2").sal(1, 2).build(); // 32 bytes
    const Bytes mac(12, 0xaa);
    TempFile padded("padded.pcap");
    write_pcap(padded.path(), DLT_EN10MB, {cat({mac, {0x08, 0x00}, ip, Bytes(14, 0)})});
    auto packets = read_pcap_ipv4(padded.path());
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0], ip);

    TempFile arp("arp.pcap");
    write_pcap(arp.path(), DLT_EN10MB, {cat({mac, {0x08, 0x06}, Bytes(28, 0)})});
    EXPECT_EQ(read_pcap(arp.path())[0].ethertype, 0x0806);
    EXPECT_THROW(read_pcap_ipv4(arp.path()), std::runtime_error);

    TempFile odd("odd.pcap");
    write_pcap(odd.path(), DLT_IEEE802_11, {ip});
    EXPECT_THROW(read_pcap(odd.path()), std::runtime_error);
    EXPECT_THROW(read_pcap(fs::path("/nonexistent/x.pcap")), std::runtime_error);
}

TEST(DataDir, PointsAtTheVectors) {
    EXPECT_TRUE(fs::is_directory(vectors_dir() / "reference")) << vectors_dir();
    EXPECT_TRUE(fs::is_regular_file(vectors_dir() / "handmade-vectors.txt"));
}

} // namespace
} // namespace svxlat::test
