// SPDX-License-Identifier: GPL-2.0 OR MIT
// [translator], [router] and [host]: required keys, defaults, static service
// lines, addresses, service IDs, and the checks across sections.
#include "test_util.h"

#include <svxlat/reg.h>

#include <chrono>
#include <string>

namespace svxlat::daemon::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kTranslatorHead = "[translator]\n"
                                             "table = t.table\n"
                                             "address = 10.0.0.1\n"
                                             "router = 10.0.0.2\n";
constexpr std::string_view kHostHead = "[host]\n"
                                       "address = 10.0.0.5\n"
                                       "router = 10.0.0.2\n"
                                       "service = 1 80\n";

// Error of one extra line appended to a section; the line is line 5.
std::string translator_error(std::string_view line) {
    return only_error(std::string(kTranslatorHead) + std::string(line) + "\n");
}
std::string host_error(std::string_view line) {
    return only_error(std::string(kHostHead) + std::string(line) + "\n");
}
std::string router_error(std::string_view line) { // line 3
    return only_error(std::string(kRouterRole) + std::string(line) + "\n");
}

TranslatorSettings translator_of(std::string_view extra) {
    auto result = parse(std::string(kTranslatorHead) + std::string(extra));
    if (!result.ok()) {
        ADD_FAILURE() << joined(result);
        return {};
    }
    return *result.config->translator;
}

// ---------------------------------------------------------------- addresses

// The router address a file with only that key gives; all zero on errors.
Ipv4Address router_address(std::string_view text) {
    auto result = parse("[router]\naddress = " + std::string(text) + "\n");
    EXPECT_TRUE(result.ok()) << joined(result);
    return result.ok() ? result.config->router->address : Ipv4Address{};
}

TEST(DaemonConfigAddress, StrictDottedQuad) {
    EXPECT_EQ(router_address("192.0.2.255"), (Ipv4Address{192, 0, 2, 255}));
    EXPECT_EQ(router_address("127.0.0.1"), (Ipv4Address{127, 0, 0, 1}));
    EXPECT_EQ(router_address("223.255.255.254"), (Ipv4Address{223, 255, 255, 254}));
    EXPECT_EQ(router_address("240.0.0.1"), (Ipv4Address{240, 0, 0, 1}));
    EXPECT_EQ(router_address("1.2.3.4"), (Ipv4Address{1, 2, 3, 4}));
    for (std::string text :
         {"10.0.0", "10.0.0.1.2", "256.0.0.1", "10.0.0.1x", "10..0.1", ".10.0.0", "10.0.0.",
          "1000.0.0.1", "ten.0.0.1", "10.0.0.-1", "10.0.0.1/24", "0x0a.0.0.1"}) {
        EXPECT_EQ(only_error("[router]\naddress = " + text + "\n"),
                  "t.conf:2: address: '" + text + "' is not an IPv4 address");
    }
    EXPECT_EQ(only_error("[router]\naddress = ::1\n"),
              "t.conf:2: address: '::1' is not an IPv4 address (IPv6 is not supported)");
    EXPECT_EQ(only_error("[router]\naddress = 10.0.0.1 10.0.0.2\n"),
              "t.conf:2: address: '10.0.0.1 10.0.0.2' is not an IPv4 address");
}

TEST(DaemonConfigAddress, RefusesAmbiguousAndUnusableAddresses) {
    EXPECT_EQ(only_error("[router]\naddress = 10.0.0.010\n"),
              "t.conf:2: address: '10.0.0.010' is not an IPv4 address (leading zero in '010': "
              "some tools read it as octal)");
    EXPECT_EQ(only_error("[router]\naddress = 0.0.0.0\n"),
              "t.conf:2: address: '0.0.0.0' is in 0.0.0.0/8 (unspecified, 'this network'), not "
              "an address clients can connect to");
    EXPECT_EQ(only_error("[router]\naddress = 224.0.0.1\n"),
              "t.conf:2: address: '224.0.0.1' is a multicast address (224.0.0.0/4), not an "
              "address TCP clients can connect to");
    EXPECT_EQ(only_error("[router]\naddress = 239.255.255.255\n"),
              "t.conf:2: address: '239.255.255.255' is a multicast address (224.0.0.0/4), not "
              "an address TCP clients can connect to");
    EXPECT_EQ(only_error("[router]\naddress = 255.255.255.255\n"),
              "t.conf:2: address: '255.255.255.255' is the broadcast address, not an address "
              "clients can connect to");
}

