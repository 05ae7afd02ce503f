// SPDX-License-Identifier: GPL-2.0 OR MIT
// SET_CONFIG and the other requests carry exactly what include/svxlat/nl.h
// says: parsed back with libmnl, attribute by attribute.
#include "nl_test_util.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace svxlat::kernel_engine {
namespace {

using test::kFamily;
using test::kSeq;

constexpr unsigned kAttributeOffset = GENL_HDRLEN + sizeof(svx_nl_hdr);

svx_sid sid(std::uint8_t first, std::uint8_t last = 0) {
    svx_sid id{};
    id.b[0] = first;
    id.b[SVX_SID_LEN - 1] = last;
    return id;
}

KernelConfig full_config() {
    KernelConfig c;
    c.flow = {1400, 1450, 63, 7, 900, 50000};
    c.timeouts_ms = {1000, 2000, 3000, 4000};
    c.max_flows = 1000;
    c.max_embryonic = 250;
    c.generation = 0x0102030405060708ull;
    KernelConfig::Translator t;
    t.address = {10, 0, 2, 1};
    t.router = {10, 0, 2, 2};
    t.rows = {{{192, 0, 2, 10}, 80, sid(0xc0, 1), true},
              {{192, 0, 2, 10}, 9000, sid(0xda, 2), false},
              {{192, 0, 2, 11}, 80, sid(0x52, 3), true}};
    c.translator = t;
    KernelConfig::Host h;
    h.address = {10, 0, 2, 11};
    h.port_low = 30000;
    h.port_high = 30999;
    h.services = {{sid(0x10), 256, 8080}, {sid(0x0a), 8, 9000}};
    c.host = h;
    return c;
}

// Top-level attributes of a module request: type -> every occurrence.
using Attributes = std::multimap<unsigned, const nlattr*>;

Attributes top_level(const nlmsghdr* nlh) {
    Attributes out;
    mnl_attr_parse(
        nlh, kAttributeOffset,
        [](const nlattr* a, void* data) {
            static_cast<Attributes*>(data)->emplace(mnl_attr_get_type(a), a);
            return MNL_CB_OK;
        },
        &out);
    return out;
}

Attributes nested(const nlattr* nest) {
    Attributes out;
    mnl_attr_parse_nested(
        nest,
        [](const nlattr* a, void* data) {
            static_cast<Attributes*>(data)->emplace(mnl_attr_get_type(a), a);
            return MNL_CB_OK;
        },
        &out);
    return out;
}

const nlattr* one(const Attributes& attrs, unsigned type) {
    EXPECT_EQ(attrs.count(type), 1u) << "attribute " << type;
    auto it = attrs.find(type);
    return it == attrs.end() ? nullptr : it->second;
}

std::vector<std::uint8_t> bytes_of(const nlattr* a) {
    auto* p = static_cast<const std::uint8_t*>(mnl_attr_get_payload(a));
    return {p, p + mnl_attr_get_payload_len(a)};
}

template <std::size_t N> std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

void expect_headers(const std::vector<std::uint8_t>& message, std::uint8_t cmd,
                    std::uint16_t flags) {
    ASSERT_GE(message.size(), NLMSG_HDRLEN + kAttributeOffset);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    EXPECT_EQ(nlh->nlmsg_len, message.size());
    EXPECT_EQ(nlh->nlmsg_type, kFamily);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | flags);
    EXPECT_EQ(nlh->nlmsg_seq, kSeq);
    const auto* genl = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(genl->cmd, cmd);
    EXPECT_EQ(genl->version, SVX_NL_VERSION);
    EXPECT_EQ(genl->reserved, 0);
    svx_nl_hdr user{};
    std::memcpy(&user, message.data() + NLMSG_HDRLEN + GENL_HDRLEN, sizeof(user));
    EXPECT_EQ(user.magic, SVX_NL_MAGIC);
    EXPECT_EQ(user.version, SVX_NL_VERSION);
    EXPECT_EQ(user.reserved, 0);
}

