// SPDX-License-Identifier: GPL-2.0 OR MIT
// [engine] engine: which engine runs the roles, why, and the kernel
// module's configuration made from the daemon's.
#include "daemon/engine_choice.h"
#include <algorithm>

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace svxlat::daemon {
namespace {

Config parse_ok(const std::string& text) {
    auto parsed = parse_daemon_config(text, "/etc/svxlat/svxlatd.conf");
    EXPECT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
    return parsed.ok() ? *parsed.config : Config{};
}

// What the daemon's build_settings makes of a configuration and a table.
engine::RoleSettings settings_for(const Config& c, const std::string& table_text) {
    engine::RoleSettings s;
    s.flow = {1500, 1480, 64, 8, 1000, 60000, 40};
    if (c.translator) {
        auto loaded = config::parse_table(table_text, "table.conf");
        engine::RoleSettings::Translator t;
        t.address = c.translator->address;
        t.router = c.translator->router;
        t.table = std::make_shared<const config::Table>(loaded.table);
        t.strip_tcp_options = c.translator->tcp_options == TcpOptionPolicy::strip;
        if (!c.translator->services.empty()) {
            auto table = std::make_shared<router::ServiceTable>();
            for (const auto& svc : c.translator->services)
                table->add_static(svc.id, svc.prefix_bits, svc.address, svc.priority, svc.weight,
                                  router::Clock::now());
            t.static_services = std::move(table);
        }
        s.translator = t;
    }
    if (c.host) {
        engine::RoleSettings::Host h;
        h.address = c.host->address;
        h.flow_port_low = c.host->flow_port_low;
        h.flow_port_high = c.host->flow_port_high;
        for (const auto& svc : c.host->services)
            h.services.push_back({svc.id, svc.prefix_bits, svc.port});
        s.host = h;
    }
    return s;
}

constexpr const char* kTranslator = "[engine]\n"
                                    "max-flows = 1000\n"
                                    "max-embryonic = 100\n"
                                    "timeout-embryonic = 5s\n"
                                    "timeout-established = 2h\n"
                                    "timeout-closing = 250ms\n"
                                    "timeout-time-wait = 1m\n"
                                    "[translator]\n"
                                    "table = table.conf\n"
                                    "address = 10.0.2.1\n"
                                    "router = 10.0.2.2\n"
                                    "tcp-options = keep\n";
constexpr const char* kTable = "192.0.2.10 80 0x0000c0de\n"
                               "192.0.2.10 9000 0x0000da7a serval-tcp-options=strip\n";
constexpr const char* kHost = "[host]\n"
                              "address = 10.0.2.11\n"
                              "router = 10.0.2.2\n"
                              "flow-ports = 30000-30999\n"
                              "service = 0000c0de 8080\n"
                              "service = 0a/8 9000\n";

constexpr const char* kRouter = "[router]\n"
                                "address = 10.0.2.2\n"
                                "router-id = 00015b38\n"
                                "service = 0a/8 10.0.2.40\n";

const KernelProbe kLoaded{KernelProbe::State::loaded, {}};
const KernelProbe kMissing{KernelProbe::State::missing,
                           "svxlat.ko is not loaded (no generic netlink family \"svxlat\")"};

TEST(PlanKernelConfig, CarriesTheTranslatorAndHostAgent) {
    Config c = parse_ok(std::string(kTranslator) + kHost);
    auto plan = plan_kernel_config(c, settings_for(c, kTable), 7);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    const auto& k = *plan.config;
    EXPECT_EQ(k.generation, 7u);
    EXPECT_EQ(k.flow.tcp_mtu, 1480);
    EXPECT_EQ(k.flow.fin_ack_delay_ms, 40u);
    EXPECT_EQ(k.max_flows, 1000u); // the whole table, not a worker's share
    EXPECT_EQ(k.max_embryonic, 100u);
    EXPECT_EQ(k.timeouts_ms, (std::array<std::uint32_t, SVX_TO__COUNT>{5000, 7200000, 250, 60000}));
    ASSERT_TRUE(k.translator);
    EXPECT_EQ(k.translator->address, (kernel_engine::Ipv4Address{10, 0, 2, 1}));
    EXPECT_EQ(*k.translator->router, (kernel_engine::Ipv4Address{10, 0, 2, 2}));
    ASSERT_EQ(k.translator->rows.size(), 2u);
    EXPECT_EQ(k.translator->rows[0].port, 80);
    EXPECT_FALSE(k.translator->rows[0].strip_tcp_options); // tcp-options = keep
    EXPECT_EQ(k.translator->rows[0].service.b[2], 0xc0);
    EXPECT_TRUE(k.translator->rows[1].strip_tcp_options); // the row's own setting
    ASSERT_TRUE(k.host);
    EXPECT_EQ(k.host->port_low, 30000);
    EXPECT_EQ(k.host->port_high, 30999);
    ASSERT_EQ(k.host->services.size(), 2u);
    EXPECT_EQ(k.host->services[0].bits, 256);
    EXPECT_EQ(k.host->services[1].bits, 8);
    EXPECT_EQ(k.host->services[1].port, 9000);
}

TEST(PlanKernelConfig, CarriesTheRouter) {
    Config c = parse_ok(kRouter);
    auto plan = plan_kernel_config(c, settings_for(c, ""), 3);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    EXPECT_FALSE(plan.config->translator);
    EXPECT_FALSE(plan.config->host);
    ASSERT_TRUE(plan.config->router);
    EXPECT_EQ(plan.config->router->address, (kernel_engine::Ipv4Address{10, 0, 2, 2}));
    EXPECT_EQ(svx_sid_cmp(&plan.config->router->router_id, &c.router->router_id), 0);
    EXPECT_EQ(plan.config->router->router_id.b[1], 0x01);
    EXPECT_EQ(plan.config->router->router_id.b[2], 0x5b);
    EXPECT_EQ(plan.config->router->router_id.b[3], 0x38);

    // With the other roles, in one configuration.
    Config all = parse_ok(std::string(kTranslator) + kRouter + kHost);
    plan = plan_kernel_config(all, settings_for(all, kTable), 4);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    EXPECT_TRUE(plan.config->translator && plan.config->host && plan.config->router);

    Config none = parse_ok(kTranslator);
    plan = plan_kernel_config(none, settings_for(none, kTable), 1);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    EXPECT_FALSE(plan.config->router);
}

// Static router services beyond what the module's table holds.
TEST(PlanKernelConfig, RouterStaticServicesWithinTheModulesTable) {
    std::string text = "[router]\naddress = 10.0.2.2\n";
    for (unsigned i = 0; i <= SVX_NL_MAX_TARGETS_PER_ROUTE; ++i)
        text +=
            "service = 0a/8 10.9." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    Config big = parse_ok(text);
    auto plan = plan_kernel_config(big, settings_for(big, ""), 1);
    EXPECT_FALSE(plan.config);
    EXPECT_NE(plan.unsupported.find("[router] service (line 1027): more than 1024 targets for "
                                    "one prefix"),
              std::string::npos)
        << plan.unsupported;
}

// The translator's static services go to the module as its static route
// table, in table order, with the configured priority and weight.
TEST(PlanKernelConfig, StaticServicesAreTheModulesStaticTable) {
    Config statics = parse_ok(std::string(kTranslator) + "service = 3/8 10.0.2.30\n" +
                              "service = 3/8 10.0.2.31 priority 2 weight 5\n");
    auto plan = plan_kernel_config(statics, settings_for(statics, kTable), 1);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    const auto& st = plan.config->translator->static_services;
    ASSERT_EQ(st.entries.size(), 1u);
    EXPECT_EQ(st.entries[0].bits, 8);
    ASSERT_EQ(st.entries[0].n_targets, 2u);
    ASSERT_EQ(st.targets.size(), 2u);
    const svx_route_table table{st.entries.data(), 1, st.targets.data(), 2};
    EXPECT_EQ(svx_route_table_check(&table), SVX_OK);
    EXPECT_EQ(st.targets[1].addr[3], 31);
    EXPECT_EQ(st.targets[1].priority, 2u);
    EXPECT_EQ(st.targets[1].weight, 5u);
}

TEST(PlanKernelConfig, NamesWhatTheKernelEngineCannotRun) {
    Config big = parse_ok("[engine]\nmax-flows = 5000000\n" + std::string(kHost));
    auto plan = plan_kernel_config(big, settings_for(big, ""), 1);
    EXPECT_NE(plan.unsupported.find("max-flows = 5000000 is above the kernel engine's limit"),
              std::string::npos)
        << plan.unsupported;
}

// Relay rows run on the kernel engine: sent with their local-only flag
// (translated in LOCAL_OUT only, the relay's own Serval leg), packet-mode
// rows without it.
TEST(PlanKernelConfig, RelayRowsAreLocalOnly) {
    Config c = parse_ok(kTranslator);
    auto plan = plan_kernel_config(
        c, settings_for(c, std::string(kTable) + "192.0.2.11 80 1 mode=relay\n"), 1);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    ASSERT_TRUE(plan.config->translator);
    const auto& rows = plan.config->translator->rows;
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.local_only; }),
              1);
    const kernel_engine::Ipv4Address relay_address{192, 0, 2, 11};
    for (const auto& r : rows)
        EXPECT_EQ(r.local_only, r.address == relay_address) << r.port;

    Config relay = parse_ok(std::string(kTranslator) + "mode = relay\n");
    plan = plan_kernel_config(relay, settings_for(relay, kTable), 1);
    ASSERT_TRUE(plan.config) << plan.unsupported;
    for (const auto& r : plan.config->translator->rows)
        EXPECT_TRUE(r.local_only);
}

