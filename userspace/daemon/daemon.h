// svxlatd: one daemon for any mix of the three roles (translator, service
// router, host agent) in packet mode over NFQUEUE. The main thread handles
// signals, the control socket, registrations and reloads; one packet thread
// per queue runs a Worker. See docs/daemon.md.
#pragma once

#include "daemon_config/daemon_config.h"
#include "engine/worker.h"
#include "relay/relay.h"
#include "router/service_table.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
    void periodic(std::uint64_t now_ms);
    void serve_control(int listen_fd);
    // Gives the relay the table's relay-mode rows (creating it on first use).
    // Returns false when relay rows exist and none of them could be bound.
    bool apply_relay(const Config& config, const config::Table* table);
    std::shared_ptr<const engine::RoleSettings> build_settings(const Config& config,
                                                               std::string& error);
    std::string render_status(bool json) const;
    std::string render_table(bool json) const;
    std::string render_services(bool json) const;
    std::string render_flows(bool json) const;
    std::string render_counters(bool json) const;

    Config config_;
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