TEST(EncodeSetConfig, CarriesExactlyTheProtocolAttributes) {
    const KernelConfig c = full_config();
    auto message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    expect_headers(message, SVX_NL_CMD_SET_CONFIG, NLM_F_ACK);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    Attributes top = top_level(nlh);

    // Rows and services are repeated top-level nests (nl.h: an attribute
    // cannot exceed 64 KB).
    std::multiset<unsigned> types;
    for (const auto& [type, a] : top)
        types.insert(type);
    EXPECT_EQ(types, (std::multiset<unsigned>{SVX_NLA_SAL_MTU,
                                              SVX_NLA_TCP_MTU,
                                              SVX_NLA_TTL,
                                              SVX_NLA_MAX_RETRANS,
                                              SVX_NLA_RTO_INITIAL_MS,
                                              SVX_NLA_RTO_MAX_MS,
                                              SVX_NLA_TIMEOUTS_MS,
                                              SVX_NLA_MAX_FLOWS,
                                              SVX_NLA_MAX_EMBRYONIC,
                                              SVX_NLA_CONFIG_GEN,
                                              SVX_NLA_XLT_ADDR,
                                              SVX_NLA_XLT_ROUTER,
                                              SVX_NLA_ROW,
                                              SVX_NLA_ROW,
                                              SVX_NLA_ROW,
                                              SVX_NLA_HOST_ADDR,
                                              SVX_NLA_HOST_PORT_LOW,
                                              SVX_NLA_HOST_PORT_HIGH,
                                              SVX_NLA_SERVICE,
                                              SVX_NLA_SERVICE}));

    auto u16 = [&](unsigned type) {
        const nlattr* a = one(top, type);
        EXPECT_EQ(mnl_attr_validate(a, MNL_TYPE_U16), 0);
        return mnl_attr_get_u16(a);
    };
    auto u32 = [&](unsigned type) {
        const nlattr* a = one(top, type);
        EXPECT_EQ(mnl_attr_validate(a, MNL_TYPE_U32), 0);
        return mnl_attr_get_u32(a);
    };
    auto u8 = [&](unsigned type) {
        const nlattr* a = one(top, type);
        EXPECT_EQ(mnl_attr_validate(a, MNL_TYPE_U8), 0);
        return mnl_attr_get_u8(a);
    };
    EXPECT_EQ(u16(SVX_NLA_SAL_MTU), 1400);
    EXPECT_EQ(u16(SVX_NLA_TCP_MTU), 1450);
    EXPECT_EQ(u8(SVX_NLA_TTL), 63);
    EXPECT_EQ(u8(SVX_NLA_MAX_RETRANS), 7);
    EXPECT_EQ(u32(SVX_NLA_RTO_INITIAL_MS), 900u);
    EXPECT_EQ(u32(SVX_NLA_RTO_MAX_MS), 50000u);
    EXPECT_EQ(u32(SVX_NLA_MAX_FLOWS), 1000u);
    EXPECT_EQ(u32(SVX_NLA_MAX_EMBRYONIC), 250u);
    const nlattr* gen = one(top, SVX_NLA_CONFIG_GEN);
    EXPECT_EQ(mnl_attr_validate(gen, MNL_TYPE_U64), 0);
    EXPECT_EQ(mnl_attr_get_u64(gen), 0x0102030405060708ull);

    const nlattr* timeouts = one(top, SVX_NLA_TIMEOUTS_MS);
    ASSERT_EQ(mnl_attr_get_payload_len(timeouts), SVX_TO__COUNT * sizeof(std::uint32_t));
    std::array<std::uint32_t, SVX_TO__COUNT> t{};
    std::memcpy(t.data(), mnl_attr_get_payload(timeouts), sizeof(t));
    EXPECT_EQ(t, (std::array<std::uint32_t, SVX_TO__COUNT>{1000, 2000, 3000, 4000}));

    EXPECT_EQ(bytes_of(one(top, SVX_NLA_XLT_ADDR)), bytes_of(c.translator->address));
    EXPECT_EQ(bytes_of(one(top, SVX_NLA_XLT_ROUTER)), bytes_of(c.translator->router));
    std::size_t index = 0;
    auto [first_row, last_row] = top.equal_range(SVX_NLA_ROW);
    for (auto it = first_row; it != last_row; ++it) { // multimap: in message order
        const nlattr* row = it->second;
        EXPECT_TRUE(row->nla_type & NLA_F_NESTED);
        ASSERT_LT(index, c.translator->rows.size());
        const auto& expected = c.translator->rows[index++];
        Attributes fields = nested(row);
        EXPECT_EQ(fields.size(), 4u);
        EXPECT_EQ(bytes_of(one(fields, SVX_NLA_ROW_ADDR)), bytes_of(expected.address));
        const nlattr* port = one(fields, SVX_NLA_ROW_PORT);
        EXPECT_EQ(mnl_attr_validate(port, MNL_TYPE_U16), 0);
        EXPECT_EQ(mnl_attr_get_u16(port), expected.port);
        auto service = bytes_of(one(fields, SVX_NLA_ROW_SERVICE));
        ASSERT_EQ(service.size(), SVX_SID_LEN);
        EXPECT_EQ(std::memcmp(service.data(), expected.service.b, SVX_SID_LEN), 0);
        const nlattr* strip = one(fields, SVX_NLA_ROW_STRIP);
        EXPECT_EQ(mnl_attr_validate(strip, MNL_TYPE_U8), 0);
        EXPECT_EQ(mnl_attr_get_u8(strip), expected.strip_tcp_options ? 1 : 0);
    }
    EXPECT_EQ(index, c.translator->rows.size());

    EXPECT_EQ(bytes_of(one(top, SVX_NLA_HOST_ADDR)), bytes_of(c.host->address));
    EXPECT_EQ(u16(SVX_NLA_HOST_PORT_LOW), 30000);
    EXPECT_EQ(u16(SVX_NLA_HOST_PORT_HIGH), 30999);
    index = 0;
    auto [first_service, last_service] = top.equal_range(SVX_NLA_SERVICE);
    for (auto it = first_service; it != last_service; ++it) {
        const nlattr* svc = it->second;
        EXPECT_TRUE(svc->nla_type & NLA_F_NESTED);
        ASSERT_LT(index, c.host->services.size());
        const auto& expected = c.host->services[index++];
        Attributes fields = nested(svc);
        EXPECT_EQ(fields.size(), 3u);
        auto prefix = bytes_of(one(fields, SVX_NLA_SVC_PREFIX));
        ASSERT_EQ(prefix.size(), SVX_SID_LEN);
        EXPECT_EQ(std::memcmp(prefix.data(), expected.prefix.b, SVX_SID_LEN), 0);
        EXPECT_EQ(mnl_attr_get_u16(one(fields, SVX_NLA_SVC_BITS)), expected.bits);
        EXPECT_EQ(mnl_attr_get_u16(one(fields, SVX_NLA_SVC_PORT)), expected.port);
    }
    EXPECT_EQ(index, c.host->services.size());
}