TEST(DaemonConfigAddress, FormatAddress) {
    EXPECT_EQ(format_address({10, 77, 1, 2}), "10.77.1.2");
    EXPECT_EQ(format_address({255, 0, 0, 1}), "255.0.0.1");
}

// ---------------------------------------------------------------- [translator]

TEST(DaemonConfigTranslator, ValuesAndDefaults) {
    auto translator = translator_of("");
    EXPECT_EQ(translator.table, "t.table");
    EXPECT_EQ(translator.address, (Ipv4Address{10, 0, 0, 1}));
    ASSERT_TRUE(translator.router.has_value());
    EXPECT_EQ(*translator.router, (Ipv4Address{10, 0, 0, 2}));
    EXPECT_TRUE(translator.services.empty());
    EXPECT_EQ(translator.tcp_options, TcpOptionPolicy::strip);
    EXPECT_EQ(translator.mode, TranslationMode::packet);
    EXPECT_EQ(translator.line, 1u);

    translator = translator_of("tcp-options = keep\nmode = relay\n");
    EXPECT_EQ(translator.tcp_options, TcpOptionPolicy::keep);
    EXPECT_EQ(translator.mode, TranslationMode::relay);
    EXPECT_EQ(translator_error("tcp-options = drop"),
              "t.conf:5: tcp-options: 'drop' is not one of keep, strip");
    EXPECT_EQ(translator_error("mode = stream"),
              "t.conf:5: mode: 'stream' is not one of packet, relay");
}

TEST(DaemonConfigTranslator, RelayKeys) {
    auto translator = translator_of("");
    EXPECT_EQ(translator.relay_workers, 0u);
    EXPECT_EQ(translator.relay_pipe_size, std::uint64_t{1} << 20);
    EXPECT_EQ(translator.relay_idle_timeout, std::chrono::minutes{10});
    EXPECT_EQ(translator.relay_connect_timeout, std::chrono::seconds{10});
    EXPECT_FALSE(translator.dynamic_aliasing);
    EXPECT_TRUE(translator.alias_interface.empty());

    translator = translator_of("relay-workers = 4\nrelay-pipe-size = 256K\n"
                               "relay-idle-timeout = 30s\nrelay-connect-timeout = 2s\n"
                               "dynamic-aliasing = yes\nalias-interface = eth0\n");
    EXPECT_EQ(translator.relay_workers, 4u);
    EXPECT_EQ(translator.relay_pipe_size, std::uint64_t{256} << 10);
    EXPECT_EQ(translator.relay_idle_timeout, std::chrono::seconds{30});
    EXPECT_EQ(translator.relay_connect_timeout, std::chrono::seconds{2});
    EXPECT_TRUE(translator.dynamic_aliasing);
    EXPECT_EQ(translator.alias_interface, "eth0");

    EXPECT_EQ(translator_error("relay-workers = 65"),
              "t.conf:5: relay-workers: '65' is out of range (0..64)");
    EXPECT_EQ(translator_error("relay-pipe-size = 1K"),
              "t.conf:5: relay-pipe-size: '1K' is out of range (4K..64M)");
    EXPECT_EQ(translator_error("dynamic-aliasing = maybe"),
              "t.conf:5: dynamic-aliasing: 'maybe' is not one of yes, no");
    EXPECT_EQ(translator_error("alias-interface = a/b"),
              "t.conf:5: alias-interface: 'a/b' is not an interface name (1..15 bytes, no '/')");
    EXPECT_EQ(translator_error("alias-interface = abcdefghijklmnop"),
              "t.conf:5: alias-interface: 'abcdefghijklmnop' is not an interface name (1..15 "
              "bytes, no '/')");
}

