// SPDX-License-Identifier: GPL-2.0 OR MIT
// The file format: sections, keys, comments, line ends, bounds, how errors are
// reported and ordered.
#include "test_util.h"

#include <string>

namespace svxlat::daemon::test {
namespace {

TEST(DaemonConfigSyntax, DiagnosticText) {
    EXPECT_EQ((ConfigDiagnostic{"a.conf", 3, "queues", "bad"}).to_string(),
              "a.conf:3: queues: bad");
    EXPECT_EQ((ConfigDiagnostic{"a.conf", 3, "[host]", "bad"}).to_string(),
              "a.conf:3: [host]: bad");
    EXPECT_EQ((ConfigDiagnostic{"a.conf", 3, "", "bad"}).to_string(), "a.conf:3: bad");
    EXPECT_EQ((ConfigDiagnostic{"a.conf", 0, "", "bad"}).to_string(), "a.conf: bad");
    EXPECT_EQ((ConfigDiagnostic{"", 7, "k", "bad"}).to_string(), "<config>:7: k: bad");
}

TEST(DaemonConfigSyntax, EmptyFileNameIsLabelled) {
    auto result = parse_daemon_config("[router]\n", "");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(), "<config>:1: [router]: missing required key 'address'");
}

TEST(DaemonConfigSyntax, ConfigRemembersItsFileName) {
    auto result = parse_daemon_config(kRouterRole, "/etc/svxlat/svxlatd.conf");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->file, "/etc/svxlat/svxlatd.conf");
}

TEST(DaemonConfigSyntax, CommentsBlankLinesAndSpacing) {
    auto result = parse("# whole-line comment\n"
                        "\n"
                        "   # indented comment\n"
                        "[engine]   # after a header\n"
                        "\tqueues\t=\t4\t# after a value\n"
                        "queue-length=100#not-a-comment-so-an-error-if-parsed-as-value\n"
                        "[ router ]\n"
                        "address = 10.0.0.1 # trailing\n");
    ASSERT_FALSE(result.ok());
    // '#' only starts a comment at the start of a line or after a blank.
    ASSERT_EQ(result.errors.size(), 1u) << joined(result);
    EXPECT_EQ(result.errors[0].to_string(),
              "t.conf:6: queue-length: '100#not-a-comment-so-an-error-if-parsed-as-value' is not "
              "a decimal number");

    result = parse("[engine]   # after a header\n"
                   "\tqueues\t=\t4\t# after a value\n"
                   "[ router ]\n"
                   "address = 10.0.0.1 # trailing\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->engine.queues, 4u);
}

TEST(DaemonConfigSyntax, ValueThatIsOnlyACommentIsMissing) {
    EXPECT_EQ(engine_error("queues =# four"), "t.conf:2: queues: missing value");
    EXPECT_EQ(engine_error("queues = # four"), "t.conf:2: queues: missing value");
    EXPECT_EQ(engine_error("queues ="), "t.conf:2: queues: missing value");
    EXPECT_EQ(engine_error("queues =   \t"), "t.conf:2: queues: missing value");
}

TEST(DaemonConfigSyntax, CrlfAndMissingFinalNewline) {
    auto result = parse("[engine]\r\nqueues = 8\r\n\r\n[router]\r\naddress = 10.0.0.1");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->engine.queues, 8u);
    EXPECT_EQ(result.config->router->address, (Ipv4Address{10, 0, 0, 1}));
    // Line numbers count CRLF lines like LF lines.
    EXPECT_EQ(only_error("[engine]\r\n\r\nqueues = 3\r\n[router]\r\naddress = 10.0.0.1\r\n"),
              "t.conf:3: queues: '3' is not a power of two (1, 2, 4, 8, 16, 32 or 64)");
}

TEST(DaemonConfigSyntax, LoneCarriageReturnIsAControlCharacter) {
    EXPECT_EQ(only_error("[engine]\nqueues = 4\rqueue-num = 1\n[router]\naddress = 10.0.0.1\n"),
              "t.conf:2: control character \\x0d in line");
}

TEST(DaemonConfigSyntax, Utf8ByteOrderMarkIsSkipped) {
    auto result = parse("\xEF\xBB\xBF[router]\naddress = 10.0.0.1\n");
    EXPECT_TRUE(result.ok()) << joined(result);
}

