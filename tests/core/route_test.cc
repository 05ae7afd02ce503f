// The service router's decisions in the shared core (route.h): the weighted
// choice among live targets of the highest priority, the immutable table's
// validation and longest-prefix match (against a brute-force LPM), and the
// C entry points of registration detection and the forwarding rewrite
// (svx_router_forward against the reference router's captures and every
// refusal: tests/router/forward_test.cc).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <svxlat/csum.h>
#include <svxlat/engine.h>
#include <svxlat/pkt.h>
#include <svxlat/reg.h>
#include <svxlat/route.h>
#include <svxlat/sal.h>
#include <svxlat/sid.h>

#include "vectors.h"

namespace svxlat::test {
namespace {

namespace hm = handmade;

using u128 = unsigned __int128;

constexpr unsigned kStrict = SVX_PKT_VERIFY_IP_CSUM | SVX_PKT_VERIFY_L4_CSUM;

svx_route_target target(uint8_t last, uint32_t priority = 0, uint32_t weight = 1,
                        uint64_t expires = 0) {
    svx_route_target t{};
    t.addr[0] = 10;
    t.addr[1] = 0;
    t.addr[2] = 0;
    t.addr[3] = last;
    t.priority = priority;
    t.weight = weight;
    t.expires = expires;
    return t;
}

int pick(const std::vector<svx_route_target>& t, uint64_t now, uint64_t random) {
    return svx_route_pick(t.data(), static_cast<uint32_t>(t.size()), now, random);
}

// The specification of svx_route_pick, with 128-bit arithmetic: among the
// live targets of the highest live priority, the one whose cumulative weight
// range holds floor(random * total / 2^64).
int reference_pick(const std::vector<svx_route_target>& t, uint64_t now, uint64_t random) {
    bool any = false;
    uint32_t top = 0;
    for (const auto& x : t)
        if (x.expires == 0 || now < x.expires) {
            top = any ? std::max(top, x.priority) : x.priority;
            any = true;
        }
    if (!any)
        return -1;
    u128 total = 0;
    for (const auto& x : t)
        if ((x.expires == 0 || now < x.expires) && x.priority == top)
            total += x.weight;
    const u128 point = (static_cast<u128>(random) * total) >> 64;
    u128 acc = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        const auto& x = t[i];
        if (!(x.expires == 0 || now < x.expires) || x.priority != top)
            continue;
        acc += x.weight;
        if (point < acc)
            return static_cast<int>(i);
    }
    return -2; // unreachable for weights >= 1
}

// ceil(i * 2^64 / n): the smallest random value whose point is i * total / n.
uint64_t spaced_random(uint64_t i, uint64_t n) {
    const u128 num = static_cast<u128>(i) << 64;
    return static_cast<uint64_t>((num + n - 1) / n);
}

// ---------------------------------------------------------------------------
// svx_route_pick

TEST(core_route_pick, NothingLiveIsMinusOne) {
    EXPECT_EQ(svx_route_pick(nullptr, 0, 0, 0), -1);
    std::vector<svx_route_target> t = {target(1, 0, 1, 100), target(2, 5, 9, 50)};
    EXPECT_EQ(pick(t, 100, 0), -1);
    EXPECT_EQ(pick(t, 100, UINT64_MAX), -1);
    EXPECT_EQ(pick(t, UINT64_MAX, 12345), -1);
}

TEST(core_route_pick, ExpiryBoundaries) {
    // Live while now < expires; expires == now is dead; 0 never expires.
    std::vector<svx_route_target> t = {target(1, 0, 1, 100)};
    EXPECT_EQ(pick(t, 0, 0), 0);
    EXPECT_EQ(pick(t, 99, 0), 0);
    EXPECT_EQ(pick(t, 100, 0), -1);
    EXPECT_EQ(pick(t, 101, 0), -1);
    t = {target(1, 0, 1, 0)};
    EXPECT_EQ(pick(t, UINT64_MAX, 0), 0);
    EXPECT_EQ(pick(t, UINT64_MAX, UINT64_MAX), 0);
    // expires 1 is the earliest possible expiry: live only at now 0.
    t = {target(1, 0, 1, 1)};
    EXPECT_EQ(pick(t, 0, 7), 0);
    EXPECT_EQ(pick(t, 1, 7), -1);
}

TEST(core_route_pick, ExpiredTargetsAreSkipped) {
    // The expired targets hold most of the weight: they must not absorb any point.
    std::vector<svx_route_target> t = {target(1, 0, 1000, 50), target(2, 0, 1),
                                       target(3, 0, 1000, 60), target(4, 0, 1, 61)};
    for (uint64_t i = 0; i < 64; ++i) {
        const uint64_t r = spaced_random(i, 64);
        const int got = pick(t, 60, r);
        EXPECT_TRUE(got == 1 || got == 3) << i;
        EXPECT_EQ(got, i < 32 ? 1 : 3) << i;
        EXPECT_EQ(pick(t, 61, r), 1) << i;
    }
}

TEST(core_route_pick, HighestLivePriorityGroupWins) {
    // Priority 1 with a huge weight loses to priority 2 with weight 1.
    std::vector<svx_route_target> t = {target(1, 1, UINT32_MAX), target(2, 2, 1),
                                       target(3, 1, UINT32_MAX)};
    for (uint64_t r : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 63, UINT64_MAX})
        EXPECT_EQ(pick(t, 0, r), 1);
    // Once the priority-2 target expires, the priority-1 group is used.
    t[1].expires = 10;
    EXPECT_EQ(pick(t, 9, UINT64_MAX), 1);
    EXPECT_EQ(pick(t, 10, 0), 0);
    EXPECT_EQ(pick(t, 10, UINT64_MAX), 2);
    // A dead top priority does not hide the live group below it, wherever it is.
    t = {target(1, 7, 5, 3), target(2, 0, 1), target(3, 0, 1), target(4, 7, 5, 3)};
    EXPECT_EQ(pick(t, 3, 0), 1);
    EXPECT_EQ(pick(t, 3, UINT64_MAX), 2);
    EXPECT_EQ(pick(t, 2, 0), 0);
    EXPECT_EQ(pick(t, 2, UINT64_MAX), 3);
    // Priority UINT32_MAX is just the highest.
    t = {target(1, UINT32_MAX - 1, 1), target(2, UINT32_MAX, 1), target(3, 0, 1)};
    EXPECT_EQ(pick(t, 0, 0), 1);
    EXPECT_EQ(pick(t, 0, UINT64_MAX), 1);
}

