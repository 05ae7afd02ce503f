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
    c.flow = {1400, 1450, 63, 7, 900, 50000, 35};
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
    c.router = KernelConfig::Router{{10, 0, 2, 2}, sid(0x00, 0x5b)};
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
                                              SVX_NLA_FIN_ACK_DELAY_MS,
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
                                              SVX_NLA_SERVICE,
                                              SVX_NLA_ROUTER_ADDR,
                                              SVX_NLA_ROUTER_ID}));

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
    EXPECT_EQ(u32(SVX_NLA_FIN_ACK_DELAY_MS), 35u);
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
    EXPECT_EQ(bytes_of(one(top, SVX_NLA_XLT_ROUTER)), bytes_of(*c.translator->router));
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

    EXPECT_EQ(bytes_of(one(top, SVX_NLA_ROUTER_ADDR)), bytes_of(c.router->address));
    auto router_id = bytes_of(one(top, SVX_NLA_ROUTER_ID));
    ASSERT_EQ(router_id.size(), SVX_SID_LEN);
    EXPECT_EQ(std::memcmp(router_id.data(), c.router->router_id.b, SVX_SID_LEN), 0);
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

    c = full_config();
    c.router.reset();
    message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    EXPECT_EQ(top.count(SVX_NLA_ROUTER_ADDR), 0u);
    EXPECT_EQ(top.count(SVX_NLA_ROUTER_ID), 0u);
}

// The router alone is a configuration the module takes (both attributes);
// no role at all is refused before sending.
TEST(EncodeSetConfig, RouterAloneIsARole) {
    KernelConfig c = full_config();
    c.translator.reset();
    c.host.reset();
    EXPECT_FALSE(validate(c).has_value());
    auto message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    Attributes top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    EXPECT_EQ(top.count(SVX_NLA_ROUTER_ADDR), 1u);
    EXPECT_EQ(top.count(SVX_NLA_ROUTER_ID), 1u);
    for (unsigned type : {SVX_NLA_XLT_ADDR, SVX_NLA_HOST_ADDR, SVX_NLA_ROW, SVX_NLA_SERVICE})
        EXPECT_EQ(top.count(type), 0u) << type;

    c.router.reset();
    ASSERT_TRUE(validate(c).has_value());
    EXPECT_NE(validate(c)->find("no role"), std::string::npos);
    try {
        encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
        ADD_FAILURE() << "encoded a configuration without a role";
    } catch (const KernelError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_config);
    }
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
    c = full_config();
    c.flow.fin_ack_delay_ms = SVX_FIN_ACK_DELAY_MAX_MS + 1;
    EXPECT_NE(refused(c).find("fin-ack-delay"), std::string::npos);

    // At the limits exactly: accepted.
    c = full_config();
    c.max_flows = SVX_NL_MAX_FLOWS;
    c.max_embryonic = SVX_NL_MAX_FLOWS;
    c.flow.fin_ack_delay_ms = SVX_FIN_ACK_DELAY_MAX_MS;
    c.host->services.assign(SVX_NL_MAX_SERVICES, c.host->services[0]);
    EXPECT_FALSE(validate(c).has_value());
    EXPECT_NO_THROW(encode_set_config(c, {kFamily, kSeq, NLM_F_ACK}));
}

// A router table as ServiceTable::routes() gives it: entries in table order
// (longest prefix first, then by ID), each pointing at its targets.
struct Routes {
    std::vector<svx_route_entry> entries;
    std::vector<svx_route_target> targets;

    void add(const svx_sid& prefix, std::uint16_t bits,
             std::initializer_list<svx_route_target> route_targets) {
        entries.push_back({prefix, bits, static_cast<std::uint32_t>(targets.size()),
                           static_cast<std::uint32_t>(route_targets.size())});
        targets.insert(targets.end(), route_targets);
    }
};

svx_route_target target(std::uint8_t last, std::uint32_t priority = 0, std::uint32_t weight = 1) {
    return {{10, 0, 3, last}, priority, weight, 0};
}

