// Which packet engine runs the roles (the [engine] `engine` key): the
// kernel module or the NFQUEUE workers; and the kernel module's
// configuration made from the daemon's. Pure functions, so the rules are
// tested without the module. Under the kernel engine the service router
// forwards SYNs in the module, while registrations still reach an NFQUEUE
// worker and the table of record stays in svxlatd (kernel_router.h).
#pragma once

#include "daemon_config/daemon_config.h"
#include "engine/worker.h"
#include "kernel_engine/messages.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace svxlat::daemon {

enum class PacketEngine { nfqueue, kernel };
std::string_view to_string(PacketEngine engine); // "nfqueue", "kernel"

// A row served by the stream relay (its own mode, or the translator's).
bool is_relay_row(const Config& config, const config::TableRow& row);

// The roles the kernel engine can take over: all three (the router's
// registrations stay in user space).
inline bool has_kernel_roles(const Config& config) {
    return config.translator.has_value() || config.host.has_value() || config.router.has_value();
}

// The kernel module's configuration for config (its table loaded in
// settings), or why the kernel engine cannot run it.
struct KernelPlan {
    std::optional<kernel_engine::KernelConfig> config;
    std::string unsupported; // set exactly when config is not
};
KernelPlan plan_kernel_config(const Config& config, const engine::RoleSettings& settings,
                              std::uint64_t generation);

// What looking for the module found.
struct KernelProbe {
    enum class State { loaded, missing, failed };
    State state = State::missing;
    std::string detail; // why missing or failed
};

struct EngineChoice {
    PacketEngine engine = PacketEngine::nfqueue;
    std::string reason; // for the log and `svxlat status`
    std::string error;  // non-empty: the daemon must not start
};

// The rules of docs/daemon-config.md ("Packet engine"). plan and probe are
// only read when config has a role and asks for auto or kernel.
EngineChoice choose_engine(const Config& config, const KernelPlan& plan, const KernelProbe& probe);

} // namespace svxlat::daemon
