// SPDX-License-Identifier: GPL-2.0 OR MIT
// The decoders of svxlat.ko's replies: what a valid reply says, and a clear
// KernelError for everything truncated, oversized, duplicated or foreign.
#include "nl_test_util.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace svxlat::kernel_engine {
namespace {

using test::done_message;
using test::error_message;
using test::flow_message;
using test::info_reply;
using test::kFamily;
using test::kPortid;
using test::kSeq;
using test::ModuleMessage;
using test::route_message;
using test::sample_flow;

// The error a call throws (kind and text), or a failure when it does not.
template <typename Fn> KernelError error_of(Fn&& fn) {
    try {
        fn();
    } catch (const KernelError& e) {
        EXPECT_NE(std::string(e.what()), "");
        return e;
    }
    ADD_FAILURE() << "no KernelError";
    return KernelError(ErrorKind::io, "none");
}

bool contains(const KernelError& e, std::string_view text) {
    return std::string_view(e.what()).find(text) != std::string_view::npos;
}

TEST(DecodeInfo, ReadsEveryAttribute) {
    auto info = decode_info(info_reply().bytes(), kFamily);
    EXPECT_EQ(info.version, SVX_NL_VERSION);
    EXPECT_EQ(info.flow_size, sizeof(svx_flow));
    EXPECT_TRUE(info.configured);
    EXPECT_EQ(info.flow_count, 12u);
    EXPECT_EQ(info.config_generation, 5u);
    EXPECT_FALSE(incompatibility(info).has_value());
}

TEST(DecodeInfo, GenerationIsOptionalAndUnknownAttributesAreIgnored) {
    ModuleMessage m(SVX_NL_CMD_GET_INFO);
    m.u32(SVX_NLA_VERSION, SVX_NL_VERSION)
        .u32(SVX_NLA_FLOW_SIZE, sizeof(svx_flow))
        .u8(SVX_NLA_CONFIGURED, 0)
        .u32(SVX_NLA_FLOW_COUNT, 0)
        .u32(SVX_NLA__COUNT + 3, 99); // a newer module's attribute
    auto info = decode_info(m.bytes(), kFamily);
    EXPECT_FALSE(info.configured);
    EXPECT_FALSE(info.config_generation.has_value());
}

TEST(DecodeInfo, ReadsTheRoutersTable) {
    auto m = info_reply();
    m.u32(SVX_NLA_ROUTE_COUNT, 3).u64(SVX_NLA_ROUTES_GEN, 0x100000001ull);
    auto info = decode_info(m.bytes(), kFamily);
    EXPECT_EQ(info.route_count, 3u);
    EXPECT_EQ(info.routes_generation, 0x100000001ull);

    auto before = info_reply(); // no SET_ROUTES yet: no generation
    before.u32(SVX_NLA_ROUTE_COUNT, 0);
    info = decode_info(before.bytes(), kFamily);
    EXPECT_EQ(info.route_count, 0u);
    EXPECT_FALSE(info.routes_generation.has_value());
    info = decode_info(info_reply().bytes(), kFamily); // an older module
    EXPECT_FALSE(info.route_count.has_value());

    auto wrong = info_reply();
    wrong.u64(SVX_NLA_ROUTE_COUNT, 3);
    EXPECT_TRUE(contains(error_of([&] { decode_info(wrong.bytes(), kFamily); }),
                         "ROUTE_COUNT is 8 bytes, expected 4"));
    auto twice = info_reply();
    twice.u64(SVX_NLA_ROUTES_GEN, 1).u64(SVX_NLA_ROUTES_GEN, 2);
    EXPECT_TRUE(contains(error_of([&] { decode_info(twice.bytes(), kFamily); }), "twice"));

    auto statics = info_reply();
    statics.u32(SVX_NLA_XLT_ROUTE_COUNT, 7);
    info = decode_info(statics.bytes(), kFamily);
    EXPECT_EQ(info.xlt_route_count, 7u);
    auto short_count = info_reply();
    short_count.u16(SVX_NLA_XLT_ROUTE_COUNT, 7);
    EXPECT_TRUE(contains(error_of([&] { decode_info(short_count.bytes(), kFamily); }),
                         "XLT_ROUTE_COUNT is 2 bytes, expected 4"));
}

TEST(DecodeInfo, IncompatibleModulesAreNamed) {
    KernelInfo info = decode_info(info_reply().bytes(), kFamily);
    info.flow_size = sizeof(svx_flow) + 8;
    ASSERT_TRUE(incompatibility(info).has_value());
    EXPECT_NE(incompatibility(info)->find("built from another svxlat version"), std::string::npos);
    info.flow_size = sizeof(svx_flow);
    info.version = SVX_NL_VERSION + 1;
    ASSERT_TRUE(incompatibility(info).has_value());
    EXPECT_NE(incompatibility(info)->find("protocol version"), std::string::npos);
}

TEST(DecodeInfo, RefusesBadHeaders) {
    {
        auto m = info_reply();
        m.user()->magic = 0x12345678;
        EXPECT_EQ(error_of([&] { decode_info(m.bytes(), kFamily); }).kind(), ErrorKind::protocol);
    }
    {
        auto m = info_reply();
        m.user()->version = SVX_NL_VERSION + 1;
        auto e = error_of([&] { decode_info(m.bytes(), kFamily); });
        EXPECT_EQ(e.kind(), ErrorKind::incompatible);
        EXPECT_TRUE(contains(e, "protocol version 2"));
    }
    {
        auto m = info_reply();
        m.genl()->cmd = SVX_NL_CMD_GET_STATS;
        auto e = error_of([&] { decode_info(m.bytes(), kFamily); });
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_TRUE(contains(e, "reply to GET_STATS, expected GET_INFO"));
    }
    EXPECT_TRUE(contains(error_of([&] { decode_info(info_reply().bytes(), kFamily + 1); }),
                         "message type"));
}

TEST(DecodeInfo, RefusesMissingWrongSizedAndRepeatedAttributes) {
    {
        ModuleMessage m(SVX_NL_CMD_GET_INFO);
        m.u32(SVX_NLA_FLOW_SIZE, sizeof(svx_flow))
            .u8(SVX_NLA_CONFIGURED, 1)
            .u32(SVX_NLA_FLOW_COUNT, 1);
        EXPECT_TRUE(contains(error_of([&] { decode_info(m.bytes(), kFamily); }), "no VERSION"));
    }
    {
        ModuleMessage m(SVX_NL_CMD_GET_INFO);
        m.u64(SVX_NLA_VERSION, SVX_NL_VERSION);
        EXPECT_TRUE(contains(error_of([&] { decode_info(m.bytes(), kFamily); }),
                             "VERSION is 8 bytes, expected 4"));
    }
    {
        auto m = info_reply();
        m.u32(SVX_NLA_FLOW_COUNT, 3);
        EXPECT_TRUE(contains(error_of([&] { decode_info(m.bytes(), kFamily); }), "twice"));
    }
}

// Every prefix of a valid reply is refused cleanly, and so is a message
// whose attribute claims more bytes than there are.
TEST(DecodeInfo, RefusesTruncatedAndOverrunningMessages) {
    const auto full = info_reply().bytes();
    for (std::size_t len = 0; len < full.size(); ++len) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
        EXPECT_EQ(error_of([&] { decode_info(cut, kFamily); }).kind(), ErrorKind::protocol) << len;
    }
    // The netlink header says the message is shorter than its attributes.
    auto shortened = full;
    reinterpret_cast<nlmsghdr*>(shortened.data())->nlmsg_len -= 4;
    EXPECT_EQ(error_of([&] { decode_info(shortened, kFamily); }).kind(), ErrorKind::protocol);
    // The first attribute's length runs past the message.
    auto overrun = full;
    std::uint16_t huge = 0x7ff0;
    std::memcpy(overrun.data() + NLMSG_HDRLEN + GENL_HDRLEN + sizeof(svx_nl_hdr), &huge, 2);
    EXPECT_TRUE(contains(error_of([&] { decode_info(overrun, kFamily); }), "overruns"));
    // Trailing bytes that are not an attribute.
    auto trailing = full;
    trailing.insert(trailing.end(), {1, 0});
    reinterpret_cast<nlmsghdr*>(trailing.data())->nlmsg_len += 2;
    EXPECT_TRUE(contains(error_of([&] { decode_info(trailing, kFamily); }), "2 trailing bytes"));
    // An attribute shorter than its own header.
    auto runt = full;
    runt.insert(runt.end(), {1, 0, 0, 0});
    reinterpret_cast<nlmsghdr*>(runt.data())->nlmsg_len += 4;
    EXPECT_TRUE(contains(error_of([&] { decode_info(runt, kFamily); }), "length 1"));
}

