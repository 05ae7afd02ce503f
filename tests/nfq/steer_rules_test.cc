// SPDX-License-Identifier: GPL-2.0 OR MIT
// Steering rule text, without root: validation, exact text for both
// backends, the rule files in rules/ staying equal to the generator's
// output, and the queue each kind of packet reaches (u32 and nft selectors
// evaluated on crafted packets).
#include "rule_eval.h"
#include "steer/steering.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

using namespace svxlat::steer;
using svxlat::test::Bytes;

namespace {

SteeringSpec minimal_spec() {
    SteeringSpec spec;
    spec.queue_base = 10;
    spec.queue_count = 1;
    spec.skip_mark = 0x5e;
    spec.tcp_inbound = {{{192, 0, 2, 10}, 80}};
    spec.sal_inbound = {{10, 0, 2, 1}};
    return spec;
}

// minimal_spec() with a service router at its SAL address.
SteeringSpec router_spec() {
    SteeringSpec spec = minimal_spec();
    spec.broadcast_mark = 0x5f;
    spec.router_inbound = {{10, 0, 2, 1}};
    return spec;
}

// The sample in rules/: 2 queues from 0, 192.0.2.10:80, SAL 10.0.2.1 (also
// the router's), service 10.0.2.11:8080, fail open, ICMP on.
SteeringSpec sample_spec() {
    SteeringSpec spec;
    spec.queue_base = 0;
    spec.queue_count = 2;
    spec.skip_mark = 0x5e;
    spec.broadcast_mark = 0x5f;
    spec.fail_open = true;
    spec.tcp_inbound = {{{192, 0, 2, 10}, 80}};
    spec.tcp_local_outbound = {{{192, 0, 2, 10}, 80}};
    spec.sal_inbound = {{10, 0, 2, 1}};
    spec.tcp_service_outbound = {{{10, 0, 2, 11}, 8080}};
    spec.router_inbound = {{10, 0, 2, 1}};
    spec.icmp_inbound = true;
    return spec;
}

SteeringSpec spec_with(std::uint16_t base, std::uint16_t count, bool fail_open) {
    SteeringSpec spec = sample_spec();
    spec.queue_base = base;
    spec.queue_count = count;
    spec.fail_open = fail_open;
    return spec;
}

std::string read_rules_file(const std::string& name) {
    const char* env = std::getenv("SVXLAT_TEST_DATA_DIR");
    const std::string dir = env ? env : SVXLAT_TEST_DATA_DIR;
    std::ifstream file(dir + "/../rules/" + name);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

// Lines without comments, blank lines and surrounding whitespace.
std::vector<std::string> rule_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
            continue;
        lines.push_back(line.substr(first, line.find_last_not_of(" \t") - first + 1));
    }
    return lines;
}

// text with added inserted right before the first occurrence of anchor.
std::string inserted_before(std::string text, std::string_view anchor, std::string_view added) {
    const auto at = text.find(anchor);
    EXPECT_NE(at, std::string::npos) << anchor;
    if (at != std::string::npos)
        text.insert(at, added);
    return text;
}

} // namespace

// ---------------------------------------------------------------------------

TEST(nfqSteerValidate, AcceptsGoodSpecs) {
    EXPECT_EQ(validate(minimal_spec()), std::nullopt);
    EXPECT_EQ(validate(router_spec()), std::nullopt);
    EXPECT_EQ(validate(sample_spec()), std::nullopt);
    for (std::uint16_t n : {1, 2, 4, 8, 16, 32, 64})
        EXPECT_EQ(validate(spec_with(0, n, false)), std::nullopt) << n;
    EXPECT_EQ(validate(spec_with(65472, 64, false)), std::nullopt); // 65472..65535
}

