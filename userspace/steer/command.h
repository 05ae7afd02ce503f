// SPDX-License-Identifier: GPL-2.0 OR MIT
// Runs a helper program (iptables-restore, iptables-save, ip) with text on
// its stdin and its output captured, bounded in time. The child inherits the
// calling thread's network namespace.
//
// Include as "steer/command.h" (link svxlat_steer).
#ifndef SVXLAT_STEER_COMMAND_H
#define SVXLAT_STEER_COMMAND_H

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svxlat::steer {

struct CommandResult {
    bool started = false;   // false: the program was not found or could not be spawned
    bool timed_out = false; // killed after the timeout
    int exit_code = -1;     // -1 when it did not exit normally
    std::string out;
    std::string err;

    bool ok() const { return started && !timed_out && exit_code == 0; }
    // "iptables-restore: exit 2: <first lines of stderr>" for error messages.
    std::string describe(std::string_view program) const;
};

// The program's path: PATH first, then /usr/sbin and /sbin (which a
// non-login root shell may lack). A name with a '/' is returned as is.
std::optional<std::string> find_program(std::string_view name);

// argv[0] is looked up with find_program. input is written to the child's
// stdin, which is then closed.
CommandResult run_command(const std::vector<std::string>& argv, std::string_view input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

} // namespace svxlat::steer

#endif // SVXLAT_STEER_COMMAND_H
