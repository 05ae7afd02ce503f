// Translator table parser: the paper's Figure 1, every diagnostic with its
// exact text, settings, duplicates, round trips and pathological input.
#include "config/table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using svxlat::config::Diagnostic;
using svxlat::config::format_row;
using svxlat::config::format_table;
using svxlat::config::Ipv4Address;
using svxlat::config::parse_table;
using svxlat::config::RowMode;
using svxlat::config::same_entry;
using svxlat::config::Table;
using svxlat::config::TableLimits;
using svxlat::config::TableLoadResult;
using svxlat::config::TableRow;
using svxlat::config::TcpOptionPolicy;

constexpr const char* kFile = "t.conf";

std::vector<std::string> messages(const TableLoadResult& result) {
    std::vector<std::string> out;
    for (const auto& diagnostic : result.diagnostics)
        out.push_back(diagnostic.to_string());
    return out;
}

svx_sid sid_with_prefix(std::vector<std::uint8_t> leading) {
    svx_sid id{};
    std::copy(leading.begin(), leading.end(), id.b);
    return id;
}

bool same_sid(const svx_sid& a, const svx_sid& b) {
    return svx_sid_cmp(&a, &b) == 0;
}

// --- Figure 1 ---------------------------------------------------------------

TEST(TableFigure1, LoadsThePaperExampleAsIs) {
    const std::string figure1 = "IP address\tPort\tService ID\n"
                                "128.112.0.1\t80\t1\n"
                                "128.112.0.2\t80\t2\n"
                                "128.112.0.3\t8080\t3\n";
    auto result = parse_table(figure1, kFile);
    EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    EXPECT_TRUE(result.usable());
    EXPECT_FALSE(result.has_errors());
    ASSERT_EQ(result.table.rows.size(), 3u);

    const Ipv4Address addresses[] = {{128, 112, 0, 1}, {128, 112, 0, 2}, {128, 112, 0, 3}};
    const std::uint16_t ports[] = {80, 80, 8080};
    const std::uint8_t first_bytes[] = {0x10, 0x20, 0x30}; // "1" is the high nibble of byte 0
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& row = result.table.rows[i];
        EXPECT_EQ(row.address, addresses[i]);
        EXPECT_EQ(row.port, ports[i]);
        EXPECT_TRUE(same_sid(row.service, sid_with_prefix({first_bytes[i]})));
        EXPECT_EQ(row.mode, RowMode::unset);
        EXPECT_EQ(row.tcp_options, TcpOptionPolicy::unset);
        EXPECT_EQ(row.line, i + 2);
        EXPECT_EQ(result.table.find(addresses[i], ports[i]), &row);
    }
    EXPECT_EQ(format_row(result.table.rows[0]),
              "128.112.0.1\t80\t1000000000000000000000000000000000000000000000000000000000000000");
}

// The paper's section 3.1 walk-through: (128.112.0.1, 80) maps to service 1.
TEST(TableFigure1, FindMapsAddressAndPortOnly) {
    auto result = parse_table("128.112.0.1 80 1\n128.112.0.2 80 2\n128.112.0.3 8080 3\n", kFile);
    const Table& table = result.table;
    ASSERT_NE(table.find({128, 112, 0, 1}, 80), nullptr);
    EXPECT_TRUE(same_sid(table.find({128, 112, 0, 1}, 80)->service, sid_with_prefix({0x10})));
    EXPECT_EQ(table.find({128, 112, 0, 1}, 8080), nullptr);
    EXPECT_EQ(table.find({128, 112, 0, 3}, 80), nullptr);
    EXPECT_EQ(table.find({128, 112, 0, 4}, 80), nullptr);
    EXPECT_EQ(table.find({112, 128, 0, 1}, 80), nullptr);
    ASSERT_NE(table.find({128, 112, 0, 3}, 8080), nullptr);
    EXPECT_EQ(table.find({128, 112, 0, 3}, 8080)->line, 3u);
}

// --- service ID text forms (the core's parser) -------------------------------

TEST(TableServiceId, AcceptsTheCoreTextForms) {
    auto result = parse_table("10.0.0.1 1 1\n"
                              "10.0.0.1 2 0x00001f90\n"
                              "10.0.0.1 3 0000005\n"
                              "10.0.0.1 4 ABCdef\n"
                              "10.0.0.1 5 0X1\n"
                              "10.0.0.1 6 "
                              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
                              kFile);
    ASSERT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    ASSERT_EQ(result.table.rows.size(), 6u);
    const auto& rows = result.table.rows;
    EXPECT_TRUE(same_sid(rows[0].service, sid_with_prefix({0x10})));
    EXPECT_TRUE(same_sid(rows[1].service, sid_with_prefix({0x00, 0x00, 0x1f, 0x90})));
    EXPECT_TRUE(same_sid(rows[2].service, sid_with_prefix({0x00, 0x00, 0x00, 0x50})));
    EXPECT_TRUE(same_sid(rows[3].service, sid_with_prefix({0xab, 0xcd, 0xef})));
    EXPECT_TRUE(same_sid(rows[4].service, sid_with_prefix({0x10})));
    std::vector<std::uint8_t> counting(32);
    for (std::size_t i = 0; i < counting.size(); ++i)
        counting[i] = static_cast<std::uint8_t>(i);
    EXPECT_TRUE(same_sid(rows[5].service, sid_with_prefix(counting)));
    EXPECT_EQ(svxlat::config::format_service_id(rows[1].service),
              "00001f9000000000000000000000000000000000000000000000000000000000");
}