TEST(DaemonConfigTranslator, RequiredKeysReportedAtTheHeader) {
    auto result = parse("[engine]\n[translator]\nrouter = 10.0.0.2\n");
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{"t.conf:2: [translator]: missing required key 'table'",
                                        "t.conf:2: [translator]: missing required key 'address'"}));
}

TEST(DaemonConfigTranslator, InvalidRequiredKeyIsNotAlsoMissing) {
    EXPECT_EQ(only_error("[translator]\ntable = t\naddress = 10.0.0\nrouter = 10.0.0.2\n"),
              "t.conf:3: address: '10.0.0' is not an IPv4 address");
}

TEST(DaemonConfigTranslator, NeedsRouterOrService) {
    EXPECT_EQ(only_error("[translator]\ntable = t\naddress = 10.0.0.1\n"),
              "t.conf:1: [translator]: needs 'router' or at least one 'service'");
    auto result = parse("[translator]\ntable = t\naddress = 10.0.0.1\nservice = 1 10.0.0.9\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_FALSE(result.config->translator->router.has_value());
    EXPECT_EQ(result.config->translator->services.size(), 1u);
}

TEST(DaemonConfigTranslator, StaticServices) {
    auto translator = translator_of("service = 1 10.0.0.9\n"
                                    "service = 0x0a/8 10.0.0.10 priority 7 weight 300\n"
                                    "service = 0affff/12 10.0.0.11 weight 0 priority 0\n"
                                    "service = 0/0 10.0.0.12 priority 2147483648 weight 65535\n");
    ASSERT_EQ(translator.services.size(), 4u);
    const auto& full = translator.services[0];
    EXPECT_TRUE(same_sid(full.id, sid("1")));
    EXPECT_EQ(full.prefix_bits, 256u);
    EXPECT_EQ(full.address, (Ipv4Address{10, 0, 0, 9}));
    EXPECT_EQ(full.priority, 1u); // the router's default for configured targets
    EXPECT_EQ(full.weight, 1u);
    EXPECT_EQ(full.line, 5u);
    const auto& group = translator.services[1];
    EXPECT_TRUE(same_sid(group.id, sid("0a")));
    EXPECT_EQ(group.prefix_bits, 8u);
    EXPECT_EQ(group.priority, 7u);
    EXPECT_EQ(group.weight, 300u);
    const auto& masked = translator.services[2];
    EXPECT_TRUE(same_sid(masked.id, sid("0af"))) << "the ID is masked to its 12 bits";
    EXPECT_EQ(masked.prefix_bits, 12u);
    EXPECT_EQ(masked.priority, 0u);
    EXPECT_EQ(masked.weight, 1u) << "weight 0 is stored as 1";
    const auto& default_route = translator.services[3];
    EXPECT_EQ(default_route.prefix_bits, 0u);
    EXPECT_EQ(default_route.priority, 2147483648u);
    EXPECT_EQ(default_route.weight, 65535u);
    EXPECT_EQ(default_route.line, 8u);
}

TEST(DaemonConfigTranslator, StaticServiceErrors) {
    const std::string usage = "' is not 'SID[/BITS] IPv4 [priority N] [weight N]'";
    EXPECT_EQ(translator_error("service = 1"), "t.conf:5: service: '1" + usage);
    EXPECT_EQ(translator_error("service = xyz 10.0.0.9"),
              "t.conf:5: service: 'xyz': invalid character in service ID (hex digits only)");
    EXPECT_EQ(translator_error("service = 1/257 10.0.0.9"),
              "t.conf:5: service: '1/257': prefix length must be a decimal number 0..256");
    EXPECT_EQ(translator_error("service = /8 10.0.0.9"),
              "t.conf:5: service: '/8': no hex digits in service ID");
    EXPECT_EQ(translator_error("service = " + std::string(65, 'a') + " 10.0.0.9"),
              "t.conf:5: service: '" + std::string(64, 'a') +
                  "...': service ID longer than 64 hex digits");
    EXPECT_EQ(translator_error("service = 1 10.0.0"),
              "t.conf:5: service: '10.0.0' is not an IPv4 address");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 prio 2"),
              "t.conf:5: service: unknown option 'prio' (expected priority or weight)");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 priority"),
              "t.conf:5: service: 'priority' needs a value");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 weight 1 weight 2"),
              "t.conf:5: service: 'weight' given twice");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 priority 2147483649"),
              "t.conf:5: service: priority '2147483649' is out of range (0..2147483648)");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 weight 65536"),
              "t.conf:5: service: weight '65536' is out of range (0..65535)");
    EXPECT_EQ(translator_error("service = 1 10.0.0.9 weight -1"),
              "t.conf:5: service: weight '-1' is not a decimal number");
}