TEST(nfqSteerValidate, RejectsBadSpecs) {
    for (std::uint16_t n : {0, 3, 6, 128})
        EXPECT_NE(validate(spec_with(0, n, false)), std::nullopt) << n;
    EXPECT_NE(validate(spec_with(65535, 2, false)), std::nullopt);

    SteeringSpec spec = minimal_spec();
    spec.skip_mark = 0;
    EXPECT_NE(validate(spec), std::nullopt);

    spec = minimal_spec();
    spec.tcp_inbound[0].port = 0;
    EXPECT_NE(validate(spec), std::nullopt);

    spec = minimal_spec();
    spec.sal_inbound.clear();
    spec.icmp_inbound = true;
    EXPECT_NE(validate(spec), std::nullopt);

    spec = SteeringSpec{};
    spec.skip_mark = 1;
    EXPECT_NE(validate(spec), std::nullopt); // nothing to steer

    EXPECT_THROW(Steering(spec, Backend::iptables), std::invalid_argument);
}

TEST(nfqSteerValidate, BroadcastMarkIsCheckedOnlyWithARouter) {
    SteeringSpec spec = minimal_spec();
    spec.broadcast_mark = 0; // no router: not used
    EXPECT_EQ(validate(spec), std::nullopt);
    spec.broadcast_mark = spec.skip_mark;
    EXPECT_EQ(validate(spec), std::nullopt);

    spec = router_spec();
    spec.broadcast_mark = 0;
    EXPECT_EQ(validate(spec), "broadcast_mark must be nonzero (mark 0 is every unmarked packet)");
    EXPECT_THROW(Steering(spec, Backend::iptables), std::invalid_argument);

    spec = router_spec();
    spec.broadcast_mark = spec.skip_mark;
    EXPECT_EQ(validate(spec),
              "broadcast_mark must differ from skip_mark (the engine's own packets)");

    // A router address the SAL rules do not steer would never be queued.
    spec = router_spec();
    spec.router_inbound = {{10, 0, 2, 2}};
    EXPECT_EQ(validate(spec), "router_inbound address 10.0.2.2 is not in sal_inbound");
}

// ---------------------------------------------------------------------------

TEST(nfqSteerText, IptablesOneQueueFailClosed) {
    EXPECT_EQ(iptables_install_script(minimal_spec()),
              "*raw\n"
              "-N SVXLAT-PRE\n"
              "-N SVXLAT-OUT\n"
              "-N SVXLAT-TCP-SPORT\n"
              "-N SVXLAT-SAL\n"
              "-A SVXLAT-TCP-SPORT -j CT --notrack\n"
              "-A SVXLAT-TCP-SPORT -j NFQUEUE --queue-num 10\n"
              "-A SVXLAT-SAL -j CT --notrack\n"
              "-A SVXLAT-SAL -j NFQUEUE --queue-num 10\n"
              "-A SVXLAT-PRE -m mark --mark 0x5e -j CT --notrack\n"
              "-A SVXLAT-PRE -m mark --mark 0x5e -j RETURN\n"
              "-A SVXLAT-PRE -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -j SVXLAT-TCP-SPORT\n"
              "-A SVXLAT-PRE -d 10.0.2.1/32 -p 144 -j SVXLAT-SAL\n"
              "-A SVXLAT-OUT -m mark --mark 0x5e -j CT --notrack\n"
              "-A SVXLAT-OUT -m mark --mark 0x5e -j RETURN\n"
              "-I PREROUTING -m comment --comment svxlat -j SVXLAT-PRE\n"
              "-I OUTPUT -m comment --comment svxlat -j SVXLAT-OUT\n"
              "COMMIT\n");
    EXPECT_EQ(iptables_remove_script(minimal_spec()),
              "*raw\n"
              "-D PREROUTING -m comment --comment svxlat -j SVXLAT-PRE\n"
              "-D OUTPUT -m comment --comment svxlat -j SVXLAT-OUT\n"
              "-F SVXLAT-PRE\n"
              "-F SVXLAT-OUT\n"
              "-F SVXLAT-TCP-SPORT\n"
              "-F SVXLAT-SAL\n"
              "-X SVXLAT-PRE\n"
              "-X SVXLAT-OUT\n"
              "-X SVXLAT-TCP-SPORT\n"
              "-X SVXLAT-SAL\n"
              "COMMIT\n");
}

