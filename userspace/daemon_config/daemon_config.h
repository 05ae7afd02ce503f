// SPDX-License-Identifier: GPL-2.0 OR MIT
// svxlatd's configuration file (docs/daemon-config.md): an INI-like text of
// `[section]` headers and `key = value` lines selecting and configuring the
// daemon's roles: [translator], [router] (service router) and [host] (host
// agent), plus [engine] settings shared by all of them.
//
// Parsing is a pure function of the text (and of the names it is given):
// the result is either a complete, validated Config or the list of every
// error found, each reported as `FILE:LINE: key: reason` (section-level ones
// as `FILE:LINE: [section]: reason`). The daemon refuses to start on any
// error; a SIGUSR1 reload that fails keeps the running configuration.
//
// Include as "daemon_config/daemon_config.h" (link svxlat_daemon_config).
#ifndef SVXLAT_DAEMON_CONFIG_DAEMON_CONFIG_H
#define SVXLAT_DAEMON_CONFIG_DAEMON_CONFIG_H

#include <svxlat/reg.h>
#include <svxlat/sid.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svxlat::daemon {

// Bytes in the order they are written: 10.77.1.2 is {10, 77, 1, 2}.
using Ipv4Address = std::array<std::uint8_t, 4>;
using Duration = std::chrono::milliseconds;

// How servd forms its IDs: bytes 0-3 = htonl(number), the rest zero
// (svx_reg_sid_from_u32, usable in constant expressions).
constexpr svx_sid sid_from_u32(std::uint32_t number) {
    svx_sid id{};
    id.b[0] = static_cast<std::uint8_t>(number >> 24);
    id.b[1] = static_cast<std::uint8_t>(number >> 16);
    id.b[2] = static_cast<std::uint8_t>(number >> 8);
    id.b[3] = static_cast<std::uint8_t>(number);
    return id;
}

inline constexpr svx_sid kDefaultRouterId = sid_from_u32(SVX_REG_DEFAULT_ROUTER_ID); // 00015b38
inline constexpr svx_sid kDefaultClientId = sid_from_u32(SVX_REG_DEFAULT_CLIENT_ID); // 0000d903

// Bounds on the input (a longer line or file is an error, never truncated).
inline constexpr std::size_t kMaxFileBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxLineBytes = 4096; // excluding the line end
// Diagnostics stored; past it one final "N more errors" entry stands for the rest.
inline constexpr std::size_t kMaxDiagnostics = 100;

enum class SteeringBackend { automatic, nft, iptables }; // "auto", "nft", "iptables"
enum class EngineKind { automatic, nfqueue, kernel };    // "auto", "nfqueue", "kernel"
enum class LogLevel { error, warning, info, debug };     // most to least severe
enum class TcpOptionPolicy { keep, strip };              // SACK-permitted/timestamps
enum class TranslationMode { packet, relay };

// The keyword the file uses for each value ("auto" for automatic).
std::string_view to_string(SteeringBackend backend);
std::string_view to_string(EngineKind engine);
std::string_view to_string(LogLevel level);
std::string_view to_string(TcpOptionPolicy policy);
std::string_view to_string(TranslationMode mode);

// `service = SID[/BITS] IPv4 [priority N] [weight N]` of [translator] and [router].
struct StaticService {
    svx_sid id{};             // masked to prefix_bits
    unsigned prefix_bits = 0; // 0..256 (256 when the text has no "/BITS")
    Ipv4Address address{};
    std::uint32_t priority = 1; // 0..2^31
    std::uint32_t weight = 1;   // 1..65535 (0 in the file is stored as 1)
    unsigned line = 0;          // 0: not read from a file
};

// `service = SID[/BITS] PORT` of [host]: a service the host agent registers.
struct HostService {
    svx_sid id{};             // masked to prefix_bits; never all zero
    unsigned prefix_bits = 0; // 1..256
    std::uint16_t port = 0;   // 1..65535
    unsigned line = 0;
};

