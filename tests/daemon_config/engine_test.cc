// SPDX-License-Identifier: GPL-2.0 OR MIT
// [engine]: every key's default, valid and invalid values, numbers, sizes and
// durations at their edges, and the checks between keys.
#include "test_util.h"

#include <chrono>
#include <string>
#include <string_view>

namespace svxlat::daemon::test {
namespace {

using namespace std::chrono_literals;

TEST(DaemonConfigEngine, DefaultsWithoutEngineSection) {
    auto result = parse(kRouterRole);
    ASSERT_TRUE(result.ok()) << joined(result);
    const EngineSettings& engine = result.config->engine;
    EXPECT_EQ(engine.queues, 1u);
    EXPECT_EQ(engine.queue_num, 0u);
    EXPECT_EQ(engine.queue_length, 8192u);
    EXPECT_TRUE(engine.fail_open);
    EXPECT_EQ(engine.rcvbuf_bytes, 16u << 20);
    EXPECT_EQ(engine.mark, 0x5e1a0001u);
    EXPECT_EQ(engine.broadcast_mark, 0x5e1a0002u);
    EXPECT_EQ(engine.backend, SteeringBackend::automatic);
    EXPECT_EQ(engine.engine, EngineKind::automatic);
    EXPECT_EQ(engine.max_flows, 262144u);
    EXPECT_EQ(engine.max_embryonic, 65536u);
    EXPECT_EQ(engine.timeout_embryonic, 30s);
    EXPECT_EQ(engine.timeout_established, 2h + 4min);
    EXPECT_EQ(engine.timeout_closing, 120s);
    EXPECT_EQ(engine.timeout_time_wait, 60s);
    EXPECT_EQ(engine.fin_ack_delay, 40ms);
    EXPECT_EQ(engine.sal_mtu, 1500u);
    EXPECT_EQ(engine.tcp_mtu, 1500u);
    EXPECT_EQ(engine.control_socket, "/run/svxlat/svxlatd.sock");
    EXPECT_EQ(engine.log_level, LogLevel::info);
}

TEST(DaemonConfigEngine, EmptyEngineSectionKeepsDefaults) {
    auto engine = engine_of("");
    EXPECT_EQ(engine.queues, 1u);
    EXPECT_EQ(engine.max_embryonic, 65536u);
}

TEST(DaemonConfigEngine, Queues) {
    EXPECT_EQ(engine_of("queues = 1").queues, 1u);
    EXPECT_EQ(engine_of("queues = 2").queues, 2u);
    EXPECT_EQ(engine_of("queues = 64").queues, 64u);
    EXPECT_EQ(engine_error("queues = 0"), "t.conf:2: queues: '0' is out of range (1..64)");
    EXPECT_EQ(engine_error("queues = 128"), "t.conf:2: queues: '128' is out of range (1..64)");
    EXPECT_EQ(engine_error("queues = 3"),
              "t.conf:2: queues: '3' is not a power of two (1, 2, 4, 8, 16, 32 or 64)");
    EXPECT_EQ(engine_error("queues = 48"),
              "t.conf:2: queues: '48' is not a power of two (1, 2, 4, 8, 16, 32 or 64)");
    EXPECT_EQ(engine_error("queues = four"), "t.conf:2: queues: 'four' is not a decimal number");
    EXPECT_EQ(engine_error("queues = -1"), "t.conf:2: queues: '-1' is not a decimal number");
    EXPECT_EQ(engine_error("queues = +4"), "t.conf:2: queues: '+4' is not a decimal number");
    EXPECT_EQ(engine_error("queues = 04"), "t.conf:2: queues: '04' has a leading zero");
    EXPECT_EQ(engine_error("queues = 99999999999999999999"),
              "t.conf:2: queues: '99999999999999999999' is out of range (1..64)");
}

TEST(DaemonConfigEngine, QueueNumLeavesRoomForEveryQueue) {
    EXPECT_EQ(engine_of("queue-num = 0").queue_num, 0u);
    EXPECT_EQ(engine_of("queue-num = 65534").queue_num, 65534u);
    EXPECT_EQ(engine_of("queues = 64\nqueue-num = 65471").queue_num, 65471u);
    EXPECT_EQ(engine_error("queue-num = 65535"),
              "t.conf:2: queue-num: '65535' is out of range (0..65534 with queues = 1)");
    EXPECT_EQ(engine_error("queue-num = 65472\nqueues = 64"),
              "t.conf:2: queue-num: '65472' is out of range (0..65471 with queues = 64)");
    EXPECT_EQ(engine_error("queue-num = 65536"),
              "t.conf:2: queue-num: '65536' is out of range (0..65535)");
    // An invalid queues value is reported alone, not again through queue-num.
    EXPECT_EQ(engine_error("queues = 3\nqueue-num = 65535"),
              "t.conf:2: queues: '3' is not a power of two (1, 2, 4, 8, 16, 32 or 64)");
}

TEST(DaemonConfigEngine, QueueLength) {
    EXPECT_EQ(engine_of("queue-length = 1").queue_length, 1u);
    EXPECT_EQ(engine_of("queue-length = 1048576").queue_length, 1048576u);
    EXPECT_EQ(engine_error("queue-length = 0"),
              "t.conf:2: queue-length: '0' is out of range (1..1048576)");
    EXPECT_EQ(engine_error("queue-length = 1048577"),
              "t.conf:2: queue-length: '1048577' is out of range (1..1048576)");
}

TEST(DaemonConfigEngine, FailOpen) {
    EXPECT_TRUE(engine_of("fail-open = yes").fail_open);
    EXPECT_FALSE(engine_of("fail-open = no").fail_open);
    EXPECT_EQ(engine_error("fail-open = true"),
              "t.conf:2: fail-open: 'true' is not one of yes, no");
    EXPECT_EQ(engine_error("fail-open = YES"), "t.conf:2: fail-open: 'YES' is not one of yes, no");
}

TEST(DaemonConfigEngine, RcvbufSizes) {
    EXPECT_EQ(engine_of("rcvbuf = 16M").rcvbuf_bytes, 16u << 20);
    EXPECT_EQ(engine_of("rcvbuf = 4096K").rcvbuf_bytes, 4096u << 10);
    EXPECT_EQ(engine_of("rcvbuf = 4096k").rcvbuf_bytes, 4096u << 10);
    EXPECT_EQ(engine_of("rcvbuf = 65536").rcvbuf_bytes, 65536u);
    EXPECT_EQ(engine_of("rcvbuf = 64K").rcvbuf_bytes, 65536u);
    EXPECT_EQ(engine_of("rcvbuf = 1G").rcvbuf_bytes, 1u << 30);
    EXPECT_EQ(engine_of("rcvbuf = 1024m").rcvbuf_bytes, 1u << 30);
    EXPECT_EQ(engine_of("rcvbuf = 1073741824").rcvbuf_bytes, 1u << 30);
    EXPECT_EQ(engine_error("rcvbuf = 65535"),
              "t.conf:2: rcvbuf: '65535' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 63K"), "t.conf:2: rcvbuf: '63K' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 1073741825"),
              "t.conf:2: rcvbuf: '1073741825' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 2G"), "t.conf:2: rcvbuf: '2G' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 0"), "t.conf:2: rcvbuf: '0' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 18446744073709551615G"),
              "t.conf:2: rcvbuf: '18446744073709551615G' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 99999999999999999999K"),
              "t.conf:2: rcvbuf: '99999999999999999999K' is out of range (64K..1G)");
    EXPECT_EQ(engine_error("rcvbuf = 16MB"),
              "t.conf:2: rcvbuf: '16MB' is not a size (bytes, or an integer with unit K, M or G)");
    EXPECT_EQ(engine_error("rcvbuf = 16X"),
              "t.conf:2: rcvbuf: '16X' is not a size (bytes, or an integer with unit K, M or G)");
    EXPECT_EQ(engine_error("rcvbuf = M"),
              "t.conf:2: rcvbuf: 'M' is not a size (bytes, or an integer with unit K, M or G)");
    EXPECT_EQ(engine_error("rcvbuf = 1.5M"),
              "t.conf:2: rcvbuf: '1.5M' is not a size (bytes, or an integer with unit K, M or G)");
    EXPECT_EQ(engine_error("rcvbuf = 016M"), "t.conf:2: rcvbuf: '016M' has a leading zero");
}