TEST(ChooseEngine, AutoTakesTheModuleWhenItCanRunTheConfiguration) {
    Config c = parse_ok(kTranslator);
    auto plan = plan_kernel_config(c, settings_for(c, kTable), 1);
    auto choice = choose_engine(c, plan, kLoaded);
    EXPECT_EQ(choice.engine, PacketEngine::kernel);
    EXPECT_TRUE(choice.error.empty());
    EXPECT_EQ(choice.reason, "engine = auto: svxlat.ko is loaded");
}

TEST(ChooseEngine, AutoFallsBackToNfqueueAndSaysWhy) {
    Config c = parse_ok(kTranslator);
    auto plan = plan_kernel_config(c, settings_for(c, kTable), 1);
    auto missing = choose_engine(c, plan, kMissing);
    EXPECT_EQ(missing.engine, PacketEngine::nfqueue);
    EXPECT_TRUE(missing.error.empty());
    EXPECT_EQ(missing.reason,
              "engine = auto: svxlat.ko is not loaded (no generic netlink family \"svxlat\")");

    auto failed = choose_engine(c, plan, {KernelProbe::State::failed, "protocol version 2"});
    EXPECT_EQ(failed.engine, PacketEngine::nfqueue);
    EXPECT_EQ(failed.reason, "engine = auto: svxlat.ko cannot be used: protocol version 2");

    Config big = parse_ok(kTranslator);
    big.engine.max_flows = 5000000;
    auto unsupported =
        choose_engine(big, plan_kernel_config(big, settings_for(big, kTable), 1), kLoaded);
    EXPECT_EQ(unsupported.engine, PacketEngine::nfqueue);
    EXPECT_NE(unsupported.reason.find("the kernel engine cannot run this configuration: "
                                      "[engine] max-flows"),
              std::string::npos)
        << unsupported.reason;

    Config statics = parse_ok(std::string(kTranslator) + "service = 3/8 10.0.2.30\n");
    EXPECT_EQ(choose_engine(statics, plan_kernel_config(statics, settings_for(statics, kTable), 1),
                            kLoaded)
                  .engine,
              PacketEngine::kernel)
        << "static services run in the module";
}

