#include "packet_builder.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <svxlat/csum.h>

namespace svxlat::test {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void put_be16(Bytes& out, size_t off, uint16_t v) {
    svx_put_be16(out.data() + off, v);
}

// A stored checksum one or two units off the right one: never verifies, and
// never the UDP "no checksum" zero.
void spoil_checksum(uint8_t* check) {
    uint16_t good = svx_get_be16(check);
    uint16_t bad = good ^ 0x0001;
    if (bad == 0)
        bad = good ^ 0x0002;
    svx_put_be16(check, bad);
}

} // namespace

Ipv4Addr ipv4_addr(std::string_view dotted) {
    std::string text(dotted);
    Ipv4Addr addr{};
    if (inet_pton(AF_INET, text.c_str(), addr.data()) != 1)
        throw std::invalid_argument("not an IPv4 address: " + text);
    return addr;
}

svx_sid sid_from_text(std::string_view text) {
    svx_sid sid{};
    svx_sid_err err = svx_sid_parse(text.data(), text.size(), &sid, nullptr);
    if (err != SVX_SID_OK)
        throw std::invalid_argument("bad service ID '" + std::string(text) +
                                    "': " + svx_sid_strerror(err));
    return sid;
}

Nonce nonce_from_u64(uint64_t value) {
    Nonce nonce{};
    for (size_t i = 0; i < nonce.size(); ++i)
        nonce[i] = static_cast<uint8_t>(value >> (8 * (nonce.size() - 1 - i)));
    return nonce;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out.push_back(kHexDigits[b >> 4]);
        out.push_back(kHexDigits[b & 0xf]);
    }
    return out;
}

Bytes from_hex(std::string_view text) {
    Bytes out;
    int high = -1;
    for (char c : text) {
        if (is_space(c))
            continue;
        int v = hex_value(c);
        if (v < 0)
            throw std::invalid_argument("not a hex digit: '" + std::string(1, c) + "'");
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<uint8_t>(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0)
        throw std::invalid_argument("odd number of hex digits");
    return out;
}

std::string hexdump(std::span<const uint8_t> bytes) {
    std::string out;
    char offset[24];
    for (size_t i = 0; i < bytes.size(); i += 16) {
        std::snprintf(offset, sizeof(offset), "%04zx ", i);
        out += offset;
        for (size_t j = i; j < std::min(i + 16, bytes.size()); ++j) {
            out.push_back(' ');
            out.push_back(kHexDigits[bytes[j] >> 4]);
            out.push_back(kHexDigits[bytes[j] & 0xf]);
        }
        out.push_back('\n');
    }
    return out;
}

std::string describe_difference(std::span<const uint8_t> got, std::span<const uint8_t> want) {
    auto [got_it, want_it] = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
    if (got_it == got.end() && want_it == want.end())
        return {};
    size_t at = static_cast<size_t>(got_it - got.begin());
    char head[128];
    std::snprintf(head, sizeof(head),
                  "first difference at offset 0x%zx (got %zu bytes, want %zu)\n", at, got.size(),
                  want.size());
    return std::string(head) + "got:\n" + hexdump(got) + "want:\n" + hexdump(want);
}

uint32_t test_seed(uint32_t fallback) {
    const char* env = std::getenv("SVXLAT_TEST_SEED");
    if (!env || !*env)
        return fallback;
    return static_cast<uint32_t>(std::strtoul(env, nullptr, 0));
}

Bytes random_sal_packet(std::mt19937& rng, size_t max_payload) {
    auto below = [&rng](uint32_t n) {
        return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng);
    };
    auto byte = [&] { return static_cast<uint8_t>(below(256)); };
    auto addr = [&] { return Ipv4Addr{byte(), byte(), byte(), byte()}; };
    auto chance = [&](uint32_t percent) { return below(100) < percent; };

    PacketBuilder b;
    b.ipv4(addr(), addr())
        .ttl(byte())
        .tos(byte())
        .id(static_cast<uint16_t>(rng()))
        .df(chance(50))
        .sal(rng(), rng());
    if (chance(10)) {
        const uint8_t nops[] = {1, 1, 1, 1, 1, 1, 1, 1};
        b.ip_options(std::span(nops, 4 * (1 + below(2))));
    }
    if (chance(15))
        b.udp_encap(SVX_UDP_ENCAP_CLIENT_PORT, SVX_UDP_ENCAP_SERVER_PORT);
    if (chance(60)) {
        Nonce nonce;
        for (uint8_t& n : nonce)
            n = byte();
        b.control(byte(), rng(), rng(), nonce);
    }
    for (uint32_t i = below(3); i > 0; --i) {
        svx_sid sid;
        for (uint8_t& x : sid.b)
            x = byte();
        b.service(sid);
    }
    if (chance(30)) {
        std::vector<Ipv4Addr> hops(2 + below(SVX_EXT_SOURCE_MAX_ADDRS - 1));
        for (Ipv4Addr& h : hops)
            h = addr();
        b.source(hops);
    }
    Bytes payload(below(static_cast<uint32_t>(max_payload) + 1));
    for (uint8_t& x : payload)
        x = byte();
    switch (below(3)) {
    case 0:
        b.tcp(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()))
            .seq(rng())
            .ack(rng())
            .flags(byte())
            .window(static_cast<uint16_t>(rng()))
            .urgent(static_cast<uint16_t>(rng()));
        if (chance(30))
            b.mss(static_cast<uint16_t>(rng()));
        if (chance(30))
            b.wscale(byte());
        if (chance(20))
            b.sack_permitted();
        if (chance(20))
            b.timestamps(rng(), rng());
        b.payload(payload);
        break;
    case 1:
        b.udp(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())).payload(payload);
        break;
    default:
        break; // a control-only packet
    }
    return b.build();
}

