// SPDX-License-Identifier: GPL-2.0 OR MIT
// Builds svxlat.ko's side of the generic netlink conversation with libmnl,
// for the tests of the daemon's decoders (tests/kernel_engine).
#ifndef SVXLAT_TESTS_KERNEL_ENGINE_NL_TEST_UTIL_H
#define SVXLAT_TESTS_KERNEL_ENGINE_NL_TEST_UTIL_H

#include "kernel_engine/messages.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace svxlat::kernel_engine::test {

inline constexpr std::uint16_t kFamily = 0x1c;
inline constexpr std::uint32_t kSeq = 77;
inline constexpr std::uint32_t kPortid = 4242;

// One module message: nlmsghdr, genlmsghdr, svx_nl_hdr, attributes.
class ModuleMessage {
public:
    explicit ModuleMessage(std::uint8_t cmd, std::uint16_t type = kFamily, std::uint32_t seq = kSeq,
                           std::uint16_t flags = 0)
        : buffer_(64 * 1024) {
        nlh_ = mnl_nlmsg_put_header(buffer_.data());
        nlh_->nlmsg_type = type;
        nlh_->nlmsg_flags = flags;
        nlh_->nlmsg_seq = seq;
        nlh_->nlmsg_pid = kPortid;
        genl_ = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(genlmsghdr)));
        genl_->cmd = cmd;
        genl_->version = SVX_NL_VERSION;
        user_ = static_cast<svx_nl_hdr*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(svx_nl_hdr)));
        user_->magic = SVX_NL_MAGIC;
        user_->version = SVX_NL_VERSION;
    }
    ModuleMessage& u8(std::uint16_t type, std::uint8_t v) {
        mnl_attr_put_u8(nlh_, type, v);
        return *this;
    }
    ModuleMessage& u16(std::uint16_t type, std::uint16_t v) {
        mnl_attr_put_u16(nlh_, type, v);
        return *this;
    }
    ModuleMessage& u32(std::uint16_t type, std::uint32_t v) {
        mnl_attr_put_u32(nlh_, type, v);
        return *this;
    }
    ModuleMessage& u64(std::uint16_t type, std::uint64_t v) {
        mnl_attr_put_u64(nlh_, type, v);
        return *this;
    }
    ModuleMessage& raw(std::uint16_t type, const void* data, std::size_t len) {
        mnl_attr_put(nlh_, type, len, data);
        return *this;
    }
    ModuleMessage& u64s(std::uint16_t type, const std::vector<std::uint64_t>& values) {
        return raw(type, values.data(), values.size() * sizeof(std::uint64_t));
    }
    nlattr* nest_start(std::uint16_t type) { return mnl_attr_nest_start(nlh_, type); }
    ModuleMessage& nest_end(nlattr* nest) {
        mnl_attr_nest_end(nlh_, nest);
        return *this;
    }
    nlmsghdr* nlh() { return nlh_; }
    genlmsghdr* genl() { return genl_; }
    svx_nl_hdr* user() { return user_; }
    [[nodiscard]] std::vector<std::uint8_t> bytes() const {
        return {buffer_.begin(), buffer_.begin() + nlh_->nlmsg_len};
    }

private:
    std::vector<std::uint8_t> buffer_;
    nlmsghdr* nlh_;
    genlmsghdr* genl_;
    svx_nl_hdr* user_;
};

// A valid GET_INFO reply of this build.
inline ModuleMessage info_reply() {
    ModuleMessage m(SVX_NL_CMD_GET_INFO);
    m.u32(SVX_NLA_VERSION, SVX_NL_VERSION)
        .u32(SVX_NLA_FLOW_SIZE, sizeof(svx_flow))
        .u8(SVX_NLA_CONFIGURED, 1)
        .u32(SVX_NLA_FLOW_COUNT, 12)
        .u64(SVX_NLA_CONFIG_GEN, 5);
    return m;
}

