// ServiceTable: longest-prefix match, priority groups, weighted choice,
// registrations (REGISTER / REREGISTER / UNREGISTER), expiry on an injected
// clock, the display snapshot, and concurrent use.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <svxlat/reg.h>
#include <svxlat/route.h>
#include <svxlat/sid.h>

#include "router/service_table.h"
#include "vectors.h"

namespace svxlat::router {
namespace {

using namespace std::chrono_literals;
using Status = ResolveResult::Status;
using test::sid_from_text;

const TimePoint t0 = TimePoint{} + 1000h; // any fixed point of the injected clock

Ipv4Address ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {a, b, c, d};
}

svx_sid sid_u32(uint32_t n) {
    svx_sid id;
    svx_reg_sid_from_u32(&id, n);
    return id;
}

// An ID whose first bits bits equal base and whose next bit differs.
svx_sid flip_bit(const svx_sid& base, unsigned bit) {
    svx_sid id = base;
    id.b[bit / 8] = static_cast<uint8_t>(id.b[bit / 8] ^ (0x80 >> (bit % 8)));
    return id;
}

svx_reg_msg reg(const svx_sid& id, unsigned bits = 256, uint8_t type = SVX_CTRLMSG_REGISTER) {
    svx_reg_msg m{};
    m.type = type;
    m.prefix_bits = static_cast<uint16_t>(bits);
    m.service_id = id;
    return m;
}

svx_reg_msg rereg(const svx_sid& id, const Ipv4Address& old) {
    svx_reg_msg m = reg(id);
    m.flags = SVX_CTRLMSG_REG_FLAG_REREGISTER;
    std::memcpy(m.addr, old.data(), 4);
    return m;
}

const svx_sid kAll1 = sid_from_text(std::string(64, 'f'));
const svx_sid kId = sid_from_text(test::handmade::service_id);

TEST(router_service_table, EmptyTableHasNoEntry) {
    ServiceTable t;
    auto r = t.resolve(kId, t0, uint64_t{0});
    EXPECT_EQ(r.status, Status::no_entry);
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, DefaultRouteZeroBitsMatchesEverything) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(10, 0, 0, 255), 1, 0, t0));
    for (const svx_sid& id : {svx_sid{}, kAll1, kId, sid_u32(1)}) {
        auto r = t.resolve(id, t0, uint64_t{12345});
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.target, ip(10, 0, 0, 255));
        EXPECT_EQ(r.matched_bits, 0u);
    }
    // A non-zero ID with 0 bits is the same entry: the ID is masked.
    ASSERT_TRUE(t.add_static(kAll1, 0, ip(10, 0, 0, 255), 1, 0, t0));
    EXPECT_EQ(t.entry_count(), 1u);
    EXPECT_EQ(t.target_count(), 1u);
}

TEST(router_service_table, PrefixLengthsMatchExactlyTheirBits) {
    for (unsigned bits : {1u, 7u, 8u, 9u, 31u, 32u, 128u, 255u, 256u}) {
        SCOPED_TRACE(bits);
        ServiceTable t;
        ASSERT_TRUE(t.add_static(kAll1, bits, ip(1, 1, 1, 1), 1, 1, t0));
        // Same first bits (rest changed) matches; the last prefix bit flipped does not.
        svx_sid same = kAll1;
        svx_sid_mask(&same, bits);
        auto r = t.resolve(same, t0, uint64_t{0});
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(r.matched_bits, bits);
        EXPECT_EQ(t.resolve(flip_bit(kAll1, bits - 1), t0, uint64_t{0}).status, Status::no_entry);
        if (bits < 256) {
            EXPECT_TRUE(t.resolve(flip_bit(kAll1, bits), t0, uint64_t{0}).ok());
        }
    }
}

TEST(router_service_table, LongestPrefixWins) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(0, 0, 0, 1), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kAll1, 1, ip(0, 0, 0, 2), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kAll1, 7, ip(0, 0, 0, 3), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kAll1, 8, ip(0, 0, 0, 4), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kAll1, 255, ip(0, 0, 0, 5), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kAll1, 256, ip(0, 0, 0, 6), 1, 1, t0));
    struct Case {
        svx_sid id;
        uint8_t want;
        unsigned bits;
    };
    const Case cases[] = {
        {kAll1, 6, 256},
        {flip_bit(kAll1, 255), 5, 255},
        {flip_bit(kAll1, 254), 4, 8},
        {flip_bit(kAll1, 8), 4, 8},
        {flip_bit(kAll1, 7), 3, 7},
        {flip_bit(kAll1, 6), 2, 1},
        {flip_bit(kAll1, 1), 2, 1},
        {flip_bit(kAll1, 0), 1, 0},
        {svx_sid{}, 1, 0},
    };
    for (const Case& c : cases) {
        auto r = t.resolve(c.id, t0, uint64_t{0});
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.target[3], c.want) << test::to_hex(c.id.b);
        EXPECT_EQ(r.matched_bits, c.bits);
    }
}

TEST(router_service_table, LongestMatchWithoutLiveTargetDoesNotFallBack) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(10, 0, 0, 255), 1, 1, t0));
    ASSERT_EQ(t.apply_registration(reg(kId), ip(10, 0, 0, 5), t0), RegistrationOutcome::added);
    EXPECT_EQ(t.resolve(kId, t0 + 49s, uint64_t{0}).target, ip(10, 0, 0, 5));
    // Expired but not yet swept: the /256 entry still wins, with no target.
    auto r = t.resolve(kId, t0 + 50s, uint64_t{0});
    EXPECT_EQ(r.status, Status::no_live_target);
    EXPECT_EQ(r.matched_bits, 256u);
    // Once expire() removed the entry, the default route matches again.
    EXPECT_EQ(t.expire(t0 + 50s), 1u);
    r = t.resolve(kId, t0 + 50s, uint64_t{0});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.matched_bits, 0u);
}