TEST(DaemonConfigTranslator, DuplicateServiceAfterMasking) {
    EXPECT_EQ(only_error(std::string(kTranslatorHead) +
                         "service = 0a/8 10.0.0.9\nservice = 0aff/8 10.0.0.9 priority 3\n"),
              "t.conf:6: service: duplicates the service at line 5");
    // The same prefix with another target, or another length, is a new entry.
    auto translator = translator_of("service = 0a/8 10.0.0.9\nservice = 0a/8 10.0.0.10\n"
                                    "service = 0a/16 10.0.0.9\n");
    EXPECT_EQ(translator.services.size(), 3u);
}

TEST(DaemonConfigTranslator, RelativeTablePathFollowsTheConfigFile) {
    const std::string body = "[translator]\ntable = tables/t.conf\naddress = 10.0.0.1\n"
                             "router = 10.0.0.2\n";
    auto table_for = [&](std::string_view file, std::string_view base = {}) {
        auto result = parse_daemon_config(body, file, base);
        EXPECT_TRUE(result.ok()) << joined(result);
        return result.ok() ? result.config->translator->table : std::string();
    };
    EXPECT_EQ(table_for("/etc/svxlat/svxlatd.conf"), "/etc/svxlat/tables/t.conf");
    EXPECT_EQ(table_for("conf/svxlatd.conf"), "conf/tables/t.conf");
    EXPECT_EQ(table_for("/svxlatd.conf"), "/tables/t.conf");
    EXPECT_EQ(table_for("svxlatd.conf"), "tables/t.conf");
    EXPECT_EQ(table_for("conf/svxlatd.conf", "/srv/base"), "/srv/base/tables/t.conf");
    EXPECT_EQ(table_for("conf/svxlatd.conf", "/srv/base/"), "/srv/base/tables/t.conf");

    auto absolute = parse_daemon_config("[translator]\ntable = /var/lib/t.conf\n"
                                        "address = 10.0.0.1\nrouter = 10.0.0.2\n",
                                        "/etc/svxlat/svxlatd.conf");
    ASSERT_TRUE(absolute.ok()) << joined(absolute);
    EXPECT_EQ(absolute.config->translator->table, "/var/lib/t.conf");
}

TEST(DaemonConfigTranslator, ResolvedTablePathFitsPathMax) {
    auto body = [](std::size_t length) {
        return "[translator]\ntable = " + std::string(length, 't') +
               "\naddress = 10.0.0.1\nrouter = 10.0.0.2\n";
    };
    // "/etc/svxlat/" is 12 bytes: 12 + 4083 = 4095 fits, one more does not.
    auto fits = parse_daemon_config(body(4083), "/etc/svxlat/svxlatd.conf");
    ASSERT_TRUE(fits.ok()) << joined(fits);
    EXPECT_EQ(fits.config->translator->table.size(), 4095u);
    auto too_long = parse_daemon_config(body(4084), "/etc/svxlat/svxlatd.conf");
    EXPECT_EQ(messages(too_long),
              std::vector<std::string>{"/etc/svxlat/svxlatd.conf:2: table: '/etc/svxlat/" +
                                       std::string(52, 't') + "...' is longer than 4095 bytes"});
}