// Both marks (the injected packets' and the link-broadcast one) parse
// alike: hex or decimal, nonzero, 32 bits.
struct MarkKey {
    std::string_view name;
    std::uint32_t EngineSettings::*field;
};
constexpr MarkKey kMarkKeys[] = {{"mark", &EngineSettings::mark},
                                 {"broadcast-mark", &EngineSettings::broadcast_mark}};

TEST(DaemonConfigEngine, MarksHexOrDecimal) {
    for (const auto& [name, field] : kMarkKeys) {
        SCOPED_TRACE(name);
        const std::string key = std::string(name) + " = ";
        auto value = [&](std::string_view v) { return engine_of(key + std::string(v)).*field; };
        auto error = [&](std::string_view v) { return engine_error(key + std::string(v)); };
        auto refusal = [&](std::string_view v, std::string_view why) {
            return "t.conf:2: " + std::string(name) + ": '" + std::string(v) + "' " +
                   std::string(why);
        };
        EXPECT_EQ(value("0x5e1a00ff"), 0x5e1a00ffu);
        EXPECT_EQ(value("0XFF"), 0xffu);
        EXPECT_EQ(value("0x0001"), 1u);
        EXPECT_EQ(value("1"), 1u);
        EXPECT_EQ(value("4294967295"), 0xffffffffu);
        EXPECT_EQ(value("0xffffffff"), 0xffffffffu);
        // Leading zeros are harmless in hex: there is no octal reading to confuse.
        EXPECT_EQ(value("0x00000000000000000000001"), 1u);
        for (std::string_view v : {"0", "0x0", "0x100000000", "4294967296"})
            EXPECT_EQ(error(v), refusal(v, "is out of range (0x1..0xffffffff)"));
        for (std::string_view v : {"0x", "0xg1", "5e1a"})
            EXPECT_EQ(error(v), refusal(v, "is not a number (hex 0x... or decimal)"));
        EXPECT_EQ(error("010"), refusal("010", "has a leading zero (write hex as 0x...)"));
        EXPECT_EQ(error("1\n" + key + "2"),
                  "t.conf:3: " + std::string(name) + ": repeated (first set at line 2)");
    }
}

