// SPDX-License-Identifier: GPL-2.0 OR MIT
// Parts of the NFQUEUE glue that need no kernel: the /proc parser and the
// counter tables.
#include "nfq/injector.h"
#include "nfq/queue.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace svxlat::nfq;

TEST(nfqKernelStats, ParsesTheQueueLine) {
    // Format of net/netfilter/nfnetlink_queue.c seq_show.
    const std::string text = "    0  12345     3 2 65531     7     9      1234  1\n"
                             "  101   4242     0 2 65531     0     0        17  1\n";
    auto zero = parse_kernel_queue_stats(text, 0);
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->queue_num, 0);
    EXPECT_EQ(zero->portid, 12345u);
    EXPECT_EQ(zero->queue_total, 3u);
    EXPECT_EQ(zero->copy_mode, 2u);
    EXPECT_EQ(zero->copy_range, 65531u);
    EXPECT_EQ(zero->queue_dropped, 7u);
    EXPECT_EQ(zero->user_dropped, 9u);
    EXPECT_EQ(zero->id_sequence, 1234u);

    auto other = parse_kernel_queue_stats(text, 101);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->portid, 4242u);
    EXPECT_EQ(other->id_sequence, 17u);

    EXPECT_FALSE(parse_kernel_queue_stats(text, 5));
    EXPECT_FALSE(parse_kernel_queue_stats("", 0));
    EXPECT_FALSE(parse_kernel_queue_stats("garbage line\n", 0));
    EXPECT_FALSE(parse_kernel_queue_stats("    0  1 2\n", 0)); // too few fields
}

template <std::size_t N> void expect_well_formed(const std::array<CounterInfo, N>& table) {
    std::set<std::string_view> names;
    for (const auto& info : table) {
        EXPECT_FALSE(info.name.empty());
        EXPECT_FALSE(info.description.empty()) << info.name;
        EXPECT_EQ(info.name.find(' '), std::string_view::npos) << info.name;
        EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
    }
}

TEST(nfqCounters, TablesHaveUniqueNamesAndExplanations) {
    expect_well_formed(kQueueCounterInfo);
    expect_well_formed(kInjectorCounterInfo);
    expect_well_formed(kKernelQueueCounterInfo);
    // Spot checks that the enum order and the table order agree.
    EXPECT_EQ(kQueueCounterInfo[static_cast<std::size_t>(QueueCounter::enobufs)].name, "enobufs");
    EXPECT_EQ(kQueueCounterInfo[static_cast<std::size_t>(QueueCounter::mangled)].name, "mangled");
    EXPECT_EQ(kQueueCounterInfo[static_cast<std::size_t>(QueueCounter::setup_requeued)].name,
              "setup_requeued");
    EXPECT_EQ(kInjectorCounterInfo[static_cast<std::size_t>(InjectorCounter::err_perm)].name,
              "err_perm");
    EXPECT_EQ(kInjectorCounterInfo[static_cast<std::size_t>(InjectorCounter::sendmmsg_calls)].name,
              "sendmmsg_calls");
}

TEST(nfqCounters, CounterSetAddsAndSnapshots) {
    CounterSet<InjectorCounter> counters;
    counters.add(InjectorCounter::sent);
    counters.add(InjectorCounter::bytes, 1500);
    counters.add(InjectorCounter::bytes, 40);
    auto snapshot = counters.snapshot();
    EXPECT_EQ(snapshot[static_cast<std::size_t>(InjectorCounter::sent)], 1u);
    EXPECT_EQ(snapshot[static_cast<std::size_t>(InjectorCounter::bytes)], 1540u);
    EXPECT_EQ(counters.get(InjectorCounter::err_other), 0u);
}

TEST(nfqPacket, SkbInfoFlags) {
    QueuedPacket packet;
    packet.skb_info = 1u << 1; // NFQA_SKB_GSO
    EXPECT_TRUE(packet.is_gso());
    EXPECT_FALSE(packet.checksum_not_ready());
    packet.skb_info = 1u << 0; // NFQA_SKB_CSUMNOTREADY
    EXPECT_TRUE(packet.checksum_not_ready());
    packet.skb_info = 1u << 2;
    EXPECT_TRUE(packet.checksum_not_verified());

    std::array<std::uint8_t, 40> bytes{};
    packet.payload = bytes;
    packet.original_length = 40;
    EXPECT_FALSE(packet.truncated());
    packet.original_length = 41;
    EXPECT_TRUE(packet.truncated());
}
