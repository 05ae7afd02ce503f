// svxlat: the operator's command. Table checks, capture decoding and the
// list of drop reasons; later issues add the daemon's live state.
#include "common/packet_text.h"
#include "common/pcap_reader.h"
#include "config/table.h"
#include "control/control_protocol.h"

#include <svxlat/err.h>
#include <svxlat/sid.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kExitOk = 0;
constexpr int kExitErrors = 1;
constexpr int kExitUsage = 2;

void print_usage(std::ostream& out) {
    out << "usage: svxlat [-s SOCKET] COMMAND [ARGS]\n"
           "\n"
           "Live state of the running svxlatd (over its control socket, default\n"
           "/run/svxlat/svxlatd.sock; -s or SVXLAT_SOCKET to choose another):\n"
           "  status [--json]      roles, engine, flow count, uptime, reloads\n"
           "  table [--json]       the translator table in use\n"
           "  services [--json]    router registrations, static services, host services\n"
           "  flows [--json]       every flow: role, state, addresses, flow IDs, age, bytes\n"
           "  counters [--json]    every counter with a one-line explanation\n"
           "  reload               reload the configuration (as SIGUSR1)\n"
           "\n"
           "Offline:\n"
           "  table check FILE     validate a translator table; exit 0 clean, 1 on any\n"
           "                       error (each printed as FILE:LINE: field: reason), 2 if\n"
           "                       the file cannot be read\n"
           "  table show FILE      print the valid rows in canonical form\n"
           "  decode FILE.pcap     print every SAL packet of a capture, one per line\n"
           "  sid TEXT             parse a service ID (or ID/BITS) and print it canonically\n"
           "  reasons              list every drop reason with its explanation\n"
           "  help                 this text\n";
}

int table_check(const std::string& path) {
    auto result = svxlat::config::load_table_file(path);
    for (const auto& diagnostic : result.diagnostics)
        std::cerr << diagnostic.to_string() << "\n";
    if (!result.readable())
        return kExitUsage;
    std::cout << path << ": " << result.table.rows.size() << " valid rows, "
              << result.error_count() << " errors, " << result.warning_count() << " warnings\n";
    return result.has_errors() ? kExitErrors : kExitOk;
}

int table_show(const std::string& path) {
    auto result = svxlat::config::load_table_file(path);
    for (const auto& diagnostic : result.diagnostics)
        std::cerr << diagnostic.to_string() << "\n";
    for (const auto& row : result.table.rows)
        std::cout << svxlat::config::format_row(row) << "\n";
    return result.usable() ? kExitOk : kExitErrors;
}

int decode(const std::string& path) {
    try {
        svxlat::PcapReader reader(path);
        while (auto packet = reader.next())
            std::cout << "#" << packet->index << " " << svxlat::describe_sal_packet(packet->ip)
                      << "\n";
        if (reader.skipped_frames())
            std::cout << reader.skipped_frames() << " non-IPv4 frames skipped\n";
    } catch (const std::exception& e) {
        std::cerr << "svxlat: " << e.what() << "\n";
        return kExitUsage;
    }
    return kExitOk;
}

int sid(std::string_view text) {
    svx_sid id{};
    std::uint16_t bits = 0;
    auto err = svx_sid_parse(text.data(), text.size(), &id, &bits);
    if (err != SVX_SID_OK) {
        std::cerr << "svxlat: '" << text << "': " << svx_sid_strerror(err) << "\n";
        return kExitErrors;
    }
    std::cout << svxlat::sid_to_string(id);
    if (bits != SVX_SID_BITS)
        std::cout << "/" << bits;
    std::cout << "\n";
    return kExitOk;
}

int daemon_query(const std::string& socket, svxlat::control::Command command, bool json) {
    try {
        std::cout << svxlat::control::query(socket, {command, json});
    } catch (const std::exception& e) {
        std::cerr << "svxlat: " << e.what() << "\n";
        return kExitUsage;
    }
    return kExitOk;
}

int reasons() {
    for (int code = SVX_OK + 1; code < SVX_E__COUNT; ++code) {
        auto err = static_cast<svx_err>(code);
        std::printf("%-16s %s\n", svx_err_name(err), svx_err_desc(err));
    }
    return kExitOk;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    std::string socket = svxlat::control::kDefaultSocketPath;
    if (const char* env = std::getenv("SVXLAT_SOCKET"))
        socket = env;
    if (args.size() >= 2 && (args[0] == "-s" || args[0] == "--socket")) {
        socket = std::string(args[1]);
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.empty()) {
        print_usage(std::cerr);
        return kExitUsage;
    }
    const auto command = args[0];
    if (command == "help" || command == "--help" || command == "-h") {
        print_usage(std::cout);
        return kExitOk;
    }
    const bool json = args.size() == 2 && args[1] == "--json";
    static constexpr std::pair<std::string_view, svxlat::control::Command> kLive[] = {
        {"status", svxlat::control::Command::status},
        {"table", svxlat::control::Command::table},
        {"services", svxlat::control::Command::services},
        {"flows", svxlat::control::Command::flows},
        {"counters", svxlat::control::Command::counters},
        {"reload", svxlat::control::Command::reload},
    };
    for (const auto& [name, live] : kLive)
        if (command == name && (args.size() == 1 || json))
            return daemon_query(socket, live, json);
    if (command == "table" && args.size() == 3 && args[1] == "check")
        return table_check(std::string(args[2]));
    if (command == "table" && args.size() == 3 && args[1] == "show")
        return table_show(std::string(args[2]));
    if (command == "decode" && args.size() == 2)
        return decode(std::string(args[1]));
    if (command == "sid" && args.size() == 2)
        return sid(args[1]);
    if (command == "reasons" && args.size() == 1)
        return reasons();
    std::cerr << "svxlat: unknown command or wrong arguments\n";
    print_usage(std::cerr);
    return kExitUsage;
}