TEST(EncodeSetConfig, AbsentRolesLeaveTheirAttributesOut) {
    KernelConfig c = full_config();
    c.translator.reset();
    auto message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    Attributes top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    for (unsigned type : {SVX_NLA_XLT_ADDR, SVX_NLA_XLT_ROUTER, SVX_NLA_ROW})
        EXPECT_EQ(top.count(type), 0u) << type;
    EXPECT_EQ(top.count(SVX_NLA_HOST_ADDR), 1u);

    c = full_config();
    c.host.reset();
    message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    for (unsigned type :
         {SVX_NLA_HOST_ADDR, SVX_NLA_HOST_PORT_LOW, SVX_NLA_HOST_PORT_HIGH, SVX_NLA_SERVICE})
        EXPECT_EQ(top.count(type), 0u) << type;
    EXPECT_EQ(top.count(SVX_NLA_XLT_ADDR), 1u);
}

// 65536 rows (~4 MB) in one message, one top-level nest each, in order.
TEST(EncodeSetConfig, MaximumTableFitsOneMessage) {
    KernelConfig c = full_config();
    c.translator->rows.clear();
    for (std::uint32_t i = 0; i < SVX_NL_MAX_ROWS; ++i)
        c.translator->rows.push_back(
            {{10, 1, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
             static_cast<std::uint16_t>(1 + i % 60000),
             sid(static_cast<std::uint8_t>(i)),
             i % 2 == 0});
    auto message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    EXPECT_GT(message.size(), 4u << 20);
    EXPECT_LT(message.size(), 5u << 20);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    EXPECT_EQ(nlh->nlmsg_len, message.size());
    Attributes top = top_level(nlh);
    ASSERT_EQ(top.count(SVX_NLA_ROW), SVX_NL_MAX_ROWS);
    std::size_t index = 0;
    auto [first, last] = top.equal_range(SVX_NLA_ROW);
    for (auto it = first; it != last; ++it) {
        Attributes fields = nested(it->second);
        const auto& expected = c.translator->rows[index++];
        ASSERT_EQ(bytes_of(one(fields, SVX_NLA_ROW_ADDR)), bytes_of(expected.address));
        ASSERT_EQ(mnl_attr_get_u16(one(fields, SVX_NLA_ROW_PORT)), expected.port);
    }
    EXPECT_EQ(index, SVX_NL_MAX_ROWS);
}

TEST(EncodeSetConfig, RefusesWhatTheModuleWouldRefuseBeforeSending) {
    auto refused = [](const KernelConfig& c) -> std::string {
        try {
            encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
        } catch (const KernelError& e) {
            EXPECT_EQ(e.kind(), ErrorKind::invalid_config);
            return e.what();
        }
        ADD_FAILURE() << "encoded";
        return {};
    };
    KernelConfig c = full_config();
    c.translator->rows.assign(SVX_NL_MAX_ROWS + 1, c.translator->rows[0]);
    for (std::size_t i = 0; i < c.translator->rows.size(); ++i) {
        c.translator->rows[i].port = static_cast<std::uint16_t>(1 + i % 65535);
        c.translator->rows[i].address[3] = static_cast<std::uint8_t>(i / 65535);
    }
    EXPECT_NE(refused(c).find("65537 rows; the kernel engine takes at most 65536"),
              std::string::npos);

    c = full_config();
    c.translator->rows.push_back(c.translator->rows[0]);
    EXPECT_NE(refused(c).find("two rows for one address and port"), std::string::npos);
    c = full_config();
    c.translator->rows[1].port = 0;
    EXPECT_NE(refused(c).find("port 0"), std::string::npos);
    c = full_config();
    c.host->services.assign(SVX_NL_MAX_SERVICES + 1, c.host->services[0]);
    EXPECT_NE(refused(c).find("1025 services"), std::string::npos);
    c = full_config();
    c.host->services[0].bits = 257;
    EXPECT_NE(refused(c).find("256 bits"), std::string::npos);
    c = full_config();
    c.host->services[0].port = 0;
    EXPECT_NE(refused(c).find("port 0"), std::string::npos);
    c = full_config();
    c.host->port_low = 40000;
    c.host->port_high = 39999;
    EXPECT_NE(refused(c).find("range is empty"), std::string::npos);
    c = full_config();
    c.max_flows = SVX_NL_MAX_FLOWS + 1;
    EXPECT_NE(refused(c).find("max-flows"), std::string::npos);
    c = full_config();
    c.max_embryonic = c.max_flows + 1;
    EXPECT_NE(refused(c).find("max-embryonic"), std::string::npos);
    c = full_config();
    c.timeouts_ms[SVX_TO_CLOSING] = 0;
    EXPECT_NE(refused(c).find("timeout"), std::string::npos);
    c = full_config();
    c.flow.sal_mtu = 575;
    EXPECT_NE(refused(c).find("576"), std::string::npos);
    c = full_config();
    c.flow.rto_max_ms = c.flow.rto_initial_ms - 1;
    EXPECT_NE(refused(c).find("retransmission"), std::string::npos);
    c = full_config();
    c.flow.ttl = 0;
    EXPECT_NE(refused(c).find("TTL"), std::string::npos);

    // At the limits exactly: accepted.
    c = full_config();
    c.max_flows = SVX_NL_MAX_FLOWS;
    c.max_embryonic = SVX_NL_MAX_FLOWS;
    c.host->services.assign(SVX_NL_MAX_SERVICES, c.host->services[0]);
    EXPECT_FALSE(validate(c).has_value());
    EXPECT_NO_THROW(encode_set_config(c, {kFamily, kSeq, NLM_F_ACK}));
}

TEST(EncodeRequest, OtherCommandsAreHeadersOnly) {
    for (std::uint8_t cmd : {SVX_NL_CMD_GET_INFO, SVX_NL_CMD_CLEAR_CONFIG, SVX_NL_CMD_GET_STATS}) {
        auto message = encode_request(cmd, {kFamily, kSeq, NLM_F_ACK});
        expect_headers(message, cmd, NLM_F_ACK);
        EXPECT_EQ(message.size(), NLMSG_HDRLEN + kAttributeOffset);
    }
    auto dump = encode_request(SVX_NL_CMD_GET_FLOWS, {kFamily, kSeq, NLM_F_DUMP});
    expect_headers(dump, SVX_NL_CMD_GET_FLOWS, NLM_F_DUMP);
}

TEST(EncodeGetFamily, AsksTheControllerByName) {
    auto message = encode_get_family(SVX_NL_FAMILY, kSeq);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    EXPECT_EQ(nlh->nlmsg_len, message.size());
    EXPECT_EQ(nlh->nlmsg_type, GENL_ID_CTRL);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    const auto* genl = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(genl->cmd, CTRL_CMD_GETFAMILY);
    Attributes attrs;
    mnl_attr_parse(
        nlh, GENL_HDRLEN,
        [](const nlattr* a, void* data) {
            static_cast<Attributes*>(data)->emplace(mnl_attr_get_type(a), a);
            return MNL_CB_OK;
        },
        &attrs);
    const nlattr* name = one(attrs, CTRL_ATTR_FAMILY_NAME);
    EXPECT_EQ(mnl_attr_validate(name, MNL_TYPE_NUL_STRING), 0);
    EXPECT_STREQ(mnl_attr_get_str(name), "svxlat");
}

} // namespace
} // namespace svxlat::kernel_engine