TEST(router_service_table, OnlyTheHighestPriorityGroupIsUsed) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 1), 5, 1000, t0));
    ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 2), 7, 1, t0));
    ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 3), 7, 1, t0));
    std::mt19937_64 gen(1);
    std::map<Ipv4Address, int> seen;
    for (int i = 0; i < 2000; ++i)
        seen[t.resolve(kId, t0, gen).target]++;
    EXPECT_EQ(seen.count(ip(1, 0, 0, 1)), 0u);
    EXPECT_GT(seen[ip(1, 0, 0, 2)], 800);
    EXPECT_GT(seen[ip(1, 0, 0, 3)], 800);
    // Replacing a target's priority moves it between groups.
    ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 1), 9, 1, t0));
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(t.resolve(kId, t0, gen).target, ip(1, 0, 0, 1));
    EXPECT_EQ(t.target_count(), 3u);
}

TEST(router_service_table, ExpiredTargetsLeaveTheirGroup) {
    // A registration and a static target share priority 0; once the
    // registration's lifetime is over only the static one is chosen, even
    // before expire() sweeps the table.
    ServiceTable t;
    ASSERT_EQ(t.apply_registration(reg(kId), ip(2, 0, 0, 1), t0), RegistrationOutcome::added);
    ASSERT_TRUE(t.add_static(kId, 256, ip(2, 0, 0, 9), 0, 1, t0));
    std::mt19937_64 gen(2);
    std::map<Ipv4Address, int> seen;
    for (int i = 0; i < 1000; ++i)
        seen[t.resolve(kId, t0 + 10s, gen).target]++;
    EXPECT_EQ(seen.size(), 2u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(t.resolve(kId, t0 + 60s, gen).target, ip(2, 0, 0, 9));
}

TEST(router_service_table, WeightZeroIsStoredAsOne) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(3, 0, 0, 1), 1, 0, t0));
    auto snap = t.snapshot(t0);
    ASSERT_EQ(snap.size(), 1u);
    ASSERT_EQ(snap[0].targets.size(), 1u);
    EXPECT_EQ(snap[0].targets[0].weight, 1u);
}

TEST(router_service_table, WeightedChoiceFollowsWeights) {
    // Weights 1:3 over 100k seeded picks: the count of the weight-1 target is
    // binomial(n, 1/4); allow 5 standard deviations.
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(4, 0, 0, 1), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kId, 256, ip(4, 0, 0, 3), 1, 3, t0));
    std::mt19937_64 gen(20240601);
    constexpr int n = 100000;
    int ones = 0;
    for (int i = 0; i < n; ++i)
        ones += t.resolve(kId, t0, gen).target == ip(4, 0, 0, 1);
    const double mean = n * 0.25, sd = std::sqrt(n * 0.25 * 0.75);
    EXPECT_NEAR(ones, mean, 5 * sd);
    // The snapshot counted every choice.
    auto snap = t.snapshot(t0);
    ASSERT_EQ(snap[0].targets.size(), 2u);
    EXPECT_EQ(snap[0].targets[0].chosen + snap[0].targets[1].chosen, uint64_t{n});
}

TEST(router_service_table, RandomValueMapsToCumulativeWeights) {
    // Deterministic: a uniform value u picks the target whose cumulative
    // weight interval holds u * total / 2^64 (targets in insertion order).
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(5, 0, 0, 1), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kId, 256, ip(5, 0, 0, 2), 1, 3, t0));
    constexpr uint64_t quarter = uint64_t{1} << 62;
    EXPECT_EQ(t.resolve(kId, t0, uint64_t{0}).target, ip(5, 0, 0, 1));
    EXPECT_EQ(t.resolve(kId, t0, quarter - 1).target, ip(5, 0, 0, 1));
    EXPECT_EQ(t.resolve(kId, t0, quarter).target, ip(5, 0, 0, 2));
    EXPECT_EQ(t.resolve(kId, t0, ~uint64_t{0}).target, ip(5, 0, 0, 2));
}

TEST(router_service_table, RegisterAddsPriorityZeroWeightOneWithExpiry) {
    ServiceTable t;
    EXPECT_EQ(t.apply_registration(reg(kId), ip(6, 0, 0, 1), t0), RegistrationOutcome::added);
    auto snap = t.snapshot(t0 + 5s);
    ASSERT_EQ(snap.size(), 1u);
    EXPECT_EQ(snap[0].bits, 256u);
    const TargetInfo& ti = snap[0].targets.at(0);
    EXPECT_EQ(ti.priority, kRegistrationPriority);
    EXPECT_EQ(ti.weight, kRegistrationWeight);
    EXPECT_EQ(ti.origin, TargetOrigin::registration);
    EXPECT_EQ(ti.age, 5s);
    ASSERT_TRUE(ti.remaining.has_value());
    EXPECT_EQ(*ti.remaining, 45s);
}

TEST(router_service_table, RegisterWithPrefixMasksTheId) {
    ServiceTable t;
    EXPECT_EQ(t.apply_registration(reg(kAll1, 12), ip(6, 0, 0, 2), t0), RegistrationOutcome::added);
    auto snap = t.snapshot(t0);
    ASSERT_EQ(snap.size(), 1u);
    EXPECT_EQ(snap[0].bits, 12u);
    EXPECT_EQ(test::to_hex(snap[0].prefix.b), "fff0" + std::string(60, '0'));
    EXPECT_TRUE(t.resolve(flip_bit(kAll1, 12), t0, uint64_t{0}).ok());
}