// --- every per-row diagnostic, exact text -------------------------------------

struct RowErrorCase {
    std::string line;
    std::vector<std::string> expected; // after "t.conf:2: "
};

// Names the CTest cases after the row, escaped and cut short.
void PrintTo(const RowErrorCase& param, std::ostream* out) {
    std::string shown;
    for (char c : param.line.substr(0, 40))
        shown += (c >= 0x21 && c < 0x7f) ? c : '_';
    *out << shown;
}

class TableRowError : public ::testing::TestWithParam<RowErrorCase> {};

// A valid first row keeps the table usable and takes the header slot, so the
// diagnostics are exactly those of line 2.
TEST_P(TableRowError, ReportsFileLineFieldReason) {
    const auto& param = GetParam();
    auto result = parse_table("10.9.9.9 80 1\n" + param.line + "\n", kFile);
    std::vector<std::string> expected;
    for (const auto& text : param.expected)
        expected.push_back(std::string(kFile) + ":2: " + text);
    EXPECT_EQ(messages(result), expected);
    EXPECT_TRUE(result.has_errors());
    EXPECT_EQ(result.error_count(), expected.size());
    EXPECT_TRUE(result.usable());
    ASSERT_EQ(result.table.rows.size(), 1u) << "the bad row must not be kept";
    EXPECT_EQ(result.table.rows[0].line, 1u);
    for (const auto& diagnostic : result.diagnostics) {
        EXPECT_EQ(diagnostic.severity, Diagnostic::Severity::error);
        EXPECT_EQ(diagnostic.file, kFile);
        EXPECT_EQ(diagnostic.line, 2u);
    }
}

const std::string k65HexDigits(65, 'a');
const std::string kLongAddress(100, 'a');

INSTANTIATE_TEST_SUITE_P(
    Address, TableRowError,
    ::testing::Values(
        RowErrorCase{"300.1.1.1 80 1", {"address: '300.1.1.1' is not an IPv4 address"}},
        RowErrorCase{"10.0.0 80 1", {"address: '10.0.0' is not an IPv4 address"}},
        RowErrorCase{"10.0.0.1.5 80 1", {"address: '10.0.0.1.5' is not an IPv4 address"}},
        RowErrorCase{"10.0.0.1x 80 1", {"address: '10.0.0.1x' is not an IPv4 address"}},
        RowErrorCase{"10..0.1 80 1", {"address: '10..0.1' is not an IPv4 address"}},
        RowErrorCase{"1234.0.0.1 80 1", {"address: '1234.0.0.1' is not an IPv4 address"}},
        RowErrorCase{"web.example 80 1", {"address: 'web.example' is not an IPv4 address"}},
        RowErrorCase{"::1 80 1", {"address: '::1' is not an IPv4 address (IPv6 is not supported)"}},
        RowErrorCase{"010.1.1.1 80 1",
                     {"address: '010.1.1.1' is not an IPv4 address (leading zero in '010': "
                      "some tools read it as octal)"}},
        RowErrorCase{"10.1.1.00 80 1",
                     {"address: '10.1.1.00' is not an IPv4 address (leading zero in '00': "
                      "some tools read it as octal)"}},
        RowErrorCase{"0.0.0.0 80 1",
                     {"address: '0.0.0.0' is in 0.0.0.0/8 (unspecified, 'this network'), not "
                      "an address clients can connect to"}},
        RowErrorCase{"0.1.2.3 80 1",
                     {"address: '0.1.2.3' is in 0.0.0.0/8 (unspecified, 'this network'), not "
                      "an address clients can connect to"}},
        RowErrorCase{"255.255.255.255 80 1",
                     {"address: '255.255.255.255' is the broadcast address, not an address "
                      "clients can connect to"}},
        RowErrorCase{"224.0.0.1 80 1",
                     {"address: '224.0.0.1' is a multicast address (224.0.0.0/4), not an "
                      "address TCP clients can connect to"}},
        RowErrorCase{"239.255.255.255 80 1",
                     {"address: '239.255.255.255' is a multicast address (224.0.0.0/4), not "
                      "an address TCP clients can connect to"}},
        RowErrorCase{"1.2.3.\x01 80 1", {"address: '1.2.3.\\x01' is not an IPv4 address"}},
        RowErrorCase{kLongAddress + " 80 1",
                     {"address: '" + std::string(64, 'a') + "...' is not an IPv4 address"}}));