TEST(DecodeInfo, ReadsMessagesAtAnyAlignment) {
    const auto full = info_reply().bytes();
    std::vector<std::uint8_t> shifted(full.size() + 1);
    std::memcpy(shifted.data() + 1, full.data(), full.size());
    auto info = decode_info(std::span(shifted).subspan(1), kFamily);
    EXPECT_EQ(info.flow_count, 12u);
}

TEST(DecodeStats, ArraysMayBeShorterOrLongerThanOurs) {
    std::vector<std::uint64_t> stats(SVX_ST__COUNT + 5), drops(3);
    for (std::size_t i = 0; i < stats.size(); ++i)
        stats[i] = 100 + i;
    drops = {7, 8, 9};
    ModuleMessage m(SVX_NL_CMD_GET_STATS);
    m.u64s(SVX_NLA_STATS, stats).u64s(SVX_NLA_DROPS, drops);
    auto decoded = decode_stats(m.bytes(), kFamily);
    EXPECT_EQ(decoded.stats, stats);
    EXPECT_EQ(decoded.drops, drops);
    EXPECT_EQ(decoded.stat(SVX_ST_FLOWS_CREATED), 100u + SVX_ST_FLOWS_CREATED);
    EXPECT_EQ(decoded.drop(2), 9u);
    EXPECT_EQ(decoded.drop(SVX_E__COUNT - 1), 0u); // not sent: zero
    EXPECT_EQ(decoded.stat(100000), 0u);

    ModuleMessage empty(SVX_NL_CMD_GET_STATS);
    empty.raw(SVX_NLA_STATS, nullptr, 0).raw(SVX_NLA_DROPS, nullptr, 0);
    auto none = decode_stats(empty.bytes(), kFamily);
    EXPECT_TRUE(none.stats.empty());
    EXPECT_EQ(none.stat(0), 0u);
}