TEST(DaemonConfigSyntax, NoRoleSection) {
    const std::string no_role =
        "t.conf: no role section: at least one of [translator], [router], [host] is required";
    EXPECT_EQ(only_error(""), no_role);
    EXPECT_EQ(only_error("# nothing\n\n"), no_role);
    EXPECT_EQ(only_error("[engine]\nqueues = 2\n"), no_role);
}

TEST(DaemonConfigSyntax, UnknownSectionIsReportedOnceWithItsKeys) {
    EXPECT_EQ(only_error("[router]\naddress = 10.0.0.1\n[routr]\naddress = x\nfoo = bar\n"),
              "t.conf:3: [routr]: unknown section (expected engine, translator, router or host)");
}

TEST(DaemonConfigSyntax, SectionNamesAreCaseSensitive) {
    EXPECT_EQ(only_error("[Router]\n" + std::string(kRouterRole)),
              "t.conf:1: [Router]: unknown section (expected engine, translator, router or host)");
}

TEST(DaemonConfigSyntax, RepeatedSection) {
    EXPECT_EQ(only_error("[router]\naddress = 10.0.0.1\n[engine]\n[router]\nexpiry = 9s\n"),
              "t.conf:4: [router]: repeated section (first at line 1)");
}

TEST(DaemonConfigSyntax, MalformedHeader) {
    EXPECT_EQ(only_error("[router\n"
                         "[router]\naddress = 10.0.0.1\n"),
              "t.conf:1: malformed section header '[router' (expected '[name]')");
    EXPECT_EQ(only_error("[router] x\n"
                         "[router]\naddress = 10.0.0.1\n"),
              "t.conf:1: malformed section header '[router] x' (expected '[name]')");
    EXPECT_EQ(only_error("[]\n" + std::string(kRouterRole)),
              "t.conf:1: []: unknown section (expected engine, translator, router or host)");
}

TEST(DaemonConfigSyntax, KeyOutsideAnySection) {
    EXPECT_EQ(only_error("queues = 4\n" + std::string(kRouterRole)),
              "t.conf:1: queues: key outside any section (a [section] header must come first)");
}

TEST(DaemonConfigSyntax, LineWithoutEquals) {
    EXPECT_EQ(engine_error("queues 4"),
              "t.conf:2: expected '[section]' or 'key = value', got 'queues 4'");
}

TEST(DaemonConfigSyntax, MissingKey) {
    EXPECT_EQ(engine_error(" = 4"), "t.conf:2: missing key before '='");
}

TEST(DaemonConfigSyntax, UnknownKeyNamesKeyAndSection) {
    EXPECT_EQ(engine_error("qeueus = 4"), "t.conf:2: qeueus: unknown key in [engine]");
    EXPECT_EQ(engine_error("Queues = 4"), "t.conf:2: Queues: unknown key in [engine]");
    EXPECT_EQ(only_error("[router]\naddress = 10.0.0.1\ntable = x\n"),
              "t.conf:3: table: unknown key in [router]");
}

TEST(DaemonConfigSyntax, RepeatedKeyNamesTheFirstLine) {
    EXPECT_EQ(engine_error("queues = 4\n\nqueues = 4"),
              "t.conf:4: queues: repeated (first set at line 2)");
    // Also when the first value was invalid: one error each.
    auto result = parse(engine_file("queues = 3\nqueues = 4"));
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{
                  "t.conf:2: queues: '3' is not a power of two (1, 2, 4, 8, 16, 32 or 64)",
                  "t.conf:3: queues: repeated (first set at line 2)"}));
}

TEST(DaemonConfigSyntax, LineLengthBound) {
    const std::string at_limit = "#" + std::string(kMaxLineBytes - 1, 'x');
    EXPECT_TRUE(parse(at_limit + "\n" + std::string(kRouterRole)).ok());
    EXPECT_TRUE(parse(at_limit + "\r\n" + std::string(kRouterRole)).ok()); // CR is the line end
    EXPECT_EQ(only_error(at_limit + "x\n" + std::string(kRouterRole)),
              "t.conf:1: line is longer than 4096 bytes");
}