PacketBuilder& PacketBuilder::ipv4(std::string_view saddr, std::string_view daddr) {
    return ipv4(ipv4_addr(saddr), ipv4_addr(daddr));
}

PacketBuilder& PacketBuilder::ipv4(const Ipv4Addr& saddr, const Ipv4Addr& daddr) {
    std::copy(saddr.begin(), saddr.end(), ip_.saddr);
    std::copy(daddr.begin(), daddr.end(), ip_.daddr);
    return *this;
}

PacketBuilder& PacketBuilder::ttl(uint8_t value) {
    ip_.ttl = value;
    return *this;
}

PacketBuilder& PacketBuilder::tos(uint8_t value) {
    ip_.tos = value;
    return *this;
}

PacketBuilder& PacketBuilder::id(uint16_t value) {
    ip_.id = value;
    return *this;
}

PacketBuilder& PacketBuilder::df(bool value) {
    ip_.df = value;
    return *this;
}

PacketBuilder& PacketBuilder::ip_proto(uint8_t proto) {
    ip_proto_ = proto;
    return *this;
}

PacketBuilder& PacketBuilder::ip_tot_len(uint16_t tot_len) {
    ip_tot_len_ = tot_len;
    return *this;
}

PacketBuilder& PacketBuilder::ip_frag(uint16_t frag_field) {
    ip_frag_ = frag_field;
    return *this;
}

PacketBuilder& PacketBuilder::ip_options(std::span<const uint8_t> options) {
    if (options.size() % 4 != 0 || options.size() > 40)
        throw std::invalid_argument("IP options must be a multiple of 4, at most 40 bytes");
    ip_options_.assign(options.begin(), options.end());
    return *this;
}

PacketBuilder& PacketBuilder::udp_encap(uint16_t sport, uint16_t dport) {
    encap_ports_ = std::array<uint16_t, 2>{sport, dport};
    return *this;
}

void PacketBuilder::ensure_sal() {
    if (has_sal_)
        return;
    has_sal_ = true;
    spec_ = {};
    spec_.protocol = SVX_IPPROTO_TCP;
}

PacketBuilder& PacketBuilder::sal(uint32_t src_flow, uint32_t dst_flow) {
    ensure_sal();
    spec_.src_flow = src_flow;
    spec_.dst_flow = dst_flow;
    return *this;
}

PacketBuilder& PacketBuilder::sal_spec(const svx_sal_spec& spec) {
    has_sal_ = true;
    spec_ = spec;
    return *this;
}

PacketBuilder& PacketBuilder::sal_protocol(uint8_t proto) {
    ensure_sal();
    sal_protocol_ = proto;
    return *this;
}

PacketBuilder& PacketBuilder::control(uint8_t flags, uint32_t verno, uint32_t ackno,
                                      const Nonce& nonce) {
    ensure_sal();
    spec_.has_ctrl = true;
    spec_.ctrl = {};
    spec_.ctrl.flags = flags;
    spec_.ctrl.verno = verno;
    spec_.ctrl.ackno = ackno;
    std::copy(nonce.begin(), nonce.end(), spec_.ctrl.nonce);
    return *this;
}

