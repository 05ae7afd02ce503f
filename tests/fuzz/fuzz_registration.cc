// libFuzzer target for the remote registration codec (include/svxlat/reg.h).
//
// Input: an IPv4 packet (the seed corpus in corpus/registration/ holds V11 and
// every registration datagram of the reference captures). It is parsed as a
// registration datagram with no checksum checks, with all of them, and with
// UDP encapsulation allowed; the whole input is also parsed as a bare body.
//
// Beyond "no crash, no sanitizer report", it traps when an accepted input
// breaks a promise: decoded fields in range, and a datagram rebuilt from the
// decoded fields parsing (with every checksum verified) to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <svxlat/pkt.h>
#include <svxlat/reg.h>

namespace {

void require(bool cond) {
    if (!cond)
        __builtin_trap();
}

void check_msg(const svx_reg_msg& m) {
    require(m.type == SVX_CTRLMSG_REGISTER || m.type == SVX_CTRLMSG_UNREGISTER);
    require((m.flags & ~SVX_REG_FLAGS_KNOWN) == 0);
    require(m.prefix_bits >= 1 && m.prefix_bits <= SVX_SID_BITS);
}

bool same(const svx_reg_datagram& a, const svx_reg_datagram& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

void check_rebuild(const uint8_t* pkt, const svx_reg_datagram& d) {
    svx_ipv4_spec ip{};
    std::memcpy(ip.saddr, d.saddr, 4);
    std::memcpy(ip.daddr, d.daddr, 4);
    ip.tos = pkt[1];
    ip.id = svx_get_be16(pkt + 4);
    ip.df = (svx_get_be16(pkt + 6) & SVX_IPV4_DF) != 0;
    ip.ttl = pkt[8];
    uint8_t out[SVX_REG_DATAGRAM_LEN];
    require(svx_reg_datagram_build(out, sizeof out, &ip, &d) == SVX_REG_DATAGRAM_LEN);
    svx_reg_datagram again;
    require(svx_reg_datagram_parse(out, sizeof out, SVX_REG_PARSE_STRICT, &again) == SVX_OK);
    require(same(again, d));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static constexpr unsigned kOpts[] = {
        SVX_SAL_PARSE_NO_CSUM,
        SVX_REG_PARSE_STRICT,
        SVX_REG_PARSE_STRICT | SVX_PKT_UDP_ENCAP,
    };
    for (unsigned opts : kOpts) {
        svx_reg_datagram d;
        if (svx_reg_datagram_parse(data, size, opts, &d) != SVX_OK)
            continue;
        check_msg(d.msg);
        require(size >= SVX_REG_DATAGRAM_LEN);
        require(std::memcmp(d.saddr, data + 12, 4) == 0);
        check_rebuild(data, d);
    }
    svx_reg_msg m;
    if (svx_reg_msg_parse(data, size, &m) == SVX_OK) {
        require(size == SVX_REG_MSG_LEN);
        check_msg(m);
        uint8_t body[SVX_REG_MSG_LEN];
        require(svx_reg_msg_build(body, &m) == SVX_OK);
        // Everything but the pad byte (never read) comes back.
        body[9] = data[9];
        require(std::memcmp(body, data, SVX_REG_MSG_LEN) == 0);
    }
    return 0;
}