// ---------------------------------------------------------------- [router]

TEST(DaemonConfigRouter, Defaults) {
    auto result = parse(kRouterRole);
    ASSERT_TRUE(result.ok()) << joined(result);
    const RouterSettings& router = *result.config->router;
    EXPECT_EQ(router.address, (Ipv4Address{10, 0, 0, 1}));
    EXPECT_TRUE(same_sid(router.router_id, sid("00015b38")));
    EXPECT_EQ(router.expiry, 50s);
    EXPECT_TRUE(router.services.empty());
    EXPECT_FALSE(result.config->translator.has_value());
    EXPECT_FALSE(result.config->host.has_value());
}

TEST(DaemonConfigRouter, DefaultIdsAreTheReferences) {
    EXPECT_TRUE(same_sid(kDefaultRouterId, sid("00015b38")));
    EXPECT_TRUE(same_sid(kDefaultClientId, sid("0000d903")));
    svx_sid from_core{};
    svx_reg_sid_from_u32(&from_core, 88888);
    EXPECT_TRUE(same_sid(kDefaultRouterId, from_core));
    svx_reg_sid_from_u32(&from_core, 55555);
    EXPECT_TRUE(same_sid(kDefaultClientId, from_core));
}

TEST(DaemonConfigRouter, Values) {
    auto result = parse("[router]\naddress = 10.0.0.1\nrouter-id = 0xabc\nexpiry = 90s\n"
                        "service = 0/0 10.0.0.7 priority 0\nservice = 1 10.0.0.8\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    const RouterSettings& router = *result.config->router;
    EXPECT_TRUE(same_sid(router.router_id, sid("abc")));
    EXPECT_EQ(router.expiry, 90s);
    ASSERT_EQ(router.services.size(), 2u);
    EXPECT_EQ(router.services[0].prefix_bits, 0u);
    EXPECT_EQ(router.services[0].priority, 0u);
    EXPECT_EQ(router.services[1].address, (Ipv4Address{10, 0, 0, 8}));
}

TEST(DaemonConfigRouter, Errors) {
    EXPECT_EQ(only_error("[router]\nexpiry = 9s\n"),
              "t.conf:1: [router]: missing required key 'address'");
    EXPECT_EQ(router_error("router-id = 00015b38/16"),
              "t.conf:3: router-id: '00015b38/16': a prefix length is not allowed here");
    EXPECT_EQ(router_error("router-id = 0x"),
              "t.conf:3: router-id: '0x': no hex digits in service ID");
    EXPECT_EQ(router_error("expiry = 50ms"),
              "t.conf:3: expiry: '50ms' is out of range (100ms..30d)");
    EXPECT_EQ(router_error("service = 1 10.0.0.9 weight"),
              "t.conf:3: service: 'weight' needs a value");
    EXPECT_EQ(
        only_error(std::string(kRouterRole) + "service = 1 10.0.0.9\nservice = 1/256 10.0.0.9\n"),
        "t.conf:4: service: duplicates the service at line 3");
}

// ---------------------------------------------------------------- [host]

TEST(DaemonConfigHost, ValuesAndDefaults) {
    auto result = parse(kHostHead);
    ASSERT_TRUE(result.ok()) << joined(result);
    const HostSettings& host = *result.config->host;
    EXPECT_EQ(host.address, (Ipv4Address{10, 0, 0, 5}));
    EXPECT_EQ(host.router, (Ipv4Address{10, 0, 0, 2}));
    EXPECT_TRUE(same_sid(host.router_id, sid("00015b38")));
    EXPECT_TRUE(same_sid(host.client_id, sid("0000d903")));
    EXPECT_EQ(host.refresh, 20s);
    EXPECT_EQ(host.flow_port_low, 20000u);
    EXPECT_EQ(host.flow_port_high, 59999u);
    ASSERT_EQ(host.services.size(), 1u);
    EXPECT_TRUE(same_sid(host.services[0].id, sid("1")));
    EXPECT_EQ(host.services[0].prefix_bits, 256u);
    EXPECT_EQ(host.services[0].port, 80u);
    EXPECT_EQ(host.services[0].line, 4u);

    result = parse(std::string(kHostHead) +
                   "router-id = 5\nclient-id = 6\nrefresh = 5m\nflow-ports = 1024-1087\n"
                   "service = ab/12 65535\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    const HostSettings& custom = *result.config->host;
    EXPECT_TRUE(same_sid(custom.router_id, sid("5")));
    EXPECT_TRUE(same_sid(custom.client_id, sid("6")));
    EXPECT_EQ(custom.refresh, 5min);
    EXPECT_EQ(custom.flow_port_low, 1024u);
    EXPECT_EQ(custom.flow_port_high, 1087u);
    ASSERT_EQ(custom.services.size(), 2u);
    EXPECT_EQ(custom.services[1].prefix_bits, 12u);
    EXPECT_EQ(custom.services[1].port, 65535u);
}

TEST(DaemonConfigHost, RequiredKeysAndServices) {
    auto result = parse("[host]\n");
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{"t.conf:1: [host]: missing required key 'address'",
                                        "t.conf:1: [host]: missing required key 'router'",
                                        "t.conf:1: [host]: needs at least one 'service'"}));
    EXPECT_EQ(only_error("[host]\naddress = 10.0.0.5\nrouter = 10.0.0.2\n"),
              "t.conf:1: [host]: needs at least one 'service'");
}