PacketBuilder& PacketBuilder::control(uint8_t flags, uint32_t verno, uint32_t ackno,
                                      uint64_t nonce) {
    return control(flags, verno, ackno, nonce_from_u64(nonce));
}

PacketBuilder& PacketBuilder::service(const svx_sid& sid) {
    ensure_sal();
    if (spec_.n_service >= 2)
        throw std::invalid_argument("the builder emits at most 2 SERVICE; use raw_sal_tail");
    spec_.service[spec_.n_service] = {};
    spec_.service[spec_.n_service].id = sid;
    spec_.n_service++;
    return *this;
}

PacketBuilder& PacketBuilder::service(std::string_view sid_text) {
    return service(sid_from_text(sid_text));
}

PacketBuilder& PacketBuilder::source(std::initializer_list<std::string_view> addrs) {
    std::vector<Ipv4Addr> parsed;
    for (std::string_view a : addrs)
        parsed.push_back(ipv4_addr(a));
    return source(parsed);
}

PacketBuilder& PacketBuilder::source(std::initializer_list<Ipv4Addr> addrs) {
    return source(std::span<const Ipv4Addr>(addrs.begin(), addrs.size()));
}

PacketBuilder& PacketBuilder::source(std::span<const Ipv4Addr> addrs) {
    ensure_sal();
    if (addrs.size() < SVX_EXT_SOURCE_MIN_ADDRS || addrs.size() > SVX_EXT_SOURCE_MAX_ADDRS)
        throw std::invalid_argument("SOURCE takes 2..20 addresses; use raw_sal_tail");
    spec_.n_source = static_cast<uint8_t>(addrs.size());
    for (size_t i = 0; i < addrs.size(); ++i)
        std::copy(addrs[i].begin(), addrs[i].end(), spec_.source[i]);
    return *this;
}

PacketBuilder& PacketBuilder::raw_sal_tail(std::span<const uint8_t> bytes) {
    ensure_sal();
    sal_tail_.insert(sal_tail_.end(), bytes.begin(), bytes.end());
    return *this;
}

PacketBuilder& PacketBuilder::raw_sal_tail(std::initializer_list<uint8_t> bytes) {
    return raw_sal_tail(std::span<const uint8_t>(bytes.begin(), bytes.size()));
}

PacketBuilder& PacketBuilder::pad(size_t count) {
    ensure_sal();
    sal_tail_.insert(sal_tail_.end(), count, uint8_t{SVX_EXT_PAD});
    return *this;
}

PacketBuilder& PacketBuilder::sal_shl(uint8_t shl) {
    ensure_sal();
    sal_shl_ = shl;
    return *this;
}

PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport) {
    transport_ = Transport::tcp;
    sport_ = sport;
    dport_ = dport;
    return *this;
}

PacketBuilder& PacketBuilder::seq(uint32_t value) {
    seq_ = value;
    return *this;
}

PacketBuilder& PacketBuilder::ack(uint32_t value) {
    ack_ = value;
    return *this;
}

PacketBuilder& PacketBuilder::flags(uint8_t tcp_flags) {
    tcp_flags_ = tcp_flags;
    return *this;
}

PacketBuilder& PacketBuilder::window(uint16_t value) {
    window_ = value;
    return *this;
}

PacketBuilder& PacketBuilder::urgent(uint16_t value) {
    urgent_ = value;
    return *this;
}

void PacketBuilder::append_tcp_option(std::initializer_list<uint8_t> bytes) {
    tcp_options_.insert(tcp_options_.end(), bytes.begin(), bytes.end());
}

PacketBuilder& PacketBuilder::mss(uint16_t value) {
    append_tcp_option({2, 4, static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)});
    return *this;
}

PacketBuilder& PacketBuilder::wscale(uint8_t shift) {
    append_tcp_option({1, 3, 3, shift});
    return *this;
}

PacketBuilder& PacketBuilder::sack_permitted() {
    append_tcp_option({1, 1, 4, 2});
    return *this;
}