Routes sample_routes() {
    Routes r;
    r.add(sid(0xc0, 1), 256, {target(1, 1, 2), target(2, 0, 1)});
    r.add(sid(0xc0, 2), 256, {target(3)});
    r.add(sid(0x0a), 8, {target(4, 7, 9), target(5, 7, 65535), target(6)});
    r.add(svx_sid{}, 0, {target(7, 2147483648u, 1)});
    return r;
}

// Host-order integers and raw bytes, as a netlink message carries them.
class Bytes {
public:
    Bytes& u16(std::uint16_t v) { return raw(&v, 2); }
    Bytes& u32(std::uint32_t v) { return raw(&v, 4); }
    Bytes& u64(std::uint64_t v) { return raw(&v, 8); }
    Bytes& attr(std::uint16_t len, std::uint16_t type) { return u16(len).u16(type); }
    Bytes& raw(const void* p, std::size_t n) {
        auto* b = static_cast<const std::uint8_t*>(p);
        bytes.insert(bytes.end(), b, b + n);
        return *this;
    }
    std::vector<std::uint8_t> bytes;
};

// The wire layout of SET_ROUTES, byte for byte, for one route of two targets.
TEST(EncodeSetRoutes, ByteLayout) {
    Routes r;
    r.add(sid(0x52, 0x33), 256, {target(1, 5, 7), target(2, 0, 1)});
    auto message =
        encode_set_routes(r.entries, r.targets, 0x1122334455667788ull, {kFamily, kSeq, NLM_F_ACK});
    expect_headers(message, SVX_NL_CMD_SET_ROUTES, NLM_F_ACK);

    const std::uint16_t nested = NLA_F_NESTED;
    Bytes want;
    want.attr(12, SVX_NLA_ROUTES_GEN).u64(0x1122334455667788ull);
    want.attr(4 + 36 + 8 + 2 * 28, SVX_NLA_ROUTE | nested);
    want.attr(36, SVX_NLA_ROUTE_PREFIX).raw(r.entries[0].prefix.b, SVX_SID_LEN);
    want.attr(6, SVX_NLA_ROUTE_BITS).u16(256).u16(0); // padded to 4
    for (const auto& t : r.targets) {
        want.attr(28, SVX_NLA_ROUTE_TARGET | nested);
        want.attr(8, SVX_NLA_TGT_ADDR).raw(t.addr, 4);
        want.attr(8, SVX_NLA_TGT_PRIORITY).u32(t.priority);
        want.attr(8, SVX_NLA_TGT_WEIGHT).u32(t.weight);
    }
    std::vector<std::uint8_t> attributes(message.begin() + NLMSG_HDRLEN + kAttributeOffset,
                                         message.end());
    EXPECT_EQ(attributes, want.bytes);
}

TEST(EncodeSetRoutes, CarriesEveryRouteInOrder) {
    const Routes r = sample_routes();
    auto message = encode_set_routes(r.entries, r.targets, 9, {kFamily, kSeq, NLM_F_ACK});
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    EXPECT_EQ(nlh->nlmsg_len, message.size());
    Attributes top = top_level(nlh);
    EXPECT_EQ(top.size(), 1 + r.entries.size());
    const nlattr* gen = one(top, SVX_NLA_ROUTES_GEN);
    EXPECT_EQ(mnl_attr_validate(gen, MNL_TYPE_U64), 0);
    EXPECT_EQ(mnl_attr_get_u64(gen), 9u);
    std::size_t index = 0;
    auto [first, last] = top.equal_range(SVX_NLA_ROUTE);
    for (auto it = first; it != last; ++it) {
        EXPECT_TRUE(it->second->nla_type & NLA_F_NESTED);
        ASSERT_LT(index, r.entries.size());
        const svx_route_entry& e = r.entries[index++];
        Attributes fields = nested(it->second);
        EXPECT_EQ(fields.size(), 2 + e.n_targets);
        auto prefix = bytes_of(one(fields, SVX_NLA_ROUTE_PREFIX));
        ASSERT_EQ(prefix.size(), SVX_SID_LEN);
        EXPECT_EQ(std::memcmp(prefix.data(), e.prefix.b, SVX_SID_LEN), 0);
        const nlattr* bits = one(fields, SVX_NLA_ROUTE_BITS);
        EXPECT_EQ(mnl_attr_validate(bits, MNL_TYPE_U16), 0);
        EXPECT_EQ(mnl_attr_get_u16(bits), e.bits);
        std::uint32_t k = 0;
        auto [tfirst, tlast] = fields.equal_range(SVX_NLA_ROUTE_TARGET);
        for (auto t = tfirst; t != tlast; ++t) {
            EXPECT_TRUE(t->second->nla_type & NLA_F_NESTED);
            ASSERT_LT(k, e.n_targets);
            const svx_route_target& expected = r.targets[e.first + k++];
            Attributes tf = nested(t->second);
            EXPECT_EQ(tf.size(), 3u);
            EXPECT_EQ(bytes_of(one(tf, SVX_NLA_TGT_ADDR)),
                      std::vector<std::uint8_t>(expected.addr, expected.addr + 4));
            EXPECT_EQ(mnl_attr_get_u32(one(tf, SVX_NLA_TGT_PRIORITY)), expected.priority);
            EXPECT_EQ(mnl_attr_get_u32(one(tf, SVX_NLA_TGT_WEIGHT)), expected.weight);
        }
        EXPECT_EQ(k, e.n_targets);
    }
    EXPECT_EQ(index, r.entries.size());
}