TEST(nfqSteerText, NftOneQueueFailClosed) {
    EXPECT_EQ(nft_install_script(minimal_spec()),
              "create table ip svxlat\n"
              "table ip svxlat {\n"
              "\tset tcp_inbound {\n"
              "\t\ttype ipv4_addr . inet_service\n"
              "\t\telements = { 192.0.2.10 . 80 }\n"
              "\t}\n"
              "\tset sal_inbound {\n"
              "\t\ttype ipv4_addr\n"
              "\t\telements = { 10.0.2.1 }\n"
              "\t}\n"
              "\tchain tcp_by_sport {\n"
              "\t\tqueue num 10\n"
              "\t}\n"
              "\tchain sal_by_flowid {\n"
              "\t\tqueue num 10\n"
              "\t}\n"
              "\tchain prerouting {\n"
              "\t\ttype filter hook prerouting priority raw; policy accept;\n"
              "\t\tmeta mark 0x5e notrack return\n"
              "\t\tip daddr . tcp dport @tcp_inbound notrack goto tcp_by_sport\n"
              "\t\tip protocol 144 ip daddr @sal_inbound notrack goto sal_by_flowid\n"
              "\t}\n"
              "\tchain output {\n"
              "\t\ttype filter hook output priority raw; policy accept;\n"
              "\t\tmeta mark 0x5e notrack return\n"
              "\t}\n"
              "}\n");
    EXPECT_EQ(nft_remove_script(), "delete table ip svxlat\n");
}

// A router adds only its marking rules (and, for nft, its address set) to
// the minimal rules checked above, right before the SAL packets are queued.
TEST(nfqSteerText, IptablesRouterMarksBroadcastAndMulticastBeforeQueueing) {
    EXPECT_EQ(iptables_install_script(router_spec()),
              inserted_before(iptables_install_script(minimal_spec()),
                              "-A SVXLAT-PRE -d 10.0.2.1/32 -p 144 -j SVXLAT-SAL\n",
                              "-A SVXLAT-PRE -d 10.0.2.1/32 -p 144 -m pkttype --pkt-type broadcast "
                              "-j MARK --set-mark 0x5f\n"
                              "-A SVXLAT-PRE -d 10.0.2.1/32 -p 144 -m pkttype --pkt-type multicast "
                              "-j MARK --set-mark 0x5f\n"));
    // The marking rules live in SVXLAT-PRE: removal is unchanged.
    EXPECT_EQ(iptables_remove_script(router_spec()), iptables_remove_script(minimal_spec()));
}

TEST(nfqSteerText, NftRouterMarksBroadcastAndMulticastBeforeQueueing) {
    std::string want = inserted_before(nft_install_script(minimal_spec()), "\tchain tcp_by_sport {",
                                       "\tset router_inbound {\n"
                                       "\t\ttype ipv4_addr\n"
                                       "\t\telements = { 10.0.2.1 }\n"
                                       "\t}\n");
    want = inserted_before(want, "\t\tip protocol 144 ip daddr @sal_inbound",
                           "\t\tip protocol 144 ip daddr @router_inbound meta pkttype "
                           "{ broadcast, multicast } meta mark set 0x5f\n");
    EXPECT_EQ(nft_install_script(router_spec()), want);
}

TEST(nfqSteerText, RouterAddressesAreWrittenOnce) {
    SteeringSpec spec = router_spec();
    spec.sal_inbound.push_back({10, 0, 2, 2});
    spec.router_inbound = {{10, 0, 2, 2}, {10, 0, 2, 1}, {10, 0, 2, 2}};
    const std::string nft = nft_table_body(spec);
    EXPECT_NE(nft.find("\tset router_inbound {\n\t\ttype ipv4_addr\n\t\telements = { 10.0.2.2, "
                       "10.0.2.1 }\n"),
              std::string::npos)
        << nft;
    const std::string ipt = iptables_install_script(spec);
    const std::string broadcast_rule =
        "-A SVXLAT-PRE -d 10.0.2.2/32 -p 144 -m pkttype --pkt-type broadcast";
    EXPECT_NE(ipt.find(broadcast_rule), std::string::npos) << ipt;
    EXPECT_EQ(ipt.find(broadcast_rule), ipt.rfind(broadcast_rule)) << ipt;
    // Every marking rule precedes every SAL jump.
    EXPECT_LT(ipt.rfind("-j MARK --set-mark 0x5f"), ipt.find("-j SVXLAT-SAL")) << ipt;
}