TEST(ChooseEngine, KernelIsRequiredWhenAskedFor) {
    Config c = parse_ok(std::string(kTranslator) + "");
    c.engine.engine = EngineKind::kernel;
    auto plan = plan_kernel_config(c, settings_for(c, kTable), 1);
    auto ok = choose_engine(c, plan, kLoaded);
    EXPECT_EQ(ok.engine, PacketEngine::kernel);
    EXPECT_TRUE(ok.error.empty());

    auto missing = choose_engine(c, plan, kMissing);
    EXPECT_EQ(missing.error,
              "/etc/svxlat/svxlatd.conf: [engine] engine = kernel: svxlat.ko is not loaded (no "
              "generic netlink family \"svxlat\") (load it with `modprobe svxlat`, or set engine "
              "= auto or nfqueue)");

    Config big = parse_ok(kTranslator);
    big.engine.max_flows = 5000000;
    big.engine.engine = EngineKind::kernel;
    auto refused =
        choose_engine(big, plan_kernel_config(big, settings_for(big, kTable), 1), kLoaded);
    EXPECT_NE(refused.error.find("[engine] engine = kernel: this configuration needs the NFQUEUE "
                                 "engine: [engine] max-flows = 5000000"),
              std::string::npos)
        << refused.error;
}

TEST(ChooseEngine, NfqueueNeverNeedsTheModule) {
    for (const char* text : {kTranslator, kRouter}) {
        Config c = parse_ok(text);
        c.engine.engine = EngineKind::nfqueue;
        auto choice = choose_engine(c, {}, kMissing);
        EXPECT_EQ(choice.engine, PacketEngine::nfqueue);
        EXPECT_TRUE(choice.error.empty());
        EXPECT_EQ(choice.reason, "engine = nfqueue");
    }
}