TEST(core_route_pick, CountsAreExactlyProportionalToWeights) {
    // Weights 1, 2, 3, 4 (total 10) in the top group, interleaved with a
    // lower-priority and an expired target. N evenly spaced random values:
    // each target gets exactly weight * N / 10 of them, in order.
    std::vector<svx_route_target> t = {target(1, 3, 1), target(2, 0, 50),   target(3, 3, 2),
                                       target(4, 3, 3), target(5, 9, 7, 5), target(6, 3, 4)};
    constexpr uint64_t n = 10000;
    std::vector<uint64_t> counts(t.size(), 0);
    int previous = -1;
    for (uint64_t i = 0; i < n; ++i) {
        const int got = pick(t, 5, spaced_random(i, n));
        ASSERT_GE(got, 0) << i;
        ASSERT_GE(got, previous) << "choices follow the cumulative weights in order, i=" << i;
        previous = got;
        ++counts[static_cast<size_t>(got)];
    }
    EXPECT_EQ(counts, (std::vector<uint64_t>{1000, 0, 2000, 3000, 0, 4000}));

    // The same sweep with the plain floor spacing i * floor(2^64 / N): within one
    // of the exact share at each boundary.
    std::fill(counts.begin(), counts.end(), 0);
    const uint64_t step = UINT64_MAX / n;
    for (uint64_t i = 0; i < n; ++i)
        ++counts[static_cast<size_t>(pick(t, 5, i * step))];
    EXPECT_NEAR(static_cast<double>(counts[0]), 1000, 1);
    EXPECT_NEAR(static_cast<double>(counts[2]), 2000, 1);
    EXPECT_NEAR(static_cast<double>(counts[3]), 3000, 1);
    EXPECT_NEAR(static_cast<double>(counts[5]), 4000, 1);
    EXPECT_EQ(counts[1] + counts[4], 0u);
}

TEST(core_route_pick, EndsOfTheRandomRange) {
    // random 0: the first live target of the top group; UINT64_MAX: the last.
    std::vector<svx_route_target> t = {target(1, 0, 1),  target(2, 4, 1, 10), target(3, 4, 2),
                                       target(4, 1, 8),  target(5, 4, 3),     target(6, 4, 1, 10),
                                       target(7, 2, 100)};
    EXPECT_EQ(pick(t, 10, 0), 2);
    EXPECT_EQ(pick(t, 10, UINT64_MAX), 4);
    EXPECT_EQ(pick(t, 9, 0), 1);
    EXPECT_EQ(pick(t, 9, UINT64_MAX), 5);
}

TEST(core_route_pick, SameRandomSameChoice) {
    std::vector<svx_route_target> t = {target(1, 0, 3), target(2, 0, 5), target(3, 0, 7)};
    std::mt19937_64 gen(test_seed(11));
    for (int i = 0; i < 1000; ++i) {
        const uint64_t r = gen();
        const int first = pick(t, 0, r);
        EXPECT_EQ(pick(t, 0, r), first);
        EXPECT_EQ(pick(t, 1000, r), first); // no expiry: time does not matter
    }
}

TEST(core_route_pick, HugeWeightsDoNotOverflow) {
    // Four targets of weight UINT32_MAX: total 2^34 - 4, boundaries at quarters.
    std::vector<svx_route_target> t(4, target(0, 0, UINT32_MAX));
    for (uint8_t i = 0; i < 4; ++i)
        t[i].addr[3] = i;
    const uint64_t q = uint64_t{1} << 62;
    EXPECT_EQ(pick(t, 0, 0), 0);
    EXPECT_EQ(pick(t, 0, q - 1), 0);
    EXPECT_EQ(pick(t, 0, q), 1); // point = UINT32_MAX, the first of target 1
    EXPECT_EQ(pick(t, 0, 2 * q - 1), 1);
    EXPECT_EQ(pick(t, 0, 2 * q), 2);
    EXPECT_EQ(pick(t, 0, 3 * q), 3);
    EXPECT_EQ(pick(t, 0, UINT64_MAX), 3);

    // Many huge weights (total near 2^42) and mixed sizes: every pick agrees
    // with the 128-bit specification.
    std::mt19937_64 gen(test_seed(12));
    std::vector<svx_route_target> many;
    for (uint32_t i = 0; i < 1000; ++i)
        many.push_back(target(static_cast<uint8_t>(i), 0,
                              i % 3 == 0 ? UINT32_MAX : static_cast<uint32_t>(gen() | 1)));
    for (int i = 0; i < 20000; ++i) {
        const uint64_t r = i < 4 ? (i < 2 ? uint64_t(i) : UINT64_MAX - uint64_t(i - 2)) : gen();
        ASSERT_EQ(pick(many, 0, r), reference_pick(many, 0, r)) << "random " << r;
    }
    EXPECT_EQ(pick(many, 0, UINT64_MAX), 999);
}

TEST(core_route_pick, AgreesWithTheSpecificationOnRandomSets) {
    const uint32_t seed = test_seed(13);
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 gen(seed);
    for (int round = 0; round < 2000; ++round) {
        std::vector<svx_route_target> t(gen() % 9);
        for (size_t i = 0; i < t.size(); ++i) {
            const uint32_t weights[] = {1, 2, 7, 1000, UINT32_MAX, UINT32_MAX - 1};
            t[i] = target(static_cast<uint8_t>(i), static_cast<uint32_t>(gen() % 3),
                          weights[gen() % 6], gen() % 3 == 0 ? gen() % 20 + 1 : 0);
        }
        const uint64_t now = gen() % 21;
        for (int k = 0; k < 20; ++k) {
            const uint64_t r = gen();
            ASSERT_EQ(pick(t, now, r), reference_pick(t, now, r)) << "round " << round;
        }
    }
}

// ---------------------------------------------------------------------------
// Tables

svx_sid masked(svx_sid id, unsigned bits) {
    svx_sid_mask(&id, bits);
    return id;
}

svx_route_entry entry(const svx_sid& prefix, uint16_t bits, uint32_t first, uint32_t n) {
    svx_route_entry e{};
    e.prefix = prefix;
    e.bits = bits;
    e.first = first;
    e.n_targets = n;
    return e;
}