TEST(router_service_table, HandMadePrefixOutOfRangeMeansFullLength) {
    ServiceTable t;
    for (unsigned bits : {0u, 257u, 1000u})
        EXPECT_NE(t.apply_registration(reg(kAll1, bits), ip(6, 0, 0, 3), t0),
                  RegistrationOutcome::table_full);
    auto snap = t.snapshot(t0);
    ASSERT_EQ(snap.size(), 1u);
    EXPECT_EQ(snap[0].bits, 256u);
    EXPECT_EQ(snap[0].targets.size(), 1u);
}

TEST(router_service_table, RefreshRestartsTheTimer) {
    ServiceTable t;
    ASSERT_EQ(t.apply_registration(reg(kId), ip(7, 0, 0, 1), t0), RegistrationOutcome::added);
    // servd refreshes with REREGISTER and its own (unchanged) address.
    EXPECT_EQ(t.apply_registration(rereg(kId, ip(7, 0, 0, 1)), ip(7, 0, 0, 1), t0 + 20s),
              RegistrationOutcome::refreshed);
    EXPECT_EQ(t.apply_registration(reg(kId), ip(7, 0, 0, 1), t0 + 40s),
              RegistrationOutcome::refreshed);
    EXPECT_EQ(t.expire(t0 + 89s), 0u);
    EXPECT_TRUE(t.resolve(kId, t0 + 89s, uint64_t{0}).ok());
    EXPECT_EQ(t.expire(t0 + 90s), 1u);
    EXPECT_EQ(t.resolve(kId, t0 + 90s, uint64_t{0}).status, Status::no_entry);
    EXPECT_EQ(t.target_count(), 0u);
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, LifetimeIsSettable) {
    ServiceTable::Options o;
    o.registration_lifetime = 3s;
    ServiceTable t(o);
    ASSERT_EQ(t.apply_registration(reg(kId), ip(7, 0, 0, 2), t0), RegistrationOutcome::added);
    EXPECT_TRUE(t.resolve(kId, t0 + 2s, uint64_t{0}).ok());
    EXPECT_EQ(t.resolve(kId, t0 + 3s, uint64_t{0}).status, Status::no_live_target);
    EXPECT_EQ(t.expire(t0 + 3s), 1u);
}

TEST(router_service_table, ReregisterMovesTheTarget) {
    ServiceTable t;
    ASSERT_EQ(t.apply_registration(reg(kId), ip(8, 0, 0, 1), t0), RegistrationOutcome::added);
    ASSERT_EQ(t.apply_registration(reg(kId), ip(8, 0, 0, 7), t0), RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(rereg(kId, ip(8, 0, 0, 1)), ip(8, 0, 0, 2), t0 + 30s),
              RegistrationOutcome::moved);
    auto snap = t.snapshot(t0 + 30s);
    ASSERT_EQ(snap.at(0).targets.size(), 2u);
    EXPECT_EQ(snap[0].targets[0].address, ip(8, 0, 0, 2));
    EXPECT_EQ(*snap[0].targets[0].remaining, 50s); // timer restarted
    EXPECT_EQ(snap[0].targets[1].address, ip(8, 0, 0, 7));
    EXPECT_EQ(*snap[0].targets[1].remaining, 20s);
}

TEST(router_service_table, ReregisterOntoAnotherRegisteredAddressMerges) {
    ServiceTable t;
    ASSERT_EQ(t.apply_registration(reg(kId), ip(8, 1, 0, 1), t0), RegistrationOutcome::added);
    ASSERT_EQ(t.apply_registration(reg(kId), ip(8, 1, 0, 2), t0), RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(rereg(kId, ip(8, 1, 0, 1)), ip(8, 1, 0, 2), t0 + 1s),
              RegistrationOutcome::moved);
    EXPECT_EQ(t.target_count(), 1u);
    EXPECT_EQ(t.resolve(kId, t0, uint64_t{0}).target, ip(8, 1, 0, 2));
}

TEST(router_service_table, ReregisterWithUnknownOldAddressIsARegister) {
    ServiceTable t;
    EXPECT_EQ(t.apply_registration(rereg(kId, ip(9, 0, 0, 1)), ip(9, 0, 0, 2), t0),
              RegistrationOutcome::added);
    EXPECT_EQ(t.target_count(), 1u);
    EXPECT_EQ(t.resolve(kId, t0, uint64_t{0}).target, ip(9, 0, 0, 2));
}

TEST(router_service_table, UnregisterRemovesAtOnce) {
    ServiceTable t;
    ASSERT_EQ(t.apply_registration(reg(kId), ip(10, 0, 0, 1), t0), RegistrationOutcome::added);
    ASSERT_EQ(t.apply_registration(reg(kId), ip(10, 0, 0, 2), t0), RegistrationOutcome::added);
    auto un = reg(kId, 256, SVX_CTRLMSG_UNREGISTER);
    EXPECT_EQ(t.apply_registration(un, ip(10, 0, 0, 1), t0 + 1s), RegistrationOutcome::removed);
    EXPECT_EQ(t.apply_registration(un, ip(10, 0, 0, 1), t0 + 1s), RegistrationOutcome::not_found);
    for (uint64_t r : {uint64_t{0}, ~uint64_t{0}})
        EXPECT_EQ(t.resolve(kId, t0 + 1s, r).target, ip(10, 0, 0, 2));
    EXPECT_EQ(t.apply_registration(un, ip(10, 0, 0, 2), t0 + 1s), RegistrationOutcome::removed);
    EXPECT_EQ(t.entry_count(), 0u);
    EXPECT_EQ(t.resolve(kId, t0 + 1s, uint64_t{0}).status, Status::no_entry);
    // An UNREGISTER of another prefix length is another entry.
    ASSERT_EQ(t.apply_registration(reg(kId, 32), ip(10, 0, 0, 3), t0), RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(un, ip(10, 0, 0, 3), t0), RegistrationOutcome::not_found);
}

