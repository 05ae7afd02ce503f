// libFuzzer target for the packet parsers of the shared core.
//
// Input: byte 0 selects the svx_pkt_parse options (its low four bits:
// SVX_SAL_PARSE_NO_CSUM, SVX_PKT_VERIFY_IP_CSUM, SVX_PKT_VERIFY_L4_CSUM,
// SVX_PKT_UDP_ENCAP), the rest is an IPv4 packet. The seed corpus in
// corpus/packet/ holds the published vectors in that form.
//
// Beyond "no crash, no sanitizer report", it traps when an accepted packet
// breaks a promise of the API: views inside the buffer, canonical SAL headers
// re-encoding byte for byte, SOURCE append producing a header that parses,
// and refreshed checksums verifying.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <svxlat/csum.h>
#include <svxlat/pkt.h>
#include <svxlat/sal.h>

namespace {

constexpr unsigned kOptionBits =
    SVX_SAL_PARSE_NO_CSUM | SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM | SVX_PKT_UDP_ENCAP;

void require(bool cond) {
    if (!cond)
        __builtin_trap();
}

bool within(size_t off, size_t len, size_t limit) {
    return off <= limit && len <= limit - off;
}

void check_sal_view(const uint8_t* sal, size_t avail, const svx_sal_view& v) {
    require(v.len >= SVX_SAL_BASE_LEN && v.len <= avail && v.len == sal[8] * 4u);
    require(v.n_elems <= SVX_SAL_MAX_ELEMS && v.n_service <= 2);
    require(!v.ctrl_off || within(v.ctrl_off, SVX_EXT_CONTROL_LEN, v.len));
    for (unsigned i = 0; i < v.n_service; ++i)
        require(within(v.service_off[i], SVX_EXT_SERVICE_LEN, v.len));
    require(!v.source_off || within(v.source_off, SVX_EXT_SOURCE_LEN(v.n_source), v.len));
    require(!v.address_off || within(v.address_off, SVX_EXT_ADDRESS_LEN, v.len));
}

// decode + build gives the same header (check field aside: an unverified one
// holds anything, a verified one may be the other one's-complement zero).
void check_round_trip(const uint8_t* sal, const svx_sal_view& v) {
    svx_sal_spec spec;
    if (svx_sal_decode(sal, &v, &spec) != SVX_OK) {
        require(v.n_source > SVX_EXT_SOURCE_MAX_ADDRS);
        return;
    }
    std::vector<uint8_t> out(svx_sal_spec_len(&spec));
    require(svx_sal_build(out.data(), out.size(), &spec) == static_cast<int>(out.size()));
    svx_sal_view rebuilt;
    require(svx_sal_parse(out.data(), out.size(), 0, &rebuilt) == SVX_OK && rebuilt.canonical);
    if (!v.canonical)
        return;
    require(out.size() == v.len);
    require(std::equal(out.begin(), out.begin() + 10, sal));
    require(std::equal(out.begin() + 12, out.end(), sal + 12));
}

// A router's SOURCE append in a copy with a little room to spare.
void check_source_append(const uint8_t* pkt, const svx_pkt_view& v) {
    const size_t region = v.ip_len - v.sal_off;
    std::vector<uint8_t> buf(pkt + v.sal_off, pkt + v.ip_len);
    buf.resize(region + 12);
    svx_sal_view sv = v.sal;
    const uint8_t* hop = svx_ip_daddr(pkt);
    int n = svx_sal_source_append(buf.data(), region, buf.size(), &sv, svx_ip_saddr(pkt), hop);
    if (n < 0) {
        require(-n < SVX_E__COUNT);
        return;
    }
    require(static_cast<size_t>(n) == region + (v.sal.n_source ? 4 : 12));
    require(std::equal(hop, hop + 4, svx_sal_source_addr(buf.data(), &sv, sv.n_source - 1)));
    svx_sal_view again;
    require(svx_sal_parse(buf.data(), static_cast<size_t>(n), 0, &again) == SVX_OK);
    check_sal_view(buf.data(), static_cast<size_t>(n), again);
}

// With every checksum recomputed by the core, the strictest parse accepts.
void check_refreshed_checksums(const uint8_t* pkt, const svx_pkt_view& v) {
    if (v.udp_encap)
        return; // the outer UDP checksum is the encapsulator's
    std::vector<uint8_t> copy(pkt, pkt + v.ip_len);
    svx_sal_fill_csum(copy.data() + v.sal_off, v.sal.len);
    if (v.l4_hlen)
        require(svx_pkt_fill_l4_csum(copy.data(), &v) == SVX_OK);
    svx_ipv4_fill_csum(copy.data());
    svx_pkt_view strict;
    require(svx_pkt_parse(copy.data(), copy.size(), SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM,
                          &strict) == SVX_OK);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const unsigned opts = data[0] & kOptionBits;
    const uint8_t* pkt = data + 1;
    const size_t len = size - 1;

    svx_pkt_view v;
    svx_err err = svx_pkt_parse(pkt, len, opts, &v);
    require(err >= SVX_OK && err < SVX_E__COUNT);
    if (err == SVX_OK) {
        require(v.ip_hlen >= SVX_IPV4_HDR_LEN && v.ip_hlen <= v.ip_len && v.ip_len <= len);
        require(v.sal_off + v.sal.len == v.l4_off && v.l4_off + v.l4_len == v.ip_len);
        require(v.l4_hlen <= v.l4_len);
        check_sal_view(pkt + v.sal_off, v.ip_len - v.sal_off, v.sal);
        check_round_trip(pkt + v.sal_off, v.sal);
        check_source_append(pkt, v);
        check_refreshed_checksums(pkt, v);
    }

    svx_sal_view sv;
    err = svx_sal_parse(pkt, len, opts & SVX_SAL_PARSE_NO_CSUM, &sv);
    require(err >= SVX_OK && err < SVX_E__COUNT);
    if (err == SVX_OK) {
        check_sal_view(pkt, len, sv);
        check_round_trip(pkt, sv);
    }
    return 0;
}