INSTANTIATE_TEST_SUITE_P(
    Port, TableRowError,
    ::testing::Values(
        RowErrorCase{"10.0.0.1 70000 1", {"port: '70000' out of range 1..65535"}},
        RowErrorCase{"10.0.0.1 65536 1", {"port: '65536' out of range 1..65535"}},
        RowErrorCase{"10.0.0.1 0 1", {"port: '0' out of range 1..65535"}},
        RowErrorCase{"10.0.0.1 99999999999999999999 1",
                     {"port: '99999999999999999999' out of range 1..65535"}},
        RowErrorCase{"10.0.0.1 http 1", {"port: 'http' is not a decimal port number"}},
        RowErrorCase{"10.0.0.1 -1 1", {"port: '-1' is not a decimal port number"}},
        RowErrorCase{"10.0.0.1 0x50 1", {"port: '0x50' is not a decimal port number"}},
        RowErrorCase{"10.0.0.1 080 1",
                     {"port: '080' is not a decimal port number (leading zero)"}}));

INSTANTIATE_TEST_SUITE_P(
    ServiceId, TableRowError,
    ::testing::Values(
        RowErrorCase{"10.0.0.1 80 zz",
                     {"service-ID: invalid character in service ID (hex digits only)"}},
        RowErrorCase{"10.0.0.1 80 0x", {"service-ID: no hex digits in service ID"}},
        RowErrorCase{"10.0.0.1 80 " + k65HexDigits,
                     {"service-ID: service ID longer than 64 hex digits"}},
        RowErrorCase{"10.0.0.1 80 1/8", {"service-ID: a prefix length is not allowed here"}},
        RowErrorCase{"10.0.0.1 80 0",
                     {"service-ID: '0' is the all-zero (default) service ID, not a connection "
                      "target"}},
        RowErrorCase{"10.0.0.1 80 0x0000",
                     {"service-ID: '0x0000' is the all-zero (default) service ID, not a "
                      "connection target"}}));

INSTANTIATE_TEST_SUITE_P(
    Row, TableRowError,
    ::testing::Values(
        RowErrorCase{"10.0.0.1 80", {"row: expected 3 fields 'IP-address port service-ID', got 2"}},
        RowErrorCase{"10.0.0.1", {"row: expected 3 fields 'IP-address port service-ID', got 1"}},
        RowErrorCase{"10.0.0.1\v80 1",
                     {"row: expected 3 fields 'IP-address port service-ID', got 2"}},
        RowErrorCase{"10.0.0.1 80 mode=relay",
                     {"row: expected 3 fields 'IP-address port service-ID' before the "
                      "settings, got 2"}},
        RowErrorCase{"mode=relay",
                     {"row: expected 3 fields 'IP-address port service-ID' before the "
                      "settings, got 0"}},
        RowErrorCase{"IP address Port Service ID",
                     {"row: looks like a header; a header is only allowed as the first "
                      "non-comment line"}},
        RowErrorCase{"300.1.1.1 0 zz mode=fast",
                     {"address: '300.1.1.1' is not an IPv4 address",
                      "port: '0' out of range 1..65535",
                      "service-ID: invalid character in service ID (hex digits only)",
                      "mode: 'fast' is not packet or relay"}}));

INSTANTIATE_TEST_SUITE_P(
    Setting, TableRowError,
    ::testing::Values(
        RowErrorCase{"10.0.0.1 80 1 extra", {"setting: 'extra' is not a key=value setting"}},
        RowErrorCase{"10.0.0.1 80 1 =relay", {"setting: '=relay' is not a key=value setting"}},
        RowErrorCase{"10.0.0.1 80 1 speed=fast",
                     {"setting: unknown key 'speed' (known: mode, serval-tcp-options, relay-target, proxy-protocol)"}},
        RowErrorCase{"10.0.0.1 80 1 Mode=relay",
                     {"setting: unknown key 'Mode' (known: mode, serval-tcp-options, relay-target, proxy-protocol)"}},
        RowErrorCase{"10.0.0.1 80 1 mode=fast", {"mode: 'fast' is not packet or relay"}},
        RowErrorCase{"10.0.0.1 80 1 mode=RELAY", {"mode: 'RELAY' is not packet or relay"}},
        RowErrorCase{"10.0.0.1 80 1 mode=", {"mode: '' is not packet or relay"}},
        RowErrorCase{"10.0.0.1 80 1 serval-tcp-options=drop",
                     {"serval-tcp-options: 'drop' is not keep or strip"}},
        RowErrorCase{"10.0.0.1 80 1 mode=relay mode=relay", {"setting: duplicate key 'mode'"}},
        RowErrorCase{"10.0.0.1 80 1 mode=fast mode=relay",
                     {"mode: 'fast' is not packet or relay", "setting: duplicate key 'mode'"}},
        RowErrorCase{"10.0.0.1 80 1 serval-tcp-options=keep serval-tcp-options=strip",
                     {"setting: duplicate key 'serval-tcp-options'"}},
        RowErrorCase{"10.0.0.1 80 1 relay-target=10.0.0.2",
                     {"relay-target: '10.0.0.2' is not IPv4-address:port"}},
        RowErrorCase{"10.0.0.1 80 1 relay-target=10.0.0.300:80",
                     {"relay-target: '10.0.0.300' is not an IPv4 address"}},
        RowErrorCase{"10.0.0.1 80 1 relay-target=10.0.0.2:080",
                     {"relay-target: '080' is not a port number 1..65535"}},
        RowErrorCase{"10.0.0.1 80 1 relay-target=10.0.0.2:65536",
                     {"relay-target: '65536' is not a port number 1..65535"}},
        RowErrorCase{"10.0.0.1 80 1 relay-target=10.0.0.2:81 relay-target=10.0.0.2:82",
                     {"setting: duplicate key 'relay-target'"}},
        RowErrorCase{"10.0.0.1 80 1 proxy-protocol=v1",
                     {"proxy-protocol: 'v1' is not v2 or none"}},
        RowErrorCase{"10.0.0.1 80 1 proxy-protocol=v2 proxy-protocol=none",
                     {"setting: duplicate key 'proxy-protocol'"}}));