TEST(nfqSteerText, FourQueuesFailOpen) {
    const std::string ipt = iptables_install_script(spec_with(4, 4, true));
    EXPECT_NE(ipt.find("-A SVXLAT-TCP-SPORT -m u32 --u32 \"0>>22&0x3C@0>>16&0x3=0x2\" -j NFQUEUE "
                       "--queue-num 6 --queue-bypass\n"),
              std::string::npos)
        << ipt;
    EXPECT_NE(ipt.find("-A SVXLAT-SAL -m u32 --u32 \"4&0x1FFF=0 && 0>>22&0x3C@4=0x1:0xFFFFFFFF "
                       "&& 0>>22&0x3C@4&0x3=0x3\" -j NFQUEUE --queue-num 7 --queue-bypass\n"),
              std::string::npos);
    EXPECT_NE(ipt.find("-A SVXLAT-SAL -j NFQUEUE --queue-num 4 --queue-bypass\n"),
              std::string::npos);
    EXPECT_EQ(ipt.find("--queue-num 8"), std::string::npos);

    const std::string nft = nft_table_body(spec_with(4, 4, true));
    EXPECT_NE(nft.find("\t\ttcp dport & 0x3 == 0x1 queue num 5 bypass\n"), std::string::npos)
        << nft;
    EXPECT_NE(nft.find("\t\t@th,32,32 0x0 @th,0,32 & 0x3 == 0x2 queue num 6 bypass\n"),
              std::string::npos);
    EXPECT_NE(nft.find("\t\t@th,224,32 & 0x3 == 0x3 queue num 7 bypass\n"), std::string::npos);

    // Fail closed: no bypass anywhere.
    EXPECT_EQ(iptables_install_script(spec_with(4, 4, false)).find("bypass"), std::string::npos);
    EXPECT_EQ(nft_table_body(spec_with(4, 4, false)).find("bypass"), std::string::npos);
}

TEST(nfqSteerText, NotrackOfQueuedPacketsIsOptional) {
    SteeringSpec spec = sample_spec();
    spec.notrack_queued = false;
    const std::string ipt = iptables_install_script(spec);
    // Only the skip-mark rules keep their notrack.
    std::size_t count = 0;
    for (auto at = ipt.find("CT --notrack"); at != std::string::npos;
         at = ipt.find("CT --notrack", at + 1))
        ++count;
    EXPECT_EQ(count, 2u) << ipt;
    const std::string nft = nft_table_body(spec);
    EXPECT_EQ(nft.find("notrack goto"), std::string::npos) << nft;
    EXPECT_NE(nft.find("meta mark 0x5e notrack return"), std::string::npos);
}

TEST(nfqSteerText, DuplicatesAreWrittenOnce) {
    SteeringSpec spec = minimal_spec();
    spec.tcp_inbound.push_back(spec.tcp_inbound[0]);
    spec.sal_inbound.push_back(spec.sal_inbound[0]);
    spec.tcp_inbound.push_back({{192, 0, 2, 10}, 443});
    const std::string nft = nft_table_body(spec);
    EXPECT_NE(nft.find("elements = { 192.0.2.10 . 80, 192.0.2.10 . 443 }"), std::string::npos)
        << nft;
    EXPECT_NE(nft.find("elements = { 10.0.2.1 }"), std::string::npos);
    const std::string ipt = iptables_install_script(spec);
    EXPECT_EQ(ipt.find("--dport 80"), ipt.rfind("--dport 80"));
}

TEST(nfqSteerText, ReplaceIsOneTransaction) {
    const SteeringSpec before = minimal_spec();
    const SteeringSpec after = sample_spec();
    const std::string remove = iptables_remove_script(before);
    const std::string install = iptables_install_script(after);
    EXPECT_EQ(iptables_replace_script(before, after),
              remove.substr(0, remove.size() - 7) + install.substr(5));
    EXPECT_EQ(nft_replace_script(after), "delete table ip svxlat\n" + nft_install_script(after));
}

