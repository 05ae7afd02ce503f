// The daemon's local control protocol (a Unix stream socket): one request
// line "COMMAND [json]\n" of at most kMaxRequestBytes, one response (text or
// a JSON document), then the daemon closes the connection. Requests are
// parsed like any other input: bounded, and refused with a reason.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace svxlat::control {

inline constexpr std::size_t kMaxRequestBytes = 256;
inline constexpr std::size_t kMaxResponseBytes = std::size_t{256} << 20;
inline constexpr const char* kDefaultSocketPath = "/run/svxlat/svxlatd.sock";

enum class Command { status, table, services, flows, counters, reload };

struct Request {
    Command command = Command::status;
    bool json = false;
};

struct ParseResult {
    std::optional<Request> request;
    std::string error; // when !request
};

ParseResult parse_request(std::string_view line);
std::string format_request(const Request& request);
std::string_view command_name(Command command);

// Client side (the svxlat command): sends request to the daemon at path and
// returns its response; throws std::runtime_error naming the socket.
std::string query(const std::string& path, const Request& request);

// A minimal JSON string escaper for responses.
std::string json_quote(std::string_view text);

} // namespace svxlat::control
