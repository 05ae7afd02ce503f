#include "common/packet_text.h"

#include "common/field_text.h"

#include <svxlat/pkt.h>

#include <algorithm>
#include <cstdio>

namespace svxlat {
namespace {

std::string tcp_flags_to_string(std::uint8_t flags) {
    static constexpr struct {
        std::uint8_t bit;
        const char* name;
    } kNames[] = {{SVX_TCP_SYN, "S"}, {SVX_TCP_FIN, "F"}, {SVX_TCP_RST, "R"},
                  {SVX_TCP_PSH, "P"}, {SVX_TCP_ACK, "."}, {SVX_TCP_URG, "U"}};
    std::string text;
    for (const auto& name : kNames)
        if (flags & name.bit)
            text += name.name;
    return text.empty() ? "-" : text;
}

std::string hex32(std::uint32_t value) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%08x", value);
    return buf;
}

} // namespace

std::string ipv4_to_string(std::span<const std::uint8_t, 4> address) {
    return format_ipv4({address[0], address[1], address[2], address[3]});
}

std::string ipv4_to_string(const std::array<std::uint8_t, 4>& address) {
    return ipv4_to_string(std::span<const std::uint8_t, 4>(address));
}

std::string sid_to_string(const svx_sid& id) {
    char text[SVX_SID_TEXT_LEN + 1];
    svx_sid_format(&id, text);
    return text;
}

std::string sal_flags_to_string(std::uint8_t flags) {
    static constexpr struct {
        std::uint8_t bit;
        const char* name;
    } kNames[] = {{SVX_CTL_SYN, "SYN"}, {SVX_CTL_RSYN, "RSYN"}, {SVX_CTL_ACK, "ACK"},
                  {SVX_CTL_NACK, "NACK"}, {SVX_CTL_RST, "RST"}, {SVX_CTL_FIN, "FIN"}};
    std::string text;
    for (const auto& name : kNames) {
        if (!(flags & name.bit))
            continue;
        if (!text.empty())
            text += '|';
        text += name.name;
    }
    return text.empty() ? "-" : text;
}

std::string describe_sal_packet(std::span<const std::uint8_t> ip_packet) {
    svx_pkt_view view{};
    const std::uint8_t* pkt = ip_packet.data();
    auto err = svx_pkt_parse(pkt, ip_packet.size(),
                             SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM | SVX_PKT_UDP_ENCAP,
                             &view);
    if (err != SVX_OK)
        return std::string("not a valid SAL packet: ") + svx_err_name(err) + " (" +
               svx_err_desc(err) + ")";

    const std::uint8_t* sal = pkt + view.sal_off;
    const svx_sal_view& sv = view.sal;
    std::string line = ipv4_to_string(std::span<const std::uint8_t, 4>(pkt + 12, 4)) + " > " +
                       ipv4_to_string(std::span<const std::uint8_t, 4>(pkt + 16, 4)) +
                       (view.udp_encap ? " udp-encap" : "") + " SAL flow " +
                       std::to_string(svx_sal_src_flow(sal)) + ">" +
                       std::to_string(svx_sal_dst_flow(sal)) + " shl " +
                       std::to_string(sv.len / 4);
    if (sv.ctrl_off) {
        line += " [" + sal_flags_to_string(sv.flags) + " verno " + hex32(svx_sal_verno(sal, &sv)) +
                " ackno " + hex32(svx_sal_ackno(sal, &sv)) + "]";
    }
    for (unsigned i = 0; i < sv.n_service; ++i) {
        svx_sid id{};
        std::copy_n(svx_sal_service(sal, &sv, i), SVX_SID_LEN, id.b);
        line += (i == 0 ? " service " : " src-service ") + sid_to_string(id);
    }
    if (sv.source_off) {
        line += " source [";
        for (unsigned i = 0; i < sv.n_source; ++i) {
            if (i)
                line += ", ";
            line += ipv4_to_string(std::span<const std::uint8_t, 4>(svx_sal_source_addr(sal, &sv, i), 4));
        }
        line += "]";
    }
    const std::uint8_t* l4 = pkt + view.l4_off;
    if (view.l4_hlen && sv.protocol == SVX_IPPROTO_TCP) {
        line += " | TCP " + tcp_flags_to_string(l4[13]) + " seq " + hex32(svx_get_be32(l4 + 4)) +
                " ack " + hex32(svx_get_be32(l4 + 8)) + " len " +
                std::to_string(view.l4_len - view.l4_hlen);
    } else if (view.l4_hlen) {
        line += " | UDP len " + std::to_string(view.l4_len - view.l4_hlen);
    }
    return line;
}

} // namespace svxlat