TEST(DecodeStats, RefusesGarbageArrays) {
    {
        ModuleMessage m(SVX_NL_CMD_GET_STATS);
        std::uint8_t odd[12] = {};
        m.raw(SVX_NLA_STATS, odd, sizeof(odd)).u64s(SVX_NLA_DROPS, {1});
        EXPECT_TRUE(contains(error_of([&] { decode_stats(m.bytes(), kFamily); }),
                             "not a whole number of u64"));
    }
    {
        ModuleMessage m(SVX_NL_CMD_GET_STATS);
        m.u64s(SVX_NLA_STATS, std::vector<std::uint64_t>(5000)).u64s(SVX_NLA_DROPS, {1});
        EXPECT_TRUE(contains(error_of([&] { decode_stats(m.bytes(), kFamily); }), "5000"));
    }
    {
        ModuleMessage m(SVX_NL_CMD_GET_STATS);
        m.u64s(SVX_NLA_STATS, {1, 2});
        EXPECT_TRUE(contains(error_of([&] { decode_stats(m.bytes(), kFamily); }), "missing"));
    }
}

TEST(DecodeFlow, ReturnsTheRecordAsTheModuleKeptIt) {
    svx_flow f = sample_flow();
    svx_flow decoded = decode_flow(flow_message(f).bytes(), kFamily);
    EXPECT_EQ(std::memcmp(&decoded, &f, sizeof(f)), 0);
}