struct Table {
    std::vector<svx_route_entry> entries;
    std::vector<svx_route_target> targets;
    svx_route_table view() const {
        return {entries.data(), static_cast<uint32_t>(entries.size()), targets.data(),
                static_cast<uint32_t>(targets.size())};
    }
    svx_err check() const {
        svx_route_table v = view();
        return svx_route_table_check(&v);
    }
};

svx_sid flip_bit(svx_sid id, unsigned bit) {
    id.b[bit / 8] = static_cast<uint8_t>(id.b[bit / 8] ^ (0x80 >> (bit % 8)));
    return id;
}

const svx_sid kBase = sid_from_text(hm::service_id);

// Full ID, /24, /8 and the default route, each with its own target 10.0.0.N.
Table four_lengths() {
    Table t;
    t.targets = {target(1), target(2), target(3), target(4)};
    t.entries = {entry(kBase, 256, 0, 1), entry(masked(kBase, 24), 24, 1, 1),
                 entry(masked(kBase, 8), 8, 2, 1), entry(svx_sid{}, 0, 3, 1)};
    return t;
}

TEST(core_route_table, EntryOrderIsLongerFirstThenById) {
    svx_sid lo{}, hi{};
    lo.b[0] = 0x10;
    hi.b[0] = 0x20;
    const svx_route_entry a = entry(lo, 8, 0, 1), b = entry(hi, 8, 0, 1), c = entry(hi, 16, 0, 1);
    EXPECT_LT(svx_route_entry_cmp(&a, &b), 0);
    EXPECT_GT(svx_route_entry_cmp(&b, &a), 0);
    EXPECT_LT(svx_route_entry_cmp(&c, &a), 0); // 16 bits before 8, whatever the ID
    EXPECT_GT(svx_route_entry_cmp(&a, &c), 0);
    EXPECT_EQ(svx_route_entry_cmp(&a, &a), 0);
    // Targets are not part of the order.
    const svx_route_entry a2 = entry(lo, 8, 5, 3);
    EXPECT_EQ(svx_route_entry_cmp(&a, &a2), 0);
}

TEST(core_route_table, CheckAcceptsValidTables) {
    EXPECT_EQ(four_lengths().check(), SVX_OK);
    const svx_route_table empty{nullptr, 0, nullptr, 0};
    EXPECT_EQ(svx_route_table_check(&empty), SVX_OK);
    // Entries sharing targets and an entry ending exactly at the last target.
    Table t = four_lengths();
    t.entries[0].n_targets = 4;
    t.entries[3].first = 3;
    t.entries[1] = entry(masked(kBase, 24), 24, 0, 4);
    EXPECT_EQ(t.check(), SVX_OK);
    t.targets[2].weight = UINT32_MAX;
    EXPECT_EQ(t.check(), SVX_OK);
}

TEST(core_route_table, CheckRejectsDisorder) {
    Table t = four_lengths();
    std::swap(t.entries[1], t.entries[2]); // /8 before /24
    EXPECT_EQ(t.check(), SVX_E_INVAL);

    t = four_lengths();
    std::swap(t.entries[0], t.entries[3]); // default route first
    EXPECT_EQ(t.check(), SVX_E_INVAL);

    // Same length, IDs descending.
    t = four_lengths();
    svx_sid other = flip_bit(kBase, 255);
    t.entries.insert(t.entries.begin() + 1, entry(other, 256, 0, 1));
    ASSERT_EQ(t.check(), svx_sid_cmp(&kBase, &other) < 0 ? SVX_OK : SVX_E_INVAL);
    std::swap(t.entries[0], t.entries[1]);
    EXPECT_EQ(t.check(), svx_sid_cmp(&kBase, &other) < 0 ? SVX_E_INVAL : SVX_OK);

    // Duplicates: next to each other or not, even with other targets.
    t = four_lengths();
    t.entries.insert(t.entries.begin() + 2, entry(masked(kBase, 24), 24, 2, 2));
    EXPECT_EQ(t.check(), SVX_E_INVAL);
    t = four_lengths();
    t.entries.push_back(entry(svx_sid{}, 0, 0, 1));
    EXPECT_EQ(t.check(), SVX_E_INVAL);
}

TEST(core_route_table, CheckRejectsBadEntries) {
    Table t = four_lengths();
    t.entries[1].prefix.b[2] |= 0x01; // bit 23 is inside /24: fine
    EXPECT_EQ(t.check(), SVX_OK);
    t.entries[1].prefix.b[3] |= 0x80; // bit 24 is outside /24
    EXPECT_EQ(t.check(), SVX_E_INVAL);
    t = four_lengths();
    t.entries[3].prefix.b[31] = 1; // a default route with a non-zero prefix
    EXPECT_EQ(t.check(), SVX_E_INVAL);

    t = four_lengths();
    t.entries[0].bits = 257;
    EXPECT_EQ(t.check(), SVX_E_INVAL);
    t.entries[0].bits = UINT16_MAX;
    EXPECT_EQ(t.check(), SVX_E_INVAL);

    t = four_lengths();
    t.entries[2].n_targets = 0;
    EXPECT_EQ(t.check(), SVX_E_INVAL);

    t = four_lengths();
    t.targets[2].weight = 0;
    EXPECT_EQ(t.check(), SVX_E_INVAL);
    // A weight-0 target no entry points at is not looked at.
    t = four_lengths();
    t.targets.push_back(target(9, 0, 0));
    EXPECT_EQ(t.check(), SVX_OK);
}

TEST(core_route_table, CheckRejectsTargetRangesOutside) {
    struct Range {
        uint32_t first, n;
        bool ok;
    };
    // Four targets.
    const Range ranges[] = {
        {0, 4, true},
        {3, 1, true},
        {4, 1, false},          // first == n_targets
        {3, 2, false},          // one past the end
        {0, 5, false},          //
        {5, 0, false},          // n 0 anyway
        {UINT32_MAX, 1, false}, // first + n wraps to 0
        {UINT32_MAX, 2, false}, // wraps to 1 < 4
        {1, UINT32_MAX, false}, // wraps to 0
        {2, UINT32_MAX - 1, false},
        {UINT32_MAX - 1, 3, false},
    };
    for (const Range& r : ranges) {
        Table t = four_lengths();
        t.entries[2].first = r.first;
        t.entries[2].n_targets = r.n;
        EXPECT_EQ(t.check(), r.ok ? SVX_OK : SVX_E_INVAL) << r.first << " + " << r.n;
    }
    // With n_targets near 2^31, a range whose end wraps past 2^32 starts
    // inside the table: first + n (mod 2^32) is small. The view claims far
    // more targets than the array holds, which is harmless only because a
    // rejected range is never read (a check that let it through would read
    // gigabytes past the array).
    const svx_route_target one = target(1);
    const svx_route_entry wraps = entry(svx_sid{}, 0, 0x7fffffff, 0x80000002);
    const svx_route_table v{&wraps, 1, &one, 0x80000000};
    EXPECT_EQ(svx_route_table_check(&v), SVX_E_INVAL);
}

