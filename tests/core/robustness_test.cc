// Hostile input through every parser entry point: every truncation of every
// published packet, seeded random byte flips of them, and random byte strings.
// Whatever comes in, the result is a defined error code, and an accepted
// packet yields a view that stays inside the buffer and re-encodes exactly.
// Run under ASan/UBSan by `make check`, this is also the memory-safety net.
#include <algorithm>
#include <iostream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

#include "vectors.h"

namespace svxlat::test {
namespace {

constexpr unsigned kVerifyAll = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;
constexpr unsigned kOptionSets[] = {
    0,
    kVerifyAll,
    SVX_PKT_UDP_ENCAP,
    kVerifyAll | SVX_PKT_UDP_ENCAP,
    SVX_SAL_PARSE_NO_CSUM | SVX_PKT_UDP_ENCAP,
};

#define CHECK_INVARIANT(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ADD_FAILURE() << "invariant " #cond " broken";                                         \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

bool ranges_within(size_t off, size_t len, size_t limit) {
    return off <= limit && len <= limit - off;
}

// Field-level spec of a header, or nothing when it cannot be re-emitted.
bool decode(const uint8_t* sal, const svx_sal_view& v, svx_sal_spec& spec) {
    return svx_sal_decode(sal, &v, &spec) == SVX_OK;
}

// The structural promises of an accepted SAL header (avail = bytes the
// parser was given).
bool sal_view_ok(const uint8_t* sal, size_t avail, const svx_sal_view& v, bool csum_checked) {
    CHECK_INVARIANT(v.len >= SVX_SAL_BASE_LEN && v.len % 4 == 0 && v.len <= SVX_SAL_MAX_LEN);
    CHECK_INVARIANT(v.len <= avail);
    CHECK_INVARIANT(v.len == sal[8] * 4u);
    CHECK_INVARIANT(v.protocol == sal[9]);
    CHECK_INVARIANT(v.n_elems <= SVX_SAL_MAX_ELEMS && v.n_pad <= v.n_elems && v.n_service <= 2);
    if (v.ctrl_off) {
        CHECK_INVARIANT(v.ctrl_off >= SVX_SAL_BASE_LEN);
        CHECK_INVARIANT(ranges_within(v.ctrl_off, SVX_EXT_CONTROL_LEN, v.len));
        CHECK_INVARIANT(sal[v.ctrl_off] >> 4 == SVX_EXT_CONTROL && v.flags == sal[v.ctrl_off + 2]);
    } else {
        CHECK_INVARIANT(v.flags == 0);
    }
    for (unsigned i = 0; i < 2; ++i) {
        if (i >= v.n_service) {
            CHECK_INVARIANT(v.service_off[i] == 0);
            continue;
        }
        CHECK_INVARIANT(v.service_off[i] >= SVX_SAL_BASE_LEN);
        CHECK_INVARIANT(ranges_within(v.service_off[i], SVX_EXT_SERVICE_LEN, v.len));
        CHECK_INVARIANT(sal[v.service_off[i]] >> 4 == SVX_EXT_SERVICE);
    }
    CHECK_INVARIANT((v.source_off == 0) == (v.n_source == 0));
    if (v.source_off) {
        CHECK_INVARIANT(v.source_off >= SVX_SAL_BASE_LEN && v.n_source >= 2);
        CHECK_INVARIANT(ranges_within(v.source_off, SVX_EXT_SOURCE_LEN(v.n_source), v.len));
        CHECK_INVARIANT(sal[v.source_off + 1] == SVX_EXT_SOURCE_LEN(v.n_source));
    }
    if (v.address_off) {
        CHECK_INVARIANT(v.address_off >= SVX_SAL_BASE_LEN);
        CHECK_INVARIANT(ranges_within(v.address_off, SVX_EXT_ADDRESS_LEN, v.len));
    }
    const unsigned present = (v.ctrl_off ? 1 : 0) + v.n_service + (v.source_off ? 1 : 0) +
                             (v.address_off ? 1 : 0) + v.n_pad;
    CHECK_INVARIANT(present == v.n_elems);
    if (v.canonical)
        CHECK_INVARIANT(v.n_pad == 0 && v.address_off == 0);
    if (csum_checked)
        CHECK_INVARIANT(svx_csum(sal, v.len) == 0);

    svx_sal_spec spec;
    if (!decode(sal, v, spec)) {
        CHECK_INVARIANT(v.n_source > SVX_EXT_SOURCE_MAX_ADDRS);
        return true;
    }
    Bytes rebuilt(svx_sal_spec_len(&spec));
    CHECK_INVARIANT(svx_sal_build(rebuilt.data(), rebuilt.size(), &spec) ==
                    static_cast<int>(rebuilt.size()));
    if (v.canonical) {
        // Byte for byte, bar the check field: an unverified one can hold
        // anything, and a verified one may be the other one's-complement
        // zero (ffff for 0000) than the builder writes.
        CHECK_INVARIANT(rebuilt.size() == v.len);
        CHECK_INVARIANT(std::equal(rebuilt.begin(), rebuilt.begin() + 10, sal));
        CHECK_INVARIANT(std::equal(rebuilt.begin() + 12, rebuilt.end(), sal + 12));
        if (csum_checked)
            CHECK_INVARIANT(svx_get_be16(rebuilt.data() + 10) == svx_get_be16(sal + 10) ||
                            (svx_get_be16(rebuilt.data() + 10) ^ svx_get_be16(sal + 10)) == 0xffff);
    } else {
        // Not canonical: rebuilding normalises it to the same fields.
        svx_sal_view nv;
        CHECK_INVARIANT(svx_sal_parse(rebuilt.data(), rebuilt.size(), 0, &nv) == SVX_OK);
        CHECK_INVARIANT(nv.canonical);
        svx_sal_spec again;
        CHECK_INVARIANT(decode(rebuilt.data(), nv, again));
        Bytes second(svx_sal_spec_len(&again));
        CHECK_INVARIANT(svx_sal_build(second.data(), second.size(), &again) ==
                        static_cast<int>(second.size()));
        CHECK_INVARIANT(second == rebuilt);
    }
    return true;
}

bool pkt_view_ok(std::span<const uint8_t> in, unsigned opts, const svx_pkt_view& v) {
    CHECK_INVARIANT(v.ip_hlen >= SVX_IPV4_HDR_LEN && v.ip_hlen % 4 == 0);
    CHECK_INVARIANT(v.ip_hlen <= v.ip_len && v.ip_len <= in.size());
    CHECK_INVARIANT(v.ip_proto == in[9]);
    if (v.udp_encap) {
        CHECK_INVARIANT((opts & SVX_PKT_UDP_ENCAP) && v.ip_proto == SVX_IPPROTO_UDP);
        CHECK_INVARIANT(v.sal_off == v.ip_hlen + SVX_UDP_HDR_LEN);
    } else {
        CHECK_INVARIANT(v.ip_proto == SVX_IPPROTO_SAL && v.sal_off == v.ip_hlen);
    }
    CHECK_INVARIANT(v.sal_off + v.sal.len == v.l4_off);
    CHECK_INVARIANT(v.l4_off + v.l4_len == v.ip_len);
    CHECK_INVARIANT(v.l4_hlen <= v.l4_len && (v.l4_len == 0) == (v.l4_hlen == 0));
    if (v.l4_hlen && v.sal.protocol == SVX_IPPROTO_TCP)
        CHECK_INVARIANT(v.l4_hlen >= SVX_TCP_HDR_LEN && v.l4_hlen <= SVX_TCP_MAX_HDR_LEN &&
                        v.l4_hlen % 4 == 0);
    if (v.l4_hlen && v.sal.protocol == SVX_IPPROTO_UDP)
        CHECK_INVARIANT(v.l4_hlen == SVX_UDP_HDR_LEN);
    if (opts & SVX_PKT_VERIFY_IP_CSUM)
        CHECK_INVARIANT(svx_csum(in.data(), v.ip_hlen) == 0);
    return sal_view_ok(in.data() + v.sal_off, v.ip_len - v.sal_off, v.sal,
                       !(opts & SVX_SAL_PARSE_NO_CSUM));
}

// A router step on an accepted packet, in a bounded copy of its SAL region.
bool source_append_ok(std::span<const uint8_t> in, const svx_pkt_view& v, std::mt19937& rng) {
    std::span<const uint8_t> region = in.subspan(v.sal_off, v.ip_len - v.sal_off);
    Bytes buf(region.begin(), region.end());
    buf.resize(buf.size() + rng() % 16);
    svx_sal_view sv = v.sal;
    Ipv4Addr hop;
    if (v.sal.n_source && rng() % 2)
        std::copy_n(svx_sal_source_addr(region.data(), &v.sal, rng() % v.sal.n_source), 4,
                    hop.begin());
    else
        hop = {static_cast<uint8_t>(rng()), 1, 2, 3};
    int n = svx_sal_source_append(buf.data(), region.size(), buf.size(), &sv, in.data() + 12,
                                  hop.data());
    if (n < 0) {
        CHECK_INVARIANT(-n > 0 && -n < SVX_E__COUNT);
        return true;
    }
    CHECK_INVARIANT(static_cast<size_t>(n) == region.size() + (v.sal.n_source ? 4 : 12));
    CHECK_INVARIANT(sv.n_source == (v.sal.n_source ? v.sal.n_source + 1 : 2));
    CHECK_INVARIANT(std::equal(svx_sal_source_addr(buf.data(), &sv, sv.n_source - 1),
                               svx_sal_source_addr(buf.data(), &sv, sv.n_source - 1) + 4,
                               hop.begin()));
    // Transport and payload moved along intact.
    CHECK_INVARIANT(std::equal(region.begin() + v.sal.len, region.end(), buf.begin() + sv.len));
    return sal_view_ok(buf.data(), static_cast<size_t>(n), sv, true);
}

// Runs one input through svx_pkt_parse (with opts) and svx_sal_parse.
class Prober {
public:
    explicit Prober(uint32_t seed) : rng_(seed) {}