TEST(DecodeFlow, RefusesAnotherFlowSize) {
    svx_flow f = sample_flow();
    for (std::size_t size : {sizeof(svx_flow) - 8, sizeof(svx_flow) + 8, std::size_t{0}}) {
        std::vector<std::uint8_t> record(size);
        if (size != 0)
            std::memcpy(record.data(), &f, std::min(size, sizeof(f)));
        ModuleMessage m(SVX_NL_CMD_GET_FLOWS);
        m.raw(SVX_NLA_FLOW, record.data(), record.size());
        auto e = error_of([&] { decode_flow(m.bytes(), kFamily); });
        EXPECT_EQ(e.kind(), ErrorKind::incompatible) << size;
        EXPECT_TRUE(contains(e, "built from another svxlat version")) << e.what();
    }
}

TEST(DecodeFlow, RefusesImpossibleFlows) {
    svx_flow f = sample_flow();
    f.role = 7;
    EXPECT_TRUE(contains(error_of([&] { decode_flow(flow_message(f).bytes(), kFamily); }), "role"));
    f = sample_flow();
    f.state = SVX_FS__COUNT;
    EXPECT_TRUE(
        contains(error_of([&] { decode_flow(flow_message(f).bytes(), kFamily); }), "state"));
    f = sample_flow();
    f.n_source = SVX_FLOW_MAX_SOURCE + 1;
    EXPECT_TRUE(
        contains(error_of([&] { decode_flow(flow_message(f).bytes(), kFamily); }), "SOURCE"));
    auto two = flow_message(sample_flow());
    svx_flow g = sample_flow(9);
    two.raw(SVX_NLA_FLOW, &g, sizeof(g));
    EXPECT_TRUE(contains(error_of([&] { decode_flow(two.bytes(), kFamily); }), "two FLOW"));
    ModuleMessage none(SVX_NL_CMD_GET_FLOWS);
    EXPECT_TRUE(contains(error_of([&] { decode_flow(none.bytes(), kFamily); }), "no FLOW"));
}

svx_sid route_prefix(std::uint8_t first, std::uint8_t last = 0) {
    svx_sid id{};
    id.b[0] = first;
    id.b[SVX_SID_LEN - 1] = last;
    return id;
}

KernelRouteTarget route_target(std::uint8_t last, std::uint64_t chosen = 0) {
    return {{10, 0, 3, last}, 1, 2, chosen};
}

std::vector<KernelRouteTarget> route_targets(std::uint32_t n, std::uint32_t from = 0) {
    std::vector<KernelRouteTarget> out;
    for (std::uint32_t k = from; k < from + n; ++k)
        out.push_back({{10, 1, static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k)},
                       k % 3,
                       1 + k,
                       k * 10});
    return out;
}

TEST(DecodeRoute, ReadsTheRouteAndItsCounts) {
    std::vector<KernelRouteTarget> targets = {{{10, 0, 3, 1}, 7, 9, 12345678901ull},
                                              {{10, 0, 3, 2}, 0, 1, 0}};
    auto m = route_message(route_prefix(0x0a), 8, targets);
    m.u32(SVX_NLA__COUNT + 2, 1); // a newer module's attribute
    KernelRoute route = decode_route(m.bytes(), kFamily);
    EXPECT_EQ(route.prefix.b[0], 0x0a);
    EXPECT_EQ(route.bits, 8);
    ASSERT_EQ(route.targets.size(), 2u);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        EXPECT_EQ(route.targets[i].address, targets[i].address);
        EXPECT_EQ(route.targets[i].priority, targets[i].priority);
        EXPECT_EQ(route.targets[i].weight, targets[i].weight);
        EXPECT_EQ(route.targets[i].chosen, targets[i].chosen);
    }
    // The largest route, and the default route (/0).
    auto largest = decode_route(
        route_message(route_prefix(1, 1), 256, route_targets(SVX_NL_MAX_TARGETS_PER_ROUTE)).bytes(),
        kFamily);
    EXPECT_EQ(largest.targets.size(), SVX_NL_MAX_TARGETS_PER_ROUTE);
    EXPECT_EQ(largest.targets.back().chosen, (SVX_NL_MAX_TARGETS_PER_ROUTE - 1) * 10u);
    EXPECT_EQ(decode_route(route_message(svx_sid{}, 0, targets).bytes(), kFamily).bits, 0);
}