INSTANTIATE_TEST_SUITE_P(
    Duplicate, TableRowError,
    ::testing::Values(
        RowErrorCase{"10.9.9.9 80 2",
                     {"row: duplicate (10.9.9.9, 80) with a different service ID (first at "
                      "line 1)"}},
        RowErrorCase{"10.9.9.9 80 1 mode=relay",
                     {"row: duplicate (10.9.9.9, 80) with different settings (first at line "
                      "1)"}}));

INSTANTIATE_TEST_SUITE_P(
    Line, TableRowError,
    ::testing::Values(RowErrorCase{"10.0.0.1 80 1 " + std::string(5000, ' '),
                                   {"line: 5014 bytes, longer than the limit of 4096"}},
                      RowErrorCase{std::string("10.0.0.1 80 1 # \0", 17),
                                   {"line: NUL byte at column 17 (not a text file?)"}}));

// The brief's examples, as an operator sees them in a real file.
TEST(TableErrors, ValidRowsAreKeptAroundBadOnes) {
    const std::string text = "# comment\n"
                             "IP-address port service-ID\n"
                             "10.0.0.1 80 0x00001f90\n"
                             "10.0.0.2 80 2 mode=relay\n"
                             "\n"
                             "\n"
                             "300.1.1.1 80 4\n"
                             "10.0.0.4 443 5\n"
                             "10.0.0.5 70000 6\n"
                             "\n"
                             "\n"
                             "10.0.0.7 80 zz\n"
                             "10.0.0.8 80 8\n"
                             "10.0.0.1 80 9\n"
                             "10.0.0.9 80\n"
                             "10.0.0.2 80 2 mode=relay\n";
    auto result = parse_table(text, "table.conf");
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{
                  "table.conf:7: address: '300.1.1.1' is not an IPv4 address",
                  "table.conf:9: port: '70000' out of range 1..65535",
                  "table.conf:12: service-ID: invalid character in service ID (hex digits only)",
                  "table.conf:14: row: duplicate (10.0.0.1, 80) with a different service ID "
                  "(first at line 3)",
                  "table.conf:15: row: expected 3 fields 'IP-address port service-ID', got 2",
                  "table.conf:16: warning: row: duplicate of the row at line 4; kept once",
              }));
    EXPECT_TRUE(result.usable());
    EXPECT_TRUE(result.has_errors());
    EXPECT_EQ(result.error_count(), 5u);
    EXPECT_EQ(result.warning_count(), 1u);
    std::vector<unsigned> kept_lines;
    for (const auto& row : result.table.rows)
        kept_lines.push_back(row.line);
    EXPECT_EQ(kept_lines, (std::vector<unsigned>{3, 4, 8, 13}));
    EXPECT_TRUE(same_sid(result.table.find({10, 0, 0, 1}, 80)->service,
                         sid_with_prefix({0x00, 0x00, 0x1f, 0x90})))
        << "the first of two conflicting rows wins";
}

// --- usability ---------------------------------------------------------------

TEST(TableUsable, NoValidRowIsNotUsable) {
    const std::pair<std::string, std::vector<std::string>> cases[] = {
        {"", {"t.conf: no valid row; the table is unusable"}},
        {"\n\n  \t\n", {"t.conf: no valid row; the table is unusable"}},
        {"# only a comment\n", {"t.conf: no valid row; the table is unusable"}},
        {"IP address\tPort\tService ID\n", {"t.conf: no valid row; the table is unusable"}},
        {"IP address\tPort\tService ID\n300.1.1.1 80 1\n",
         {"t.conf:2: address: '300.1.1.1' is not an IPv4 address",
          "t.conf: no valid row; the table is unusable"}},
    };
    for (const auto& [text, expected] : cases) {
        auto result = parse_table(text, kFile);
        EXPECT_FALSE(result.usable()) << text;
        EXPECT_TRUE(result.has_errors()) << text;
        EXPECT_TRUE(result.readable()) << text;
        EXPECT_EQ(messages(result), expected) << text;
        EXPECT_EQ(result.error_count(), expected.size()) << text;
    }
}

TEST(TableUsable, OneValidRowIsEnough) {
    auto result = parse_table("300.1.1.1 80 1\n10.0.0.1 http 1\n10.0.0.1 80 1\n", kFile);
    EXPECT_TRUE(result.usable());
    EXPECT_TRUE(result.has_errors());
    EXPECT_EQ(result.table.rows.size(), 1u);
}

TEST(TableUsable, EmptyFileNameIsLabelled) {
    auto result = parse_table("300.1.1.1 80 1\n10.0.0.1 80 1\n", "");
    EXPECT_EQ(messages(result),
              std::vector<std::string>{"<table>:1: address: '300.1.1.1' is not an IPv4 address"});
    EXPECT_EQ(result.file, "<table>");
}

