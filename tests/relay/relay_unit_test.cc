// SPDX-License-Identifier: GPL-2.0 OR MIT
// Relay units that need no root: the PROXY v2 header against the spec's
// bytes, row diffing, the counter table, endpoints, the default-route parser,
// and a Relay that is started and stopped without rows.
#include "relay/alias.h"
#include "relay/relay.h"
#include "sha256.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace {

using namespace svxlat::relay;

svx_sid sid(std::uint8_t first) {
    svx_sid s{};
    s.b[0] = first;
    return s;
}

RelayRow row(Ipv4Address a, std::uint16_t port, std::uint8_t service, unsigned line = 0) {
    RelayRow r;
    r.listen = {a, port};
    r.service = sid(service);
    r.file = "t.conf";
    r.line = line;
    return r;
}

// Written by hand from the PROXY protocol spec, section 2.2 (binary header
// format, version 2): the 12-byte signature; 0x21 = version 2 (high nibble)
// + PROXY command (low nibble); 0x11 = AF_INET (high nibble) + STREAM (low
// nibble); a 16-bit big-endian length of the address block, 12 for IPv4;
// then src_addr, dst_addr (4 bytes each), src_port, dst_port (2 bytes each),
// all in network byte order.
TEST(ProxyV2, BytesMatchTheSpec) {
    Endpoint source{{192, 0, 2, 7}, 51234};      // 51234 = 0xc822
    Endpoint destination{{203, 0, 113, 9}, 443}; // 443 = 0x01bb
    const std::array<std::uint8_t, 28> expected{
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
        0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // "\r\n\r\n\0\r\nQUIT\n"
        0x21,                               // v2, PROXY
        0x11,                               // TCP over IPv4
        0x00, 0x0c,                         // 12 address bytes follow
        0xc0, 0x00, 0x02, 0x07,             // 192.0.2.7
        0xcb, 0x00, 0x71, 0x09,             // 203.0.113.9
        0xc8, 0x22,                         // 51234
        0x01, 0xbb,                         // 443
    };
    EXPECT_EQ(proxy_v2_header(source, destination), expected);
    EXPECT_EQ(kProxyV2HeaderSize, 16u + 12u);
}

TEST(ProxyV2, PortsAreBigEndianAtTheExtremes) {
    auto h = proxy_v2_header({{0, 0, 0, 1}, 1}, {{255, 255, 255, 254}, 65535});
    EXPECT_EQ(h[24], 0x00);
    EXPECT_EQ(h[25], 0x01);
    EXPECT_EQ(h[26], 0xff);
    EXPECT_EQ(h[27], 0xff);
    EXPECT_EQ(h[16], 0);
    EXPECT_EQ(h[19], 1);
    EXPECT_EQ(h[20], 255);
    EXPECT_EQ(h[23], 254);
}

TEST(RowDiff, AddedRemovedChangedUnchanged) {
    std::vector<RelayRow> old_rows{row({10, 0, 0, 1}, 80, 1), row({10, 0, 0, 2}, 80, 2),
                                   row({10, 0, 0, 3}, 80, 3), row({10, 0, 0, 4}, 80, 4)};
    std::vector<RelayRow> next{row({10, 0, 0, 1}, 80, 1, 7), // unchanged (line ignored)
                               row({10, 0, 0, 3}, 80, 33),   // service changed
                               row({10, 0, 0, 4}, 80, 4),    // target changed below
                               row({10, 0, 0, 5}, 80, 5),    // added
                               row({10, 0, 0, 1}, 8080, 1)}; // added: other port
    next[2].target = Endpoint{{127, 0, 0, 1}, 9000};
    RowDiff d = diff_rows(old_rows, next);
    EXPECT_EQ(d.unchanged, (std::vector<std::size_t>{0}));
    EXPECT_EQ(d.changed, (std::vector<std::size_t>{1, 2}));
    EXPECT_EQ(d.added, (std::vector<std::size_t>{3, 4}));
    EXPECT_EQ(d.removed, (std::vector<std::size_t>{1})); // 10.0.0.2 in old
    EXPECT_TRUE(d.duplicates.empty());
}

TEST(RowDiff, ProxySettingIsAChange) {
    std::vector<RelayRow> old_rows{row({10, 0, 0, 1}, 80, 1)};
    std::vector<RelayRow> next = old_rows;
    next[0].proxy_v2 = true;
    RowDiff d = diff_rows(old_rows, next);
    EXPECT_EQ(d.changed, (std::vector<std::size_t>{0}));
}

TEST(RowDiff, DuplicatesAreListedOnce) {
    std::vector<RelayRow> next{row({10, 0, 0, 1}, 80, 1), row({10, 0, 0, 1}, 80, 2),
                               row({10, 0, 0, 1}, 80, 3)};
    RowDiff d = diff_rows({}, next);
    EXPECT_EQ(d.added, (std::vector<std::size_t>{0}));
    EXPECT_EQ(d.duplicates, (std::vector<std::size_t>{1, 2}));
}

TEST(RowDiff, EmptyNextRemovesAll) {
    std::vector<RelayRow> old_rows{row({10, 0, 0, 1}, 80, 1), row({10, 0, 0, 2}, 80, 2)};
    RowDiff d = diff_rows(old_rows, {});
    EXPECT_EQ(d.removed, (std::vector<std::size_t>{0, 1}));
    EXPECT_TRUE(d.added.empty());
}