TEST(DecodeRoute, RefusesMalformedRoutes) {
    auto refused = [](const ModuleMessage& m, std::string_view text) {
        auto e = error_of([&] { decode_route(m.bytes(), kFamily); });
        EXPECT_EQ(e.kind(), ErrorKind::protocol);
        EXPECT_TRUE(contains(e, text)) << e.what();
    };
    const std::vector<KernelRouteTarget> one = {route_target(1)};
    refused(ModuleMessage(SVX_NL_CMD_GET_ROUTES), "no ROUTE attribute");
    {
        auto m = route_message(route_prefix(1), 256, one);
        nlattr* second = m.nest_start(SVX_NLA_ROUTE);
        m.nest_end(second);
        refused(m, "two ROUTE attributes");
    }
    refused(route_message(route_prefix(1), 256, {}), "without targets");
    refused(route_message(route_prefix(1), 257, one), "ROUTE_BITS 257");
    refused(route_message(route_prefix(0x0a, 1), 8, one), "bits set past ROUTE_BITS");
    refused(route_message(route_prefix(1), 256, {route_target(1), route_target(1)}),
            "one target address twice");
    refused(route_message(route_prefix(1), 256, route_targets(SVX_NL_MAX_TARGETS_PER_ROUTE + 1)),
            "more than 1024 targets");
    {
        KernelRouteTarget zero = route_target(1);
        zero.weight = 0;
        refused(route_message(route_prefix(1), 256, {zero}), "weight 0");
    }
    // Hand-built routes: a field missing, repeated or of the wrong size.
    auto route = [](auto&& fill) {
        ModuleMessage m(SVX_NL_CMD_GET_ROUTES);
        nlattr* r = m.nest_start(SVX_NLA_ROUTE);
        fill(m);
        m.nest_end(r);
        return m;
    };
    auto target = [](ModuleMessage& m, auto&& fill) {
        nlattr* t = m.nest_start(SVX_NLA_ROUTE_TARGET);
        fill(m);
        m.nest_end(t);
    };
    const svx_sid prefix = route_prefix(1);
    const std::uint8_t addr[4] = {10, 0, 3, 1};
    auto full_target = [&](ModuleMessage& m) {
        m.raw(SVX_NLA_TGT_ADDR, addr, 4)
            .u32(SVX_NLA_TGT_PRIORITY, 0)
            .u32(SVX_NLA_TGT_WEIGHT, 1)
            .u64(SVX_NLA_TGT_CHOSEN, 0);
    };
    refused(route([&](ModuleMessage& m) {
                m.u16(SVX_NLA_ROUTE_BITS, 256);
                target(m, full_target);
            }),
            "without ROUTE_PREFIX or ROUTE_BITS");
    refused(route([&](ModuleMessage& m) {
                m.raw(SVX_NLA_ROUTE_PREFIX, prefix.b, 16).u16(SVX_NLA_ROUTE_BITS, 256);
                target(m, full_target);
            }),
            "ROUTE_PREFIX is 16 bytes, expected 32");
    refused(route([&](ModuleMessage& m) {
                m.raw(SVX_NLA_ROUTE_PREFIX, prefix.b, SVX_SID_LEN).u32(SVX_NLA_ROUTE_BITS, 256);
                target(m, full_target);
            }),
            "ROUTE_BITS is 4 bytes, expected 2");
    refused(route([&](ModuleMessage& m) {
                m.raw(SVX_NLA_ROUTE_PREFIX, prefix.b, SVX_SID_LEN)
                    .u16(SVX_NLA_ROUTE_BITS, 256)
                    .u16(SVX_NLA_ROUTE_BITS, 256);
                target(m, full_target);
            }),
            "ROUTE_BITS appears twice");
    auto with_target = [&](auto&& fill) {
        return route([&](ModuleMessage& m) {
            m.raw(SVX_NLA_ROUTE_PREFIX, prefix.b, SVX_SID_LEN).u16(SVX_NLA_ROUTE_BITS, 256);
            target(m, fill);
        });
    };
    refused(with_target([&](ModuleMessage& m) {
                m.raw(SVX_NLA_TGT_ADDR, addr, 4)
                    .u32(SVX_NLA_TGT_PRIORITY, 0)
                    .u32(SVX_NLA_TGT_WEIGHT, 1);
            }),
            "without TGT_CHOSEN");
    refused(
        with_target([&](ModuleMessage& m) {
            m.u32(SVX_NLA_TGT_PRIORITY, 0).u32(SVX_NLA_TGT_WEIGHT, 1).u64(SVX_NLA_TGT_CHOSEN, 0);
        }),
        "without TGT_ADDR");
    refused(with_target([&](ModuleMessage& m) {
                full_target(m);
                m.raw(SVX_NLA_TGT_ADDR, addr, 4);
            }),
            "TGT_ADDR appears twice");
    refused(with_target([&](ModuleMessage& m) {
                m.raw(SVX_NLA_TGT_ADDR, addr, 3)
                    .u32(SVX_NLA_TGT_PRIORITY, 0)
                    .u32(SVX_NLA_TGT_WEIGHT, 1)
                    .u64(SVX_NLA_TGT_CHOSEN, 0);
            }),
            "TGT_ADDR is 3 bytes, expected 4");
    refused(with_target([&](ModuleMessage& m) {
                m.raw(SVX_NLA_TGT_ADDR, addr, 4)
                    .u32(SVX_NLA_TGT_PRIORITY, 0)
                    .u32(SVX_NLA_TGT_WEIGHT, 1)
                    .u32(SVX_NLA_TGT_CHOSEN, 0);
            }),
            "TGT_CHOSEN is 4 bytes, expected 8");

    // Another command's reply.
    auto flows = route_message(prefix, 256, one);
    flows.genl()->cmd = SVX_NL_CMD_GET_FLOWS;
    refused(flows, "reply to GET_FLOWS, expected GET_ROUTES");
}

