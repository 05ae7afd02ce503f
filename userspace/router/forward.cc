// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "router/forward.h"

#include <svxlat/csum.h>
#include <svxlat/sal.h>

#include <cstring>

namespace svxlat::router {

namespace {

struct DropText {
    std::string_view name;
    std::string_view desc;
};

constexpr DropText kDropTexts[] = {
    {"forwarded", "forwarded"},
    {"core", "refused by the SAL core (see its reason)"},
    {"link_broadcast", "arrived as link broadcast or multicast: never forwarded"},
    {"no_service", "no SERVICE extension: not resolved by service ID"},
    {"ttl_expired", "IP TTL 1 or 0: would expire on the next hop"},
};
static_assert(std::size(kDropTexts) == static_cast<std::size_t>(ForwardDrop::count_),
              "one text per ForwardDrop");

const DropText* drop_text(ForwardDrop drop) {
    auto i = static_cast<std::size_t>(drop);
    return i < std::size(kDropTexts) ? &kDropTexts[i] : nullptr;
}

} // namespace

std::string_view forward_drop_name(ForwardDrop drop) {
    const DropText* t = drop_text(drop);
    return t ? t->name : "unknown";
}

std::string_view forward_drop_desc(ForwardDrop drop) {
    const DropText* t = drop_text(drop);
    return t ? t->desc : "unknown forwarding drop";
}

ForwardResult inspect_packet(std::span<const std::uint8_t> pkt, const ForwardOptions& options,
                             svx_pkt_view& v, svx_sid& service) {
    // Section 12 step 1: broadcast default routes would otherwise loop.
    if (options.link_broadcast)
        return ForwardResult::dropped(ForwardDrop::link_broadcast);
    svx_err err = svx_pkt_parse(pkt.data(), pkt.size(), options.parse_opts, &v);
    if (err != SVX_OK)
        return ForwardResult::core_error(err);
    const std::uint8_t* sal = pkt.data() + v.sal_off;
    const std::uint8_t* sid = svx_sal_service(sal, &v.sal, 0);
    if (!sid)
        return ForwardResult::dropped(ForwardDrop::no_service);
    std::memcpy(service.b, sid, SVX_SID_LEN);
    return {ForwardDrop::none, SVX_OK, v.ip_len};
}

ForwardResult forward_inspected(std::span<std::uint8_t> buf, svx_pkt_view& v,
                                const std::array<std::uint8_t, 4>& target) {
    std::uint8_t* pkt = buf.data();
    if (buf.size() < v.ip_len)
        return ForwardResult::core_error(SVX_E_IP_TOT_LEN);
    if (pkt[8] <= 1)
        return ForwardResult::dropped(ForwardDrop::ttl_expired);

    // Grows by 12 (new SOURCE) or 4 (one more hop); never past 65535.
    const std::size_t grow_max = v.sal.source_off ? 4 : SVX_EXT_SOURCE_LEN(2);
    if (v.ip_len + grow_max > 0xffff)
        return ForwardResult::core_error(SVX_E_NOSPACE);
    std::uint8_t orig_src[4];
    std::uint8_t hop[4];
    std::memcpy(orig_src, svx_ip_saddr(pkt), 4);
    std::memcpy(hop, svx_ip_daddr(pkt), 4); // the router's address the packet was sent to
    svx_pkt_view nv = v;
    int sal_len = svx_sal_source_append(pkt + v.sal_off, v.ip_len - v.sal_off,
                                        buf.size() - v.sal_off, &nv.sal, orig_src, hop);
    if (sal_len < 0)
        return ForwardResult::core_error(static_cast<svx_err>(-sal_len));

    const auto new_len = static_cast<std::uint16_t>(v.sal_off + static_cast<unsigned>(sal_len));
    const auto grow = static_cast<std::uint16_t>(new_len - v.ip_len);
    nv.ip_len = new_len;
    nv.l4_off = static_cast<std::uint16_t>(v.l4_off + grow);

    std::memcpy(pkt + 16, target.data(), 4);
    pkt[8] = static_cast<std::uint8_t>(pkt[8] - 1);
    svx_put_be16(pkt + 2, new_len);
    if (nv.l4_hlen) {
        svx_err err = svx_pkt_fill_l4_csum(pkt, &nv);
        if (err != SVX_OK)
            return ForwardResult::core_error(err); // not reached: l4_hlen is set
    }
    if (nv.udp_encap) {
        // Section 12 step 6: same ports, new length, outer checksum again.
        std::uint8_t* udp = pkt + nv.ip_hlen;
        const auto udp_len = static_cast<std::uint16_t>(new_len - nv.ip_hlen);
        svx_put_be16(udp + 4, udp_len);
        udp[6] = 0;
        udp[7] = 0;
        std::uint16_t sum =
            svx_csum_l4_ipv4(svx_ip_saddr(pkt), svx_ip_daddr(pkt), SVX_IPPROTO_UDP, udp, udp_len);
        svx_put_be16(udp + 6, sum == 0 ? 0xffff : sum);
    }
    svx_ipv4_fill_csum(pkt);
    v = nv;
    return {ForwardDrop::none, SVX_OK, new_len};
}

ForwardResult forward_packet(std::span<std::uint8_t> buf, std::size_t len,
                             const std::array<std::uint8_t, 4>& target,
                             const ForwardOptions& options) {
    if (len > buf.size())
        return ForwardResult::core_error(SVX_E_IP_TOT_LEN);
    svx_pkt_view v;
    svx_sid service;
    ForwardResult r = inspect_packet(buf.first(len), options, v, service);
    if (!r.ok())
        return r;
    return forward_inspected(buf, v, target);
}

} // namespace svxlat::router
