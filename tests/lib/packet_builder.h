// Test-side construction of IPv4 packets (plain TCP/UDP, SAL, UDP-encapsulated
// SAL) with a fluent interface, plus hex helpers. Lengths, the SAL header and
// every checksum come from the shared core (svx_sal_build, svx_ipv4_build,
// svx_pkt_fill_l4_csum, svx_csum_*), so a fixture exercises the same code the
// engines use; malformed inputs are made by the explicit override knobs.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <svxlat/pkt.h>
#include <svxlat/sal.h>
#include <svxlat/sid.h>

namespace svxlat::test {

using Bytes = std::vector<uint8_t>;
using Ipv4Addr = std::array<uint8_t, 4>;
using Nonce = std::array<uint8_t, SVX_NONCE_LEN>;

// "192.168.1.10" -> bytes; throws std::invalid_argument on anything else.
Ipv4Addr ipv4_addr(std::string_view dotted);
// Service ID from its text form (svx_sid_parse); throws on a parse error.
svx_sid sid_from_text(std::string_view text);
// 0x0102030405060708 -> 01 02 .. 08 (the order the bytes go on the wire).
Nonce nonce_from_u64(uint64_t value);

// Lowercase hex without separators.
std::string to_hex(std::span<const uint8_t> bytes);
// Hex digits, whitespace ignored; throws std::invalid_argument on any other
// character or an odd digit count.
Bytes from_hex(std::string_view text);
// "0000  45 00 ..." lines of 16 bytes, for test failure messages.
std::string hexdump(std::span<const uint8_t> bytes);
// Both buffers dumped with the first differing offset named; empty if equal.
std::string describe_difference(std::span<const uint8_t> got, std::span<const uint8_t> want);

// Seed for randomised tests: $SVXLAT_TEST_SEED when set (to replay a
// failure), else fallback. Tests print the seed they use.
uint32_t test_seed(uint32_t fallback);

// A random well-formed SAL packet for property tests: random addresses, IP
// fields, flow IDs, extensions (CONTROL, up to 2 SERVICE, SOURCE of 2..20),
// a TCP (with random options) or UDP segment or nothing, a payload of up to
// max_payload bytes, and sometimes IP options or UDP encapsulation. All
// checksums are correct.
Bytes random_sal_packet(std::mt19937& rng, size_t max_payload = 256);

class PacketBuilder {
public:
    // IPv4 header. Defaults: TTL 64, ID 0, no DF, TOS 0 (the vectors' values).
    PacketBuilder& ipv4(std::string_view saddr, std::string_view daddr);
    PacketBuilder& ipv4(const Ipv4Addr& saddr, const Ipv4Addr& daddr);
    PacketBuilder& ttl(uint8_t value);
    PacketBuilder& tos(uint8_t value);
    PacketBuilder& id(uint16_t value);
    PacketBuilder& df(bool value = true);
    // Overrides for malformed packets.
    PacketBuilder& ip_proto(uint8_t proto);      // default: 144, 17 (encap) or the transport's
    PacketBuilder& ip_tot_len(uint16_t tot_len); // default: the bytes built
    PacketBuilder& ip_frag(uint16_t frag_field); // raw flags+offset word (MF, offset)
    PacketBuilder& ip_options(std::span<const uint8_t> options); // multiple of 4, IHL follows

    // SAL inside UDP (section 13) with the outer UDP checksum computed.
    PacketBuilder& udp_encap(uint16_t sport = SVX_UDP_ENCAP_CLIENT_PORT,
                             uint16_t dport = SVX_UDP_ENCAP_SERVER_PORT);