// Every prefix of a valid record is refused cleanly, and so is a nest whose
// length runs past its message.
TEST(DecodeRoute, RefusesTruncatedAndOverrunningRecords) {
    const auto full = route_message(route_prefix(1), 256, route_targets(3)).bytes();
    for (std::size_t len = 0; len < full.size(); ++len) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
        EXPECT_EQ(error_of([&] { decode_route(cut, kFamily); }).kind(), ErrorKind::protocol) << len;
    }
    // The netlink header claims less: the nest overruns the message.
    for (std::uint32_t less = 4; less < 64; less += 4) {
        auto shortened = full;
        reinterpret_cast<nlmsghdr*>(shortened.data())->nlmsg_len -= less;
        shortened.resize(shortened.size() - less);
        EXPECT_EQ(error_of([&] { decode_route(shortened, kFamily); }).kind(), ErrorKind::protocol)
            << less;
    }
    // A target nest whose length runs past the route nest.
    auto overrun = full;
    const std::size_t first_target =
        NLMSG_HDRLEN + GENL_HDRLEN + sizeof(svx_nl_hdr) + NLA_HDRLEN + 36 + 8;
    std::uint16_t huge = 0x7ff0;
    std::memcpy(overrun.data() + first_target, &huge, 2);
    EXPECT_TRUE(contains(error_of([&] { decode_route(overrun, kFamily); }), "overruns"));
}

TEST(RouteDump, MergesARouteSplitOverMessages) {
    RouteDump dump;
    dump.add(decode_route(route_message(route_prefix(1), 256, route_targets(64)).bytes(), kFamily));
    dump.add(
        decode_route(route_message(route_prefix(1), 256, route_targets(64, 64)).bytes(), kFamily));
    dump.add(
        decode_route(route_message(route_prefix(1), 256, route_targets(10, 128)).bytes(), kFamily));
    dump.add(decode_route(route_message(route_prefix(2), 256, route_targets(1)).bytes(), kFamily));
    dump.add(decode_route(route_message(route_prefix(2), 8, route_targets(2)).bytes(),
                          kFamily)); // same ID, /8: another route
    auto routes = dump.take();
    ASSERT_EQ(routes.size(), 3u);
    ASSERT_EQ(routes[0].targets.size(), 138u);
    for (std::uint32_t k = 0; k < 138; ++k)
        EXPECT_EQ(routes[0].targets[k].chosen, k * 10u) << k;
    EXPECT_EQ(routes[1].targets.size(), 1u);
    EXPECT_EQ(routes[2].bits, 8);
    EXPECT_EQ(routes[2].targets.size(), 2u);
}