// --- header ------------------------------------------------------------------

TEST(TableHeader, AcceptedSpellings) {
    for (const char* header :
         {"IP address\tPort\tService ID", "IP-address port service-ID", "ip", "  ip port sid  ",
          "IP address Port Service ID # the paper's Figure 1"}) {
        auto result = parse_table(std::string(header) + "\n10.0.0.1 80 1\n", kFile);
        EXPECT_TRUE(result.diagnostics.empty())
            << header << ": " << ::testing::PrintToString(messages(result));
        EXPECT_EQ(result.table.rows.size(), 1u) << header;
    }
}

TEST(TableHeader, FirstNonBlankNonCommentLineOnly) {
    auto after_comments =
        parse_table("# generated\n\n   \n\t# more\nip port sid\n10.0.0.1 80 1\n", kFile);
    EXPECT_TRUE(after_comments.diagnostics.empty());
    EXPECT_EQ(after_comments.table.rows.size(), 1u);

    auto after_row = parse_table("10.0.0.1 80 1\nip port sid\n", kFile);
    EXPECT_EQ(messages(after_row),
              std::vector<std::string>{"t.conf:2: row: looks like a header; a header is only "
                                       "allowed as the first non-comment line"});

    auto two_headers = parse_table("ip port sid\nip port sid\n10.0.0.1 80 1\n", kFile);
    EXPECT_EQ(messages(two_headers),
              std::vector<std::string>{"t.conf:2: row: looks like a header; a header is only "
                                       "allowed as the first non-comment line"});

    // After a bad first row, a header is no longer a header either.
    auto after_bad_row = parse_table("10.0.0.1 80\nip port sid\n10.0.0.1 80 1\n", kFile);
    EXPECT_EQ(after_bad_row.error_count(), 2u);
}

// A first line that is a row gone wrong must be reported, not taken as a header.
TEST(TableHeader, RowsThatStartWithoutADigitAreNotHeaders) {
    EXPECT_EQ(messages(parse_table("::1 80 1\n10.0.0.1 80 1\n", kFile)),
              std::vector<std::string>{
                  "t.conf:1: address: '::1' is not an IPv4 address (IPv6 is not supported)"});
    EXPECT_EQ(messages(parse_table("web.example 80 1\n10.0.0.1 80 1\n", kFile)),
              std::vector<std::string>{"t.conf:1: address: 'web.example' is not an IPv4 address"});
    EXPECT_EQ(messages(parse_table("mode=relay\n10.0.0.1 80 1\n", kFile)),
              std::vector<std::string>{"t.conf:1: row: expected 3 fields 'IP-address port "
                                       "service-ID' before the settings, got 0"});
}

// --- layout: comments, CRLF, tabs, BOM ----------------------------------------

TEST(TableLayout, CommentsCrlfTabsAndSpaces) {
    const std::string text = "\xEF\xBB\xBF"
                             "128.112.0.1 80 1\r\n"
                             "# whole-line comment\r\n"
                             "   # indented comment\r\n"
                             "\r\n"
                             "\t128.112.0.2\t \t80  \t2#no space before the comment\r\n"
                             "128.112.0.3 8080 3 mode=relay # trailing comment\r\n"
                             "128.112.0.4 8080 4\t\t\t\r\n"
                             "128.112.0.5 8080 5"; // no final line end
    auto result = parse_table(text, kFile);
    EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    ASSERT_EQ(result.table.rows.size(), 5u);
    const unsigned lines[] = {1, 5, 6, 7, 8};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(result.table.rows[i].address,
                  (Ipv4Address{128, 112, 0, static_cast<std::uint8_t>(i + 1)}));
        EXPECT_EQ(result.table.rows[i].line, lines[i]);
    }
    EXPECT_TRUE(same_sid(result.table.rows[1].service, sid_with_prefix({0x20})));
    EXPECT_EQ(result.table.rows[2].mode, RowMode::relay);
}

TEST(TableLayout, OnlyOneCarriageReturnIsALineEnd) {
    auto result = parse_table("10.0.0.1 80 1\r\r\n10.0.0.2 80 1\n", kFile);
    EXPECT_EQ(messages(result),
              std::vector<std::string>{
                  "t.conf:1: service-ID: invalid character in service ID (hex digits only)"});
}

// --- settings ------------------------------------------------------------------