TEST(router_service_table, StaticTargetsSurviveRegistrations) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(11, 0, 0, 1), 1, 1, t0));
    EXPECT_EQ(t.apply_registration(reg(kId), ip(11, 0, 0, 1), t0),
              RegistrationOutcome::static_kept);
    EXPECT_EQ(t.apply_registration(reg(kId, 256, SVX_CTRLMSG_UNREGISTER), ip(11, 0, 0, 1), t0),
              RegistrationOutcome::static_kept);
    EXPECT_EQ(t.expire(t0 + 1000h), 0u);
    EXPECT_TRUE(t.resolve(kId, t0 + 1000h, uint64_t{0}).ok());
    // A static add over a registration makes it static.
    ASSERT_EQ(t.apply_registration(reg(kId), ip(11, 0, 0, 2), t0), RegistrationOutcome::added);
    ASSERT_TRUE(t.add_static(kId, 256, ip(11, 0, 0, 2), 1, 1, t0));
    EXPECT_EQ(t.expire(t0 + 1000h), 0u);
    EXPECT_EQ(t.target_count(), 2u);
    EXPECT_TRUE(t.remove_target(kId, 256, ip(11, 0, 0, 2)));
    EXPECT_FALSE(t.remove_target(kId, 256, ip(11, 0, 0, 2)));
    EXPECT_TRUE(t.remove_target(kId, 256, ip(11, 0, 0, 1)));
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, DefaultServiceCannotBeRegistered) {
    ServiceTable t;
    EXPECT_EQ(t.apply_registration(reg(svx_sid{}), ip(12, 0, 0, 1), t0),
              RegistrationOutcome::refused_default);
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, InvalidPrefixLengthIsRefused) {
    ServiceTable t;
    EXPECT_FALSE(t.add_static(kId, 257, ip(1, 2, 3, 4), 1, 1, t0));
    EXPECT_FALSE(t.remove_target(kId, 300, ip(1, 2, 3, 4)));
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, LimitsBoundTheTable) {
    ServiceTable::Options o;
    o.max_entries = 3;
    o.max_targets_per_entry = 2;
    ServiceTable t(o);
    for (uint32_t i = 1; i <= 3; ++i)
        EXPECT_EQ(t.apply_registration(reg(sid_u32(i)), ip(13, 0, 0, 1), t0),
                  RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(4)), ip(13, 0, 0, 1), t0),
              RegistrationOutcome::table_full);
    EXPECT_FALSE(t.add_static(sid_u32(5), 256, ip(13, 0, 0, 1), 1, 1, t0));
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(13, 0, 0, 2), t0),
              RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(13, 0, 0, 3), t0),
              RegistrationOutcome::table_full);
    EXPECT_EQ(t.entry_count(), 3u);
    EXPECT_EQ(t.target_count(), 4u);
}

TEST(router_service_table, ExpireCountsAndKeepsStatic) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(14, 0, 0, 255), 1, 1, t0));
    for (uint32_t i = 1; i <= 10; ++i)
        ASSERT_EQ(
            t.apply_registration(reg(sid_u32(i)), ip(14, 0, 0, 1), t0 + std::chrono::seconds(i)),
            RegistrationOutcome::added);
    EXPECT_EQ(t.expire(t0 + 50s), 0u);
    EXPECT_EQ(t.expire(t0 + 53s), 3u);
    EXPECT_EQ(t.entry_count(), 8u);
    EXPECT_EQ(t.expire(t0 + 1000s), 7u);
    EXPECT_EQ(t.entry_count(), 1u);
    EXPECT_EQ(t.target_count(), 1u);
}

TEST(router_service_table, SnapshotOrderAndFields) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(15, 0, 0, 255), 1, 1, t0));
    ASSERT_TRUE(t.add_static(kId, 256, ip(15, 0, 0, 2), 1, 4, t0 + 1s));
    ASSERT_TRUE(t.add_static(kId, 256, ip(15, 0, 0, 1), 2, 1, t0 + 2s));
    ASSERT_EQ(t.apply_registration(reg(kAll1, 32), ip(15, 0, 0, 3), t0 + 3s),
              RegistrationOutcome::added);
    t.resolve(kId, t0 + 4s, uint64_t{0});
    auto snap = t.snapshot(t0 + 10s);
    ASSERT_EQ(snap.size(), 3u);
    EXPECT_EQ(snap[0].bits, 256u);
    EXPECT_EQ(snap[1].bits, 32u);
    EXPECT_EQ(snap[2].bits, 0u);
    EXPECT_EQ(snap[0].age, 9s);
    ASSERT_EQ(snap[0].targets.size(), 2u);
    EXPECT_EQ(snap[0].targets[0].address, ip(15, 0, 0, 1)); // priority 2 first
    EXPECT_EQ(snap[0].targets[0].chosen, 1u);
    EXPECT_EQ(snap[0].targets[0].age, 8s);
    EXPECT_FALSE(snap[0].targets[0].remaining.has_value());
    EXPECT_EQ(snap[0].targets[1].weight, 4u);
    EXPECT_EQ(snap[0].targets[1].chosen, 0u);
    EXPECT_EQ(*snap[1].targets.at(0).remaining, 43s);
    EXPECT_EQ(to_string(snap[1].targets[0].origin), "registration");
}

