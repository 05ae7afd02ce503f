#include "control/control_protocol.h"

#include "common/unique_fd.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace svxlat::control {
namespace {

constexpr std::array<std::pair<std::string_view, Command>, 6> kCommands{{
    {"status", Command::status},
    {"table", Command::table},
    {"services", Command::services},
    {"flows", Command::flows},
    {"counters", Command::counters},
    {"reload", Command::reload},
}};


std::runtime_error socket_error(const std::string& path, const char* what) {
    return std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

} // namespace

std::string_view command_name(Command command) {
    for (const auto& [name, value] : kCommands)
        if (value == command)
            return name;
    return "?";
}

ParseResult parse_request(std::string_view line) {
    if (line.size() > kMaxRequestBytes)
        return {std::nullopt, "request longer than 256 bytes"};
    if (!line.empty() && line.back() == '\n')
        line.remove_suffix(1);
    if (line.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos)
        return {std::nullopt, "request must be one line of text"};
    auto space = line.find(' ');
    std::string_view word = line.substr(0, space);
    std::string_view rest = space == std::string_view::npos ? "" : line.substr(space + 1);
    Request request;
    bool known = false;
    for (const auto& [name, value] : kCommands) {
        if (word == name) {
            request.command = value;
            known = true;
        }
    }
    if (!known)
        return {std::nullopt, "unknown command '" + std::string(word.substr(0, 32)) +
                                  "' (status, table, services, flows, counters, reload)"};
    if (rest == "json")
        request.json = true;
    else if (!rest.empty())
        return {std::nullopt, "unexpected argument (only 'json' is allowed)"};
    return {request, {}};
}

std::string format_request(const Request& request) {
    std::string line(command_name(request.command));
    if (request.json)
        line += " json";
    return line + "\n";
}

std::string query(const std::string& path, const Request& request) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw std::runtime_error(path + ": socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        throw socket_error(path, "socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0)
        throw socket_error(path, "cannot connect (is svxlatd running?)");
    std::string line = format_request(request);
    if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
        throw socket_error(path, "send");
    std::string response;
    std::array<char, 65536> buf{};
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw socket_error(path, "recv");
        if (n == 0)
            break;
        if (response.size() + static_cast<std::size_t>(n) > kMaxResponseBytes)
            throw std::runtime_error(path + ": response too large");
        response.append(buf.data(), static_cast<std::size_t>(n));
    }
    return response;
}

std::string json_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char esc[8];
                std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned char>(c));
                out += esc;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

} // namespace svxlat::control