TEST(DaemonConfigHost, ServiceErrors) {
    EXPECT_EQ(host_error("service = 1"), "t.conf:5: service: '1' is not 'SID[/BITS] PORT'");
    EXPECT_EQ(host_error("service = 1 80 90"),
              "t.conf:5: service: '1 80 90' is not 'SID[/BITS] PORT'");
    EXPECT_EQ(host_error("service = 2 0"),
              "t.conf:5: service: port '0' is out of range (1..65535)");
    EXPECT_EQ(host_error("service = 2 65536"),
              "t.conf:5: service: port '65536' is out of range (1..65535)");
    EXPECT_EQ(host_error("service = 2 http"),
              "t.conf:5: service: port 'http' is not a decimal number");
    EXPECT_EQ(host_error("service = 2 080"), "t.conf:5: service: port '080' has a leading zero");
    EXPECT_EQ(host_error("service = 2/0 80"),
              "t.conf:5: service: '2/0': a registration needs a prefix length of 1..256");
    EXPECT_EQ(host_error("service = 0 80"),
              "t.conf:5: service: '0': the all-zero (default) service ID cannot be registered");
    EXPECT_EQ(host_error("service = 01/4 80"),
              "t.conf:5: service: '01/4': the all-zero (default) service ID cannot be registered");
    EXPECT_EQ(host_error("service = 1g 80"),
              "t.conf:5: service: '1g': invalid character in service ID (hex digits only)");
    EXPECT_EQ(host_error("service = 1/256 8080"),
              "t.conf:5: service: duplicates the service at line 4");
}