TEST(DaemonConfigEngine, BroadcastMarkDiffersFromMark) {
    auto engine = engine_of("mark = 0x10\nbroadcast-mark = 0x11");
    EXPECT_EQ(engine.mark, 0x10u);
    EXPECT_EQ(engine.broadcast_mark, 0x11u);
    // Moved together, they may swap the defaults.
    engine = engine_of("mark = 0x5e1a0002\nbroadcast-mark = 0x5e1a0001");
    EXPECT_EQ(engine.mark, 0x5e1a0002u);
    EXPECT_EQ(engine.broadcast_mark, 0x5e1a0001u);
    // Equal: reported on broadcast-mark when it is set, in either order and
    // whatever the spelling.
    EXPECT_EQ(engine_error("mark = 0x10\nbroadcast-mark = 16"),
              "t.conf:3: broadcast-mark: '0x00000010' equals mark; they must differ");
    EXPECT_EQ(engine_error("broadcast-mark = 0x10\nmark = 0x10"),
              "t.conf:2: broadcast-mark: '0x00000010' equals mark; they must differ");
    EXPECT_EQ(engine_error("broadcast-mark = 0x5e1a0001"),
              "t.conf:2: broadcast-mark: '0x5e1a0001' equals mark; they must differ");
    // Else on mark, against broadcast-mark's default.
    EXPECT_EQ(engine_error("mark = 0x5e1a0002"),
              "t.conf:2: mark: '0x5e1a0002' equals the default broadcast-mark; they must differ");
    // An invalid mark is reported alone.
    EXPECT_EQ(engine_error("mark = 0\nbroadcast-mark = 0x5e1a0001"),
              "t.conf:2: mark: '0' is out of range (0x1..0xffffffff)");
}

TEST(DaemonConfigEngine, Keywords) {
    EXPECT_EQ(engine_of("backend = nft").backend, SteeringBackend::nft);
    EXPECT_EQ(engine_of("backend = iptables").backend, SteeringBackend::iptables);
    EXPECT_EQ(engine_of("backend = auto").backend, SteeringBackend::automatic);
    EXPECT_EQ(engine_error("backend = ebtables"),
              "t.conf:2: backend: 'ebtables' is not one of auto, nft, iptables");
    EXPECT_EQ(engine_of("engine = nfqueue").engine, EngineKind::nfqueue);
    EXPECT_EQ(engine_of("engine = kernel").engine, EngineKind::kernel);
    EXPECT_EQ(engine_of("engine = auto").engine, EngineKind::automatic);
    EXPECT_EQ(engine_error("engine = xdp"),
              "t.conf:2: engine: 'xdp' is not one of auto, nfqueue, kernel");
    EXPECT_EQ(engine_of("log-level = error").log_level, LogLevel::error);
    EXPECT_EQ(engine_of("log-level = warning").log_level, LogLevel::warning);
    EXPECT_EQ(engine_of("log-level = debug").log_level, LogLevel::debug);
    EXPECT_EQ(engine_error("log-level = trace"),
              "t.conf:2: log-level: 'trace' is not one of error, warning, info, debug");
}