    // SAL header from fields; svx_sal_build lays it out canonically.
    PacketBuilder& sal(uint32_t src_flow, uint32_t dst_flow);
    // SAL header from a spec (e.g. one of the core's svx_sal_spec_* helpers).
    PacketBuilder& sal_spec(const svx_sal_spec& spec);
    PacketBuilder& sal_protocol(uint8_t proto); // default: the transport's, else the spec's
    PacketBuilder& control(uint8_t flags, uint32_t verno, uint32_t ackno, const Nonce& nonce);
    PacketBuilder& control(uint8_t flags, uint32_t verno, uint32_t ackno, uint64_t nonce = 0);
    PacketBuilder& service(const svx_sid& sid);
    PacketBuilder& service(std::string_view sid_text);
    PacketBuilder& source(std::initializer_list<std::string_view> addrs);
    PacketBuilder& source(std::initializer_list<Ipv4Addr> addrs);
    PacketBuilder& source(std::span<const Ipv4Addr> addrs);
    // Raw bytes after the built extensions (PADs, ADDRESS, duplicates, junk).
    // The SAL length must come out a multiple of 4 unless sal_shl() is given.
    PacketBuilder& raw_sal_tail(std::span<const uint8_t> bytes);
    PacketBuilder& raw_sal_tail(std::initializer_list<uint8_t> bytes);
    PacketBuilder& pad(size_t count); // count PAD bytes (0x00) into the tail
    // SHL override; the SAL checksum then covers min(SHL*4, bytes present).
    PacketBuilder& sal_shl(uint8_t shl);

    // Serval/plain TCP. Options go out in call order, NOP-aligned like Linux.
    PacketBuilder& tcp(uint16_t sport, uint16_t dport);
    PacketBuilder& seq(uint32_t value);
    PacketBuilder& ack(uint32_t value);
    PacketBuilder& flags(uint8_t tcp_flags);
    PacketBuilder& window(uint16_t value);
    PacketBuilder& urgent(uint16_t value);
    PacketBuilder& mss(uint16_t value);
    PacketBuilder& wscale(uint8_t shift);
    PacketBuilder& sack_permitted();
    PacketBuilder& timestamps(uint32_t tsval, uint32_t tsecr);
    PacketBuilder& tcp_option_raw(std::span<const uint8_t> bytes); // EOL-padded to 4
    PacketBuilder& tcp_doff(uint8_t words);                        // override

    PacketBuilder& udp(uint16_t sport, uint16_t dport);
    PacketBuilder& udp_len(uint16_t value); // override

    PacketBuilder& payload(std::string_view text);
    PacketBuilder& payload(std::span<const uint8_t> bytes);

    // Everything after the IP header (after the encap UDP header if any) taken
    // verbatim: no SAL, transport or payload is built and only the IP (and
    // outer UDP) checksums are computed. Wraps existing packets or junk.
    PacketBuilder& body(std::span<const uint8_t> bytes);

    // Store a checksum that does not verify (one bit off the correct value).
    PacketBuilder& bad_ip_csum();
    PacketBuilder& bad_sal_csum();
    PacketBuilder& bad_l4_csum();

    Bytes build() const;

private:
    enum class Transport { none, tcp, udp };

    svx_ipv4_spec ip_{
        .saddr = {}, .daddr = {}, .protocol = 0, .ttl = 64, .tos = 0, .id = 0, .df = false};
    std::optional<uint8_t> ip_proto_;
    std::optional<uint16_t> ip_tot_len_;
    uint16_t ip_frag_ = 0;
    Bytes ip_options_;

    std::optional<std::array<uint16_t, 2>> encap_ports_;

    bool has_sal_ = false;
    svx_sal_spec spec_{};
    std::optional<uint8_t> sal_protocol_;
    Bytes sal_tail_;
    std::optional<uint8_t> sal_shl_;

    Transport transport_ = Transport::none;
    uint16_t sport_ = 0;
    uint16_t dport_ = 0;
    uint32_t seq_ = 0;
    uint32_t ack_ = 0;
    uint8_t tcp_flags_ = 0;
    uint16_t window_ = 0;
    uint16_t urgent_ = 0;
    Bytes tcp_options_;
    std::optional<uint8_t> tcp_doff_;
    std::optional<uint16_t> udp_len_;
    Bytes payload_;
    std::optional<Bytes> body_;

    bool bad_ip_csum_ = false;
    bool bad_sal_csum_ = false;
    bool bad_l4_csum_ = false;

    void ensure_sal();
    void append_tcp_option(std::initializer_list<uint8_t> bytes);
    Bytes build_transport() const;
    Bytes build_sal() const;
};

} // namespace svxlat::test

// GoogleTest finds these by argument-dependent lookup and prints core error
// codes by name instead of as bare numbers.
inline void PrintTo(svx_err err, std::ostream* os) {
    *os << svx_err_name(err) << " (" << static_cast<int>(err) << ")";
}

inline void PrintTo(svx_sid_err err, std::ostream* os) {
    *os << svx_sid_strerror(err) << " (" << static_cast<int>(err) << ")";
}