PacketBuilder& PacketBuilder::timestamps(uint32_t tsval, uint32_t tsecr) {
    append_tcp_option({1, 1, 8, 10});
    size_t at = tcp_options_.size();
    tcp_options_.resize(at + 8);
    svx_put_be32(tcp_options_.data() + at, tsval);
    svx_put_be32(tcp_options_.data() + at + 4, tsecr);
    return *this;
}

PacketBuilder& PacketBuilder::tcp_option_raw(std::span<const uint8_t> bytes) {
    tcp_options_.insert(tcp_options_.end(), bytes.begin(), bytes.end());
    return *this;
}

PacketBuilder& PacketBuilder::tcp_doff(uint8_t words) {
    tcp_doff_ = words;
    return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
    transport_ = Transport::udp;
    sport_ = sport;
    dport_ = dport;
    return *this;
}

PacketBuilder& PacketBuilder::udp_len(uint16_t value) {
    udp_len_ = value;
    return *this;
}

PacketBuilder& PacketBuilder::payload(std::string_view text) {
    payload_.insert(payload_.end(), text.begin(), text.end());
    return *this;
}

PacketBuilder& PacketBuilder::payload(std::span<const uint8_t> bytes) {
    payload_.insert(payload_.end(), bytes.begin(), bytes.end());
    return *this;
}

PacketBuilder& PacketBuilder::body(std::span<const uint8_t> bytes) {
    body_ = Bytes(bytes.begin(), bytes.end());
    return *this;
}

PacketBuilder& PacketBuilder::bad_ip_csum() {
    bad_ip_csum_ = true;
    return *this;
}

PacketBuilder& PacketBuilder::bad_sal_csum() {
    bad_sal_csum_ = true;
    return *this;
}

PacketBuilder& PacketBuilder::bad_l4_csum() {
    bad_l4_csum_ = true;
    return *this;
}

// Transport header (check field zero) followed by the payload.
Bytes PacketBuilder::build_transport() const {
    Bytes out;
    if (transport_ == Transport::tcp) {
        Bytes options = tcp_options_;
        while (options.size() % 4 != 0)
            options.push_back(0); // EOL
        size_t hlen = SVX_TCP_HDR_LEN + options.size();
        if (hlen > SVX_TCP_MAX_HDR_LEN && !tcp_doff_)
            throw std::length_error("TCP options longer than 40 bytes");
        out.resize(SVX_TCP_HDR_LEN);
        put_be16(out, 0, sport_);
        put_be16(out, 2, dport_);
        svx_put_be32(out.data() + 4, seq_);
        svx_put_be32(out.data() + 8, ack_);
        out[12] = static_cast<uint8_t>((tcp_doff_ ? *tcp_doff_ : hlen / 4) << 4);
        out[13] = tcp_flags_;
        put_be16(out, 14, window_);
        put_be16(out, 18, urgent_);
        out.insert(out.end(), options.begin(), options.end());
    } else if (transport_ == Transport::udp) {
        out.resize(SVX_UDP_HDR_LEN);
        put_be16(out, 0, sport_);
        put_be16(out, 2, dport_);
        size_t len = SVX_UDP_HDR_LEN + payload_.size();
        put_be16(out, 4, udp_len_ ? *udp_len_ : static_cast<uint16_t>(len));
    }
    out.insert(out.end(), payload_.begin(), payload_.end());
    return out;
}

// SAL header with its SHL set; the checksum is filled once the whole packet
// exists, because an SHL override may make it cover transport bytes.
Bytes PacketBuilder::build_sal() const {
    svx_sal_spec spec = spec_;
    if (sal_protocol_)
        spec.protocol = *sal_protocol_;
    else if (transport_ == Transport::tcp)
        spec.protocol = SVX_IPPROTO_TCP;
    else if (transport_ == Transport::udp)
        spec.protocol = SVX_IPPROTO_UDP;

    Bytes out(svx_sal_spec_len(&spec));
    int built = svx_sal_build(out.data(), out.size(), &spec);
    if (built < 0)
        throw std::invalid_argument(std::string("svx_sal_build: ") +
                                    svx_err_name(static_cast<svx_err>(-built)));
    out.insert(out.end(), sal_tail_.begin(), sal_tail_.end());
    if (!sal_shl_ && (out.size() % 4 != 0 || out.size() > SVX_SAL_MAX_LEN))
        throw std::invalid_argument("SAL length " + std::to_string(out.size()) +
                                    " is no SHL; pad it or give sal_shl()");
    out[8] = sal_shl_ ? *sal_shl_ : static_cast<uint8_t>(out.size() / 4);
    return out;
}