TEST(DaemonConfigEngine, MaxFlowsAndDerivedMaxEmbryonic) {
    EXPECT_EQ(engine_of("max-flows = 1").max_flows, 1u);
    EXPECT_EQ(engine_of("max-flows = 1").max_embryonic, 1u); // 1 / 4 rounds up to 1
    EXPECT_EQ(engine_of("max-flows = 7").max_embryonic, 1u);
    EXPECT_EQ(engine_of("max-flows = 100").max_embryonic, 25u);
    EXPECT_EQ(engine_of("max-flows = 10000000").max_embryonic, 2500000u);
    EXPECT_EQ(engine_error("max-flows = 0"),
              "t.conf:2: max-flows: '0' is out of range (1..10000000)");
    EXPECT_EQ(engine_error("max-flows = 10000001"),
              "t.conf:2: max-flows: '10000001' is out of range (1..10000000)");
    EXPECT_EQ(engine_error("max-flows = 10,000"),
              "t.conf:2: max-flows: '10,000' is not a decimal number");
}

TEST(DaemonConfigEngine, MaxEmbryonicAtMostMaxFlows) {
    auto engine = engine_of("max-flows = 1000\nmax-embryonic = 1000");
    EXPECT_EQ(engine.max_embryonic, 1000u);
    EXPECT_EQ(engine_of("max-embryonic = 5").max_embryonic, 5u);
    EXPECT_EQ(engine_error("max-flows = 1000\nmax-embryonic = 1001"),
              "t.conf:3: max-embryonic: '1001' exceeds max-flows (1000)");
    // Against the default max-flows too, and in either order.
    EXPECT_EQ(engine_error("max-embryonic = 262145"),
              "t.conf:2: max-embryonic: '262145' exceeds max-flows (262144)");
    EXPECT_EQ(engine_error("max-embryonic = 50\nmax-flows = 40"),
              "t.conf:2: max-embryonic: '50' exceeds max-flows (40)");
    EXPECT_EQ(engine_error("max-embryonic = 0"),
              "t.conf:2: max-embryonic: '0' is out of range (1..10000000)");
    // A bad max-flows is reported once, without a follow-up on max-embryonic.
    EXPECT_EQ(engine_error("max-flows = 0\nmax-embryonic = 5000"),
              "t.conf:2: max-flows: '0' is out of range (1..10000000)");
}

TEST(DaemonConfigEngine, EveryTimeoutKey) {
    auto engine = engine_of("timeout-embryonic = 5s\ntimeout-established = 1h\n"
                            "timeout-closing = 2m\ntimeout-time-wait = 250ms");
    EXPECT_EQ(engine.timeout_embryonic, 5s);
    EXPECT_EQ(engine.timeout_established, 1h);
    EXPECT_EQ(engine.timeout_closing, 2min);
    EXPECT_EQ(engine.timeout_time_wait, 250ms);
    for (std::string key :
         {"timeout-embryonic", "timeout-established", "timeout-closing", "timeout-time-wait"}) {
        EXPECT_EQ(engine_error(key + " = 1x"),
                  "t.conf:2: " + key +
                      ": '1x' is not a duration (an integer with unit ms, s, m, h or d)");
    }
}