TEST(RouteDump, RefusesRepeatedAddressesAndOversizedRoutes) {
    RouteDump dump;
    dump.add(decode_route(route_message(route_prefix(1), 256, route_targets(64)).bytes(), kFamily));
    auto repeated = error_of([&] {
        dump.add(decode_route(route_message(route_prefix(1), 256, route_targets(2, 63)).bytes(),
                              kFamily));
    });
    EXPECT_TRUE(contains(repeated, "one target address twice")) << repeated.what();

    RouteDump big;
    for (std::uint32_t from = 0; from < SVX_NL_MAX_TARGETS_PER_ROUTE; from += 64)
        big.add(decode_route(route_message(route_prefix(1), 256, route_targets(64, from)).bytes(),
                             kFamily));
    EXPECT_EQ(big.routes().at(0).targets.size(), SVX_NL_MAX_TARGETS_PER_ROUTE);
    auto oversized = error_of([&] {
        big.add(decode_route(
            route_message(route_prefix(1), 256, route_targets(1, SVX_NL_MAX_TARGETS_PER_ROUTE))
                .bytes(),
            kFamily));
    });
    EXPECT_TRUE(contains(oversized, "more than 1024 targets")) << oversized.what();
}

TEST(ReadReply, RouteDumpEndsAtDone) {
    RouteDump dump;
    auto collect = [&](std::span<const std::uint8_t> m) { dump.add(decode_route(m, kFamily)); };
    ReplyContext c{kFamily, kSeq, kPortid, "svxlat.ko", "GET_ROUTES"};
    EXPECT_FALSE(
        read_reply(test::datagram({route_message(route_prefix(1), 256, route_targets(2)).bytes(),
                                   route_message(route_prefix(2), 256, route_targets(1)).bytes()}),
                   c, collect));
    EXPECT_TRUE(read_reply(test::datagram({done_message()}), c, collect));
    EXPECT_EQ(dump.routes().size(), 2u);
}

ReplyContext context() {
    return {kFamily, kSeq, kPortid, "svxlat.ko", "SET_CONFIG"};
}

TEST(ReadReply, AckCompletesARequest) {
    int messages = 0;
    EXPECT_TRUE(read_reply(error_message(0), context(), [&](auto) { ++messages; }));
    EXPECT_EQ(messages, 0);
    auto both = test::datagram({info_reply().bytes(), error_message(0)});
    EXPECT_TRUE(read_reply(both, context(), [&](auto) { ++messages; }));
    EXPECT_EQ(messages, 1);
}

TEST(ReadReply, RefusalCarriesErrnoAndTheKernelsMessage) {
    auto e = error_of([&] {
        read_reply(error_message(-EINVAL, "row 17: port is zero"), context(), [](auto) {});
    });
    EXPECT_EQ(e.kind(), ErrorKind::refused);
    EXPECT_EQ(e.error_number(), EINVAL);
    EXPECT_STREQ(e.what(), "svxlat.ko refused SET_CONFIG: Invalid argument (row 17: port is "
                           "zero, at byte 1234 of the request)");
    auto plain = error_of([&] { read_reply(error_message(-EPROTO), context(), [](auto) {}); });
    EXPECT_STREQ(plain.what(), "svxlat.ko refused SET_CONFIG: Protocol error");
}

TEST(ReadReply, SkipsAnswersToOtherRequests) {
    auto stale = test::datagram({error_message(-EINVAL, {}, kSeq - 1), error_message(0)});
    EXPECT_TRUE(read_reply(stale, context(), [](auto) {}));
    EXPECT_FALSE(read_reply(error_message(0, {}, kSeq + 5), context(), [](auto) {}));
}