// A translator flow with recognisable fields.
inline svx_flow sample_flow(std::uint32_t local_flow = 0x1234) {
    svx_flow f{};
    f.role = SVX_ROLE_TRANSLATOR;
    f.state = SVX_FS_ESTABLISHED;
    const std::uint8_t remote[4] = {198, 51, 100, 2}, self[4] = {192, 0, 2, 10};
    std::memcpy(f.tcp_remote_addr, remote, 4);
    std::memcpy(f.tcp_self_addr, self, 4);
    f.tcp_remote_port = 40000;
    f.tcp_self_port = 80;
    f.local_flow = local_flow;
    f.peer_flow = 0x5678;
    f.stats.bytes_in[0] = 1000;
    f.stats.bytes_in[1] = 2000;
    return f;
}

inline ModuleMessage flow_message(const svx_flow& f, std::uint16_t flags = NLM_F_MULTI) {
    ModuleMessage m(SVX_NL_CMD_GET_FLOWS, kFamily, kSeq, flags);
    m.raw(SVX_NLA_FLOW, &f, sizeof(f));
    return m;
}

// One GET_ROUTES message as the module builds it: a ROUTE nest with prefix,
// bits and a ROUTE_TARGET nest per target (chosen after a pad attribute, as
// nla_put_u64_64bit() adds on architectures without efficient unaligned
// access).
inline ModuleMessage route_message(const svx_sid& prefix, std::uint16_t bits,
                                   const std::vector<KernelRouteTarget>& targets,
                                   std::uint16_t flags = NLM_F_MULTI) {
    ModuleMessage m(SVX_NL_CMD_GET_ROUTES, kFamily, kSeq, flags);
    nlattr* route = m.nest_start(SVX_NLA_ROUTE);
    m.raw(SVX_NLA_ROUTE_PREFIX, prefix.b, SVX_SID_LEN).u16(SVX_NLA_ROUTE_BITS, bits);
    for (const auto& t : targets) {
        nlattr* target = m.nest_start(SVX_NLA_ROUTE_TARGET);
        m.raw(SVX_NLA_TGT_ADDR, t.address.data(), t.address.size())
            .u32(SVX_NLA_TGT_PRIORITY, t.priority)
            .u32(SVX_NLA_TGT_WEIGHT, t.weight)
            .raw(SVX_NLA_UNSPEC, nullptr, 0)
            .u64(SVX_NLA_TGT_CHOSEN, t.chosen);
        m.nest_end(target);
    }
    m.nest_end(route);
    return m;
}

// NLMSG_ERROR (error 0 is an ACK), optionally with an extended-ACK message;
// the request is capped (not echoed), as the client asks.
inline std::vector<std::uint8_t> error_message(int error, std::string_view ext_msg = {},
                                               std::uint32_t seq = kSeq) {
    std::vector<std::uint8_t> buffer(4096);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = NLMSG_ERROR;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = kPortid;
    nlh->nlmsg_flags = NLM_F_CAPPED;
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    err->error = error;
    err->msg.nlmsg_len = 4 * 1024 * 1024; // the request's length, not echoed
    err->msg.nlmsg_type = kFamily;
    err->msg.nlmsg_seq = seq;
    if (!ext_msg.empty()) {
        nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
        std::string text(ext_msg);
        mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, text.c_str());
        mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 1234);
    }
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

inline std::vector<std::uint8_t> done_message(int status = 0, std::uint32_t seq = kSeq) {
    std::vector<std::uint8_t> buffer(64);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = NLMSG_DONE;
    nlh->nlmsg_flags = NLM_F_MULTI;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = kPortid;
    auto* payload = static_cast<int*>(mnl_nlmsg_put_extra_header(nlh, sizeof(int)));
    *payload = status;
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

// Messages back to back, each padded to 4 bytes, as one datagram.
inline std::vector<std::uint8_t> datagram(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
        out.resize(MNL_ALIGN(out.size()));
    }
    return out;
}

} // namespace svxlat::kernel_engine::test

#endif // SVXLAT_TESTS_KERNEL_ENGINE_NL_TEST_UTIL_H