TEST(TableSettings, ParsesModeAndTcpOptions) {
    auto result = parse_table("10.0.0.1 1 1\n"
                              "10.0.0.1 2 1 mode=packet\n"
                              "10.0.0.1 3 1 mode=relay\n"
                              "10.0.0.1 4 1 serval-tcp-options=keep\n"
                              "10.0.0.1 5 1 serval-tcp-options=strip\n"
                              "10.0.0.1 6 1 mode=relay serval-tcp-options=strip\n"
                              "10.0.0.1 7 1\tserval-tcp-options=keep\tmode=packet\n",
                              kFile);
    ASSERT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    const std::pair<RowMode, TcpOptionPolicy> expected[] = {
        {RowMode::unset, TcpOptionPolicy::unset}, {RowMode::packet, TcpOptionPolicy::unset},
        {RowMode::relay, TcpOptionPolicy::unset}, {RowMode::unset, TcpOptionPolicy::keep},
        {RowMode::unset, TcpOptionPolicy::strip}, {RowMode::relay, TcpOptionPolicy::strip},
        {RowMode::packet, TcpOptionPolicy::keep},
    };
    ASSERT_EQ(result.table.rows.size(), std::size(expected));
    for (std::size_t i = 0; i < std::size(expected); ++i) {
        const auto* row = result.table.find({10, 0, 0, 1}, static_cast<std::uint16_t>(i + 1));
        ASSERT_NE(row, nullptr);
        EXPECT_EQ(row->mode, expected[i].first) << "port " << i + 1;
        EXPECT_EQ(row->tcp_options, expected[i].second) << "port " << i + 1;
    }
    EXPECT_EQ(format_row(*result.table.find({10, 0, 0, 1}, 7)),
              "10.0.0.1\t7\t1000000000000000000000000000000000000000000000000000000000000000"
              "\tmode=packet\tserval-tcp-options=keep");
    EXPECT_EQ(svxlat::config::to_string(RowMode::unset), "unset");
    EXPECT_EQ(svxlat::config::to_string(TcpOptionPolicy::strip), "strip");
}

// --- duplicates -----------------------------------------------------------------

TEST(TableSettings, ParsesRelayTargetAndProxyProtocol) {
    auto result = parse_table("10.0.0.1 80 1 mode=relay relay-target=10.0.0.9:8080 "
                              "proxy-protocol=v2\n10.0.0.1 81 1 proxy-protocol=none\n",
                              "t.conf");
    ASSERT_FALSE(result.has_errors());
    ASSERT_EQ(result.table.rows.size(), 2u);
    const auto& relay = result.table.rows[0];
    ASSERT_TRUE(relay.relay_target.has_value());
    EXPECT_EQ(relay.relay_target->address, (Ipv4Address{10, 0, 0, 9}));
    EXPECT_EQ(relay.relay_target->port, 8080);
    EXPECT_TRUE(relay.proxy_v2);
    EXPECT_FALSE(result.table.rows[1].relay_target.has_value());
    EXPECT_FALSE(result.table.rows[1].proxy_v2);
    // Written back and read again: the same row.
    auto again = parse_table(format_row(relay) + "\n", "t.conf");
    ASSERT_EQ(again.table.rows.size(), 1u);
    EXPECT_TRUE(same_entry(again.table.rows[0], relay));
}

TEST(TableDuplicates, ExactDuplicateIsAWarningAndKeptOnce) {
    // "0x1" and "1" are the same service; the settings are equal in another order.
    auto result = parse_table("10.0.0.1 80 1 mode=relay serval-tcp-options=keep\n"
                              "10.0.0.1\t80\t0x1  serval-tcp-options=keep mode=relay\n",
                              kFile);
    EXPECT_EQ(messages(result),
              std::vector<std::string>{
                  "t.conf:2: warning: row: duplicate of the row at line 1; kept once"});
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_EQ(result.diagnostics[0].severity, Diagnostic::Severity::warning);
    EXPECT_FALSE(result.has_errors());
    EXPECT_EQ(result.warning_count(), 1u);
    ASSERT_EQ(result.table.rows.size(), 1u);
    EXPECT_EQ(result.table.rows[0].line, 1u);
}

TEST(TableDuplicates, SameServiceOnSeveralPairsIsFine) {
    auto result = parse_table("10.0.0.1 80 1\n10.0.0.1 443 1\n10.0.0.2 80 1\n", kFile);
    EXPECT_TRUE(result.diagnostics.empty());
    EXPECT_EQ(result.table.rows.size(), 3u);
}

// --- Table container ----------------------------------------------------------------

TEST(TableIndex, InsertKeepsTheFirstRowPerPair) {
    Table table;
    TableRow first;
    first.address = {192, 0, 2, 1};
    first.port = 80;
    first.service = sid_with_prefix({0x01});
    TableRow second = first;
    second.service = sid_with_prefix({0x02});

    auto [stored, added] = table.insert(first);
    EXPECT_TRUE(added);
    EXPECT_TRUE(same_entry(*stored, first));
    auto [existing, added_again] = table.insert(second);
    EXPECT_FALSE(added_again);
    EXPECT_TRUE(same_entry(*existing, first));
    EXPECT_EQ(table.rows.size(), 1u);

    // Port and every address byte are part of the key.
    for (std::size_t byte = 0; byte < 4; ++byte) {
        TableRow other = first;
        other.address[byte] ^= 1;
        EXPECT_TRUE(table.insert(other).second) << byte;
    }
    TableRow other_port = first;
    other_port.port = 81;
    EXPECT_TRUE(table.insert(other_port).second);
    EXPECT_EQ(table.rows.size(), 6u);
    for (const auto& row : table.rows)
        EXPECT_EQ(table.find(row.address, row.port), &row);
}