TEST(DaemonConfigSyntax, NulAndControlBytes) {
    using namespace std::string_literals;
    const std::string head(kRouterRole);
    EXPECT_EQ(only_error(head + "expiry = 5s\0\n"s), "t.conf:3: NUL byte in line");
    EXPECT_EQ(only_error(head + "# a comment with \0 is still refused\n"s),
              "t.conf:3: NUL byte in line");
    EXPECT_EQ(only_error(head + "expiry = 5s\x1b\n"), "t.conf:3: control character \\x1b in line");
    EXPECT_EQ(only_error(head + "expiry = 5s\x7f\n"), "t.conf:3: control character \\x7f in line");
    // The refused line is skipped whole: a required key on it is then missing.
    auto result = parse("[router]\naddress = 10.0.0.1\0\n"s);
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{"t.conf:1: [router]: missing required key 'address'",
                                        "t.conf:2: NUL byte in line"}));
}

TEST(DaemonConfigSyntax, FileSizeBound) {
    std::string text = std::string(kRouterRole);
    const std::string comment = "#" + std::string(1022, 'c') + "\n"; // 1 KiB a line
    while (text.size() + comment.size() <= kMaxFileBytes)
        text += comment;
    text.append(kMaxFileBytes - text.size(), '\n');
    ASSERT_EQ(text.size(), kMaxFileBytes);
    EXPECT_TRUE(parse(text).ok());
    text += "\n";
    auto result = parse(text);
    EXPECT_EQ(messages(result), std::vector<std::string>{"t.conf: file is larger than 1 MiB"});
}

TEST(DaemonConfigSyntax, NonPrintableKeysAreEscapedAndCut) {
    const std::string long_key(100, 'k');
    EXPECT_EQ(engine_error(long_key + " = 1"),
              "t.conf:2: " + std::string(64, 'k') + "...: unknown key in [engine]");
    EXPECT_EQ(engine_error("qu\xc3\xa9ues = 1"),
              "t.conf:2: qu\\xc3\\xa9ues: unknown key in [engine]");
}

TEST(DaemonConfigSyntax, ErrorsAreInLineOrderWithFileLevelLast) {
    auto result = parse("[engine]\n"
                        "queues = 3\n"
                        "[translator]\n"
                        "mode = fast\n"
                        "[bogus]\n");
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{
                  "t.conf:2: queues: '3' is not a power of two (1, 2, 4, 8, 16, 32 or 64)",
                  "t.conf:3: [translator]: missing required key 'table'",
                  "t.conf:3: [translator]: missing required key 'address'",
                  "t.conf:3: [translator]: needs 'router' or at least one 'service'",
                  "t.conf:4: mode: 'fast' is not one of packet, relay",
                  "t.conf:5: [bogus]: unknown section (expected engine, translator, router or "
                  "host)"}));
}

TEST(DaemonConfigSyntax, EveryErrorIsReportedNotJustTheFirst) {
    auto result = parse(engine_file("queues = 0\nrcvbuf = 1\nmark = 0\nlog-level = loud"));
    EXPECT_EQ(result.errors.size(), 4u) << joined(result);
    EXPECT_FALSE(result.config.has_value());
}

TEST(DaemonConfigSyntax, DiagnosticsAreCapped) {
    std::string text = "[engine]\n";
    for (int i = 0; i < 150; ++i)
        text += "nonsense\n";
    text += kRouterRole;
    auto result = parse(text);
    ASSERT_EQ(result.errors.size(), kMaxDiagnostics + 1);
    EXPECT_EQ(result.errors[0].to_string(),
              "t.conf:2: expected '[section]' or 'key = value', got 'nonsense'");
    EXPECT_EQ(result.errors[kMaxDiagnostics - 1].line, kMaxDiagnostics + 1);
    EXPECT_EQ(result.errors.back().to_string(), "t.conf: and 50 more errors");
}

TEST(DaemonConfigSyntax, ValuesMayContainEqualsAndHashWithoutBlank) {
    auto result = parse("[translator]\ntable = tables/a=b#c.conf\naddress = 10.0.0.1\n"
                        "router = 10.0.0.2\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->translator->table, "tables/a=b#c.conf");
}

} // namespace
} // namespace svxlat::daemon::test