TEST(core_route_table, CheckRejectsMissingArrays) {
    Table t = four_lengths();
    svx_route_table v = t.view();
    v.entries = nullptr;
    EXPECT_EQ(svx_route_table_check(&v), SVX_E_INVAL);
    v = t.view();
    v.targets = nullptr;
    EXPECT_EQ(svx_route_table_check(&v), SVX_E_INVAL);
    v.n_targets = 0;
    EXPECT_EQ(svx_route_table_check(&v), SVX_E_INVAL);
    // No entries: the arrays are never read.
    v = {nullptr, 0, nullptr, 7};
    EXPECT_EQ(svx_route_table_check(&v), SVX_OK);
}

// ---------------------------------------------------------------------------
// svx_route_lookup / svx_route_resolve

struct Resolved {
    svx_route_status status;
    uint8_t target[4];
    uint8_t last() const { return target[3]; }
};

Resolved resolve(const Table& t, const svx_sid& id, uint64_t now = 0, uint64_t random = 0) {
    Resolved r{};
    std::memset(r.target, 0xee, sizeof r.target);
    const svx_route_table v = t.view();
    r.status = svx_route_resolve(&v, &id, now, random, r.target);
    return r;
}

const svx_route_entry* lookup(const Table& t, const svx_sid& id) {
    const svx_route_table v = t.view();
    return svx_route_lookup(&v, &id);
}

TEST(core_route_lookup, LongestPrefixWins) {
    const Table t = four_lengths();
    ASSERT_EQ(t.check(), SVX_OK);
    struct Case {
        svx_sid id;
        uint16_t bits;
        uint8_t target;
    };
    const Case cases[] = {
        {kBase, 256, 1},
        {flip_bit(kBase, 255), 24, 2}, // last bit differs
        {flip_bit(kBase, 24), 24, 2},  // first bit past /24
        {flip_bit(kBase, 23), 8, 3},   // last bit of /24
        {flip_bit(kBase, 8), 8, 3},
        {flip_bit(kBase, 7), 0, 4}, // last bit of /8
        {flip_bit(kBase, 0), 0, 4},
    };
    for (const Case& c : cases) {
        const svx_route_entry* e = lookup(t, c.id);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->bits, c.bits);
        EXPECT_EQ(e, &t.entries[static_cast<size_t>(c.target - 1)]);
        Resolved r = resolve(t, c.id);
        EXPECT_EQ(r.status, SVX_ROUTE_OK);
        EXPECT_EQ(r.last(), c.target) << c.bits;
    }
}

// Exact (prefix, bits) lookup: the module carries counts across tables with it.
TEST(core_route_lookup, FindIsExactOnPrefixAndBits) {
    const Table t = four_lengths();
    const svx_route_table v = t.view();
    for (const svx_route_entry& e : t.entries)
        EXPECT_EQ(svx_route_find(&v, &e.prefix, e.bits), &e) << e.bits;
    // The same prefix at another length, or an ID under a prefix, is not it.
    const svx_sid m24 = masked(kBase, 24);
    EXPECT_EQ(svx_route_find(&v, &m24, 25), nullptr);
    EXPECT_EQ(svx_route_find(&v, &kBase, 24), nullptr);
    const svx_sid other = flip_bit(kBase, 255);
    EXPECT_EQ(svx_route_find(&v, &other, 256), nullptr);
    const svx_route_table empty{};
    EXPECT_EQ(svx_route_find(&empty, &kBase, 256), nullptr);
}

TEST(core_route_lookup, NoMatchIsNoEntry) {
    Table t = four_lengths();
    t.entries.pop_back(); // no default route
    ASSERT_EQ(t.check(), SVX_OK);
    Resolved r = resolve(t, flip_bit(kBase, 7));
    EXPECT_EQ(r.status, SVX_ROUTE_NO_ENTRY);
    EXPECT_EQ(r.last(), 0xee); // target untouched
    EXPECT_EQ(lookup(t, flip_bit(kBase, 0)), nullptr);

    const Table empty;
    EXPECT_EQ(lookup(empty, kBase), nullptr);
    EXPECT_EQ(resolve(empty, kBase).status, SVX_ROUTE_NO_ENTRY);
}

TEST(core_route_lookup, LongestMatchWithoutLiveTargetDoesNotFallBack) {
    Table t = four_lengths();
    t.targets[1].expires = 100; // the /24's only target
    EXPECT_EQ(resolve(t, flip_bit(kBase, 30), 99).last(), 2);
    Resolved r = resolve(t, flip_bit(kBase, 30), 100, UINT64_MAX);
    EXPECT_EQ(r.status, SVX_ROUTE_NO_LIVE_TARGET);
    EXPECT_EQ(r.last(), 0xee);
    // The /256 and /8 are unaffected.
    EXPECT_EQ(resolve(t, kBase, 100).last(), 1);
    EXPECT_EQ(resolve(t, flip_bit(kBase, 20), 100).last(), 3);
}

TEST(core_route_lookup, ResolvePicksAmongTheEntrysOwnTargets) {
    // Two entries whose target ranges are adjacent: the pick stays in range,
    // its index is relative to the entry's first target.
    Table t;
    t.targets = {target(1, 0, 1), target(2, 5, 1), target(3, 0, 1), target(4, 1, 1),
                 target(5, 1, 3)};
    t.entries = {entry(kBase, 256, 0, 2), entry(svx_sid{}, 0, 2, 3)};
    ASSERT_EQ(t.check(), SVX_OK);
    for (uint64_t r : {uint64_t{0}, UINT64_MAX}) {
        EXPECT_EQ(resolve(t, kBase, 0, r).last(), 2);
    }
    EXPECT_EQ(resolve(t, flip_bit(kBase, 0), 0, 0).last(), 4);
    EXPECT_EQ(resolve(t, flip_bit(kBase, 0), 0, spaced_random(1, 4) - 1).last(), 4);
    EXPECT_EQ(resolve(t, flip_bit(kBase, 0), 0, spaced_random(1, 4)).last(), 5);
    EXPECT_EQ(resolve(t, flip_bit(kBase, 0), 0, UINT64_MAX).last(), 5);
}