TEST(router_service_table, ManyEntriesResolveExactly) {
    // Thousands of /256 entries beside /32 and /0: each resolves to its own.
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(0, 0, 0, 0), 1, 1, t0));
    constexpr uint32_t n = 5000;
    for (uint32_t i = 0; i < n; ++i) {
        svx_sid id = kId;
        svx_put_be32(id.b + 28, i);
        Ipv4Address a = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                         static_cast<uint8_t>(i)};
        ASSERT_EQ(t.apply_registration(reg(id), a, t0), RegistrationOutcome::added);
        ASSERT_TRUE(t.add_static(sid_u32(i), 32, a, 1, 1, t0));
    }
    EXPECT_EQ(t.entry_count(), 2 * n + 1);
    for (uint32_t i = 0; i < n; ++i) {
        svx_sid id = kId;
        svx_put_be32(id.b + 28, i);
        auto r = t.resolve(id, t0, uint64_t{0});
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.matched_bits, 256u);
        EXPECT_EQ(svx_get_be32(r.target.data()) & 0xffffff, i);
        svx_sid other = sid_u32(i);
        other.b[31] = 1;
        r = t.resolve(other, t0, uint64_t{0});
        EXPECT_EQ(r.matched_bits, 32u);
        EXPECT_EQ(svx_get_be32(r.target.data()) & 0xffffff, i);
    }
}

TEST(router_service_table, ConcurrentResolveRegisterExpire) {
    // Bounded stress: 4 resolver threads against one registering/unregistering
    // thread and one expiring thread. Run it under TSan (see docs/router.md).
    ServiceTable::Options o;
    o.registration_lifetime = 5ms;
    ServiceTable t(o);
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(0, 0, 0, 1), 1, 1, t0));
    constexpr int kServices = 64;
    constexpr int kRounds = 3000;
    constexpr uint64_t kMinResolves = 2000; // per resolver, so that the threads overlap
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    std::atomic<uint64_t> resolved{0}, bad{0};

    auto resolver = [&](int seed) {
        std::mt19937_64 gen(static_cast<uint64_t>(seed));
        uint64_t n = 0;
        while (!stop.load(std::memory_order_relaxed) || n < kMinResolves) {
            svx_sid id = sid_u32(static_cast<uint32_t>(gen() % kServices + 1));
            auto r = t.resolve(id, t0 + std::chrono::microseconds(gen() % 20000), gen);
            // Every answer is either the default route or a registered host.
            if (r.ok() && !(r.target == ip(0, 0, 0, 1) || r.target[0] == 20))
                bad.fetch_add(1);
            if (++n == 1)
                started.fetch_add(1);
        }
        resolved.fetch_add(n);
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back(resolver, i + 1);
    std::thread expirer([&] {
        int k = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            t.expire(t0 + std::chrono::microseconds(k % 20000));
            (void)t.snapshot(t0);
            k += 7;
        }
    });
    while (started.load() < 4)
        std::this_thread::yield();
    std::mt19937 gen(99);
    for (int round = 0; round < kRounds; ++round) {
        svx_sid id = sid_u32(static_cast<uint32_t>(gen() % kServices + 1));
        Ipv4Address a = {20, 0, 0, static_cast<uint8_t>(gen() % 8)};
        TimePoint now = t0 + std::chrono::microseconds(gen() % 20000);
        switch (gen() % 3) {
        case 0:
            t.apply_registration(reg(id), a, now);
            break;
        case 1:
            t.apply_registration(rereg(id, {20, 0, 0, static_cast<uint8_t>(gen() % 8)}), a, now);
            break;
        default:
            t.apply_registration(reg(id, 256, SVX_CTRLMSG_UNREGISTER), a, now);
            break;
        }
    }
    stop.store(true);
    for (auto& th : threads)
        th.join();
    expirer.join();
    EXPECT_EQ(bad.load(), 0u);
    EXPECT_GE(resolved.load(), 4 * kMinResolves);
    // The counters agree with a full recount.
    size_t targets = 0;
    for (const auto& e : t.snapshot(t0))
        targets += e.targets.size();
    EXPECT_EQ(targets, t.target_count());
    EXPECT_EQ(t.snapshot(t0).size(), t.entry_count());
}

// --- generation(), routes(), limit_total_targets() --------------------------

// generation() moved by exactly `by` across `what`.
template <typename F> void expect_generation_step(ServiceTable& t, uint64_t by, F&& what) {
    const uint64_t before = t.generation();
    what();
    EXPECT_EQ(t.generation(), before + by);
}

TEST(router_service_table, GenerationFollowsStaticChanges) {
    ServiceTable t;
    const uint64_t start = t.generation();
    expect_generation_step(t, 1,
                           [&] { ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 1), 1, 1, t0)); });
    EXPECT_GT(t.generation(), start);
    expect_generation_step(t, 1,
                           [&] { ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 2), 1, 1, t0)); });
    // Reweighting and reprioritising an existing target.
    expect_generation_step(t, 1,
                           [&] { ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 1), 1, 5, t0)); });
    expect_generation_step(t, 1,
                           [&] { ASSERT_TRUE(t.add_static(kId, 256, ip(1, 0, 0, 1), 2, 5, t0)); });
    expect_generation_step(t, 1, [&] { ASSERT_TRUE(t.remove_target(kId, 256, ip(1, 0, 0, 2))); });
    // Failures change nothing.
    expect_generation_step(t, 0, [&] { EXPECT_FALSE(t.remove_target(kId, 256, ip(1, 0, 0, 2))); });
    expect_generation_step(t, 0, [&] { EXPECT_FALSE(t.remove_target(kId, 128, ip(1, 0, 0, 1))); });
    expect_generation_step(t, 0,
                           [&] { EXPECT_FALSE(t.add_static(kId, 257, ip(1, 0, 0, 9), 1, 1, t0)); });
    // Neither do lookups, snapshots or exports.
    expect_generation_step(t, 0, [&] {
        (void)t.resolve(kId, t0, uint64_t{0});
        (void)t.snapshot(t0);
        (void)t.routes();
    });
    // The entry goes with its last target: a change too.
    expect_generation_step(t, 1, [&] { ASSERT_TRUE(t.remove_target(kId, 256, ip(1, 0, 0, 1))); });
    EXPECT_EQ(t.entry_count(), 0u);
}