TEST(ReadReply, DumpEndsAtDone) {
    auto part = test::datagram(
        {flow_message(sample_flow(1)).bytes(), flow_message(sample_flow(2)).bytes()});
    std::vector<std::uint32_t> flows;
    auto collect = [&](std::span<const std::uint8_t> m) {
        flows.push_back(decode_flow(m, kFamily).local_flow);
    };
    EXPECT_FALSE(read_reply(part, context(), collect));
    EXPECT_TRUE(read_reply(test::datagram({flow_message(sample_flow(3)).bytes(), done_message()}),
                           context(), collect));
    EXPECT_EQ(flows, (std::vector<std::uint32_t>{1, 2, 3}));
    auto failed = error_of([&] { read_reply(done_message(-ENOMEM), context(), collect); });
    EXPECT_EQ(failed.kind(), ErrorKind::refused);
    EXPECT_EQ(failed.error_number(), ENOMEM);
}

TEST(ReadReply, RefusesForeignAndTruncatedMessages) {
    auto foreign = info_reply();
    foreign.nlh()->nlmsg_type = kFamily + 1;
    EXPECT_EQ(error_of([&] { read_reply(foreign.bytes(), context(), [](auto) {}); }).kind(),
              ErrorKind::protocol);
    auto full = test::datagram({info_reply().bytes(), error_message(0)});
    for (std::size_t len = 1; len < NLMSG_HDRLEN; ++len) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
        EXPECT_EQ(error_of([&] { read_reply(cut, context(), [](auto) {}); }).kind(),
                  ErrorKind::protocol);
    }
    std::vector<std::uint8_t> cut(full.begin(), full.end() - 4);
    EXPECT_EQ(error_of([&] { read_reply(cut, context(), [](auto) {}); }).kind(),
              ErrorKind::protocol);
    auto bad_error = error_message(5);
    EXPECT_TRUE(
        contains(error_of([&] { read_reply(bad_error, context(), [](auto) {}); }), "error code 5"));
}

// Random bytes and random corruptions of valid replies: a result or a
// KernelError, never a crash (the fuzz target does this at scale).
TEST(ReadReply, SurvivesGarbage) {
    std::mt19937 rng(1);
    const auto valid =
        test::datagram({info_reply().bytes(), flow_message(sample_flow()).bytes(),
                        route_message(route_prefix(1), 256, route_targets(2)).bytes(),
                        error_message(-EINVAL, "x"), done_message()});
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::uint8_t> bytes = valid;
        if (round % 2) {
            bytes.resize(rng() % 200);
            for (auto& b : bytes)
                b = static_cast<std::uint8_t>(rng());
        } else {
            for (int flips = 0; flips < 4; ++flips)
                bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        }
        try {
            read_reply(bytes, context(), [](std::span<const std::uint8_t> m) {
                try {
                    decode_flow(m, kFamily);
                } catch (const KernelError&) {
                }
                try {
                    decode_info(m, kFamily);
                } catch (const KernelError&) {
                }
                try {
                    decode_route(m, kFamily);
                } catch (const KernelError&) {
                }
            });
        } catch (const KernelError& e) {
            ASSERT_NE(std::string(e.what()), "");
        }
    }
}

TEST(DecodeFamily, ReadsTheControllersAnswer) {
    std::vector<std::uint8_t> buffer(1024);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = GENL_ID_CTRL;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = CTRL_CMD_NEWFAMILY;
    mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x1c);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "svxlat");
    mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
    mnl_attr_put_u32(nlh, CTRL_ATTR_HDRSIZE, sizeof(svx_nl_hdr));
    buffer.resize(nlh->nlmsg_len);
    auto family = decode_family(buffer);
    EXPECT_EQ(family.id, 0x1c);
    EXPECT_EQ(family.version, 1u);
    EXPECT_EQ(family.header_size, sizeof(svx_nl_hdr));
    buffer.resize(buffer.size() - 4);
    EXPECT_EQ(error_of([&] { decode_family(buffer); }).kind(), ErrorKind::protocol);
}

} // namespace
} // namespace svxlat::kernel_engine