// The longest entry whose prefix matches id, by a linear scan, or nullptr.
const svx_route_entry* brute_force_lpm(const std::vector<svx_route_entry>& entries,
                                       const svx_sid& id) {
    const svx_route_entry* best = nullptr;
    for (const auto& e : entries)
        if (svx_sid_prefix_match(&id, &e.prefix, e.bits) && (!best || e.bits > best->bits))
            best = &e;
    return best;
}

svx_sid random_sid(std::mt19937_64& gen) {
    svx_sid id;
    for (size_t i = 0; i < SVX_SID_LEN; i += 8) {
        const uint64_t w = gen();
        std::memcpy(id.b + i, &w, 8);
    }
    return id;
}

TEST(core_route_lookup, BinarySearchAgreesWithLinearScan) {
    const uint32_t seed = test_seed(2024);
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 gen(seed);
    // Prefixes derived from a few base IDs so that they nest across lengths.
    std::vector<svx_sid> bases;
    for (int i = 0; i < 24; ++i)
        bases.push_back(random_sid(gen));
    const uint16_t lengths[] = {256, 255, 64, 24, 17, 9};
    Table t;
    // Two short prefixes covering only IDs whose first bit is 0, so that
    // random IDs often match nothing without a default route.
    svx_sid p001{};
    p001.b[0] = 0x20;
    t.entries = {entry(svx_sid{}, 1, 0, 1), entry(p001, 3, 0, 1)};
    while (t.entries.size() < 1002) {
        const uint16_t bits = lengths[gen() % std::size(lengths)];
        svx_sid p = bases[gen() % bases.size()];
        // Differ from the base somewhere inside the prefix, often near its end.
        if (bits > 0 && gen() % 4 != 0) {
            const unsigned from = gen() % 2 ? bits - std::min<unsigned>(bits, 12) : 0;
            p = flip_bit(p, from + static_cast<unsigned>(gen() % (bits - from)));
        }
        svx_route_entry e = entry(masked(p, bits), bits, 0, 1);
        t.entries.push_back(e);
        std::sort(t.entries.begin(), t.entries.end(),
                  [](const svx_route_entry& a, const svx_route_entry& b) {
                      return svx_route_entry_cmp(&a, &b) < 0;
                  });
        t.entries.erase(std::unique(t.entries.begin(), t.entries.end(),
                                    [](const svx_route_entry& a, const svx_route_entry& b) {
                                        return svx_route_entry_cmp(&a, &b) == 0;
                                    }),
                        t.entries.end());
    }
    for (size_t i = 0; i < t.entries.size(); ++i) {
        t.entries[i].first = static_cast<uint32_t>(i);
        t.targets.push_back(target(static_cast<uint8_t>(i), 0, 1));
        t.targets.back().addr[2] = static_cast<uint8_t>(i >> 8);
    }
    ASSERT_EQ(t.check(), SVX_OK);

    for (bool with_default : {false, true}) {
        if (with_default) {
            t.entries.push_back(entry(svx_sid{}, 0, 0, 1));
            ASSERT_EQ(t.check(), SVX_OK);
        }
        size_t matched = 0;
        std::vector<size_t> by_bits(257, 0);
        for (int q = 0; q < 10000; ++q) {
            svx_sid id;
            switch (gen() % 3) {
            case 0: // anything
                id = random_sid(gen);
                break;
            case 1: { // an entry's prefix with a random tail
                const svx_route_entry& e = t.entries[gen() % t.entries.size()];
                id = random_sid(gen);
                for (unsigned b = 0; b < e.bits; ++b)
                    if (svx_sid_bit(&id, b) != svx_sid_bit(&e.prefix, b))
                        id = flip_bit(id, b);
                break;
            }
            default: // a base ID with a bit flipped
                id = flip_bit(bases[gen() % bases.size()], static_cast<unsigned>(gen() % 256));
                break;
            }
            const svx_route_entry* want = brute_force_lpm(t.entries, id);
            const svx_route_entry* got = lookup(t, id);
            ASSERT_EQ(got, want) << "query " << q << " id " << to_hex(id.b) << " want bits "
                                 << (want ? int(want->bits) : -1) << " got bits "
                                 << (got ? int(got->bits) : -1);
            if (want) {
                ++matched;
                ++by_bits[want->bits];
                Resolved r = resolve(t, id, 0, gen());
                ASSERT_EQ(r.status, SVX_ROUTE_OK);
                EXPECT_EQ(std::memcmp(r.target, t.targets[want->first].addr, 4), 0);
            } else {
                EXPECT_EQ(resolve(t, id).status, SVX_ROUTE_NO_ENTRY);
            }
        }
        // The queries reached every prefix length (the test means something).
        for (uint16_t bits : lengths)
            EXPECT_GT(by_bits[bits], 0u) << bits;
        EXPECT_GT(by_bits[1], 0u);
        EXPECT_GT(by_bits[3], 0u);
        if (with_default) {
            EXPECT_EQ(matched, 10000u);
            EXPECT_GT(by_bits[0], 0u);
        } else {
            EXPECT_LT(matched, 10000u);
        }
    }
    // Every entry's own prefix finds that very entry.
    for (const auto& e : t.entries)
        EXPECT_EQ(lookup(t, e.prefix), brute_force_lpm(t.entries, e.prefix));
}

// ---------------------------------------------------------------------------
// svx_router_is_registration / svx_router_forward

svx_sid sid_u32(uint32_t n) {
    svx_sid id;
    svx_reg_sid_from_u32(&id, n);
    return id;
}

const svx_sid kRouterId = sid_u32(SVX_REG_DEFAULT_ROUTER_ID);