// An empty table is a table (the router has no entry yet): only ROUTES_GEN.
// Targets no entry points at are not sent.
TEST(EncodeSetRoutes, EmptyTablesAndUnreferencedTargets) {
    auto empty = encode_set_routes({}, {}, 0, {kFamily, kSeq, NLM_F_ACK});
    Attributes top = top_level(reinterpret_cast<const nlmsghdr*>(empty.data()));
    EXPECT_EQ(top.size(), 1u);
    EXPECT_EQ(top.count(SVX_NLA_ROUTES_GEN), 1u);

    Routes r;
    r.targets.push_back(target(99)); // unreferenced
    r.add(sid(1), 256, {target(1)});
    auto message = encode_set_routes(r.entries, r.targets, 1, {kFamily, kSeq, NLM_F_ACK});
    top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    ASSERT_EQ(top.count(SVX_NLA_ROUTE), 1u);
    Attributes fields = nested(one(top, SVX_NLA_ROUTE));
    ASSERT_EQ(fields.count(SVX_NLA_ROUTE_TARGET), 1u);
    EXPECT_EQ(bytes_of(one(nested(one(fields, SVX_NLA_ROUTE_TARGET)), SVX_NLA_TGT_ADDR)),
              (std::vector<std::uint8_t>{10, 0, 3, 1}));
}

// nl.h's limits exactly: 65536 routes, 262144 targets in all, one route
// of 1024 (the largest nest, still below nla_len's 64 KB).
TEST(EncodeSetRoutes, MaximumTableFitsOneMessage) {
    Routes r;
    std::uint32_t placed = 0;
    for (std::uint32_t i = 0; i < SVX_NL_MAX_ROUTES; ++i) {
        svx_sid id{};
        id.b[0] = static_cast<std::uint8_t>(i >> 8);
        id.b[1] = static_cast<std::uint8_t>(i);
        // The rest spread evenly: 4 or 3 per route.
        const std::uint32_t left = SVX_NL_MAX_ROUTES - i;
        std::uint32_t n = i == 0 ? SVX_NL_MAX_TARGETS_PER_ROUTE
                                 : (SVX_NL_MAX_ROUTE_TARGETS - placed + left - 1) / left;
        r.entries.push_back({id, 256, placed, n});
        for (std::uint32_t k = 0; k < n; ++k)
            r.targets.push_back({{10, static_cast<std::uint8_t>(k >> 16),
                                  static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k)},
                                 0,
                                 1,
                                 0});
        placed += n;
    }
    ASSERT_EQ(r.targets.size(), SVX_NL_MAX_ROUTE_TARGETS);
    EXPECT_FALSE(validate_routes(r.entries, r.targets).has_value());
    auto message = encode_set_routes(r.entries, r.targets, 3, {kFamily, kSeq, NLM_F_ACK});
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message.data());
    EXPECT_EQ(nlh->nlmsg_len, message.size());
    EXPECT_LT(message.size(), 12u << 20);
    Attributes top = top_level(nlh);
    ASSERT_EQ(top.count(SVX_NLA_ROUTE), SVX_NL_MAX_ROUTES);
    Attributes biggest = nested(top.lower_bound(SVX_NLA_ROUTE)->second);
    EXPECT_EQ(biggest.count(SVX_NLA_ROUTE_TARGET), SVX_NL_MAX_TARGETS_PER_ROUTE);
    std::size_t targets = 0;
    auto [first, last] = top.equal_range(SVX_NLA_ROUTE);
    for (auto it = first; it != last; ++it)
        targets += nested(it->second).count(SVX_NLA_ROUTE_TARGET);
    EXPECT_EQ(targets, SVX_NL_MAX_ROUTE_TARGETS);
}