TEST(router_service_table, GenerationFollowsRegistrations) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(kId, 256, ip(2, 0, 0, 9), 1, 1, t0));
    const Ipv4Address a = ip(2, 0, 0, 1), b = ip(2, 0, 0, 2), c = ip(2, 0, 0, 3);
    auto apply = [&](const svx_reg_msg& m, const Ipv4Address& from, TimePoint now,
                     RegistrationOutcome want, uint64_t by) {
        const uint64_t before = t.generation();
        EXPECT_EQ(t.apply_registration(m, from, now), want) << to_string(want);
        EXPECT_EQ(t.generation(), before + by) << to_string(want);
    };
    apply(reg(kId), a, t0, RegistrationOutcome::added, 1);
    apply(reg(kId), a, t0 + 10s, RegistrationOutcome::refreshed, 0);
    apply(rereg(kId, a), a, t0 + 11s, RegistrationOutcome::refreshed, 0); // old == new
    apply(rereg(kId, a), b, t0 + 12s, RegistrationOutcome::moved, 1);
    apply(reg(kId), c, t0 + 13s, RegistrationOutcome::added, 1);
    apply(rereg(kId, b), c, t0 + 14s, RegistrationOutcome::moved, 1); // merge onto c
    apply(reg(kId, 256, SVX_CTRLMSG_UNREGISTER), b, t0, RegistrationOutcome::not_found, 0);
    apply(reg(sid_u32(77), 256, SVX_CTRLMSG_UNREGISTER), c, t0, RegistrationOutcome::not_found, 0);
    apply(reg(kId), ip(2, 0, 0, 9), t0, RegistrationOutcome::static_kept, 0);
    apply(reg(kId, 256, SVX_CTRLMSG_UNREGISTER), ip(2, 0, 0, 9), t0,
          RegistrationOutcome::static_kept, 0);
    apply(reg(svx_sid{}), a, t0, RegistrationOutcome::refused_default, 0);
    apply(reg(kId, 256, SVX_CTRLMSG_UNREGISTER), c, t0, RegistrationOutcome::removed, 1);
    EXPECT_EQ(t.target_count(), 1u);

    // table_full changes nothing either.
    ServiceTable::Options o;
    o.max_entries = 1;
    ServiceTable small(o);
    ASSERT_EQ(small.apply_registration(reg(kId), a, t0), RegistrationOutcome::added);
    const uint64_t g = small.generation();
    EXPECT_EQ(small.apply_registration(reg(sid_u32(5)), a, t0), RegistrationOutcome::table_full);
    EXPECT_EQ(small.generation(), g);
}

TEST(router_service_table, GenerationFollowsExpiry) {
    ServiceTable t;
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(3, 0, 0, 255), 1, 1, t0));
    ASSERT_EQ(t.apply_registration(reg(kId), ip(3, 0, 0, 1), t0), RegistrationOutcome::added);
    ASSERT_EQ(t.apply_registration(reg(kAll1), ip(3, 0, 0, 2), t0 + 5s),
              RegistrationOutcome::added);
    // Nothing due yet (lifetime 50 s): no change, even though time passed.
    expect_generation_step(t, 0, [&] { EXPECT_EQ(t.expire(t0 + 49s), 0u); });
    // Resolution past the expiry (before expire() runs) is not a change either.
    expect_generation_step(t, 0, [&] {
        EXPECT_EQ(t.resolve(kId, t0 + 51s, uint64_t{0}).status, Status::no_live_target);
    });
    const uint64_t before = t.generation();
    EXPECT_EQ(t.expire(t0 + 50s), 1u);
    EXPECT_GT(t.generation(), before);
    expect_generation_step(t, 0, [&] { EXPECT_EQ(t.expire(t0 + 50s), 0u); });
    const uint64_t before2 = t.generation();
    EXPECT_EQ(t.expire(t0 + 1h), 1u);
    EXPECT_GT(t.generation(), before2);
    // Static targets never expire: nothing left to remove.
    expect_generation_step(t, 0, [&] { EXPECT_EQ(t.expire(t0 + 10000h), 0u); });
}

// The exported table as the core reads it.
svx_route_table view_of(const ServiceTable::Routes& r) {
    return {r.entries.data(), static_cast<uint32_t>(r.entries.size()), r.targets.data(),
            static_cast<uint32_t>(r.targets.size())};
}