Bytes registration(const svx_sid& dst_service) {
    svx_ipv4_spec ip{};
    std::memcpy(ip.saddr, hm::client.data(), 4);
    std::memcpy(ip.daddr, hm::router.data(), 4);
    ip.ttl = 64;
    svx_reg_datagram d{};
    d.src_flow = 3;
    d.dst_service = dst_service;
    d.src_service = sid_u32(SVX_REG_DEFAULT_CLIENT_ID);
    d.msg.type = SVX_CTRLMSG_REGISTER;
    d.msg.prefix_bits = 256;
    d.msg.service_id = kBase;
    Bytes out(SVX_REG_DATAGRAM_LEN);
    EXPECT_EQ(svx_reg_datagram_build(out.data(), out.size(), &ip, &d), SVX_REG_DATAGRAM_LEN);
    return out;
}

bool is_registration(const Bytes& pkt, const svx_sid& router_id = kRouterId) {
    svx_pkt_view v;
    EXPECT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kStrict, &v), SVX_OK) << hexdump(pkt);
    return svx_router_is_registration(pkt.data(), &v, &router_id);
}

PacketBuilder syn_to_router() {
    PacketBuilder b;
    b.ipv4(hm::client, hm::router)
        .id(0x4321)
        .df()
        .sal(hm::client_flow, 0)
        .control(SVX_CTL_SYN, hm::client_iss, 0, hm::client_nonce)
        .service(hm::service_id)
        .tcp(40000, 80)
        .seq(hm::client_isn)
        .flags(SVX_TCP_SYN)
        .window(29200)
        .mss(1448)
        .payload("hello");
    return b;
}

TEST(core_router_registration, DatagramToTheRouterIdIsARegistration) {
    EXPECT_TRUE(is_registration(registration(kRouterId)));
    // Another router's ID, or ours on someone else's datagram.
    EXPECT_FALSE(is_registration(registration(sid_u32(SVX_REG_DEFAULT_ROUTER_ID + 1))));
    EXPECT_FALSE(is_registration(registration(kRouterId), sid_u32(1)));
    // The last byte of the ID counts.
    EXPECT_FALSE(is_registration(registration(flip_bit(kRouterId, 255))));
    // The handmade V11 is one (sent to the default router ID).
    const auto vectors = read_handmade_vectors();
    EXPECT_TRUE(is_registration(find_vector(vectors, "V11").bytes));
}

TEST(core_router_registration, OtherPacketsAreNot) {
    // A connection SYN to the router ID (CONTROL present), TCP or UDP.
    EXPECT_FALSE(is_registration(PacketBuilder()
                                     .ipv4(hm::client, hm::router)
                                     .sal(1, 0)
                                     .control(SVX_CTL_SYN, 1, 0)
                                     .service(kRouterId)
                                     .service(kRouterId)
                                     .udp(0, 0)
                                     .build()));
    EXPECT_FALSE(is_registration(PacketBuilder()
                                     .ipv4(hm::client, hm::router)
                                     .sal(1, 0)
                                     .control(SVX_CTL_SYN, 1, 0)
                                     .service(kRouterId)
                                     .tcp(1, 2)
                                     .flags(SVX_TCP_SYN)
                                     .build()));
    // Unconnected, but TCP.
    EXPECT_FALSE(is_registration(PacketBuilder()
                                     .ipv4(hm::client, hm::router)
                                     .sal(1, 0)
                                     .service(kRouterId)
                                     .service(kRouterId)
                                     .tcp(1, 2)
                                     .build()));
    // Unconnected UDP with only the destination SERVICE: not the datagram
    // layout svx_reg_datagram_parse() accepts (exactly two SERVICE).
    EXPECT_FALSE(is_registration(PacketBuilder()
                                     .ipv4(hm::client, hm::router)
                                     .sal(1, 0)
                                     .service(kRouterId)
                                     .udp(0, 0)
                                     .build()));
    // No SERVICE at all, and a plain SYN for a service.
    EXPECT_FALSE(
        is_registration(PacketBuilder().ipv4(hm::client, hm::router).sal(1, 0).udp(0, 0).build()));
    EXPECT_FALSE(is_registration(syn_to_router().build()));
    // The same two-SERVICE UDP datagram is one when SERVICE #0 is the router.
    EXPECT_TRUE(is_registration(PacketBuilder()
                                    .ipv4(hm::client, hm::router)
                                    .sal(1, 0)
                                    .service(kRouterId)
                                    .service(kBase)
                                    .udp(0, 0)
                                    .build()));
    EXPECT_FALSE(is_registration(PacketBuilder()
                                     .ipv4(hm::client, hm::router)
                                     .sal(1, 0)
                                     .service(kBase)
                                     .service(kRouterId)
                                     .udp(0, 0)
                                     .build()));
}

// A parsed packet in a buffer of cap bytes (the tail filled with 0xee).
struct Buffer {
    Bytes buf;
    svx_pkt_view v{};
    size_t len = 0;

    Buffer(const Bytes& pkt, size_t cap) : buf(pkt), len(pkt.size()) {
        buf.resize(cap, 0xee);
        EXPECT_EQ(svx_pkt_parse(pkt.data(), pkt.size(), kStrict, &v), SVX_OK) << hexdump(pkt);
    }
    int forward(const Ipv4Addr& to, size_t cap) {
        return svx_router_forward(buf.data(), cap, &v, to.data());
    }
    int forward(const Ipv4Addr& to) { return forward(to, buf.size()); }
    Bytes packet(size_t n) const { return Bytes(buf.begin(), buf.begin() + static_cast<long>(n)); }
};

void expect_same_view(const svx_pkt_view& a, const svx_pkt_view& b) {
    EXPECT_EQ(a.ip_hlen, b.ip_hlen);
    EXPECT_EQ(a.ip_len, b.ip_len);
    EXPECT_EQ(a.ip_proto, b.ip_proto);
    EXPECT_EQ(a.udp_encap, b.udp_encap);
    EXPECT_EQ(a.sal_off, b.sal_off);
    EXPECT_EQ(a.sal.len, b.sal.len);
    EXPECT_EQ(a.sal.n_source, b.sal.n_source);
    EXPECT_EQ(a.sal.source_off, b.sal.source_off);
    EXPECT_EQ(a.sal.n_service, b.sal.n_service);
    EXPECT_EQ(a.sal.service_off[0], b.sal.service_off[0]);
    EXPECT_EQ(a.sal.ctrl_off, b.sal.ctrl_off);
    EXPECT_EQ(a.l4_off, b.l4_off);
    EXPECT_EQ(a.l4_len, b.l4_len);
    EXPECT_EQ(a.l4_hlen, b.l4_hlen);
}