// The router alone is a role the kernel engine runs (its SYN forwarding).
TEST(ChooseEngine, RouterOnlyTakesTheModule) {
    Config router = parse_ok(kRouter);
    auto plan = plan_kernel_config(router, settings_for(router, ""), 1);
    ASSERT_TRUE(plan.config) << plan.unsupported;

    auto loaded = choose_engine(router, plan, kLoaded);
    EXPECT_EQ(loaded.engine, PacketEngine::kernel);
    EXPECT_EQ(loaded.reason, "engine = auto: svxlat.ko is loaded");

    auto missing = choose_engine(router, plan, kMissing);
    EXPECT_EQ(missing.engine, PacketEngine::nfqueue);
    EXPECT_TRUE(missing.error.empty());
    EXPECT_EQ(missing.reason,
              "engine = auto: svxlat.ko is not loaded (no generic netlink family \"svxlat\")");

    router.engine.engine = EngineKind::kernel;
    auto kernel = choose_engine(router, plan, kLoaded);
    EXPECT_EQ(kernel.engine, PacketEngine::kernel);
    EXPECT_TRUE(kernel.error.empty());
    auto refused = choose_engine(router, plan, kMissing);
    EXPECT_NE(refused.error.find("[engine] engine = kernel: svxlat.ko is not loaded"),
              std::string::npos)
        << refused.error;

    Config with_host = parse_ok(std::string(kRouter) + kHost);
    auto both = choose_engine(
        with_host, plan_kernel_config(with_host, settings_for(with_host, ""), 1), kLoaded);
    EXPECT_EQ(both.engine, PacketEngine::kernel);
}

TEST(IsRelayRow, RowModeOverridesTheTranslatorsMode) {
    Config packet = parse_ok(kTranslator);
    Config relay = parse_ok(std::string(kTranslator) + "mode = relay\n");
    config::TableRow row;
    EXPECT_FALSE(is_relay_row(packet, row));
    EXPECT_TRUE(is_relay_row(relay, row));
    row.mode = config::RowMode::packet;
    EXPECT_FALSE(is_relay_row(relay, row));
    row.mode = config::RowMode::relay;
    EXPECT_TRUE(is_relay_row(packet, row));
}

} // namespace
} // namespace svxlat::daemon