Bytes PacketBuilder::build() const {
    const size_t ip_hlen = SVX_IPV4_HDR_LEN + ip_options_.size();
    const size_t encap_len = encap_ports_ ? SVX_UDP_HDR_LEN : 0;

    Bytes transport;
    Bytes sal;
    if (!body_) {
        transport = build_transport();
        if (has_sal_)
            sal = build_sal();
    }

    Bytes pkt(ip_hlen + encap_len);
    if (body_) {
        pkt.insert(pkt.end(), body_->begin(), body_->end());
    } else {
        pkt.insert(pkt.end(), sal.begin(), sal.end());
        pkt.insert(pkt.end(), transport.begin(), transport.end());
    }
    if (pkt.size() > 0xffff)
        throw std::length_error("packet longer than 65535 bytes");

    // IP header first: the transport checksums read its addresses.
    svx_ipv4_spec ip = ip_;
    if (ip_proto_)
        ip.protocol = *ip_proto_;
    else if (encap_ports_ || has_sal_ || body_)
        ip.protocol = encap_ports_ ? SVX_IPPROTO_UDP : SVX_IPPROTO_SAL;
    else
        ip.protocol = transport_ == Transport::udp ? SVX_IPPROTO_UDP : SVX_IPPROTO_TCP;
    svx_ipv4_build(pkt.data(), &ip, ip_tot_len_ ? *ip_tot_len_ : static_cast<uint16_t>(pkt.size()));
    if (ip_frag_ != 0)
        put_be16(pkt, 6, static_cast<uint16_t>(ip_frag_ | (ip.df ? SVX_IPV4_DF : 0)));
    std::copy(ip_options_.begin(), ip_options_.end(), pkt.begin() + SVX_IPV4_HDR_LEN);
    pkt[0] = static_cast<uint8_t>(0x40 | ip_hlen / 4);

    const size_t sal_off = ip_hlen + encap_len;
    if (!body_ && transport_ != Transport::none) {
        // Describe the layout to the core rather than re-deriving the checksum.
        svx_pkt_view view{};
        view.ip_hlen = static_cast<uint16_t>(ip_hlen);
        view.ip_len = static_cast<uint16_t>(pkt.size());
        view.l4_off = static_cast<uint16_t>(sal_off + sal.size());
        view.l4_len = static_cast<uint16_t>(transport.size());
        view.l4_hlen = static_cast<uint16_t>(transport.size() - payload_.size());
        view.sal.protocol = transport_ == Transport::tcp ? SVX_IPPROTO_TCP : SVX_IPPROTO_UDP;
        if (svx_pkt_fill_l4_csum(pkt.data(), &view) != SVX_OK)
            throw std::logic_error("svx_pkt_fill_l4_csum refused the transport");
        if (bad_l4_csum_)
            spoil_checksum(pkt.data() + view.l4_off + (transport_ == Transport::tcp ? 16 : 6));
    }
    if (!body_ && has_sal_) {
        size_t covered = std::min<size_t>(size_t{pkt[sal_off + 8]} * 4, pkt.size() - sal_off);
        if (covered >= SVX_SAL_BASE_LEN)
            svx_sal_fill_csum(pkt.data() + sal_off, covered);
        if (bad_sal_csum_)
            spoil_checksum(pkt.data() + sal_off + 10);
    }
    if (encap_ports_) {
        put_be16(pkt, ip_hlen, (*encap_ports_)[0]);
        put_be16(pkt, ip_hlen + 2, (*encap_ports_)[1]);
        put_be16(pkt, ip_hlen + 4, static_cast<uint16_t>(pkt.size() - ip_hlen));
        svx_pkt_view outer{};
        outer.l4_off = static_cast<uint16_t>(ip_hlen);
        outer.l4_len = static_cast<uint16_t>(pkt.size() - ip_hlen);
        outer.l4_hlen = SVX_UDP_HDR_LEN;
        outer.sal.protocol = SVX_IPPROTO_UDP;
        svx_pkt_fill_l4_csum(pkt.data(), &outer);
    }
    svx_ipv4_fill_csum(pkt.data());
    if (bad_ip_csum_)
        spoil_checksum(pkt.data() + 10);
    return pkt;
}

} // namespace svxlat::test
