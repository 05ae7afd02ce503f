// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "router/forward.h"

#include <svxlat/route.h>
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
    const int len = svx_router_forward(buf.data(), buf.size(), &v, target.data());
    if (len == -SVX_E_TTL)
        return ForwardResult::dropped(ForwardDrop::ttl_expired);
    if (len < 0)
        return ForwardResult::core_error(static_cast<svx_err>(-len));
    return {ForwardDrop::none, SVX_OK, static_cast<std::size_t>(len)};
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