// A table of static and registered targets on several prefix lengths.
void fill_mixed(ServiceTable& t, std::mt19937& gen) {
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(30, 0, 0, 1), 1, 1, t0));
    ASSERT_TRUE(t.add_static(svx_sid{}, 0, ip(30, 0, 0, 2), 1, 3, t0));
    for (uint32_t i = 1; i <= 200; ++i) {
        const svx_sid id = sid_u32(i * 2654435761u);
        const Ipv4Address a = {31, static_cast<uint8_t>(i), 0, 1};
        switch (i % 5) {
        case 0: // registrations only, several hosts
            for (uint8_t h = 1; h <= 1 + gen() % 4; ++h)
                ASSERT_EQ(t.apply_registration(reg(id), {a[0], a[1], 1, h}, t0),
                          RegistrationOutcome::added);
            break;
        case 1: // static only, two priorities and varied weights
            ASSERT_TRUE(t.add_static(id, 256, a, 2, 1 + gen() % 9, t0));
            ASSERT_TRUE(t.add_static(id, 256, {a[0], a[1], 0, 2}, 2, 1 + gen() % 9, t0));
            ASSERT_TRUE(t.add_static(id, 256, {a[0], a[1], 0, 3}, 1, 100, t0));
            break;
        case 2: // mixed: a registration beside a static of the same priority
            ASSERT_TRUE(t.add_static(id, 256, a, kRegistrationPriority, 5, t0));
            ASSERT_EQ(t.apply_registration(reg(id), {a[0], a[1], 2, 1}, t0),
                      RegistrationOutcome::added);
            ASSERT_EQ(t.apply_registration(reg(id), {a[0], a[1], 2, 2}, t0),
                      RegistrationOutcome::added);
            break;
        case 3: // prefixes of 32 and 24 bits
            ASSERT_EQ(t.apply_registration(reg(id, 32), {a[0], a[1], 5, 1}, t0),
                      RegistrationOutcome::added);
            ASSERT_TRUE(t.add_static(id, 24, {a[0], a[1], 3, 1}, 1, 2, t0));
            break;
        default: // a static target on a 200-bit prefix, then registrations there
            ASSERT_TRUE(t.add_static(id, 200, a, 0, 7, t0));
            ASSERT_EQ(t.apply_registration(reg(id, 200), {a[0], a[1], 4, 1}, t0),
                      RegistrationOutcome::added);
            break;
        }
    }
}

TEST(router_service_table, RoutesExportIsAValidTableInTableOrder) {
    std::mt19937 gen(test::test_seed(5));
    ServiceTable t;
    fill_mixed(t, gen);
    const auto routes = t.routes();
    ASSERT_EQ(routes.entries.size(), t.entry_count());
    ASSERT_EQ(routes.targets.size(), t.target_count());
    const svx_route_table v = view_of(routes);
    EXPECT_EQ(svx_route_table_check(&v), SVX_OK);
    for (size_t i = 1; i < routes.entries.size(); ++i)
        EXPECT_LT(svx_route_entry_cmp(&routes.entries[i - 1], &routes.entries[i]), 0) << i;
    for (const svx_route_target& k : routes.targets) {
        EXPECT_EQ(k.expires, 0u);
        EXPECT_GE(k.weight, 1u);
    }
    // Entry for entry, the same targets as the snapshot (which sorts its own).
    const auto snap = t.snapshot(t0);
    ASSERT_EQ(snap.size(), routes.entries.size());
    std::vector<uint32_t> covered(routes.targets.size(), 0);
    for (size_t i = 0; i < snap.size(); ++i) {
        const svx_route_entry& e = routes.entries[i];
        EXPECT_EQ(e.bits, snap[i].bits);
        EXPECT_EQ(svx_sid_cmp(&e.prefix, &snap[i].prefix), 0);
        std::vector<std::tuple<Ipv4Address, uint32_t, uint32_t>> got, want;
        for (uint32_t k = e.first; k < e.first + e.n_targets; ++k) {
            const svx_route_target& x = routes.targets[k];
            got.emplace_back(Ipv4Address{x.addr[0], x.addr[1], x.addr[2], x.addr[3]}, x.priority,
                             x.weight);
            ++covered[k];
        }
        for (const TargetInfo& ti : snap[i].targets)
            want.emplace_back(ti.address, ti.priority, ti.weight);
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        EXPECT_EQ(got, want) << i;
    }
    // Every exported target belongs to exactly one entry.
    EXPECT_TRUE(std::all_of(covered.begin(), covered.end(), [](uint32_t n) { return n == 1; }));

    // An empty table exports an empty, valid table.
    ServiceTable empty;
    const auto none = empty.routes();
    EXPECT_TRUE(none.entries.empty());
    EXPECT_TRUE(none.targets.empty());
    const svx_route_table nv = view_of(none);
    EXPECT_EQ(svx_route_table_check(&nv), SVX_OK);
}

TEST(router_service_table, RoutesResolveLikeTheTable) {
    const uint32_t seed = test::test_seed(6);
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937 gen(seed);
    ServiceTable t;
    fill_mixed(t, gen);
    const auto routes = t.routes();
    const svx_route_table v = view_of(routes);
    ASSERT_EQ(svx_route_table_check(&v), SVX_OK);
    std::mt19937_64 gen64(seed);
    const TimePoint now = t0 + 1s; // registrations live
    size_t ok = 0, no_entry = 0;
    for (uint32_t i = 1; i <= 200; ++i) {
        const svx_sid base = sid_u32(i * 2654435761u);
        // The ID itself, one differing past 32 bits, past 200 bits, and in bit 0.
        for (const svx_sid& id : {base, flip_bit(base, 255), flip_bit(base, 100),
                                  flip_bit(base, 28), flip_bit(base, 0)}) {
            for (uint64_t r : {uint64_t{0}, UINT64_MAX, gen64(), gen64(), gen64()}) {
                const ResolveResult want = t.resolve(id, now, r);
                uint8_t got[4] = {0xee, 0xee, 0xee, 0xee};
                const svx_route_status status = svx_route_resolve(&v, &id, 0, r, got);
                switch (want.status) {
                case Status::ok:
                    ++ok;
                    ASSERT_EQ(status, SVX_ROUTE_OK);
                    EXPECT_TRUE(std::equal(want.target.begin(), want.target.end(), got))
                        << "service " << i << " random " << r;
                    EXPECT_EQ(svx_route_lookup(&v, &id)->bits, want.matched_bits);
                    break;
                case Status::no_entry:
                    ++no_entry;
                    EXPECT_EQ(status, SVX_ROUTE_NO_ENTRY);
                    break;
                case Status::no_live_target:
                    ADD_FAILURE() << "nothing has expired at now";
                    break;
                }
            }
        }
    }
    EXPECT_GT(ok, 0u);
    // The default route is there: everything resolves.
    EXPECT_EQ(no_entry, 0u);

    // After expire(), the export no longer holds the registrations (their
    // addresses are 31.x.{1,2,4,5}.y; static ones 30.0.0.y and 31.x.{0,3}.y).
    EXPECT_GT(t.expire(t0 + 1h), 0u);
    const auto later = t.routes();
    const svx_route_table lv = view_of(later);
    ASSERT_EQ(svx_route_table_check(&lv), SVX_OK);
    EXPECT_EQ(later.targets.size(), t.target_count());
    for (const svx_route_target& k : later.targets)
        EXPECT_TRUE(k.addr[2] == 0 || k.addr[2] == 3) << "a registered target survived expire()";
}

