// svxlatd: one daemon for any mix of the three roles (translator, service
// router, host agent) in packet mode. The roles run in the kernel module
// (svxlat.ko, over generic netlink) or over NFQUEUE, as [engine] engine
// chooses; under the kernel engine the router's registrations still reach
// an NFQUEUE worker and its table is pushed to the module. The main thread
// handles signals, the control socket, registrations, reloads and the
// kernel module; one packet thread per queue runs a Worker. See
// docs/daemon.md and docs/kernel-module.md.
#pragma once

#include "daemon/engine_choice.h"
#include "daemon/kernel_router.h"
#include "daemon_config/daemon_config.h"
#include "engine/worker.h"
#include "relay/relay.h"
#include "router/service_table.h"
#include "steer/steering.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace svxlat::kernel_engine {
class KernelClient;
}

namespace svxlat::daemon {

class PacketThread;
class Registrar;
class SteeringOwner;

class Daemon {
public:
    explicit Daemon(Config config);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Installs steering, starts the packet threads and serves until SIGTERM
    // or SIGINT. Returns the process exit code.
    int run();

    // The control socket's answer to one request line.
    std::string answer(std::string_view request_line);

private:
    void start();
    void stop();
    bool reload();
    // Chooses the packet engine for config_ (throws when it must not start)
    // and, for the kernel engine, configures the module.
    void select_engine(const engine::RoleSettings& settings);
    // What the NFQUEUE workers run: every role, or only the router when the
    // kernel engine has the others.
    std::shared_ptr<const engine::RoleSettings>
    packet_thread_settings(std::shared_ptr<const engine::RoleSettings> all) const;
    bool needs_packet_threads(const Config& config) const;
    // Creates and starts the packet threads when config needs them and
    // there are none yet (a router added by a reload under the kernel engine).
    void ensure_packet_threads(const Config& config);
    // Installs, replaces or removes the steering rules for config.
    void update_steering(const Config& config, const config::Table* table,
                         const std::vector<steer::AddressPort>& draining);
    // After a SET_CONFIG: when the module runs config's router, pushes its
    // table now and keeps pushing it from periodic(); else stops pushing.
    void sync_kernel_router(const Config& config);
    void periodic(std::uint64_t now_ms);
    void serve_control(int listen_fd);
    // Gives the relay the table's relay-mode rows (creating it on first use).
    // Returns false when relay rows exist and none of them could be bound.
    bool apply_relay(const Config& config, const config::Table* table);
    // Every role's settings but the router's (add_router), which needs the
    // engine chosen.
    std::shared_ptr<engine::RoleSettings> build_settings(const Config& config, std::string& error);
    void add_router(engine::RoleSettings& settings, const Config& config);
    std::string render_status(bool json) const;
    std::string render_table(bool json) const;
    std::string render_services(bool json) const;
    std::string render_flows(bool json) const;
    std::string render_counters(bool json) const;

    Config config_;
    PacketEngine engine_ = PacketEngine::nfqueue; // chosen at start; a reload keeps it
    std::string engine_reason_;
    std::unique_ptr<kernel_engine::KernelClient> kernel_; // the kernel engine only
    bool kernel_configured_ = false;                      // our SET_CONFIG is in place
    std::uint64_t kernel_generation_ = 0;                 // of the last SET_CONFIG
    std::unique_ptr<RoutePusher> route_pusher_;           // the module runs the router
    // Every role's settings (the table `svxlat table` shows); settings_
    // holds what the packet threads run.
    std::shared_ptr<const engine::RoleSettings> role_settings_;
    std::shared_ptr<router::ServiceTable> router_services_;
    std::shared_ptr<router::ServiceTable> translator_services_;
    std::unique_ptr<engine::SettingsHolder> settings_;
    std::unique_ptr<SteeringOwner> steering_;
    std::vector<std::unique_ptr<PacketThread>> threads_;
    std::unique_ptr<Registrar> registrar_;
    std::unique_ptr<relay::Relay> relay_; // stream-relay mode rows (docs/relay.md)
    std::uint64_t started_ms_ = 0;
    std::uint64_t reloads_ = 0;
    std::uint64_t reload_failures_ = 0;
};

// Milliseconds on the monotonic clock (the flow state machine's time base).
std::uint64_t monotonic_ms();

} // namespace svxlat::daemon