TEST(nfqSteerText, CleanupScriptRemovesOnlyOurs) {
    const std::string save =
        "# Generated by iptables-save v1.8.9 (nf_tables)\n"
        "*raw\n"
        ":PREROUTING ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":SVXLAT-PRE - [0:0]\n"
        ":SVXLAT-SAL - [0:0]\n"
        ":OTHER - [0:0]\n"
        "-A PREROUTING -p udp -j OTHER\n"
        "-A PREROUTING -m comment --comment svxlat -j SVXLAT-PRE\n"
        "-A OUTPUT -m comment --comment svxlat -j SVXLAT-PRE\n"
        "-A SVXLAT-PRE -d 10.0.2.1/32 -p 144 -j SVXLAT-SAL\n"
        "-A SVXLAT-SAL -m u32 --u32 \"0x4&0x1fff=0x0\" -j NFQUEUE --queue-num 1\n"
        "-A OTHER -j CT --notrack\n"
        "COMMIT\n"
        "*mangle\n"
        ":SVXLAT-NOTOURS - [0:0]\n"
        "COMMIT\n";
    EXPECT_EQ(iptables_cleanup_script(save),
              "*raw\n"
              "-D PREROUTING -m comment --comment svxlat -j SVXLAT-PRE\n"
              "-D OUTPUT -m comment --comment svxlat -j SVXLAT-PRE\n"
              "-F SVXLAT-PRE\n"
              "-F SVXLAT-SAL\n"
              "-X SVXLAT-PRE\n"
              "-X SVXLAT-SAL\n"
              "COMMIT\n");
    EXPECT_EQ(iptables_cleanup_script("*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"), "");
    EXPECT_EQ(iptables_cleanup_script(""), "");
}

TEST(nfqSteerText, RuleFilesMatchTheGenerator) {
    const std::string iptables_file = read_rules_file("svxlat.iptables");
    ASSERT_FALSE(iptables_file.empty()) << "rules/svxlat.iptables not found";
    EXPECT_EQ(rule_lines(iptables_file), rule_lines(iptables_install_script(sample_spec())));

    // The nft file starts with the idempotent "table; delete table" pair.
    auto nft_lines = rule_lines(read_rules_file("svxlat.nft"));
    ASSERT_GE(nft_lines.size(), 2u) << "rules/svxlat.nft not found";
    EXPECT_EQ(nft_lines[0], "table ip svxlat");
    EXPECT_EQ(nft_lines[1], "delete table ip svxlat");
    nft_lines.erase(nft_lines.begin(), nft_lines.begin() + 2);
    EXPECT_EQ(nft_lines, rule_lines(nft_table_body(sample_spec())));
}

// ---------------------------------------------------------------------------
// Which queue a packet reaches, through both backends' selectors.

namespace {

struct Chains {
    std::string_view tcp_sport, tcp_dport, sal, icmp;
};
constexpr Chains kIptablesChains{"SVXLAT-TCP-SPORT", "SVXLAT-TCP-DPORT", "SVXLAT-SAL",
                                 "SVXLAT-ICMP"};
constexpr Chains kNftChains{"tcp_by_sport", "tcp_by_dport", "sal_by_flowid", "icmp_by_flowid"};

class nfqSteerSelect : public ::testing::TestWithParam<std::tuple<int, bool>> {
protected:
    void SetUp() override {
        count_ = static_cast<std::uint16_t>(std::get<0>(GetParam()));
        nft_ = std::get<1>(GetParam());
        spec_ = spec_with(kBase, count_, false);
        text_ = nft_ ? nft_table_body(spec_) : iptables_install_script(spec_);
    }

    std::optional<unsigned> queue_of(std::string_view which, const Bytes& packet) const {
        const Chains& chains = nft_ ? kNftChains : kIptablesChains;
        std::string_view chain = which == "tcp_sport"   ? chains.tcp_sport
                                 : which == "tcp_dport" ? chains.tcp_dport
                                 : which == "sal"       ? chains.sal
                                                        : chains.icmp;
        return nft_ ? svxlat::test::nft_chain_queue(text_, chain, packet)
                    : svxlat::test::iptables_chain_queue(text_, chain, packet);
    }

    unsigned expected(std::uint32_t field) const { return kBase + (field & (count_ - 1u)); }

    static constexpr std::uint16_t kBase = 32;
    std::uint16_t count_ = 1;
    bool nft_ = false;
    SteeringSpec spec_;
    std::string text_;
};

} // namespace