TEST(DaemonConfigEngine, DurationUnitsAndEdges) {
    EXPECT_EQ(engine_of("timeout-closing = 100ms").timeout_closing, 100ms);
    EXPECT_EQ(engine_of("timeout-closing = 1").timeout_closing, 1s); // no unit: seconds
    EXPECT_EQ(engine_of("timeout-closing = 7440").timeout_closing, 7440s);
    EXPECT_EQ(engine_of("timeout-closing = 3m").timeout_closing, 180s);
    EXPECT_EQ(engine_of("timeout-closing = 2h").timeout_closing, 7200s);
    EXPECT_EQ(engine_of("timeout-closing = 30d").timeout_closing, 720h);
    EXPECT_EQ(engine_of("timeout-closing = 720h").timeout_closing, 720h);
    EXPECT_EQ(engine_of("timeout-closing = 2592000").timeout_closing, 720h);
    EXPECT_EQ(engine_of("timeout-closing = 2592000000ms").timeout_closing, 720h);

    const std::string range = "' is out of range (100ms..30d)";
    EXPECT_EQ(engine_error("timeout-closing = 99ms"), "t.conf:2: timeout-closing: '99ms" + range);
    EXPECT_EQ(engine_error("timeout-closing = 0"), "t.conf:2: timeout-closing: '0" + range);
    EXPECT_EQ(engine_error("timeout-closing = 0s"), "t.conf:2: timeout-closing: '0s" + range);
    EXPECT_EQ(engine_error("timeout-closing = 31d"), "t.conf:2: timeout-closing: '31d" + range);
    EXPECT_EQ(engine_error("timeout-closing = 721h"), "t.conf:2: timeout-closing: '721h" + range);
    EXPECT_EQ(engine_error("timeout-closing = 2592001"),
              "t.conf:2: timeout-closing: '2592001" + range);
    EXPECT_EQ(engine_error("timeout-closing = 2592000001ms"),
              "t.conf:2: timeout-closing: '2592000001ms" + range);
    // Overflow of the number itself and of number x unit.
    EXPECT_EQ(engine_error("timeout-closing = 99999999999999999999s"),
              "t.conf:2: timeout-closing: '99999999999999999999s" + range);
    EXPECT_EQ(engine_error("timeout-closing = 18446744073709551615d"),
              "t.conf:2: timeout-closing: '18446744073709551615d" + range);
    EXPECT_EQ(engine_error("timeout-closing = 213503982336d"),
              "t.conf:2: timeout-closing: '213503982336d" + range);
}

TEST(DaemonConfigEngine, DurationSyntaxErrors) {
    const std::string not_duration = "' is not a duration (an integer with unit ms, s, m, h or d)";
    for (std::string text : {"s", "1.5s", "5 s", "-1s", "1w", "1sec", "2h4m", "1S", "ms5"})
        EXPECT_EQ(engine_error("timeout-closing = " + text),
                  "t.conf:2: timeout-closing: '" + text + not_duration);
    EXPECT_EQ(engine_error("timeout-closing = 05s"),
              "t.conf:2: timeout-closing: '05s' has a leading zero");
}

TEST(DaemonConfigEngine, FinAckDelay) {
    EXPECT_EQ(engine_of("fin-ack-delay = 0").fin_ack_delay, 0ms); // off: every ACK at once
    EXPECT_EQ(engine_of("fin-ack-delay = 25ms").fin_ack_delay, 25ms);
    EXPECT_EQ(engine_of("fin-ack-delay = 100ms").fin_ack_delay, 100ms);
    // Its own range: a delay past the peer's minimum RTO would cost a retransmission.
    const std::string range = "' is out of range (0ms..100ms)";
    EXPECT_EQ(engine_error("fin-ack-delay = 101ms"), "t.conf:2: fin-ack-delay: '101ms" + range);
    EXPECT_EQ(engine_error("fin-ack-delay = 1"), "t.conf:2: fin-ack-delay: '1" + range);
    EXPECT_EQ(engine_error("fin-ack-delay = soon"),
              "t.conf:2: fin-ack-delay: 'soon' is not a duration (an integer with unit ms, s, m, "
              "h or d)");
}

TEST(DaemonConfigEngine, Mtus) {
    auto engine = engine_of("sal-mtu = 576\ntcp-mtu = 65535");
    EXPECT_EQ(engine.sal_mtu, 576u);
    EXPECT_EQ(engine.tcp_mtu, 65535u);
    EXPECT_EQ(engine_error("sal-mtu = 575"),
              "t.conf:2: sal-mtu: '575' is out of range (576..65535)");
    EXPECT_EQ(engine_error("tcp-mtu = 65536"),
              "t.conf:2: tcp-mtu: '65536' is out of range (576..65535)");
}

TEST(DaemonConfigEngine, ControlSocket) {
    EXPECT_EQ(engine_of("control-socket = /tmp/x.sock").control_socket, "/tmp/x.sock");
    const std::string longest = "/" + std::string(106, 'a'); // 107 bytes + NUL fill sun_path
    EXPECT_EQ(engine_of("control-socket = " + longest).control_socket, longest);
    EXPECT_EQ(engine_error("control-socket = " + longest + "b"),
              "t.conf:2: control-socket: '/" + std::string(63, 'a') +
                  "...' is 108 bytes long; a socket path must be shorter than 108 bytes");
    EXPECT_EQ(engine_error("control-socket = run/svxlatd.sock"),
              "t.conf:2: control-socket: 'run/svxlatd.sock' is not an absolute path");
}

} // namespace
} // namespace svxlat::daemon::test
