// parse_daemon_config on arbitrary bytes. Besides the sanitizers' checks: the
// result is either a config or errors, every error is a readable line, and a
// config the parser accepts satisfies every documented bound (checked here
// independently of the parser) and survives format -> parse unchanged.
// Anything else traps.
#include "daemon_config/daemon_config.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

using namespace svxlat::daemon;
using namespace std::chrono_literals;

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

constexpr std::string_view kFileName = "fuzz.conf"; // no directory: paths stay as written

bool usable_address(const Ipv4Address& address) {
    return address[0] != 0 && !(address[0] >= 224 && address[0] <= 239) &&
           address != Ipv4Address{255, 255, 255, 255};
}

bool in_duration_range(Duration duration) {
    return duration >= 100ms && duration <= std::chrono::days{30};
}

bool is_masked(const svx_sid& id, unsigned bits) {
    svx_sid masked = id;
    svx_sid_mask(&masked, bits);
    return svx_sid_cmp(&masked, &id) == 0;
}

bool is_zero(const svx_sid& id) {
    return std::all_of(std::begin(id.b), std::end(id.b), [](std::uint8_t b) { return b == 0; });
}

std::vector<std::uint8_t> bytes_of(const svx_sid& id) {
    return {std::begin(id.b), std::end(id.b)};
}

void check_static_services(const std::vector<StaticService>& services, unsigned line_count) {
    std::set<std::tuple<std::vector<std::uint8_t>, unsigned, Ipv4Address>> seen;
    for (const auto& service : services) {
        require(service.prefix_bits <= SVX_SID_BITS);
        require(is_masked(service.id, service.prefix_bits));
        require(usable_address(service.address));
        require(service.priority <= (std::uint32_t{1} << 31));
        require(service.weight >= 1 && service.weight <= 65535);
        require(service.line >= 1 && service.line <= line_count);
        require(seen.emplace(bytes_of(service.id), service.prefix_bits, service.address).second);
    }
}

void check_config(const Config& config, unsigned line_count) {
    require(config.translator || config.router || config.host);
    require(config.file == kFileName);

    const EngineSettings& engine = config.engine;
    require(engine.queues >= 1 && engine.queues <= 64);
    require((engine.queues & (engine.queues - 1)) == 0);
    require(engine.queue_num + engine.queues <= 65535u);
    require(engine.queue_length >= 1 && engine.queue_length <= 1048576);
    require(engine.rcvbuf_bytes >= (64u << 10) && engine.rcvbuf_bytes <= (1u << 30));
    require(engine.mark != 0);
    require(engine.max_flows >= 1 && engine.max_flows <= 10'000'000);
    require(engine.max_embryonic >= 1 && engine.max_embryonic <= engine.max_flows);
    require(in_duration_range(engine.timeout_embryonic));
    require(in_duration_range(engine.timeout_established));
    require(in_duration_range(engine.timeout_closing));
    require(in_duration_range(engine.timeout_time_wait));
    require(engine.sal_mtu >= 576 && engine.tcp_mtu >= 576);
    require(!engine.control_socket.empty() && engine.control_socket.front() == '/');
    require(engine.control_socket.size() < 108);
    require(to_string(engine.backend) != "?" && to_string(engine.engine) != "?");
    require(to_string(engine.log_level) != "?");

    if (const auto& translator = config.translator) {
        require(!translator->table.empty() && translator->table.size() < 4096);
        require(usable_address(translator->address));
        require(!translator->router || usable_address(*translator->router));
        require(translator->router || !translator->services.empty());
        require(to_string(translator->tcp_options) != "?" && to_string(translator->mode) != "?");
        require(translator->line >= 1 && translator->line <= line_count);
        check_static_services(translator->services, line_count);
    }
    if (const auto& router = config.router) {
        require(usable_address(router->address));
        require(in_duration_range(router->expiry));
        require(router->line >= 1 && router->line <= line_count);
        check_static_services(router->services, line_count);
    }
    if (const auto& host = config.host) {
        require(usable_address(host->address) && usable_address(host->router));
        require(in_duration_range(host->refresh));
        require(!config.router || host->refresh < config.router->expiry);
        require(host->flow_port_low >= 1024);
        require(host->flow_port_high >= host->flow_port_low + 63);
        require(!host->services.empty());
        require(host->line >= 1 && host->line <= line_count);
        std::set<std::pair<std::vector<std::uint8_t>, unsigned>> seen;
        for (const auto& service : host->services) {
            require(service.prefix_bits >= 1 && service.prefix_bits <= SVX_SID_BITS);
            require(is_masked(service.id, service.prefix_bits) && !is_zero(service.id));
            require(service.port >= 1);
            require(service.line >= 1 && service.line <= line_count);
            require(seen.emplace(bytes_of(service.id), service.prefix_bits).second);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = parse_daemon_config(text, kFileName);
    const auto line_count = static_cast<unsigned>(std::count(text.begin(), text.end(), '\n') + 1);

    require(result.ok() == result.errors.empty());
    require(result.errors.size() <= kMaxDiagnostics + 1);
    for (const auto& error : result.errors) {
        require(!error.reason.empty() && error.file == kFileName);
        require(error.line <= line_count);
        const std::string message = error.to_string();
        require(message.starts_with(kFileName));
        require(message.size() < 1024); // quoted text is cut short
        require(std::none_of(message.begin(), message.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
    }
    if (!result.ok())
        return 0;

    check_config(*result.config, line_count);
    // The formatted config reads back to itself (a table path near the line
    // limit cannot: "table = " pushes its line past 4096 bytes).
    if (result.config->translator && result.config->translator->table.size() + 8 > kMaxLineBytes)
        return 0;
    const std::string formatted = format_daemon_config(*result.config);
    const auto again = parse_daemon_config(formatted, kFileName);
    require(again.ok());
    require(format_daemon_config(*again.config) == formatted);
    return 0;
}