TEST(Counters, TableIsComplete) {
    ASSERT_EQ(kCounterInfo.size(), static_cast<std::size_t>(Counter::count));
    std::set<std::string_view> names;
    for (const auto& info : kCounterInfo) {
        EXPECT_FALSE(info.name.empty());
        EXPECT_GT(info.description.size(), 10u) << info.name;
        EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
        for (char ch : info.name)
            EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_') << info.name;
    }
    // The names the brief and docs/relay.md promise, at their enum positions.
    auto name_of = [](Counter c) { return kCounterInfo[static_cast<std::size_t>(c)].name; };
    EXPECT_EQ(name_of(Counter::accepted), "accepted");
    EXPECT_EQ(name_of(Counter::connect_failed), "connect_failed");
    EXPECT_EQ(name_of(Counter::connect_timeout), "connect_timeout");
    EXPECT_EQ(name_of(Counter::splice_fallback), "splice_fallback");
    EXPECT_EQ(name_of(Counter::resets_propagated), "resets_propagated");
    EXPECT_EQ(name_of(Counter::idle_closed), "idle_closed");
    EXPECT_EQ(name_of(Counter::half_closes), "half_closes");
    EXPECT_EQ(name_of(Counter::bind_failed), "bind_failed");
    EXPECT_EQ(name_of(Counter::aliases_added), "aliases_added");
    EXPECT_EQ(name_of(Counter::reloads), "reloads");
}

TEST(Counters, EveryCounterIsDocumented) {
    std::string doc_path = std::string(SVXLAT_TEST_DATA_DIR) + "/../docs/relay.md";
    FILE* f = std::fopen(doc_path.c_str(), "r");
    ASSERT_NE(f, nullptr) << doc_path;
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;)
        text.append(buf, n);
    std::fclose(f);
    for (const auto& info : kCounterInfo)
        EXPECT_NE(text.find("`" + std::string(info.name) + "`"), std::string::npos)
            << info.name << " is not in docs/relay.md";
}

TEST(Endpoint, ParseAndFormat) {
    auto e = parse_endpoint("10.0.0.1:80");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->address, (Ipv4Address{10, 0, 0, 1}));
    EXPECT_EQ(e->port, 80);
    EXPECT_EQ(format_endpoint(*e), "10.0.0.1:80");
    EXPECT_EQ(format_endpoint({{255, 255, 255, 255}, 65535}), "255.255.255.255:65535");
    for (const char* bad :
         {"", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0:80", "10.0.0.1.1:80",
          "010.0.0.1:80", "10.0.0.256:80", "10.0.0.1:080", "a.b.c.d:1", "10.0.0.1:8x"})
        EXPECT_FALSE(parse_endpoint(bad)) << bad;
}

TEST(Rows, FromTableRow) {
    svxlat::config::TableRow t;
    t.address = {192, 0, 2, 10};
    t.port = 443;
    t.service = sid(0xab);
    t.line = 12;
    RelayRow r = relay_row_from_table(t, "table.conf");
    EXPECT_EQ(r.listen, (Endpoint{{192, 0, 2, 10}, 443}));
    EXPECT_EQ(r.effective_target(), r.listen);
    EXPECT_FALSE(r.proxy_v2);
    EXPECT_EQ(r.file, "table.conf");
    EXPECT_EQ(r.line, 12u);
    r.target = Endpoint{{127, 0, 0, 1}, 8080};
    EXPECT_EQ(r.effective_target(), *r.target);
}

TEST(States, Names) {
    EXPECT_EQ(to_string(ConnectionState::connecting), "connecting");
    EXPECT_EQ(to_string(ConnectionState::relaying), "relaying");
    EXPECT_EQ(to_string(ConnectionState::half_closed), "half-closed");
}

TEST(Alias, DefaultRouteFromProcNetRoute) {
    const char* text =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth2\t00000000\t0102000A\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth3\t00000000\t0101A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0\n"; // not RTF_UP
    EXPECT_EQ(svxlat::relay::detail::default_route_interface(text), "eth0");
    EXPECT_FALSE(svxlat::relay::detail::default_route_interface(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"));
}

TEST(Sha256Helper, KnownAnswers) {
    using svxlat::relay::test::Sha256;
    Sha256 empty;
    EXPECT_EQ(empty.hex_digest(),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 abc;
    std::string s = "abc";
    abc.update({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    EXPECT_EQ(abc.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256 two_blocks; // 56 bytes: the padding spills into a second block
    std::string t = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    two_blocks.update({reinterpret_cast<const std::uint8_t*>(t.data()), t.size()});
    EXPECT_EQ(two_blocks.hex_digest(),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(RelayObject, StartsAndStopsWithoutRows) {
    RelayOptions o;
    o.workers = 3;
    Relay relay(o);
    EXPECT_EQ(relay.worker_count(), 3u);
    EXPECT_EQ(relay.connection_count(), 0u);
    auto result = relay.apply({});
    EXPECT_EQ(result.listeners, 0u);
    EXPECT_FALSE(result.usable());
    relay.stop();
    relay.stop(); // idempotent
    auto after = relay.apply({});
    ASSERT_EQ(after.diagnostics.size(), 1u);
    for (auto v : relay.counters())
        EXPECT_EQ(v, 0u);
}

TEST(RelayObject, DefaultWorkersOnePerCore) {
    Relay relay;
    EXPECT_GE(relay.worker_count(), 1u);
    EXPECT_EQ(relay.options().pipe_size, 1u << 20);
    EXPECT_EQ(relay.options().idle_timeout, std::chrono::minutes{10});
    EXPECT_EQ(relay.options().connect_timeout, std::chrono::seconds{10});
    EXPECT_FALSE(relay.options().dynamic_aliasing);
}

} // namespace