Ipv4Addr addr_at(const uint8_t* p) {
    Ipv4Addr a;
    std::memcpy(a.data(), p, 4);
    return a;
}

TEST(core_router_forward, AddsSourceAndRewritesTheHeaders) {
    const Bytes in = syn_to_router().build();
    Buffer b(in, in.size() + 12);
    const svx_pkt_view before = b.v;
    const Ipv4Addr to = {10, 1, 2, 3};
    ASSERT_EQ(b.forward(to), static_cast<int>(in.size() + 12));
    const Bytes out = b.packet(in.size() + 12);

    // The updated view is the one a fresh strict parse gives.
    svx_pkt_view fresh;
    ASSERT_EQ(svx_pkt_parse(out.data(), out.size(), kStrict, &fresh), SVX_OK) << hexdump(out);
    expect_same_view(b.v, fresh);
    EXPECT_EQ(fresh.ip_len, in.size() + 12);
    EXPECT_EQ(fresh.l4_off, before.l4_off + 12);
    EXPECT_EQ(fresh.sal.len, before.sal.len + 12);
    EXPECT_EQ(fresh.l4_len, before.l4_len);

    EXPECT_EQ(svx_get_be16(out.data() + 2), out.size());
    EXPECT_EQ(out[8], 63);                                            // TTL - 1
    EXPECT_EQ(addr_at(out.data() + 12), hm::client);                  // source kept
    EXPECT_EQ(addr_at(out.data() + 16), to);                          // new destination
    EXPECT_EQ(svx_get_be16(out.data() + 4), 0x4321);                  // IP ID kept
    EXPECT_EQ(svx_get_be16(out.data() + 6) & 0x4000, 0x4000);         // DF kept
    EXPECT_TRUE(std::equal(in.begin(), in.begin() + 2, out.begin())); // version, TOS

    // SOURCE [client, router] after the existing extensions.
    ASSERT_EQ(fresh.sal.n_source, 2);
    const uint8_t* sal = out.data() + fresh.sal_off;
    EXPECT_EQ(fresh.sal.source_off, before.sal.len);
    EXPECT_EQ(addr_at(svx_sal_source_addr(sal, &fresh.sal, 0)), hm::client);
    EXPECT_EQ(addr_at(svx_sal_source_addr(sal, &fresh.sal, 1)), hm::router);
    // CONTROL and SERVICE bytes unchanged; the transport segment unchanged
    // apart from its checksum (bytes 16-17 of TCP).
    const auto sal_in = in.begin() + before.sal_off, sal_out = out.begin() + fresh.sal_off;
    EXPECT_TRUE(std::equal(sal_in, sal_in + 8, sal_out)); // flow IDs
    EXPECT_EQ(sal_in[9], sal_out[9]);                     // protocol
    EXPECT_TRUE(std::equal(sal_in + 12, sal_in + before.sal.len, sal_out + 12));
    Bytes l4_in(in.begin() + before.l4_off, in.end());
    Bytes l4_out(out.begin() + fresh.l4_off, out.end());
    ASSERT_EQ(l4_in.size(), l4_out.size());
    l4_in[16] = l4_in[17] = l4_out[16] = l4_out[17] = 0;
    EXPECT_EQ(l4_in, l4_out);
    // Nothing written beyond the new length (cap was exact).
    EXPECT_EQ(b.buf.size(), out.size());
}

TEST(core_router_forward, ExtendsAnExistingSourceByOneHop) {
    const Ipv4Addr r2 = {172, 16, 0, 1};
    const Bytes in = PacketBuilder(syn_to_router())
                         .ipv4(hm::client, r2)
                         .source({"192.168.1.10", "192.168.1.1"})
                         .build();
    Buffer b(in, in.size() + 4);
    ASSERT_EQ(b.v.sal.n_source, 2);
    const Ipv4Addr to = {10, 9, 9, 9};
    ASSERT_EQ(b.forward(to, in.size() + 3), -SVX_E_NOSPACE);
    ASSERT_EQ(b.forward(to), static_cast<int>(in.size() + 4));
    const Bytes out = b.packet(in.size() + 4);
    svx_pkt_view fresh;
    ASSERT_EQ(svx_pkt_parse(out.data(), out.size(), kStrict, &fresh), SVX_OK) << hexdump(out);
    expect_same_view(b.v, fresh);
    ASSERT_EQ(fresh.sal.n_source, 3);
    const uint8_t* sal = out.data() + fresh.sal_off;
    EXPECT_EQ(addr_at(svx_sal_source_addr(sal, &fresh.sal, 0)), hm::client);
    EXPECT_EQ(addr_at(svx_sal_source_addr(sal, &fresh.sal, 1)), hm::router);
    EXPECT_EQ(addr_at(svx_sal_source_addr(sal, &fresh.sal, 2)), r2);
    EXPECT_EQ(addr_at(out.data() + 16), to);
    EXPECT_EQ(out[8], 63);
}

TEST(core_router_forward, RegistrationDatagramKeepsAValidUdpChecksum) {
    const Bytes in = registration(kRouterId);
    Buffer b(in, in.size() + 64);
    const Ipv4Addr to = {10, 0, 0, 77};
    ASSERT_EQ(b.forward(to), static_cast<int>(in.size() + 12));
    const Bytes out = b.packet(in.size() + 12);
    svx_reg_datagram d;
    ASSERT_EQ(svx_reg_datagram_parse(out.data(), out.size(), SVX_REG_PARSE_STRICT, &d), SVX_OK);
    EXPECT_EQ(addr_at(d.saddr), hm::client);
    EXPECT_EQ(addr_at(d.daddr), to);
    EXPECT_EQ(std::memcmp(d.msg.service_id.b, kBase.b, SVX_SID_LEN), 0);
    // Still a registration after the rewrite, to whoever it is for.
    EXPECT_TRUE(svx_router_is_registration(out.data(), &b.v, &kRouterId));
    EXPECT_EQ(b.buf[out.size()], 0xee); // nothing written past the new length
}