TEST_P(nfqSteerSelect, SalByDestinationFlowIdElseSource) {
    const std::uint32_t flows[] = {0, 1,  2,  3,          4,          5,         7,
                                   8, 63, 64, 0x12345677, 0xfffffffe, 0xffffffff};
    for (std::uint32_t source : flows) {
        for (std::uint32_t destination : flows) {
            const auto sal = svxlat::test::sal_flow_ids(source, destination);
            const unsigned want = expected(destination != 0 ? destination : source);
            EXPECT_EQ(queue_of("sal", svxlat::test::ipv4_packet(144, sal)), want)
                << source << " " << destination;
            // IP options move the SAL header; the selectors follow.
            EXPECT_EQ(queue_of("sal", svxlat::test::ipv4_packet(144, sal, 7)), want)
                << "ihl 7: " << source << " " << destination;
        }
    }
}

TEST_P(nfqSteerSelect, UnreadableSalGoesToBase) {
    const auto sal = svxlat::test::sal_flow_ids(3, 7);
    // Non-first fragment: its bytes are not a SAL header.
    EXPECT_EQ(queue_of("sal", svxlat::test::ipv4_packet(144, sal, 5, 100)), kBase);
    // Too short to hold both flow IDs.
    const Bytes short_sal(sal.begin(), sal.begin() + 6);
    EXPECT_EQ(queue_of("sal", svxlat::test::ipv4_packet(144, short_sal)), kBase);
}

TEST_P(nfqSteerSelect, TcpBySourceOrDestinationPort) {
    for (std::uint16_t port : {1, 2, 3, 80, 1023, 40000, 40001, 40002, 40003, 65535}) {
        EXPECT_EQ(
            queue_of("tcp_sport", svxlat::test::ipv4_packet(6, svxlat::test::tcp_ports(port, 80))),
            expected(port))
            << port;
        EXPECT_EQ(queue_of("tcp_dport",
                           svxlat::test::ipv4_packet(6, svxlat::test::tcp_ports(8080, port), 6)),
                  expected(port))
            << port;
    }
}

TEST_P(nfqSteerSelect, IcmpByQuotedSourceFlowId) {
    for (std::uint32_t source : {0u, 1u, 2u, 3u, 5u, 0xabcdef01u}) {
        const auto inner = svxlat::test::ipv4_packet(144, svxlat::test::sal_flow_ids(source, 0x99));
        // RFC 792 quotes the IP header and 8 bytes: exactly both flow IDs.
        const Bytes quoted(inner.begin(), inner.begin() + 28);
        EXPECT_EQ(
            queue_of("icmp", svxlat::test::ipv4_packet(1, svxlat::test::icmp_unreachable(quoted))),
            expected(source))
            << source;
    }
}

INSTANTIATE_TEST_SUITE_P(QueueCounts, nfqSteerSelect,
                         ::testing::Combine(::testing::Values(1, 2, 4, 64), ::testing::Bool()),
                         [](const auto& param_info) {
                             return std::string(std::get<1>(param_info.param) ? "nft"
                                                                              : "iptables") +
                                    "_N" + std::to_string(std::get<0>(param_info.param));
                         });

TEST(nfqRuleEval, U32EvaluatorFollowsTheKernel) {
    // Sanity of the evaluator itself on hand-computed values.
    const auto packet = svxlat::test::ipv4_packet(144, svxlat::test::sal_flow_ids(0x11223344, 0));
    EXPECT_TRUE(svxlat::test::u32_match("0>>22&0x3C=20", packet));
    EXPECT_TRUE(svxlat::test::u32_match("0>>22&0x3C@0=0x11223344", packet));
    EXPECT_TRUE(svxlat::test::u32_match("0>>22&0x3C@4=0", packet));
    EXPECT_TRUE(svxlat::test::u32_match("0>>22&0x3C@0=1:0xFFFFFFFF && 8>>16&0xFF=144", packet));
    EXPECT_FALSE(svxlat::test::u32_match("0>>22&0x3C@400=0", packet)); // beyond the packet
    EXPECT_THROW(svxlat::test::u32_match("0>>22", packet), std::invalid_argument);
}