TEST(EncodeSetRoutes, RefusesWhatTheModuleWouldRefuseBeforeSending) {
    auto refused = [](const Routes& r) -> std::string {
        try {
            encode_set_routes(r.entries, r.targets, 1, {kFamily, kSeq, NLM_F_ACK});
        } catch (const KernelError& e) {
            EXPECT_EQ(e.kind(), ErrorKind::invalid_config);
            EXPECT_TRUE(validate_routes(r.entries, r.targets).has_value());
            return e.what();
        }
        ADD_FAILURE() << "encoded";
        return {};
    };
    auto expect_refused = [&](const Routes& r, std::string_view text) {
        auto what = refused(r);
        EXPECT_NE(what.find(text), std::string::npos) << what;
    };

    Routes r;
    for (std::uint32_t i = 0; i <= SVX_NL_MAX_ROUTES; ++i) {
        svx_sid id{};
        id.b[0] = static_cast<std::uint8_t>(i >> 16);
        id.b[1] = static_cast<std::uint8_t>(i >> 8);
        id.b[2] = static_cast<std::uint8_t>(i);
        r.entries.push_back({id, 256, 0, 1});
    }
    r.targets.push_back(target(1));
    expect_refused(r, "65537 entries; the kernel engine takes at most 65536");

    r = {};
    r.entries.push_back({sid(1), 256, 0, SVX_NL_MAX_TARGETS_PER_ROUTE + 1});
    for (std::uint32_t k = 0; k <= SVX_NL_MAX_TARGETS_PER_ROUTE; ++k)
        r.targets.push_back(
            {{10, 1, static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k)}, 0, 1, 0});
    expect_refused(r, "1025 targets; the kernel engine takes at most 1024 per route");

    // 257 routes of 1024 targets (all pointing at the same 1024).
    r.targets.resize(SVX_NL_MAX_TARGETS_PER_ROUTE);
    r.entries.clear();
    for (std::uint32_t i = 0; i < 257; ++i)
        r.entries.push_back({sid(static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i)),
                             256, 0, SVX_NL_MAX_TARGETS_PER_ROUTE});
    expect_refused(r, "263168 targets; the kernel engine takes at most 262144");

    r = sample_routes();
    std::swap(r.entries[0], r.entries[2]); // /8 before /256
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.entries[1] = r.entries[0]; // the same prefix twice
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.entries[2].prefix.b[5] = 1; // bits past /8
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.entries[0].bits = 257;
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.targets[3].weight = 0;
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.entries[1].n_targets = 0;
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    r.entries[3].first = static_cast<std::uint32_t>(r.targets.size());
    expect_refused(r, "not a valid route table");
    r = sample_routes();
    std::memcpy(r.targets[4].addr, r.targets[5].addr, 4);
    expect_refused(r, "one target address twice");

    // The same address in two routes is fine.
    r = sample_routes();
    std::memcpy(r.targets[6].addr, r.targets[0].addr, 4);
    EXPECT_FALSE(validate_routes(r.entries, r.targets).has_value());
}

