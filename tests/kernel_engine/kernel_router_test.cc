// SPDX-License-Identifier: GPL-2.0 OR MIT
// The service router on the kernel engine, daemon side: the table svxlatd
// keeps holds no more than the module does, it is pushed when (and only
// when) what it resolves changed, a failed push is retried, and `svxlat
// services` adds the module's "chosen" counts to user space's.
#include "daemon/kernel_router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace svxlat::daemon {
namespace {

using namespace std::chrono_literals;

svx_sid sid(std::uint8_t first, std::uint8_t last = 0) {
    svx_sid id{};
    id.b[0] = first;
    id.b[SVX_SID_LEN - 1] = last;
    return id;
}

svx_reg_msg registration(const svx_sid& id, std::uint16_t bits = 256) {
    svx_reg_msg msg{};
    msg.type = SVX_CTRLMSG_REGISTER;
    msg.prefix_bits = bits;
    msg.service_id = id;
    return msg;
}

RouterSettings router_settings() {
    RouterSettings r;
    r.address = {10, 0, 2, 2};
    r.expiry = 30s;
    return r;
}

TEST(MakeRouterTable, KernelTableHoldsWhatTheModuleHolds) {
    auto plain = make_router_table(router_settings(), false);
    EXPECT_EQ(plain->options().registration_lifetime, 30s);
    EXPECT_GT(plain->options().max_entries, SVX_NL_MAX_ROUTES);

    auto kernel = make_router_table(router_settings(), true);
    EXPECT_EQ(kernel->options().registration_lifetime, 30s);
    EXPECT_EQ(kernel->options().max_entries, SVX_NL_MAX_ROUTES);
    EXPECT_EQ(kernel->options().max_targets_per_entry, SVX_NL_MAX_TARGETS_PER_ROUTE);

    // 65536 entries of 4 targets fill SVX_NL_MAX_ROUTE_TARGETS: the next
    // registration is refused, as table_full (registrations_refused).
    const auto now = router::Clock::now();
    for (std::uint32_t i = 0; i < SVX_NL_MAX_ROUTES; ++i) {
        svx_sid id = sid(static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
        id.b[1] = 1; // never the default ID
        for (std::uint8_t k = 0; k < 4; ++k)
            ASSERT_EQ(kernel->apply_registration(registration(id), {10, 1, k, 1}, now),
                      router::RegistrationOutcome::added)
                << i;
    }
    EXPECT_EQ(kernel->target_count(), SVX_NL_MAX_ROUTE_TARGETS);
    svx_sid first = sid(0, 0);
    first.b[1] = 1;
    EXPECT_EQ(kernel->apply_registration(registration(first), {10, 1, 9, 9}, now),
              router::RegistrationOutcome::table_full);
    EXPECT_EQ(kernel->apply_registration(registration(sid(0xff, 0xff)), {10, 1, 9, 9}, now),
              router::RegistrationOutcome::table_full);
    // What it holds, the module takes.
    auto routes = kernel->routes();
    EXPECT_FALSE(kernel_engine::validate_routes(routes.entries, routes.targets).has_value());
}

// Records what a RoutePusher sends; fails on demand.
struct FakeModule {
    struct Push {
        std::vector<svx_route_entry> entries;
        std::vector<svx_route_target> targets;
        std::uint64_t generation;
    };
    std::vector<Push> pushes;
    bool fail = false;

    RoutePusher::Send send() {
        return [this](std::span<const svx_route_entry> e, std::span<const svx_route_target> t,
                      std::uint64_t generation) {
            if (fail)
                throw kernel_engine::KernelError(kernel_engine::ErrorKind::refused,
                                                 "svxlat.ko refused SET_ROUTES: Cannot allocate "
                                                 "memory",
                                                 12);
            pushes.push_back({{e.begin(), e.end()}, {t.begin(), t.end()}, generation});
        };
    }
};

TEST(RoutePusher, PushesWhenWhatTheTableResolvesChanges) {
    router::ServiceTable table;
    FakeModule module;
    RoutePusher pusher(module.send());
    auto now = router::Clock::now();

    // The first push carries the table, even an empty one.
    EXPECT_FALSE(pusher.pushed_generation().has_value());
    EXPECT_TRUE(pusher.push(table, now));
    ASSERT_EQ(module.pushes.size(), 1u);
    EXPECT_TRUE(module.pushes[0].entries.empty());
    EXPECT_EQ(pusher.pushed_generation(), table.generation());

    // Nothing changed: nothing sent.
    EXPECT_TRUE(pusher.push(table, now));
    EXPECT_EQ(module.pushes.size(), 1u);

    // A registration: pushed on the next tick, with the table's generation.
    ASSERT_EQ(table.apply_registration(registration(sid(0xc0, 1)), {10, 0, 3, 1}, now),
              router::RegistrationOutcome::added);
    EXPECT_TRUE(pusher.push(table, now));
    ASSERT_EQ(module.pushes.size(), 2u);
    ASSERT_EQ(module.pushes[1].entries.size(), 1u);
    EXPECT_EQ(module.pushes[1].entries[0].bits, 256);
    ASSERT_EQ(module.pushes[1].targets.size(), 1u);
    EXPECT_EQ(module.pushes[1].targets[0].addr[3], 1);
    EXPECT_EQ(module.pushes[1].targets[0].expires, 0u); // the module does not expire
    EXPECT_EQ(module.pushes[1].generation, table.generation());
    EXPECT_EQ(pusher.pushed_routes(), 1u);

    // A refresh changes nothing the module resolves.
    EXPECT_EQ(table.apply_registration(registration(sid(0xc0, 1)), {10, 0, 3, 1}, now + 1s),
              router::RegistrationOutcome::refreshed);
    EXPECT_TRUE(pusher.push(table, now + 1s));
    EXPECT_EQ(module.pushes.size(), 2u);

    // Expiry runs in the push: the registration's end is pushed too.
    EXPECT_TRUE(pusher.push(table, now + 1s + router::kDefaultRegistrationLifetime));
    ASSERT_EQ(module.pushes.size(), 3u);
    EXPECT_TRUE(module.pushes[2].entries.empty());
    EXPECT_EQ(table.entry_count(), 0u);

    // After a SET_CONFIG (router on or changed): sent again, unchanged.
    pusher.invalidate();
    EXPECT_TRUE(pusher.push(table, now));
    EXPECT_EQ(module.pushes.size(), 4u);
    EXPECT_TRUE(pusher.push(table, now));
    EXPECT_EQ(module.pushes.size(), 4u);
    EXPECT_EQ(pusher.failures(), 0u);
}

TEST(RoutePusher, FailedPushesAreRetriedAndCounted) {
    router::ServiceTable table;
    FakeModule module;
    RoutePusher pusher(module.send());
    auto now = router::Clock::now();
    ASSERT_TRUE(pusher.push(table, now));
    const auto before = pusher.pushed_generation();

    table.add_static(sid(0x0a), 8, {10, 0, 3, 7}, 1, 1, now);
    module.fail = true;
    EXPECT_FALSE(pusher.push(table, now));
    EXPECT_FALSE(pusher.push(table, now)); // retried every tick, logged once
    EXPECT_FALSE(pusher.push(table, now));
    EXPECT_TRUE(pusher.failing());
    EXPECT_EQ(pusher.failures(), 3u);
    EXPECT_NE(pusher.last_error().find("Cannot allocate memory"), std::string::npos);
    EXPECT_EQ(pusher.pushed_generation(), before); // the module keeps its table
    EXPECT_EQ(module.pushes.size(), 1u);

    module.fail = false;
    EXPECT_TRUE(pusher.push(table, now));
    EXPECT_FALSE(pusher.failing());
    EXPECT_EQ(pusher.failures(), 3u); // in all
    ASSERT_EQ(module.pushes.size(), 2u);
    EXPECT_EQ(module.pushes[1].entries.size(), 1u);
    EXPECT_EQ(pusher.pushed_generation(), table.generation());

    // A forced push that fails is forced again on the next tick.
    pusher.invalidate();
    module.fail = true;
    EXPECT_FALSE(pusher.push(table, now));
    module.fail = false;
    EXPECT_TRUE(pusher.push(table, now));
    EXPECT_EQ(module.pushes.size(), 3u);
}

TEST(AddKernelChosen, SumsByPrefixBitsAndAddress) {
    router::ServiceTable table;
    auto now = router::Clock::now();
    table.add_static(sid(0x0a), 8, {10, 0, 3, 1}, 1, 1, now);
    table.add_static(sid(0x0a), 8, {10, 0, 3, 2}, 1, 1, now);
    table.add_static(sid(0x0a, 5), 256, {10, 0, 3, 1}, 1, 1, now);
    // User space forwarded some SYNs itself.
    std::uint64_t random = 0;
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(table.resolve(sid(0x0a, 5), now, random++).ok());

    auto snapshot = table.snapshot(now);
    std::vector<kernel_engine::KernelRoute> routes(3);
    routes[0].prefix = sid(0x0a, 5);
    routes[0].bits = 256;
    routes[0].targets = {{{10, 0, 3, 1}, 1, 1, 100}};
    routes[1].prefix = sid(0x0a);
    routes[1].bits = 8;
    routes[1].targets = {{{10, 0, 3, 2}, 1, 1, 7},
                         {{10, 0, 3, 9}, 1, 1, 50}}; // gone from the table: left out
    routes[2].prefix = sid(0x0a);
    routes[2].bits = 16; // another prefix length: another entry
    routes[2].targets = {{{10, 0, 3, 1}, 1, 1, 1000}};
    add_kernel_chosen(snapshot, routes);

    auto chosen = [&](unsigned bits, std::uint8_t last) {
        for (const auto& e : snapshot)
            if (e.bits == bits)
                for (const auto& t : e.targets)
                    if (t.address[3] == last)
                        return t.chosen;
        ADD_FAILURE() << bits << " " << int(last);
        return std::uint64_t{0};
    };
    EXPECT_EQ(chosen(256, 1), 104u); // 4 in user space + 100 in the module
    EXPECT_EQ(chosen(8, 1), 0u);
    EXPECT_EQ(chosen(8, 2), 7u);
    std::size_t targets = 0;
    for (const auto& e : snapshot)
        targets += e.targets.size();
    EXPECT_EQ(targets, 3u);
}

} // namespace
} // namespace svxlat::daemon