TEST(router_service_table, TotalTargetLimitRefusesNewTargets) {
    ServiceTable t;
    t.limit_total_targets(3);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(40, 0, 0, 1), t0),
              RegistrationOutcome::added);
    EXPECT_TRUE(t.add_static(sid_u32(2), 256, ip(40, 0, 0, 2), 1, 1, t0));
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(40, 0, 0, 3), t0),
              RegistrationOutcome::added);
    ASSERT_EQ(t.target_count(), 3u);
    ASSERT_EQ(t.entry_count(), 2u);
    const uint64_t g = t.generation();

    // A new entry or a new target on an existing entry: refused, nothing left behind.
    EXPECT_EQ(t.apply_registration(reg(sid_u32(3)), ip(40, 0, 0, 4), t0),
              RegistrationOutcome::table_full);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(40, 0, 0, 4), t0),
              RegistrationOutcome::table_full);
    EXPECT_FALSE(t.add_static(sid_u32(4), 256, ip(40, 0, 0, 5), 1, 1, t0));
    EXPECT_FALSE(t.add_static(sid_u32(2), 256, ip(40, 0, 0, 5), 1, 1, t0));
    EXPECT_FALSE(t.add_static(svx_sid{}, 0, ip(40, 0, 0, 5), 1, 1, t0));
    EXPECT_EQ(t.entry_count(), 2u);
    EXPECT_EQ(t.target_count(), 3u);
    EXPECT_EQ(t.generation(), g);
    EXPECT_EQ(t.resolve(sid_u32(3), t0, uint64_t{0}).status, Status::no_entry);
    EXPECT_EQ(t.resolve(sid_u32(4), t0, uint64_t{0}).status, Status::no_entry);
    EXPECT_EQ(t.resolve(kId, t0, uint64_t{0}).status, Status::no_entry);
    EXPECT_EQ(t.snapshot(t0).size(), 2u);
    EXPECT_EQ(t.routes().entries.size(), 2u);

    // What adds no target still works at the limit.
    EXPECT_EQ(t.apply_registration(reg(sid_u32(1)), ip(40, 0, 0, 1), t0 + 1s),
              RegistrationOutcome::refreshed);
    EXPECT_EQ(t.apply_registration(rereg(sid_u32(1), ip(40, 0, 0, 3)), ip(40, 0, 0, 6), t0),
              RegistrationOutcome::moved);
    EXPECT_TRUE(t.add_static(sid_u32(2), 256, ip(40, 0, 0, 2), 3, 9, t0)); // reweight
    EXPECT_TRUE(t.add_static(sid_u32(1), 256, ip(40, 0, 0, 1), 1, 1, t0)); // becomes static
    EXPECT_EQ(t.target_count(), 3u);

    // Room again after a removal.
    ASSERT_TRUE(t.remove_target(sid_u32(2), 256, ip(40, 0, 0, 2)));
    EXPECT_EQ(t.entry_count(), 1u);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(3)), ip(40, 0, 0, 4), t0),
              RegistrationOutcome::added);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(5)), ip(40, 0, 0, 4), t0),
              RegistrationOutcome::table_full);
    EXPECT_EQ(t.entry_count(), 2u);

    // Lowering the limit below the count keeps what is there, refuses more.
    t.limit_total_targets(1);
    EXPECT_EQ(t.target_count(), 3u);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(6)), ip(40, 0, 0, 7), t0),
              RegistrationOutcome::table_full);
    EXPECT_EQ(t.entry_count(), 2u);
    // Raising it lets them in.
    t.limit_total_targets(4);
    EXPECT_EQ(t.apply_registration(reg(sid_u32(6)), ip(40, 0, 0, 7), t0),
              RegistrationOutcome::added);
    EXPECT_EQ(t.target_count(), 4u);
}

TEST(router_service_table, ZeroTotalTargetsAcceptsNothing) {
    ServiceTable t;
    t.limit_total_targets(0);
    EXPECT_EQ(t.apply_registration(reg(kId), ip(41, 0, 0, 1), t0), RegistrationOutcome::table_full);
    EXPECT_FALSE(t.add_static(kId, 256, ip(41, 0, 0, 1), 1, 1, t0));
    EXPECT_FALSE(t.add_static(svx_sid{}, 0, ip(41, 0, 0, 1), 1, 1, t0));
    EXPECT_EQ(t.entry_count(), 0u);
    EXPECT_TRUE(t.snapshot(t0).empty());
    EXPECT_TRUE(t.routes().entries.empty());
    EXPECT_EQ(t.resolve(kId, t0, uint64_t{0}).status, Status::no_entry);
}

} // namespace
} // namespace svxlat::router