struct EngineSettings {
    unsigned queues = 1;               // NFQUEUE queues = worker threads: 1..64, a power of two
    std::uint16_t queue_num = 0;       // first queue; queue_num + queues <= 65535
    std::uint32_t queue_length = 8192; // 1..1048576
    bool fail_open = true;             // accept packets when a queue is full / no engine
    std::uint64_t rcvbuf_bytes = std::uint64_t{16} << 20; // 64 KiB..1 GiB
    std::uint32_t mark = 0x5e1a0001;                      // nonzero
    // Set by the steering rules on SAL packets to the router that came in a
    // link-layer broadcast or multicast frame; nonzero, not mark.
    std::uint32_t broadcast_mark = 0x5e1a0002;
    SteeringBackend backend = SteeringBackend::automatic;
    EngineKind engine = EngineKind::automatic;
    std::uint32_t max_flows = 262144;    // 1..10,000,000
    std::uint32_t max_embryonic = 65536; // 1..max_flows; default max(1, max_flows / 4)
    Duration timeout_embryonic = std::chrono::seconds{30}; // every timeout: 100ms..30d
    Duration timeout_established = std::chrono::seconds{7440};
    Duration timeout_closing = std::chrono::seconds{120};
    Duration timeout_time_wait = std::chrono::seconds{60};
    // How long the SAL ACK of a peer's SAL FIN may wait to go out with our
    // own SAL FIN (FIN|ACK, one packet less per connection); 0..100ms, 0 = off.
    Duration fin_ack_delay = std::chrono::milliseconds{40};
    std::uint16_t sal_mtu = 1500;                            // 576..65535
    std::uint16_t tcp_mtu = 1500;                            // 576..65535
    std::string control_socket = "/run/svxlat/svxlatd.sock"; // absolute, < 108 bytes
    LogLevel log_level = LogLevel::info;
};

struct TranslatorSettings {
    std::string table; // resolved: a relative path is prefixed by the base directory; < 4096 bytes
    Ipv4Address address{};               // Serval-side source address
    std::optional<Ipv4Address> router;   // where SAL SYNs go unless a service matches
    std::vector<StaticService> services; // in file order; router or services is non-empty
    TcpOptionPolicy tcp_options = TcpOptionPolicy::strip;
    TranslationMode mode = TranslationMode::packet;
    // Stream-relay mode (docs/relay.md).
    unsigned relay_workers = 0;                             // 0..64; 0: one per CPU
    std::uint64_t relay_pipe_size = std::uint64_t{1} << 20; // 4 KiB..64 MiB
    Duration relay_idle_timeout = std::chrono::minutes{10}; // 100ms..30d
    Duration relay_connect_timeout = std::chrono::seconds{10};
    bool dynamic_aliasing = false;
    std::string alias_interface; // empty: the default route's interface; < 16 bytes
    unsigned line = 0;           // of the [translator] header
};

struct RouterSettings {
    Ipv4Address address{};
    svx_sid router_id = kDefaultRouterId;
    Duration expiry = std::chrono::seconds{SVX_REG_DEFAULT_EXPIRY_SEC};
    std::vector<StaticService> services;
    unsigned line = 0;
};

struct HostSettings {
    Ipv4Address address{};
    Ipv4Address router{};
    svx_sid router_id = kDefaultRouterId;
    svx_sid client_id = kDefaultClientId;
    Duration refresh = std::chrono::seconds{SVX_REG_DEFAULT_REFRESH_SEC}; // < router expiry
    std::uint16_t flow_port_low = 20000; // 1024..65535, at least 64 ports
    std::uint16_t flow_port_high = 59999;
    std::vector<HostService> services; // at least one
    unsigned line = 0;
};

// A validated configuration: at least one of translator, router, host.
struct Config {
    EngineSettings engine;
    std::optional<TranslatorSettings> translator;
    std::optional<RouterSettings> router;
    std::optional<HostSettings> host;
    std::string file; // the file name the text was parsed under
};

struct ConfigDiagnostic {
    std::string file;
    unsigned line = 0; // 1-based; 0 for the whole file
    std::string key;   // "queues"; "[engine]" for a section; empty for a line or the file
    std::string reason;

    // "FILE:LINE: key: reason"; ":LINE" is left out for line 0, "key: " when key is empty.
    std::string to_string() const;
};

struct ConfigParseResult {
    std::optional<Config> config;         // set exactly when errors is empty
    std::vector<ConfigDiagnostic> errors; // in line order (whole-file ones last)

    bool ok() const { return config.has_value(); }
};

// Parses text. file_name labels the diagnostics ("<config>" when empty).
// base_directory is what relative paths (the translator's table) are resolved
// against; when empty, the directory part of file_name is used.
ConfigParseResult parse_daemon_config(std::string_view text, std::string_view file_name,
                                      std::string_view base_directory = {});

// Reads and parses the file at path (relative paths resolved against the
// file's absolute directory). An unreadable file gives one error with line 0:
// "PATH: cannot open: <strerror>" (or "cannot read: ...").
ConfigParseResult load_daemon_config(const std::string& path);

// The effective configuration as a file, every key written out, each section
// in the order above. parse_daemon_config reads it back to the same Config
// when given a file_name without a directory part (or the table path is
// absolute) and the table path leaves its line within kMaxLineBytes.
std::string format_daemon_config(const Config& config);

// "10.77.1.2".
std::string format_address(const Ipv4Address& address);
// A duration in the file's form, in its largest exact unit: "30s", "124m", "150ms".
std::string format_duration(Duration duration);

} // namespace svxlat::daemon

#endif // SVXLAT_DAEMON_CONFIG_DAEMON_CONFIG_H