    bool probe(std::span<const uint8_t> in, unsigned opts) {
        ++inputs_;
        svx_pkt_view v;
        svx_err err = svx_pkt_parse(in.data(), in.size(), opts, &v);
        if (err < SVX_OK || err >= SVX_E__COUNT) {
            ADD_FAILURE() << "svx_pkt_parse returned " << static_cast<int>(err);
            return false;
        }
        if (err == SVX_OK) {
            ++accepted_;
            if (!pkt_view_ok(in, opts, v) || !source_append_ok(in, v, rng_))
                return fail(in, opts);
            // Checking less never refuses more.
            svx_pkt_view lax;
            unsigned fewer = opts & ~kVerifyAll;
            if (svx_pkt_parse(in.data(), in.size(), fewer | SVX_SAL_PARSE_NO_CSUM, &lax) != SVX_OK)
                return fail(in, opts);
        }
        svx_sal_view sv;
        err = svx_sal_parse(in.data(), in.size(), opts & SVX_SAL_PARSE_NO_CSUM, &sv);
        if (err < SVX_OK || err >= SVX_E__COUNT) {
            ADD_FAILURE() << "svx_sal_parse returned " << static_cast<int>(err);
            return false;
        }
        if (err == SVX_OK &&
            !sal_view_ok(in.data(), in.size(), sv, !(opts & SVX_SAL_PARSE_NO_CSUM)))
            return fail(in, opts);
        return true;
    }