TEST(EncodeRequest, OtherCommandsAreHeadersOnly) {
    for (std::uint8_t cmd : {SVX_NL_CMD_GET_INFO, SVX_NL_CMD_CLEAR_CONFIG, SVX_NL_CMD_GET_STATS}) {
        auto message = encode_request(cmd, {kFamily, kSeq, NLM_F_ACK});
        expect_headers(message, cmd, NLM_F_ACK);
        EXPECT_EQ(message.size(), NLMSG_HDRLEN + kAttributeOffset);
    }
    for (std::uint8_t cmd : {SVX_NL_CMD_GET_FLOWS, SVX_NL_CMD_GET_ROUTES}) {
        auto dump = encode_request(cmd, {kFamily, kSeq, NLM_F_DUMP});
        expect_headers(dump, cmd, NLM_F_DUMP);
        EXPECT_EQ(dump.size(), NLMSG_HDRLEN + kAttributeOffset);
    }
}

// The translator's static services ride in SET_CONFIG as XLT_ROUTE nests of
// the SET_ROUTES shape; no router is then needed.
TEST(EncodeSetConfig, StaticServicesAreXltRouteNests) {
    KernelConfig c = full_config();
    c.translator->router.reset();
    svx_route_entry e{};
    e.prefix = sid(0x03);
    e.bits = 8;
    e.first = 0;
    e.n_targets = 2;
    c.translator->static_services.entries = {e};
    c.translator->static_services.targets = {{{10, 0, 2, 30}, 1, 1, 0}, {{10, 0, 2, 31}, 2, 5, 0}};
    auto message = encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
    Attributes top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
    EXPECT_EQ(top.count(SVX_NLA_XLT_ROUTER), 0u);
    EXPECT_EQ(top.count(SVX_NLA_ROUTE), 0u) << "the router's table is not in SET_CONFIG";
    const nlattr* route = one(top, SVX_NLA_XLT_ROUTE);
    ASSERT_NE(route, nullptr);
    Attributes r = nested(route);
    EXPECT_EQ(bytes_of(one(r, SVX_NLA_ROUTE_PREFIX)),
              std::vector<std::uint8_t>(e.prefix.b, e.prefix.b + SVX_SID_LEN));
    EXPECT_EQ(mnl_attr_get_u16(one(r, SVX_NLA_ROUTE_BITS)), 8);
    ASSERT_EQ(r.count(SVX_NLA_ROUTE_TARGET), 2u);
    auto second = std::next(r.find(SVX_NLA_ROUTE_TARGET));
    Attributes t = nested(second->second);
    EXPECT_EQ(bytes_of(one(t, SVX_NLA_TGT_ADDR)), (std::vector<std::uint8_t>{10, 0, 2, 31}));
    EXPECT_EQ(mnl_attr_get_u32(one(t, SVX_NLA_TGT_PRIORITY)), 2u);
    EXPECT_EQ(mnl_attr_get_u32(one(t, SVX_NLA_TGT_WEIGHT)), 5u);

    // Refused before sending like the router's table: weight 0.
    c.translator->static_services.targets[1].weight = 0;
    try {
        encode_set_config(c, {kFamily, kSeq, NLM_F_ACK});
        ADD_FAILURE() << "weight 0 accepted";
    } catch (const KernelError& err) {
        EXPECT_EQ(err.kind(), ErrorKind::invalid_config);
        EXPECT_NE(std::string(err.what()).find("the static services"), std::string::npos)
            << err.what();
    }
}

TEST(EncodeGetRoutes, NamesItsTable) {
    for (std::uint8_t table : {SVX_NL_ROUTES_ROUTER, SVX_NL_ROUTES_XLT_STATIC}) {
        auto message = encode_get_routes(table, {kFamily, kSeq, NLM_F_DUMP});
        expect_headers(message, SVX_NL_CMD_GET_ROUTES, NLM_F_DUMP);
        Attributes top = top_level(reinterpret_cast<const nlmsghdr*>(message.data()));
        EXPECT_EQ(top.size(), 1u);
        EXPECT_EQ(mnl_attr_get_u8(one(top, SVX_NLA_ROUTES_TABLE)), table);
    }
}

TEST(CommandName, NamesEveryCommand) {
    EXPECT_EQ(command_name(SVX_NL_CMD_SET_ROUTES), "SET_ROUTES");
    EXPECT_EQ(command_name(SVX_NL_CMD_GET_ROUTES), "GET_ROUTES");
    EXPECT_EQ(command_name(SVX_NL_CMD__COUNT), "command " + std::to_string(SVX_NL_CMD__COUNT));
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