TEST(DaemonConfigHost, FlowPorts) {
    EXPECT_EQ(host_error("flow-ports = 1024-1086"),
              "t.conf:5: flow-ports: '1024-1086' has fewer than 64 ports");
    EXPECT_EQ(host_error("flow-ports = 3000-2000"),
              "t.conf:5: flow-ports: '3000-2000' has fewer than 64 ports");
    EXPECT_EQ(host_error("flow-ports = 1023-2000"),
              "t.conf:5: flow-ports: '1023' is out of range (1024..65535)");
    EXPECT_EQ(host_error("flow-ports = 2000-65536"),
              "t.conf:5: flow-ports: '65536' is out of range (1024..65535)");
    EXPECT_EQ(host_error("flow-ports = 20000"),
              "t.conf:5: flow-ports: '20000' is not a port range (LOW-HIGH)");
    EXPECT_EQ(host_error("flow-ports = 20000-"),
              "t.conf:5: flow-ports: '' is not a decimal number");
    EXPECT_EQ(host_error("flow-ports = 20000 - 30000"),
              "t.conf:5: flow-ports: '20000 ' is not a decimal number");
    auto result = parse(std::string(kHostHead) + "flow-ports = 65472-65535\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->host->flow_port_low, 65472u);
}

TEST(DaemonConfigHost, Errors) {
    EXPECT_EQ(host_error("client-id = 1/8"),
              "t.conf:5: client-id: '1/8': a prefix length is not allowed here");
    EXPECT_EQ(host_error("refresh = 31d"), "t.conf:5: refresh: '31d' is out of range (100ms..30d)");
    EXPECT_EQ(host_error("router = 10.0.0.3"), "t.conf:5: router: repeated (first set at line 3)");
}

// ---------------------------------------------------------------- across sections

TEST(DaemonConfigCross, RefreshMustBeShorterThanExpiry) {
    const std::string router = "[router]\naddress = 10.0.0.2\n";
    auto ok = parse(std::string(kHostHead) + "refresh = 49s\n" + router);
    ASSERT_TRUE(ok.ok()) << joined(ok);
    EXPECT_TRUE(ok.config->host && ok.config->router);

    EXPECT_EQ(only_error(std::string(kHostHead) + "refresh = 50s\n" + router),
              "t.conf:5: refresh: '50s' must be shorter than [router] expiry (50s)");
    EXPECT_EQ(only_error(router + "expiry = 2m\n" + std::string(kHostHead) + "refresh = 1h\n"),
              "t.conf:8: refresh: '1h' must be shorter than [router] expiry (2m)");
    // With the default refresh the router's expiry is the line to fix.
    EXPECT_EQ(only_error(router + "expiry = 20s\n" + std::string(kHostHead)),
              "t.conf:3: expiry: '20s' must be longer than [host] refresh (20s)");
    // Without a [router] section the host's refresh only meets its own range.
    auto alone = parse(std::string(kHostHead) + "refresh = 1h\n");
    ASSERT_TRUE(alone.ok()) << joined(alone);
    EXPECT_EQ(alone.config->host->refresh, 1h);
    // An invalid value is reported once.
    EXPECT_EQ(only_error(std::string(kHostHead) + "refresh = 1x\n" + router + "expiry = 1s\n"),
              "t.conf:5: refresh: '1x' is not a duration (an integer with unit ms, s, m, h or d)");
}

TEST(DaemonConfigCross, AllRolesInOneFile) {
    auto result = parse(std::string(kTranslatorHead) + "[router]\naddress = 10.0.0.2\n" +
                        std::string(kHostHead) + "[engine]\nqueues = 2\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_TRUE(result.config->translator.has_value());
    EXPECT_TRUE(result.config->router.has_value());
    EXPECT_TRUE(result.config->host.has_value());
    EXPECT_EQ(result.config->engine.queues, 2u);
    EXPECT_EQ(result.config->router->line, 5u);
    EXPECT_EQ(result.config->host->line, 7u);
}

TEST(DaemonConfigCross, EnumNames) {
    EXPECT_EQ(to_string(SteeringBackend::automatic), "auto");
    EXPECT_EQ(to_string(EngineKind::kernel), "kernel");
    EXPECT_EQ(to_string(LogLevel::warning), "warning");
    EXPECT_EQ(to_string(TcpOptionPolicy::keep), "keep");
    EXPECT_EQ(to_string(TranslationMode::relay), "relay");
}

TEST(DaemonConfigCross, FormatDuration) {
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(7440s), "124m");
    EXPECT_EQ(format_duration(150ms), "150ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(48h), "2d");
    EXPECT_EQ(format_duration(7h), "7h");
}

} // namespace
} // namespace svxlat::daemon::test