    bool probe_all_options(std::span<const uint8_t> in) {
        for (unsigned opts : kOptionSets)
            if (!probe(in, opts))
                return false;
        return true;
    }

    size_t inputs() const { return inputs_; }
    size_t accepted() const { return accepted_; }
    std::mt19937& rng() { return rng_; }

private:
    bool fail(std::span<const uint8_t> in, unsigned opts) {
        ADD_FAILURE() << "input (opts " << opts << "):\n" << hexdump(in);
        return false;
    }

    std::mt19937 rng_;
    size_t inputs_ = 0;
    size_t accepted_ = 0;
};

Ipv4Addr addr_of(const Bytes& pkt, size_t off) {
    Ipv4Addr a;
    std::copy_n(pkt.begin() + static_cast<std::ptrdiff_t>(off), 4, a.begin());
    return a;
}

// Recomputes the SAL checksum of a damaged packet over what its SHL claims,
// as far as the bytes go.
void refresh_sal_checksum(Bytes& pkt) {
    const size_t sal_off = SVX_IPV4_HDR_LEN + (pkt[9] == SVX_IPPROTO_UDP ? SVX_UDP_HDR_LEN : 0);
    if (pkt.size() < sal_off + SVX_SAL_BASE_LEN)
        return;
    const size_t covered = std::min<size_t>(pkt.size() - sal_off, pkt[sal_off + 8] * 4u);
    if (covered >= SVX_SAL_BASE_LEN)
        svx_sal_fill_csum(pkt.data() + sal_off, covered);
}

// The published packets, each also UDP-encapsulated, plus random valid ones.
std::vector<Bytes> seed_packets(std::mt19937& rng) {
    std::vector<Bytes> plain;
    for (const auto& file : reference_pcaps())
        for (Bytes& pkt : read_pcap_ipv4(file))
            plain.push_back(std::move(pkt));
    auto handmade = read_handmade_vectors();
    for (const char* name : {"V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V11"})
        plain.push_back(find_vector(handmade, name).bytes);
    plain.push_back(find_vector(handmade, "V9").bytes); // not IP: a bare SAL header

    std::vector<Bytes> all = plain;
    for (const Bytes& pkt : plain) {
        if (pkt.size() <= SVX_IPV4_HDR_LEN)
            continue;
        std::span<const uint8_t> body(pkt.begin() + SVX_IPV4_HDR_LEN, pkt.end());
        all.push_back(PacketBuilder()
                          .ipv4(addr_of(pkt, 12), addr_of(pkt, 16))
                          .udp_encap(SVX_UDP_ENCAP_CLIENT_PORT, SVX_UDP_ENCAP_SERVER_PORT)
                          .body(body)
                          .build());
    }
    for (int i = 0; i < 200; ++i)
        all.push_back(random_sal_packet(rng, 96));
    return all;
}

class Robustness : public testing::Test {
protected:
    void SetUp() override {
        seed_ = test_seed(0x5eed0003);
        RecordProperty("seed", std::to_string(seed_));
        std::cout << "seed " << seed_ << " (replay with SVXLAT_TEST_SEED=" << seed_ << ")\n";
    }
    uint32_t seed_ = 0;
};

TEST_F(Robustness, EveryTruncationOfEveryVector) {
    Prober prober(seed_);
    auto packets = seed_packets(prober.rng());
    for (const Bytes& pkt : packets) {
        for (size_t len = 0; len <= pkt.size(); ++len) {
            Bytes cut(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(len));
            ASSERT_TRUE(prober.probe_all_options(cut));
            // The same cut with an IP header that agrees, so that the SAL
            // and transport checks see the short packet.
            if (len >= SVX_IPV4_HDR_LEN && (cut[0] & 0xf) == 5) {
                svx_put_be16(cut.data() + 2, static_cast<uint16_t>(len));
                svx_ipv4_fill_csum(cut.data());
                ASSERT_TRUE(prober.probe_all_options(cut));
            }
        }
    }
    std::cout << prober.inputs() << " parses, " << prober.accepted() << " accepted\n";
    // The untruncated vectors at least are accepted.
    EXPECT_GT(prober.accepted(), packets.size());
}

TEST_F(Robustness, RandomByteFlipsOfVectors) {
    Prober prober(seed_);
    auto packets = seed_packets(prober.rng());
    std::mt19937& rng = prober.rng();
    for (int i = 0; i < 25000; ++i) {
        Bytes pkt = packets[rng() % packets.size()];
        for (unsigned flips = 1 + rng() % 4; flips > 0; --flips) {
            size_t at = rng() % pkt.size();
            pkt[at] = rng() % 2 ? static_cast<uint8_t>(rng()) : pkt[at] ^ (1u << rng() % 8);
        }
        // Repair checksums often enough that the deeper layers see the damage.
        // (svx_ipv4_fill_csum trusts the IHL: only where the header fits.)
        if (pkt.size() >= (pkt[0] & 0xfu) * 4u && pkt.size() >= SVX_IPV4_HDR_LEN && rng() % 2)
            svx_ipv4_fill_csum(pkt.data());
        if (rng() % 3 == 0)
            refresh_sal_checksum(pkt);
        ASSERT_TRUE(prober.probe(pkt, kOptionSets[rng() % std::size(kOptionSets)]));
    }
    std::cout << prober.inputs() << " parses, " << prober.accepted() << " accepted\n";
    EXPECT_GT(prober.accepted(), 1000u); // flips of payload bytes keep many valid
}

// Random bytes shaped just enough to get past the outer checks: an IPv4
// header that agrees with the length, and in the SAL area a chain of
// extension headers of mostly plausible types and lengths. Everything else
// (flow IDs, extension bodies, transport, SHL slack) stays random.
Bytes shaped_random_packet(std::mt19937& rng) {
    Bytes pkt(rng() % 320);
    for (uint8_t& b : pkt)
        b = static_cast<uint8_t>(rng());
    if (pkt.size() < SVX_IPV4_HDR_LEN || rng() % 4 == 0)
        return pkt; // left fully random
    pkt[0] = 0x45;
    svx_put_be16(pkt.data() + 2, static_cast<uint16_t>(pkt.size()));
    pkt[6] &= 0x40; // DF at most: no MF, no offset
    pkt[7] = 0;
    pkt[9] = rng() % 4 ? SVX_IPPROTO_SAL : SVX_IPPROTO_UDP;
    size_t sal_off = SVX_IPV4_HDR_LEN;
    if (pkt[9] == SVX_IPPROTO_UDP && pkt.size() >= sal_off + SVX_UDP_HDR_LEN) {
        svx_put_be16(pkt.data() + 22, SVX_UDP_ENCAP_SERVER_PORT);
        svx_put_be16(pkt.data() + 24, static_cast<uint16_t>(pkt.size() - sal_off));
        pkt[26] = pkt[27] = 0;
        sal_off += SVX_UDP_HDR_LEN;
    }
    if (pkt.size() >= sal_off + SVX_SAL_BASE_LEN) {
        size_t off = sal_off + SVX_SAL_BASE_LEN;
        while (off < pkt.size() && rng() % 6 != 0) {
            static constexpr size_t kLens[] = {1, SVX_EXT_CONTROL_LEN, SVX_EXT_SERVICE_LEN,
                                               SVX_EXT_ADDRESS_LEN, 0};
            const unsigned type = rng() % 5;
            size_t len = type == SVX_EXT_SOURCE ? SVX_EXT_SOURCE_LEN(2 + rng() % 4) : kLens[type];
            if (rng() % 10 == 0)
                len = rng() % 48; // occasionally wrong
            if (len == 0 || off + len > pkt.size())
                break;
            pkt[off] = static_cast<uint8_t>(type << 4 | (pkt[off] & 0xf));
            if (type != SVX_EXT_PAD && len > 1)
                pkt[off + 1] = static_cast<uint8_t>(len);
            off += len;
        }
        while ((off - sal_off) % 4 != 0 && off < pkt.size())
            pkt[off++] = SVX_EXT_PAD;
        pkt[sal_off + 8] = static_cast<uint8_t>((off - sal_off) / 4);
        const uint8_t proto = rng() % 2 ? SVX_IPPROTO_TCP : SVX_IPPROTO_UDP;
        pkt[sal_off + 9] = proto;
        if (rng() % 4)
            svx_sal_fill_csum(pkt.data() + sal_off, pkt[sal_off + 8] * 4u);
        // Transport: none, a plausible header, or left random.
        const size_t l4 = pkt[sal_off + 8] * 4u + sal_off;
        const unsigned shape = rng() % 3;
        if (shape == 0 && l4 <= pkt.size())
            pkt.resize(l4);
        if (shape == 1 && proto == SVX_IPPROTO_TCP && pkt.size() >= l4 + SVX_TCP_HDR_LEN)
            pkt[l4 + 12] = static_cast<uint8_t>((5 + rng() % 2) << 4);
        if (shape == 1 && proto == SVX_IPPROTO_UDP && pkt.size() >= l4 + SVX_UDP_HDR_LEN)
            svx_put_be16(pkt.data() + l4 + 4, static_cast<uint16_t>(pkt.size() - l4));
        svx_put_be16(pkt.data() + 2, static_cast<uint16_t>(pkt.size()));
        if (sal_off > SVX_IPV4_HDR_LEN)
            svx_put_be16(pkt.data() + 24, static_cast<uint16_t>(pkt.size() - SVX_IPV4_HDR_LEN));
    }
    svx_ipv4_fill_csum(pkt.data());
    return pkt;
}

TEST_F(Robustness, RandomByteStrings) {
    Prober prober(seed_);
    for (int i = 0; i < 25000; ++i) {
        Bytes pkt = shaped_random_packet(prober.rng());
        ASSERT_TRUE(prober.probe(pkt, kOptionSets[prober.rng()() % std::size(kOptionSets)]));
    }
    std::cout << prober.inputs() << " parses, " << prober.accepted() << " accepted\n";
    EXPECT_GT(prober.accepted(), 100u); // the shaping reaches the accepting paths
}

} // namespace
} // namespace svxlat::test