TEST(TableIndex, SameEntryIgnoresOnlyTheLine) {
    TableRow a;
    a.address = {192, 0, 2, 1};
    a.port = 80;
    a.service = sid_with_prefix({0x01});
    a.line = 3;
    TableRow b = a;
    b.line = 9;
    EXPECT_TRUE(same_entry(a, b));
    b.mode = RowMode::packet;
    EXPECT_FALSE(same_entry(a, b));
    b = a;
    b.tcp_options = TcpOptionPolicy::keep;
    EXPECT_FALSE(same_entry(a, b));
    b = a;
    b.service.b[31] = 1;
    EXPECT_FALSE(same_entry(a, b));
    b = a;
    b.port = 81;
    EXPECT_FALSE(same_entry(a, b));
    b = a;
    b.address[3] = 2;
    EXPECT_FALSE(same_entry(a, b));
}

// --- format_row round trip --------------------------------------------------------

Ipv4Address random_public_address(std::mt19937& rng) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (;;) {
        Ipv4Address address{};
        for (auto& b : address)
            b = static_cast<std::uint8_t>(byte(rng));
        if (address[0] != 0 && address[0] < 224) // what the parser accepts
            return address;
    }
}

// The same service written the ways the core's parser accepts.
std::string random_service_text(const svx_sid& service, std::mt19937& rng) {
    std::string hex = svxlat::config::format_service_id(service);
    switch (rng() % 4) {
    case 0:
        return hex;
    case 1:
        std::transform(hex.begin(), hex.end(), hex.begin(), [](char c) {
            return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        });
        return "0x" + hex;
    default: // trailing zero digits may be left out
        hex.erase(std::max<std::size_t>(hex.find_last_not_of('0') + 1, 1));
        return (rng() % 2 ? "0x" : "") + hex;
    }
}

TEST(TableRoundTrip, RandomTablesSurviveFormatAndParse) {
    std::mt19937 rng(20240611); // fixed: a failure reproduces
    const char* separators[] = {" ", "\t", "  ", " \t "};
    const char* modes[] = {"", "packet", "relay"};
    const char* policies[] = {"", "keep", "strip"};
    for (int table_index = 0; table_index < 200; ++table_index) {
        std::vector<TableRow> expected;
        std::set<std::pair<Ipv4Address, std::uint16_t>> used;
        std::string text = rng() % 2 ? "IP address\tPort\tService ID\n" : "";
        const int row_count = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < row_count; ++i) {
            TableRow row;
            row.address = random_public_address(rng);
            row.port = static_cast<std::uint16_t>(1 + rng() % 65535);
            if (!used.insert({row.address, row.port}).second)
                continue;
            do {
                for (auto& b : row.service.b)
                    b = rng() % 3 ? 0 : static_cast<std::uint8_t>(rng());
            } while (std::all_of(std::begin(row.service.b), std::end(row.service.b),
                                 [](std::uint8_t b) { return b == 0; }));
            auto mode_index = rng() % 3;
            auto policy_index = rng() % 3;
            row.mode = static_cast<RowMode>(mode_index);
            row.tcp_options = static_cast<TcpOptionPolicy>(policy_index);

            const char* sep = separators[rng() % std::size(separators)];
            std::string line = svxlat::config::format_address(row.address) + sep +
                               std::to_string(row.port) + sep +
                               random_service_text(row.service, rng);
            if (mode_index)
                line += std::string(sep) + "mode=" + modes[mode_index];
            if (policy_index)
                line += std::string(sep) + "serval-tcp-options=" + policies[policy_index];
            if (rng() % 4 == 0)
                line += " # comment";
            if (rng() % 5 == 0)
                text += "\n# spacer\n";
            text += line + (rng() % 2 ? "\r\n" : "\n");
            expected.push_back(row);
        }

        auto parsed = parse_table(text, kFile);
        ASSERT_TRUE(parsed.diagnostics.empty())
            << text << ::testing::PrintToString(messages(parsed));
        ASSERT_EQ(parsed.table.rows.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            ASSERT_TRUE(same_entry(parsed.table.rows[i], expected[i])) << text;

        // Each canonical line alone, and the whole table in canonical form.
        for (const auto& row : parsed.table.rows) {
            auto again = parse_table(format_row(row), kFile);
            ASSERT_TRUE(again.diagnostics.empty()) << format_row(row);
            ASSERT_EQ(again.table.rows.size(), 1u);
            ASSERT_TRUE(same_entry(again.table.rows[0], row)) << format_row(row);
        }
        auto canonical = parse_table(format_table(parsed.table), kFile);
        ASSERT_TRUE(canonical.diagnostics.empty()) << format_table(parsed.table);
        ASSERT_EQ(canonical.table.rows.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            ASSERT_TRUE(same_entry(canonical.table.rows[i], expected[i]));
            EXPECT_EQ(canonical.table.rows[i].line, i + 2) << "after the header comment";
        }
        EXPECT_EQ(format_table(canonical.table), format_table(parsed.table));
    }
}

// --- bounds: pathological input ------------------------------------------------------