TEST(core_router_forward, TtlAtMostOneIsRefusedUntouched) {
    for (uint8_t ttl : {uint8_t{0}, uint8_t{1}}) {
        const Bytes in = syn_to_router().ttl(ttl).build();
        Buffer b(in, in.size() + 64);
        const Bytes before = b.buf;
        const svx_pkt_view v = b.v;
        EXPECT_EQ(b.forward({10, 0, 0, 5}), -SVX_E_TTL) << int{ttl};
        EXPECT_EQ(b.buf, before);
        expect_same_view(b.v, v);
    }
    const Bytes in = syn_to_router().ttl(2).build();
    Buffer b(in, in.size() + 12);
    ASSERT_GT(b.forward({10, 0, 0, 5}), 0);
    EXPECT_EQ(b.buf[8], 1);
    svx_pkt_view fresh;
    EXPECT_EQ(svx_pkt_parse(b.buf.data(), b.buf.size(), kStrict, &fresh), SVX_OK);
}

TEST(core_router_forward, RouterAlreadyAHopIsALoop) {
    // The packet reaches the router (its IP destination) with the router in SOURCE.
    for (auto hops : {std::vector<Ipv4Addr>{hm::client, hm::router},
                      std::vector<Ipv4Addr>{hm::client, hm::router, {172, 16, 0, 1}},
                      std::vector<Ipv4Addr>{hm::router, {172, 16, 0, 1}}}) {
        const Bytes in = PacketBuilder(syn_to_router()).source(hops).build();
        Buffer b(in, in.size() + 64);
        const Bytes before = b.buf;
        const svx_pkt_view v = b.v;
        EXPECT_EQ(b.forward(hm::server), -SVX_E_SOURCE_LOOP) << hops.size();
        EXPECT_EQ(b.buf, before);
        expect_same_view(b.v, v);
    }
}

TEST(core_router_forward, TooLittleRoomIsRefusedUntouched) {
    const Bytes in = syn_to_router().build();
    Buffer b(in, in.size() + 64);
    const Bytes before = b.buf;
    const svx_pkt_view v = b.v;
    for (size_t cap : {in.size(), in.size() + 1, in.size() + 11}) {
        EXPECT_EQ(b.forward(hm::server, cap), -SVX_E_NOSPACE) << cap;
        EXPECT_EQ(b.buf, before);
        expect_same_view(b.v, v);
    }
    // Less room than the packet itself: the view does not fit the buffer.
    for (size_t cap : {size_t{0}, size_t{20}, in.size() - 1}) {
        EXPECT_EQ(b.forward(hm::server, cap), -SVX_E_IP_TOT_LEN) << cap;
        EXPECT_EQ(b.buf, before);
        expect_same_view(b.v, v);
    }
    EXPECT_EQ(b.forward(hm::server, in.size() + 12), static_cast<int>(in.size() + 12));
}

TEST(core_router_forward, NeverGrowsPastTheIpv4Maximum) {
    // Without SOURCE the packet grows by 12: 65523 bytes still fit, 65524 do not.
    const size_t base = syn_to_router().build().size();
    for (size_t total : {size_t{65523}, size_t{65524}}) {
        const Bytes in = syn_to_router().payload(std::string(total - base, 'x')).build();
        ASSERT_EQ(in.size(), total);
        Buffer b(in, 70000);
        const Bytes before = b.buf;
        const int got = b.forward(hm::server);
        if (total == 65523) {
            EXPECT_EQ(got, 65535);
            svx_pkt_view fresh;
            EXPECT_EQ(svx_pkt_parse(b.buf.data(), 65535, kStrict, &fresh), SVX_OK);
        } else {
            EXPECT_EQ(got, -SVX_E_NOSPACE);
            EXPECT_EQ(b.buf, before);
        }
    }
}

// ------------------------------------------------ the engine's router step

// The dispatcher with only what a router needs: a table of one target.
struct RouterStep {
    svx_engine_roles roles{};
    std::array<std::uint64_t, SVX_E__COUNT> drops{};
    std::uint64_t forwarded = 0;
    std::vector<std::uint8_t> arena = std::vector<std::uint8_t>(4096);
    std::array<svx_emit_pkt, 4> pkts{};
    svx_emit out{};

    RouterStep() {
        roles.router = true;
        std::memcpy(roles.router_addr, hm::router.data(), 4);
        roles.router_id = kRouterId;
    }
    static RouterStep& of(void* ctx) { return *static_cast<RouterStep*>(ctx); }
    svx_verdict process(const Bytes& pkt, unsigned in_flags) {
        // Every other callback stays null: the router step must not need it.
        svx_engine_ops ops{};
        ops.router_resolve = [](void*, const svx_sid*, std::uint8_t* target) {
            std::memcpy(target, hm::server.data(), 4);
            return true;
        };
        ops.count = [](void* ctx, svx_stat stat, std::uint64_t n) {
            if (stat == SVX_ST_ROUTER_FORWARDED)
                of(ctx).forwarded += n;
        };
        ops.drop = [](void* ctx, svx_err reason) { ++of(ctx).drops.at(reason); };
        svx_emit_init(&out, arena.data(), static_cast<u32>(arena.size()), pkts.data(),
                      static_cast<u16>(pkts.size()));
        return svx_engine_process(&roles, &ops, this, pkt.data(), pkt.size(), in_flags, 0, &out);
    }
};

// Section 12 step 1: a SYN that came in a link-layer broadcast or multicast
// frame is never forwarded (only the caller knows how the frame came: the
// module passes skb->pkt_type on as SVX_IN_LINK_BROADCAST).
TEST(core_router_step, LinkBroadcastIsNeverForwarded) {
    RouterStep step;
    const Bytes syn = syn_to_router().build();
    EXPECT_EQ(step.process(syn, SVX_IN_VERIFY_CSUM | SVX_IN_LINK_BROADCAST), SVX_VERDICT_CONSUMED);
    EXPECT_EQ(step.out.n_pkts, 0u);
    EXPECT_EQ(step.drops[SVX_E_LINK_BROADCAST], 1u);
    EXPECT_EQ(step.forwarded, 0u);
    // The same SYN in a unicast frame goes to the target.
    EXPECT_EQ(step.process(syn, SVX_IN_VERIFY_CSUM), SVX_VERDICT_CONSUMED);
    ASSERT_EQ(step.out.n_pkts, 1u);
    EXPECT_EQ(addr_at(step.arena.data() + step.out.pkts[0].off + 16), hm::server);
    EXPECT_EQ(step.forwarded, 1u);
    EXPECT_EQ(step.drops[SVX_E_LINK_BROADCAST], 1u);
}

} // namespace
} // namespace svxlat::test