TEST(TableBounds, LineLengthLimitIsExact) {
    std::string row = "10.0.0.1 80 1";
    std::string at_limit = row + std::string(4096 - row.size(), ' ');
    auto ok = parse_table(at_limit + "\r\n", kFile); // the CR is the line end, not content
    EXPECT_TRUE(ok.diagnostics.empty()) << ::testing::PrintToString(messages(ok));
    auto too_long = parse_table(at_limit + " \n10.0.0.2 80 1\n", kFile);
    EXPECT_EQ(messages(too_long), std::vector<std::string>{
                                      "t.conf:1: line: 4097 bytes, longer than the limit of 4096"});
    EXPECT_EQ(too_long.table.rows.size(), 1u);
}

TEST(TableBounds, HugeLineIsOneDiagnostic) {
    std::string huge(10u << 20, 'a');
    auto result = parse_table(huge + "\n10.0.0.1 80 1\n", kFile);
    EXPECT_EQ(
        messages(result),
        std::vector<std::string>{"t.conf:1: line: 10485760 bytes, longer than the limit of 4096"});
    ASSERT_EQ(result.table.rows.size(), 1u);
    EXPECT_EQ(result.table.rows[0].line, 2u);
}

TEST(TableBounds, NulBytes) {
    std::string nuls(1u << 20, '\0');
    auto only_nuls = parse_table(nuls, kFile);
    EXPECT_EQ(messages(only_nuls),
              (std::vector<std::string>{"t.conf:1: line: 1048576 bytes, longer than the limit "
                                        "of 4096",
                                        "t.conf: no valid row; the table is unusable"}));
    auto short_lines = parse_table(std::string("\0\n10.0.0.1 80 1\n\0\0\n", 19), kFile);
    EXPECT_EQ(
        messages(short_lines),
        (std::vector<std::string>{"t.conf:1: line: NUL byte at column 1 (not a text file?)",
                                  "t.conf:3: line: NUL byte at column 1 (not a text file?)"}));
    EXPECT_EQ(short_lines.table.rows.size(), 1u);
}

TEST(TableBounds, ManyEmptyLines) {
    std::string empty_lines(100000, '\n');
    auto only_empty = parse_table(empty_lines, kFile);
    EXPECT_FALSE(only_empty.usable());
    EXPECT_EQ(messages(only_empty),
              std::vector<std::string>{"t.conf: no valid row; the table is unusable"});
    auto row_after = parse_table(empty_lines + "10.0.0.1 80 1", kFile);
    EXPECT_TRUE(row_after.diagnostics.empty());
    ASSERT_EQ(row_after.table.rows.size(), 1u);
    EXPECT_EQ(row_after.table.rows[0].line, 100001u);
}

TEST(TableBounds, DiagnosticsAreCappedButCounted) {
    std::string bad_lines;
    for (int i = 0; i < 200000; ++i)
        bad_lines += "10.0.0 80 1\n";
    auto result = parse_table(bad_lines + "10.0.0.1 80 1\n", kFile);
    EXPECT_TRUE(result.usable());
    EXPECT_EQ(result.error_count(), 200000u);
    ASSERT_EQ(result.diagnostics.size(), 1001u);
    EXPECT_EQ(result.diagnostics[999].line, 1000u);
    EXPECT_EQ(result.diagnostics.back().to_string(),
              "t.conf: 199000 more diagnostics not shown (limit 1000)");
    EXPECT_EQ(result.diagnostics.back().severity, Diagnostic::Severity::error);

    TableLimits limits;
    limits.max_diagnostics = 2;
    auto warnings_only = parse_table("10.0.0.1 80 1\n10.0.0.1 80 1\n10.0.0.1 80 1\n"
                                     "10.0.0.1 80 1\n",
                                     kFile, limits);
    EXPECT_FALSE(warnings_only.has_errors());
    EXPECT_EQ(warnings_only.warning_count(), 3u);
    ASSERT_EQ(warnings_only.diagnostics.size(), 3u);
    EXPECT_EQ(warnings_only.diagnostics.back().to_string(),
              "t.conf: warning: 1 more diagnostics not shown (limit 2)");
}

TEST(TableBounds, FileSizeLimit) {
    TableLimits limits;
    limits.max_file_bytes = 14;
    auto at_limit = parse_table("10.0.0.1 80 1\n", kFile, limits);
    EXPECT_TRUE(at_limit.diagnostics.empty());
    auto over = parse_table("10.0.0.1 80 1\n\n", kFile, limits);
    EXPECT_FALSE(over.usable());
    EXPECT_EQ(messages(over),
              (std::vector<std::string>{"t.conf: file is larger than 14 bytes; refusing to load it",
                                        "t.conf: no valid row; the table is unusable"}));

    std::string just_over(TableLimits{}.max_file_bytes + 1, '\n');
    EXPECT_EQ(messages(parse_table(just_over, kFile)).front(),
              "t.conf: file is larger than 64 MiB; refusing to load it");
}

TEST(TableBounds, RowLimit) {
    TableLimits limits;
    limits.max_rows = 2;
    auto result =
        parse_table("10.0.0.1 80 1\n10.0.0.2 80 1\n10.0.0.2 80 1\n10.0.0.3 80 1\n", kFile, limits);
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{
                  "t.conf:3: warning: row: duplicate of the row at line 2; kept once",
                  "t.conf:4: row: the table is full (limit of 2 rows)"}));
    EXPECT_EQ(result.table.rows.size(), 2u);
}

} // namespace
